"""The ``x-image-meta-*`` header form of image metadata, both ways.

Requests carry writable fields as ``x-image-meta-<field>`` and properties as
``x-image-meta-property-<key>``; responses to GET and HEAD carry every field the same
way. WSGI folds header names to upper case and ``-`` to ``_``, so a property key read
from a header is lower-cased with ``_`` for ``-`` (``x-image-meta-property-OS-Type``
sets ``os_type``).

Locations and chunks are shown only to admins: the API reads records with the
``service`` role, so the registry always sends them and this module filters them.
"""

import re
import urllib.parse

from glance.common import config, exception
from glance.common.header_text import as_header_text

_META = 'HTTP_X_IMAGE_META_'
_PROPERTY = _META + 'PROPERTY_'
_HEX = re.compile(r'^[0-9a-f]+$')
_PLAIN_VALUE = re.compile(r'^[\x20-\x7e]*$')
_LATIN1_VALUE = re.compile(r'^[\x20-\x7e\xa0-\xff]*$')
# C0 and C1 controls and DEL: a value that holds one could split or forge a header
# when it is sent back (GET/HEAD answer every field as a header).
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f]')
_KEPT_AS_IS = ''.join(chr(c) for c in range(0x20, 0x7f) if chr(c) != '%')

#: Fields a client may set, with their parsers.
WRITABLE_FIELDS = ('name', 'disk_format', 'container_format', 'is_public', 'owner',
                   'size', 'checksum', 'sha256', 'blake3', 'protected', 'min_disk',
                   'min_ram')
#: Fields the registry or the API own.
READ_ONLY_FIELDS = ('id', 'uri', 'status', 'created_at', 'updated_at', 'deleted_at',
                    'deleted', 'chunks', 'detected_format', 'virtual_size')
#: Fields sent back as headers, in this order (then ``location`` for admins).
SHOWN_FIELDS = ('id', 'uri', 'name', 'status', 'is_public', 'owner', 'disk_format',
                'container_format', 'size', 'virtual_size', 'detected_format',
                'checksum', 'sha256', 'blake3', 'protected', 'min_disk', 'min_ram',
                'created_at',
                'updated_at', 'deleted_at', 'deleted')
#: Fields hidden from callers who are not admins.
PRIVATE_FIELDS = ('location', 'chunks')


def decode_text(raw):
    """A WSGI header value (latin-1 decoded text) as the UTF-8 text clients sent,
    stripped."""
    try:
        return raw.encode('latin-1').decode('utf-8').strip()
    except UnicodeError:
        return raw.strip()


def _hex_digest(length):
    def parse(value):
        value = value.lower()
        if len(value) != length or not _HEX.match(value):
            raise ValueError('expected %d hex digits' % length)
        return value
    return parse


def _size(value):
    size = int(value)
    if size < 0:
        raise ValueError('must not be negative')
    return size


_PARSERS = {'is_public': config.as_bool, 'protected': config.as_bool, 'size': _size,
            'min_disk': _size, 'min_ram': _size,
            'checksum': _hex_digest(32), 'sha256': _hex_digest(64),
            'blake3': _hex_digest(64)}


class ImageMeta:
    """Metadata parsed from a request's ``x-image-meta-*`` headers.

    :ivar fields: writable fields, typed (``is_public`` bool, ``size`` int).
    :ivar properties: ``{key: value}`` from ``x-image-meta-property-*``.
    :ivar locations: chunk locations from ``x-image-meta-location`` (repeated or
        comma-separated), in order.
    """

    def __init__(self, fields, properties, locations):
        self.fields = fields
        self.properties = properties
        self.locations = locations

    def registry_metadata(self):
        """The fields and properties as a registry create/update body."""
        metadata = dict(self.fields)
        if self.properties:
            metadata['properties'] = dict(self.properties)
        return metadata


#: Fields whose values are parsed (booleans, integers, digests), not kept as text.
TYPED_FIELDS = tuple(_PARSERS)


