"""Benchmark glance-api's image cache and Varnish against nginx serving the same file.

One run measures, on loopback only:

1. **warm**: a cache hit (sendfile) through glance-api, against nginx with
   ``sendfile on`` serving the same bytes from one file (the target is >= 0.95x);
2. **cold**: a download that misses the cache (the entry is dropped through the admin
   API before each run, so it fills while it streams), against the same image
   through a glance-api without a cache;
3. a **Varnish hit** (etc/varnish/glance.vcl in front of the cached glance-api, a
   public image fetched by a non-admin), against the same nginx;
4. **single flight**: 32 concurrent clients asking a cold glance-api for one uncached
   image kept in an http store (nginx with an access log): the number of store GETs
   (target exactly 1) and whether all 32 bodies are byte-exact (sha256).

Downloads 1-3 use curl writing to /dev/null, so client cost is equal on both sides;
each figure is the median of ``--runs`` interleaved rounds after a warm-up round (see
``api_bench.median_speeds``), with the median time to first byte and the body rate
after it (glance-api's registry lookup comes before the first byte). Every process is started here and stopped by PID; the
work folder is deleted at the end.

Usage: ``.venv/bin/python bench/cache_bench.py [--size 1G] [--runs 5]
[--flight-size 256M] [--clients 32]``. The summary is printed as Markdown.
"""

import argparse
import hashlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import api_bench  # noqa: E402
from api_bench import MIB, curl_speed, median_speeds, request  # noqa: E402
from glance.common import config  # noqa: E402
from tests.functional import daemons, proxies, services  # noqa: E402

MEMBER = {'X-Tenant-Id': 'reader', 'X-User-Id': 'reader', 'X-Roles': 'member'}


def headers_of(identity):
    return ['%s: %s' % item for item in identity.items()]


class Timed:
    """A curl download measure that also records time to first byte.

    glance-api looks every request up in the registry before its first byte (that is
    the authorization a cache hit keeps), nginx does not: the body rate after the
    first byte separates that fixed cost from the streaming itself.

    :param url: what to download.
    :param identity: request headers.
    :param size: the expected body size.
    :param before: called before each download (e.g. to empty the cache).
    :param after: called after each download (e.g. to wait for the fill).
    """

    def __init__(self, url, identity, size, before=None, after=None):
        self.url, self.identity, self.size = url, identity, size
        self.before, self.after = before, after
        self.first_byte, self.body_rates = [], []

    def __call__(self):
        if self.before:
            self.before()
        command = ['curl', '-s', '-o', '/dev/null', '-w',
                   '%{size_download} %{time_starttransfer} %{time_total}', self.url]
        for header in headers_of(self.identity):
            command += ['-H', header]
        out = subprocess.run(command, check=True, capture_output=True, text=True,
                             timeout=600).stdout.split()
        received, first, total = int(out[0]), float(out[1]), float(out[2])
        if received != self.size:
            raise RuntimeError('%s: got %d bytes, expected %d' % (self.url, received,
                                                                 self.size))
        if self.after:
            self.after()
        self.first_byte.append(first)
        self.body_rates.append(self.size / max(total - first, 1e-6))
        return self.size / total

    def summary(self):
        """Median time to first byte (ms) and body rate after it (B/s)."""
        return (statistics.median(self.first_byte) * 1000,
                statistics.median(self.body_rates))


