"""Schema upgrades with data on SQLite, MariaDB and PostgreSQL.

Revision ``0003_openstack_fields`` converts ``is_public`` into ``visibility``; the
upgrade runs from the previous head over rows written as that schema had them, and
the triggers of ``0002_list_indexes`` must survive it.
"""

import datetime

import sqlalchemy as sa
from alembic import command

from glance.common.context import RequestContext
from glance.registry import validation
from glance.registry.db import api as db_api
from glance.registry.db import migration, session

PREVIOUS_HEAD = '0002_list_indexes'
ALICE = RequestContext(tenant='alice', roles=['member'])
BOB = RequestContext(tenant='bob', roles=['member'])


def _seed_previous_schema(engine):
    moment = datetime.datetime(2026, 11, 1)
    images = sa.table('images', *(sa.column(name) for name in (
        'id', 'name', 'status', 'is_public', 'owner', 'created_at', 'updated_at',
        'deleted')))
    properties = sa.table('image_properties', sa.column('image_id'), sa.column('name'),
                          sa.column('value'))
    with engine.begin() as connection:
        connection.execute(images.insert(), [
            {'id': '00000000-0000-4000-8000-00000000000%d' % index, 'name': name,
             'status': 'active', 'is_public': public, 'owner': 'alice',
             'created_at': moment, 'updated_at': moment, 'deleted': False}
            for index, (name, public) in enumerate(
                [('public-one', True), ('private-one', False)])])
        connection.execute(properties.insert(), [
            {'image_id': '00000000-0000-4000-8000-000000000000', 'name': 'os',
             'value': 'linux'}])


def test_upgrade_converts_is_public_and_keeps_the_sort_copies(database_url):
    engine = session.create_engine({'sql_connection': database_url})
    try:
        migration.REGISTRY.upgrade(engine, PREVIOUS_HEAD)
        _seed_previous_schema(engine)
        migration.REGISTRY.upgrade(engine)
        assert migration.REGISTRY.current(engine) == migration.REGISTRY.head()
        inspector = sa.inspect(engine)
        columns = {column['name'] for column in inspector.get_columns('images')}
        assert {'visibility', 'protected', 'min_disk', 'min_ram'} <= columns
        assert 'is_public' not in columns
        assert {'image_tags', 'image_members'} <= set(inspector.get_table_names())
        assert 'ix_images_visibility' in {index['name']
                                          for index in inspector.get_indexes('images')}

        database = session.Database(engine)
        public_id, private_id = ('00000000-0000-4000-8000-000000000000',
                                 '00000000-0000-4000-8000-000000000001')
        public = db_api.image_get(database, BOB, public_id)
        assert (public.visibility, public.protected, public.min_disk, public.min_ram,
                public.tags) == ('public', False, 0, 0, [])
        assert db_api.image_get(database, ALICE, private_id).visibility == 'shared'
        listed, _ = db_api.image_list(database, BOB, validation.list_query({}, 25, 1000))
        assert [image.id for image in listed] == [public_id]

        # The update trigger still copies the new name to the property row.
        db_api.image_update(database, ALICE, public_id, {'name': 'renamed'})
        with engine.connect() as connection:
            copied = connection.execute(sa.text(
                'SELECT image_name FROM image_properties WHERE image_id = :id'),
                {'id': public_id}).scalar()
        assert copied == 'renamed'
        query = validation.list_query({'property-os': 'linux', 'sort_key': 'name'},
                                      25, 1000)
        assert [image.name for image in db_api.image_list(database, BOB, query)[0]] == [
            'renamed']

        with engine.begin() as connection:
            command.downgrade(migration.REGISTRY.config(connection), PREVIOUS_HEAD)
        with engine.connect() as connection:
            rows = dict(connection.execute(sa.text(
                'SELECT id, is_public FROM images')).all())
        assert {key: bool(value) for key, value in rows.items()} == {
            public_id: True, private_id: False}
    finally:
        engine.dispose()


def test_upgrade_from_the_first_revision_fills_every_sort_copy(database_url):
    # 0002_list_indexes copies each image's sort keys to its existing property rows
    # in one join per database; every copy must match its image, on all three.
    engine = session.create_engine({'sql_connection': database_url})
    moment = datetime.datetime(2026, 11, 1, 12, 30, 45, 123456)
    images = sa.table('images', *(sa.column(name) for name in (
        'id', 'name', 'status', 'is_public', 'disk_format', 'container_format', 'size',
        'created_at', 'updated_at', 'deleted')))
    properties = sa.table('image_properties', sa.column('image_id'), sa.column('name'),
                          sa.column('value'))
    try:
        migration.REGISTRY.upgrade(engine, '0001')
        with engine.begin() as connection:
            connection.execute(images.insert(), [
                {'id': 'image-%d' % index, 'name': 'name-%d' % index,
                 'status': ('active', 'queued')[index], 'is_public': True,
                 'disk_format': ('raw', 'qcow2')[index], 'container_format': 'bare',
                 'size': 1000 + index, 'created_at': moment,
                 'updated_at': moment + datetime.timedelta(days=index), 'deleted': False}
                for index in range(2)])
            connection.execute(properties.insert(), [
                {'image_id': 'image-%d' % index, 'name': name, 'value': 'v'}
                for index in range(2) for name in ('os_distro', 'build')])
        migration.REGISTRY.upgrade(engine)
        copied = sa.table('image_properties', *(sa.column(name) for name in (
            'image_id', 'image_name', 'image_status', 'image_disk_format',
            'image_container_format', 'image_size')), *(sa.column(name, sa.DateTime())
                                                        for name in ('image_created_at',
                                                                     'image_updated_at')))
        with engine.connect() as connection:
            copies = connection.execute(sa.select(copied).distinct().order_by(
                copied.c.image_id)).all()
        assert [tuple(row) for row in copies] == [
            ('image-%d' % index, 'name-%d' % index, ('active', 'queued')[index],
             ('raw', 'qcow2')[index], 'bare', 1000 + index, moment,
             moment + datetime.timedelta(days=index)) for index in range(2)]
    finally:
        engine.dispose()
