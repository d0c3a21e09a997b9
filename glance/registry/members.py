"""The sharing routes of the registry: an image's members and a tenant's shared images.

=========================================== =================================================
route                                       meaning
=========================================== =================================================
``GET /images/<id>/members``                ``{"members": [...]}``; the owner, admins and
                                            members allowed to share see all, another
                                            member its own membership only
``PUT /images/<id>/members``                replace them all: ``{"memberships":
                                            [{"member_id", "can_share"}]}``
``PUT /images/<id>/members/<member>``       add a member or change its ``can_share``
                                            (``{"member": {"can_share": true}}``, body
                                            optional), or, by the member itself, its
                                            status (``{"member": {"status": "accepted"}}``)
``DELETE /images/<id>/members/<member>``    remove a member; 204
``GET /shared-images/<member>``             ``{"shared_images": [{"image_id",
                                            "can_share", "status"}]}``
=========================================== =================================================

New memberships are ``pending`` until the member accepts them, except when glance-api
(a verified service identity) sends ``X-Glance-Member-Status: accepted``: Glance v1
has no acceptance step. Who may do what is :mod:`glance.registry.image_rules`.
"""

import webob

from glance.common import context, exception, wsgi
from glance.registry import validation
from glance.registry.db import members as db_members

#: Request header with which glance-api's v1 surface creates accepted memberships.
MEMBER_STATUS_HEADER = 'X-Glance-Member-Status'


def timestamp(moment):
    """A stored UTC datetime as the API writes it (``...T...Z``), or None."""
    return moment.strftime('%Y-%m-%dT%H:%M:%S.%fZ') if moment else None


def member_view(row):
    """The JSON form of one membership."""
    return {'image_id': row.image_id, 'member_id': row.member_id,
            'can_share': row.can_share, 'status': row.status,
            'created_at': timestamp(row.created_at),
            'updated_at': timestamp(row.updated_at)}


class MembersController(wsgi.Controller):
    """The routes of the module table.

    :param database: a :class:`glance.registry.db.session.Database`.
    :param options: the registry's :class:`~glance.registry.api.RegistryOptions`.
    """

    def __init__(self, database, options):
        self.database = database
        self.options = options

    def _body(self, req, optional=False):
        if optional and not req.content_length and not req.headers.get(
                'Transfer-Encoding'):
            return None
        return wsgi.parse_json_body(req, self.options.max_json_body_size,
                                    self.options.max_json_depth)

    @staticmethod
    def _new_status(req, ctx):
        """``accepted`` when glance-api asks for it (v1), else ``pending``.

        :raises Invalid: for another header value.
        """
        asked = req.headers.get(MEMBER_STATUS_HEADER)
        if asked is None:
            return 'pending'
        if asked.strip().lower() != 'accepted':
            raise exception.Invalid(reason='%s must be accepted' % MEMBER_STATUS_HEADER)
        if not ctx.is_service:
            raise exception.Forbidden('only glance-api may create accepted memberships '
                                      '(%s)' % MEMBER_STATUS_HEADER)
        return 'accepted'

    def index(self, req, image_id):
        """``GET /images/<id>/members``."""
        validation.query_params(req, ())
        rows = db_members.member_list(self.database, context.from_environ(req.environ),
                                      image_id.lower())
        return {'members': [member_view(row) for row in rows]}

    def replace(self, req, image_id):
        """``PUT /images/<id>/members``: the new list of members; 200 with it."""
        validation.query_params(req, ())
        ctx = context.from_environ(req.environ)
        memberships = validation.memberships_body(self._body(req))
        rows = db_members.members_replace(
            self.database, ctx, image_id.lower(), memberships,
            self._new_status(req, ctx), self.options.image_member_quota)
        return {'members': [member_view(row) for row in rows]}

    def update(self, req, image_id, member_id):
        """``PUT /images/<id>/members/<member>``: 200 with ``{"member": {...}}``."""
        validation.query_params(req, ())
        ctx = context.from_environ(req.environ)
        member = validation.member_id(member_id)
        can_share, status = validation.member_body(self._body(req, optional=True))
        row = db_members.member_set(
            self.database, ctx, image_id.lower(), member, can_share, status,
            self._new_status(req, ctx), self.options.image_member_quota)
        return {'member': member_view(row)}

    def delete(self, req, image_id, member_id):
        """``DELETE /images/<id>/members/<member>``: 204."""
        validation.query_params(req, ())
        db_members.member_delete(self.database, context.from_environ(req.environ),
                                 image_id.lower(), validation.member_id(member_id))
        return webob.Response(status=204)

    def shared(self, req, member_id):
        """``GET /shared-images/<member>``: the images shared with a tenant."""
        validation.query_params(req, ())
        rows = db_members.shared_images(self.database, context.from_environ(req.environ),
                                        validation.member_id(member_id))
        return {'shared_images': [{'image_id': row.image_id, 'can_share': row.can_share,
                                   'status': row.status} for row in rows]}
