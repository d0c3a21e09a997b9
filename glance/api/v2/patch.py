"""JSON-patch updates of an image (``PATCH /v2/images/<id>``), as glance reads them.

Two media types are accepted: ``application/openstack-images-v2.1-json-patch``
(RFC 6902 style, ``{"op": "replace", "path": "/name", "value": ...}``) and the older
``application/openstack-images-v2.0-json-patch`` (``{"replace": "/name", "value":
...}``). A path names one property (``/name``, ``/tags``, ``/hw_disk_bus``; ``~1`` and
``~0`` escape ``/`` and ``~``). The operations, applied in order:

=========== ============================== ==================== ====================
op          base property                  existing extra       missing extra
=========== ============================== ==================== ====================
add         set (v2.0: 409)                set (v2.0: 409)      created
replace     set                            set                  409
remove      403: may not be removed        removed              409
=========== ============================== ==================== ====================

Read-only properties (``status``, ``size``, ``checksum``, ``os_hash_*``, ``id``...)
and reserved names are refused with 403 before anything is applied; a value the
schema does not allow is a 400 (:func:`glance.api.v2.schemas.check_value`).
:func:`apply` turns the operations into one registry update: the changed base fields
and a ``properties`` dict in which a removed property is ``None``.
"""

import dataclasses
import re

from glance.api.v2 import schemas
from glance.common import exception

#: Media type -> the draft of the operation objects (10: op/path, 4: op as the key).
MEDIA_TYPES = {'application/openstack-images-v2.1-json-patch': 10,
               'application/openstack-images-v2.0-json-patch': 4}
OPERATIONS = ('add', 'remove', 'replace')
_BAD_ESCAPE = re.compile('~(?![01])')


class UnsupportedPatchType(exception.UnsupportedMediaType):
    """A PATCH body in a media type other than the JSON-patch ones (415)."""

    def __init__(self, content_type):
        super().__init__('Image PATCH expects Content-Type one of: %s (got %s)'
                         % (', '.join(sorted(MEDIA_TYPES)), content_type or 'none'))
        self.headers = {'Accept-Patch': ', '.join(sorted(MEDIA_TYPES))}


@dataclasses.dataclass(frozen=True)
class Change:
    """One checked operation: ``op``, the property ``name`` and its ``value``."""

    op: str
    name: str
    value: object = None
    #: 4 for the v2.0 media type, whose ``add`` of an existing property is a 409.
    draft: int = 10


def draft_of(content_type):
    """The JSON-patch draft of a request's media type.

    :raises UnsupportedPatchType: for any other media type.
    """
    try:
        return MEDIA_TYPES[content_type]
    except KeyError:
        raise UnsupportedPatchType(content_type) from None


def _invalid(reason):
    return exception.Invalid(reason=reason)


def _name(pointer):
    """The one property a JSON pointer names."""
    if not isinstance(pointer, str) or not pointer.startswith('/'):
        raise _invalid('a path is a JSON pointer starting with "/", such as /name')
    if _BAD_ESCAPE.search(pointer):
        raise _invalid('path %s has a "~" that is not ~0 or ~1' % pointer[:300])
    parts = pointer[1:].split('/')
    if len(parts) != 1 or not parts[0].strip():
        raise _invalid('invalid JSON pointer for this resource: %s (one property '
                       'name, such as /name)' % pointer[:300])
    return parts[0].replace('~1', '/').replace('~0', '~').strip()


def _op_and_path(raw, draft):
    if draft == 10:
        op = raw.get('op')
        if op not in OPERATIONS:
            raise _invalid('op must be one of %s' % ', '.join(OPERATIONS))
        if 'path' not in raw:
            raise _invalid('an operation needs a path')
        return op, raw['path']
    found = [op for op in OPERATIONS if op in raw]
    if len(found) != 1:
        raise _invalid('an operation object has exactly one member named add, '
                       'remove or replace')
    return found[0], raw[found[0]]


def parse(body, draft):
    """Check a decoded PATCH body (a JSON array of operation objects).

    :returns: a list of :class:`Change`.
    :raises Invalid: for a malformed operation or a value the schema refuses.
    :raises Forbidden: for a read-only or reserved property.
    """
    if not isinstance(body, list):
        raise _invalid('the body must be a JSON array of operation objects')
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise _invalid('operations must be JSON objects')
        op, pointer = _op_and_path(raw, draft)
        name = _name(pointer)
        schemas.check_name(name)
        if op == 'remove':
            changes.append(Change(op, name, draft=draft))
            continue
        if 'value' not in raw:
            raise _invalid('operation "%s" needs a member named "value"' % op)
        changes.append(Change(op, name, schemas.check_value(name, raw['value']), draft))
    return changes


def apply(image, changes):
    """Apply checked changes to an image's v2 view.

    :param image: the image as :func:`glance.api.v2.view.image` shows it.
    :param changes: from :func:`parse`.
    :returns: the registry update: changed base fields, and ``properties`` (changed
        extra properties, ``None`` for removed ones) when any changed; empty when
        nothing changes.
    :raises Forbidden: for the removal of a base property.
    :raises Conflict: for replacing or removing a missing extra property, or (v2.0
        media type) adding an existing one.
    """
    state = dict(image)
    for change in changes:
        name = change.name
        base = name in schemas.BASE
        present = base or name in state
        if change.op == 'remove':
            if base:
                raise exception.Forbidden('Property %s may not be removed.' % name)
            if not present:
                raise exception.Conflict('Property %s does not exist.' % name)
            del state[name]
        elif change.op == 'replace' and not present:
            raise exception.Conflict('Property %s does not exist.' % name)
        elif change.op == 'add' and change.draft == 4 and present:
            raise exception.Conflict('Property %s already present.' % name)
        else:
            state[name] = change.value
    update = {name: state[name] for name in schemas.BASE
              if name in state and state[name] != image.get(name)}
    properties = {name: value for name, value in state.items()
                  if name not in schemas.BASE and image.get(name) != value}
    properties.update({name: None for name in image
                       if name not in schemas.BASE and name not in state})
    if properties:
        update['properties'] = properties
    return update
