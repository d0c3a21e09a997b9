"""Test data helpers."""

import random


def random_bytes(size, seed=0):
    """Return ``size`` reproducible pseudo-random (incompressible) bytes for ``seed``."""
    return random.Random(seed).randbytes(size)
