"""Queries of the registry: get, list, create, update and soft-delete images; tags.

Every function takes a :class:`glance.registry.db.session.Database` and runs in one
transaction. Images come back as records: plain objects with the
:class:`~glance.registry.db.models.Image` columns as attributes, ``properties``
(``{name: value}``), ``tags`` (a sorted list) and ``chunks`` (rows with ``location``,
``size`` and ``checksum``, in order; None where the caller may not see locations).
Reads run the prepared statements of :mod:`glance.registry.db.reads` through SQLAlchemy
Core, without ORM objects; changes load the ORM image under a row lock. Visibility and
ownership rules of the caller's :class:`~glance.common.context.RequestContext` are
applied here, inside the transaction that reads (and, for updates, locks) the row.
Values arrive checked and normalised by :mod:`glance.registry.validation`.
"""

import json
import types
import uuid

import sqlalchemy as sa
from sqlalchemy import exc, orm

from glance.common import exception
from glance.registry import image_rules
from glance.registry.db import models, reads
from glance.registry.db.models import Image, ImageChunk, ImageProperty, ImageTag

_WITH_CHILDREN = (orm.selectinload(Image.chunks), orm.selectinload(Image.properties),
                  orm.selectinload(Image.tags))
_COLUMNS = tuple(column.key for column in Image.__table__.c)


def is_member(executor, image_id, tenant):
    """True when ``tenant`` is a live member of the image (whatever its status).

    :param executor: a connection or session.
    """
    return tenant is not None and executor.execute(
        reads.membership_statement(),
        {'tenant': tenant, 'image_id': image_id}).first() is not None


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


def _record(row):
    """The record of a row read with the detail columns of :mod:`reads` (properties
    and tags as JSON text)."""
    values = row._asdict()
    properties = values.pop('properties_json')
    tags = values.pop('tags_json')
    record = types.SimpleNamespace(**values)
    record.properties = json.loads(properties) if properties else {}
    record.tags = sorted(json.loads(tags)) if tags else []
    return record


def record_of(image):
    """The record of an ORM :class:`~glance.registry.db.models.Image` (all loaded)."""
    record = types.SimpleNamespace(**{name: getattr(image, name) for name in _COLUMNS})
    record.properties = {name: prop.value for name, prop in image.properties.items()}
    record.tags = sorted(tag.value for tag in image.tags)
    record.chunks = list(image.chunks)
    return record


def _add_chunks(connection, context, records):
    """Set ``chunks`` of each record: its chunk rows, or None for callers that may
    not see locations (no query then)."""
    if not context.can_see_locations:
        for record in records:
            record.chunks = None
        return
    chunks = {record.id: [] for record in records}
    if chunks:
        for row in connection.execute(reads.chunks_statement(), {'ids': list(chunks)}):
            chunks[row.image_id].append(row)
    for record in records:
        record.chunks = chunks[record.id]


def image_get(database, context, image_id):
    """Return one image record; admins also see deleted ones.

    One statement reads the image with its properties and tags; a second its chunks,
    only for callers that may see locations.

    :param database: the registry :class:`~glance.registry.db.session.Database`.
    :param context: the caller's request context.
    :param image_id: a normalised image id.
    :raises ImageNotFound: when the image does not exist or is not visible.
    """
    statement = reads.image_statement(database.dialect_name)

    def read(connection):
        row = connection.execute(statement, {'image_id': image_id}).first()
        check_visible(connection, context, image_id, row)
        image = _record(row)
        _add_chunks(connection, context, [image])
        return image
    return database.read(read)


def _marker_value(connection, context, marker_params, sort_key):
    """The marker's sort value; one small query."""
    marker = marker_params['marker']
    row = connection.execute(reads.marker_statement(sort_key), marker_params).first()
    try:
        check_visible(connection, context, marker, row)
    except exception.ImageNotFound:
        raise exception.Invalid(reason='marker %s is not a known image' % marker) from None
    return row[0]


def image_list(database, context, query, detail=False, only_ids=None):
    """Return one page of the images visible to ``context`` that match ``query``.

    Deleted images are never listed. A deleted marker still works, so a walk through
    the pages survives the deletion of the image it last saw.

    One statement reads the page (:func:`glance.registry.db.reads.page_statement`):
    a brief page only the brief columns (records without properties, tags or
    chunks); a detail page every column, the properties and the tags, and, only for
    callers that may see locations
    (:attr:`~glance.common.context.RequestContext.can_see_locations`), a second
    statement the chunks. A marker costs one more small query.

    :param database: the registry database.
    :param context: the caller's request context.
    :param query: a :class:`glance.registry.validation.ListQuery`.
    :param detail: read full records rather than brief ones.
    :param only_ids: a SQL selectable of image ids the list is narrowed to (see
        :data:`glance.registry.api.ONLY_IDS_KEY`), or None.
    :returns: ``(images, more)``; ``more`` is True when another page exists.
    :raises Invalid: when the marker is not an image the caller can see.
    """
    prepared = reads.plan(database.dialect_name, context, query, detail,
                          narrowed=only_ids is not None)

    def read(connection):
        page = prepared
        if page.marker_params is not None:
            page = reads.with_marker_value(page, _marker_value(
                connection, context, page.marker_params, query.sort_key))
        statement = reads.page_statement(page.shape)
        if only_ids is not None:
            statement = statement.where(Image.__table__.c.id.in_(only_ids))
        rows = connection.execute(statement, page.params).all()
        more = len(rows) > query.limit
        del rows[query.limit:]
        if not detail:
            return [types.SimpleNamespace(**row._asdict()) for row in rows], more
        records = [_record(row) for row in rows]
        _add_chunks(connection, context, records)
        return records, more
    return database.read(read)


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
    :returns: the new image's record.
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
    return record_of(image)


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
    :returns: the updated image's record.
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
            return record_of(image)
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
    return record_of(image)


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
    count, size = database.read(lambda connection: connection.execute(statement).one())
    return count, int(size)
