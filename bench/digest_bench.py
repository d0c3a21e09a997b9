"""Measure where BLAKE3 verification should run: inline in the hub or in a thread.

One run, on loopback only:

1. single-core hashing speed of 1 MiB buffers for BLAKE3, sha256 and md5, and BLAKE3
   with ``max_threads`` (the library's own multi-threaded update);
2. a file-store image streamed by glance-api's own download iterator
   (:class:`glance.api.download.ChunkedImageIterable`, the real file store, 1 MiB
   blocks) through an eventlet WSGI server in this process to curl writing to
   /dev/null, in six modes measured in interleaved rounds: unverified, BLAKE3 in a
   dedicated hashing thread, the same with ``max_threads=2``, BLAKE3 inline in the
   hub, inline with ``max_threads=2``, and sha256 in a thread for reference.

The modes are chosen by setting :data:`glance.common.streaming.INLINE_ALGORITHMS`
and the ``blake3`` constructor in :data:`glance.common.streaming.ALGORITHMS` for the
duration of one download: the very knobs this measurement is about.

Usage: ``.venv/bin/python bench/digest_bench.py [--size 512M] [--runs 5]``. Prints
Markdown; the work folder is deleted at the end.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import blake3  # noqa: E402
import eventlet.wsgi  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.api_bench import run_in_workdir, write_random_file  # noqa: E402
from glance.api import download  # noqa: E402
from glance.common import config, streaming  # noqa: E402
from glance.store import StoreRegistry  # noqa: E402

MIB = 1024 * 1024
BLOCK = MIB


def hash_speed(new, seconds=1.0):
    """Bytes per second one hasher takes in 1 MiB updates, over about ``seconds``."""
    buffer = os.urandom(MIB)
    hasher = new()
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        hasher.update(buffer)
        count += 1
    return count * MIB / (time.perf_counter() - started)


@contextlib.contextmanager
def mode(inline, constructor=None):
    """Hash BLAKE3 inline or in a thread (and with which constructor) meanwhile."""
    saved = streaming.INLINE_ALGORITHMS, streaming.ALGORITHMS['blake3']
    streaming.INLINE_ALGORITHMS = frozenset(('blake3',)) if inline else frozenset()
    streaming.ALGORITHMS['blake3'] = constructor or blake3.blake3
    try:
        yield
    finally:
        streaming.INLINE_ALGORITHMS, streaming.ALGORITHMS['blake3'] = saved


class Server:
    """An eventlet WSGI server in this process serving one image download."""

    def __init__(self, stores, chunks, digests):
        self.stores = stores
        self.chunks = chunks
        self.digests = digests
        self.digest = None
        self.sock = eventlet.listen(('127.0.0.1', 0))
        self.url = 'http://127.0.0.1:%d/' % self.sock.getsockname()[1]
        self.thread = eventlet.spawn(eventlet.wsgi.server, self.sock, self.app,
                                     log_output=False)

    def app(self, environ, start_response):
        body = download.ChunkedImageIterable(self.stores, 'bench', self.chunks, BLOCK,
                                             self.digest)
        start_response('200 OK', [('Content-Length', str(body.size)),
                                  ('Content-Type', 'application/octet-stream')])
        return body

    def speed(self, algorithm, size):
        """Download once with curl; return bytes per second."""
        self.digest = (algorithm, self.digests[algorithm]) if algorithm else None
        out = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w',
                              '%{speed_download} %{size_download}', self.url],
                             check=True, capture_output=True, text=True).stdout.split()
        if int(float(out[1])) != size:
            raise RuntimeError('got %s bytes, expected %d' % (out[1], size))
        return float(out[0])

    def stop(self):
        self.thread.kill()
        self.sock.close()


def digests_of(path):
    """``{algorithm: hexdigest}`` of a file, for BLAKE3 and sha256."""
    digests = {'blake3': blake3.blake3(), 'sha256': hashlib.sha256()}
    with open(path, 'rb') as image:
        for block in iter(lambda: image.read(16 * MIB), b''):
            for digest in digests.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def run(args, work, _started):
    rows = [('one core, 1 MiB updates: ' + label, hash_speed(new), None)
            for label, new in (
                ('BLAKE3', blake3.blake3),
                ('BLAKE3 max_threads=2', functools.partial(blake3.blake3, max_threads=2)),
                ('sha256', hashlib.sha256),
                ('md5', functools.partial(hashlib.md5, usedforsecurity=False)))]
    path = os.path.join(work, 'image')
    write_random_file(path, args.size)
    digests = digests_of(path)
    stores = StoreRegistry({'enabled_stores': 'file', 'default_store': 'file',
                            'config_file': write_conf(work)})
    chunks = download.image_chunks({'id': 'bench', 'size': args.size, 'chunks': [
        {'location': 'file://' + path, 'size': args.size}]})
    server = Server(stores, chunks, digests)
    threaded, inline = functools.partial(mode, False), functools.partial(mode, True)
    two_threads = functools.partial(blake3.blake3, max_threads=2)
    modes = [('unverified (baseline)', None, threaded),
             ('BLAKE3 in a dedicated thread', 'blake3', threaded),
             ('BLAKE3 in a dedicated thread, max_threads=2 (glance-api)', 'blake3',
              functools.partial(threaded, two_threads)),
             ('BLAKE3 inline in the hub', 'blake3', inline),
             ('BLAKE3 inline, max_threads=2', 'blake3',
              functools.partial(inline, two_threads)),
             ('sha256 in a dedicated thread', 'sha256', threaded)]
    speeds = [[] for _ in modes]
    try:
        for round_number in range(args.runs + 1):
            for speed, (_, algorithm, hashing) in zip(speeds, modes):
                with hashing():
                    value = server.speed(algorithm, args.size)
                if round_number:  # the first round warms the page cache
                    speed.append(value)
    finally:
        server.stop()
    baseline = statistics.median(speeds[0])
    for (label, _, _), speed in zip(modes, speeds):
        median = statistics.median(speed)
        rows.append(('download through the real iterator, ' + label, median,
                     median / baseline))
    return rows


def write_conf(work):
    path = os.path.join(work, 'glance-api.conf')
    with open(path, 'w') as conf:
        conf.write('[store:file]\nfilesystem_store_datadir = %s\n' % work)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='512M', help='image size (default 512M)')
    parser.add_argument('--runs', type=int, default=5, help='downloads per mode')
    args = parser.parse_args(argv)
    args.size = config.as_size(args.size)
    rows = run_in_workdir('glance-digest-bench-', run, args)
    print()
    print('| measurement | MiB/s | ratio to unverified |')
    print('| --- | ---: | ---: |')
    for label, speed, ratio in rows:
        print('| %s | %.0f | %s |' % (label, speed / MIB,
                                      '' if ratio is None else '%.2f' % ratio))
    return 0


if __name__ == '__main__':
    sys.exit(main())
