"""Queries of the registry: get, list, create, update and soft-delete images; tags.

Every function takes a :class:`glance.registry.db.session.Database` and runs in one
transaction. Single images come back as detached
:class:`~glance.registry.db.models.Image` objects whose chunks and properties are
already loaded; pages of a list come back as lighter records read with SQLAlchemy Core
(see :func:`image_list`), which skips the ORM's per-object bookkeeping. Visibility and
ownership rules of the caller's :class:`~glance.common.context.RequestContext` are
applied here, inside the transaction that reads (and, for updates, locks) the row.
Values arrive checked and normalised by :mod:`glance.registry.validation`.

Lists use keyset pagination: the page after a marker is "rows ordered after the
marker's (sort key, id)", a range the indexes answer directly, however deep the page.
"""

import json
import types
import uuid

import sqlalchemy as sa
from sqlalchemy import exc, orm

from glance.common import exception
from glance.registry import image_rules
from glance.registry.db import models
from glance.registry.db.models import (Image, ImageChunk, ImageMember, ImageProperty,
                                      ImageTag)

_EQUALITY_FILTERS = ('name', 'status', 'disk_format', 'container_format', 'owner',
                     'protected')
_WITH_CHILDREN = (orm.selectinload(Image.chunks), orm.selectinload(Image.properties),
                  orm.selectinload(Image.tags))
# Columns of a brief record (GET /images); a detail page reads every column.
# The property row a filtered list is read through (built once: aliasing a table
# copies its columns, a cost that would otherwise come with every request).
_DRIVER = ImageProperty.__table__.alias('driver')
_BRIEF_COLUMNS = ('id', 'name', 'status', 'visibility', 'disk_format',
                  'container_format', 'size', 'checksum')
_MEMBERS = ImageMember.__table__


# Booleans are compared with "=", never "IS": MySQL and PostgreSQL can seek an index
# on "deleted = false" but only filter row by row on "deleted IS false".

def memberships(tenant, statuses=None):
    """``SELECT image_id`` of the live memberships of ``tenant``.

    :param statuses: member statuses to keep, or None for any.
    """
    conditions = [_MEMBERS.c.member_id == tenant, _MEMBERS.c.deleted == sa.false()]
    if statuses is not None:
        conditions.append(_MEMBERS.c.status.in_(statuses))
    return sa.select(_MEMBERS.c.image_id).where(*conditions)


def _listed(context, visibility, member_statuses):
    """SQL condition of the images a list shows ``context`` (None: no condition).

    :param visibility: the ``visibility`` list filter: one of
        :data:`~glance.registry.db.models.VISIBILITIES`, ``all``, or None (the
        default list: every visible image but other tenants' community images).
    :param member_statuses: member statuses under which a shared image is listed to
        one of its members.
    """
    column = Image.visibility
    if context.sees_every_image:
        if visibility == 'all':
            return None
        if visibility is None:
            return sa.or_(column != 'community', Image.owner == context.tenant)
        return column == visibility
    if visibility in ('public', 'community'):
        return column == visibility
    everyone = [column == 'public'] + ([column == 'community']
                                       if visibility == 'all' else [])
    tenant = context.tenant
    if tenant is None:
        return sa.or_(*everyone) if visibility in (None, 'all') else sa.false()
    own = Image.owner == tenant
    member_of = sa.and_(column == 'shared',
                        Image.id.in_(memberships(tenant, member_statuses)))
    if visibility == 'private':
        return sa.and_(column == 'private', own)
    if visibility == 'shared':
        return sa.and_(column == 'shared', sa.or_(own, member_of))
    return sa.or_(*everyone, own, member_of)


def is_member(executor, image_id, tenant):
    """True when ``tenant`` is a live member of the image (whatever its status).

    :param executor: a connection or session.
    """
    return tenant is not None and executor.execute(
        memberships(tenant).where(_MEMBERS.c.image_id == image_id)).first() is not None


