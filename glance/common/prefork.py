"""The pre-fork master: several worker processes share one listening socket.

With ``workers`` above 1, ``glance-registry`` and ``glance-api`` bind their socket
and load their paste app once, then fork that many workers. Each worker serves the
inherited socket with its own eventlet hub (:meth:`Server.serve_forever`), so a host
uses all its cores; the kernel hands each new connection to one of the workers
blocked in ``accept``. The master serves no request; it only watches its workers:

========= ===================================================================
signal    effect on the master
========= ===================================================================
SIGTERM   stop: every worker stops accepting, finishes its in-flight requests
SIGINT    (up to ``graceful_shutdown_timeout``), then the master exits
SIGHUP    reload: re-read the conf and paste ini, fork a new set of workers with
          them, and stop the old set gracefully (in-flight downloads finish).
          The listening address is kept; a bad new conf is logged and ignored
SIGCHLD   a worker of the current set that died is replaced
========= ===================================================================

Every worker that exits is reported to :func:`glance.common.metrics_files.worker_exited`,
so its in-flight gauges leave the shared metrics.

Workers inherit the app built in the master (copy-on-write); resources that must not
be shared across processes drop their inherited state in the child (the registry's
database pool does, see :func:`glance.registry.db.session.create_engine`).
"""

import logging
import os
import signal
import time

import eventlet.hubs
import eventlet.patcher

from glance.common import exception, metrics_files

LOG = logging.getLogger(__name__)

# The master blocks in the real select(); eventlet's green one would run the hub,
# whose epoll descriptor the workers inherit.
_select = eventlet.patcher.original('select').select
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_SIGNALS = _STOP_SIGNALS + (signal.SIGHUP, signal.SIGCHLD)
# A worker that dies sooner than this after its start is replaced only after this
# delay, so a worker failing at once does not make the master fork in a tight loop.
RESPAWN_DELAY = 1.0
# How often a worker checks that its master is still alive.
ORPHAN_CHECK_INTERVAL = 1.0


def _ignore(signum, frame):
    """Signal handler doing nothing: the wakeup pipe carries the signal number."""


class Master:
    """Fork and supervise ``workers`` processes serving one bound :class:`Server`.

    :param server: a :class:`glance.common.server.Server` already bound, with its app.
    :param workers: number of worker processes (at least 1).
    :param reload: callable returning ``(app, workers)`` from the re-read conf; it may
        raise :class:`~glance.common.exception.ConfigError` or :class:`OSError`.
    """

    def __init__(self, server, workers, reload):
        self.server = server
        self.workers = workers
        self.reload = reload
        self.generation = 0
        self.children = {}          # pid -> (generation, start time)
        self._respawn_after = 0.0
        self._pipe = None

    def run(self):
        """Serve with workers until SIGTERM/SIGINT; returns when every worker is gone."""
        self._pipe = os.pipe()
        for fd in self._pipe:
            os.set_blocking(fd, False)
        previous_fd = signal.set_wakeup_fd(self._pipe[1])
        for signum in _SIGNALS:
            signal.signal(signum, _ignore)
        try:
            self._spawn_missing()
            self._supervise()
        finally:
            signal.set_wakeup_fd(previous_fd)
            for fd in self._pipe:
                os.close(fd)
        LOG.info('Server stopped')

    def _supervise(self):
        while True:
            timeout = None
            if self._missing() > 0:
                timeout = max(0.0, self._respawn_after - time.monotonic())
            signals = self._wait(timeout)
            self._reap()
            if any(signum in _STOP_SIGNALS for signum in signals):
                LOG.info('Received signal %d: stopping the workers gracefully',
                         signals[0])
                self._stop_all()
                return
            if signal.SIGHUP in signals:
                self._reload()
            self._spawn_missing()

    def _wait(self, timeout=None):
        """Block until a signal arrives (or ``timeout`` seconds); return the signals."""
        readable, _, _ = _select([self._pipe[0]], [], [], timeout)
        if not readable:
            return []
        try:
            return list(os.read(self._pipe[0], 64))
        except BlockingIOError:
            return []

    def _reap(self):
        """Forget every worker that exited."""
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            generation, started = self.children.pop(pid, (None, 0.0))
            metrics_files.worker_exited(pid)
            if generation != self.generation:
                continue
            LOG.warning('Worker %d exited (%s); starting another', pid,
                        _describe(status))
            if time.monotonic() - started < RESPAWN_DELAY:
                self._respawn_after = time.monotonic() + RESPAWN_DELAY

    def _missing(self):
        current = sum(1 for generation, _ in self.children.values()
                      if generation == self.generation)
        return self.workers - current

    def _spawn_missing(self):
        if time.monotonic() < self._respawn_after:
            return
        for _ in range(self._missing()):
            self._fork()

    def _fork(self):
        # Signals stay blocked until the child has dropped the master's handlers, so
        # none is delivered to the master's wakeup pipe by the child.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                self._child()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        self.children[pid] = (self.generation, time.monotonic())
        LOG.info('Started worker %d', pid)

    def _child(self):
        """Run in a new worker; never returns."""
        status = 1
        try:
            signal.set_wakeup_fd(-1)
            for fd in self._pipe:
                os.close(fd)
            for signum in _STOP_SIGNALS + (signal.SIGCHLD,):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            # The master's hub (if it ran, e.g. while the app was loaded) shares its
            # epoll instance with the master: this process gets a hub of its own.
            eventlet.hubs.use_hub()
            eventlet.spawn_n(_exit_when_orphaned, os.getppid())
            self.server.serve_forever()
            status = 0
        except BaseException:
            LOG.exception('Worker %d failed', os.getpid())
        finally:
            logging.shutdown()
            os._exit(status)

    def _reload(self):
        try:
            app, workers = self.reload()
        except (exception.ConfigError, OSError) as err:
            LOG.error('Reload refused, keeping the running workers: %s', err)
            return
        LOG.info('Reloaded the configuration: starting %d new workers', workers)
        old = [pid for pid, (generation, _) in self.children.items()
               if generation == self.generation]
        self.server.app, self.workers = app, workers
        self.generation += 1
        self._respawn_after = 0.0
        self._spawn_missing()
        self._signal(old, signal.SIGTERM)

    def _stop_all(self):
        """SIGTERM every worker, wait for them; SIGKILL what outlives the grace time."""
        self.generation = None      # no worker is replaced any more
        self._signal(self.children, signal.SIGTERM)
        deadline = time.monotonic() + self.server.graceful_timeout + 5
        while self.children and time.monotonic() < deadline:
            self._wait(max(0.0, deadline - time.monotonic()))
            self._reap()
        if self.children:
            LOG.warning('Killing workers %s after the graceful timeout',
                        sorted(self.children))
            self._signal(self.children, signal.SIGKILL)
            for pid in list(self.children):
                os.waitpid(pid, 0)
                metrics_files.worker_exited(pid)
            self.children.clear()

    @staticmethod
    def _signal(pids, signum):
        for pid in list(pids):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass


def _exit_when_orphaned(master_pid):
    """Stop this worker gracefully once its master is gone (e.g. killed with -9)."""
    while os.getppid() == master_pid:
        eventlet.sleep(ORPHAN_CHECK_INTERVAL)
    LOG.warning('Master %d is gone: stopping worker %d', master_pid, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)


def _describe(status):
    if os.WIFSIGNALED(status):
        return 'killed by signal %d' % os.WTERMSIG(status)
    return 'exit status %d' % os.waitstatus_to_exitcode(status)
