"""Database engine and sessions of the registry, built once from the daemon's conf.

Only drivers that keep the eventlet hub responsive are accepted, and C drivers are
made to wait through the hub (:mod:`glance.registry.db.drivers`). SQLite calls are
short operations on a local file, run without yielding.

================ ======================= ==========================================
option           default                 meaning
================ ======================= ==========================================
sql_connection   sqlite:///glance.sqlite SQLAlchemy URL; a relative SQLite path is
                                         taken from the conf file's folder
sql_pool_size    5                       connections kept open (MySQL/PostgreSQL)
sql_max_overflow 10                      extra connections opened under load
sql_pool_timeout 30                      seconds to wait for a free connection
sql_pool_recycle 3600                    seconds after which a connection is
                                         renewed (-1: never)
================ ======================= ==========================================
"""

import contextlib
import logging
import os
import sqlite3
import time
import weakref

import sqlalchemy as sa
from sqlalchemy import event, exc, orm, pool

from glance.common import config, exception, log, metrics
from glance.registry.db import drivers

DEFAULT_CONNECTION = 'sqlite:///glance.sqlite'

# Errors meaning "the database cannot be used right now" (server gone, connection
# refused or reset mid-statement, pool exhausted, SQLite file locked): answered with
# 503, never 500. DisconnectionError covers the pool invalidating itself after a
# reset during a flush (InvalidatePoolError). See
# also is_unavailable().
UNAVAILABLE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
                      exc.DisconnectionError)


# SQLSTATEs of a transaction that lost a race with another one and was rolled back:
# serialization failure, deadlock, lock not available. PyMySQL reports MariaDB's
# deadlocks and lock wait timeouts as OperationalError; pg8000 reports these with
# the generic class of every server error.
TRANSIENT_SQLSTATES = ('40001', '40P01', '55P03')


def _sqlstate(err):
    orig = getattr(err, 'orig', None)
    # psycopg names it sqlstate, psycopg2 pgcode; pg8000 keeps the server's fields.
    code = getattr(orig, 'sqlstate', None) or getattr(orig, 'pgcode', None)
    if code:
        return code
    args = getattr(orig, 'args', None)
    if args and isinstance(args[0], dict):
        return args[0].get('C')
    return None


def is_unavailable(err):
    """True when a SQLAlchemy error means the database cannot be used right now.

    That is one of :data:`UNAVAILABLE_ERRORS`, any driver error that broke the
    connection or happened while opening one (e.g. pg8000 reports a dropped database
    as a ProgrammingError at connect time), or a transaction rolled back because it
    collided with another (:data:`TRANSIENT_SQLSTATES`): retrying later may succeed.
    """
    return (isinstance(err, UNAVAILABLE_ERRORS)
            or bool(getattr(err, 'connection_invalidated', False))
            or _sqlstate(err) in TRANSIENT_SQLSTATES)


def parse_url(conf):
    """Read ``sql_connection`` and check its driver.

    :param conf: the merged conf dict (``config_file`` locates relative SQLite paths).
    :returns: a :class:`sqlalchemy.engine.URL`.
    :raises ConfigError: for an unparsable URL or a driver that would block eventlet.
    """
    opts = config.Options(conf)
    text = opts.get_str('sql_connection', DEFAULT_CONNECTION)
    try:
        url = sa.engine.make_url(text)
    except exc.ArgumentError:
        raise exception.ConfigError('sql_connection', opts.section,
                                    'not a SQLAlchemy database URL')
    drivers.check(url, opts.section)
    if url.get_backend_name() == 'sqlite' and url.database and url.database != ':memory:' \
            and not os.path.isabs(url.database):
        folder = os.path.dirname(conf['config_file']) if conf.get('config_file') else ''
        url = url.set(database=os.path.abspath(os.path.join(folder, url.database)))
    return url


def _connect_errors_are_disconnects(context):
    # Failing to open a connection (server gone, database dropped, login refused)
    # leaves no usable connection whatever error class the driver chose: mark it so
    # that is_unavailable() sees it.
    if context.connection is None:
        context.is_disconnect = True


class _PoolCleanupOneLine(logging.Filter):
    """Shorten SQLAlchemy's pool reports of connections that could not be closed.

    After a database restart the pool closes the connections the server already
    dropped, and logs each failure with a full traceback at ERROR. The request that
    found the connection dead has already been answered (retried or 503), so that
    is expected: one warning line naming the error type is kept instead.
    """

    def filter(self, record):
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = '%s (%s)' % (record.getMessage(),
                                      type(record.exc_info[1]).__name__)
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, 'WARNING'
        return True


