#!/usr/bin/env python3
"""Latency of the registry's filtered, sorted, paginated image listing.

For each database kind and image count, the benchmark

1. creates a fresh database (a SQLite file, or a PostgreSQL/MariaDB database on the
   local server) and runs the registry's migrations;
2. seeds it with ``count`` images (3 properties each, ~5 % soft-deleted, ~60 % public,
   50 owners) through SQLAlchemy Core bulk inserts on the registry's own models, in
   batches, then runs ``ANALYZE`` on server databases (as autovacuum soon would);
3. starts the real ``glance-registry`` daemon on 127.0.0.1 (shipped paste pipeline);
4. times a fixed number of ``GET /images[/detail]`` requests per scenario through
   :class:`~glance.registry.client.RegistryClient` (one keep-alive connection, as a
   tenant with the ``member`` role), after a fixed warm-up;
5. stops the daemon by PID and drops the database.

Timings are client-side wall time per request (HTTP + JSON decode of 25 records).
Results are printed as a table and written as JSON to ``bench/results/``. With
``--explain`` the SQL that the registry sends for each scenario is captured in-process
from :mod:`glance.registry.db.api` and its plan printed (``EXPLAIN ANALYZE`` on
PostgreSQL, ``EXPLAIN QUERY PLAN`` on SQLite).

Usage::

    .venv/bin/python bench/registry_bench.py --sizes 1000,10000,100000 \\
        --databases sqlite,postgresql --requests 200
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import sqlalchemy as sa  # noqa: E402

from glance.common.context import RequestContext  # noqa: E402
from glance.registry.client import RegistryClient  # noqa: E402
from glance.registry.db import migration, models, session  # noqa: E402
from tests.functional.daemons import registry_daemon  # noqa: E402
from tests.functional.databases import TestDatabase  # noqa: E402

BATCH = 5000
FIRST_REVISION = '0001'
# Related images (the instance_aware filter runs in front of the registry): one
# relation per 5 images, 10 images per instance.
RELATED_EVERY = 5
IMAGES_PER_INSTANCE = 10
INSTALLATION = '5f1c2a8e-3b4d-4e6f-8a9b-0c1d2e3f4a5b'
RELATED_FILTERS = {'nova_installation_uuid': INSTALLATION, 'instance_id': '7'}
MAX_PARAMETERS = 30000
PAGE = 25
DEEP_PAGES = 5
DISTROS = ('ubuntu', 'debian', 'fedora', 'centos', 'rocky', 'alpine', 'arch', 'suse',
           'freebsd', 'windows')
WORDS = ('server', 'desktop', 'minimal', 'cloud', 'base', 'gpu', 'web', 'db', 'build',
         'test', 'edge', 'core', 'lts', 'nightly', 'hardened', 'slim')
BENCH_CONTEXT = RequestContext(tenant='tenant-07', user='bench', roles=['member'])

# (label, detail, registry query filters, sort_key, sort_dir, page number)
SCENARIOS = (
    ('public, by name, page 1', True, {'is_public': 'true'}, 'name', 'asc', 1),
    ('public, by name, page %d' % DEEP_PAGES, True, {'is_public': 'true'}, 'name', 'asc',
     DEEP_PAGES),
    ('os_distro=ubuntu, by name, page 1', True, {'property-os_distro': 'ubuntu'},
     'name', 'asc', 1),
    ('os_distro=ubuntu, by name, page %d' % DEEP_PAGES, True,
     {'property-os_distro': 'ubuntu'}, 'name', 'asc', DEEP_PAGES),
    ('os_distro=ubuntu, by size desc, page 1', True, {'property-os_distro': 'ubuntu'},
     'size', 'desc', 1),
    ('default order, brief, page 1', False, {}, None, None, 1),
)
#: Driver of the daemon's URL per database (``--drivers``); seeding always uses the
#: test databases' own URLs.
DEFAULT_DRIVERS = {'postgresql': 'psycopg', 'mysql': 'pymysql'}


def _image_rows(rng, start, stop, epoch):
    images, properties = [], []
    for index in range(start, stop):
        image_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        created = epoch + datetime.timedelta(seconds=index * 7, microseconds=index)
        deleted = rng.random() < 0.05
        distro = rng.choice(DISTROS)
        images.append({
            'id': image_id,
            'name': '%s-%s-%s-%d' % (distro, rng.choice(WORDS), rng.choice(WORDS), index),
            'status': 'deleted' if deleted else rng.choice(('active',) * 8 + ('queued',
                                                                             'killed')),
            'is_public': rng.random() < 0.6,
            'owner': 'tenant-%02d' % rng.randrange(50),
            'disk_format': rng.choice(('qcow2', 'raw', 'vmdk', 'iso')),
            'container_format': rng.choice(('bare', 'ovf')),
            'size': rng.randrange(1 << 20, 1 << 33),
            'checksum': hashlib.md5(image_id.encode()).hexdigest(),
            'sha256': hashlib.sha256(image_id.encode()).hexdigest(),
            'created_at': created,
            'updated_at': created,
            'deleted_at': created if deleted else None,
            'deleted': deleted,
        })
        properties += [
            {'image_id': image_id, 'name': 'os_distro', 'value': distro},
            {'image_id': image_id, 'name': 'architecture',
             'value': rng.choice(('x86_64', 'aarch64'))},
            {'image_id': image_id, 'name': 'build', 'value': '%08d' % index},
        ]
    return images, properties


def _copy(connection, table, rows):
    """Rows into a PostgreSQL table through psycopg's ``COPY ... FROM STDIN``."""
    columns = list(rows[0])
    cursor = connection.connection.cursor()
    statement = 'COPY %s (%s) FROM STDIN' % (table.name, ', '.join(columns))
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _sqlite_value(value):
    # SQLAlchemy's text form of a timestamp on SQLite (always with microseconds).
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%d %H:%M:%S.%f')
    return value


