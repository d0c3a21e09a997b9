"""Test data helpers."""

import os
import random


def random_bytes(size, seed=0):
    """Return ``size`` reproducible pseudo-random (incompressible) bytes for ``seed``."""
    return random.Random(seed).randbytes(size)


def rot_silently(path, offset=10):
    """Flip one byte of a file but keep its size and mtime (bit rot).

    The file store's ETag still matches, so only the whole-image digest computed
    while streaming can catch it.
    """
    before = os.stat(path)
    with open(path, 'r+b') as chunk:
        chunk.seek(offset)
        byte = chunk.read(1)
        chunk.seek(offset)
        chunk.write(bytes([byte[0] ^ 0xff]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
