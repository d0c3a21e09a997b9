#!/usr/bin/env python3
"""Every Glance benchmark in one run; rewrites the result tables of bench/README.md.

Run through ``tools/bench.sh`` (which installs and starts what is needed). On
loopback only, every load bounded, every process started here stopped by PID:

* **downloads**: one image through glance-api from the file, HTTP, Swift and S3
  stores against nginx (sendfile off and on) and the stores' own clients
  (python-swiftclient, boto3) reading the same objects (a smaller image for Swift
  and S3, whose proxy on the same cores is 10-20x slower than nginx);
* **concurrency**: aggregate throughput of 1, 8 and 64 concurrent downloads through
  glance-api (``workers`` = cores) against nginx (``worker_processes auto``), and the
  peak RSS of all glance-api processes at 64 streams; drawn as a PNG chart;
* **upload**: glance-api (file store, fsync per chunk) against nginx accepting the
  same bytes by WebDAV ``PUT`` (no fsync);
* **time to first byte** of a small image, glance-api against nginx, beside the
  registry lookup it contains;
* **peak RSS** of glance-api while it streams a 4 GiB image (sparse files);
* **registry** list and get latency (``bench/registry_bench.py``) at 1k, 10k and
  100k images on SQLite, PostgreSQL and MariaDB.

``--quick`` shrinks every size and count. Each section's time is printed with the
total against the budget (13 minutes full, 2.5 quick, on the 2-core machine); the
sizes and why they suffice are in bench/README.md ("Sizes and rounds").
"""

import argparse
import concurrent.futures
import datetime
import os
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, REPO)
sys.path.insert(0, BENCH)

import api_bench  # noqa: E402
import registry_bench  # noqa: E402
from tests.functional import daemons, services  # noqa: E402

MIB = api_bench.MIB
GIB = api_bench.GIB
CONCURRENCY = (1, 8, 64)
FILE_CHUNK = 256 * MIB  # the file store's chunks (store_chunk_size)
README = os.path.join(BENCH, 'README.md')
CHART = 'concurrency.png'
CONTAINER = api_bench.CONTAINER  # the container api_bench.swiftclient_speed reads

# Workers run as the invoking user (nginx ignores "user" when not started as root),
# so they can read the private work folder and write the PUT uploads.
_NGINX_CONF = """\
daemon off;
user {user};
worker_processes auto;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {base}/tmp;
    client_max_body_size 0;
    default_type application/octet-stream;
    server {{ listen 127.0.0.1:{port}; root {root}; sendfile off;
              location /dav/ {{ dav_methods PUT; create_full_put_path on; }} }}
    server {{ listen 127.0.0.1:{sendfile_port}; root {root};
              sendfile on; tcp_nopush on; }}
}}
"""


