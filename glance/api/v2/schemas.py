"""The JSON schema documents of the v2 API (``/v2/schemas/...``) and the value rules
they state.

python-glanceclient builds its image model from ``GET /v2/schemas/image`` (warlock)
and validates every image it creates against it; it also decides from the schema
which JSON-patch operations to send (a base property it had no value for becomes a
``replace``, anything else an ``add``). The documents therefore describe exactly
the image view of :mod:`glance.api.v2.view`: extra properties are strings
(``additionalProperties``), the read-only fields say so.

:func:`check_value` applies the same rules to values a client sends (create and
PATCH), so a request the schema forbids is a 400 naming the field.
"""

import copy

from glance.common import exception, wsgi

_UUID_PATTERN = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
                 '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')
VISIBILITIES = ('public', 'private', 'shared', 'community')
STATUSES = ('queued', 'saving', 'active', 'killed', 'deleted', 'pending_delete',
            'uploading')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected')
#: Longest string of a name, owner, tag or property key.
MAX_TEXT = 255


def _string(description, nullable=True, max_length=MAX_TEXT, read_only=False):
    spec = {'type': ['null', 'string'] if nullable else 'string',
            'description': description}
    if max_length:
        spec['maxLength'] = max_length
    if read_only:
        spec['readOnly'] = True
    return spec


def _integer(description, nullable=True, read_only=False):
    spec = {'type': ['null', 'integer'] if nullable else 'integer',
            'description': description}
    if read_only:
        spec['readOnly'] = True
    return spec


#: The image's base properties (``is_base`` is glanceclient's default: true).
_IMAGE_PROPERTIES = {
    'id': {'type': 'string', 'description': 'An identifier for the image',
           'pattern': _UUID_PATTERN},
    'name': _string('Descriptive name for the image'),
    'status': {'type': 'string', 'readOnly': True, 'description': 'Status of the image',
               'enum': list(STATUSES)},
    'visibility': {'type': 'string', 'description': 'Scope of image accessibility',
                   'enum': list(VISIBILITIES)},
    'protected': {'type': 'boolean',
                  'description': 'If true, image will not be deletable.'},
    'os_hidden': {'type': 'boolean', 'readOnly': True,
                  'description': 'Always false: this service has no hidden images.'},
    'checksum': _string('md5 hash of image contents.', max_length=32, read_only=True),
    'os_hash_algo': _string('Algorithm to calculate the os_hash_value', max_length=64,
                            read_only=True),
    'os_hash_value': _string('Hexdigest of the image contents using the algorithm '
                             'specified by the os_hash_algo', max_length=128,
                             read_only=True),
    'owner': _string('Owner of the image'),
    'size': _integer('Size of image file in bytes', read_only=True),
    'virtual_size': _integer('Virtual size of image in bytes', read_only=True),
    'container_format': _string('Format of the container', max_length=None),
    'disk_format': _string('Format of the disk', max_length=None),
    'created_at': _string('Date and time of image registration', nullable=False,
                          max_length=None, read_only=True),
    'updated_at': _string('Date and time of the last image modification',
                          nullable=False, max_length=None, read_only=True),
    'tags': {'type': 'array', 'description': 'List of strings related to the image',
             'items': {'type': 'string', 'maxLength': MAX_TEXT}},
    'min_ram': {'type': 'integer', 'minimum': 0,
                'description': 'Amount of ram (in MB) required to boot image.'},
    'min_disk': {'type': 'integer', 'minimum': 0,
                 'description': 'Amount of disk space (in GB) required to boot image.'},
    'self': _string('An image self url', nullable=False, max_length=None,
                    read_only=True),
    'file': _string('An image file url', nullable=False, max_length=None,
                    read_only=True),
    'schema': _string('An image schema url', nullable=False, max_length=None,
                      read_only=True),
}

#: Base properties a client may never set (403, as glance answers).
READ_ONLY = tuple(sorted(name for name, spec in _IMAGE_PROPERTIES.items()
                         if spec.get('readOnly'))) + ('id', 'direct_url', 'locations')
#: Names that are neither base nor extra properties (403 too).
RESERVED = ('location', 'deleted', 'deleted_at')
#: Every base property name; anything else is an extra property.
BASE = frozenset(_IMAGE_PROPERTIES)

