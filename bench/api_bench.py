"""Benchmark glance-api downloads against the same bytes served directly.

One run measures, on loopback only:

1. a 1 GiB image uploaded through glance-api into the file store (256 MiB chunks),
   downloaded through glance-api BLAKE3-verified while streaming (the path of every
   uploaded image) and unverified (the same image asked for as ``Range: bytes=0-``,
   which streams the same chunks through the same code without any digest: the
   cost of verification is the ratio of the two), against nginx serving the same
   bytes from one file;
2. the same image uploaded into the Swift store, downloaded through glance-api
   verified and unverified, against python-swiftclient (and curl) GETting the same
   objects directly;
3. the peak RSS of glance-api while it streams a 4 GiB image made of four sparse
   1 GiB files (no disk space used), BLAKE3 verified, against its RSS before the
   download.

Downloads through HTTP use curl writing to /dev/null, so client cost is the same on
both sides. nginx runs twice: as the functional tests configure it (``sendfile``
off, nginx's default) and with ``sendfile on``, the usual production setting and the
stronger baseline. Each figure is the median of ``--runs`` downloads; a baseline and
the glance-api downloads compared with it are measured in interleaved rounds (after
one warm-up round), so that load changes on a shared machine hit them alike. Every
process is started here and stopped by PID; the work folder is deleted at the end.

Usage: ``.venv/bin/python bench/api_bench.py [--size 1G] [--runs 3] [--no-swift]``
(Swift comes from ``tools/test-setup.sh``). The summary is printed as Markdown.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from glance.common import config, streaming  # noqa: E402
from tests.functional import daemons, services  # noqa: E402

MIB = 1024 * 1024
GIB = 1024 * MIB
ADMIN = {'X-Tenant-Id': 'bench', 'X-User-Id': 'bench', 'X-Roles': 'admin'}
CONTAINER = 'glance-bench'


def curl_speed(url, headers=(), expected=None):
    """Download ``url`` with curl into /dev/null; return bytes per second."""
    command = ['curl', '-s', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}',
               url]
    for header in headers:
        command += ['-H', header]
    out = subprocess.run(command, check=True, capture_output=True, text=True,
                         timeout=600).stdout.split()
    if expected is not None and int(float(out[1])) != expected:
        raise RuntimeError('%s: got %s bytes, expected %d' % (url, out[1], expected))
    return float(out[0])


def median_speeds(runs, measures):
    """Run every measure once per round, one warm-up round then ``runs`` rounds.

    Interleaving makes a change of load on a shared machine hit the baseline and the
    candidates alike, so their ratios stay meaningful.

    :returns: the median B/s of each measure, in order.
    """
    for measure in measures:
        measure()
    speeds = [[] for _ in measures]
    for _ in range(runs):
        for speed, measure in zip(speeds, measures):
            speed.append(measure())
    return [statistics.median(speed) for speed in speeds]


def request(url, method, path, headers=None, body=None):
    """One HTTP request; the body may be a file object (streamed in 1 MiB blocks)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600,
                                      blocksize=MIB)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError('%s %s: %d %s' % (method, path, resp.status, data[:300]))
        return json.loads(data) if data else None
    finally:
        conn.close()


def upload(api_url, path, name):
    """Upload a file through glance-api; return the image record."""
    with open(path, 'rb') as body:
        headers = dict(ADMIN, **{'x-image-meta-name': name,
                                 'Content-Length': str(os.path.getsize(path))})
        started = time.monotonic()
        image = request(api_url, 'POST', '/images', headers, body)['image']
    return image, os.path.getsize(path) / (time.monotonic() - started)


def register(api_url, locations, name, digests=None):
    """Register existing chunk locations as an image (admin); return its id.

    :param digests: ``{field: hexdigest}`` to record, e.g. ``{'sha256': ...}``.
    """
    headers = dict(ADMIN, **{'x-image-meta-name': name,
                             'x-image-meta-location': ', '.join(locations)})
    for field, value in (digests or {}).items():
        headers['x-image-meta-' + field] = value
    return request(api_url, 'POST', '/images', headers)['image']['id']


def write_random_file(path, size):
    """Write ``size`` incompressible bytes (a repeated 64 MiB random block)."""
    block = os.urandom(64 * MIB)
    with open(path, 'wb') as out:
        written = 0
        while written < size:
            piece = block[:size - written]
            out.write(piece)
            written += len(piece)


def process_tree(pid):
    """``pid`` and all its descendants (a pre-fork master and its workers)."""
    pids, todo = [], [pid]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            with open('/proc/%d/task/%d/children' % (pid, pid)) as children:
                todo += [int(child) for child in children.read().split()]
        except OSError:
            pass
    return pids