def wait_cached(api_url, image_id, timeout=600):
    """Wait until the image is a complete cache entry (the fill committed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = request(api_url, 'GET', '/cache', api_bench.ADMIN)
        if any(item['id'] == image_id for item in status['cached_images']):
            return
        time.sleep(0.1)
    raise RuntimeError('image %s was never cached' % image_id)


def single_flight(api_url, image_id, size, expected_sha256, clients):
    """``clients`` threads GET one image at once; return (seconds, bodies exact)."""
    parts = urllib.parse.urlsplit(api_url)
    barrier = threading.Barrier(clients)
    exact = [False] * clients

    def fetch(slot):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600,
                                          blocksize=MIB)
        try:
            barrier.wait()
            conn.request('GET', '/images/' + image_id, headers=MEMBER)
            resp = conn.getresponse()
            hasher, received = hashlib.sha256(), 0
            while True:
                block = resp.read(MIB)
                if not block:
                    break
                received += len(block)
                hasher.update(block)
            exact[slot] = (resp.status == 200 and received == size
                           and hasher.hexdigest() == expected_sha256)
        finally:
            conn.close()

    threads = [threading.Thread(target=fetch, args=(slot,)) for slot in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started, sum(exact)


def run(args, work, started):
    """Start the services, measure, and return (rows, notes)."""
    size = args.size
    rows, notes = [], []
    datadir = os.path.join(work, 'images')
    os.makedirs(datadir)
    access_log = os.path.join(work, 'nginx-access.log')
    nginx = services.NginxService(os.path.join(work, 'nginx'),
                                  directives=('sendfile on', 'tcp_nopush on'),
                                  access_log=access_log)
    started.append(nginx.start())
    source = os.path.join(nginx.root, 'image.bin')
    api_bench.write_random_file(source, size)
    registry = daemons.registry_daemon(os.path.join(work, 'registry'),
                                       'sqlite:///%s/registry.db' % work)
    started.append(registry.start())
    common = dict(sections={'store:file': {'filesystem_store_datadir': datadir}},
                  store_chunk_size='256M', filesystem_store_datadir=datadir,
                  log_level='WARNING')
    cached = daemons.api_daemon(os.path.join(work, 'api-cache'), registry.url,
                                image_cache_dir=os.path.join(work, 'cache'),
                                image_cache_max_size=str(4 * size + args.flight_size),
                                **common)
    started.append(cached.start())
    plain = daemons.api_daemon(os.path.join(work, 'api-plain'), registry.url, **common)
    started.append(plain.start())

    with open(source, 'rb') as body:
        image = request(cached.url, 'POST', '/images', dict(
            api_bench.ADMIN, **{'x-image-meta-name': 'bench-cache',
                                'x-image-meta-is-public': 'true',
                                'Content-Length': str(size)}), body)['image']
    path = '/images/' + image['id']

    url = cached.url + path
    hit = Timed(url, MEMBER, size)
    cold = Timed(url, MEMBER, size,
                 before=lambda: request(cached.url, 'DELETE', '/cache/images',
                                        api_bench.ADMIN),
                 after=lambda: wait_cached(cached.url, image['id']))
    nginx_speed = Timed(nginx.url + '/image.bin', {}, size)
    uncached = Timed(plain.url + path, MEMBER, size)

    curl_speed(url, headers_of(MEMBER), expected=size)
    wait_cached(cached.url, image['id'])
    base, warm, no_cache, miss = median_speeds(args.runs, [nginx_speed, hit, uncached,
                                                           cold])
    varnish = proxies.VarnishService(int(cached.url.rsplit(':', 1)[1]),
                                     storage='%dm' % (2 * size // MIB + 64))
    varnish.start()
    started.append(varnish)
    curl_speed(varnish.url + path, headers_of(MEMBER), expected=size)
    varnish_hit = Timed(varnish.url + path, MEMBER, size)
    varnish_base, varnish_speed = median_speeds(args.runs, [nginx_speed, varnish_hit])
    for label, measure, speed, baseline in (
            ('nginx, same bytes, sendfile on (baseline)', nginx_speed, base, None),
            ('glance-api cache hit (warm, sendfile)', hit, warm, base),
            ('glance-api without a cache (uncached, xxh3 verified)', uncached,
             no_cache, base),
            ('glance-api cache miss (cold: fills while streaming)', cold, miss, base),
            ('Varnish hit (malloc storage) in front of glance-api', varnish_hit,
             varnish_speed, varnish_base)):
        first_byte, body_rate = measure.summary()
        rows.append((label, speed, baseline and speed / baseline, first_byte,
                     body_rate, baseline and body_rate / nginx_speed.summary()[1]))

    flight_source = os.path.join(nginx.root, 'flight.bin')
    api_bench.write_random_file(flight_source, args.flight_size)
    with open(flight_source, 'rb') as data:
        hasher = hashlib.sha256()
        for block in iter(lambda: data.read(16 * MIB), b''):
            hasher.update(block)
    flight_sha256 = hasher.hexdigest()
    flight_id = request(cached.url, 'POST', '/images', dict(
        api_bench.ADMIN, **{'x-image-meta-name': 'bench-flight',
                            'x-image-meta-is-public': 'true',
                            'x-image-meta-location': nginx.url + '/flight.bin',
                            'x-image-meta-sha256': flight_sha256}))['image']['id']
    seconds, exact = single_flight(cached.url, flight_id, args.flight_size,
                                   flight_sha256, args.clients)
    with open(access_log) as lines:
        fetches = sum(1 for line in lines if '"GET /flight.bin' in line)
    notes.append('%d concurrent clients, one uncached %d MiB image in an http store: '
                 '%d store GET(s), %d of %d bodies byte-exact (sha256), %.1f s in all '
                 '(%.0f MiB/s delivered)' % (args.clients, args.flight_size // MIB,
                                             fetches, exact, args.clients, seconds,
                                             args.clients * args.flight_size / MIB
                                             / seconds))
    return rows, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='1G', help='image size (default 1G)')
    parser.add_argument('--runs', type=int, default=5, help='downloads per figure')
    parser.add_argument('--flight-size', default='256M',
                        help='image size of the single-flight test (default 256M)')
    parser.add_argument('--clients', type=int, default=32,
                        help='concurrent clients of the single-flight test')
    args = parser.parse_args(argv)
    args.size = config.as_size(args.size)
    args.flight_size = config.as_size(args.flight_size)
    tmp = tempfile.gettempdir()
    api_bench.check_space(tmp, 4 * args.size + 2 * args.flight_size)
    rows, notes = api_bench.run_in_workdir('glance-cache-bench-', run, args)
    print()
    print('| measurement | MiB/s | ratio to nginx | first byte (ms) | body MiB/s after '
          'it | body ratio to nginx |')
    print('| --- | ---: | ---: | ---: | ---: | ---: |')
    for label, speed, ratio, first_byte, body_rate, body_ratio in rows:
        print('| %s | %.0f | %s | %.1f | %.0f | %s |' % (
            label, speed / MIB, '' if ratio is None else '%.2f' % ratio, first_byte,
            body_rate / MIB, '' if body_ratio is None else '%.2f' % body_ratio))
    print()
    for note in notes:
        print('* ' + note)
    return 0


if __name__ == '__main__':
    sys.exit(main())
