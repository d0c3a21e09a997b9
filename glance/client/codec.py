"""The ``x-image-meta-*`` header codec of glance-api clients, both ways.

One encoding, the one Glance v1 clients use: fields travel as
``x-image-meta-<field>`` and properties as ``x-image-meta-property-<key>``, names
with ``-`` for ``_`` (WSGI servers drop header names holding ``_``, which would be
confused with ``-``; glance-api maps them back), booleans as ``True``/``False``,
values as UTF-8 bytes. Answers carry values beyond printable ASCII as percent-encoded
UTF-8 (:mod:`glance.api.headers`), which :func:`image_metadata` undoes; booleans are
read case-insensitively.
"""

import re
import urllib.parse

from glance.api import headers as api_headers
from glance.common import exception
from glance.common.header_text import as_header_text

META = 'x-image-meta-'
PROPERTY = META + 'property-'
#: Fields a client sends as ``x-image-meta-<field>`` (glance-api's own list, plus
#: ``location``, repeated once per chunk).
SENDABLE_FIELDS = api_headers.WRITABLE_FIELDS + ('location',)
#: Fields of a record that Glance sets itself; :func:`split_record` leaves them out.
READ_ONLY_FIELDS = api_headers.READ_ONLY_FIELDS + ('locations',)
_BOOLEAN_FIELDS = ('is_public', 'deleted', 'protected')
_INTEGER_FIELDS = ('size', 'virtual_size', 'min_disk', 'min_ram')
# glance-api lower-cases property keys and reads "-" as "_": other keys would not
# arrive as they were sent.
_PROPERTY_KEY = re.compile(r'^[a-z0-9_]+$')
_CONTROL = re.compile('[\x00-\x1f\x7f]')


def decode_value(raw):
    """Undo glance-api's percent-encoding of header values beyond printable ASCII.

    A printable ASCII value that merely holds ``%`` (``50%25 off`` sent as such) is
    kept as sent: only a decoding that yields non-ASCII text was encoded.
    """
    decoded = urllib.parse.unquote(raw)
    if decoded != raw and any(not ' ' <= char <= '~' for char in decoded):
        return decoded
    return raw


def image_headers(fields, properties=None):
    """Render image metadata as ``x-image-meta-*`` request headers.

    :param fields: writable fields (``name``, ``is_public``, ``disk_format``...);
        None values are left out; ``location`` may be a list of chunk locations.
    :param properties: ``{key: value}`` sent as ``x-image-meta-property-<key>``;
        None values are left out.
    :returns: a list of ``(name, value)`` pairs; values are UTF-8 bytes.
    :raises Invalid: for a property key other than lower-case letters, digits and
        ``_``, or a value holding a control character (line breaks included).
    """
    pairs = []
    for name, value in fields.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(META + name.replace('_', '-'), item) for item in values
                  if item is not None]
    for key, value in (properties or {}).items():
        if not _PROPERTY_KEY.match(key):
            raise exception.Invalid(reason='property key %r cannot travel as a header; '
                                    'use lower-case letters, digits and _' % key)
        if value is not None:
            pairs.append((PROPERTY + key.replace('_', '-'), value))
    headers = []
    for name, value in pairs:
        text = as_header_text(value)
        if _CONTROL.search(text):
            raise exception.Invalid(reason='%s must not hold control characters' % name)
        headers.append((name, text.encode('utf-8')))
    return headers


def image_metadata(headers):
    """Read an image record from ``x-image-meta-*`` response headers.

    :param headers: ``(name, value)`` pairs, e.g. ``response.getheaders()``.
    :returns: a dict of fields (``size``, ``virtual_size``, ``min_disk`` and
        ``min_ram`` ints, ``is_public``/``deleted``/``protected`` bools) plus
        ``properties``; repeated ``x-image-meta-location``
        headers become ``locations`` (a list; admins only).
    """
    image = {'properties': {}}
    for name, raw in headers:
        lower = name.lower()
        value = decode_value(raw)
        if lower.startswith(PROPERTY):
            image['properties'][name[len(PROPERTY):]] = value
        elif lower == META + 'location':
            image.setdefault('locations', []).append(value)
        elif lower.startswith(META):
            image[lower[len(META):]] = value
    for field in _INTEGER_FIELDS:
        if image.get(field, '').isdigit():
            image[field] = int(image[field])
    for field in _BOOLEAN_FIELDS:
        if field in image:
            image[field] = image[field].lower() == 'true'
    return image


def split_record(metadata):
    """Split a record-like dict into the fields and properties a client may send.

    :param metadata: image fields with an optional ``properties`` dict; fields in
        :data:`READ_ONLY_FIELDS`, ``location`` (a record shows its first chunk's
        there: a record sent back registers nothing) and None values are left out.
    :returns: ``(fields, properties)`` for :func:`image_headers`.
    :raises Invalid: for a field that cannot travel with image data (neither in
        :data:`SENDABLE_FIELDS` nor set by Glance), e.g. ``tags``.
    """
    fields = {}
    for name, value in metadata.items():
        if (name in ('properties', 'location') or name in READ_ONLY_FIELDS
                or value is None):
            continue
        if name not in SENDABLE_FIELDS:
            raise exception.Invalid(reason='field %r cannot be sent with image data; '
                                    'set it on the registry afterwards' % name)
        fields[name] = value
    return fields, dict(metadata.get('properties') or {})
