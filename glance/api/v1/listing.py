"""The query of ``GET /v1/images`` and ``GET /v1/images/detail``.

=================== =========================================================
parameter           meaning
=================== =========================================================
name, status,       images whose field equals the value
disk_format,
container_format
size_min, size_max  images of at least / at most that many bytes
is_public           ``true``/``false``; ``None`` (python-glanceclient's "any
                    visibility", sent with ``--owner`` or ``--all-tenants``) is
                    no filter
protected           ``true``/``false``
changes-since       images changed at or after an ISO 8601 time
property-<key>      images whose property ``key`` has the value
sort_key, sort_dir  order (``created_at`` ``desc`` by default)
limit, marker       page size (the registry caps it) and the id of the last
                    image of the previous page
=================== =========================================================

Values are checked by the registry (a bad one is a 400 naming it); an unknown
parameter, or one given twice, is a 400 here.
"""

import dataclasses

from glance.common import exception

FILTERS = ('name', 'status', 'container_format', 'disk_format', 'size_min', 'size_max',
           'is_public', 'protected', 'changes-since')
PAGING = ('sort_key', 'sort_dir', 'limit', 'marker')
PROPERTY_PREFIX = 'property-'
_ANY = 'none'


@dataclasses.dataclass
class ListQuery:
    """A parsed v1 list query: the image core's ``list`` arguments."""

    filters: dict
    sort_key: str | None = None
    sort_dir: str | None = None
    limit: str | None = None
    marker: str | None = None


def parse(req):
    """Parse the query string of a v1 list request.

    :returns: a :class:`ListQuery`.
    :raises Invalid: for an unknown or repeated parameter, or a query string that
        is not UTF-8.
    """
    try:
        items = list(req.GET.items())
    except UnicodeDecodeError:
        raise exception.Invalid(reason='the query string is not percent-encoded '
                                       'UTF-8') from None
    filters, properties, paging, seen = {}, {}, {}, set()
    for name, value in items:
        if name in seen:
            raise exception.Invalid(reason='query parameter %s is given more than once'
                                    % name[:64])
        seen.add(name)
        if name.startswith(PROPERTY_PREFIX):
            properties[name[len(PROPERTY_PREFIX):]] = value
        elif name == 'is_public' and value.strip().lower() == _ANY:
            continue
        elif name in FILTERS:
            filters[name] = value
        elif name in PAGING:
            paging[name] = value
        else:
            raise exception.Invalid(reason='unknown query parameter %s; known: %s, '
                                           'property-<key>'
                                    % (name[:64], ', '.join(FILTERS + PAGING)))
    if properties:
        filters['properties'] = properties
    return ListQuery(filters, **paging)