def _enable_sqlite_foreign_keys(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute('PRAGMA foreign_keys=ON')
    cursor.close()


def _count_pool_use(engine):
    # Prometheus: the pool's size, and how many of its connections requests hold now.
    metrics.DB_POOL_SIZE.inc(engine.pool.size() if hasattr(engine.pool, 'size') else 1)
    event.listen(engine, 'checkout', lambda *args: metrics.DB_POOL_CHECKED_OUT.inc())
    event.listen(engine, 'checkin', lambda *args: metrics.DB_POOL_CHECKED_OUT.dec())


def create_engine(conf, reads=False):
    """Build the engine described by the ``sql_*`` options.

    A SQLite file gets a pool of one connection: green threads then queue for it (a
    green wait) instead of blocking the whole hub in SQLite's busy-wait on a locked
    file. An in-memory SQLite database is one shared connection.

    Server databases get a pool whose connections are pinged at checkout (``SELECT
    1``), so a connection broken by a database restart is replaced before a change
    is written through it. With ``reads``, the connections run in autocommit and are
    never pinged, committed or rolled back: a read costs its statements alone, and a
    broken connection is found by the read itself, which :meth:`Database.read` then
    runs once more on a new connection.

    :param conf: the merged conf dict.
    :param reads: build the engine for reads only (server databases).
    :returns: a :class:`sqlalchemy.engine.Engine` (no connection opened yet).
    :raises ConfigError: for a bad URL or pool option.
    """
    url = parse_url(conf)
    opts = config.Options(conf)
    timeout = opts.get_float('sql_pool_timeout', 30.0, minimum=0)
    if url.get_backend_name() == 'sqlite':
        if url.database in (None, '', ':memory:'):
            engine = sa.create_engine(url, poolclass=pool.StaticPool,
                                      connect_args={'check_same_thread': False})
        else:
            engine = sa.create_engine(url, poolclass=pool.QueuePool, pool_size=1,
                                      max_overflow=0, pool_timeout=timeout)
        event.listen(engine, 'connect', _enable_sqlite_foreign_keys)
    else:
        drivers.cooperate(url)
        read_options = ({'isolation_level': 'AUTOCOMMIT', 'pool_reset_on_return': None,
                         'skip_autocommit_rollback': True} if reads
                        else {'pool_pre_ping': True})
        engine = sa.create_engine(
            url, **read_options, connect_args=drivers.connect_args(url),
            pool_size=opts.get_int('sql_pool_size', 5, minimum=1),
            max_overflow=opts.get_int('sql_max_overflow', 10, minimum=0),
            pool_timeout=timeout,
            pool_recycle=opts.get_int('sql_pool_recycle', 3600, minimum=-1))
    event.listen(engine, 'handle_error', _connect_errors_are_disconnects)
    # SQLAlchemy logs from a logger named after the pool class; a filter applies only
    # where the record is made, not on parent loggers.
    pool_class = type(engine.pool)
    pool_log = logging.getLogger('%s.%s' % (pool_class.__module__, pool_class.__name__))
    if not any(isinstance(item, _PoolCleanupOneLine) for item in pool_log.filters):
        pool_log.addFilter(_PoolCleanupOneLine())
    _forget_pool_in_children(engine)
    _count_pool_use(engine)
    return engine


def _forget_pool_in_children(engine):
    # A worker forked by the pre-fork master (glance.common.prefork) inherits the
    # master's pooled connections: two processes talking on one database socket
    # corrupt each other's conversations. The child drops them unclosed (closing
    # would end the master's session) and opens its own.
    engine_ref = weakref.ref(engine)

    def forget():
        forked = engine_ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=forget)


def describe_error(err, detail=False):
    """Describe a database error without echoing SQL statements or parameters.

    :param err: a :class:`sqlalchemy.exc.SQLAlchemyError`.
    :param detail: add the driver's own message (which names host, database and
        user, never the password), for operators at start-up and in glance-manage.
    :returns: e.g. ``OperationalError`` or ``OperationalError: (2003, "Can't connect
        ...")``.
    """
    orig = getattr(err, 'orig', None)
    name = type(orig or err).__name__
    if not detail or orig is None:
        return name
    return '%s: %s' % (name, log.redact(str(orig))[:300])


