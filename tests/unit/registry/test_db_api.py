"""Query functions of the registry database, on in-memory SQLite."""

import itertools

import pytest
import sqlalchemy as sa

from glance.common import context, exception
from glance.registry import validation
from glance.registry.db import api as db_api
from glance.registry.db import reads
from glance.registry.db.models import Image

ALICE = context.RequestContext(tenant='alice')
ADMIN = context.RequestContext(tenant='ops', roles=['admin'])
SERVICE = context.RequestContext(tenant='alice', roles=['service'])
# glance-api acting for an admin: sees deleted images and, as a service, chunks.
ADMIN_SERVICE = context.RequestContext(tenant='ops', roles=['admin', 'service'])


def _query(**params):
    return validation.list_query(params, 25, 1000)


def _create(database, **values):
    values.setdefault('owner', 'alice')
    return db_api.image_create(database, values)


def test_create_and_get_round_trip_with_children(database):
    created = _create(database, name='n', properties={'a': '1'},
                      chunks=[{'location': 'file:///0', 'size': 1, 'checksum': 'c'},
                              {'location': 'file:///1', 'size': 2, 'checksum': None}])
    image = db_api.image_get(database, SERVICE, created.id)
    assert image.name == 'n'
    assert [(c.location, c.size, c.checksum) for c in image.chunks] == [
        ('file:///0', 1, 'c'), ('file:///1', 2, None)]
    assert image.properties == {'a': '1'}


def test_get_reads_chunks_only_for_callers_that_see_locations(database):
    created = _create(database, chunks=[{'location': 'file:///0', 'size': 1,
                                         'checksum': 'c'}])
    image = db_api.image_get(database, ALICE, created.id)
    assert image.chunks is None and image.properties == {}


def test_update_purges_properties_only_when_asked(database):
    image = _create(database, properties={'a': '1', 'b': '2'})
    merged = db_api.image_update(database, ALICE, image.id, {'properties': {'c': '3'}})
    assert set(merged.properties) == {'a', 'b', 'c'}
    purged = db_api.image_update(database, ALICE, image.id, {'properties': {'c': '4'}},
                                 purge_props=True)
    assert purged.properties == {'c': '4'}


def test_replacing_chunks_never_collides_on_position(database):
    image = _create(database, chunks=[{'location': str(i), 'size': i, 'checksum': None}
                                      for i in range(3)])
    chunks = [{'location': 'new-%d' % i, 'size': None, 'checksum': None}
              for i in range(4)]
    updated = db_api.image_update(database, ALICE, image.id, {'chunks': chunks})
    assert [c.location for c in updated.chunks] == ['new-0', 'new-1', 'new-2', 'new-3']
    shorter = db_api.image_update(database, ALICE, image.id, {'chunks': chunks[3:]})
    assert [(c.position, c.location) for c in shorter.chunks] == [(0, 'new-3')]
    with database.session() as db_session:
        assert db_session.scalar(sa.text('SELECT count(*) FROM image_chunks')) == 1


def test_destroy_keeps_the_rows(database):
    image = _create(database, properties={'a': '1'}, chunks=[
        {'location': 'x', 'size': None, 'checksum': None}])
    db_api.image_destroy(database, ALICE, image.id)
    with pytest.raises(exception.ImageNotFound):
        db_api.image_get(database, ALICE, image.id)
    kept = db_api.image_get(database, ADMIN_SERVICE, image.id)
    assert kept.deleted and kept.status == 'deleted' and kept.chunks and kept.properties
    # An admin calling the registry directly sees the deleted image, not its chunks.
    assert db_api.image_get(database, ADMIN, image.id).chunks is None


def test_list_reports_whether_more_pages_exist(database):
    for _ in range(3):
        _create(database)
    images, more = db_api.image_list(database, ALICE, _query(limit='2'))
    assert (len(images), more) == (2, True)
    images, more = db_api.image_list(database, ALICE, _query(limit='3'))
    assert (len(images), more) == (3, False)


# Only a service sees chunks (can_see_locations), so only it pays the chunk query.
@pytest.mark.parametrize('caller, queries', [(ALICE, 1), (ADMIN, 1), (SERVICE, 2)])
def test_detail_list_loads_children_in_a_fixed_number_of_queries(
        database, caller, queries):
    for index in range(10):
        _create(database, properties={'k': str(index), 'j': 'x'},
                chunks=[{'location': str(index), 'size': None, 'checksum': None}])
    statements = []
    sa.event.listen(database.engine, 'before_cursor_execute',
                    lambda *args: statements.append(args[2]))
    images, _ = db_api.image_list(database, caller, _query(), detail=True)
    # The page with its properties in one statement; chunks only for callers who
    # may see them.
    assert len(statements) == queries
    assert 'image_chunks' not in statements[0]
    assert all(len(image.properties) == 2 for image in images)
    assert {image.properties['k'] for image in images} == set(map(str, range(10)))
    if caller.can_see_locations:
        assert all([chunk.location for chunk in image.chunks]
                   == [image.properties['k']] for image in images)
    else:
        assert all(image.chunks is None for image in images)


def test_brief_list_reads_one_query_and_marker_one_more(database):
    ids = [_create(database, name='n%d' % index).id for index in range(4)]
    statements = []
    sa.event.listen(database.engine, 'before_cursor_execute',
                    lambda *args: statements.append(args[2]))
    images, more = db_api.image_list(database, ALICE, _query(
        sort_key='name', sort_dir='asc', limit='2', marker=ids[0]))
    assert ([image.id for image in images], more) == (ids[1:3], True)
    assert len(statements) == 2
    private = _create(database, owner='ops').id
    with pytest.raises(exception.Invalid):
        db_api.image_list(database, ALICE, _query(marker=private))


# The marker condition must agree with the database's own NULL placement. SQLite puts
# NULLs first; "NULLS LAST" (which SQLite also understands) emulates PostgreSQL, so both
# branches are checked here against every possible marker.
@pytest.mark.parametrize('nulls_high', [False, True])
@pytest.mark.parametrize('descending', [False, True])
@pytest.mark.parametrize('sort_key', ['name', 'size', 'status', 'id'])
def test_after_marker_returns_exactly_the_rows_that_follow(database, nulls_high,
                                                           descending, sort_key):
    names, sizes = [None, 'a', 'b', None, 'a', 'c'], [None, 1, 2, None, 1, 3]
    for name, size in itertools.product(names[:4], sizes[2:]):
        _create(database, name=name, size=size)
    column = getattr(Image, sort_key)
    order = [column, Image.id] if sort_key != 'id' else [Image.id]
    if descending:
        order = [item.desc() for item in order]
    first = (lambda item: item.nulls_last()) if nulls_high != descending else (
        lambda item: item.nulls_first())
    order = [first(order[0])] + order[1:]
    with database.session() as db_session:
        rows = list(db_session.scalars(sa.select(Image).order_by(*order)))
        for index, marker in enumerate(rows):
            value = getattr(marker, sort_key)
            condition = reads._after_marker(
                column if sort_key != 'id' else None, Image.id, descending, nulls_high,
                nullable=column.nullable, value_is_null=value is None)
            after = db_session.scalars(sa.select(Image.id).where(condition)
                                       .order_by(*order),
                                       {'marker_value': value, 'marker': marker.id})
            assert list(after) == [row.id for row in rows[index + 1:]]
