"""``/v2/images/<id>/members``: share an image with other projects.

=============================================== =========================================
request                                         answer
=============================================== =========================================
GET /v2/images/<id>/members                     ``{"members": [...], "schema": ...}``
POST /v2/images/<id>/members ``{"member": p}``  the new member (status ``pending``); the
                                                image must be ``shared`` (else 403), a
                                                project is a member once (else 409)
GET /v2/images/<id>/members/<p>                 one member (404 when not one)
PUT /v2/images/<id>/members/<p>                 ``{"status": "accepted"}`` (or pending,
                                                rejected): only the member itself
DELETE /v2/images/<id>/members/<p>              204
=============================================== =========================================

As in glance, only ``member`` (POST) and ``status`` (PUT) are read from a body
(openstacksdk sends more of the member). The registry (through the image core) keeps
the memberships and decides who may change them: the owner adds and removes members, a member sets its own status. A
member sees the image whatever its status; it is listed among the member's images
once accepted (``member_status`` of :mod:`glance.api.v2.listing`).
"""

import webob

from glance.api import surface
from glance.api.v2 import schemas, view
from glance.common import context, exception, wsgi


def _member_id(value):
    if not isinstance(value, str) or not value.strip() or len(value) > schemas.MAX_TEXT:
        raise exception.Invalid(reason='member must be a project id (1 to %d '
                                       'characters)' % schemas.MAX_TEXT)
    return value


class MembersController(surface.SurfaceController):
    """The v2 member resource (see the module docstring)."""

    def index(self, req, image_id):
        """``GET /v2/images/<id>/members``."""
        ctx = context.from_environ(req.environ)
        image_id = self.get_image(ctx, image_id)['id']
        return {'members': [view.member(record)
                            for record in self.core.members(ctx, image_id)],
                'schema': view.MEMBERS_SCHEMA}

    def create(self, req, image_id):
        """``POST /v2/images/<id>/members``.

        :raises Forbidden: when the image's visibility is not ``shared``.
        :raises Conflict: when the project is a member already.
        """
        ctx = context.from_environ(req.environ)
        body = wsgi.parse_json_body(req)
        if 'member' not in body:
            raise exception.Invalid(reason='the body must be {"member": "<project id>"}')
        member_id = _member_id(body['member'])
        image = self.get_image(ctx, image_id)
        if image.get('visibility') != 'shared':
            raise exception.Forbidden('Only shared images have members: image %s is %s'
                                      % (image['id'], image.get('visibility')))
        if any(record['member_id'] == member_id
               for record in self.core.members(ctx, image['id'])):
            raise exception.Conflict('Project %s is already a member of image %s'
                                     % (member_id, image['id']))
        self.core.add_member(ctx, image['id'], member_id)
        return view.member(self.get_member(ctx, image['id'], member_id))

    def show(self, req, image_id, member_id):
        """``GET /v2/images/<id>/members/<member>``."""
        ctx = context.from_environ(req.environ)
        image_id = self.get_image(ctx, image_id)['id']
        return view.member(self.get_member(ctx, image_id, member_id))

    def update(self, req, image_id, member_id):
        """``PUT /v2/images/<id>/members/<member>``: the member sets its status."""
        ctx = context.from_environ(req.environ)
        body = wsgi.parse_json_body(req)
        status = body.get('status')
        if status not in schemas.MEMBER_STATUSES:
            raise exception.Invalid(reason='the body must be {"status": s}, s one of %s'
                                           % ', '.join(schemas.MEMBER_STATUSES))
        image_id = self.get_image(ctx, image_id)['id']
        self.core.set_member_status(ctx, image_id, member_id, status)
        return view.member(self.get_member(ctx, image_id, member_id))

    def delete(self, req, image_id, member_id):
        """``DELETE /v2/images/<id>/members/<member>``: 204."""
        ctx = context.from_environ(req.environ)
        self.core.remove_member(ctx, self.get_image(ctx, image_id)['id'], member_id)
        return webob.Response(status=204)