def check_visible(executor, context, image_id, row):
    """Raise unless ``context`` may see the image ``row`` (a row or an Image).

    Shared images are visible to their members whatever the member's status.

    :param executor: a connection or session, to look a membership up.
    :raises ImageNotFound: when the row is None, deleted (for non-admins) or hidden.
    """
    if (row is None or (row.deleted and not context.is_admin)
            or not (context.can_see(row.owner, row.visibility)
                    or (row.visibility == 'shared'
                        and is_member(executor, image_id, context.tenant)))):
        raise exception.ImageNotFound(image_id=image_id)


def load(session, context, image_id, lock=False):
    """The ORM image ``context`` may see, with chunks, properties and tags.

    :raises ImageNotFound: when it does not exist or is not visible.
    """
    image = session.get(Image, image_id, options=_WITH_CHILDREN, with_for_update=lock)
    check_visible(session, context, image_id, image)
    return image


def load_to_modify(session, context, image_id):
    """The image locked for a change by ``context``, which must own it (or be admin).

    :raises ImageNotFound: when it is not visible to the caller.
    :raises Forbidden: when the caller does not own it.
    """
    image = load(session, context, image_id, lock=True)
    if not context.can_modify(image.owner):
        raise exception.Forbidden('image %s belongs to another tenant' % image_id)
    return image


def image_get(database, context, image_id):
    """Return one image as a record; admins also see deleted ones.

    One statement reads the image with its properties; a second its chunks, only for
    callers that may see locations. The record has the attributes of a detail list
    record (see :func:`image_list`).

    :param database: the registry :class:`~glance.registry.db.session.Database`.
    :param context: the caller's request context.
    :param image_id: a normalised image id.
    :raises ImageNotFound: when the image does not exist or is not visible.
    """
    dialect_name = database.engine.dialect.name
    statement = sa.select(Image.__table__, _properties_column(dialect_name),
                          _tags_column(dialect_name)).where(Image.id == image_id)
    with database.connection() as connection:
        row = connection.execute(statement).first()
        check_visible(connection, context, image_id, row)
        image = _record(row)
        _add_chunks(connection, context, [image])
    return image


def _after_marker(column, id_column, value, marker_id, descending, nulls_high,
                  nullable):
    """Rows strictly after ``(value, marker_id)`` in ``ORDER BY column, id_column``.

    ``column`` is None when the list is sorted by id alone. Databases disagree on
    where NULLs sort (PostgreSQL: above every value; MySQL and SQLite: below), so the
    condition follows the database's own order, which is the order its indexes hold.
    """
    def later(left, right):
        return left < right if descending else left > right

    tie = later(id_column, marker_id)
    if column is None:
        return tie
    if nullable and value is None:
        null_ties = sa.and_(column.is_(None), tie)
        if nulls_high != descending:
            return null_ties
        return sa.or_(null_ties, column.is_not(None))
    condition = sa.or_(later(column, value), sa.and_(column == value, tie))
    if nullable and nulls_high != descending:
        return sa.or_(condition, column.is_(None))
    return condition


def _property_condition(table, name, value, dialect_name):
    """Conditions on ``table`` (image_properties or an alias) for ``name = value``.

    MySQL seeks its prefix index on ``value = :v`` directly. PostgreSQL and SQLite
    seek their expression index only on the very expression it holds (integers
    written into the SQL, not bound), and for a value shorter than the prefix that
    comparison alone decides; only longer values need the full comparison as well.
    (One condition instead of two also keeps PostgreSQL's row estimate honest.)
    """
    prefix = models.PROPERTY_VALUE_PREFIX
    if dialect_name in ('mysql', 'mariadb'):
        return [table.c.name == name, table.c.value == value]
    matches = [table.c.name == name,
               sa.func.substr(table.c.value, sa.literal_column('1'),
                              sa.literal_column(str(prefix))) == value[:prefix]]
    if len(value) >= prefix:
        matches.append(table.c.value == value)
    return matches


def _property_match(name, value, dialect_name):
    """Images having property ``name`` equal to ``value``."""
    table = ImageProperty.__table__
    return Image.id.in_(sa.select(table.c.image_id).where(
        *_property_condition(table, name, value, dialect_name)))


