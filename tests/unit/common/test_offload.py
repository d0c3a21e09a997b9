"""glance.common.offload.Worker: calls run in order in one OS thread, the first error
comes back to the caller, and closing with join leaves nothing running."""

import os
import threading

import pytest

from glance.common import offload


class _Gate:
    """A call that signals when it starts and blocks until released."""

    def __init__(self, then=None):
        self.started = threading.Event()
        self.release = threading.Event()
        self.then = then

    def __call__(self):
        self.started.set()
        self.release.wait(10)
        if self.then is not None:
            self.then()


def _threads(name):
    return [thread for thread in offload._os_threading.enumerate()
            if thread.name == name]


def test_calls_run_in_order_in_one_named_os_thread():
    seen = []
    worker = offload.Worker('offload-test-order', depth=2)
    try:
        [thread] = _threads('offload-test-order')
        assert thread.daemon
        for n in range(50):
            worker.submit(lambda n=n: seen.append((n, threading.get_ident())))
        worker.wait()
    finally:
        worker.close(join=True)
    assert [n for n, _ in seen] == list(range(50))
    assert {ident for _, ident in seen} == {thread.ident}
    assert thread.ident != threading.get_ident()
    assert not thread.is_alive()


def test_the_first_error_is_raised_by_wait_and_later_calls_are_skipped():
    seen = []

    def fail(message):
        raise OSError(28, message)

    worker = offload.Worker('offload-test-error')
    try:
        worker.submit(seen.append, 1)
        worker.submit(fail, 'first')
        worker.submit(fail, 'second')
        worker.submit(seen.append, 2)
        with pytest.raises(OSError) as info:
            worker.wait()
        assert info.value.strerror == 'first'
        with pytest.raises(OSError) as again:
            worker.submit(seen.append, 3)
        assert again.value is info.value
    finally:
        worker.close(join=True)
    assert seen == [1]


def test_submit_raises_an_earlier_error_once_the_queue_is_full():
    def fire():
        raise ValueError('disk on fire')

    fail = _Gate(fire)
    worker = offload.Worker('offload-test-full', depth=1)
    try:
        worker.submit(fail)
        fail.started.wait(10)
        fail.release.set()
        # The queue is full: submit waits for the failing call and reports it.
        with pytest.raises(ValueError, match='disk on fire'):
            worker.submit(len, b'never')
    finally:
        worker.close(join=True)


def test_close_with_join_waits_for_the_call_in_progress_and_drops_the_rest():
    seen = []
    slow = _Gate(lambda: seen.append('slow'))
    worker = offload.Worker('offload-test-join', depth=3)
    [thread] = _threads('offload-test-join')
    worker.submit(slow)
    worker.submit(seen.append, 'dropped')
    slow.started.wait(10)
    threading.Timer(0.05, slow.release.set).start()
    worker.close(join=True)
    assert not thread.is_alive()
    assert seen == ['slow']
    worker.close(join=True)          # idempotent
    with pytest.raises(ValueError, match='closed worker'):
        worker.submit(seen.append, 'late')


def test_a_thread_that_ended_early_is_an_error_not_a_hang():
    worker = offload.Worker('offload-test-dead', depth=1)
    worker._queue.put(None)          # the thread stops as if it had died
    try:
        with pytest.raises(RuntimeError, match='the offload-test-dead thread ended '
                                               'early'):
            for _ in range(3):
                worker.submit(len, b'lost')
                worker.wait()
    finally:
        worker.close()


def test_close_leaks_no_descriptor():
    worker = offload.Worker('offload-test-fds')
    pipe = os.readlink('/proc/self/fd/%d' % worker._rfd)
    assert os.get_blocking(worker._rfd) is False
    worker.submit(len, b'x')
    worker.wait()
    worker.close(join=True)
    left = [fd for fd in os.listdir('/proc/self/fd')
            if os.path.exists('/proc/self/fd/' + fd)
            and os.readlink('/proc/self/fd/' + fd) == pipe]
    assert left == []


def test_an_interrupted_join_still_waits_for_the_thread():
    class Killed(Exception):
        """What a greenthread killed while it waits would raise."""

    slow = _Gate()
    worker = offload.Worker('offload-test-killed')
    [thread] = _threads('offload-test-killed')
    worker.submit(slow)
    slow.started.wait(10)

    def interrupted():
        threading.Timer(0.05, slow.release.set).start()
        raise Killed()

    worker._wait_for_thread = interrupted
    with pytest.raises(Killed):
        worker.close(join=True)
    assert not thread.is_alive()
    assert worker._rfd is None
