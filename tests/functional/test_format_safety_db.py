"""Migration 0002_format_safety on real SQLite, MariaDB and PostgreSQL databases.

The migrated schema must be exactly the models' (the two new columns included), and
a real glance-registry on each database keeps a ``virtual_size`` beyond 32 bits and a
``detected_format`` set by a service caller.
"""

import http.client
import json
import urllib.parse

import pytest
import sqlalchemy as sa
from alembic import autogenerate
from alembic.runtime import migration as alembic_migration

from glance.registry.db import migration, models, session

SERVICE = {'X-Tenant-Id': 'ops', 'X-User-Id': 'glance', 'X-Service-Roles': 'service',
           'Content-Type': 'application/json'}


@pytest.mark.filterwarnings('ignore:Skipped unsupported reflection of expression-based')
def test_migrations_build_exactly_the_models_with_the_new_columns(database_url):
    engine = session.create_engine({'sql_connection': database_url})
    try:
        migration.REGISTRY.upgrade(engine)
        assert migration.REGISTRY.current(engine) == migration.REGISTRY.head()
        columns = {column['name']: column for column in
                   sa.inspect(engine).get_columns('images')}
        assert columns['detected_format']['nullable'] and columns['virtual_size']['nullable']
        with engine.connect() as connection:
            context = alembic_migration.MigrationContext.configure(
                connection, opts={'include_object': migration.include_object,
                                  'compare_type': True})
            assert autogenerate.compare_metadata(context, models.Base.metadata) == []
    finally:
        engine.dispose()


def _call(daemon, method, path, body=None):
    parts = urllib.parse.urlsplit(daemon.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, json.dumps(body) if body else None, SERVICE)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b'null')
    finally:
        connection.close()


def test_a_registry_keeps_what_glance_api_detected(database_url, make_registry):
    registry = make_registry(sql_connection=database_url)
    status, body = _call(registry, 'POST', '/images', {'image': {'name': 'big'}})
    assert status == 201, body
    image_id = body['image']['id']
    assert body['image']['detected_format'] is None
    assert body['image']['virtual_size'] is None
    update = {'image': {'detected_format': 'qcow2', 'virtual_size': 10 * 1024 ** 4}}
    status, body = _call(registry, 'PUT', '/images/' + image_id, update)
    assert status == 200, body
    status, body = _call(registry, 'GET', '/images/' + image_id)
    assert (body['image']['detected_format'], body['image']['virtual_size']) == (
        'qcow2', 10 * 1024 ** 4)