def raw_image_meta(environ, decode=decode_text):
    """Read the ``x-image-meta-*`` headers of a request as text, untyped.

    :param environ: the WSGI environ.
    :param decode: turns a WSGI header value into text (the native API reads UTF-8;
        the v1 API also undoes the percent-encoding of v1 clients).
    :returns: ``(fields, properties)``: ``{field: text}`` (``location`` included) and
        ``{key: text}``, names lower-cased with ``_`` for ``-``.
    :raises Invalid: for a value holding control characters (CR, LF, NUL...) or an
        empty property key.
    """
    fields, properties = {}, {}
    for key, raw in environ.items():
        if not key.startswith(_META):
            continue
        value = decode(raw)
        if _CONTROL.search(value):
            raise exception.Invalid(reason='%s holds control characters'
                                    % key[len('HTTP_'):].lower().replace('_', '-'))
        if key.startswith(_PROPERTY):
            name = key[len(_PROPERTY):].lower()
            if not name:
                raise exception.Invalid(reason='empty property name in '
                                               'x-image-meta-property-')
            properties[name] = value
        else:
            fields[key[len(_META):].lower()] = value
    return fields, properties


def parse_fields(raw, writable=WRITABLE_FIELDS):
    """Type the writable fields of :func:`raw_image_meta`.

    :param raw: ``{field: text}``.
    :param writable: the fields a client may set.
    :returns: ``{field: value}`` (``is_public`` bool, ``size`` int...).
    :raises Invalid: for a read-only or unknown field, or a malformed value.
    """
    fields = {}
    for field, value in raw.items():
        if field in writable:
            try:
                fields[field] = _PARSERS.get(field, str)(value)
            except ValueError as err:
                raise exception.Invalid(reason='x-image-meta-%s: %s' % (field, err))
        elif field in READ_ONLY_FIELDS:
            raise exception.Invalid(reason='x-image-meta-%s is read-only' % field)
        else:
            raise exception.Invalid(reason='unknown field x-image-meta-%s' % field)
    return fields


def parse_image_meta(environ):
    """Read the ``x-image-meta-*`` headers of a request.

    :param environ: the WSGI environ.
    :returns: :class:`ImageMeta`.
    :raises Invalid: for a read-only or unknown field, a malformed value, a value
        holding control characters (CR, LF, NUL...) or an empty property key.
    """
    raw, properties = raw_image_meta(environ)
    location = raw.pop('location', '')
    locations = [item.strip() for item in location.split(',') if item.strip()]
    return ImageMeta(parse_fields(raw), properties, locations)


def _header_value(value, plain=_PLAIN_VALUE):
    text = as_header_text(value)
    if plain.match(text):
        return text
    # Header values must be latin-1 on the wire; anything beyond printable ASCII
    # is sent percent-encoded UTF-8 so no byte is lost or mangled.
    return urllib.parse.quote(text, safe=_KEPT_AS_IS)


def image_meta_headers(image, show_locations, fields=SHOWN_FIELDS, latin1=False):
    """Render an image record as ``x-image-meta-*`` response headers.

    Fields whose value is null are left out. Values outside printable ASCII are
    percent-encoded UTF-8.

    :param image: the registry record.
    :param show_locations: add one ``x-image-meta-location`` per chunk (admins only).
    :param fields: the fields shown, in order.
    :param latin1: values of printable Latin-1 are sent as such (what v1 clients,
        which read headers as Latin-1, get right); only others are percent-encoded.
    :returns: a list of ``(name, value)`` pairs.
    """
    plain = _LATIN1_VALUE if latin1 else _PLAIN_VALUE
    headers = [('x-image-meta-%s' % field, _header_value(image[field], plain))
               for field in fields
               if image.get(field) is not None]
    for key, value in sorted((image.get('properties') or {}).items()):
        headers.append(('x-image-meta-property-%s' % key, _header_value(value, plain)))
    if show_locations:
        headers += [('x-image-meta-location', _header_value(chunk['location']))
                    for chunk in image.get('chunks') or ()]
    return headers


def visible_record(image, show_locations):
    """Return the record as shown in JSON bodies: without locations for non-admins."""
    if show_locations:
        return image
    return {key: value for key, value in image.items() if key not in PRIVATE_FIELDS}
