"""The query of ``GET /v2/images``: filters, paging and sorting, as glance reads them.

========================== =========================================================
parameter                  meaning
========================== =========================================================
name, status, owner,       equality filters on the base property
disk_format,
container_format
size_min, size_max         size bounds (bytes)
visibility                 public, private, shared, community or all (community
                           images are listed only when asked for)
member_status              for shared images: accepted (default), pending, rejected
                           or all
tag                        repeatable; every tag must be on the image
os_hidden                  false (default) lists images; true lists hidden ones, and
                           this service has none
limit, marker              page size, and the id of the last image of the previous
                           page; a full page carries ``next``
sort_key, sort_dir, sort   one sort key (name, status, container_format,
                           disk_format, size, id, created_at, updated_at) and
                           direction (asc, desc; default created_at desc);
                           ``sort=name:asc`` says both
any other name             an extra property filter (``?hw_disk_bus=scsi``)
========================== =========================================================
"""

import dataclasses
import urllib.parse

from glance.api.v2 import schemas, view
from glance.common import exception

SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size', 'id',
             'created_at', 'updated_at')
SORT_DIRS = ('asc', 'desc')
VISIBILITIES = schemas.VISIBILITIES + ('all',)
MEMBER_STATUSES = schemas.MEMBER_STATUSES + ('all',)
#: Filters handed to the registry under their own names.
_REGISTRY_FILTERS = ('name', 'status', 'owner', 'disk_format', 'container_format',
                     'size_min', 'size_max', 'visibility', 'protected')
_PAGING = ('limit', 'marker', 'member_status', 'sort_key', 'sort_dir', 'sort',
           'os_hidden')


def _invalid(reason):
    return exception.Invalid(reason=reason)


@dataclasses.dataclass
class ListRequest:
    """A checked list query: arguments for :meth:`ImageCore.list`.

    :ivar filters: registry filters (``tag`` a list, extra properties under
        ``properties``).
    :ivar empty: True when the answer is known to be empty (``os_hidden=true``,
        ``limit=0``).
    """

    filters: dict
    sort_key: str | None
    sort_dir: str | None
    limit: int | None
    marker: str | None
    member_status: str | None
    empty: bool
    items: list

    def page_links(self, next_marker):
        """``first`` (the query without ``marker``) and, after a full page, ``next``."""
        kept = [(name, value) for name, value in self.items if name != 'marker']
        links = {'first': view.IMAGES_PATH + ('?' + urllib.parse.urlencode(kept)
                                              if kept else '')}
        if next_marker:
            links['next'] = '%s?%s' % (view.IMAGES_PATH, urllib.parse.urlencode(
                kept + [('marker', next_marker)]))
        return links


def _one(params, name):
    values = params.get(name, [])
    if len(values) > 1:
        raise _invalid('query parameter %s is given more than once' % name[:64])
    return values[0] if values else None


def _sorting(params):
    sort = _one(params, 'sort')
    keys, dirs = params.get('sort_key', []), params.get('sort_dir', [])
    if sort is not None:
        if keys or dirs:
            raise _invalid('old and new sorting syntax cannot be combined')
        pairs = [part.partition(':') for part in sort.split(',')]
        keys = [key.strip() for key, _, _ in pairs]
        dirs = [direction.strip() for _, _, direction in pairs if direction.strip()]
    if len(keys) > 1 or len(dirs) > 1:
        raise _invalid('this service sorts by one key (and one direction)')
    key = keys[0] if keys else None
    direction = dirs[0] if dirs else None
    if key is not None and key not in SORT_KEYS:
        raise _invalid('invalid sort key %s; it must be one of %s'
                       % (key[:64], ', '.join(SORT_KEYS)))
    if direction is not None and direction not in SORT_DIRS:
        raise _invalid('invalid sort direction %s; it must be asc or desc'
                       % direction[:64])
    return key, direction


def _limit(value):
    if value is None:
        return None
    if not value.isdigit():
        raise _invalid('limit param must be a non-negative integer')
    return int(value)


def parse(req):
    """Check the query string of ``GET /v2/images``.

    :returns: a :class:`ListRequest`.
    :raises Invalid: for a malformed value, an unknown sort key or direction, a
        repeated parameter (``tag`` aside), ``changes-since`` (gone in v2).
    """
    try:
        items = list(req.GET.items())
    except UnicodeDecodeError:
        raise _invalid('the query string is not percent-encoded UTF-8') from None
    params = {}
    for name, value in items:
        params.setdefault(name, []).append(value)
    if 'changes-since' in params:
        raise _invalid('the "changes-since" filter is no longer available on v2')
    visibility = _one(params, 'visibility')
    if visibility is not None and visibility not in VISIBILITIES:
        raise _invalid('invalid visibility value: %s' % visibility[:64])
    member_status = _one(params, 'member_status')
    if member_status is not None and member_status not in MEMBER_STATUSES:
        raise _invalid('invalid member_status: %s' % member_status[:64])
    hidden = (_one(params, 'os_hidden') or 'false').lower()
    if hidden not in ('true', 'false'):
        raise _invalid("invalid value for os_hidden; it must be 'true' or 'false'")
    filters = {}
    for name, values in params.items():
        if name == 'tag':
            filters['tag'] = [tag.strip() for tag in values]
        elif name in _REGISTRY_FILTERS:
            filters[name] = _one(params, name)
        elif name not in _PAGING:
            filters.setdefault('properties', {})[name] = _one(params, name)
    sort_key, sort_dir = _sorting(params)
    limit = _limit(_one(params, 'limit'))
    return ListRequest(filters, sort_key, sort_dir, limit, _one(params, 'marker'),
                       member_status, hidden == 'true' or limit == 0, items)
