"""``/v2/images/<id>/file``: upload (``PUT``) and download (``GET``) image data.

Both stream through the image core in bounded blocks: an upload reads the request
body as it arrives (chunked bodies included, as python-glanceclient sends them) and
a download is the core's chunk iterable, with ``Range`` requests answered ``206``
by WebOb.

* ``PUT`` takes ``Content-Type: application/octet-stream`` (else 415) into a
  ``queued`` image (else 409: data is written once) and answers ``204``.
  ``X-OpenStack-Image-Size`` (sent by openstacksdk) is the size the data must have
  (a mismatch is a 400 and the image is killed, as for a wrong declared size).
* ``GET`` of an image without data yet (``queued``) answers ``204`` with no body,
  as glance does; other statuses without data are a 404. The response carries
  ``Content-MD5`` (the image's md5 ``checksum``); clients verify the bytes against
  the image's ``os_hash_value`` (sha256) or that checksum. Otherwise the answer is
  every surface's download answer (:func:`glance.api.images.download_response`):
  ``ETag``, ``Last-Modified``, ``X-Image-Meta-Verified``, ``Cache-Control``.
"""

import functools

import webob

from glance.api import images as native
from glance.api import surface
from glance.common import context, exception, wsgi

DATA_TYPE = 'application/octet-stream'
SIZE_HEADER = 'X-OpenStack-Image-Size'


def declared_size(req):
    """The size ``X-OpenStack-Image-Size`` declares, or None.

    :raises Invalid: for a value that is not a non-negative integer.
    """
    value = req.headers.get(SIZE_HEADER)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise exception.Invalid(reason='%s must be a non-negative integer'
                                       % SIZE_HEADER)
    return int(value)


def check_data_request(req):
    """Check that a request carries image data (``upload``, v2 ``stage``) and make
    a chunked body readable.

    :raises UnsupportedMediaType: for a Content-Type other than
        ``application/octet-stream``.
    """
    if req.content_type != DATA_TYPE:
        raise exception.UnsupportedMediaType(
            'image data is sent as %s, not %s' % (DATA_TYPE,
                                                  req.content_type or 'nothing'))
    wsgi.has_body(req)


class ImageDataController(surface.SurfaceController):
    """The v2 image data resource (see the module docstring)."""

    def upload(self, req, image_id):
        """``PUT /v2/images/<id>/file``: 204 once the image is active.

        :raises UnsupportedMediaType: for another Content-Type.
        :raises Conflict: when the image is not queued.
        """
        check_data_request(req)
        ctx = context.from_environ(req.environ)
        image_id = surface.path_image_id(image_id)
        size = declared_size(req)
        self.core.upload(ctx, image_id, req.body_file, req.content_length,
                         metadata={} if size is None else {'size': size},
                         after_body=functools.partial(wsgi.check_body_end, req))
        return webob.Response(status=204)

    def download(self, req, image_id):
        """``GET /v2/images/<id>/file``: the image's bytes (or 204 while queued)."""
        ctx = context.from_environ(req.environ)
        image_id = surface.path_image_id(image_id)
        try:
            download = self.core.open_download(ctx, image_id, req.environ)
        except exception.ImageNotFound:
            if self.get_image(ctx, image_id).get('status') == 'queued':
                return webob.Response(status=204)
            raise
        checksum = download.image.get('checksum')
        return native.download_response(
            req, ctx, download, self.core.options,
            [('Content-MD5', checksum)] if checksum else [])