def _filtered(statement, query, properties, dialect_name):
    filters = query.filters
    for name in _EQUALITY_FILTERS:
        if name in filters:
            statement = statement.where(getattr(Image, name) == filters[name])
    if 'is_public' in filters:
        public = Image.visibility == 'public'
        statement = statement.where(public if filters['is_public'] else sa.not_(public))
    for tag in query.tags:
        statement = statement.where(Image.id.in_(
            sa.select(ImageTag.image_id).where(ImageTag.value == tag)))
    if 'size_min' in filters:
        statement = statement.where(Image.size >= filters['size_min'])
    if 'size_max' in filters:
        statement = statement.where(Image.size <= filters['size_max'])
    if 'changes-since' in filters:
        statement = statement.where(Image.updated_at >= filters['changes-since'])
    for name, value in properties:
        statement = statement.where(_property_match(name, value, dialect_name))
    return statement


def _marker_row(connection, context, query):
    """The marker's sort value and id; one small Core query, no ORM object."""
    row = connection.execute(
        sa.select(getattr(Image, query.sort_key), Image.owner, Image.visibility,
                  sa.false().label('deleted'))
        .where(Image.id == query.marker)).first()
    try:
        check_visible(connection, context, query.marker, row)
    except exception.ImageNotFound:
        raise exception.Invalid(reason='marker %s is not a known image'
                                % query.marker) from None
    return row[0]


def _chunks(connection, ids):
    """The chunks of the images ``ids``: ``{image id: [rows in order]}``, one query."""
    chunks = {image_id: [] for image_id in ids}
    for row in connection.execute(
            sa.select(ImageChunk.image_id, ImageChunk.location, ImageChunk.size,
                      ImageChunk.checksum)
            .where(ImageChunk.image_id.in_(ids))
            .order_by(ImageChunk.image_id, ImageChunk.position)):
        chunks[row.image_id].append(row)
    return chunks


# Each database's aggregates building a JSON object from (key, value) rows and a
# JSON array from values.
_JSON_OBJECT_AGG = {'sqlite': 'json_group_object', 'postgresql': 'json_object_agg',
                    'mysql': 'json_objectagg', 'mariadb': 'json_objectagg'}
_JSON_ARRAY_AGG = {'sqlite': 'json_group_array', 'postgresql': 'json_agg',
                   'mysql': 'json_arrayagg', 'mariadb': 'json_arrayagg'}
_PROPERTIES = ImageProperty.__table__.alias('props')
_TAGS = ImageTag.__table__.alias('tags')


def _properties_column(dialect_name):
    """A column holding each image's properties as one JSON object (text).

    A correlated subquery: the database evaluates it only for the rows it returns,
    so a page reads its properties in the same statement, one row per image.
    """
    aggregate = getattr(sa.func, _JSON_OBJECT_AGG[dialect_name])(
        _PROPERTIES.c.name, _PROPERTIES.c.value)
    return sa.select(sa.cast(aggregate, sa.Text)).where(
        _PROPERTIES.c.image_id == Image.id).scalar_subquery().label('properties_json')


def _tags_column(dialect_name):
    """A column holding each image's tags as one JSON array (text), like
    :func:`_properties_column`."""
    aggregate = getattr(sa.func, _JSON_ARRAY_AGG[dialect_name])(_TAGS.c.value)
    return sa.select(sa.cast(aggregate, sa.Text)).where(
        _TAGS.c.image_id == Image.id).scalar_subquery().label('tags_json')


def _record(row):
    """A record of a row read with :func:`_properties_column` and :func:`_tags_column`.

    :returns: the image columns as attributes plus ``properties`` (``{name: object
        with .value}``) and ``tags`` (objects with ``.value``).
    """
    values = dict(row._mapping)
    properties = json.loads(values.pop('properties_json') or '{}')
    tags = json.loads(values.pop('tags_json') or '[]')
    return types.SimpleNamespace(**values, properties={
        name: types.SimpleNamespace(value=value) for name, value in properties.items()},
        tags=[types.SimpleNamespace(value=value) for value in tags])


