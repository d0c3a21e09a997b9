"""Benchmark what format inspection costs an upload, side by side in one run.

glance-api's upload path (:class:`glance.api.upload.ImageUpload`: blocks read from
the body, md5 and sha256 in their hashing threads, xxh3 inline, objects written to
the real file store with fsync) is run in this process on the same image twice per
round: once as before (no inspection) and once seen through
:class:`glance.api.inspection.Inspection` (oslo's ``InspectWrapper`` with all ten
inspectors, then the verdict). Rounds alternate the order, after one warm-up round,
so a change of load on the shared machine hits both alike; each figure is the median
of ``--runs`` rounds, and the median of the per-round ratios is printed too (it
cancels slow drifts of load). Wall time and CPU time (all threads of the process:
the hashing threads too) are both reported: on a shared machine the CPU time is the
steadier measure of what inspection adds. HTTP is left out on purpose: it adds the same cost to both
sides, so the ratio here is an upper bound of inspection's cost end to end.

The image is a qcow2 made by ``qemu-img convert`` from incompressible data (raw with
``--format raw``), read from the page cache. Usage::

    .venv/bin/python bench/inspection_bench.py [--size 1G] [--runs 5] [--format qcow2] \
        [--dir /dev/shm]

Nothing runs but this process and ``qemu-img``; the work folder is removed at the end.
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

from glance.api import inspection, upload  # noqa: E402
from glance.common import config  # noqa: E402
from glance.store.filesystem import FilesystemStore  # noqa: E402

MIB = 1024 * 1024
BLOCK = MIB                      # glance-api's read_block_size default
STORE_CHUNK = 256 * MIB


def make_image(folder, size, fmt):
    """Write ``size`` random bytes as raw, converted to ``fmt``; return the path."""
    raw = os.path.join(folder, 'source.raw')
    with open(raw, 'wb') as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
    if fmt == 'raw':
        return raw
    path = os.path.join(folder, 'source.' + fmt)
    subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', fmt, raw, path], check=True)
    os.unlink(raw)
    return path


class Clock:
    """Wall time and CPU time (all threads of this process) of one measured span."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def timed_upload(store, path, fmt, inspected):
    """Upload ``path`` through ImageUpload; return (Clock, verdict or None)."""
    inspector = inspection.InspectionOptions().begin(fmt) if inspected else None
    writer = upload.ImageUpload(store, 'bench', STORE_CHUNK, BLOCK, None,
                                inspection=inspector)
    with open(path, 'rb') as body, Clock() as clock:
        writer.write(body, os.path.getsize(path))
        verdict = inspector.verdict() if inspector else None
    writer.discard()
    return clock, verdict


def timed_read(path, fmt, inspected):
    """Only read ``path`` in blocks, through the inspector or not; return a Clock."""
    inspector = inspection.InspectionOptions().begin(fmt) if inspected else None
    with open(path, 'rb') as body, Clock() as clock:
        reader = inspector.wrap(body) if inspector else body
        while reader.read(BLOCK):
            pass
        if inspector:
            inspector.verdict()
    return clock


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='1G', help='guest data size (default 1G)')
    parser.add_argument('--runs', type=int, default=5, help='rounds (default 5)')
    parser.add_argument('--format', default='qcow2', help='image format (default qcow2)')
    parser.add_argument('--dir', default=None,
                        help='work folder parent (default: system temp; /dev/shm takes '
                             'the disk out, leaving the CPU-bound path)')
    args = parser.parse_args(argv)
    size = config.as_size(args.size)
    work = tempfile.mkdtemp(prefix='glance-inspection-bench-', dir=args.dir)
    try:
        path = make_image(work, size, args.format)
        datadir = os.path.join(work, 'store')
        os.mkdir(datadir)
        store = FilesystemStore({'filesystem_store_datadir': datadir,
                                 'chunk_size': '1M'})
        runs = {key: [] for key in ('upload', 'inspected upload', 'read',
                                    'inspected read')}
        verdict = None
        for index in range(args.runs + 1):
            for inspected in ((False, True) if index % 2 else (True, False)):
                clock, found = timed_upload(store, path, args.format, inspected)
                verdict = found or verdict
                read = timed_read(path, args.format, inspected)
                if index:
                    prefix = 'inspected ' if inspected else ''
                    runs[prefix + 'upload'].append(clock)
                    runs[prefix + 'read'].append(read)
        report(args, tempfile.gettempdir(), os.path.getsize(path), verdict, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(args, temp, image_size, verdict, runs):
    """Print the Markdown summary of the runs."""
    mib = image_size / MIB

    def median(key, field):
        return statistics.median(getattr(clock, field) for clock in runs[key])

    def paired(field):
        return statistics.median(
            getattr(inspected, field) / getattr(plain, field)
            for plain, inspected in zip(runs['upload'], runs['inspected upload']))

    print('image: %s, %d bytes (virtual %d), detected %s; work folder in %s; '
          '%d rounds, medians' % (args.format, image_size, verdict.virtual_size,
                                  verdict.format, args.dir or temp, args.runs))
    print()
    print('| measured | without inspection | with inspection | cost |')
    print('| --- | ---: | ---: | ---: |')
    for label, field, unit in (('upload, wall clock', 'wall', 'MiB/s'),
                               ('upload, CPU time (all threads)', 'cpu', 'MiB/CPU-s'),
                               ('read only, wall clock', 'read-wall', 'MiB/s')):
        if field == 'read-wall':
            plain, checked = median('read', 'wall'), median('inspected read', 'wall')
        else:
            plain, checked = median('upload', field), median('inspected upload', field)
        print('| %s | %.0f %s | %.0f %s | %+.1f %% |' % (
            label, mib / plain, unit, mib / checked, unit, 100 * (checked / plain - 1)))
    print()
    print('per-round ratios (median): wall %+.1f %%, CPU %+.1f %%; the inspector costs '
          '%.0f us per MiB read' % (
              100 * (paired('wall') - 1), 100 * (paired('cpu') - 1),
              1e6 * (median('inspected read', 'wall') - median('read', 'wall')) / mib))


if __name__ == '__main__':
    main()
