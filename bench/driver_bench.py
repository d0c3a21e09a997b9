#!/usr/bin/env python3
"""Choose the database drivers: CPU per registry request and eventlet cooperation.

For each database (PostgreSQL, MariaDB) the benchmark seeds one database with the
data set of ``registry_bench.py`` (``--images`` images), then measures every driver
on that same database, each in its own process (psycopg's C and pure-Python modes
are chosen at import), in interleaved rounds so that load changes on a shared
machine hit every driver alike:

* **get** and **page**: the registry app (``glance.registry.api.build_app``) called
  in-process, as its WSGI server would (no HTTP), for ``GET /images/<id>`` and a
  25-image detail page filtered by a property and sorted by name: wall-clock p50 and
  CPU time per request of the process (what the driver, SQLAlchemy and the registry
  cost together; the database server's own time is not in the CPU figure);
* **stall**: a green thread runs a slow query (``pg_sleep`` / ``SLEEP``,
  ``--sleep`` seconds) through the registry's :class:`Database` while the main green
  thread keeps calling ``GET /images/<id>``: a driver that cooperates with the
  eventlet hub serves many GETs during the slow query, a blocking one none (its
  longest GET then lasts the whole query).

mysqlclient (``mysql+mysqldb``) is refused by the registry
(:mod:`glance.registry.db.drivers`); it is admitted here, in the measuring process
only, to show why. Needs the drivers installed (``pip install psycopg[binary]
psycopg2-binary psycogreen mysqlclient``); missing ones are reported and skipped.

    .venv/bin/python bench/driver_bench.py --images 1000 --rounds 3 --requests 300
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, 'bench'))

#: (label, database kind, driver, extra environment)
CANDIDATES = (
    ('pg8000', 'postgresql', 'pg8000', {}),
    ('psycopg (C)', 'postgresql', 'psycopg', {'PSYCOPG_IMPL': 'binary'}),
    ('psycopg (C), without drivers.cooperate', 'postgresql', 'psycopg',
     {'PSYCOPG_IMPL': 'binary', 'GLANCE_BENCH_NO_COOPERATE': '1'}),
    ('psycopg (pure Python)', 'postgresql', 'psycopg', {'PSYCOPG_IMPL': 'python'}),
    ('psycopg2 + psycogreen', 'postgresql', 'psycopg2', {}),
    ('PyMySQL', 'mysql', 'pymysql', {}),
    ('mysqlclient', 'mysql', 'mysqldb', {}),
    ('mysqlclient in eventlet.tpool threads', 'mysql', 'mysqldb',
     {'GLANCE_BENCH_TPOOL': '1'}),
)
SLEEP_SQL = {'postgresql': 'SELECT pg_sleep(%s)', 'mysql': 'SELECT SLEEP(%s)'}
PAGE = ('/images/detail?property-os_distro=ubuntu&sort_key=name&sort_dir=asc'
        '&limit=25')
HEADERS = {'X-Tenant-Id': 'tenant-07', 'X-User-Id': 'bench', 'X-Roles': 'member'}


def _percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(url, requests, sleep):
    """In the child process: time the app on ``url``; returns a result dict."""
    import eventlet
    eventlet.monkey_patch()
    import webob

    from glance.middleware import context as context_filter
    from glance.registry import api
    from glance.registry.db import drivers, session

    kind = url.split('+')[0]
    driver = url.split('+')[1].split(':')[0]
    if os.environ.get('GLANCE_BENCH_NO_COOPERATE'):
        drivers.cooperate = lambda url: None
    if driver not in drivers.ACCEPTED[kind]:
        # Admitted in this measuring process only (see the module docstring).
        drivers.ACCEPTED[kind] += (driver,)
    database = session.Database.from_conf({'sql_connection': url})
    if os.environ.get('GLANCE_BENCH_TPOOL'):
        from eventlet import tpool
        from sqlalchemy import event

        def threaded(dialect, conn_rec, cargs, cparams):
            return tpool.Proxy(dialect.loaded_dbapi.connect(*cargs, **cparams),
                               autowrap_names=('cursor',))
        for engine in {database.engine, database.read_engine}:
            engine.dispose()
            event.listen(engine, 'do_connect', threaded)
    app = context_filter.filter_factory({}, trusted_gateway='true')(
        api.build_app(database))

    def call(path):
        response = webob.Request.blank(path, headers=HEADERS).get_response(app)
        if response.status_int != 200:
            raise RuntimeError('%s: %s' % (path, response.body[:200]))
        return response

    ids = [image['id'] for image in json.loads(call('/images?limit=25').body)['images']]
    result = {}
    for name, paths in (('get', ['/images/' + image_id for image_id in ids]),
                        ('page', [PAGE])):
        for index in range(30):
            call(paths[index % len(paths)])
        samples = []
        cpu = time.process_time()
        for index in range(requests):
            started = time.perf_counter()
            call(paths[index % len(paths)])
            samples.append((time.perf_counter() - started) * 1000)
        result[name + '_cpu_ms'] = (time.process_time() - cpu) * 1000 / requests
        result[name + '_p50_ms'] = _percentile(samples, 0.5)

    slow = eventlet.spawn(database.read, lambda connection: connection.exec_driver_sql(
        SLEEP_SQL[kind] % sleep).all())
    gets, longest = 0, 0.0
    began = time.perf_counter()
    eventlet.sleep(0)     # the slow query starts; a blocking driver returns only now
    while True:
        longest = max(longest, time.perf_counter() - began)
        if slow.dead or gets >= 100000:
            break
        began = time.perf_counter()
        call('/images/' + ids[gets % len(ids)])
        gets += 1
    slow.wait()
    # longest: the longest time the main green thread waited for one step.
    result.update(stall_gets=gets, stall_longest_ms=longest * 1000)
    database.dispose()
    return result


def _run_child(label, url, environ, args):
    env = dict(os.environ, **environ)
    command = [sys.executable, os.path.abspath(__file__), '--child', url,
               '--requests', str(args.requests), '--sleep', str(args.sleep)]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        tail = ' | '.join(done.stderr.strip().splitlines()[-3:]) or '?'
        print('%s: skipped (%s)' % (label, tail), flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    """Seed, measure every candidate in interleaved rounds, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--images', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--sleep', type=float, default=0.5,
                        help='seconds of the slow query (default: %(default)s)')
    parser.add_argument('--databases', default='postgresql,mysql')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.requests, args.sleep)))
        return 0

    import registry_bench
    from glance.registry.db import migration, session
    from tests.functional.databases import TestDatabase

    load = os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix='glance-drivers-') as work:
        for kind in args.databases.split(','):
            database = TestDatabase(kind, work)
            try:
                engine = session.create_engine({'sql_connection': database.url})
                migration.REGISTRY.upgrade(engine, registry_bench.FIRST_REVISION)
                registry_bench.seed(engine, args.images)
                migration.REGISTRY.upgrade(engine)
                registry_bench.analyze(engine)
                engine.dispose()
                candidates = [item for item in CANDIDATES if item[1] == kind]
                for _ in range(args.rounds):
                    for label, _, driver, environ in candidates:
                        url = registry_bench.with_driver(database.url, driver)
                        measured = _run_child(label, url, environ, args)
                        if measured is not None:
                            results.setdefault(label, []).append(measured)
            finally:
                database.drop()
    print('\n%d images, %d rounds of %d requests, slow query %.1f s; load average '
          '%.2f at the start, %.2f at the end\n' % (args.images, args.rounds,
                                                    args.requests, args.sleep, load,
                                                    os.getloadavg()[0]))
    print('| driver | GET p50 ms | GET CPU ms | page p50 ms | page CPU ms | '
          'GETs served during the slow query | longest wait of the other green thread (ms) |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for label, rounds in results.items():
        def median(key):
            return statistics.median(item[key] for item in rounds)
        print('| %s | %.2f | %.2f | %.2f | %.2f | %d | %.0f |' % (
            label, median('get_p50_ms'), median('get_cpu_ms'), median('page_p50_ms'),
            median('page_cpu_ms'), median('stall_gets'), median('stall_longest_ms')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
