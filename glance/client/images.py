"""ImageClient: glance-api's image data, cache admin and v1 sharing calls.

Metadata queries go to the registry through
:class:`~glance.registry.client.RegistryClient`; this client carries what only
glance-api does: downloads (``GET /images/<id>`` or ``GET /images?uri=<uri>``, with
``Range``), uploads and registrations (``POST /images``, ``PUT /images/<id>``),
deletes, the image cache admin calls and the Glance v1 members calls
(``/v1/images/<id>/members``, ``/v1/shared-images/<member>``). Every failure is one
exception from :mod:`glance.common.exception` (see :mod:`glance.client.errors`).
"""

import dataclasses
import json
import urllib.parse

from glance.client import codec, streams, verify
from glance.client.transport import BLOCK_SIZE, Transport
from glance.common import exception

DEFAULT_API_URL = 'http://127.0.0.1:9292'
DEFAULT_TIMEOUT = 60


def _quote(value):
    return urllib.parse.quote(value, safe='')


class ImageResponse:
    """A download in progress: status, headers and the body, read in blocks.

    :ivar status: 200, 206 or 416.
    :ivar metadata: the image record from the ``x-image-meta-*`` headers.
    :ivar etag: the ``ETag`` header as sent (quotes included), or None.
    :ivar length: the ``Content-Length`` of this response, or None.
    """

    def __init__(self, connection, response):
        self._connection = connection
        self._response = response
        self.status = response.status
        self.metadata = codec.image_metadata(response.getheaders())
        self.etag = response.getheader('ETag')
        length = response.getheader('Content-Length', '')
        self.length = int(length) if length.isdigit() else None

    def header(self, name):
        """Return one response header, or None."""
        return self._response.getheader(name)

    def read(self, size=BLOCK_SIZE):
        """Read at most ``size`` bytes of the body; ``b''`` at its end or a cut.

        :raises OSError: or :class:`http.client.HTTPException` when the transfer fails.
        """
        return self._response.read(size)

    def verifier(self):
        """A :class:`~glance.client.verify.Verifier` for this response's record."""
        return verify.Verifier(self.metadata, self.etag,
                               self.header('X-Image-Meta-Verified'))

    def close(self):
        """Close the response and its connection."""
        self._response.close()
        self._connection.close()


@dataclasses.dataclass(frozen=True)
class Download:
    """A verified download.

    :param image_id: the image id (from ``x-image-meta-id``).
    :param size: bytes received.
    :param metadata: the image record from the ``x-image-meta-*`` headers.
    :param verified: ``((algorithm, hexdigest), ...)`` checked against glance-api's
        record; empty when it announced no digest.
    """

    image_id: str | None
    size: int
    metadata: dict
    verified: tuple