class Nginx:
    """nginx with a worker per core: sendfile off on ``url``, on ``sendfile_url``,
    WebDAV ``PUT`` under ``url/dav/``."""

    def __init__(self, base):
        self.base = base
        self.root = os.path.join(base, 'root')
        self.port, self.sendfile_port = services.free_ports(2)
        self.process = None

    @property
    def url(self):
        """Base URL, sendfile off."""
        return 'http://127.0.0.1:%d' % self.port

    @property
    def sendfile_url(self):
        """Base URL, sendfile on."""
        return 'http://127.0.0.1:%d' % self.sendfile_port

    def start(self):
        """Start nginx and wait until both servers answer."""
        os.makedirs(os.path.join(self.base, 'tmp'))
        os.makedirs(os.path.join(self.root, 'dav'))
        conf = os.path.join(self.base, 'nginx.conf')
        with open(conf, 'w') as out:
            out.write(_NGINX_CONF.format(base=self.base, root=self.root, port=self.port,
                                         sendfile_port=self.sendfile_port,
                                         user=pwd.getpwuid(os.geteuid()).pw_name))
        self.process = subprocess.Popen(['nginx', '-c', conf, '-p', self.base],
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not all(services._answers(port, '/') for port in (self.port,
                                                                 self.sendfile_port)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise services.ServiceError('nginx did not start')
            time.sleep(0.05)
        return self

    def stop(self):
        """Stop nginx (SIGTERM to its master by PID)."""
        if self.process is not None:
            services._stop(self.process)


def curl(args, timeout=900):
    """Run curl; return its ``-w`` output split in words."""
    return subprocess.run(['curl', '-s', '-f'] + args, check=True, capture_output=True,
                          text=True, timeout=timeout).stdout.split()


def aggregate_speed(url, headers, size, clients, total):
    """``clients`` curl processes at once, together downloading about ``total`` bytes.

    :returns: bytes per second over the wall time of the whole run.
    """
    repeats = max(1, total // (clients * size))
    command = []
    for header in headers:
        command += ['-H', header]
    command += ['-w', '%{size_download}\\n']
    for _ in range(repeats):
        command += [url, '-o', '/dev/null']
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        sizes = list(pool.map(lambda _: curl(command), range(clients)))
    elapsed = time.monotonic() - started
    received = sum(int(float(word)) for words in sizes for word in words)
    if received != clients * repeats * size:
        raise RuntimeError('%s: %d bytes, expected %d' % (url, received,
                                                          clients * repeats * size))
    return received / elapsed


def process_tree_rss_kib(pid):
    """RSS of a process and its children (the pre-fork master and its workers)."""
    total = 0
    for member in api_bench.process_tree(pid):
        try:
            total += api_bench.rss_kib(member)
        except (FileNotFoundError, RuntimeError):
            pass
    return total


def peak_tree_rss(pid, action):
    """Run ``action()`` while sampling the RSS of a process tree every 20 ms."""
    samples = []
    before = process_tree_rss_kib(pid)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(action)
        while not future.done():
            samples.append(process_tree_rss_kib(pid))
            time.sleep(0.02)
    return before, max(samples + [before, process_tree_rss_kib(pid)]), future.result()


def ttfb_ms(url, headers, count):
    """Median time to first byte (curl's ``time_starttransfer``) over ``count`` GETs."""
    command = []
    for header in headers:
        command += ['-H', header]
    samples = [float(curl(command + ['-o', '/dev/null', '-w', '%{time_starttransfer}',
                                     url])[0]) * 1000 for _ in range(count)]
    return statistics.median(samples)


def s3_direct_speed(swift, keys, bucket, size):
    """GET the objects directly with boto3; return bytes per second."""
    import boto3
    options = swift.s3_options()
    client = boto3.client('s3', endpoint_url=options['endpoint'],
                          region_name=options['region'],
                          aws_access_key_id=options['access_key'],
                          aws_secret_access_key=options['secret_key'])
    started = time.monotonic()
    received = 0
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)['Body']
        for block in body.iter_chunks(MIB):
            received += len(block)
    if received != size:
        raise RuntimeError('boto3 got %d bytes, expected %d' % (received, size))
    return received / (time.monotonic() - started)


class ApiSuite:
    """The glance-api measurements; results land in :attr:`tables`.

    :param args: the command-line options.
    :param work: a private folder.
    :param started: list collecting every started service, for stopping.
    """

    def __init__(self, args, work, started, timer):
        self.args = args
        self.work = work
        self.started = started
        self.timer = timer
        self.tables = {}
        self.chart = {}

    def _start(self, service):
        self.started.append(service.start())
        return service

    def run(self):
        """Start nginx, Swift, a registry and glance-api; run every measurement."""
        args, work = self.args, self.work
        self.nginx = self._start(Nginx(os.path.join(work, 'nginx')))
        self.swift = self._start(services.SwiftService(os.path.join(work, 'swift')))
        registry = self._start(daemons.registry_daemon(
            os.path.join(work, 'registry'), 'sqlite:///%s/registry.db' % work,
            log_level='WARNING'))
        self.registry = registry
        datadir = os.path.join(work, 'images')
        os.makedirs(datadir)
        self.datadir = datadir
        sections = {'store:file': {'filesystem_store_datadir': datadir},
                    # The http image is served by the loopback nginx above.
                    'store:http': {'allowed_networks': '127.0.0.0/8'},
                    'store:swift': self.swift.swift_options(container=CONTAINER),
                    'store:s3': self.swift.s3_options(bucket=CONTAINER)}
        common = dict(sections=sections, enabled_stores='file, http, swift, s3',
                      filesystem_store_datadir=datadir, log_level='WARNING',
                      workers=os.cpu_count() or 1)
        chunk = {'file': '%dK' % (FILE_CHUNK // 1024),
                 'swift': '%dK' % (args.store_chunk // 1024),
                 's3': '%dK' % (args.store_chunk // 1024)}
        self.api = {store: self._start(daemons.api_daemon(
            os.path.join(work, 'api-' + store), registry.url, default_store=store,
            store_chunk_size=chunk[store], **common))
            for store in ('file', 'swift', 's3')}
        self.headers = ['%s: %s' % item for item in api_bench.ADMIN.items()]
        self.source = os.path.join(self.nginx.root, 'image.bin')
        api_bench.write_random_file(self.source, args.size)
        self.store_source = os.path.join(self.nginx.root, 'store-image.bin')
        api_bench.write_random_file(self.store_source, args.store_size)
        self.upload_source = os.path.join(self.nginx.root, 'upload.bin')
        api_bench.write_random_file(self.upload_source, args.upload_size)
        self.timer.lap('api: services started, sources written')
        for section in (self.downloads, self.concurrency, self.upload, self.ttfb,
                        self.big_rss):
            section()
            self.timer.lap('api: ' + section.__name__)

    def _download(self, url, image_id=None, size=None):
        target = url + ('/images/' + image_id if image_id else '')
        headers = self.headers if image_id else ()
        expected = size or self.args.size
        return lambda: api_bench.curl_speed(target, headers, expected=expected)

    def downloads(self):
        """Single-stream throughput per store against nginx and direct clients."""
        args, api = self.args, self.api
        images = {}
        for store in ('file', 'swift', 's3'):
            source = self.source if store == 'file' else self.store_source
            images[store], _ = api_bench.upload(api[store].url, source, 'suite-' + store)
        http_id = api_bench.register(api['file'].url, [self.nginx.url + '/image.bin'],
                                     'suite-http', {'blake3': images['file']['blake3']})
        chunks = -(-args.store_size // args.store_chunk)
        names = {store: ['%s-%05d' % (images[store]['id'], n) for n in range(chunks)]
                 for store in ('swift', 's3')}
        nginx, sendfile, glance_file, glance_http, swift_direct, glance_swift, \
            s3_direct, glance_s3 = api_bench.median_speeds(args.runs, [
                self._download(self.nginx.url + '/image.bin'),
                self._download(self.nginx.sendfile_url + '/image.bin'),
                self._download(api['file'].url, images['file']['id']),
                self._download(api['file'].url, http_id),
                lambda: api_bench.swiftclient_speed(self.swift, names['swift'],
                                                    args.store_size),
                self._download(api['swift'].url, images['swift']['id'], args.store_size),
                lambda: s3_direct_speed(self.swift, names['s3'], CONTAINER,
                                        args.store_size),
                self._download(api['s3'].url, images['s3']['id'], args.store_size)])
        better = max(nginx, sendfile)
        parts = '%d MiB in %d objects' % (args.store_size // MIB, chunks)
        self.tables['downloads'] = [
            ('file (%d MiB, chunks of %d MiB)' % (args.size // MIB,
                                                  FILE_CHUNK // MIB),
             'nginx, sendfile off / on', glance_file, nginx, sendfile,
             glance_file / better),
            ('http (%d MiB, one file of that nginx)' % (args.size // MIB),
             'nginx, sendfile off / on',
             glance_http, nginx, sendfile, glance_http / better),
            ('swift (%s)' % parts, 'python-swiftclient GET of the objects',
             glance_swift, swift_direct, None, glance_swift / swift_direct),
            ('s3 (Swift s3api, %s)' % parts, 'boto3 get_object of the objects',
             glance_s3, s3_direct, None, glance_s3 / s3_direct)]
        self.file_image = images['file']

    def concurrency(self):
        """Aggregate throughput at 1, 8, 64 streams; peak RSS at 64."""
        args = self.args
        size = args.stream_size
        path = os.path.join(self.nginx.root, 'stream.bin')
        api_bench.write_random_file(path, size)
        api = self.api['file']
        image, _ = api_bench.upload(api.url, path, 'suite-stream')
        rows = []
        for clients in CONCURRENCY:
            glance_url = api.url + '/images/' + image['id']
            measures = [
                lambda: aggregate_speed(self.nginx.url + '/stream.bin', (), size,
                                        clients, args.stream_total),
                lambda: aggregate_speed(self.nginx.sendfile_url + '/stream.bin', (),
                                        size, clients, args.stream_total),
                lambda: aggregate_speed(glance_url, self.headers, size, clients,
                                        args.stream_total)]
            if clients == CONCURRENCY[-1]:
                plain = measures[2]
                measures[2] = lambda: self._with_rss(api.pid, plain)
            nginx, sendfile, glance = api_bench.median_speeds(args.runs, measures)
            rows.append((clients, glance, nginx, sendfile, glance / max(nginx, sendfile)))
        self.tables['concurrency'] = rows
        self.chart = {'clients': [row[0] for row in rows],
                      'glance-api (workers = %d)' % (os.cpu_count() or 1):
                          [row[1] for row in rows],
                      'nginx, sendfile off': [row[2] for row in rows],
                      'nginx, sendfile on': [row[3] for row in rows]}

    def _with_rss(self, pid, measure):
        before, peak, speed = peak_tree_rss(pid, measure)
        self.tables['rss64'] = (before, max(peak, self.tables.get('rss64', (0, 0))[1]))
        return speed

    def upload(self):
        """glance-api upload against nginx WebDAV PUT, with curl on both sides."""
        args, api = self.args, self.api['file']
        headers = []
        for name, value in dict(api_bench.ADMIN, **{'x-image-meta-name': 'up'}).items():
            headers += ['-H', '%s: %s' % (name, value)]
        counter = iter(range(10 ** 6))

        def glance():
            words = curl(headers + ['-T', self.upload_source, '-X', 'POST',
                                    '-o', '/dev/null', '-w', '%{speed_upload}',
                                    api.url + '/images'])
            return float(words[0])

        def dav():
            target = '%s/dav/upload-%d.bin' % (self.nginx.url, next(counter))
            return float(curl(['-T', self.upload_source, '-o', '/dev/null', '-w',
                               '%{speed_upload}', target])[0])

        nginx, glance_speed = api_bench.median_speeds(args.runs, [dav, glance])
        self.tables['upload'] = (glance_speed, nginx)

    def ttfb(self):
        """Time to first byte of a 1 MiB image against nginx and the registry lookup."""
        path = os.path.join(self.nginx.root, 'small.bin')
        api_bench.write_random_file(path, MIB)
        api = self.api['file']
        image, _ = api_bench.upload(api.url, path, 'suite-small')
        count = self.args.ttfb_count
        glance = ttfb_ms(api.url + '/images/' + image['id'], self.headers, count)
        nginx = ttfb_ms(self.nginx.url + '/small.bin', (), count)
        lookup = ttfb_ms(self.registry.url + '/images/' + image['id'], self.headers,
                         count)
        self.tables['ttfb'] = (glance, nginx, lookup)

    def big_rss(self):
        """Peak RSS of glance-api streaming a 4 GiB image made of sparse files."""
        size = self.args.big_size
        chunks = []
        for number in range(4):
            path = os.path.join(self.datadir, 'sparse-%d' % number)
            with open(path, 'wb') as sparse:
                sparse.truncate(size // 4)
            chunks.append('file://' + path)
        api = self.api['file']
        image = api_bench.register(api.url, chunks, 'suite-sparse', {
            'blake3': api_bench.digest_of_zeros('blake3', size)})
        before, peak, speed = peak_tree_rss(api.pid, lambda: api_bench.curl_speed(
            api.url + '/images/' + image, self.headers, expected=size))
        self.tables['big_rss'] = (size, before, peak, speed)


class Timer:
    """Prints the time each section took and the total against the run's budget."""

    def __init__(self, budget):
        self.budget = budget
        self.began = self.last = time.monotonic()
        self.sections = []

    def lap(self, name):
        """Close the section ``name``: print its time and the total so far."""
        now = time.monotonic()
        took, self.last = now - self.last, now
        self.sections.append((name, took))
        print('[suite] %-45s %6.0f s  (total %4.0f s of a %d s budget)'
              % (name, took, self.elapsed(), self.budget), flush=True)
        if self.elapsed() > self.budget:
            print('[suite] over budget', file=sys.stderr, flush=True)

    def elapsed(self):
        """Seconds since the suite began."""
        return time.monotonic() - self.began


def registry_suite(args, work, timer):
    """Registry list/get latency on every database and size."""
    options = argparse.Namespace(requests=args.registry_requests,
                                 warmup=args.registry_warmup, explain=False,
                                 drivers=dict(registry_bench.DEFAULT_DRIVERS))
    records = []
    for kind in args.databases:
        for count in args.sizes:
            records.append(registry_bench.run_one(kind, count, options, work))
            timer.lap('registry: %s, %s images' % (kind, format(count, ',')))
    return records


# -- README tables --------------------------------------------------------------------

LIST_TARGET_MS = 10.0
GET_TARGET_MS = 2.0
TARGET_IMAGES = 100000
DATABASE_NAMES = {'sqlite': 'SQLite', 'postgresql': 'PostgreSQL', 'mysql': 'MariaDB'}


def _mib(speed):
    return '%.0f' % (speed / MIB)


def _met(ok):
    return 'yes' if ok else '**no**'


def api_targets(api):
    """``(target, measured, met)`` rows of issue #11 for the glance-api figures."""
    file_row = api.tables['downloads'][0]
    clients, glance, nginx, sendfile, ratio64 = api.tables['concurrency'][-1]
    glance_up, nginx_up = api.tables['upload']
    glance_ttfb, _, lookup = api.tables['ttfb']
    return [
        ('%d concurrent downloads >= 0.9x the better nginx' % clients,
         '%.2fx (%s / %s MiB/s)' % (ratio64, _mib(glance), _mib(max(nginx, sendfile))),
         _met(ratio64 >= 0.9)),
        ('single verified download >= 0.9x the better nginx',
         '%.2fx (%s / %s MiB/s)' % (file_row[5], _mib(file_row[2]),
                                    _mib(max(file_row[3], file_row[4]))),
         _met(file_row[5] >= 0.9)),
        ('upload >= 0.8x nginx WebDAV PUT',
         '%.2fx (%s / %s MiB/s)' % (glance_up / nginx_up, _mib(glance_up),
                                    _mib(nginx_up)),
         _met(glance_up / nginx_up >= 0.8)),
        ('glance-api time to first byte <= registry lookup + 1 ms',
         '%.2f ms against %.2f + 1 ms' % (glance_ttfb, lookup),
         _met(glance_ttfb <= lookup + 1))]


def registry_targets(records):
    """``(target, measured, met)`` rows of issue #11, per database, at the largest
    image count measured (the targets are set at 100k)."""
    rows = []
    largest = max(record['images'] for record in records)
    at = format(largest, ',')
    note = '' if largest >= TARGET_IMAGES else ' (at %s only)' % at
    for record in records:
        if record['images'] != largest:
            continue
        name = DATABASE_NAMES.get(record['database'], record['database'])
        results = record['results']
        lists = [result for result in results if result['scenario'] in LIST_SCENARIOS]
        slowest = max(lists, key=lambda result: result['p50_ms'])
        get = [result for result in results if result['scenario'] == GET_SCENARIO][0]
        related = [result for result in results
                   if result['scenario'].startswith(RELATED_SCENARIO)][0]
        rows += [
            ('%s, %s images: every list scenario p50 < %.0f ms' % (name, at,
                                                                 LIST_TARGET_MS),
             'slowest %.2f ms (%s)' % (slowest['p50_ms'], slowest['scenario']),
             _met(slowest['p50_ms'] < LIST_TARGET_MS) + note),
            ('%s, %s images: related images p50 < %.0f ms' % (name, at, LIST_TARGET_MS),
             '%.2f ms (%s' % (related['p50_ms'], related['scenario'].split('(')[-1]),
             _met(related['p50_ms'] < LIST_TARGET_MS) + note),
            ('%s, %s images: GET /images/<id> p50 <= %.0f ms' % (name, at,
                                                                GET_TARGET_MS),
             '%.2f ms' % get['p50_ms'], _met(get['p50_ms'] <= GET_TARGET_MS) + note)]
    return rows


LIST_SCENARIOS = [scenario[0] for scenario in registry_bench.SCENARIOS]
GET_SCENARIO = 'GET /images/<id>'
RELATED_SCENARIO = 'related to one instance'


def registry_table(records):
    """Scenarios down, one column per database and image count, cells p50 / p99."""
    columns = [(record['database'], record['images']) for record in records]
    cells = {}
    scenarios = []
    for record in records:
        for result in record['results']:
            # The related scenario's label names its relation count: one row for all.
            label = result['scenario'].split(' (')[0]
            if label not in scenarios:
                scenarios.append(label)
            cells[label, record['database'], record['images']] = '%.2f / %.2f' % (
                result['p50_ms'], result['p99_ms'])
    lines = ['| scenario (p50 / p99 ms) | %s |' % ' | '.join(
                 '%s %s' % (DATABASE_NAMES.get(kind, kind), _short(count))
                 for kind, count in columns),
             '| --- |%s' % (' ---: |' * len(columns))]
    for label in scenarios:
        lines.append('| %s | %s |' % (label, ' | '.join(
            cells.get((label, kind, count), '') for kind, count in columns)))
    return lines


def _short(count):
    return '%dk' % (count // 1000) if count % 1000 == 0 else str(count)


def render(api, records, header):
    """The Markdown blocks, by marker name; each starts with ``header``."""
    blocks = {}
    targets = []
    if api is not None:
        lines = ['| store | baseline | glance-api MiB/s | baseline MiB/s | '
                 'glance-api / better baseline |', '| --- | --- | ---: | ---: | ---: |']
        for store, baseline, glance, first, second, ratio in api.tables['downloads']:
            base = _mib(first) if second is None else '%s / %s' % (_mib(first),
                                                                   _mib(second))
            lines.append('| %s | %s | %s | %s | %.2f |' % (store, baseline, _mib(glance),
                                                          base, ratio))
        blocks['downloads'] = header + '\n\n' + '\n'.join(lines)
        lines = ['| concurrent downloads | glance-api MiB/s | nginx sendfile off | '
                 'nginx sendfile on | glance-api / better nginx |',
                 '| ---: | ---: | ---: | ---: | ---: |']
        for clients, glance, nginx, sendfile, ratio in api.tables['concurrency']:
            lines.append('| %d | %s | %s | %s | %.2f |' % (clients, _mib(glance),
                                                          _mib(nginx), _mib(sendfile),
                                                          ratio))
        before, peak = api.tables['rss64']
        glance_up, nginx_up = api.tables['upload']
        glance_ttfb, nginx_ttfb, lookup = api.tables['ttfb']
        size, big_before, big_peak, big_speed = api.tables['big_rss']
        lines += [
            '', '![throughput against concurrent downloads](%s)' % CHART, '',
            '| measurement | result |', '| --- | --- |',
            '| upload, glance-api (file store, fsync per chunk) | %s MiB/s |'
            % _mib(glance_up),
            '| upload, nginx WebDAV PUT of the same bytes (no fsync) | %s MiB/s '
            '(glance-api / nginx = %.2f) |' % (_mib(nginx_up), glance_up / nginx_up),
            '| time to first byte, 1 MiB image: glance-api / nginx | %.2f ms / %.2f ms |'
            % (glance_ttfb, nginx_ttfb),
            '| registry GET /images/<id> (the lookup inside it) | %.2f ms '
            '(glance-api TTFB - lookup = %.2f ms) |' % (lookup, glance_ttfb - lookup),
            '| peak RSS, all glance-api processes, %d streams | %.1f MiB '
            '(idle %.1f MiB) |' % (CONCURRENCY[-1], peak / 1024, before / 1024),
            '| peak RSS, all glance-api processes, streaming %.0f GiB | %.1f MiB '
            '(idle %.1f MiB; growth %.1f MiB; %s MiB/s) |'
            % (size / GIB, big_peak / 1024, big_before / 1024,
               (big_peak - big_before) / 1024, _mib(big_speed))]
        blocks['concurrency'] = header + '\n\n' + '\n'.join(lines)
        targets += api_targets(api)
    if records:
        blocks['registry'] = header + '\n\n' + '\n'.join(registry_table(records))
        targets += registry_targets(records)
    if targets:
        lines = ['| target (issue #11) | measured | met? |', '| --- | --- | --- |']
        lines += ['| %s | %s | %s |' % row for row in targets]
        blocks['targets'] = header + '\n\n' + '\n'.join(lines)
    return blocks


def rewrite_readme(blocks, path=README):
    """Replace the text between ``<!-- suite:NAME -->`` and ``<!-- /suite:NAME -->``."""
    with open(path) as source:
        text = source.read()
    for name, body in blocks.items():
        pattern = re.compile(r'(<!-- suite:%s -->\n).*?(\n<!-- /suite:%s -->)'
                             % (name, name), re.DOTALL)
        if not pattern.search(text):
            raise SystemExit('%s has no <!-- suite:%s --> block' % (path, name))
        text = pattern.sub(lambda match: match.group(1) + body + match.group(2), text)
    with open(path, 'w') as out:
        out.write(text)


def draw_chart(chart, path):
    """Throughput against concurrent downloads, glance-api against nginx."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(7, 4))
    clients = chart['clients']
    for label, speeds in chart.items():
        if label != 'clients':
            axes.plot(clients, [speed / MIB for speed in speeds], marker='o', label=label)
    axes.set_xscale('log', base=2)
    axes.set_xticks(clients, [str(count) for count in clients])
    axes.set_xlabel('concurrent downloads (curl processes)')
    axes.set_ylabel('aggregate MiB/s')
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def parse_args(argv):
    """Command-line options; ``--quick`` picks small sizes and counts."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='small sizes, a few minutes')
    parser.add_argument('--skip-api', action='store_true')
    parser.add_argument('--skip-registry', action='store_true')
    parser.add_argument('--no-readme', action='store_true',
                        help='print the tables; leave bench/README.md and the chart')
    args = parser.parse_args(argv)
    quick = args.quick
    # Sizes: see "Sizes and rounds" in bench/README.md for why these suffice.
    args.size = (64 if quick else 1024) * MIB
    args.store_size = (32 if quick else 256) * MIB
    args.store_chunk = (8 if quick else 64) * MIB
    args.upload_size = (64 if quick else 512) * MIB
    args.runs = 1 if quick else 3
    args.stream_size = (16 if quick else 32) * MIB
    args.stream_total = (256 if quick else 1024) * MIB
    args.ttfb_count = 10 if quick else 50
    args.big_size = (1 if quick else 4) * GIB
    args.sizes = [1000] if quick else [1000, 10000, 100000]
    args.databases = ['sqlite', 'postgresql', 'mysql']
    args.registry_requests = 20 if quick else 100
    args.registry_warmup = 3 if quick else 10
    args.budget = 150 if quick else 780
    return args


def main(argv=None):
    """Run the suite; returns the exit code."""
    args = parse_args(argv)
    api_bench.check_space(tempfile.gettempdir(), 3 * args.size)
    load_start = os.getloadavg()
    work = tempfile.mkdtemp(prefix='glance-suite-')
    started, api, records = [], None, []
    timer = Timer(args.budget)
    try:
        if not args.skip_api:
            api = ApiSuite(args, work, started, timer)
            api.run()
            for service in reversed(started):
                service.stop()
            del started[:]
        if not args.skip_registry:
            records = registry_suite(args, work, timer)
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
    header = ('Measured by `tools/bench.sh%s` on %s UTC in %.0f s; %d cores, load '
              'average %.2f at the start and %.2f at the end (other sessions share the '
              'machine: compare ratios within a run, not absolute numbers across runs).'
              % (' --quick' if args.quick else '',
                 datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M'),
                 timer.elapsed(), os.cpu_count() or 1, load_start[0],
                 os.getloadavg()[0]))
    blocks = render(api, records, header)
    if not args.no_readme:
        if api is not None:
            draw_chart(api.chart, os.path.join(BENCH, CHART))
        rewrite_readme(blocks)
    print('\n\n'.join(blocks.values()))
    print('[suite] sections: %s' % ', '.join('%s %.0f s' % item
                                            for item in timer.sections))
    return 0


if __name__ == '__main__':
    sys.exit(main())
