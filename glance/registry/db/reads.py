"""The registry's read statements (image, list page, marker, chunks), built once.

Building a SQLAlchemy statement costs more than the database takes to run it: a
detail page's statement took ~1 ms of CPU to build per request, against 0.1-0.3 ms
of execution (``bench/README.md``). So every statement here is built once per
*shape*, the inputs that change its SQL text (dialect, brief or detail, sort key and
direction, which filters are present, the caller's kind of visibility, a marker), with
every value a bound parameter, and cached. A request picks its shape, fills in
:class:`ListPlan`'s parameters and executes.

Lists use keyset pagination: the page after a marker is "rows ordered after the
marker's (sort key, id)", a range the indexes answer directly, however deep the page.
With a property filter the page is read from the property index ordered by the sort
key (see :mod:`glance.registry.db.models`): the database reads the page's rows in
order and stops, whatever the number of matching images.

Booleans are compared with "=", never "IS": MySQL and PostgreSQL can seek an index on
"deleted = false" but only filter row by row on "deleted IS false".
"""

import dataclasses
import functools
import operator

import sqlalchemy as sa

from glance.registry.db import models

_IMAGES = models.Image.__table__
_PROPERTIES = models.ImageProperty.__table__
_TAGS = models.ImageTag.__table__
_MEMBERS = models.ImageMember.__table__
_CHUNKS = models.ImageChunk.__table__
# The property row a filtered list is driven by, and the aliases of the correlated
# subqueries that read each image's properties and tags.
_DRIVER = _PROPERTIES.alias('driver')
_PROPERTY_ROWS = _PROPERTIES.alias('props')
_TAG_ROWS = _TAGS.alias('tags')

#: Filters compared with "=" on the image column of the same name.
EQUALITY_FILTERS = ('name', 'status', 'disk_format', 'container_format', 'owner',
                    'protected')
#: Columns of a brief record (GET /images); a detail record has every column.
BRIEF_COLUMNS = ('id', 'name', 'status', 'visibility', 'disk_format',
                 'container_format', 'size', 'checksum')
#: Filters comparing an image column with a bound: ``{filter: (column, operator)}``.
RANGE_FILTERS = {'size_min': ('size', operator.ge), 'size_max': ('size', operator.le),
                 'changes-since': ('updated_at', operator.ge)}

# Each database's aggregates building a JSON object from (key, value) rows and a
# JSON array from values.
_JSON_OBJECT_AGG = {'sqlite': 'json_group_object', 'postgresql': 'json_object_agg',
                    'mysql': 'json_objectagg', 'mariadb': 'json_objectagg'}
_JSON_ARRAY_AGG = {'sqlite': 'json_group_array', 'postgresql': 'json_agg',
                   'mysql': 'json_arrayagg', 'mariadb': 'json_arrayagg'}

_CACHE_SIZE = 512


def memberships(tenant, statuses=None):
    """``SELECT image_id`` of the live memberships of ``tenant``.

    :param tenant: a value or a bound parameter.
    :param statuses: member statuses to keep (a list or an expanding bound
        parameter), or None for any.
    """
    conditions = [_MEMBERS.c.member_id == tenant, _MEMBERS.c.deleted == sa.false()]
    if statuses is not None:
        conditions.append(_MEMBERS.c.status.in_(statuses))
    return sa.select(_MEMBERS.c.image_id).where(*conditions)


@functools.cache
def membership_statement():
    """Is ``:tenant`` a live member of ``:image_id`` (any status)? One row if so."""
    return memberships(sa.bindparam('tenant')).where(
        _MEMBERS.c.image_id == sa.bindparam('image_id'))


def _properties_column(dialect_name):
    """A column holding each image's properties as one JSON object (text).

    A correlated subquery: the database evaluates it only for the rows it returns,
    so a page reads its properties in the same statement, one row per image.
    """
    aggregate = getattr(sa.func, _JSON_OBJECT_AGG[dialect_name])(
        _PROPERTY_ROWS.c.name, _PROPERTY_ROWS.c.value)
    return sa.select(sa.cast(aggregate, sa.Text)).where(
        _PROPERTY_ROWS.c.image_id == _IMAGES.c.id).scalar_subquery().label(
        'properties_json')


