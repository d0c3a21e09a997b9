"""Download throughput of glance-api (file store) against nginx, one and 64 streams.

The two download targets of issue #11, measured in one run on loopback with curl
clients on both sides:

* one BLAKE3-verified download of a ``--size`` image (256 MiB chunks) against nginx
  serving the same bytes from one file with sendfile off and on; the same image as
  ``Range: bytes=0-`` (no whole-image digest) shows the cost of verification;
* ``--clients`` concurrent verified downloads of a ``--stream-size`` image (about
  ``--stream-total`` bytes in all) against the same nginx (``worker_processes auto``);
  glance-api runs with ``workers`` = cores.

Every measure runs once per round, after one warm-up round, in interleaved rounds
(``--runs``); medians are printed with the load average of every round, and with the
CPU time the server's processes (master and workers) spent per GiB sent: on a
shared machine, the figure that load changes least.
``--before-repo`` adds a glance-api started from another checkout (e.g. the main
branch) as one more measure of each kind, for a before/after in the same run.

Usage: ``python bench/download_bench.py [--size 1G] [--runs 5] [--before-repo DIR]``
"""

import argparse
import os
import statistics
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCH))
sys.path.insert(0, BENCH)

import api_bench  # noqa: E402
import suite  # noqa: E402
from glance.common import config  # noqa: E402
from tests.functional import daemons  # noqa: E402

MIB = api_bench.MIB
GIB = api_bench.GIB


def start_api(work, name, registry, datadir, repo=None):
    """Start a glance-api (file store, ``workers`` = cores), optionally from ``repo``."""
    saved = daemons.REPO, daemons.ETC
    if repo:
        daemons.REPO, daemons.ETC = repo, os.path.join(repo, 'etc')
    try:
        return daemons.api_daemon(
            os.path.join(work, name), registry.url, default_store='file',
            enabled_stores='file', store_chunk_size='256M',
            filesystem_store_datadir=datadir, log_level='WARNING',
            workers=os.cpu_count() or 1).start()
    finally:
        daemons.REPO, daemons.ETC = saved


def rounds(runs, measures):
    """Interleaved rounds after a warm-up.

    :param measures: ``(label, measure, server pid, bytes per measure)`` tuples.
    :returns: ``{label: (median B/s, median server CPU s per GiB)}`` and the load
        average at the start of each round.
    """
    for _, measure, _, _ in measures:
        measure()
    speeds = {label: [] for label, _, _, _ in measures}
    cpu = {label: [] for label, _, _, _ in measures}
    loads = []
    for _ in range(runs):
        loads.append(os.getloadavg()[0])
        for label, measure, pid, size in measures:
            before = api_bench.tree_cpu_seconds(pid)
            speeds[label].append(measure())
            cpu[label].append((api_bench.tree_cpu_seconds(pid) - before) * GIB / size)
    return {label: (statistics.median(speeds[label]), statistics.median(cpu[label]))
            for label in speeds}, loads


def run(args, work, started):
    """Start nginx, a registry and the glance-api daemons; measure both targets."""
    nginx = suite.Nginx(os.path.join(work, 'nginx'))
    started.append(nginx.start())
    registry = daemons.registry_daemon(os.path.join(work, 'registry'),
                                       'sqlite:///%s/registry.db' % work,
                                       log_level='WARNING')
    started.append(registry.start())
    datadir = os.path.join(work, 'images')
    os.makedirs(datadir)
    apis = {'glance-api': start_api(work, 'api', registry, datadir)}
    started.append(apis['glance-api'])
    if args.before_repo:
        apis['glance-api before'] = start_api(work, 'api-before', registry, datadir,
                                              args.before_repo)
        started.append(apis['glance-api before'])
    headers = ['%s: %s' % item for item in api_bench.ADMIN.items()]
    big = os.path.join(nginx.root, 'image.bin')
    api_bench.write_random_file(big, args.size)
    stream = os.path.join(nginx.root, 'stream.bin')
    api_bench.write_random_file(stream, args.stream_size)
    any_api = apis['glance-api']
    big_id = api_bench.upload(any_api.url, big, 'bench-big')[0]['id']
    stream_id = api_bench.upload(any_api.url, stream, 'bench-stream')[0]['id']

    def single(url, extra=()):
        return lambda: api_bench.curl_speed(url, list(extra), expected=args.size)

    def many(url, extra=()):
        return lambda: suite.aggregate_speed(url, list(extra), args.stream_size,
                                             args.clients, args.stream_total)

    nginx_pid = nginx.process.pid
    one_size = args.size
    many_size = (args.clients * args.stream_size
                 * max(1, args.stream_total // (args.clients * args.stream_size)))
    one = [('nginx sendfile off', single(nginx.url + '/image.bin'), nginx_pid, one_size),
           ('nginx sendfile on', single(nginx.sendfile_url + '/image.bin'), nginx_pid,
            one_size)]
    for label, api in apis.items():
        url = api.url + '/images/' + big_id
        one += [(label + ' verified', single(url, headers), api.pid, one_size),
                (label + ' Range: bytes=0-', single(url, headers + ['Range: bytes=0-']),
                 api.pid, one_size)]
    streams = [('nginx sendfile off', many(nginx.url + '/stream.bin'), nginx_pid,
                many_size),
               ('nginx sendfile on', many(nginx.sendfile_url + '/stream.bin'), nginx_pid,
                many_size)]
    streams += [(label + ' verified', many(api.url + '/images/' + stream_id, headers),
                 api.pid, many_size) for label, api in apis.items()]
    results = []
    for title, measures in (('1 stream, %d MiB' % (args.size // MIB), one),
                            ('%d streams, %d MiB each' % (args.clients,
                                                          args.stream_size // MIB),
                             streams)):
        medians, loads = rounds(args.runs, measures)
        results.append((title, medians, loads))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='1G', help='single-stream image size')
    parser.add_argument('--stream-size', default='64M', help='image size at 64 streams')
    parser.add_argument('--stream-total', default='2G', help='bytes per 64-stream measure')
    parser.add_argument('--clients', type=int, default=64)
    parser.add_argument('--runs', type=int, default=5, help='rounds after the warm-up')
    parser.add_argument('--before-repo', help='also run glance-api from this checkout')
    args = parser.parse_args(argv)
    for name in ('size', 'stream_size', 'stream_total'):
        setattr(args, name, config.as_size(getattr(args, name)))
    api_bench.check_space(tempfile.gettempdir(), 2 * args.size)
    results = api_bench.run_in_workdir('glance-download-bench-', run, args)
    for title, medians, loads in results:
        better = max(medians['nginx sendfile off'][0], medians['nginx sendfile on'][0])
        print('\n%s; load average (1 min) at each round: %s' % (
            title, ' '.join('%.1f' % load for load in loads)))
        print('| measure | MiB/s | / better nginx | server CPU s per GiB |\n'
              '| --- | ---: | ---: | ---: |')
        for label, (speed, cpu) in medians.items():
            print('| %s | %.0f | %.2f | %.2f |' % (label, speed / MIB, speed / better,
                                                   cpu))
    return 0


if __name__ == '__main__':
    sys.exit(main())