def _add_chunks(connection, context, records):
    """Set ``chunks`` of each record: its chunk rows, or None for callers that may
    not see locations (no query then)."""
    if not context.can_see_locations:
        for record in records:
            record.chunks = None
        return
    chunks = _chunks(connection, [record.id for record in records])
    for record in records:
        record.chunks = chunks[record.id]


def image_list(database, context, query, detail=False, only_ids=None):
    """Return one page of the images visible to ``context`` that match ``query``.

    Deleted images are never listed. A deleted marker still works, so a walk through
    the pages survives the deletion of the image it last saw.

    The page is read with SQLAlchemy Core as plain records (attributes named like
    the :class:`~glance.registry.db.models.Image` columns) in one statement: a brief
    page reads only the brief columns; a detail page reads every column and the
    page's properties (``properties``: ``{name: object with .value}``) and, only for
    callers that may see locations
    (:attr:`~glance.common.context.RequestContext.can_see_locations`), a second
    statement reads its chunks (``chunks``: rows with ``location``, ``size`` and
    ``checksum``, in order; None for other callers). A marker costs one more small
    query.

    With a property filter the page is read from the property index ordered by the
    sort key (see :mod:`glance.registry.db.models`): the database reads the page's
    rows in order and stops, whatever the number of matching images.

    :param database: the registry database.
    :param context: the caller's request context.
    :param query: a :class:`glance.registry.validation.ListQuery`.
    :param detail: read full records rather than brief ones.
    :param only_ids: a SQL selectable of image ids the list is narrowed to (see
        :data:`glance.registry.api.ONLY_IDS_KEY`), or None.
    :returns: ``(images, more)``; ``more`` is True when another page exists.
    :raises Invalid: when the marker is not an image the caller can see.
    """
    descending = query.sort_dir == 'desc'
    dialect_name = database.engine.dialect.name
    table = Image.__table__
    columns = ([*table.c, _properties_column(dialect_name), _tags_column(dialect_name)]
               if detail else [table.c[name] for name in _BRIEF_COLUMNS])
    properties = list(query.properties.items())
    sort_column = None if query.sort_key == 'id' else table.c[query.sort_key]
    if properties:
        driver = _DRIVER
        statement = sa.select(*columns).select_from(
            driver.join(table, table.c.id == driver.c.image_id)).where(
            *_property_condition(driver, *properties.pop(0), dialect_name))
        order = [driver.c[models.SORT_COPIES[query.sort_key]]] if sort_column is not None \
            else []
        order.append(driver.c.image_id)
        # MariaDB may otherwise walk (image_id, name) for a page sorted by id, which
        # costs O(matching images) when the matches come late in id order.
        for dialect in ('mysql', 'mariadb'):
            statement = statement.with_hint(driver, 'FORCE INDEX (%s)'
                                            % models.property_sort_index(query.sort_key),
                                            dialect)
    else:
        statement = sa.select(*columns)
        order = [sort_column] if sort_column is not None else []
        order.append(table.c.id)
    not_deleted = Image.deleted == sa.false()
    if only_ids is not None and dialect_name == 'sqlite':
        # SQLite (no statistics) would walk an index on "deleted" rather than look up
        # the few ids; a unary + keeps a term from being used by any index.
        not_deleted = sa.literal_column('+%s.deleted' % table.name) == sa.false()
    statement = _filtered(statement.where(not_deleted), query, properties, dialect_name)
    visible = _listed(context, query.visibility, query.member_statuses)
    if visible is not None:
        statement = statement.where(visible)
    if only_ids is not None:
        statement = statement.where(table.c.id.in_(only_ids))
    statement = statement.order_by(
        *[column.desc() if descending else column for column in order]).limit(
        query.limit + 1)
    with database.connection() as connection:
        if query.marker is not None:
            statement = statement.where(_after_marker(
                order[0] if len(order) == 2 else None, order[-1],
                _marker_row(connection, context, query), query.marker, descending,
                nulls_high=dialect_name == 'postgresql',
                nullable=sort_column is not None and sort_column.nullable))
        rows = connection.execute(statement).all()
        more = len(rows) > query.limit
        del rows[query.limit:]
        if not detail:
            return [types.SimpleNamespace(**row._mapping) for row in rows], more
        records = [_record(row) for row in rows]
        _add_chunks(connection, context, records)
    return records, more


