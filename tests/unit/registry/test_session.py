"""Database URLs and engines: only drivers that keep eventlet responsive."""

import os
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy import pool

from glance.common import exception
from glance.registry.db import session


@pytest.mark.parametrize('url, advice', [
    ('mysql://glance:pw@db/glance', 'mysql+pymysql://'),
    ('mysql+mysqldb://glance:pw@db/glance', 'mysql+pymysql://'),
    ('mariadb+mariadbconnector://db/glance', 'mysql+pymysql://'),
    ('postgresql://glance:pw@db/glance', 'postgresql+psycopg://'),
    ('postgres://db/glance', 'postgresql+psycopg://'),
    ('postgresql+asyncpg://db/glance', 'postgresql+psycopg://'),
    ('sqlite+aiosqlite:///x.db', 'sqlite'),
    ('oracle://db/glance', 'sqlite:///'),
    ('not a url', 'URL'),
])
def test_blocking_or_unknown_drivers_stop_startup_with_advice(url, advice):
    with pytest.raises(exception.ConfigError) as info:
        session.parse_url({'sql_connection': url})
    assert info.value.option == 'sql_connection'
    assert advice in info.value.message
    assert 'pw' not in info.value.message


@pytest.mark.parametrize('url', ['sqlite://', 'sqlite:///:memory:', 'sqlite:////tmp/g.db',
                                 'sqlite+pysqlite:////tmp/g.db',
                                 'mysql+pymysql://u:p@h/d', 'mariadb+pymysql://h/d',
                                 'postgresql+pg8000://u@h:5432/d',
                                 'postgresql+psycopg://u@h/d', 'postgresql+psycopg2://h/d'])
def test_drivers_that_wait_through_the_hub_are_accepted(url):
    assert session.parse_url({'sql_connection': url}).drivername == url.split(':')[0]


def test_relative_sqlite_path_is_taken_from_the_conf_folder(tmp_path):
    conf = {'sql_connection': 'sqlite:///state/g.sqlite',
            'config_file': str(tmp_path / 'etc' / 'glance-registry.conf')}
    url = session.parse_url(conf)
    assert url.database == str(tmp_path / 'etc' / 'state' / 'g.sqlite')


def test_default_is_a_sqlite_file_beside_the_conf(tmp_path):
    url = session.parse_url({'config_file': str(tmp_path / 'glance-registry.conf')})
    assert url.database == os.path.join(str(tmp_path), 'glance.sqlite')


def test_sqlite_file_gets_a_single_connection_pool(tmp_path):
    engine = session.create_engine({'sql_connection': 'sqlite:///%s' % (tmp_path / 'g')})
    assert isinstance(engine.pool, pool.QueuePool)
    assert engine.pool.size() == 1 and engine.pool._max_overflow == 0
    with engine.connect() as connection:
        assert connection.execute(sa.text('PRAGMA foreign_keys')).scalar() == 1


def test_in_memory_sqlite_is_one_shared_connection():
    engine = session.create_engine({'sql_connection': 'sqlite://'})
    assert isinstance(engine.pool, pool.StaticPool)


@pytest.mark.parametrize('reads', [False, True])
def test_server_databases_get_a_pool_from_the_options(reads):
    engine = session.create_engine({
        'sql_connection': 'postgresql+pg8000://glance@127.0.0.1/glance',
        'sql_pool_size': '3', 'sql_max_overflow': '0', 'sql_pool_timeout': '2',
        'sql_pool_recycle': '60'}, reads=reads)
    # Changes are written through pinged connections; reads find a dropped
    # connection themselves and run once more (Database.read).
    assert engine.pool._pre_ping is not reads
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout,
            engine.pool._recycle) == (3, 0, 2.0, 60)


@pytest.mark.parametrize('option, value', [('sql_pool_size', '0'),
                                           ('sql_max_overflow', 'many'),
                                           ('sql_pool_timeout', '-1')])
def test_bad_pool_options_name_the_option(option, value):
    with pytest.raises(exception.ConfigError) as info:
        session.create_engine({'sql_connection': 'mysql+pymysql://h/d', option: value})
    assert info.value.option == option


def test_unavailable_database_becomes_service_unavailable():
    database = session.Database.from_conf(
        {'sql_connection': 'postgresql+pg8000://glance:hunter2@127.0.0.1:1/glance'})
    with pytest.raises(exception.ServiceUnavailable) as info:
        with database.session() as db_session:
            db_session.execute(sa.text('SELECT 1'))
    assert 'hunter2' not in info.value.message
    assert 'database unavailable' in info.value.message


def test_describe_error_never_shows_sql_or_parameters():
    engine = session.create_engine({'sql_connection': 'sqlite://'})
    with pytest.raises(sa.exc.OperationalError) as info:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT * FROM missing WHERE x = 'secret'"))
    assert session.describe_error(info.value) == 'OperationalError'
    detailed = session.describe_error(info.value, detail=True)
    assert 'missing' in detailed and 'secret' not in detailed