def _begin_immediate(sqlite_connection):
    """Begin a SQLite transaction holding the file's write lock (``BEGIN IMMEDIATE``).

    The driver would otherwise begin the transaction only at the first write, after
    the reads it depends on (an update's current status and properties), and a writer
    in another process could change them in between. While another process holds the
    lock, this waits in short sleeps (green under eventlet) rather than in SQLite's
    busy handler, which would freeze every request of this process, health checks
    included; it gives up after the connection's busy timeout (5 s by default).

    :raises ServiceUnavailable: when the lock is still held after the busy timeout.
    """
    patience = sqlite_connection.execute('PRAGMA busy_timeout').fetchone()[0] / 1000
    deadline = time.monotonic() + patience
    delay = 0.001
    sqlite_connection.execute('PRAGMA busy_timeout = 0')
    try:
        while True:
            try:
                sqlite_connection.execute('BEGIN IMMEDIATE')
                return
            except sqlite3.OperationalError as err:
                if 'locked' not in str(err) or time.monotonic() >= deadline:
                    raise exception.ServiceUnavailable(
                        reason='database busy (SQLite: %s)' % err) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    finally:
        sqlite_connection.execute('PRAGMA busy_timeout = %d' % (patience * 1000))


class Database:
    """The registry's engines and session factory.

    :param engine: a :class:`sqlalchemy.engine.Engine`.
    :param read_engine: an engine built with ``reads=True`` on the same database, for
        :meth:`read`; default ``engine``.
    """

    def __init__(self, engine, read_engine=None):
        self.engine = engine
        self.read_engine = read_engine or engine
        #: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``.
        self.dialect_name = engine.dialect.name
        self._sessions = orm.sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_conf(cls, conf):
        """Build a :class:`Database` from the ``sql_*`` options (see :func:`create_engine`).

        A server database gets a second engine (and pool) for reads; SQLite keeps one
        connection for everything.
        """
        engine = create_engine(conf)
        if engine.dialect.name == 'sqlite':
            return cls(engine)
        return cls(engine, create_engine(conf, reads=True))

    @contextlib.contextmanager
    def _unavailable_as_503(self):
        try:
            yield
        except exc.SQLAlchemyError as err:
            if not is_unavailable(err):
                raise
            raise exception.ServiceUnavailable(
                reason='database unavailable (%s)' % describe_error(err)) from None
        # A connection reset while SQLAlchemy returns a broken connection to its pool
        # reaches us as the driver's bare socket error, unwrapped.
        except OSError as err:
            raise exception.ServiceUnavailable(
                reason='database unavailable (%s)' % type(err).__name__) from None

    @contextlib.contextmanager
    def session(self):
        """A session in one transaction: committed on success, rolled back on error.

        On SQLite the transaction takes the file's write lock first (see
        :func:`_begin_immediate`).

        :raises ServiceUnavailable: when the database cannot be reached or is locked.
        """
        with self._unavailable_as_503(), self._sessions.begin() as session:
            if self.engine.dialect.name == 'sqlite':
                _begin_immediate(session.connection().connection.dbapi_connection)
            yield session

    def read(self, work):
        """Run ``work(connection)`` on a Core connection for reads; return its result.

        On a server database each statement commits by itself (autocommit; a page is
        one statement, a marker lookup one more), which saves the COMMIT round trip
        a transaction would cost every request, and the connection is not pinged
        first. When the database has dropped the connection (a restart, an idle
        timeout), the statement fails, the pool drops every connection of that age,
        and ``work`` runs once more on a new one: ``work`` must only read.

        :raises ServiceUnavailable: when the database cannot be reached or is locked.
        """
        with self._unavailable_as_503():
            try:
                with self.read_engine.connect() as connection:
                    return work(connection)
            except exc.DBAPIError as err:
                if not err.connection_invalidated:
                    raise
            with self.read_engine.connect() as connection:
                return work(connection)

    def ping(self):
        """Run ``SELECT 1`` (the detailed health check).

        :returns: ``{'backend': <dialect name>}``.
        :raises ServiceUnavailable: when the database cannot be reached or fails.
        """
        try:
            self.read(lambda connection: connection.execute(sa.text('SELECT 1')))
        except exc.SQLAlchemyError as err:
            raise exception.ServiceUnavailable(
                reason='database error (%s)' % describe_error(err)) from None
        return {'backend': self.engine.url.get_backend_name()}

    def dispose(self):
        """Close every pooled connection."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
