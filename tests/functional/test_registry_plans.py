"""The query plans of the registry's list pages, with EXPLAIN on each real database.

A page filtered by a property and sorted by an image column must be read in order
from the property index of that sort key and stop after the page (O(page)), never
collect and sort every matching image. The data set is built to tempt the planner
the other way: names start with the property's value, so name order and the property
are correlated, and 10 % of the images match.
"""

import datetime
import json
import random
import uuid

import pytest
import sqlalchemy as sa

from glance.common.context import RequestContext
from glance.registry import validation
from glance.registry.db import api as db_api
from glance.registry.db import migration, models, session
from tests.functional.databases import KINDS, TestDatabase

IMAGES = 6000
DISTROS = ('alpine', 'centos', 'debian', 'fedora', 'rocky', 'suse', 'ubuntu', 'arch',
           'freebsd', 'windows')
MEMBER = RequestContext(tenant='tenant-3', roles=['member'])


def _seed(engine):
    rng = random.Random(5)
    epoch = datetime.datetime(2026, 1, 1)
    images, properties = [], []
    for index in range(IMAGES):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        distro = DISTROS[index * len(DISTROS) // IMAGES]
        created = epoch + datetime.timedelta(seconds=index)
        draw = rng.random()
        visibility = ('public' if draw < 0.6 else 'community' if draw < 0.62
                      else 'private' if draw < 0.7 else 'shared')
        images.append({'id': image_id, 'name': '%s-%05d' % (distro, index),
                       'status': 'active', 'visibility': visibility,
                       'owner': 'tenant-%d' % rng.randrange(20), 'disk_format': 'raw',
                       'container_format': 'bare', 'size': rng.randrange(1 << 30),
                       'created_at': created, 'updated_at': created, 'deleted': False})
        properties.append({'image_id': image_id, 'name': 'os_distro', 'value': distro})
    with engine.begin() as connection:
        connection.execute(models.Image.__table__.insert(), images)
        connection.execute(models.ImageProperty.__table__.insert(), properties)
    analyze = {'postgresql': 'ANALYZE', 'mysql': 'ANALYZE TABLE images, image_properties',
               'sqlite': 'ANALYZE'}[engine.dialect.name]
    with engine.begin() as connection:
        connection.exec_driver_sql(analyze)


@pytest.fixture(scope='module', params=KINDS)
def database(request, tmp_path_factory):
    """A registry database of each kind with the correlated data set."""
    try:
        test_database = TestDatabase(request.param, tmp_path_factory.mktemp('plans'))
    except Exception as err:  # server unavailable: report, not crash
        pytest.skip('%s server unavailable: %s' % (request.param, type(err).__name__))
    engine = session.create_engine({'sql_connection': test_database.url})
    try:
        migration.REGISTRY.upgrade(engine)
        _seed(engine)
        yield session.Database(engine)
    finally:
        engine.dispose()
        test_database.drop()


def _page_statement(database, params, detail, only_ids=None):
    """The SQL and parameters of the page statement of one list call."""
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    query = validation.list_query(params, 25, 1000)
    sa.event.listen(database.engine, 'before_cursor_execute', record)
    try:
        images, _ = db_api.image_list(database, MEMBER, query, detail=detail,
                                      only_ids=only_ids)
    finally:
        sa.event.remove(database.engine, 'before_cursor_execute', record)
    assert images
    return statements[-1]


def _postgresql_plan(connection, statement, parameters, table=None):
    [[plan]] = connection.exec_driver_sql('EXPLAIN (FORMAT JSON) ' + statement,
                                          parameters).all()
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def nodes(node):
        yield node
        for child in node.get('Plans', ()):
            yield from nodes(child)

    # The innermost Limit is the page: below it, the index and no sort.
    limit = [node for node in nodes(plan[0]['Plan']) if node['Node Type'] == 'Limit'][-1]
    below = list(nodes(limit))
    return ({node.get('Index Name') for node in below},
            any(node['Node Type'] in ('Sort', 'Incremental Sort') for node in below))


def _sqlite_plan(connection, statement, parameters, table=None):
    rows = connection.exec_driver_sql('EXPLAIN QUERY PLAN ' + statement,
                                      parameters).all()
    details = {row[0]: (row[1], row[3]) for row in rows}
    roots = [node for node, (_, detail) in details.items()
             if detail.startswith('CO-ROUTINE')]
    root = roots[0] if roots else 0

    def under_page(node):
        while node in details:
            if node == root:
                return True
            node = details[node][0]
        return root == 0

    page = [detail for node, (_, detail) in details.items() if under_page(node)]
    indexes = {word for detail in page for word in detail.split()}
    return indexes, any('TEMP B-TREE' in detail for detail in page)


def _mysql_plan(connection, statement, parameters, table='driver'):
    result = connection.exec_driver_sql('EXPLAIN ' + statement, parameters)
    rows = [dict(zip(result.keys(), row)) for row in result.all()]
    driver = [row for row in rows if row['table'] == table]
    return ({row['key'] for row in driver},
            any('filesort' in (row['Extra'] or '') for row in driver))


def _plan(database, statement, parameters, **options):
    """``(index names used by the page, whether the page is sorted)`` from EXPLAIN.

    :param options: ``table=`` names the driving table on MariaDB (default
        ``driver``, the property table's alias).
    """
    explain = {'postgresql': _postgresql_plan, 'sqlite': _sqlite_plan,
               'mysql': _mysql_plan, 'mariadb': _mysql_plan}[
        database.engine.dialect.name]
    with database.engine.connect() as connection:
        return explain(connection, statement, parameters, **options)


@pytest.mark.parametrize('sort_key, sort_dir', [('name', 'asc'), ('size', 'asc'),
                                                ('created_at', 'desc'), ('id', 'asc')])
@pytest.mark.parametrize('detail', [False, True])
def test_property_filter_page_reads_the_sort_key_index_without_sorting(
        database, sort_key, sort_dir, detail):
    params = {'property-os_distro': 'ubuntu', 'sort_key': sort_key,
              'sort_dir': sort_dir, 'limit': '25'}
    indexes, sorts = _plan(database, *_page_statement(database, params, detail))
    assert models.property_sort_index(sort_key) in indexes
    assert not sorts


def test_marker_page_keeps_the_plan(database):
    params = {'property-os_distro': 'ubuntu', 'sort_key': 'name', 'sort_dir': 'asc',
              'limit': '25'}
    first, _ = db_api.image_list(database, MEMBER, validation.list_query(params, 25, 1000))
    params['marker'] = first[-1].id
    indexes, sorts = _plan(database, *_page_statement(database, params, detail=False))
    assert models.property_sort_index('name') in indexes and not sorts


def test_sort_copies_follow_the_image_through_the_registry(database):
    """The triggers keep each property row's copies equal to its image's columns."""
    admin = RequestContext(tenant='ops', roles=['admin'])
    names = ['copy-b', 'copy-a', 'copy-c']
    ids = [db_api.image_create(database, {'name': name, 'owner': 'ops', 'size': index,
                                          'properties': {'copy_test': 'yes'}}).id
           for index, name in enumerate(names)]

    def listed(sort_key):
        query = validation.list_query({'property-copy_test': 'yes', 'sort_key': sort_key,
                                       'sort_dir': 'asc'}, 25, 1000)
        return [image.id for image in db_api.image_list(database, admin, query)[0]]

    assert listed('name') == [ids[1], ids[0], ids[2]]
    db_api.image_update(database, admin, ids[2], {'name': 'copy-0', 'size': 99})
    db_api.image_update(database, admin, ids[1], {'properties': {'other': 'x'}})
    assert listed('name') == [ids[2], ids[1], ids[0]]
    assert listed('size') == [ids[0], ids[1], ids[2]]
    table = models.ImageProperty.__table__
    with database.engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.image_id, table.c.image_name,
                                            table.c.image_size, table.c.image_updated_at)
                                  .where(table.c.image_id.in_(ids))).all()
    images = {image_id: db_api.image_get(database, admin, image_id) for image_id in ids}
    assert len(rows) == 4
    for image_id, name, size, updated_at in rows:
        image = images[image_id]
        assert (name, size) == (image.name, image.size)
        assert updated_at == image.updated_at


