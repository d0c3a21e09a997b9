"""Blocking calls run in order in a dedicated OS thread, fed from the eventlet hub.

A :class:`Worker` owns one OS thread (a real one, even after
``eventlet.monkey_patch()``) and a bounded queue of calls. :meth:`Worker.submit`
queues a call and returns at once unless :data:`QUEUE_DEPTH` calls are already
waiting; then it waits cooperatively, so the hub keeps serving other requests while
the thread hashes a block or writes it to disk. The thread reports each finished call
by writing one byte to a pipe, which the caller waits on through the hub.

Calls run one after the other, in the order submitted. The first one that raises
stops the worker: later calls are skipped and the error is raised again by the next
:meth:`Worker.submit` or :meth:`Worker.wait` in the caller's thread.

The hashers of :mod:`glance.common.streaming` run in workers, and so do the writes,
fsyncs and renames of the file store: with each in its own thread, an upload hashes
md5, sha256 and BLAKE3 and writes to disk at the same time, on as many cores as there
are, while the hub only reads the request body (see bench/README.md, "Upload throughput").
"""

import os

import eventlet.hubs
import eventlet.patcher

# The real (unpatched) modules: the worker must be an OS thread even after
# eventlet.monkey_patch(), or it would just be another greenthread on the hub's core.
_os_threading = eventlet.patcher.original('threading')
_os_queue = eventlet.patcher.original('queue')
_os = eventlet.patcher.original('os')

#: Calls queued to a worker before :meth:`Worker.submit` waits for it.
QUEUE_DEPTH = 4


class Worker:
    """Run calls in order in a dedicated OS thread; see the module docstring.

    Memory held is at most ``depth`` calls with their arguments. Always call
    :meth:`close`.

    :param name: the thread's name.
    :param depth: the most calls queued to the thread.
    """

    def __init__(self, name, depth=QUEUE_DEPTH):
        self._depth = depth
        self._credits = depth
        self._error = None
        self._closed = False
        self._queue = _os_queue.SimpleQueue()
        self._rfd, write_fd = os.pipe()
        os.set_blocking(self._rfd, False)
        self._thread = _os_threading.Thread(target=self._run, args=(write_fd,),
                                            name=name, daemon=True)
        self._thread.start()

    def _run(self, write_fd):
        try:
            while True:
                call = self._queue.get()
                if call is None:
                    return
                if self._error is None and not self._closed:
                    function, args = call
                    try:
                        function(*args)
                    # Kept for the caller's thread, which raises it again.
                    except Exception as err:
                        self._error = err
                try:
                    _os.write(write_fd, b'.')
                except BrokenPipeError:
                    return
        finally:
            _os.close(write_fd)

    def _wait_for_thread(self):
        """Wait for the thread to finish a call; False once it has ended."""
        try:
            done = os.read(self._rfd, 4096)
        except BlockingIOError:
            eventlet.hubs.trampoline(self._rfd, read=True)
            return True
        self._credits += len(done)
        return bool(done)

    def _raise_error(self):
        if self._error is not None:
            raise self._error

    def submit(self, function, *args):
        """Queue ``function(*args)`` to run in the thread after the calls before it.

        :raises ValueError: after :meth:`close`.
        :raises Exception: what an earlier call raised.
        """
        if self._closed:
            raise ValueError('submit() on a closed worker')
        self._raise_error()
        while self._credits == 0:
            if not self._wait_for_thread():
                raise RuntimeError('the %s thread ended early' % self._thread.name)
        self._raise_error()
        self._credits -= 1
        self._queue.put((function, args))

    def wait(self):
        """Wait until every queued call has run.

        :raises Exception: what a call raised (the first one that did).
        """
        while self._credits < self._depth:
            if not self._wait_for_thread():
                raise RuntimeError('the %s thread ended early' % self._thread.name)
        self._raise_error()

    def close(self, join=False):
        """End the thread (idempotent); calls not yet started are dropped.

        :param join: also wait (cooperatively) until the thread has ended, so that
            nothing it was given is still in use: the file descriptor a call writes
            to may then be closed.
        """
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        if self._rfd is None:
            return
        try:
            if join:
                try:
                    while self._wait_for_thread():
                        pass
                finally:
                    # Past its last call (or, if the wait above was interrupted, at
                    # most one call away from it): the thread ends without new work.
                    self._thread.join()
        finally:
            os.close(self._rfd)
            self._rfd = None
