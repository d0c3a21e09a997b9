"""ApiClient: image data to and from glance-api (Teller), streamed in bounded blocks.

Metadata queries go to the registry through
:class:`~glance.registry.client.RegistryClient`; this client carries what only
glance-api does: downloads (``GET /images/<id>`` or ``GET /images?uri=<uri>``, with
``Range``), uploads and registrations (``POST /images``, ``PUT /images/<id>``) and
deletes (``DELETE /images/<id>``). Every failure becomes one exception from
:mod:`glance.common.exception` whose message is the server's own reason or a sentence
naming glance-api's URL, never a header or a token.
"""

import hashlib
import http.client
import json
import os
import ssl
import urllib.parse

import glance
from glance.common import client as json_client, exception

DEFAULT_API_URL = 'http://127.0.0.1:9292'
DEFAULT_TIMEOUT = 60
BLOCK_SIZE = 64 * 1024
_MAX_JSON_BODY = 1024 * 1024
_META = 'x-image-meta-'
_PROPERTY = 'x-image-meta-property-'
_STATUS_EXCEPTIONS = {400: exception.Invalid, 401: exception.Unauthorized,
                      403: exception.Forbidden, 404: exception.NotFound,
                      409: exception.Conflict, 413: exception.RequestTooLarge,
                      416: exception.RangeNotSatisfiable}


def _response_value(raw):
    """Undo glance-api's percent-encoding of header values beyond printable ASCII."""
    decoded = urllib.parse.unquote(raw)
    if decoded != raw and any(not ' ' <= char <= '~' for char in decoded):
        return decoded
    return raw


def image_metadata(headers):
    """Read an image record from ``x-image-meta-*`` response headers.

    :param headers: ``(name, value)`` pairs, e.g. ``response.getheaders()``.
    :returns: a dict of fields (``size`` an int, ``is_public``/``deleted`` bools)
        plus ``properties``; repeated ``x-image-meta-location`` headers become
        ``locations`` (a list; admins only).
    """
    image = {'properties': {}}
    for name, raw in headers:
        lower = name.lower()
        value = _response_value(raw)
        if lower.startswith(_PROPERTY):
            image['properties'][name[len(_PROPERTY):]] = value
        elif lower == _META + 'location':
            image.setdefault('locations', []).append(value)
        elif lower.startswith(_META):
            image[lower[len(_META):]] = value
    if image.get('size', '').isdigit():
        image['size'] = int(image['size'])
    for field in ('is_public', 'deleted'):
        if field in image:
            image[field] = image[field].lower() == 'true'
    return image


def image_headers(fields, properties=None):
    """Render image metadata as ``x-image-meta-*`` request headers.

    :param fields: writable fields (``name``, ``is_public``, ``disk_format``...);
        None values are left out; ``location`` may be a list of chunk locations.
    :param properties: ``{key: value}`` sent as ``x-image-meta-property-<key>``
        (glance-api lower-cases keys, and a ``-`` in a key arrives as ``_``).
    :returns: a list of ``(name, value)`` pairs; values are UTF-8 bytes.
    :raises Invalid: for a value holding a control character (line breaks included).
    """
    # Header names carry "-" for "_": eventlet drops headers whose names hold "_"
    # (they would be confused with "-" in the WSGI environ); glance-api maps back.
    pairs = []
    for name, value in fields.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(_META + name.replace('_', '-'), item) for item in values
                  if item is not None]
    pairs += [(_PROPERTY + key.replace('_', '-'), value)
              for key, value in (properties or {}).items()]
    headers = []
    for name, value in pairs:
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        text = str(value)
        if any(ord(char) < 0x20 or ord(char) == 0x7f for char in text):
            raise exception.Invalid(reason='%s must not hold control characters' % name)
        headers.append((name, text.encode('utf-8')))
    return headers


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
        self.metadata = image_metadata(response.getheaders())
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

    def close(self):
        """Close the response and its connection."""
        self._response.close()
        self._connection.close()


class _UploadBody:
    """Iterate over an upload source in blocks, hashing and reporting progress."""

    def __init__(self, data, size, progress, block_size):
        self.data = data
        self.size = size
        self.progress = progress
        self.block_size = block_size
        self.sent = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()

    def __iter__(self):
        while True:
            block = self.data.read(self.block_size)
            if not block:
                return
            self.md5.update(block)
            self.sha256.update(block)
            self.sent += len(block)
            if self.progress is not None:
                self.progress(self.sent, self.size)
            yield block


