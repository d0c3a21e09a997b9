#!/usr/bin/env python3
"""Upload through glance-api against nginx WebDAV PUT, interleaved rounds.

``upload_bench.py OTHER_CHECKOUT``: starts nginx (``bench/suite.py``'s config), one
registry, and two glance-api daemons on the file store (this checkout's and
OTHER_CHECKOUT's code, e.g. /work/main), all on loopback; then, after a warm-up
round, ``RUNS`` rounds (default 5) of one ``curl -T`` upload of a ``SIZE_MIB`` (1024)
random file to each, as the suite does. Prints per-round MiB/s and CPU seconds of
each server (all its processes and threads), then medians and ratios to nginx.
Nothing is deleted between rounds (as in the suite); everything is at the end.
"""
import itertools
import os
import shutil
import statistics
import sys
import tempfile

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, REPO)
sys.path.insert(0, BENCH)

import api_bench  # noqa: E402
import suite  # noqa: E402
from tests.functional import daemons  # noqa: E402

SIZE = int(os.environ.get('SIZE_MIB', '1024')) * suite.MIB
RUNS = int(os.environ.get('RUNS', '5'))


def start_apis(work, registry_url, checkouts, started):
    """One glance-api (file store, as in the suite) per ``{name: checkout}``."""
    apis = {}
    try:
        for name, checkout in checkouts.items():
            daemons.REPO = checkout
            datadir = os.path.join(work, 'images-' + name)
            os.makedirs(datadir)
            apis[name] = daemons.api_daemon(
                os.path.join(work, 'api-' + name), registry_url, default_store='file',
                sections={'store:file': {'filesystem_store_datadir': datadir}},
                enabled_stores='file', store_chunk_size='256M',
                filesystem_store_datadir=datadir, log_level='WARNING',
                workers=os.cpu_count() or 1).start()
            started.append(apis[name])
    finally:
        daemons.REPO = REPO
    return apis


def timed_curl(pid, args):
    """``curl -T`` one upload; returns (bytes per second, CPU seconds of ``pid``)."""
    before = api_bench.tree_cpu_seconds(pid)
    speed = float(suite.curl(args + ['-o', '/dev/null', '-w', '%{speed_upload}'])[0])
    return speed, api_bench.tree_cpu_seconds(pid) - before


def measures(nginx, apis, source):
    """``{name: measure}``: nginx WebDAV PUT first, then each glance-api."""
    headers = []
    for name, value in dict(api_bench.ADMIN, **{'x-image-meta-name': 'up'}).items():
        headers += ['-H', '%s: %s' % (name, value)]
    counter = itertools.count()
    found = {'nginx': lambda: timed_curl(nginx.process.pid, [
        '-T', source, '%s/dav/upload-%d.bin' % (nginx.url, next(counter))])}
    for name, api in apis.items():
        found[name] = (lambda api=api: timed_curl(api.process.pid, headers + [
            '-T', source, '-X', 'POST', api.url + '/images']))
    return found


def report(results, loads):
    """Print medians, ratios to nginx and CPU seconds per GiB."""
    nginx = statistics.median(speed for speed, _ in results['nginx'])
    for name, rounds in results.items():
        speed = statistics.median(speed for speed, _ in rounds)
        seconds = statistics.median(cpu for _, cpu in rounds)
        ratios = ' '.join('%.2f' % (mine / theirs) for (mine, _), (theirs, _)
                          in zip(rounds, results['nginx']))
        print('MEDIAN %-6s %4.0f MiB/s  ratio of medians %.2f  per-round ratios %s  '
              'CPU-s/GiB %.2f' % (name, speed / suite.MIB, speed / nginx, ratios,
                                  seconds * suite.GIB / SIZE))
    print('load average per round: ' + ' '.join('%.1f' % load for load in loads))


def main(other):
    """Run the rounds against this checkout ('after') and ``other`` ('before')."""
    work = tempfile.mkdtemp(prefix='glance-upload-bench-')
    started = []
    try:
        nginx = suite.Nginx(os.path.join(work, 'nginx')).start()
        started.append(nginx)
        registry = daemons.registry_daemon(os.path.join(work, 'registry'),
                                           'sqlite:///%s/registry.db' % work,
                                           log_level='WARNING').start()
        started.append(registry)
        apis = start_apis(work, registry.url, {'after': REPO, 'before': other}, started)
        source = os.path.join(nginx.root, 'image.bin')
        api_bench.write_random_file(source, SIZE)
        runs = measures(nginx, apis, source)
        for measure in runs.values():
            measure()
        results = {name: [] for name in runs}
        loads = [os.getloadavg()[0]]
        for number in range(RUNS):
            for name, measure in runs.items():
                results[name].append(measure())
            loads.append(os.getloadavg()[0])
            print('round %d load %.1f ' % (number + 1, loads[-1]) + ' '.join(
                '%s=%.0f MiB/s,%.2f CPU-s' % (name, rounds[-1][0] / suite.MIB,
                                              rounds[-1][1])
                for name, rounds in results.items()), flush=True)
        report(results, loads)
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
