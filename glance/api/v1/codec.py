"""The Glance v1 wire format of image metadata: request headers, response headers
and JSON bodies.

v1 clients (python-glanceclient's ``glanceclient.v1``) send writable fields as
``x-image-meta-<field>`` and properties as ``x-image-meta-property-<key>``, and read
the same headers back from ``HEAD``/``GET``. Reading and rendering the headers is
:mod:`glance.api.headers`'s job (shared with the native API); this module adds what
is v1's own:

* names are lower-cased, ``-`` and ``_`` are the same (``x-image-meta-min-disk`` and
  ``x-image-meta-min_disk``); answers spell fields with ``_`` as v1 clients expect;
* values are percent-decoded: python-glanceclient percent-encodes every header
  value (a name ``my image`` arrives as ``my%20image``), property keys too;
* booleans are answered ``True``/``False``; values of printable Latin-1 are
  answered as they are (v1 clients read headers as Latin-1), others percent-encoded
  UTF-8; a typed field sent as ``None`` (what python-glanceclient sends for
  ``is_public`` when it was not given) is not given;
* ``x-image-meta-location`` is one URL (commas included), ``x-image-meta-id``
  chooses the id of a new image, ``x-image-meta-deleted`` is ignored (old clients
  send it), ``x-image-meta-store`` and ``x-glance-api-copy-from`` are refused (images
  go to glance-api's default store; a server-side copy from a URL is not offered).

Locations are never shown by the v1 surface, to admins neither.
"""

import dataclasses
import urllib.parse

from glance.api import headers
from glance.common import exception

#: Fields a v1 client may set with ``x-image-meta-*`` (besides ``id`` on create).
WRITABLE_FIELDS = headers.WRITABLE_FIELDS
#: Fields of an image as v1 shows it (JSON bodies and ``HEAD``/``GET`` headers).
FIELDS = ('id', 'name', 'status', 'is_public', 'owner', 'disk_format',
          'container_format', 'size', 'virtual_size', 'checksum', 'min_disk',
          'min_ram', 'protected', 'created_at', 'updated_at', 'deleted_at', 'deleted')
#: Fields of ``GET /v1/images`` (the brief list).
BRIEF_FIELDS = ('id', 'name', 'disk_format', 'container_format', 'checksum', 'size')
#: Sent by python-glanceclient on every update: ``true`` replaces the properties.
PURGE_PROPS_HEADER = 'x-glance-registry-purge-props'
#: python-glanceclient's server-side copy request, refused.
COPY_FROM_HEADER = 'x-glance-api-copy-from'

_IGNORED = ('deleted',)
_NOT_GIVEN = 'None'


def _decode(raw):
    return urllib.parse.unquote(headers.decode_text(raw))


@dataclasses.dataclass
class V1Meta:
    """Image metadata sent with a v1 request.

    :ivar fields: typed writable fields.
    :ivar properties: ``{key: value}``.
    :ivar location: the ``x-image-meta-location`` URL, or None.
    :ivar image_id: the ``x-image-meta-id`` given, or None.
    """

    fields: dict
    properties: dict
    location: str | None = None
    image_id: str | None = None

    def metadata(self, purge_props=False):
        """The fields and properties as image core metadata.

        :param purge_props: the properties replace the image's, so they are sent
            even when there are none.
        """
        metadata = dict(self.fields)
        if self.properties or purge_props:
            metadata['properties'] = dict(self.properties)
        return metadata


def parse_request(environ):
    """Read the v1 metadata of a request (``POST``/``PUT /v1/images``).

    :param environ: the WSGI environ.
    :returns: :class:`V1Meta`.
    :raises Invalid: for a read-only or unknown field, a malformed value, a value
        holding control characters once decoded, ``x-image-meta-store`` or
        ``x-glance-api-copy-from``.
    """
    if 'HTTP_' + COPY_FROM_HEADER.upper().replace('-', '_') in environ:
        raise exception.Invalid(reason='%s is not supported: send the image data, or '
                                       'x-image-meta-location' % COPY_FROM_HEADER)
    raw, properties = headers.raw_image_meta(environ, decode=_decode)
    if 'store' in raw:
        raise exception.Invalid(reason='x-image-meta-store is not supported: images '
                                       "are written to glance-api's default store")
    for field in _IGNORED:
        raw.pop(field, None)
    raw = {field: value for field, value in raw.items()
           if not (value == _NOT_GIVEN and field in headers.TYPED_FIELDS)}
    location = raw.pop('location', None) or None
    image_id = raw.pop('id', None)
    properties = {urllib.parse.unquote(key): value for key, value in properties.items()}
    return V1Meta(headers.parse_fields(raw, WRITABLE_FIELDS), properties, location,
                  image_id)


def purge_props(req):
    """Whether a ``PUT`` replaces the properties (v1: yes, unless the
    ``x-glance-registry-purge-props`` header says ``false``).

    :raises Invalid: for a value other than true/false.
    """
    value = req.headers.get(PURGE_PROPS_HEADER, 'true').strip().lower()
    if value not in ('true', 'false'):
        raise exception.Invalid(reason='%s must be true or false' % PURGE_PROPS_HEADER)
    return value == 'true'


def image_body(record, fields=FIELDS):
    """An image as v1 JSON bodies show it: ``fields`` (null when unset) and, for the
    detailed form, ``properties``."""
    body = {field: record.get(field) for field in fields}
    if fields is FIELDS:
        body['properties'] = dict(record.get('properties') or {})
    return body


def response_headers(record):
    """An image as ``x-image-meta-*`` headers (``HEAD``/``GET /v1/images/<id>``):
    :data:`FIELDS` that are set, then each property. python-glanceclient reads
    header values as Latin-1, so text of printable Latin-1 is sent as it is; other
    text is percent-encoded UTF-8."""
    return headers.image_meta_headers(record, False, fields=FIELDS, latin1=True)
