"""The database drivers the registry accepts, and keeping them off the hub's back.

Both daemons serve every request of a process from one eventlet hub: a driver call
that blocks the process blocks every other request and image stream of it. A
driver is accepted only when its waits go through the hub:

============ =================== ===================================================
database     drivers (URL)       why they cooperate with eventlet
============ =================== ===================================================
PostgreSQL   ``psycopg``         libpq in non-blocking mode; psycopg waits in Python
             (recommended)       between protocol steps, and :func:`cooperate`
                                 makes that wait the hub's (``select``), not libpq's
                                 own ``poll``, which psycopg's C speedups pick
             ``psycopg2``        the same through psycogreen's wait callback
                                 (``pip install glance[psycopg2]``)
             ``pg8000``          pure Python: its sockets are green
MySQL,       ``pymysql``         pure Python: its sockets are green
MariaDB
SQLite       ``pysqlite``        short calls on a local file (one pooled connection)
============ =================== ===================================================

mysqlclient (``mysql+mysqldb``) waits inside its C library with no way to hand the
wait to the hub, so one slow query would stall the whole process; it and other
drivers stop start-up with a :class:`ConfigError` naming the URL to use. Why
psycopg is the recommended PostgreSQL driver is measured in ``bench/README.md``
(README.rst, "Choosing the database driver").
"""

import sys

from glance.common import exception

#: Accepted drivers per database, the recommended one first.
ACCEPTED = {'sqlite': ('', 'pysqlite'), 'mysql': ('pymysql',), 'mariadb': ('pymysql',),
            'postgresql': ('psycopg', 'psycopg2', 'pg8000')}
RECOMMENDED = {'sqlite': 'sqlite:///path (the standard library driver)',
               'mysql': 'mysql+pymysql://user:password@host/dbname',
               'postgresql': 'postgresql+psycopg://user:password@host/dbname'}
RECOMMENDED['mariadb'] = RECOMMENDED['mysql']
RECOMMENDED['postgres'] = RECOMMENDED['postgresql']
_WHY = {'mysql': 'PyMySQL is pure Python, so queries do not block the eventlet hub',
        'postgresql': 'psycopg, psycopg2 and pg8000 hand their waits to the eventlet '
                      'hub'}
_WHY['mariadb'] = _WHY['mysql']
_WHY['postgres'] = _WHY['postgresql']


def _advice(backend):
    why = _WHY.get(backend)
    return 'use %s%s' % (RECOMMENDED[backend], ' (%s)' % why if why else '')


def check(url, section):
    """Refuse a URL whose database or driver is not in :data:`ACCEPTED`.

    :param url: a :class:`sqlalchemy.engine.URL`.
    :param section: the conf section named in the error.
    :raises ConfigError: naming the URL to use instead.
    """
    backend, _, driver = url.drivername.partition('+')
    if backend not in ACCEPTED:
        raise exception.ConfigError(
            'sql_connection', section,
            _advice(backend) if backend in RECOMMENDED else
            'unsupported database %r; use sqlite:///path, mysql+pymysql:// or '
            'postgresql+psycopg://' % backend)
    if driver not in ACCEPTED[backend]:
        raise exception.ConfigError(
            'sql_connection', section,
            'unsupported driver %r: %s' % (url.drivername + '://', _advice(backend)))


def connect_args(url):
    """Extra arguments of the driver's ``connect()`` for ``url``.

    psycopg prepares a statement on the server once it has run five times, and
    PostgreSQL may then plan it once for any values (a generic plan): a marker page
    planned without its marker walked every matching image (87 ms instead of 4 at
    100k images). Unnamed statements are planned for their values each time, as the
    plans the functional tests check with EXPLAIN.
    """
    if url.get_driver_name() == 'psycopg':
        return {'prepare_threshold': None}
    return {}


def _hub_is_in_charge():
    patcher = sys.modules.get('eventlet.patcher')
    return patcher is not None and patcher.is_monkey_patched('select')


def cooperate(url):
    """Make the driver of ``url`` wait through the eventlet hub, when there is one.

    Without eventlet's monkey-patching (threads, e.g. gunicorn's gthread workers) a
    blocking wait holds only its own thread, and nothing is changed.

    :param url: a checked :class:`sqlalchemy.engine.URL`.
    """
    if not _hub_is_in_charge():
        return
    driver = url.get_driver_name()
    if driver == 'psycopg':
        from psycopg import waiting
        # wait_select calls select.select, which eventlet replaced by the hub's.
        waiting.wait = waiting.wait_select
    elif driver == 'psycopg2':
        from psycogreen import eventlet as green_psycopg2
        green_psycopg2.patch_psycopg()