def _insert(connection, table, rows):
    """Insert ``rows`` (dicts with the same keys) the fastest way the driver has."""
    if connection.dialect.name == 'postgresql' and connection.dialect.driver == 'psycopg':
        _copy(connection, table, rows)
        return
    columns = list(rows[0])
    if connection.dialect.name == 'sqlite':
        # The driver's own executemany, without SQLAlchemy's per-row processing.
        connection.exec_driver_sql(
            'INSERT INTO %s (%s) VALUES (%s)' % (table.name, ', '.join(columns),
                                                 ', '.join(['?'] * len(columns))),
            [tuple(_sqlite_value(row[column]) for column in columns) for row in rows])
        return
    # pg8000 and PyMySQL run an executemany as one round trip per row, and compiling
    # a many-row INSERT through SQLAlchemy is slow, so the VALUES list is written
    # here, in slices under the 32767 parameters one statement may carry.
    row_sql = '(%s)' % ', '.join(['%s'] * len(columns))
    per_statement = MAX_PARAMETERS // len(columns)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        connection.exec_driver_sql(
            'INSERT INTO %s (%s) VALUES %s' % (table.name, ', '.join(columns),
                                               ', '.join([row_sql] * len(chunk))),
            tuple(row[column] for row in chunk for column in columns))


def seed(engine, count, seed_value=1):
    """Insert ``count`` images with 3 properties each, in batches of :data:`BATCH`
    and one transaction (one commit to wait for, however busy the disk).

    :returns: seconds taken.
    """
    rng = random.Random(seed_value)
    epoch = datetime.datetime(2026, 1, 1)
    # The tables as the database holds them now (the first revision's columns, such
    # as is_public), not as the models describe the latest revision.
    tables = sa.MetaData()
    tables.reflect(engine, only=('images', 'image_properties'))
    started = time.perf_counter()
    with engine.begin() as connection:
        for start in range(0, count, BATCH):
            images, properties = _image_rows(rng, start, min(count, start + BATCH),
                                             epoch)
            _insert(connection, tables.tables['images'], images)
            _insert(connection, tables.tables['image_properties'], properties)
    return time.perf_counter() - started


def analyze(engine):
    """Refresh the planner statistics of server databases (as autovacuum soon would)."""
    statement = {'postgresql': 'ANALYZE %s', 'mysql': 'ANALYZE TABLE %s'}[
        engine.dialect.name]
    with engine.begin() as connection:
        for table in ('images', 'image_properties'):
            connection.exec_driver_sql(statement % table)