def _set_chunks(image, chunks):
    # Rows are rewritten in place: SQLAlchemy flushes inserts before deletes, so
    # replacing the list would briefly hold two rows with one (image_id, position).
    del image.chunks[len(chunks):]
    for position, chunk in enumerate(chunks):
        if position == len(image.chunks):
            image.chunks.append(ImageChunk(position=position))
        row = image.chunks[position]
        row.location, row.size, row.checksum = (chunk['location'], chunk['size'],
                                                chunk['checksum'])


def _set_properties(image, properties, purge):
    if purge:
        for name in set(image.properties) - set(properties):
            del image.properties[name]
    for name, value in properties.items():
        if value is None:
            image.properties.pop(name, None)
        elif name in image.properties:
            image.properties[name].value = value
        else:
            image.properties[name] = ImageProperty(name=name, value=value)


def _set_tags(image, tags):
    # Kept tags stay as they are: a new row for a kept value would be inserted before
    # the old one is deleted and collide on (image_id, value).
    wanted = set(tags)
    image.tags[:] = [tag for tag in image.tags if tag.value in wanted]
    present = {tag.value for tag in image.tags}
    image.tags.extend(ImageTag(value=value) for value in tags if value not in present)


_SCALAR_FIELDS = ('name', 'status', 'visibility', 'protected', 'min_disk', 'min_ram',
                  'owner', 'disk_format', 'container_format', 'size', 'checksum',
                  'sha256', 'blake3', 'detected_format', 'virtual_size')


def image_create(database, values, max_properties=None):
    """Insert a new image.

    Deleted images keep their row, so the id of a deleted image is never handed out
    again (OSSN-0075: a client holding the old id must not get another image).

    :param database: the registry database.
    :param values: checked values; ``id`` (generated when absent), scalar fields,
        ``chunks`` (list of dicts) and ``properties`` (dict; None values skipped).
    :param max_properties: most properties the image may hold, or None.
    :returns: the new image.
    :raises Duplicate: when an image (even a deleted one) already has that id.
    :raises RequestTooLarge: for more than ``max_properties`` properties.
    """
    now = models.utcnow()
    image = Image(id=values.get('id') or str(uuid.uuid4()), status='queued',
                  visibility=models.DEFAULT_VISIBILITY, protected=False, min_disk=0,
                  min_ram=0, created_at=now, updated_at=now, deleted=False,
                  chunks=[], properties={}, tags=[])
    for name in _SCALAR_FIELDS:
        if name in values:
            setattr(image, name, values[name])
    _set_chunks(image, values.get('chunks', ()))
    _set_properties(image, values.get('properties', {}), purge=False)
    _set_tags(image, values.get('tags', ()))
    _check_property_count(image, max_properties)
    with database.session() as session:
        session.add(image)
        try:
            session.flush()
        except exc.IntegrityError:
            raise exception.Duplicate(reason='image id %s is taken (ids of deleted '
                                             'images are never reused)' % image.id)
    return image


def _data_fields(image):
    """The image's current :data:`~glance.registry.image_rules.DATA_FIELDS`."""
    data = {name: getattr(image, name) for name in image_rules.DATA_FIELDS
            if name != 'chunks'}
    data['chunks'] = [{'location': chunk.location, 'size': chunk.size,
                       'checksum': chunk.checksum} for chunk in image.chunks]
    return data


def _check_property_count(image, max_properties):
    if max_properties is not None and len(image.properties) > max_properties:
        raise exception.RequestTooLarge(
            reason='image %s would have %d properties; at most %d are allowed '
                   '(image_property_quota)' % (image.id, len(image.properties),
                                               max_properties))


