"""A hashing thread under ``eventlet.monkey_patch()``, as in the daemons.

The unit tests run unpatched, so this one runs a patched child interpreter: a client
that goes away closes the hasher while its thread is still hashing a block, and that
thread must then end instead of waiting (and spinning) on the closed pipe.
"""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

_SCRIPT = textwrap.dedent('''
    import warnings
    warnings.simplefilter('ignore')
    import eventlet
    eventlet.monkey_patch()
    import eventlet.patcher
    from glance.common import streaming

    def hash_threads():
        threading = eventlet.patcher.original('threading')
        return [thread for thread in threading.enumerate()
                if thread.name.startswith('hash-')]

    hasher = streaming.ThreadedHasher('sha256')
    [thread] = hash_threads()
    hasher.update(b'x' * (64 * 1024 * 1024))   # still hashing when closed
    hasher.close()
    thread.join(20)
    print('alive' if thread.is_alive() else 'ended')
''')


def test_a_hasher_closed_mid_block_ends_its_thread_under_monkey_patching():
    result = subprocess.run([sys.executable, '-c', _SCRIPT], capture_output=True,
                            text=True, timeout=120, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['ended']