class ImageClient:
    """Client of one glance-api server, acting as one caller.

    :param url: glance-api's base URL (a path prefix is kept).
    :param context: the :class:`~glance.common.context.RequestContext` whose identity
        headers (``X-Tenant-Id``, ``X-User-Id``, ``X-Roles``, ``X-Auth-Token``) go
        with every request; anonymous when None.
    :param timeout: seconds allowed to connect and for each socket read or write.
    :param ca_file: PEM file of the CAs trusted for ``https``; the system's when None.
    :param insecure: skip TLS certificate and host name verification.
    :param block_size: bytes per read from a source or from a response.
    :param cert_file: PEM client certificate, for a glance-api that requires one.
    :param key_file: PEM private key of ``cert_file``.
    :param transport: a :class:`~glance.client.transport.Transport` to share instead
        of the options above (see :meth:`with_context`).
    :raises Invalid: for an unusable URL or a missing TLS file.
    """

    def __init__(self, url=DEFAULT_API_URL, context=None, timeout=DEFAULT_TIMEOUT,
                 ca_file=None, insecure=False, block_size=BLOCK_SIZE, cert_file=None,
                 key_file=None, transport=None):
        self.transport = transport or Transport(
            url, timeout, ca_file, insecure, cert_file, key_file, block_size)
        self.context = context

    @property
    def url(self):
        """glance-api's normalised base URL."""
        return self.transport.url

    @property
    def block_size(self):
        """Bytes per block read or sent."""
        return self.transport.block_size

    def with_context(self, context):
        """Return a client of the same glance-api and TLS options acting as ``context``."""
        return type(self)(context=context, transport=self.transport)

    # -- requests --------------------------------------------------------------------

    def _open(self, method, path, headers=(), body=None, length=None, **kwargs):
        identity = list(self.context.to_headers().items()) if self.context else []
        return self.transport.open(method, path, identity + list(headers), body, length,
                                   **kwargs)

    def _json(self, method, path, body=None, not_found=None):
        headers, payload, length = [], None, None
        if body is not None:
            payload = [json.dumps(body).encode('utf-8')]
            length = len(payload[0])
            headers = [('Content-Type', 'application/json')]
        return self.transport.read_json(*self._open(
            method, path, [('Accept', 'application/json')] + headers, payload, length,
            not_found=not_found))

    def _json_image(self, connection, response):
        data = self.transport.read_json(connection, response)
        image = data.get('image') if isinstance(data, dict) else None
        if not isinstance(image, dict):
            raise exception.ServiceUnavailable(reason='%s answered without an "image" '
                                               'object' % self.transport.where)
        return image

    # -- images ----------------------------------------------------------------------

    @staticmethod
    def image_path(image_ref):
        """The download path of an image reference.

        :param image_ref: a bare image id, or a full image URI (any allow-listed
            registry's), which is looked up with ``GET /images?uri=``.
        """
        if '://' in image_ref:
            return '/images?' + urllib.parse.urlencode({'uri': image_ref})
        return '/images/' + _quote(image_ref)

    @staticmethod
    def _id_path(image_id):
        if '://' in image_id:
            raise exception.Invalid(reason='glance-api changes and deletes images by id; '
                                    'give the image id instead of its URI')
        return '/images/' + _quote(image_id)

    def get_image(self, image_ref, headers=None):
        """Start downloading an image; the caller reads and closes the response.

        :param image_ref: a bare id or a full image URI (see :meth:`image_path`).
        :param headers: extra request headers, e.g. ``Range`` and ``If-Range``.
        :returns: an :class:`ImageResponse` with status 200, 206 or 416.
        :raises ImageNotFound: when the image does not exist, is not visible or not
            active.
        :raises ServiceUnavailable: when glance-api cannot be reached or fails.
        """
        return ImageResponse(*self._open('GET', self.image_path(image_ref),
                                         list((headers or {}).items()), accept=(416,),
                                         not_found=exception.ImageNotFound))

    def download(self, image_ref, write, progress=None):
        """Stream an image into ``write`` in blocks, then verify it.

        ``write`` cannot take bytes back: on a short body or a mismatch the error
        comes after the bytes were written, and the caller must discard them.

        :param write: called with each block.
        :param progress: called as ``progress(bytes_so_far, total_or_None)``.
        :returns: a :class:`Download`.
        :raises TransferInterrupted: for a body that fails or ends short.
        :raises ChecksumMismatch: when the data does not match the image's record.
        """
        response = self.get_image(image_ref)
        try:
            image = response.metadata.get('id') or image_ref
            verifier = response.verifier()
            size = streams.copy_body(response, write, verifier, 0, response.length,
                                     image, progress, self.block_size)
        finally:
            response.close()
        return Download(response.metadata.get('id'), size, response.metadata,
                        verifier.check(image, size))

    def add_image(self, fields, properties=None, data=None, size=None, progress=None):
        """Create an image with ``POST /images``, uploading ``data`` when given.

        Without data the image is registered as ``queued`` (or, given ``location``
        fields, from existing objects).

        :param fields: writable fields (see :func:`glance.client.codec.image_headers`).
        :param properties: custom properties.
        :param data: None, bytes, a binary file object or an iterable of bytes, sent in
            ``block_size`` blocks.
        :param size: the data's length; None: measured when it can be without
            reading (bytes, a seekable file), else the data is sent chunked.
        :param progress: called as ``progress(bytes_sent, size)`` after each block.
        :returns: the new image's record.
        :raises ChecksumMismatch: when glance-api recorded another md5 or sha256 than
            the bytes sent have.
        """
        return self._send_image('POST', '/images', fields, properties, data, size,
                                progress)

    def update_image(self, image_id, fields, properties=None, data=None, size=None,
                     progress=None, purge_props=False):
        """Change an image with ``PUT /images/<id>``; with data, upload into it.

        :param image_id: the image id (glance-api's default registry).
        :param purge_props: replace the properties instead of merging them.
        :returns: the updated record; see :meth:`add_image` for the rest.
        :raises Conflict: when data is sent for an image that is not ``queued``.
        """
        extra = [('X-Glance-Registry-Purge-Props', 'true')] if purge_props else []
        return self._send_image('PUT', self._id_path(image_id), fields, properties,
                                data, size, progress, extra)

    def _send_image(self, method, path, fields, properties, data, size, progress,
                    extra=()):
        headers = codec.image_headers(fields, properties) + list(extra)
        body = None
        if data is not None:
            headers.append(('Content-Type', 'application/octet-stream'))
            size = streams.body_length(data) if size is None else size
            body = streams.UploadBody(data, size, progress, self.block_size)
        image = self._json_image(*self._open(method, path, headers, body, size,
                                             not_found=exception.ImageNotFound))
        if body is not None:
            body.check_record(image)
        return image

    def delete_image(self, image_id):
        """Delete an image's data and record with ``DELETE /images/<id>``.

        :raises ImageNotFound: when it does not exist or is not visible to the caller.
        :raises Forbidden: when the caller may see but not delete it.
        """
        connection, response = self._open('DELETE', self._id_path(image_id),
                                          not_found=exception.ImageNotFound)
        response.close()
        connection.close()

    # -- image sharing (Glance v1) ---------------------------------------------------

    def list_members(self, image_id):
        """``GET /v1/images/<id>/members``: ``[{"member_id", "can_share"}, ...]``."""
        data = self._json('GET', '/v1' + self._id_path(image_id) + '/members',
                          not_found=exception.ImageNotFound)
        return _list_of(data, 'members', self.transport.where)

    def replace_members(self, image_id, memberships):
        """``PUT /v1/images/<id>/members``: the image's members become exactly these.

        :param memberships: ``[{"member_id": ..., "can_share": bool}, ...]``.
        """
        self._json('PUT', '/v1' + self._id_path(image_id) + '/members',
                   {'memberships': list(memberships)}, not_found=exception.ImageNotFound)

    def add_member(self, image_id, member, can_share=None):
        """``PUT /v1/images/<id>/members/<member>``: share the image (or update).

        :param can_share: None leaves it as it is (False for a new member).
        """
        body = None if can_share is None else {'member': {'can_share': bool(can_share)}}
        self._json('PUT', '/v1%s/members/%s' % (self._id_path(image_id), _quote(member)),
                   body, not_found=exception.ImageNotFound)

    def delete_member(self, image_id, member):
        """``DELETE /v1/images/<id>/members/<member>``: stop sharing with a member."""
        self._json('DELETE', '/v1%s/members/%s' % (self._id_path(image_id),
                                                   _quote(member)))

    def shared_images(self, member):
        """``GET /v1/shared-images/<member>``: ``[{"image_id", "can_share"}, ...]``."""
        data = self._json('GET', '/v1/shared-images/' + _quote(member))
        return _list_of(data, 'shared_images', self.transport.where)

    # -- image cache (admin) ---------------------------------------------------------

    def cache_status(self):
        """``GET /cache``: cached, filling and queued images, bytes used and the cap."""
        return self._json('GET', '/cache')

    def cache_delete(self, image_id=None):
        """Drop one cached image, or every one when ``image_id`` is None."""
        path = '/cache/images'
        if image_id is not None:
            path += '/' + _quote(image_id)
        self._json('DELETE', path)

    def cache_verify(self, image_id):
        """Audit one cached image now; returns ``{"id", "result"}``."""
        return self._json('POST', '/cache/images/%s/verify' % _quote(image_id))

    def cache_queue(self, image_id):
        """Queue an image for prefetch."""
        return self._json('PUT', '/cache/queue/' + _quote(image_id))

    def cache_dequeue(self, image_id):
        """Take an image off the prefetch queue."""
        self._json('DELETE', '/cache/queue/' + _quote(image_id))


def _list_of(data, key, where):
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise exception.ServiceUnavailable(reason='%s answered without a "%s" list'
                                           % (where, key))
    return items