_MEMBER_PROPERTIES = {
    'image_id': {'type': 'string', 'description': 'An identifier for the image',
                 'pattern': _UUID_PATTERN},
    'member_id': {'type': 'string',
                  'description': 'An identifier for the image member (tenantId)'},
    'created_at': {'type': 'string',
                   'description': 'Date and time of image member creation'},
    'updated_at': {'type': 'string',
                   'description': 'Date and time of last modification of image member'},
    'status': {'type': 'string', 'description': 'The status of this image member',
               'enum': list(MEMBER_STATUSES)},
    'schema': {'type': 'string', 'readOnly': True},
}


def image_schema(disk_formats=None):
    """The ``image`` schema document.

    :param disk_formats: the accepted ``disk_format`` values (``disk_formats`` of
        :mod:`glance.api.inspection`); listed as the property's ``enum`` when given.
    """
    properties = copy.deepcopy(_IMAGE_PROPERTIES)
    if disk_formats:
        properties['disk_format']['enum'] = [None] + list(disk_formats)
    return {'name': 'image', 'properties': properties,
            'additionalProperties': {'type': 'string'},
            'links': [{'rel': 'self', 'href': '{self}'},
                      {'rel': 'enclosure', 'href': '{file}'},
                      {'rel': 'describedby', 'href': '{schema}'}]}


def _collection(name, item):
    return {'name': name,
            'properties': {name: {'type': 'array', 'items': item},
                           'first': {'type': 'string'}, 'next': {'type': 'string'},
                           'schema': {'type': 'string'}},
            'links': [{'rel': 'first', 'href': '{first}'},
                      {'rel': 'next', 'href': '{next}'},
                      {'rel': 'describedby', 'href': '{schema}'}]}


def images_schema(disk_formats=None):
    """The ``images`` collection schema document."""
    return _collection('images', image_schema(disk_formats))


def member_schema():
    """The ``member`` schema document."""
    return {'name': 'member', 'properties': copy.deepcopy(_MEMBER_PROPERTIES),
            'additionalProperties': False}


def members_schema():
    """The ``members`` collection schema document."""
    return _collection('members', member_schema())


def _invalid(name, rule):
    return exception.Invalid(reason='%s %s' % (name, rule))


def _text(name, value, nullable=True):
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _invalid(name, 'must be a string%s' % (' or null' if nullable else ''))
    if len(value) > MAX_TEXT:
        raise _invalid(name, 'is longer than %d characters' % MAX_TEXT)
    return value


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(name, 'must be a non-negative integer')
    return value


def _tags(name, value):
    if not isinstance(value, list):
        raise _invalid(name, 'must be a list of strings')
    return [_text('tag', tag, nullable=False) for tag in value]


def _visibility(name, value):
    if value not in VISIBILITIES:
        raise _invalid(name, 'must be one of %s' % ', '.join(VISIBILITIES))
    return value


def _boolean(name, value):
    if not isinstance(value, bool):
        raise _invalid(name, 'must be true or false')
    return value


_CHECKS = {
    'name': _text,
    'owner': _text,
    'disk_format': _text,
    'container_format': _text,
    'visibility': _visibility,
    'protected': _boolean,
    'min_disk': _count,
    'min_ram': _count,
    'tags': _tags,
}


def check_name(name):
    """Refuse a property name a client may not set.

    :raises Forbidden: for a read-only or reserved name.
    :raises Invalid: for an empty or too long extra property name.
    """
    if name in READ_ONLY:
        raise exception.Forbidden("Attribute '%s' is read-only." % name)
    if name in RESERVED:
        raise exception.Forbidden("Attribute '%s' is reserved." % name)
    if name not in BASE and not 0 < len(name) <= MAX_TEXT:
        raise exception.Invalid(reason='property names have 1 to %d characters'
                                       % MAX_TEXT)


def check_value(name, value):
    """Check a value a client sends for property ``name`` (see :func:`check_name`).

    :returns: the value (tags as a list of strings).
    :raises Invalid: when the schema does not allow it: extra properties are strings.
    """
    check = _CHECKS.get(name)
    if check is not None:
        return check(name, value)
    if not isinstance(value, str):
        raise _invalid(name, 'must be a string (extra properties are strings)')
    return value


class SchemasController(wsgi.Controller):
    """``GET /v2/schemas/<name>``: the documents above, built once.

    :param disk_formats: the accepted ``disk_format`` values.
    """

    def __init__(self, disk_formats=None):
        self.documents = {'image': image_schema(disk_formats),
                          'images': images_schema(disk_formats),
                          'member': member_schema(), 'members': members_schema()}

    def show(self, req, name):
        """The schema ``name`` (the route allows only the four names)."""
        return self.documents[name]