def seed_relations(engine, count):
    """Relate every :data:`RELATED_EVERY`-th image to an instance (10 per instance).

    :returns: the number of relations.
    """
    from glance.middleware.instance_aware import db as relations_db
    relations_db.HISTORY.upgrade(engine)
    with engine.begin() as connection:
        ids = [row[0] for row in connection.execute(
            sa.select(models.Image.id).order_by(models.Image.id))][::RELATED_EVERY]
        rows = [{'image_id': image_id, 'nova_installation_uuid': INSTALLATION,
                 'instance_id': str(index // IMAGES_PER_INSTANCE + 1),
                 'relation': 'snapshot', 'created_at': datetime.datetime(2026, 1, 1)}
                for index, image_id in enumerate(ids)]
        for start in range(0, len(rows), BATCH):
            _insert(connection, relations_db.relations, rows[start:start + BATCH])
    return len(rows)


def measure_related(client, requests, warmup, relations):
    """Time the related-images detail page of one instance (one statement)."""
    def call():
        return client.list_images(detail=True, filters=RELATED_FILTERS, limit=PAGE)

    for _ in range(warmup):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        returned = len(call()['images'])
        samples.append((time.perf_counter() - started) * 1000)
    return {'scenario': 'related to one instance, detail (%d relations)'
            % relations, 'requests': requests, 'images': returned,
            'p50_ms': round(percentile(samples, 0.50), 2),
            'p99_ms': round(percentile(samples, 0.99), 2),
            'mean_ms': round(sum(samples) / len(samples), 2)}


def percentile(samples, fraction):
    """Nearest-rank percentile of a list of numbers."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _scenario_call(client, scenario, marker):
    _, detail, filters, sort_key, sort_dir, _ = scenario
    return client.list_images(detail=detail, filters=filters, sort_key=sort_key,
                              sort_dir=sort_dir, limit=PAGE, marker=marker)


def measure_get(client, requests, warmup):
    """Time ``GET /images/<id>`` of visible images in turn (a detail record)."""
    ids = [image['id'] for image in client.list_images(limit=PAGE)['images']]
    for index in range(warmup):
        client.get_image(ids[index % len(ids)])
    samples = []
    for index in range(requests):
        started = time.perf_counter()
        client.get_image(ids[index % len(ids)])
        samples.append((time.perf_counter() - started) * 1000)
    return {'scenario': 'GET /images/<id>', 'requests': requests, 'images': 1,
            'p50_ms': round(percentile(samples, 0.50), 2),
            'p99_ms': round(percentile(samples, 0.99), 2),
            'mean_ms': round(sum(samples) / len(samples), 2)}


def _marker_for_page(client, scenario):
    marker = None
    for _ in range(scenario[-1] - 1):
        images = _scenario_call(client, scenario, marker)['images']
        if not images:
            break
        marker = images[-1]['id']
    return marker


def measure(client, requests, warmup):
    """Time every scenario.

    :returns: ``(results, markers)``: one dict per scenario (milliseconds), and the
        marker each scenario used.
    """
    results, markers = [], []
    for scenario in SCENARIOS:
        marker = _marker_for_page(client, scenario)
        markers.append(marker)
        for _ in range(warmup):
            _scenario_call(client, scenario, marker)
        samples = []
        returned = 0
        for _ in range(requests):
            started = time.perf_counter()
            returned = len(_scenario_call(client, scenario, marker)['images'])
            samples.append((time.perf_counter() - started) * 1000)
        results.append({'scenario': scenario[0], 'requests': requests, 'images': returned,
                        'p50_ms': round(percentile(samples, 0.50), 2),
                        'p99_ms': round(percentile(samples, 0.99), 2),
                        'mean_ms': round(sum(samples) / len(samples), 2)})
    return results, markers


def explain(engine, kind, markers):
    """Print the plan of every SQL statement the registry runs for each scenario.

    The statements are captured in-process from the registry's own
    :func:`glance.registry.db.api.image_list`, given the same parameters, marker and
    caller as the timed requests.
    """
    from glance.registry import validation
    from glance.registry.db import api as db_api
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    database = session.Database(engine)
    prefix = {'sqlite': 'EXPLAIN QUERY PLAN ', 'postgresql': 'EXPLAIN ANALYZE ',
              'mysql': 'ANALYZE '}[kind]
    for scenario, marker in zip(SCENARIOS, markers):
        label, detail, filters, sort_key, sort_dir, _ = scenario
        params = dict(filters, limit=str(PAGE))
        params.update({name: value for name, value in (
            ('sort_key', sort_key), ('sort_dir', sort_dir), ('marker', marker)) if value})
        query = validation.list_query(params, PAGE, 1000)
        del statements[:]
        sa.event.listen(engine, 'before_cursor_execute', capture)
        try:
            db_api.image_list(database, BENCH_CONTEXT, query, detail=detail)
        finally:
            sa.event.remove(engine, 'before_cursor_execute', capture)
        print('--- %s (%s)' % (label, kind))
        for statement, parameters in statements:
            print(statement.strip())
            print('    parameters: %r' % (parameters,))
            with engine.connect() as connection:
                for row in connection.exec_driver_sql(prefix + statement, parameters):
                    print('   ', ' | '.join(str(column) for column in row))


def with_driver(url, driver):
    """``url`` with its driver replaced by ``driver`` (None: unchanged)."""
    if driver is None:
        return url
    backend, rest = url.split('://', 1)
    return '%s+%s://%s' % (backend.split('+')[0], driver, rest)


def parse_drivers(text):
    """``postgresql=psycopg,mysql=pymysql`` over :data:`DEFAULT_DRIVERS`."""
    drivers = dict(DEFAULT_DRIVERS)
    for item in filter(None, text.split(',')):
        kind, _, driver = item.partition('=')
        drivers[kind.strip()] = driver.strip()
    return drivers


def run_one(kind, count, args, workdir):
    """Create, seed and serve one database; returns its result record."""
    database = TestDatabase(kind, workdir)
    engine = session.create_engine({'sql_connection': database.url})
    daemon = None
    try:
        # Seeded at the first revision, then upgraded: the later migrations fill and
        # index the existing rows in bulk (faster than row by row through the
        # triggers and indexes, and it exercises them on a large database).
        migration.REGISTRY.upgrade(engine, FIRST_REVISION)
        seconds = seed(engine, count)
        started = time.perf_counter()
        migration.REGISTRY.upgrade(engine)
        seconds += time.perf_counter() - started
        relations = seed_relations(engine, count)
        if engine.dialect.name in ('postgresql', 'mysql'):
            analyze(engine)
        print('%s: seeded %d images in %.1f s' % (kind, count, seconds), flush=True)
        daemon = registry_daemon(os.path.join(workdir, '%s-%d' % (kind, count)),
                                 with_driver(database.url, args.drivers.get(kind)),
                                 log_level='WARNING',
                                 pipeline='glance-registry-instance-aware')
        daemon.start()
        client = RegistryClient([daemon.url], timeout=60).with_context(BENCH_CONTEXT)
        results, markers = measure(client, args.requests, args.warmup)
        results.append(measure_get(client, args.requests, args.warmup))
        results.append(measure_related(client, args.requests, args.warmup, relations))
        if args.explain:
            explain(engine, kind, markers)
        return {'database': kind, 'images': count, 'seed_seconds': round(seconds, 1),
                'driver': args.drivers.get(kind), 'results': results}
    finally:
        if daemon is not None:
            daemon.stop()
        engine.dispose()
        database.drop()


def print_table(records):
    """Print results as a reST-ready table."""
    rows = [('database', 'images', 'scenario', 'p50 ms', 'p99 ms', 'mean ms')]
    for record in records:
        for result in record['results']:
            rows.append((record['database'], str(record['images']), result['scenario'],
                         '%.2f' % result['p50_ms'], '%.2f' % result['p99_ms'],
                         '%.2f' % result['mean_ms']))
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    border = ' '.join('=' * width for width in widths)
    print(border)
    for index, row in enumerate(rows):
        print(' '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print(border)
    print(border)


def main(argv=None):
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default='1000,10000,100000',
                        help='comma-separated image counts (default: %(default)s)')
    parser.add_argument('--databases', default='sqlite,postgresql',
                        help='comma-separated: sqlite, postgresql, mysql '
                             '(default: %(default)s)')
    parser.add_argument('--requests', type=int, default=200,
                        help='timed requests per scenario (default: %(default)s)')
    parser.add_argument('--warmup', type=int, default=20,
                        help='untimed requests per scenario first (default: %(default)s)')
    parser.add_argument('--drivers', type=parse_drivers, default=dict(DEFAULT_DRIVERS),
                        help='driver of the daemon per database, e.g. '
                             'postgresql=pg8000,mysql=pymysql (default: %s)'
                        % ','.join('%s=%s' % item for item in DEFAULT_DRIVERS.items()))
    parser.add_argument('--explain', action='store_true',
                        help='print the query plan of each scenario')
    parser.add_argument('--output', default=os.path.join(REPO, 'bench', 'results'),
                        help='folder for the JSON results (default: %(default)s)')
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(',') if size]
    kinds = [kind for kind in args.databases.split(',') if kind]
    records = []
    with tempfile.TemporaryDirectory(prefix='glance-bench-') as workdir:
        for kind in kinds:
            for count in sizes:
                records.append(run_one(kind, count, args, workdir))
    print_table(records)
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, 'registry-%s.json' % time.strftime('%Y%m%dT%H%M%S'))
    with open(path, 'w') as out:
        json.dump(records, out, indent=2)
    print('results written to %s' % path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
