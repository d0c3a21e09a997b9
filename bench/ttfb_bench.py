"""Time to first byte of glance-api downloads against the registry lookup inside them.

One registry (SQLite) and one glance-api (file store, ``workers = 1``) run on
loopback; a 1 MiB image is uploaded, then curl measures ``time_starttransfer`` of

* glance-api ``GET /images/<id>`` (the whole download path up to its first byte),
* the registry's ``GET /images/<id>`` (the lookup glance-api makes first),

each with a new connection per request (as ``bench/suite.py`` measures it) and over
one keep-alive connection (one curl process fetching the URL ``--count`` times). With
``--baseline <checkout>`` a second glance-api runs the code of another checkout
(e.g. ``/work/main``) against the same registry, so before and after are measured in
the same run. Every measure runs once per round, rounds interleaved, and the medians
are printed as Markdown with the load average at the start and the end. Every process
is started here and stopped by PID; the work folder is deleted at the end.

Usage: ``.tox/py311/bin/python bench/ttfb_bench.py [--rounds 5] [--count 40]
[--baseline /work/main]``.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, 'bench'))

import api_bench  # noqa: E402
from tests.functional import daemons  # noqa: E402

MIB = 1024 * 1024


class CheckoutApi(daemons.Daemon):
    """A glance-api daemon run from another checkout's ``bin/`` and package."""

    def __init__(self, checkout, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.checkout = checkout

    def command(self):
        """The checkout's ``bin/glance-api``, importing that checkout's ``glance``."""
        return [sys.executable, '-c', 'import sys; sys.path.insert(0, %r); '
                'from glance.cmd.api import main; sys.exit(main())' % self.checkout,
                '--config-file', self.conf_path]


def ttfb_samples(url, headers, count, keep_alive):
    """Times to first byte (ms) of ``count`` GETs of ``url``.

    :param keep_alive: one curl process for every GET (one connection); else one
        curl process, and so one new connection, per GET.
    """
    command = ['curl', '-s', '-f', '-w', '%{time_starttransfer}\n']
    for header in headers:
        command += ['-H', header]
    fetch = ['-o', '/dev/null', url]
    if keep_alive:
        outputs = [_run(command + fetch * count)]
    else:
        outputs = [_run(command + fetch) for _ in range(count)]
    return [float(word) * 1000 for out in outputs for word in out.split()]


def _run(command):
    return subprocess.run(command, check=True, capture_output=True, text=True,
                          timeout=300).stdout


def load():
    """The 1-minute load average."""
    return os.getloadavg()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--count', type=int, default=40, help='GETs per measure and round')
    parser.add_argument('--baseline', help='another checkout whose glance-api runs too')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='glance-ttfb-')
    started = []
    try:
        registry = daemons.registry_daemon(os.path.join(work, 'registry'),
                                           'sqlite:///%s/registry.db' % work,
                                           log_level='WARNING')
        started.append(registry.start())
        datadir = os.path.join(work, 'images')
        common = dict(sections={'store:file': {'filesystem_store_datadir': datadir}},
                      enabled_stores='file', default_store='file',
                      filesystem_store_datadir=datadir, log_level='WARNING')
        apis = [('glance-api', daemons.api_daemon(os.path.join(work, 'api'),
                                                  registry.url, **common))]
        if args.baseline:
            baseline = daemons.api_daemon(os.path.join(work, 'baseline'), registry.url,
                                          **common)
            checkout = CheckoutApi(os.path.abspath(args.baseline), baseline.prog,
                                   baseline.folder, baseline.options, baseline.sections)
            apis.append(('glance-api, %s' % args.baseline, checkout))
        for _, api in apis:
            started.append(api.start())
        source = os.path.join(work, 'small.bin')
        api_bench.write_random_file(source, MIB)
        image, _ = api_bench.upload(apis[0][1].url, source, 'ttfb')
        headers = ['%s: %s' % item for item in api_bench.ADMIN.items()]
        targets = [('registry GET /images/<id>', registry.url)] + [
            (name, api.url) for name, api in apis]
        measures = [(name, url + '/images/' + image['id'], keep_alive)
                    for keep_alive in (False, True) for name, url in targets]
        samples = {measure: [] for measure in measures}
        start_load = load()
        for measure in measures:
            ttfb_samples(measure[1], headers, 3, measure[2])
        for _ in range(args.rounds):
            for measure in measures:
                samples[measure] += ttfb_samples(measure[1], headers, args.count,
                                                 measure[2])
        print('%s UTC, %d rounds x %d GETs, load average %.2f at the start, %.2f at '
              'the end\n' % (time.strftime('%Y-%m-%d %H:%M', time.gmtime()), args.rounds,
                             args.count, start_load, load()))
        print('| target | connection | TTFB p50 ms | p90 ms |')
        print('| --- | --- | ---: | ---: |')
        for measure in measures:
            values = sorted(samples[measure])
            print('| %s | %s | %.2f | %.2f |' % (
                measure[0], 'keep-alive' if measure[2] else 'new per GET',
                statistics.median(values), values[int(len(values) * 0.9)]))
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