class ApiClient:
    """Client of one glance-api server for image data, over :mod:`http.client`.

    :param url: glance-api's base URL (a path prefix is kept).
    :param context: the :class:`~glance.common.context.RequestContext` whose identity
        headers (``X-Tenant-Id``, ``X-User-Id``, ``X-Roles``, ``X-Auth-Token``) go
        with every request; anonymous when None.
    :param timeout: seconds allowed to connect and for each socket read or write.
    :param ca_file: PEM file of the CAs trusted for ``https``; the system's when None.
    :param insecure: skip TLS certificate and host name verification.
    :param block_size: bytes per read from a source or from a response.
    :raises Invalid: for an unusable URL or a missing ``ca_file``.
    """

    def __init__(self, url=DEFAULT_API_URL, context=None, timeout=DEFAULT_TIMEOUT,
                 ca_file=None, insecure=False, block_size=BLOCK_SIZE):
        self.url = json_client.normalize_base_url(url)
        parts = urllib.parse.urlsplit(self.url)
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._prefix = parts.path
        self.context = context
        self.timeout = timeout
        self.block_size = block_size
        self._ssl = None
        if ca_file and not os.path.isfile(ca_file):
            raise exception.Invalid(reason='CA file %s does not exist' % ca_file)
        if self._scheme == 'https':
            self._ssl = ssl.create_default_context(cafile=ca_file)
            if insecure:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE

    # -- transport ---------------------------------------------------------------

    def _connection(self):
        # httplib2 (the JSON clients' transport) reads whole response bodies into memory;
        # image bytes go through http.client, which sends and reads bounded blocks.
        if self._ssl is not None:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=self._ssl,
                                               blocksize=self.block_size)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout,
                                          blocksize=self.block_size)

    def _unavailable(self, err):
        if isinstance(err, TimeoutError):
            why = 'did not answer within %s s' % self.timeout
        elif isinstance(err, ssl.SSLCertVerificationError):
            why = ('presented a TLS certificate that could not be verified (%s); trust '
                   'its CA with --ca-file' % (err.verify_message or 'verification failed'))
        elif isinstance(err, ssl.SSLError):
            why = 'failed the TLS handshake (%s)' % (err.reason or type(err).__name__)
        elif isinstance(err, ConnectionRefusedError):
            why = 'refused the connection'
        elif isinstance(err, http.client.HTTPException):
            why = 'sent a malformed HTTP response (%s)' % type(err).__name__
        else:
            why = 'cannot be reached (%s)' % (getattr(err, 'strerror', None)
                                              or type(err).__name__)
        return exception.ServiceUnavailable(reason='glance-api at %s %s' % (self.url, why))

    def _headers(self, extra):
        headers = [('User-Agent', 'glance-client/%s' % glance.__version__)]
        if self.context is not None:
            headers += list(self.context.to_headers().items())
        return headers + list(extra or ())

    def _send(self, method, path, headers=None, body=None, length=None):
        """Send one request and return ``(connection, response)`` for any 2xx or 416.

        :param body: None or an iterable of bytes; sent chunked when ``length`` is None.
        :raises GlanceException: mapped from the status; ServiceUnavailable for a
            transport failure or a 5xx.
        """
        connection = self._connection()
        all_headers = self._headers(headers)
        if body is not None and length is not None:
            all_headers.append(('Content-Length', str(length)))
        elif body is None and method in ('POST', 'PUT'):
            all_headers.append(('Content-Length', '0'))
        try:
            connection.putrequest(method, self._prefix + path, skip_accept_encoding=True)
            for name, value in all_headers:
                connection.putheader(name, value)
            chunked = body is not None and length is None
            if chunked:
                connection.putheader('Transfer-Encoding', 'chunked')
            connection.endheaders()
            send_error = self._send_body(connection, body, chunked)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as err:
            connection.close()
            raise self._unavailable(err)
        if 200 <= response.status < 300 or response.status == 416:
            return connection, response
        try:
            content = response.read(_MAX_JSON_BODY)
        except (OSError, http.client.HTTPException):
            content = b''
        connection.close()
        message = json_client.server_message(content)
        if response.status >= 500 or response.status < 400:
            raise exception.ServiceUnavailable(
                reason='glance-api at %s answered %d%s' % (self.url, response.status,
                                                           ': ' + message if message
                                                           else ''))
        if send_error is not None and message is None:
            raise self._unavailable(send_error)
        message = message or 'HTTP %d from glance-api at %s' % (response.status, self.url)
        raise _STATUS_EXCEPTIONS.get(response.status, exception.Invalid)(message)

    @staticmethod
    def _send_body(connection, body, chunked):
        """Send the body; a server that answers early (e.g. 413) may cut it short.

        :returns: the send error, if the server closed while the body was sent, so
            that the caller can still read the server's answer.
        """
        if body is None:
            return None
        try:
            for block in body:
                connection.send(b'%x\r\n%s\r\n' % (len(block), block) if chunked else block)
            if chunked:
                connection.send(b'0\r\n\r\n')
        except (BrokenPipeError, ConnectionResetError) as err:
            return err
        return None

    def _read_json(self, connection, response):
        """Read a small JSON answer and close the connection.

        :returns: the decoded value; None for an empty or malformed body.
        """
        try:
            content = response.read(_MAX_JSON_BODY)
        except (OSError, http.client.HTTPException) as err:
            raise self._unavailable(err)
        finally:
            connection.close()
        try:
            return json.loads(content.decode('utf-8')) if content else None
        except (UnicodeDecodeError, ValueError):
            return None

    def _json_image(self, connection, response):
        data = self._read_json(connection, response)
        image = data.get('image') if isinstance(data, dict) else None
        if not isinstance(image, dict):
            raise exception.ServiceUnavailable(reason='glance-api at %s answered without '
                                               'an "image" object' % self.url)
        return image

    # -- images ------------------------------------------------------------------

    @staticmethod
    def image_path(image_ref):
        """The download path of an image reference.

        :param image_ref: a bare image id, or a full image URI (any allow-listed
            registry's), which is looked up with ``GET /images?uri=``.
        """
        if '://' in image_ref:
            return '/images?' + urllib.parse.urlencode({'uri': image_ref})
        return '/images/' + urllib.parse.quote(image_ref, safe='')

    @staticmethod
    def _id_path(image_id):
        if '://' in image_id:
            raise exception.Invalid(reason='glance-api changes and deletes images by id; '
                                    'give the image id instead of its URI')
        return '/images/' + urllib.parse.quote(image_id, safe='')

    def get_image(self, image_ref, headers=None):
        """Start downloading an image; the caller reads and closes the response.

        :param image_ref: a bare id or a full image URI (see :meth:`image_path`).
        :param headers: extra request headers, e.g. ``Range`` and ``If-Range``.
        :returns: an :class:`ImageResponse` with status 200, 206 or 416.
        :raises NotFound: when the image does not exist, is not visible or not active.
        :raises ServiceUnavailable: when glance-api cannot be reached or fails.
        """
        return ImageResponse(*self._send('GET', self.image_path(image_ref),
                                         list((headers or {}).items())))

    def add_image(self, fields, properties=None, data=None, size=None, progress=None):
        """Create an image with ``POST /images``, uploading ``data`` when given.

        Without data the image is registered as ``queued`` (or, given ``location``
        fields, from existing objects).

        :param fields: writable fields (see :func:`image_headers`).
        :param properties: custom properties.
        :param data: None or a binary file object, read in ``block_size`` blocks.
        :param size: the data's length, or None to send it chunked (e.g. a pipe).
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
        headers = image_headers(fields, properties) + list(extra)
        body = None
        if data is not None:
            headers.append(('Content-Type', 'application/octet-stream'))
            body = _UploadBody(data, size, progress, self.block_size)
        image = self._json_image(*self._send(method, path, headers, body, size))
        if body is not None:
            for field, digest in (('checksum', body.md5), ('sha256', body.sha256)):
                if image.get(field) not in (None, digest.hexdigest()):
                    raise exception.ChecksumMismatch(
                        image_id=image.get('id'),
                        reason='glance-api recorded %s %s, the bytes sent hash to %s'
                               % (digest.name, image[field], digest.hexdigest()))
        return image

    def delete_image(self, image_id):
        """Delete an image's data and record with ``DELETE /images/<id>``.

        :raises NotFound: when it does not exist or is not visible to the caller.
        :raises Forbidden: when the caller may see but not delete it.
        """
        connection, response = self._send('DELETE', self._id_path(image_id))
        response.close()
        connection.close()

    # -- image cache (admin) -------------------------------------------------------

    def _cache_call(self, method, path):
        """Send one image cache admin request; return its JSON body (None when empty)."""
        return self._read_json(*self._send(method, path))

    def cache_status(self):
        """``GET /cache``: cached, filling and queued images, bytes used and the cap."""
        return self._cache_call('GET', '/cache')

    def cache_delete(self, image_id=None):
        """Drop one cached image, or every one when ``image_id`` is None."""
        path = '/cache/images'
        if image_id is not None:
            path += '/' + urllib.parse.quote(image_id, safe='')
        self._cache_call('DELETE', path)

    def cache_verify(self, image_id):
        """Audit one cached image now; returns ``{"id", "result"}``."""
        return self._cache_call('POST', '/cache/images/%s/verify'
                                % urllib.parse.quote(image_id, safe=''))

    def cache_queue(self, image_id):
        """Queue an image for prefetch."""
        return self._cache_call('PUT', '/cache/queue/' + urllib.parse.quote(image_id,
                                                                             safe=''))

    def cache_dequeue(self, image_id):
        """Take an image off the prefetch queue."""
        self._cache_call('DELETE', '/cache/queue/' + urllib.parse.quote(image_id, safe=''))
