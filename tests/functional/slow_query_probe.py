"""Run a slow query and quick reads in one eventlet process; print what finished when.

Run as a script by ``test_registry_drivers.py`` (eventlet's monkey-patching must not
happen in the test process itself)::

    python slow_query_probe.py <sql_connection> <slow query seconds> [--no-cooperate]

It opens the registry's :class:`~glance.registry.db.session.Database` on the URL, as
a daemon does after ``eventlet.monkey_patch()``, starts a green thread running a
sleeping query (``pg_sleep`` / ``SLEEP``) and, from the main green thread, runs
quick reads through the same database. It prints one JSON line:
``{"reads": n, "reads_before_slow_done": m}``. A driver that waits through the
hub lets every quick read finish while the slow query still runs (``m == n``); a
driver that blocks the process lets none finish before it (``m == 0``).
``--no-cooperate`` skips :func:`glance.registry.db.drivers.cooperate`, to show the
second case with psycopg's C wait.
"""

import json
import sys

import eventlet

eventlet.monkey_patch()

import sqlalchemy as sa  # noqa: E402

from glance.registry.db import drivers, session  # noqa: E402

QUICK_READS = 20
SLEEP = {'postgresql': 'SELECT pg_sleep(%s)', 'mysql': 'SELECT SLEEP(%s)'}


def main(url, seconds, cooperate=True):
    """Run the probe; returns the JSON-ready result."""
    if not cooperate:
        drivers.cooperate = lambda url: None
    database = session.Database.from_conf({'sql_connection': url})
    sleep = SLEEP[database.dialect_name] % float(seconds)
    def quick_read():
        database.read(lambda connection: connection.execute(sa.text('SELECT 1')).all())

    try:
        # A pooled connection, so that the slow query starts without connecting
        # (connecting waits through the hub with every driver).
        quick_read()
        slow = eventlet.spawn(database.read, lambda connection: connection.execute(
            sa.text(sleep)).all())
        eventlet.sleep(0)
        before = 0
        for _ in range(QUICK_READS):
            quick_read()
            before += not slow.dead
        slow.wait()
        return {'reads': QUICK_READS, 'reads_before_slow_done': before}
    finally:
        database.dispose()


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1], sys.argv[2], '--no-cooperate' not in sys.argv)))
