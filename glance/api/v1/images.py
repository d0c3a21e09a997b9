"""``/v1/images``: the Glance v1 image resource over the image core.

=============================== ==================================================
request                         answer
=============================== ==================================================
GET /v1/images                  ``{"images": [...]}``, brief records
GET /v1/images/detail           ``{"images": [...]}``, full records with properties
HEAD /v1/images/<id>            200, the image as ``x-image-meta-*`` headers
GET /v1/images/<id>             the bytes, with the same headers and ``ETag``
POST /v1/images                 201 ``{"image": ...}`` and ``Location``: a queued
                                image, with data from the body or registered from
                                ``x-image-meta-location``
PUT /v1/images/<id>             ``{"image": ...}``: metadata; data or a location only
                                while the image is queued (else 409)
DELETE /v1/images/<id>          200
=============================== ==================================================

Each action calls :class:`glance.api.core.ImageCore` as the caller, so visibility,
ownership, sharing, ``protected`` and the upload checks are the same as for the
other API surfaces; this module maps the v1 wire format (:mod:`.codec`,
:mod:`.listing`) onto the core. Lists include the images shared with the caller's
project whatever the membership status (v1 has no acceptance step).
"""

import functools

import webob

from glance.api import images as native
from glance.api import surface
from glance.api.v1 import codec, listing
from glance.common import context, exception, wsgi

DATA_TYPE = 'application/octet-stream'


def _data_or_location(req, meta):
    """True when the request carries data; refuses data with a location."""
    has_body = wsgi.has_body(req)  # a chunked body becomes readable
    if has_body and meta.location:
        raise exception.Invalid(reason='send either image data or '
                                       'x-image-meta-location, not both')
    return has_body


def _locations(meta):
    return [meta.location] if meta.location else None


def _image_path(req, image_id):
    return '%s%s/v1/images/%s' % (req.host_url, req.script_name, image_id)


class ImagesController(surface.SurfaceController):
    """The v1 image resource (see the module docstring)."""

    def index(self, req):
        """``GET /v1/images``: brief records."""
        return self._list(req, codec.BRIEF_FIELDS)

    def detail(self, req):
        """``GET /v1/images/detail``: full records (python-glanceclient lists these)."""
        return self._list(req, codec.FIELDS)

    def _list(self, req, fields):
        query = listing.parse(req)
        images, _next = self.core.list(
            context.from_environ(req.environ), filters=query.filters,
            sort_key=query.sort_key, sort_dir=query.sort_dir, limit=query.limit,
            marker=query.marker, detail=True, member_status='all')
        return {'images': [codec.image_body(record, fields) for record in images]}

    def meta(self, req, image_id):
        """``HEAD /v1/images/<id>``: the image as headers, whatever its status."""
        record = self.get_image(context.from_environ(req.environ), image_id)
        response = webob.Response(status=200, content_type=DATA_TYPE)
        response.headerlist.extend(codec.response_headers(record))
        if record.get('checksum'):
            response.etag = record['checksum']
        response.content_length = record.get('size') or 0
        return response

    def show(self, req, image_id):
        """``GET /v1/images/<id>``: the bytes of an active image (404 otherwise), with
        the native API's download handling (:func:`glance.api.images.download_response`:
        ``Range``, ``ETag``, ``X-Image-Meta-Verified``, ``Cache-Control``)."""
        ctx = context.from_environ(req.environ)
        opened = self.core.open_download(ctx, surface.path_image_id(image_id), req.environ)
        return native.download_response(req, ctx, opened, self.core.options,
                                        codec.response_headers(opened.image))

    def create(self, req):
        """``POST /v1/images``: reserve an image, with data from the body, registered
        on ``x-image-meta-location``, or queued.

        :returns: 201 with ``{"image": ...}`` and ``Location``.
        :raises Invalid: for bad headers, or both data and a location.
        """
        ctx = context.from_environ(req.environ)
        meta = codec.parse_request(req.environ)
        has_body = _data_or_location(req, meta)
        metadata = meta.metadata()
        if meta.image_id is not None:
            metadata['id'] = meta.image_id
        record = self.core.reserve(ctx, metadata, locations=_locations(meta),
                                   with_data=has_body)
        if has_body:
            record = self._upload(ctx, req, record['id'], {})
        response = wsgi.json_response(
            {'image': codec.image_body(record)}, status=201,
            headers={'Location': _image_path(req, record['id'])})
        if record.get('checksum'):
            response.etag = record['checksum']
        return response

    def update(self, req, image_id):
        """``PUT /v1/images/<id>``: change metadata, or add data to a queued image.

        Without data the properties are replaced unless
        ``x-glance-registry-purge-props: false`` (v1's default); with data (or a
        location) the headers are applied along with it and properties are merged.

        :raises Conflict: for data or a location sent to an image that is not queued.
        :raises Invalid: for an ``x-image-meta-id`` that is not this image's.
        """
        ctx = context.from_environ(req.environ)
        meta = codec.parse_request(req.environ)
        record = self.get_image(ctx, image_id)
        if meta.image_id is not None and meta.image_id.lower() != record['id']:
            raise exception.Invalid(reason='x-image-meta-id cannot change: image %s'
                                    % record['id'])
        if _data_or_location(req, meta):
            record = self._upload(ctx, req, record['id'], meta.metadata())
        elif meta.location:
            record = self.core.register(ctx, record['id'], _locations(meta),
                                        metadata=meta.metadata())
        else:
            purge = codec.purge_props(req)
            record = self.core.update(ctx, record['id'], meta.metadata(purge),
                                      purge_props=purge)
        return {'image': codec.image_body(record)}

    def _upload(self, ctx, req, image_id, metadata):
        return self.core.upload(ctx, image_id, req.body_file, req.content_length,
                                metadata=metadata,
                                after_body=functools.partial(wsgi.check_body_end, req))

    def delete(self, req, image_id):
        """``DELETE /v1/images/<id>``: 200 (v1's status); a protected image is a 403."""
        ctx = context.from_environ(req.environ)
        self.core.delete(ctx, self.get_image(ctx, image_id)['id'])
        return webob.Response(status=200)