def image_update(database, context, image_id, values, purge_props=False,
                 max_properties=None):
    """Change an image the caller may modify, under a row lock.

    Setting status ``deleted`` soft-deletes the image. A deleted image accepts no
    change but setting ``deleted`` again (a no-op).

    :param database: the registry database.
    :param context: the caller's request context.
    :param image_id: a normalised image id.
    :param values: checked values as for :func:`image_create` (``id`` excluded).
        ``chunks`` replaces the chunk list; ``properties`` is merged (None removes a
        key), or replaces all properties when ``purge_props`` is set.
    :param purge_props: see ``values``.
    :param max_properties: most properties the image may hold afterwards, or None.
    :returns: the updated image.
    :raises ImageNotFound: when the image is not visible to the caller.
    :raises Forbidden: when the caller does not own it (and is no admin).
    :raises Conflict: for a change refused by
        :func:`glance.registry.image_rules.check_change` or a change to a deleted
        image.
    :raises RequestTooLarge: when the image would hold more than ``max_properties``.
    """
    with database.session() as session:
        image = load_to_modify(session, context, image_id)
        if image.deleted:
            if set(values) - {'status'} or values.get('status') != 'deleted':
                raise exception.Conflict(reason='image %s is deleted' % image_id)
            return image
        image_rules.check_change(image_id, image.status, _data_fields(image), values)
        image_rules.check_protection(image_id, image.protected, values)
        for name in _SCALAR_FIELDS:
            if name in values:
                setattr(image, name, values[name])
        if 'chunks' in values:
            _set_chunks(image, values['chunks'])
        if 'properties' in values:
            _set_properties(image, values['properties'], purge_props)
            _check_property_count(image, max_properties)
        if 'tags' in values:
            _set_tags(image, values['tags'])
        image.updated_at = models.utcnow()
        if image.status == 'deleted':
            image.deleted, image.deleted_at = True, image.updated_at
    return image


def image_destroy(database, context, image_id):
    """Soft-delete an image (status ``deleted``); repeating it is a no-op.

    :raises ImageNotFound: when the image is not visible (non-admins never see
        deleted images, so a second delete by them is a 404).
    :raises Forbidden: when the caller does not own it, or it is protected.
    """
    return image_update(database, context, image_id, {'status': 'deleted'})


def _change_tags(database, context, image_id, change):
    with database.session() as session:
        image = load_to_modify(session, context, image_id)
        if image.deleted:
            raise exception.Conflict(reason='image %s is deleted' % image_id)
        change(image)
        image.updated_at = models.utcnow()


def tag_add(database, context, image_id, tag, max_tags):
    """Add one tag to an image the caller may modify (already there: a no-op).

    :raises RequestTooLarge: when the image would hold more than ``max_tags`` tags.
    """
    def add(image):
        if tag in {row.value for row in image.tags}:
            return
        if len(image.tags) >= max_tags:
            raise exception.RequestTooLarge(
                reason='image %s has %d tags; at most %d are allowed'
                       % (image_id, len(image.tags), max_tags))
        image.tags.append(ImageTag(value=tag))
    _change_tags(database, context, image_id, add)


def tag_delete(database, context, image_id, tag):
    """Remove one tag from an image the caller may modify.

    :raises NotFound: when the image has no such tag.
    """
    def remove(image):
        kept = [row for row in image.tags if row.value != tag]
        if len(kept) == len(image.tags):
            raise exception.NotFound('image %s has no tag %r' % (image_id, tag[:64]))
        image.tags[:] = kept
    _change_tags(database, context, image_id, remove)


def image_usage(database, owner):
    """Storage used by one tenant: its images that are not deleted.

    :param database: the registry database.
    :param owner: the tenant id.
    :returns: ``(image count, total size in bytes)``; images without a size count 0.
    """
    statement = (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Image.size), 0))
                 .where(Image.owner == owner, Image.deleted == sa.false()))
    with database.connection() as connection:
        count, size = connection.execute(statement).one()
    return count, int(size)
