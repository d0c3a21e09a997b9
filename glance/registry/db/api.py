"""Queries of the registry: get, list, create, update and soft-delete images.

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

import types
import uuid

import sqlalchemy as sa
from sqlalchemy import exc, orm

from glance.common import exception
from glance.registry import image_rules
from glance.registry.db import models
from glance.registry.db.models import Image, ImageChunk, ImageProperty

_EQUALITY_FILTERS = ('name', 'status', 'disk_format', 'container_format', 'is_public',
                     'owner')
_WITH_CHILDREN = (orm.selectinload(Image.chunks), orm.selectinload(Image.properties))
# Columns of a brief record (GET /images); a detail page reads every column.
_BRIEF_COLUMNS = ('id', 'name', 'status', 'is_public', 'disk_format', 'container_format',
                  'size', 'checksum')


# Booleans are compared with "=", never "IS": MySQL and PostgreSQL can seek an index
# on "deleted = false" but only filter row by row on "deleted IS false".

def _visible(context):
    """SQL condition of the images ``context`` may see (None: all of them)."""
    if context.is_admin:
        return None
    if context.tenant is None:
        return Image.is_public == sa.true()
    return sa.or_(Image.is_public == sa.true(), Image.owner == context.tenant)


def _load(session, context, image_id, lock=False):
    image = session.get(Image, image_id, options=_WITH_CHILDREN, with_for_update=lock)
    if (image is None or not context.can_see(image.owner, image.is_public)
            or (image.deleted and not context.is_admin)):
        raise exception.ImageNotFound(image_id=image_id)
    return image


def image_get(database, context, image_id):
    """Return one image; admins also see deleted ones.

    :param database: the registry :class:`~glance.registry.db.session.Database`.
    :param context: the caller's request context.
    :param image_id: a normalised image id.
    :raises ImageNotFound: when the image does not exist or is not visible.
    """
    with database.session() as session:
        return _load(session, context, image_id)


def _after_marker(sort_key, value, marker_id, descending, nulls_high):
    """Rows strictly after ``(value, marker_id)`` in ``ORDER BY sort_key, id``.

    Databases disagree on where NULLs sort (PostgreSQL: above every value; MySQL and
    SQLite: below), so the condition follows the database's own order, which is the
    order its indexes hold.
    """
    def later(left, right):
        return left < right if descending else left > right

    tie = later(Image.id, marker_id)
    if sort_key == 'id':
        return tie
    column = getattr(Image, sort_key)
    nullable = Image.__table__.c[sort_key].nullable
    if nullable and value is None:
        null_ties = sa.and_(column.is_(None), tie)
        if nulls_high != descending:
            return null_ties
        return sa.or_(null_ties, column.is_not(None))
    condition = sa.or_(later(column, value), sa.and_(column == value, tie))
    if nullable and nulls_high != descending:
        return sa.or_(condition, column.is_(None))
    return condition


def _property_match(name, value, dialect_name):
    """Images having property ``name`` equal to ``value``.

    MySQL seeks its prefix index on ``value = :v`` directly. PostgreSQL and SQLite
    seek their expression index only on the very expression it holds (integers
    written into the SQL, not bound), and for a value shorter than the prefix that
    comparison alone decides; only longer values need the full comparison as well.
    (One condition instead of two also keeps PostgreSQL's row estimate honest.)
    """
    prefix = models.PROPERTY_VALUE_PREFIX
    if dialect_name in ('mysql', 'mariadb'):
        matches = [ImageProperty.value == value]
    else:
        matches = [sa.func.substr(ImageProperty.value, sa.literal_column('1'),
                                  sa.literal_column(str(prefix))) == value[:prefix]]
        if len(value) >= prefix:
            matches.append(ImageProperty.value == value)
    return Image.id.in_(sa.select(ImageProperty.image_id).where(
        ImageProperty.name == name, *matches))


def _filtered(statement, query, dialect_name):
    filters = query.filters
    for name in _EQUALITY_FILTERS:
        if name in filters:
            statement = statement.where(getattr(Image, name) == filters[name])
    if 'size_min' in filters:
        statement = statement.where(Image.size >= filters['size_min'])
    if 'size_max' in filters:
        statement = statement.where(Image.size <= filters['size_max'])
    if 'changes-since' in filters:
        statement = statement.where(Image.updated_at >= filters['changes-since'])
    for name, value in query.properties.items():
        statement = statement.where(_property_match(name, value, dialect_name))
    return statement


def _marker_row(connection, context, query):
    """The marker's sort value and id; one small Core query, no ORM object."""
    row = connection.execute(
        sa.select(getattr(Image, query.sort_key), Image.owner, Image.is_public)
        .where(Image.id == query.marker)).first()
    if row is None or not context.can_see(row.owner, row.is_public):
        raise exception.Invalid(reason='marker %s is not a known image' % query.marker)
    return row[0]


def _children(connection, ids, with_chunks):
    """Properties (and chunks) of the images ``ids``: one query per kind.

    :returns: ``({image id: {name: row with .value}}, {image id: [chunk rows]})``.
    """
    properties = {image_id: {} for image_id in ids}
    for row in connection.execute(
            sa.select(ImageProperty.image_id, ImageProperty.name, ImageProperty.value)
            .where(ImageProperty.image_id.in_(ids))):
        properties[row.image_id][row.name] = row
    chunks = {image_id: [] for image_id in ids}
    if with_chunks:
        for row in connection.execute(
                sa.select(ImageChunk.image_id, ImageChunk.location, ImageChunk.size,
                          ImageChunk.checksum)
                .where(ImageChunk.image_id.in_(ids))
                .order_by(ImageChunk.image_id, ImageChunk.position)):
            chunks[row.image_id].append(row)
    return properties, chunks


def image_list(database, context, query, detail=False):
    """Return one page of the images visible to ``context`` that match ``query``.

    Deleted images are never listed. A deleted marker still works, so a walk through
    the pages survives the deletion of the image it last saw.

    The page is read with SQLAlchemy Core as plain records (attributes named like
    the :class:`~glance.registry.db.models.Image` columns). A brief page reads only
    the brief columns in one query. A detail page reads every column, plus one query
    for the page's properties (``properties``: ``{name: row}``, each row having a
    ``value``) and, only for callers that may see locations
    (:attr:`~glance.common.context.RequestContext.can_see_locations`), one for its
    chunks (``chunks``: rows with ``location``, ``size`` and ``checksum``, in order;
    None for other callers). A marker costs one more small query.

    :param database: the registry database.
    :param context: the caller's request context.
    :param query: a :class:`glance.registry.validation.ListQuery`.
    :param detail: read full records rather than brief ones.
    :returns: ``(images, more)``; ``more`` is True when another page exists.
    :raises Invalid: when the marker is not an image the caller can see.
    """
    descending = query.sort_dir == 'desc'
    dialect_name = database.engine.dialect.name
    table = Image.__table__
    columns = table.c if detail else [table.c[name] for name in _BRIEF_COLUMNS]
    statement = sa.select(*columns).where(Image.deleted == sa.false())
    statement = _filtered(statement, query, dialect_name)
    visible = _visible(context)
    if visible is not None:
        statement = statement.where(visible)
    order = [getattr(Image, name) for name in dict.fromkeys((query.sort_key, 'id'))]
    if descending:
        order = [column.desc() for column in order]
    statement = statement.order_by(*order).limit(query.limit + 1)
    with database.connection() as connection:
        if query.marker is not None:
            statement = statement.where(_after_marker(
                query.sort_key, _marker_row(connection, context, query), query.marker,
                descending, nulls_high=dialect_name == 'postgresql'))
        rows = connection.execute(statement).all()
        more = len(rows) > query.limit
        del rows[query.limit:]
        if not detail or not rows:
            return [types.SimpleNamespace(**row._mapping) for row in rows], more
        with_chunks = context.can_see_locations
        properties, chunks = _children(connection, [row.id for row in rows],
                                       with_chunks)
    return [types.SimpleNamespace(
        **row._mapping, properties=properties[row.id],
        chunks=chunks[row.id] if with_chunks else None) for row in rows], more


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


_SCALAR_FIELDS = ('name', 'status', 'is_public', 'owner', 'disk_format',
                  'container_format', 'size', 'checksum', 'sha256', 'xxh3')


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
                  is_public=False, created_at=now, updated_at=now, deleted=False,
                  chunks=[], properties={})
    for name in _SCALAR_FIELDS:
        if name in values:
            setattr(image, name, values[name])
    _set_chunks(image, values.get('chunks', ()))
    _set_properties(image, values.get('properties', {}), purge=False)
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
        image = _load(session, context, image_id, lock=True)
        if not context.can_modify(image.owner):
            raise exception.Forbidden('image %s belongs to another tenant' % image_id)
        if image.deleted:
            if set(values) - {'status'} or values.get('status') != 'deleted':
                raise exception.Conflict(reason='image %s is deleted' % image_id)
            return image
        image_rules.check_change(image_id, image.status, _data_fields(image), values)
        for name in _SCALAR_FIELDS:
            if name in values:
                setattr(image, name, values[name])
        if 'chunks' in values:
            _set_chunks(image, values['chunks'])
        if 'properties' in values:
            _set_properties(image, values['properties'], purge_props)
            _check_property_count(image, max_properties)
        image.updated_at = models.utcnow()
        if image.status == 'deleted':
            image.deleted, image.deleted_at = True, image.updated_at
    return image


def image_destroy(database, context, image_id):
    """Soft-delete an image (status ``deleted``); repeating it is a no-op.

    :raises ImageNotFound: when the image is not visible (non-admins never see
        deleted images, so a second delete by them is a 404).
    :raises Forbidden: when the caller does not own it.
    """
    return image_update(database, context, image_id, {'status': 'deleted'})


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
