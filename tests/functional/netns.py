"""A network namespace with loopback only, for tests that must not reach any network.

:func:`loopback_only` moves the calling thread into a new network namespace
(``unshare(CLONE_NEWNET)``, what ``unshare -n`` does) and brings ``lo`` up. Every
process the thread starts meanwhile (daemons, nginx) is born inside it, so a test
that asks glance-api to fetch a non-loopback address cannot send a packet anywhere,
whatever a regression does. On exit the thread returns to its own namespace; the
processes started inside stay there until they are stopped.
"""

import contextlib
import ctypes
import os
import shutil
import subprocess

import pytest

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def loopback_only():
    """Run the body in a fresh network namespace whose only interface is ``lo``.

    Skips the test when the kernel refuses (not root, or namespaces disabled); every
    other failure is an error.
    """
    original = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            pytest.skip('cannot create a network namespace: %s'
                        % os.strerror(ctypes.get_errno()))
        try:
            subprocess.run([shutil.which('ip') or '/usr/sbin/ip', 'link', 'set', 'lo',
                            'up'], check=True)
            yield
        finally:
            if _libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), 'cannot leave the test namespace')
    finally:
        os.close(original)


def interfaces():
    """Names of the network interfaces the calling thread sees."""
    output = subprocess.run([shutil.which('ip') or '/usr/sbin/ip', '-o', 'link'],
                            check=True, capture_output=True, text=True).stdout
    return [line.split(':')[1].strip().split('@')[0] for line in output.splitlines()]
