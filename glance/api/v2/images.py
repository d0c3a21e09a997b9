"""``/v2/images``: list, create, show, update (JSON patch) and delete image records.

A create answer names the import methods served (:mod:`glance.api.v2.imports`) in
``OpenStack-image-import-methods`` when there are any; a delete drops staged data.

Each action calls the image core (:class:`glance.api.core.ImageCore`) as the caller,
so visibility, ownership, ``publish_roles`` and ``protected`` are the registry's and
the core's rules, the same for every API surface; this module only maps the v2 wire
format (:mod:`glance.api.v2.view`, :mod:`glance.api.v2.patch`) onto them.

An image id that is not a UUID, or a deleted image, is a 404 like a missing one
(openstacksdk looks an image up by name first as ``GET /v2/images/<name>``).
"""

import webob

from glance.api import surface
from glance.api.v2 import imports, listing, patch, schemas, view
from glance.common import context, wsgi
from glance.registry import validation

def _create_metadata(body):
    """Registry metadata from a create body: base fields, and extra ``properties``.

    :raises Forbidden: for read-only (``id`` aside) or reserved properties.
    :raises Invalid: for values the image schema refuses.
    """
    metadata, properties = {}, {}
    for name, value in body.items():
        if name == 'id':
            metadata['id'] = validation.image_id(value)
            continue
        schemas.check_name(name)
        value = schemas.check_value(name, value)
        if name in schemas.BASE:
            metadata[name] = value
        else:
            properties[name] = value
    if properties:
        metadata['properties'] = properties
    return metadata


class ImagesController(surface.SurfaceController):
    """The v2 image resource (see the module docstring).

    :param core: the :class:`~glance.api.core.ImageCore`.
    :param staging: the import :class:`~glance.api.v2.staging.StagingArea`, or None.
    """

    def __init__(self, core, staging=None):
        super().__init__(core)
        self.staging = staging

    def index(self, req):
        """``GET /v2/images``: one page of images (:mod:`glance.api.v2.listing`)."""
        query = listing.parse(req)
        images, next_marker = [], None
        if not query.empty:
            images, next_marker = self.core.list(
                context.from_environ(req.environ), filters=query.filters,
                sort_key=query.sort_key, sort_dir=query.sort_dir, limit=query.limit,
                marker=query.marker, detail=True, member_status=query.member_status)
        body = {'images': [view.image(record) for record in images],
                'schema': view.IMAGES_SCHEMA}
        body.update(query.page_links(next_marker))
        return body

    def create(self, req):
        """``POST /v2/images``: reserve a queued image; 201 with its view.

        :raises Forbidden: for read-only or reserved properties, or what the
            registry refuses (``visibility: public`` without a publishing role).
        """
        ctx = context.from_environ(req.environ)
        record = self.core.reserve(ctx, _create_metadata(wsgi.parse_json_body(req)))
        headers = {'Location': req.host_url + view.image_path(record['id'])}
        methods = imports.methods(self.staging)
        if methods:
            headers[imports.METHODS_HEADER] = ','.join(methods)
        return wsgi.json_response(view.image(record), status=201, headers=headers)

    def show(self, req, image_id):
        """``GET /v2/images/<id>``."""
        return view.image(self.get_image(context.from_environ(req.environ), image_id))

    def update(self, req, image_id):
        """``PATCH /v2/images/<id>``: apply a JSON patch (:mod:`glance.api.v2.patch`).

        :raises UnsupportedMediaType: for a body that is not a JSON patch (415 with
            ``Accept-Patch``).
        """
        draft = patch.draft_of(req.content_type)
        changes = patch.parse(wsgi.parse_json_body(req, top_level=list), draft)
        ctx = context.from_environ(req.environ)
        record = self.get_image(ctx, image_id)
        update = patch.apply(view.image(record), changes)
        if update:
            record = self.core.update(ctx, record['id'], update)
        return view.image(record)

    def delete(self, req, image_id):
        """``DELETE /v2/images/<id>``: 204 (staged import data goes too); a protected
        image is a 403."""
        ctx = context.from_environ(req.environ)
        image_id = self.get_image(ctx, image_id)['id']
        self.core.delete(ctx, image_id)
        if self.staging is not None:
            self.staging.discard(image_id)
        return webob.Response(status=204)