def _tags_column(dialect_name):
    """A column holding each image's tags as one JSON array (text), like
    :func:`_properties_column`."""
    aggregate = getattr(sa.func, _JSON_ARRAY_AGG[dialect_name])(_TAG_ROWS.c.value)
    return sa.select(sa.cast(aggregate, sa.Text)).where(
        _TAG_ROWS.c.image_id == _IMAGES.c.id).scalar_subquery().label('tags_json')


def _detail_columns(dialect_name):
    return [*_IMAGES.c, _properties_column(dialect_name), _tags_column(dialect_name)]


@functools.cache
def image_statement(dialect_name):
    """One image (``:image_id``) with every column, its properties and tags."""
    return sa.select(*_detail_columns(dialect_name)).where(
        _IMAGES.c.id == sa.bindparam('image_id'))


@functools.cache
def chunks_statement():
    """The chunks of the images ``:ids`` (expanding), in image then chunk order."""
    return (sa.select(_CHUNKS.c.image_id, _CHUNKS.c.location, _CHUNKS.c.size,
                      _CHUNKS.c.checksum)
            .where(_CHUNKS.c.image_id.in_(sa.bindparam('ids', expanding=True)))
            .order_by(_CHUNKS.c.image_id, _CHUNKS.c.position))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def marker_statement(sort_key):
    """The sort value, owner and visibility of the marker image ``:marker``."""
    return sa.select(_IMAGES.c[sort_key], _IMAGES.c.owner, _IMAGES.c.visibility,
                     sa.false().label('deleted')).where(
        _IMAGES.c.id == sa.bindparam('marker'))


def _property_condition(table, index, long_value, dialect_name):
    """Conditions on ``table`` (the property table or an alias) for the
    ``index``-th property filter: ``:pname_<i> = :pvalue_<i>``.

    MySQL seeks its prefix index on ``value = :v`` directly. PostgreSQL and SQLite
    seek their expression index only on the very expression it holds (integers
    written into the SQL, not bound), and for a value shorter than the prefix that
    comparison alone decides; only longer values (``long_value``) need the full
    comparison as well. (One condition instead of two also keeps PostgreSQL's row
    estimate honest.)
    """
    name = sa.bindparam('pname_%d' % index)
    value = sa.bindparam('pvalue_%d' % index)
    if dialect_name in ('mysql', 'mariadb'):
        return [table.c.name == name, table.c.value == value]
    prefix = models.PROPERTY_VALUE_PREFIX
    matches = [table.c.name == name,
               sa.func.substr(table.c.value, sa.literal_column('1'),
                              sa.literal_column(str(prefix)))
               == sa.bindparam('pprefix_%d' % index)]
    if long_value:
        matches.append(table.c.value == value)
    return matches


def _visible(shape):
    """SQL condition of the images a list shows the caller (None: no condition).

    Callers (see :func:`plan`): ``every`` or ``every_tenantless`` (admins: the
    default list hides other tenants' community images), ``anonymous``, ``tenant``.
    """
    column, owner = _IMAGES.c.visibility, _IMAGES.c.owner
    if shape.narrowed and shape.dialect_name == 'sqlite':
        # SQLite would rather OR the visibility and owner indexes (every public
        # image) than look up the few narrowed ids; see _sqlite_no_index().
        column, owner = (_sqlite_no_index(column), _sqlite_no_index(owner))
    visibility = shape.visibility
    if shape.caller.startswith('every'):
        if visibility == 'all':
            return None
        if visibility is None:
            return sa.or_(column != 'community', owner.is_(None)
                          if shape.caller == 'every_tenantless'
                          else owner == sa.bindparam('tenant'))
        return column == visibility
    if visibility in ('public', 'community'):
        return column == visibility
    everyone = [column == 'public'] + ([column == 'community']
                                       if visibility == 'all' else [])
    if shape.caller == 'anonymous':
        return sa.or_(*everyone) if visibility in (None, 'all') else sa.false()
    own = owner == sa.bindparam('tenant')
    statuses = (sa.bindparam('statuses', expanding=True) if shape.member_statuses
                else None)
    member_of = sa.and_(column == 'shared', _IMAGES.c.id.in_(
        memberships(sa.bindparam('tenant'), statuses)))
    if visibility == 'private':
        return sa.and_(column == 'private', own)
    if visibility == 'shared':
        return sa.and_(column == 'shared', sa.or_(own, member_of))
    return sa.or_(*everyone, own, member_of)