def test_ping_names_the_backend_or_reports_the_database_unavailable(tmp_path):
    database = session.Database.from_conf(
        {'sql_connection': 'sqlite:///%s' % (tmp_path / 'ok.sqlite')})
    assert database.ping() == {'backend': 'sqlite'}
    database.dispose()
    broken = session.Database.from_conf(
        {'sql_connection': 'sqlite:///%s' % (tmp_path / 'missing' / 'x.sqlite')})
    with pytest.raises(exception.ServiceUnavailable):
        broken.ping()


def test_a_pool_invalidated_by_a_reset_connection_means_unavailable():
    assert session.is_unavailable(sa.exc.InvalidatePoolError())
    assert session.is_unavailable(sa.exc.DisconnectionError('reset'))
    assert not session.is_unavailable(sa.exc.IntegrityError('x', {}, Exception()))


def test_a_bare_socket_error_from_the_driver_is_503_not_500(tmp_path):
    database = session.Database.from_conf(
        {'sql_connection': 'sqlite:///%s' % (tmp_path / 'ok.sqlite')})
    def reset(*args):
        raise ConnectionResetError(104, 'Connection reset by peer')

    def in_session(work):
        with database.session():
            work()

    for use in (database.read, in_session):
        with pytest.raises(exception.ServiceUnavailable) as info:
            use(reset)
        assert 'ConnectionResetError' in info.value.message
    database.dispose()


def test_a_transaction_that_lost_a_race_is_503_not_500():
    def error(sqlstate):
        return sa.exc.ProgrammingError('UPDATE images', {}, Exception(
            {'S': 'ERROR', 'C': sqlstate, 'M': 'deadlock detected'}))
    for sqlstate in ('40001', '40P01', '55P03'):
        assert session.is_unavailable(error(sqlstate))
    assert not session.is_unavailable(error('42P01'))
    assert not session.is_unavailable(sa.exc.ProgrammingError('x', {}, Exception()))


def test_psycopg_reports_the_race_in_its_own_attribute():
    import psycopg.errors

    def error(sqlstate):
        return sa.exc.DBAPIError('UPDATE images', {},
                                 psycopg.errors.lookup(sqlstate)('lost'))
    for sqlstate in ('40001', '40P01', '55P03'):
        assert session.is_unavailable(error(sqlstate))
    assert not session.is_unavailable(sa.exc.ProgrammingError(
        'x', {}, psycopg.errors.lookup('42P01')('missing')))


@pytest.fixture
def two_registries_on_one_sqlite_file(tmp_path):
    """Factory: ``make(busy_timeout)`` → two Databases on one SQLite file, as two
    registry processes would have; disposed after the test."""
    made = []

    def make(busy_timeout):
        url = 'sqlite:///%s?timeout=%s' % (tmp_path / 'shared.sqlite', busy_timeout)
        made.extend(session.Database.from_conf({'sql_connection': url})
                    for _ in range(2))
        return made[-2:]

    yield make
    for database in made:
        database.dispose()


def test_a_sqlite_write_session_holds_the_write_lock_from_its_start(
        two_registries_on_one_sqlite_file):
    # While one write session is open (it has only read so far), another cannot
    # start one; it waits for the lock, here 0.1 s, and gets a 503 rather than
    # writing on top of what the first one read.
    first, second = two_registries_on_one_sqlite_file(0.1)
    with first.session() as db_session:
        db_session.execute(sa.text('SELECT 1'))
        with pytest.raises(exception.ServiceUnavailable):
            with second.session() as other:
                other.execute(sa.text('SELECT 1'))
    with second.session() as other:
        other.execute(sa.text('SELECT 1'))


def test_a_sqlite_writer_waits_for_the_write_lock_then_proceeds(
        two_registries_on_one_sqlite_file):
    first, second = two_registries_on_one_sqlite_file(5)
    with first.session() as db_session:
        db_session.execute(sa.text('CREATE TABLE t (v INTEGER)'))
    holding = threading.Event()

    def hold_the_lock():
        with first.session() as db_session:
            db_session.execute(sa.text('INSERT INTO t VALUES (1)'))
            holding.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait(10)
    started = time.monotonic()
    with second.session() as db_session:
        # The lock is ours only once the first writer has committed.
        assert db_session.execute(sa.text('SELECT count(*) FROM t')).scalar() == 1
        db_session.execute(sa.text('INSERT INTO t VALUES (2)'))
    assert time.monotonic() - started > 0.1
    holder.join(10)
    assert first.read(lambda connection: connection.execute(
        sa.text('SELECT count(*) FROM t')).scalar()) == 2
    # The connection's own busy timeout is back for the statements that follow.
    raw = second.engine.raw_connection()
    try:
        assert raw.driver_connection.execute('PRAGMA busy_timeout').fetchone()[0] == 5000
    finally:
        raw.close()
