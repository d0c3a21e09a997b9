"""Real databases for functional tests: a fresh SQLite file, MariaDB or PostgreSQL database.

The servers are the machine's own (MariaDB at 127.0.0.1:3306 as root with no password,
PostgreSQL at 127.0.0.1:5432 with trust auth); each test database gets a unique name
and is dropped afterwards. When a server is unreachable the test is skipped, except
under CI (``CI=true``), where a missing server is a failure.

Use the ``database_url`` fixture (parametrised over the three kinds) or
``make_database(kind)`` for more than one database in a test.
"""

import os
import uuid

import pytest

from tests.functional.availability import service_unavailable

KINDS = ('sqlite', 'mysql', 'postgresql')
MYSQL = dict(host='127.0.0.1', port=3306, user='root', password='')
POSTGRES = dict(host='127.0.0.1', port=5432, user='postgres')


def _mysql_execute(statement):
    import pymysql
    connection = pymysql.connect(autocommit=True, connect_timeout=5, **MYSQL)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _postgres_execute(statement):
    import pg8000.native
    connection = pg8000.native.Connection(timeout=10, database='postgres', **POSTGRES)
    try:
        connection.run(statement)
    finally:
        connection.close()


class TestDatabase:
    """One freshly created database.

    :param kind: ``sqlite``, ``mysql`` or ``postgresql``.
    :param folder: where a SQLite file goes.
    """

    def __init__(self, kind, folder):
        self.kind = kind
        self.name = 'glance_test_' + uuid.uuid4().hex[:12]
        if kind == 'sqlite':
            self.url = 'sqlite:///%s' % os.path.join(str(folder), self.name + '.sqlite')
        elif kind == 'mysql':
            _mysql_execute('CREATE DATABASE %s CHARACTER SET utf8mb4' % self.name)
            self.url = ('mysql+pymysql://root@127.0.0.1:3306/%s?charset=utf8mb4'
                        % self.name)
        elif kind == 'postgresql':
            _postgres_execute('CREATE DATABASE %s' % self.name)
            self.url = 'postgresql+psycopg://postgres@127.0.0.1:5432/%s' % self.name
        else:
            raise ValueError('unknown database kind %r' % kind)

    def drop(self):
        """Drop the database (connections must be closed first)."""
        if self.kind == 'mysql':
            _mysql_execute('DROP DATABASE IF EXISTS %s' % self.name)
        elif self.kind == 'postgresql':
            _postgres_execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % self.name)


def create_database(kind, folder):
    """Create a :class:`TestDatabase`; skip the test (fail it under CI) if the server
    is down or refuses us.
    """
    try:
        return TestDatabase(kind, folder)
    except Exception as err:  # connection refused, auth failure: report, not crash
        service_unavailable('%s server unavailable: %s: %s'
                            % (kind, type(err).__name__, err))


@pytest.fixture
def make_database(tmp_path):
    """Factory fixture: ``make_database(kind)`` returns a :class:`TestDatabase`."""
    created = []

    def make(kind):
        database = create_database(kind, tmp_path)
        created.append(database)
        return database

    yield make
    for database in created:
        database.drop()


@pytest.fixture(params=KINDS)
def database_url(request, make_database):
    """A fresh database URL, once per kind: SQLite, MariaDB and PostgreSQL."""
    return make_database(request.param).url