def _after_marker(column, id_column, descending, nulls_high, nullable, value_is_null):
    """Rows strictly after ``(:marker_value, :marker)`` in ``ORDER BY column, id``.

    ``column`` is None when the list is sorted by id alone; ``value_is_null`` tells a
    marker whose sort value is NULL (a ``nullable`` column only). Databases disagree on
    where NULLs sort (PostgreSQL: above every value; MySQL and SQLite: below), so the
    condition follows the database's own order, which is the order its indexes hold.
    """
    def later(left, right):
        return left < right if descending else left > right

    tie = later(id_column, sa.bindparam('marker'))
    if column is None:
        return tie
    if nullable and value_is_null:
        null_ties = sa.and_(column.is_(None), tie)
        if nulls_high != descending:
            return null_ties
        return sa.or_(null_ties, column.is_not(None))
    value = sa.bindparam('marker_value')
    condition = sa.or_(later(column, value), sa.and_(column == value, tie))
    if nullable and nulls_high != descending:
        return sa.or_(condition, column.is_(None))
    return condition


@dataclasses.dataclass(frozen=True)
class ListShape:
    """Everything that changes the SQL text of a list page (the cache key).

    :ivar filters: names of the equality and range filters present, in a fixed order.
    :ivar is_public: the ``is_public`` filter's value, or None.
    :ivar tags: number of tag filters.
    :ivar properties: per property filter, whether its value is longer than the
        indexed prefix.
    :ivar caller: ``every`` (sees every image; ``every_tenantless`` without a
        tenant), ``anonymous`` or ``tenant``.
    :ivar member_statuses: whether member statuses narrow the shared images.
    """

    dialect_name: str
    detail: bool
    sort_key: str
    descending: bool
    filters: tuple
    is_public: bool | None
    tags: int
    properties: tuple
    caller: str
    visibility: str | None
    member_statuses: bool
    marker: bool
    marker_is_null: bool
    narrowed: bool


@dataclasses.dataclass(frozen=True)
class ListPlan:
    """One list request made ready to run: its shape and bound values.

    :ivar marker_params: parameters of :func:`marker_statement` (None: no marker).
    """

    shape: ListShape
    params: dict
    marker_params: dict | None


def plan(dialect_name, context, query, detail, narrowed=False):
    """The shape and parameters of a list page, before the marker's value is known.

    :param context: the caller's request context.
    :param query: a :class:`glance.registry.validation.ListQuery`.
    :param narrowed: the list is narrowed to some ids (see :func:`page_statement`).
    """
    filters = query.filters
    params = {'limit': query.limit + 1}
    present = []
    for name in EQUALITY_FILTERS + tuple(RANGE_FILTERS):
        if name in filters:
            present.append(name)
            params['f_' + name] = filters[name]
    for index, tag in enumerate(query.tags):
        params['tag_%d' % index] = tag
    long_values = []
    for index, (name, value) in enumerate(query.properties.items()):
        prefix = models.PROPERTY_VALUE_PREFIX
        params.update({'pname_%d' % index: name, 'pvalue_%d' % index: value,
                       'pprefix_%d' % index: value[:prefix]})
        long_values.append(len(value) >= prefix)
    if context.sees_every_image:
        caller = 'every' if context.tenant is not None else 'every_tenantless'
    else:
        caller = 'tenant' if context.tenant is not None else 'anonymous'
    params['tenant'] = context.tenant
    if query.member_statuses is not None:
        params['statuses'] = list(query.member_statuses)
    shape = ListShape(
        dialect_name=dialect_name, detail=detail, sort_key=query.sort_key,
        descending=query.sort_dir == 'desc', filters=tuple(present),
        is_public=filters.get('is_public'), tags=len(query.tags),
        properties=tuple(long_values), caller=caller, visibility=query.visibility,
        member_statuses=query.member_statuses is not None,
        marker=query.marker is not None, marker_is_null=False, narrowed=narrowed)
    marker_params = None
    if query.marker is not None:
        params['marker'] = query.marker
        marker_params = {'marker': query.marker}
    return ListPlan(shape, params, marker_params)