def tree_cpu_seconds(pid):
    """CPU seconds (user + system) used so far by ``pid`` and its descendants."""
    ticks = 0
    for member in process_tree(pid):
        try:
            with open('/proc/%d/stat' % member) as stat:
                fields = stat.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf('SC_CLK_TCK')


def rss_kib(pid):
    """Resident set size of a process, in KiB."""
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError('no VmRSS for %d' % pid)


def peak_rss_during(pid, action):
    """Run ``action()`` while sampling the RSS of ``pid`` every 20 ms.

    :returns: ``(rss before in KiB, peak RSS in KiB, action's result)``.
    """
    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], rss_kib(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = action()
    finally:
        done.set()
        sampler.join()
    return before, max(peak[0], rss_kib(pid)), result


def digest_of_zeros(algorithm, size):
    """The digest of ``size`` zero bytes (the content of a sparse file)."""
    digest = streaming.ALGORITHMS[algorithm]()
    block = bytes(16 * MIB)
    for _ in range(size // len(block)):
        digest.update(block)
    digest.update(bytes(size % len(block)))
    return digest.hexdigest()


def swiftclient_speed(swift, names, size):
    """GET the objects directly with python-swiftclient; return bytes per second."""
    import swiftclient.client
    conn = swiftclient.client.Connection(authurl=swift.auth_url, user=services.SWIFT_USER,
                                         key=services.SWIFT_KEY, auth_version='1')
    started = time.monotonic()
    received = 0
    for name in names:
        _, body = conn.get_object(CONTAINER, name, resp_chunk_size=MIB)
        for block in body:
            received += len(block)
    elapsed = time.monotonic() - started
    if received != size:
        raise RuntimeError('swiftclient got %d bytes, expected %d' % (received, size))
    return received / elapsed


def curl_swift_speed(swift, names, size):
    """GET the objects directly with curl (one process per object)."""
    import swiftclient.client
    url, token = swiftclient.client.get_auth(swift.auth_url, services.SWIFT_USER,
                                             services.SWIFT_KEY, auth_version='1')
    started = time.monotonic()
    for name in names:
        curl_speed('%s/%s/%s' % (url, CONTAINER, name), ['X-Auth-Token: ' + token])
    return size / (time.monotonic() - started)


def check_space(folder, needed):
    free = shutil.disk_usage(folder).free
    if free < needed + 2 * GIB:
        raise SystemExit('need %.1f GiB free in %s, have %.1f GiB'
                         % ((needed + 2 * GIB) / GIB, folder, free / GIB))


def run(args, work, started):
    """Start the services, measure, and return the result rows."""
    rows = []
    size = args.size
    datadir = os.path.join(work, 'images')
    os.makedirs(datadir)
    nginx = services.NginxService(os.path.join(work, 'nginx'))
    started.append(nginx.start())
    nginx_sendfile = services.NginxService(os.path.join(work, 'nginx-sendfile'),
                                           directives=('sendfile on', 'tcp_nopush on'))
    started.append(nginx_sendfile.start())
    source = os.path.join(nginx.root, 'image.bin')
    write_random_file(source, size)
    os.link(source, os.path.join(nginx_sendfile.root, 'image.bin'))
    registry = daemons.registry_daemon(os.path.join(work, 'registry'),
                                       'sqlite:///%s/registry.db' % work)
    started.append(registry.start())
    swift = None
    sections = {'store:file': {'filesystem_store_datadir': datadir}}
    if not args.no_swift:
        swift = services.SwiftService(os.path.join(work, 'swift'))
        started.append(swift.start())
        sections['store:swift'] = swift.swift_options(container=CONTAINER)
    stores = 'file, http, swift' if swift else 'file, http'
    api = daemons.api_daemon(os.path.join(work, 'api'), registry.url,
                             sections=sections, enabled_stores=stores,
                             default_store='file', store_chunk_size='256M',
                             filesystem_store_datadir=datadir, log_level='WARNING')
    started.append(api.start())

    image, upload_speed = upload(api.url, source, 'bench-file')
    rows.append(('upload through glance-api (file store, md5+sha256+blake3, fsync)',
                 upload_speed, None))
    headers = ['%s: %s' % item for item in ADMIN.items()]

    def download(url, image_id, extra=()):
        return lambda: curl_speed(url + '/images/' + image_id, headers + list(extra),
                                  expected=size)

    # A range covering the whole image is served by the same chunk reads without any
    # whole-image digest (a partial body cannot be checked): the unverified twin.
    unverified = ['Range: bytes=0-']

    chunk_count = -(-size // (256 * MIB))
    images = [('BLAKE3 verified', ()), ('unverified (Range: bytes=0-)', unverified)]
    nginx_speed, sendfile_speed, *speeds = median_speeds(args.runs, [
        lambda: curl_speed(nginx.url + '/image.bin', expected=size),
        lambda: curl_speed(nginx_sendfile.url + '/image.bin', expected=size)] + [
        download(api.url, image['id'], extra) for _, extra in images])
    rows += [('nginx, same bytes, as the tests configure it (sendfile off; baseline)',
              nginx_speed, None),
             ('nginx, same bytes, sendfile on', sendfile_speed,
              sendfile_speed / nginx_speed)]
    for (label, _), speed in zip(images, speeds):
        rows.append(('glance-api file store, ' + label, speed, speed / nginx_speed,
                     speed / sendfile_speed))
    rows.append(('BLAKE3 verification cost (file store): verified / unverified',
                 speeds[0], speeds[0] / speeds[1]))

    if swift:
        swift_api = daemons.api_daemon(
            os.path.join(work, 'api-swift'), registry.url, sections=sections,
            enabled_stores=stores, default_store='swift', store_chunk_size='256M',
            filesystem_store_datadir=datadir, log_level='WARNING')
        started.append(swift_api.start())
        swift_image, swift_upload = upload(swift_api.url, source, 'bench-swift')
        names = ['%s-%05d' % (swift_image['id'], n) for n in range(chunk_count)]
        direct, direct_curl, *speeds = median_speeds(args.runs, [
            lambda: swiftclient_speed(swift, names, size),
            lambda: curl_swift_speed(swift, names, size)] + [
            download(swift_api.url, swift_image['id'], extra) for _, extra in images])
        rows += [('upload through glance-api (swift store)', swift_upload, None),
                 ('python-swiftclient direct GET of the objects (baseline)', direct, None),
                 ('curl direct GET of the objects', direct_curl, None)]
        for (label, _), speed in zip(images, speeds):
            rows.append(('glance-api swift store, ' + label, speed, speed / direct))
        rows.append(('BLAKE3 verification cost (swift store): verified / unverified',
                     speeds[0], speeds[0] / speeds[1]))

    big_chunks = []
    for number in range(4):
        path = os.path.join(datadir, 'sparse-%d' % number)
        with open(path, 'wb') as sparse:
            sparse.truncate(GIB)
        big_chunks.append('file://' + path)
        # Reading a hole the first time costs more than reading it again; warm the
        # page cache here so that the measured download does not pay for it.
        with open(path, 'rb') as sparse:
            while sparse.read(16 * MIB):
                pass
    big = register(api.url, big_chunks, 'bench-sparse',
                   {'blake3': digest_of_zeros('blake3', 4 * GIB)})
    before, peak, speed = peak_rss_during(api.pid, lambda: curl_speed(
        api.url + '/images/' + big, headers, expected=4 * GIB))
    rows.append(('4 GiB download, BLAKE3 verified: RSS %.1f MiB before, %.1f MiB peak, '
                 'growth %.1f MiB' % (before / 1024, peak / 1024, (peak - before) / 1024),
                 speed, None))
    return rows


def run_in_workdir(prefix, run, args):
    """Call ``run(args, work, started)`` in a fresh work folder, with load averages.

    Every service ``run`` appends to ``started`` is stopped, and the folder removed,
    whatever happens.

    :returns: what ``run`` returns.
    """
    print('load average at the start: %.2f %.2f %.2f' % os.getloadavg())
    work = tempfile.mkdtemp(prefix=prefix)
    started = []
    try:
        return run(args, work, started)
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
        print('load average at the end: %.2f %.2f %.2f' % os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='1G', help='image size (default 1G)')
    parser.add_argument('--runs', type=int, default=3, help='downloads per figure')
    parser.add_argument('--no-swift', action='store_true', help='skip the Swift part')
    args = parser.parse_args(argv)
    args.size = config.as_size(args.size)
    tmp = tempfile.gettempdir()
    check_space(tmp, 3 * args.size)
    rows = run_in_workdir('glance-api-bench-', run, args)
    print()
    print('| measurement | MiB/s | ratio to baseline | ratio to nginx with sendfile |')
    print('| --- | ---: | ---: | ---: |')
    for label, speed, *ratios in rows:
        cells = ['' if ratio is None else '%.2f' % ratio
                 for ratio in (ratios + [None, None])[:2]]
        print('| %s | %.0f | %s | %s |' % (label, speed / MIB, *cells))
    return 0


if __name__ == '__main__':
    sys.exit(main())
