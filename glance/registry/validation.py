"""Input checking of the registry API: image bodies, list queries, ids, tags, members.

Every function turns untrusted JSON or query-string values into typed, normalised
Python values, or raises :class:`glance.common.exception.Invalid` with a reason that
names the field (answered as 400). Nothing here touches the database or knows who is
calling; permissions are the controller's job.
"""

import dataclasses
import datetime
import re

from glance.common import exception
from glance.registry import image_rules
from glance.registry.db import models

MAX_CHUNKS = 10000
MAX_BIGINT = 2 ** 63 - 1
MAX_INT = 2 ** 31 - 1
#: Most tags one image may hold.
MAX_TAGS = 128
MEMBER_STATUS_FILTERS = models.MEMBER_STATUSES + ('all',)
VISIBILITY_FILTERS = models.VISIBILITIES + ('all',)
#: List parameters that may be given more than once (all values must match).
REPEATABLE_PARAMS = ('tag',)
SORT_KEYS = models.SORTED_COLUMNS + ('id',)
SORT_DIRS = ('asc', 'desc')
READ_ONLY_FIELDS = ('uri', 'created_at', 'updated_at', 'deleted_at', 'deleted')
LIST_PARAMS = ('sort_key', 'sort_dir', 'limit', 'marker')
PROPERTY_FILTER_PREFIX = 'property-'

UUID_PATTERN = ('[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                '[0-9a-fA-F]{12}')
_UUID = re.compile(UUID_PATTERN)
# C0 and C1 control characters, DEL, and lone surrogates (JSON "\ud800" decodes to one;
# it cannot be encoded for the database).
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\ud800-\udfff]')
_DIGITS = re.compile('[0-9]{1,19}')
_HEX = re.compile('[0-9a-fA-F]*')


def _invalid(reason, *args):
    return exception.Invalid(reason=reason % args if args else reason)


def _label(name):
    """Quote a client-supplied name for a message, cut to a readable length."""
    return repr(name[:64] + ('...' if len(name) > 64 else ''))


def text(value, field, max_length=models.NAME_MAX, nullable=True):
    """Check a string field: type, length and no control characters.

    :param value: the JSON value.
    :param field: field name for messages.
    :param max_length: most characters allowed.
    :param nullable: whether JSON null is accepted (returned as None).
    :returns: the string, or None.
    :raises Invalid: otherwise.
    """
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _invalid('%s must be a string%s', field, ' or null' if nullable else '')
    if len(value) > max_length:
        raise _invalid('%s is longer than %d characters', field, max_length)
    if _CONTROL.search(value):
        raise _invalid('%s contains control characters', field)
    return value


def image_id(value, field='id'):
    """Check an image id: a hyphenated UUID string, returned in lower case.

    :raises Invalid: for anything else.
    """
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise _invalid('%s must be a UUID such as 0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47',
                       field)
    return value.lower()


def _status(value, field):
    if value not in image_rules.STATUSES:
        raise _invalid('%s must be one of %s', field, ', '.join(image_rules.STATUSES))
    return value


def _boolean(value, field):
    if not isinstance(value, bool):
        raise _invalid('%s must be true or false', field)
    return value


def _choice(choices):
    def parse(value, field):
        if value not in choices:
            raise _invalid('%s must be one of %s', field, ', '.join(choices))
        return value
    return parse