def with_marker_value(list_plan, value):
    """The plan with the marker's sort value filled in (its shape may change)."""
    params = dict(list_plan.params)
    if value is None:
        params.pop('marker_value', None)
    else:
        params['marker_value'] = value
    return ListPlan(dataclasses.replace(list_plan.shape, marker_is_null=value is None),
                    params, list_plan.marker_params)


def _filtered(statement, shape):
    for name in shape.filters:
        column, compare = RANGE_FILTERS.get(name, (name, operator.eq))
        statement = statement.where(compare(_IMAGES.c[column], sa.bindparam('f_' + name)))
    if shape.is_public is not None:
        public = _IMAGES.c.visibility == 'public'
        statement = statement.where(public if shape.is_public else sa.not_(public))
    for index in range(shape.tags):
        statement = statement.where(_IMAGES.c.id.in_(
            sa.select(_TAGS.c.image_id).where(
                _TAGS.c.value == sa.bindparam('tag_%d' % index))))
    for index, long_value in enumerate(shape.properties):
        if index == 0:
            continue    # the driving property row (see page_statement)
        statement = statement.where(_IMAGES.c.id.in_(
            sa.select(_PROPERTIES.c.image_id).where(*_property_condition(
                _PROPERTIES, index, long_value, shape.dialect_name))))
    return statement


def _sqlite_no_index(column):
    """``+images.<column>``: SQLite uses no index for a term so written (and has
    no statistics to know better until ANALYZE runs)."""
    return sa.literal_column('+%s.%s' % (column.table.name, column.name),
                             type_=column.type)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def page_statement(shape):
    """The statement of one list page of ``shape`` (parameters: :func:`plan`).

    A narrowed shape still needs its ids: ``statement.where(images.c.id.in_(ids))``.
    """
    dialect_name = shape.dialect_name
    columns = (_detail_columns(dialect_name) if shape.detail
               else [_IMAGES.c[name] for name in BRIEF_COLUMNS])
    sort_column = None if shape.sort_key == 'id' else _IMAGES.c[shape.sort_key]
    if shape.properties:
        statement = sa.select(*columns).select_from(
            _DRIVER.join(_IMAGES, _IMAGES.c.id == _DRIVER.c.image_id)).where(
            *_property_condition(_DRIVER, 0, shape.properties[0], dialect_name))
        order = ([_DRIVER.c[models.SORT_COPIES[shape.sort_key]]]
                 if sort_column is not None else [])
        order.append(_DRIVER.c.image_id)
        # MariaDB may otherwise walk (image_id, name) for a page sorted by id, which
        # costs O(matching images) when the matches come late in id order.
        for dialect in ('mysql', 'mariadb'):
            statement = statement.with_hint(
                _DRIVER, 'FORCE INDEX (%s)' % models.property_sort_index(shape.sort_key),
                dialect)
    else:
        statement = sa.select(*columns)
        order = [sort_column] if sort_column is not None else []
        order.append(_IMAGES.c.id)
    not_deleted = _IMAGES.c.deleted == sa.false()
    if shape.narrowed and dialect_name == 'sqlite':
        # SQLite (no statistics) would walk an index on "deleted" rather than look up
        # the few ids.
        not_deleted = _sqlite_no_index(_IMAGES.c.deleted) == sa.false()
    statement = _filtered(statement.where(not_deleted), shape)
    visible = _visible(shape)
    if visible is not None:
        statement = statement.where(visible)
    if shape.marker:
        statement = statement.where(_after_marker(
            order[0] if len(order) == 2 else None, order[-1], shape.descending,
            nulls_high=dialect_name == 'postgresql',
            nullable=sort_column is not None and sort_column.nullable,
            value_is_null=shape.marker_is_null))
    return statement.order_by(
        *[column.desc() if shape.descending else column for column in order]).limit(
        sa.bindparam('limit'))