def test_related_images_page_looks_up_the_instance_first(database):
    """A page narrowed to one instance's images (instance_aware) starts from the
    relations index, not from a walk of every image in sort order."""
    from glance.middleware.instance_aware import db as relations_db
    relations_db.HISTORY.upgrade(database.engine)
    installation = '5f1c2a8e-3b4d-4e6f-8a9b-0c1d2e3f4a5b'
    with database.engine.begin() as connection:
        ids = [row[0] for row in connection.execute(
            sa.select(models.Image.id).where(models.Image.visibility == 'public')
            .order_by(models.Image.id).limit(1000))]
        connection.execute(relations_db.relations.insert(), [
            {'image_id': image_id, 'nova_installation_uuid': installation,
             'instance_id': str(index // 10 + 1), 'relation': 'snapshot',
             'created_at': datetime.datetime(2026, 1, 1)}
            for index, image_id in enumerate(ids)])
        if database.engine.dialect.name == 'sqlite':
            # As a fresh deployment: SQLite has no statistics until ANALYZE runs.
            connection.exec_driver_sql('DELETE FROM sqlite_stat1')
    database.dispose()
    only_ids = relations_db.RelationStore.related_ids(installation, '7', None)
    indexes, _ = _plan(database, *_page_statement(database, {'limit': '25'}, True,
                                                  only_ids=only_ids), table='images')
    # Images are looked up by id, never walked in created_at order (O(all images)).
    assert not any(name and name.startswith('ix_images_deleted_') for name in indexes)


@pytest.mark.parametrize('visibility', ['community', 'shared'])
def test_a_visibility_filter_seeks_its_index(database, visibility):
    """A visibility filter (rare community images among many) reads the visibility
    index, already in the default order: a seek, neither a walk of every image nor a
    sort."""
    indexes, sorts = _plan(database, *_page_statement(
        database, {'visibility': visibility, 'limit': '25'}, False), table='images')
    assert 'ix_images_visibility' in indexes
    assert not sorts


def test_own_private_images_are_sought_by_visibility_or_owner(database):
    """Only the caller's own private images match: either index finds them."""
    indexes, _ = _plan(database, *_page_statement(
        database, {'visibility': 'private', 'limit': '25'}, False), table='images')
    assert indexes & {'ix_images_visibility', 'ix_images_owner'}, indexes