def _small_count(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise _invalid('%s must be an integer from 0 to %d', field, MAX_INT)
    return value


def tag(value, field='tag'):
    """Check a tag: 1-255 characters, no control characters.

    :raises Invalid: otherwise.
    """
    text(value, field, models.TAG_MAX, nullable=False)
    if not value:
        raise _invalid('%s must not be empty', field)
    return value


def _tags(value, field):
    if not isinstance(value, list):
        raise _invalid('%s must be a list of strings', field)
    tags = list(dict.fromkeys(tag(item, '%s[%d]' % (field, index))
                              for index, item in enumerate(value)))
    if len(tags) > MAX_TAGS:
        raise _invalid('%s has more than %d tags', field, MAX_TAGS)
    return tags


def _size(value, field):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BIGINT:
        raise _invalid('%s must be a non-negative integer or null', field)
    return value


def _hex_digest(length):
    def parse(value, field):
        if value is None:
            return None
        if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
            raise _invalid('%s must be %d hexadecimal digits or null', field, length)
        return value.lower()
    return parse


def _text_of(max_length, nullable):
    return lambda value, field: text(value, field, max_length, nullable)


_format = _text_of(models.FORMAT_MAX, True)
_location = _text_of(models.LOCATION_MAX, False)


def _chunks(value, field):
    if not isinstance(value, list):
        raise _invalid('%s must be a list of {"location", "size", "checksum"}', field)
    if len(value) > MAX_CHUNKS:
        raise _invalid('%s has more than %d entries', field, MAX_CHUNKS)
    chunks = []
    for index, chunk in enumerate(value):
        where = '%s[%d]' % (field, index)
        if not isinstance(chunk, dict):
            raise _invalid('%s must be an object', where)
        unknown = set(chunk) - {'location', 'size', 'checksum'}
        if unknown:
            raise _invalid('%s has unknown field %s', where, _label(sorted(unknown)[0]))
        if 'location' not in chunk:
            raise _invalid('%s needs a location', where)
        chunks.append({'location': _location(chunk['location'], where + '.location'),
                       'size': _size(chunk.get('size'), where + '.size'),
                       'checksum': text(chunk.get('checksum'), where + '.checksum')})
    return chunks


def property_key(key, field='property name'):
    """Check a property name: 1-255 characters, no control characters, and no
    leading or trailing whitespace (MySQL would otherwise treat ``"a "`` as ``"a"``).

    :raises Invalid: otherwise.
    """
    text(key, field, nullable=False)
    if not key or key != key.strip():
        raise _invalid('%s %s must be non-empty without leading or trailing spaces',
                       field, _label(key))
    return key


def _properties(value, field):
    if not isinstance(value, dict):
        raise _invalid('%s must be an object of string values', field)
    properties = {}
    for key, item in value.items():
        property_key(key)
        properties[key] = text(item, '%s[%s]' % (field, _label(key)),
                               models.PROPERTY_VALUE_MAX)
    return properties


_FIELDS = {
    'name': text,
    'status': _status,
    'is_public': _boolean,
    'visibility': _choice(models.VISIBILITIES),
    'protected': _boolean,
    'min_disk': _small_count,
    'min_ram': _small_count,
    'tags': _tags,
    'owner': text,
    'disk_format': _format,
    'container_format': _format,
    'size': _size,
    'checksum': _hex_digest(32),
    'sha256': _hex_digest(64),
    'blake3': _hex_digest(64),
    'detected_format': _format,
    'virtual_size': _size,
    'location': _text_of(models.LOCATION_MAX, True),
    'chunks': _chunks,
    'properties': _properties,
}


def image_body(data, current_id=None):
    """Check the body of a create (``current_id`` None) or update request.

    ``location`` is shorthand for a one-chunk image; given with ``chunks`` it must name
    the first chunk. On update, ``id`` may be sent only unchanged. Property values of
    null mean "remove this property".

    :param data: the decoded JSON body, ``{"image": {...}}``.
    :param current_id: the image id from the URL when updating.
    :returns: a dict of normalised values; ``location`` folded into ``chunks``.
    :raises Invalid: for a bad shape, unknown or read-only fields, or bad values.
    """
    if set(data) != {'image'} or not isinstance(data['image'], dict):
        raise _invalid('the body must be {"image": {...}}')
    values = {}
    for key, value in data['image'].items():
        if key == 'id':
            values['id'] = image_id(value)
            if current_id is not None and values.pop('id') != current_id:
                raise _invalid('id cannot be changed')
        elif key in READ_ONLY_FIELDS:
            raise _invalid('%s is read-only', key)
        elif key in _FIELDS:
            values[key] = _FIELDS[key](value, key)
        else:
            raise _invalid('unknown field %s', _label(key))
    _fold_is_public(values)
    if 'location' in values:
        location = values.pop('location')
        if 'chunks' in values:
            first = values['chunks'][0]['location'] if values['chunks'] else None
            if first != location:
                raise _invalid('location must equal the first chunk\'s location')
        else:
            values['chunks'] = [] if location is None else [
                {'location': location, 'size': values.get('size'), 'checksum': None}]
    if 'status' in values and current_id is None:
        image_rules.check_new_status(values['status'])
    return values


def _fold_is_public(values):
    """Turn the v1 ``is_public`` into ``visibility`` (true: public, false: shared).

    :raises Invalid: when both are given and disagree.
    """
    if 'is_public' not in values:
        return
    is_public = values.pop('is_public')
    if 'visibility' not in values:
        values['visibility'] = 'public' if is_public else models.DEFAULT_VISIBILITY
    elif is_public != (values['visibility'] == 'public'):
        raise _invalid('is_public and visibility disagree')


def query_params(req, allowed, repeatable=()):
    """Decode the query string: UTF-8, each name at most once, names from ``allowed``.

    :param req: the :class:`webob.Request`.
    :param allowed: accepted parameter names; a callable is asked per name instead.
    :param repeatable: names that may come more than once; their values are lists.
    :returns: a dict of names to strings (lists for ``repeatable`` names).
    :raises Invalid: for non-UTF-8 text, repeated or unknown names.
    """
    try:
        items = list(req.GET.items())
    except UnicodeDecodeError:
        raise _invalid('the query string is not valid UTF-8') from None
    params = {}
    for name, value in items:
        if name in repeatable:
            params.setdefault(name, []).append(value)
            continue
        if name in params:
            raise _invalid('query parameter %s is given more than once', _label(name))
        known = allowed(name) if callable(allowed) else name in allowed
        if not known:
            raise _invalid('unknown query parameter %s', _label(name))
        params[name] = value
    return params


def flag(value, field):
    """Parse a true/false query or header value; None (absent) is False.

    :raises Invalid: for anything but true/false (any case).
    """
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered not in ('true', 'false'):
        raise _invalid('%s must be true or false', field)
    return lowered == 'true'


def _count(value, field):
    if not _DIGITS.fullmatch(value) or int(value) > MAX_BIGINT:
        raise _invalid('%s must be a non-negative integer', field)
    return int(value)


def _timestamp(value, field):
    try:
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise _invalid('%s must be an ISO 8601 timestamp such as '
                       '2026-11-25T20:37:12Z', field) from None
    return moment


_FILTERS = {
    'name': _text_of(models.NAME_MAX, False),
    'status': _status,
    'disk_format': _text_of(models.FORMAT_MAX, False),
    'container_format': _text_of(models.FORMAT_MAX, False),
    'is_public': flag,
    'protected': flag,
    'owner': _text_of(models.NAME_MAX, False),
    'size_min': _count,
    'size_max': _count,
    'changes-since': _timestamp,
}


def is_list_param(name):
    """True for a query parameter name that ``GET /images`` understands."""
    return (name in _FILTERS or name in LIST_PARAMS or name in _SCOPE_PARAMS
            or name in REPEATABLE_PARAMS or name.startswith(PROPERTY_FILTER_PREFIX))


_SCOPE_PARAMS = ('visibility', 'member_status')


@dataclasses.dataclass
class ListQuery:
    """A checked list request.

    :ivar filters: column filters, e.g. ``{'status': 'active', 'size_min': 10}``.
    :ivar properties: property filters, ``{name: value}``, all of which must match.
    :ivar sort_key: one of :data:`SORT_KEYS`.
    :ivar sort_dir: ``asc`` or ``desc``.
    :ivar limit: page size, already capped.
    :ivar marker: id of the last image of the previous page, or None.
    :ivar params: the query parameters as given, to build the next page's link
        (lists for repeatable ones).
    :ivar tags: tags every listed image has.
    :ivar visibility: the ``visibility`` filter (or ``all``), None for the default.
    :ivar member_statuses: member statuses under which shared images are listed to
        their members (``member_status``; ``accepted`` by default).
    """

    filters: dict
    properties: dict
    sort_key: str
    sort_dir: str
    limit: int
    marker: str | None
    params: dict
    tags: tuple = ()
    visibility: str | None = None
    member_statuses: tuple = ('accepted',)

    def next_params(self, last_id):
        """Query parameters of the page after the one ending with ``last_id``."""
        params = {name: value for name, value in self.params.items() if name != 'marker'}
        params['marker'] = last_id
        return params


def list_query(params, limit_default, limit_max):
    """Check the query of ``GET /images`` or ``GET /images/detail``.

    :param params: the decoded query, see :func:`query_params` with
        :func:`is_list_param`.
    :param limit_default: page size when ``limit`` is absent.
    :param limit_max: cap of ``limit`` (larger values are lowered to it).
    :returns: a :class:`ListQuery`.
    :raises Invalid: for a bad filter, sort key, direction, limit or marker.
    """
    filters, properties = {}, {}
    for name, value in params.items():
        if name in _FILTERS:
            filters[name] = _FILTERS[name](value, name)
        elif name.startswith(PROPERTY_FILTER_PREFIX):
            key = property_key(name[len(PROPERTY_FILTER_PREFIX):], 'property filter')
            properties[key] = text(value, name, models.PROPERTY_VALUE_MAX, False)
    sort_key = params.get('sort_key', 'created_at')
    if sort_key not in SORT_KEYS:
        raise _invalid('sort_key must be one of %s', ', '.join(SORT_KEYS))
    sort_dir = params.get('sort_dir', 'desc')
    if sort_dir not in SORT_DIRS:
        raise _invalid('sort_dir must be asc or desc')
    limit = limit_default
    if 'limit' in params:
        limit = _count(params['limit'], 'limit')
        if limit < 1:
            raise _invalid('limit must be at least 1')
    marker = image_id(params['marker'], 'marker') if 'marker' in params else None
    tags = tuple(dict.fromkeys(tag(value, 'tag') for value in params.get('tag', ())))
    visibility = None
    if 'visibility' in params:
        visibility = _choice(VISIBILITY_FILTERS)(params['visibility'], 'visibility')
    member_status = _choice(MEMBER_STATUS_FILTERS)(
        params.get('member_status', 'accepted'), 'member_status')
    member_statuses = (models.MEMBER_STATUSES if member_status == 'all'
                       else (member_status,))
    return ListQuery(filters, properties, sort_key, sort_dir, min(limit, limit_max),
                     marker, dict(params), tags, visibility, member_statuses)


def member_id(value, field='member_id'):
    """Check a member (tenant) id: 1-255 characters, no control characters.

    :raises Invalid: otherwise.
    """
    text(value, field, nullable=False)
    if not value or value != value.strip():
        raise _invalid('%s must be non-empty without leading or trailing spaces', field)
    return value


def _object(data, key, shape):
    if not isinstance(data, dict) or set(data) != {key} or not isinstance(data[key],
                                                                          (dict, list)):
        raise _invalid('the body must be %s', shape)
    return data[key]


def memberships_body(data):
    """Check a ``PUT /images/<id>/members`` body.

    :param data: ``{"memberships": [{"member_id": "...", "can_share": false}]}``
        (``can_share`` optional, false by default).
    :returns: ``{member_id: can_share}`` in the given order.
    :raises Invalid: for a bad shape, an unknown field or a repeated member.
    """
    shape = '{"memberships": [{"member_id": "...", "can_share": false}]}'
    items = _object(data, 'memberships', shape)
    if not isinstance(items, list):
        raise _invalid('the body must be %s', shape)
    memberships = {}
    for index, item in enumerate(items):
        where = 'memberships[%d]' % index
        if not isinstance(item, dict) or 'member_id' not in item:
            raise _invalid('%s must be an object with a member_id', where)
        unknown = set(item) - {'member_id', 'can_share'}
        if unknown:
            raise _invalid('%s has unknown field %s', where, _label(sorted(unknown)[0]))
        member = member_id(item['member_id'], where + '.member_id')
        if member in memberships:
            raise _invalid('%s repeats member %s', where, _label(member))
        memberships[member] = _boolean(item.get('can_share', False),
                                       where + '.can_share')
    return memberships


def member_body(data):
    """Check a ``PUT /images/<id>/members/<member>`` body (None: no body).

    :param data: ``{"member": {"can_share": bool}}`` or
        ``{"member": {"status": "accepted"}}``, or None.
    :returns: ``(can_share or None, status or None)``.
    :raises Invalid: for a bad shape, unknown fields, or both fields at once.
    """
    if data is None:
        return None, None
    shape = '{"member": {"can_share": true}} or {"member": {"status": "accepted"}}'
    member = _object(data, 'member', shape)
    if not isinstance(member, dict) or set(member) - {'can_share', 'status'} \
            or len(member) > 1:
        raise _invalid('the body must be %s', shape)
    if 'status' in member:
        return None, _choice(models.MEMBER_STATUSES)(member['status'], 'status')
    if 'can_share' in member:
        return _boolean(member['can_share'], 'can_share'), None
    return None, None
