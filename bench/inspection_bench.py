"""Benchmark what format inspection costs an upload, side by side in one run.

glance-api's upload path (:class:`glance.api.upload.ImageUpload`: blocks read from
the body, md5 and sha256 in their hashing threads, xxh3 inline, objects written to
the real file store with fsync) is run in this process on the same image twice per
round: once as before (no inspection) and once seen through
:class:`glance.api.inspection.Inspection` (oslo's ``InspectWrapper`` with all ten
inspectors, then the verdict). Rounds alternate the order, after one warm-up round,
so a change of load on the shared machine hits both alike; each figure is the median
of ``--runs`` rounds, and the median of the per-round ratios is printed too (it
cancels slow drifts of load). HTTP is left out on purpose: it adds the same cost to both
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


def timed_upload(store, path, fmt, inspected):
    """Upload ``path`` through ImageUpload; return (seconds, verdict or None)."""
    inspector = inspection.InspectionOptions().begin(fmt) if inspected else None
    writer = upload.ImageUpload(store, 'bench', STORE_CHUNK, BLOCK, None,
                                inspection=inspector)
    with open(path, 'rb') as body:
        started = time.perf_counter()
        writer.write(body, os.path.getsize(path))
        verdict = inspector.verdict() if inspector else None
        elapsed = time.perf_counter() - started
    writer.discard()
    return elapsed, verdict


def timed_read(path, fmt, inspected):
    """Only read ``path`` in blocks, through the inspector or not; return seconds."""
    inspector = inspection.InspectionOptions().begin(fmt) if inspected else None
    with open(path, 'rb') as body:
        started = time.perf_counter()
        reader = inspector.wrap(body) if inspector else body
        while reader.read(BLOCK):
            pass
        if inspector:
            inspector.verdict()
        return time.perf_counter() - started


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
        times = {key: [] for key in ('upload', 'inspected upload', 'read',
                                     'inspected read')}
        verdict = None
        for index in range(args.runs + 1):
            for inspected in ((False, True) if index % 2 else (True, False)):
                elapsed, found = timed_upload(store, path, args.format, inspected)
                verdict = found or verdict
                read = timed_read(path, args.format, inspected)
                if index:
                    prefix = 'inspected ' if inspected else ''
                    times[prefix + 'upload'].append(elapsed)
                    times[prefix + 'read'].append(read)
        image_size = os.path.getsize(path)
        median = {key: statistics.median(value) for key, value in times.items()}
        plain, checked = median['upload'], median['inspected upload']
        print('image: %s, %d bytes (virtual %d), detected %s; work folder in %s; '
              '%d rounds, medians' % (args.format, image_size, verdict.virtual_size,
                                      verdict.format, args.dir or tempfile.gettempdir(),
                                      args.runs))
        print()
        print('| upload (in process, file store, fsync) | MiB/s | relative |')
        print('| --- | ---: | ---: |')
        print('| without inspection | %.0f | 100 %% |' % (image_size / plain / MIB))
        print('| with inspection (InspectWrapper + verdict) | %.0f | %.1f %% |'
              % (image_size / checked / MIB, 100 * plain / checked))
        print('| read only, no store, no hashing | %.0f | |'
              % (image_size / median['read'] / MIB))
        print('| read only, through InspectWrapper | %.0f | |'
              % (image_size / median['inspected read'] / MIB))
        paired = statistics.median(
            without / inspected for without, inspected in zip(times['upload'],
                                                              times['inspected upload']))
        print()
        print('inspection cost: %.1f %% of upload throughput (medians), %.1f %% '
              '(median of the per-round ratios); %.1f us per MiB read'
              % (100 * (1 - plain / checked), 100 * (1 - paired),
                 1e6 * (median['inspected read'] - median['read']) / (image_size / MIB)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
