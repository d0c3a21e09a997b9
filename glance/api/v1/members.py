"""``/v1/images/<id>/members`` and ``/v1/shared-images/<member>``: v1 image sharing.

======================================== ========================================
request                                  answer
======================================== ========================================
GET /v1/images/<id>/members              ``{"members": [{"member_id",
                                         "can_share"}]}``
PUT /v1/images/<id>/members              204; ``{"memberships": [{"member_id":
                                         m, "can_share": bool}]}`` replaces all
GET /v1/images/<id>/members/<member>     ``{"member": {...}}`` (404 if not one)
PUT /v1/images/<id>/members/<member>     204; adds the member, or sets its
                                         ``can_share`` (optional body
                                         ``{"member": {"can_share": bool}}``;
                                         without it a member keeps its own)
DELETE /v1/images/<id>/members/<member>  204
GET /v1/shared-images/<member>           ``{"shared_images": [{"image_id",
                                         "can_share"}]}``
======================================== ========================================

The registry (through the image core) keeps the memberships and decides who may
change them: the image's owner, an admin, or a member allowed to share it. v1 has
no acceptance step: a member added here is accepted at once, so the image is in the
member's lists and downloads straight away.
"""

import webob

from glance.api import surface
from glance.common import context, exception, wsgi


def _member(record):
    return {'member_id': record['member_id'], 'can_share': bool(record.get('can_share'))}


def _can_share(value, where):
    if not isinstance(value, bool):
        raise exception.Invalid(reason='%s can_share must be true or false' % where)
    return value


def _memberships(body):
    """The ``memberships`` of a replace body, checked.

    :raises Invalid: for anything but a list of ``{"member_id": str,
        "can_share": bool}`` (``can_share`` optional).
    """
    memberships = body.get('memberships')
    if set(body) != {'memberships'} or not isinstance(memberships, list):
        raise exception.Invalid(reason='the body must be {"memberships": [{"member_id": '
                                       '"<project>", "can_share": false}, ...]}')
    checked = []
    for position, item in enumerate(memberships, 1):
        where = 'membership %d:' % position
        if (not isinstance(item, dict) or not isinstance(item.get('member_id'), str)
                or not item['member_id'] or set(item) - {'member_id', 'can_share'}):
            raise exception.Invalid(reason='%s expected {"member_id": "<project>", '
                                           '"can_share": bool}' % where)
        checked.append({'member_id': item['member_id'],
                        'can_share': _can_share(item.get('can_share', False), where)})
    return checked


class MembersController(surface.SurfaceController):
    """The v1 member resource (see the module docstring)."""

    def _image_id(self, ctx, image_id):
        return self.get_image(ctx, image_id)['id']

    def index(self, req, image_id):
        """``GET /v1/images/<id>/members``."""
        ctx = context.from_environ(req.environ)
        return {'members': [_member(record) for record in
                            self.core.members(ctx, self._image_id(ctx, image_id))]}

    def replace(self, req, image_id):
        """``PUT /v1/images/<id>/members``: 204."""
        ctx = context.from_environ(req.environ)
        memberships = _memberships(wsgi.parse_json_body(req))
        self.core.replace_members(ctx, self._image_id(ctx, image_id), memberships,
                                  accepted=True)
        return webob.Response(status=204)

    def show(self, req, image_id, member_id):
        """``GET /v1/images/<id>/members/<member>``."""
        ctx = context.from_environ(req.environ)
        record = self.get_member(ctx, self._image_id(ctx, image_id), member_id)
        return {'member': _member(record)}

    def update(self, req, image_id, member_id):
        """``PUT /v1/images/<id>/members/<member>``: 204."""
        ctx = context.from_environ(req.environ)
        image_id = self._image_id(ctx, image_id)
        can_share = None
        if wsgi.has_body(req):
            body = wsgi.parse_json_body(req)
            member = body.get('member')
            if set(body) != {'member'} or not isinstance(member, dict) or (
                    set(member) - {'can_share'}):
                raise exception.Invalid(reason='the body must be {"member": '
                                               '{"can_share": bool}}')
            if 'can_share' in member:
                can_share = _can_share(member['can_share'], 'member:')
        if can_share is None:
            existing = self.find_member(ctx, image_id, member_id)
            can_share = bool(existing and existing.get('can_share'))
        self.core.add_member(ctx, image_id, member_id, can_share=can_share,
                             accepted=True)
        return webob.Response(status=204)

    def delete(self, req, image_id, member_id):
        """``DELETE /v1/images/<id>/members/<member>``: 204."""
        ctx = context.from_environ(req.environ)
        self.core.remove_member(ctx, self._image_id(ctx, image_id), member_id)
        return webob.Response(status=204)

    def shared_images(self, req, member_id):
        """``GET /v1/shared-images/<member>``."""
        ctx = context.from_environ(req.environ)
        return {'shared_images': [
            {'image_id': record['image_id'], 'can_share': bool(record.get('can_share'))}
            for record in self.core.shared_images(ctx, member_id)]}
