"""The alembic history of the registry schema, its version table, and start-up checks."""

import textwrap

import pytest
import sqlalchemy as sa
from alembic import autogenerate, command
from alembic.runtime import migration as alembic_migration

from glance.common import exception
from glance.registry.db import migration, models, session



@pytest.fixture
def engine(tmp_path):
    engine = session.create_engine({'sql_connection': 'sqlite:///%s' % (tmp_path / 'g')})
    yield engine
    engine.dispose()


@pytest.mark.filterwarnings('ignore:Skipped unsupported reflection of expression-based')
def test_migrations_build_exactly_the_models(engine):
    migration.REGISTRY.upgrade(engine)
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(
            connection, opts={'include_object': migration.include_object,
                              'compare_type': True})
        assert autogenerate.compare_metadata(context, models.Base.metadata) == []


def test_history_is_recorded_in_its_own_version_table(engine):
    assert migration.REGISTRY.current(engine) is None
    migration.REGISTRY.upgrade(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert {'images', 'image_chunks', 'image_properties',
            'glance_registry_version'} <= tables
    assert 'alembic_version' not in tables
    assert migration.REGISTRY.current(engine) == migration.REGISTRY.head() is not None


def test_upgrading_twice_is_a_no_op(engine):
    migration.REGISTRY.upgrade(engine)
    migration.REGISTRY.upgrade(engine)
    assert migration.REGISTRY.current(engine) == migration.REGISTRY.head()


def test_property_value_index_covers_a_prefix_only(engine):
    migration.REGISTRY.upgrade(engine)
    with engine.connect() as connection:
        sql = connection.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE name = :name"),
            {'name': models.PROPERTY_VALUE_INDEX}).scalar()
    assert 'substr(value, 1, %d)' % models.PROPERTY_VALUE_PREFIX in sql


def _second_history(folder):
    """Write a tiny independent alembic history (like an optional filter's)."""
    scripts = folder / 'other_migrations'
    (scripts / 'versions').mkdir(parents=True)
    (scripts / 'env.py').write_text(textwrap.dedent('''
        from alembic import context
        config = context.config
        context.configure(connection=config.attributes['connection'],
                          version_table=config.attributes['version_table'])
        with context.begin_transaction():
            context.run_migrations()
        '''))
    (scripts / 'versions' / 'a1_other.py').write_text(textwrap.dedent('''
        from alembic import op
        import sqlalchemy as sa
        revision = 'a1'
        down_revision = None
        branch_labels = None
        depends_on = None

        def upgrade():
            op.create_table('other', sa.Column('id', sa.Integer, primary_key=True))
        '''))
    return migration.MigrationHistory(str(scripts), 'other_version')


def test_an_independent_history_shares_the_database(engine, tmp_path):
    other = _second_history(tmp_path)
    other.upgrade(engine)
    assert migration.REGISTRY.current(engine) is None
    migration.REGISTRY.upgrade(engine)
    assert (other.current(engine), migration.REGISTRY.current(engine)) == (
        'a1', migration.REGISTRY.head())
    migration.prepare_schema(engine, auto_create=False)
    tables = set(sa.inspect(engine).get_table_names())
    assert {'other', 'other_version', 'images', 'glance_registry_version'} <= tables


def test_prepare_schema_creates_the_schema_when_asked(engine):
    migration.prepare_schema(engine, auto_create=True)
    assert migration.REGISTRY.current(engine) == migration.REGISTRY.head()


def test_prepare_schema_refuses_an_unmigrated_database_without_auto_create(engine):
    with pytest.raises(exception.ConfigError) as info:
        migration.prepare_schema(engine, auto_create=False)
    assert info.value.option == 'db_auto_create'
    assert 'glance-manage db sync' in info.value.message


def test_prepare_schema_reports_a_revision_it_does_not_know(engine):
    migration.REGISTRY.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE glance_registry_version SET version_num = '9999'"))
    with pytest.raises(exception.ConfigError) as info:
        migration.prepare_schema(engine, auto_create=True)
    assert '9999' in info.value.message


def test_prepare_schema_reports_an_unusable_database(tmp_path):
    engine = session.create_engine(
        {'sql_connection': 'sqlite:///%s' % (tmp_path / 'missing-folder' / 'g.sqlite')})
    with pytest.raises(exception.ConfigError) as info:
        migration.prepare_schema(engine, auto_create=True)
    assert info.value.option == 'sql_connection'
    assert 'unable to open database file' in info.value.message


def test_the_blake3_revision_replaces_xxh3_and_downgrades(engine):
    migration.REGISTRY.upgrade(engine, '0001')
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO images (id, status, is_public, created_at, updated_at, deleted, "
            "sha256, xxh3) VALUES ('a', 'active', 1, '2026-01-01', '2026-01-01', 0, "
            "'ab', 'cd')"))
    migration.REGISTRY.upgrade(engine)
    columns = {column['name'] for column in sa.inspect(engine).get_columns('images')}
    assert 'blake3' in columns and 'xxh3' not in columns
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT sha256, blake3 FROM images")).one()
    assert tuple(row) == ('ab', None)
    with engine.begin() as connection:
        command.downgrade(migration.REGISTRY.config(connection), '0001')
    columns = {column['name'] for column in sa.inspect(engine).get_columns('images')}
    assert 'xxh3' in columns and 'blake3' not in columns


def test_openstack_fields_revision_keeps_the_sort_key_triggers(engine):
    migration.REGISTRY.upgrade(engine, '0002_list_indexes')
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO images (id, status, is_public, created_at, updated_at, deleted) "
            "VALUES ('a', 'active', 1, '2026-01-01', '2026-01-01', 0), "
            "('b', 'active', 0, '2026-01-01', '2026-01-01', 0)"))
    migration.REGISTRY.upgrade(engine)
    with engine.connect() as connection:
        rows = dict(connection.execute(sa.text("SELECT id, visibility FROM images")).all())
        triggers = set(connection.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    assert rows == {'a': 'public', 'b': 'shared'}
    assert triggers == {'image_properties_copy_image_keys',
                        'images_copy_keys_to_properties'}
