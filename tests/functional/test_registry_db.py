"""The registry's database life: glance-manage, start-up checks, lost connections.

Everything runs for real: ``bin/glance-manage`` and ``bin/glance-registry`` as
processes, against SQLite, MariaDB and PostgreSQL; connections are killed and
databases dropped on the live servers.
"""

import http.client
import json
import os
import subprocess
import sys
import urllib.parse

import pg8000.native
import pymysql
import pytest

from glance.registry.db import migration
from tests.functional import daemons, databases


def _manage(conf_path, *args):
    command = [sys.executable, os.path.join(daemons.REPO, 'bin', 'glance-manage'),
               '--config-file', conf_path] + list(args)
    env = dict(os.environ, PYTHONPATH=daemons.REPO)
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def _call(daemon, method, path, body=None):
    parts = urllib.parse.urlsplit(daemon.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=None if body is None else json.dumps(body),
                           headers={'X-Tenant-Id': 'alice'})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b'null')
    finally:
        connection.close()


def test_manage_sync_and_version_then_a_registry_without_auto_create(
        tmp_path, database_url, make_registry):
    conf = tmp_path / 'glance-registry.conf'
    conf.write_text('[DEFAULT]\nsql_connection = %s\n' % database_url)

    before = _manage(str(conf), 'db', 'version')
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith('registry schema not created yet')
    with pytest.raises(daemons.DaemonError, match='glance-manage db sync'):
        make_registry(sql_connection=database_url, db_auto_create='false')

    synced = _manage(str(conf), 'db', 'sync')
    head = migration.REGISTRY.head()
    current = 'registry schema at revision %s (newest: %s)\n' % (head, head)
    assert (synced.returncode, synced.stdout) == (0, current), synced.stderr
    after = _manage(str(conf), 'db', 'version')
    assert after.stdout == current

    registry = make_registry(sql_connection=database_url, db_auto_create='false')
    status, body = _call(registry, 'POST', '/images', {'image': {'name': 'synced'}})
    assert status == 201 and body['image']['name'] == 'synced'


def test_manage_refuses_a_blocking_driver(tmp_path):
    conf = tmp_path / 'glance-registry.conf'
    conf.write_text('[DEFAULT]\nsql_connection = mysql://root@127.0.0.1/glance\n')
    result = _manage(str(conf), 'db', 'sync')
    assert result.returncode == 2
    assert 'mysql+pymysql://' in result.stderr and 'Traceback' not in result.stderr


def test_registry_refuses_to_start_on_a_blocking_driver(make_registry):
    with pytest.raises(daemons.DaemonError, match='postgresql\\+psycopg'):
        make_registry(sql_connection='postgresql://postgres@127.0.0.1/postgres')


def _kill_connections(database):
    """Kill every server-side connection to the test database (as a DBA would)."""
    if database.kind == 'mysql':
        connection = pymysql.connect(autocommit=True, **databases.MYSQL)
        try:
            with connection.cursor() as cursor:
                cursor.execute('SELECT id FROM information_schema.processlist '
                               'WHERE db = %s', (database.name,))
                for (thread_id,) in cursor.fetchall():
                    cursor.execute('KILL %d' % thread_id)
        finally:
            connection.close()
    else:
        connection = pg8000.native.Connection(database='postgres', **databases.POSTGRES)
        try:
            connection.run('SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                           'WHERE datname = :name AND pid <> pg_backend_pid()',
                           name=database.name)
        finally:
            connection.close()


@pytest.mark.parametrize('kind', ['mysql', 'postgresql'])
def test_killed_connections_are_replaced_and_a_lost_database_is_503(
        kind, make_database, make_registry):
    database = make_database(kind)
    registry = make_registry(sql_connection=database.url)
    status, created = _call(registry, 'POST', '/images', {'image': {'name': 'kept'}})
    assert status == 201

    _kill_connections(database)
    status, body = _call(registry, 'GET', '/images/' + created['image']['id'])
    assert status == 200 and body['image']['name'] == 'kept'

    database.drop()
    _kill_connections(database)
    status, body = _call(registry, 'GET', '/images')
    assert status == 503
    assert 'database unavailable' in body['error']['message']
    status, _ = _call(registry, 'GET', '/versions')
    assert status == 200
