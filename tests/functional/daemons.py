"""Start the real daemons (``bin/glance-registry``, ``bin/glance-api``) for tests.

Each daemon is a real process, started from ``bin/`` with the **shipped**
``etc/*-paste.ini`` and a ``.conf`` generated from the options a test passes, bound to
``127.0.0.1`` on a free port. Its URL is read from the line it prints when it listens.
Its log goes to ``<folder>/<prog>.log``. Stop with :meth:`Daemon.stop` (SIGTERM by PID),
or let the ``make_registry``/``make_api`` fixtures do it.

Example::

    def test_something(make_registry, make_api, database_url):
        registry = make_registry(sql_connection=database_url)
        api = make_api(registry_urls=registry.url)
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from glance.registry.client import RegistryClient

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ETC = os.path.join(REPO, 'etc')
# The built-in server prints "listening on URL", gunicorn "Listening at: URL (pid)".
_LISTENING = re.compile(r'[Ll]istening (?:on|at:) (https?://[^\s]+)')


class DaemonError(RuntimeError):
    """A daemon failed to start; the message carries its stderr and log tail."""


class Daemon:
    """One running glance daemon.

    :param prog: ``glance-registry`` or ``glance-api``.
    :param folder: a private directory for the conf, log and state files.
    :param options: ``[DEFAULT]`` options written to the conf (strings or numbers).
    :param sections: extra conf sections, e.g. ``{'store:swift': {...}}``.
    :param pipeline: paste pipeline name (default: the daemon's own).
    """

    def __init__(self, prog, folder, options=None, sections=None, pipeline=None):
        self.prog = prog
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        # One process unless a test asks for workers: the machine's cores are shared.
        self.options = {'bind_host': '127.0.0.1', 'bind_port': 0, 'workers': 1,
                        'log_file': os.path.join(self.folder, prog + '.log'),
                        'paste_file': os.path.join(ETC, prog + '-paste.ini')}
        self.options.update(options or {})
        self.sections = sections or {}
        self.pipeline = pipeline
        self.conf_path = os.path.join(self.folder, prog + '.conf')
        self.stderr_path = os.path.join(self.folder, prog + '.stderr')
        self.process = None
        self.url = None

    @property
    def log_path(self):
        """Path of the daemon's log file."""
        return self.options['log_file']

    def write_conf(self):
        """Write the generated ``.conf`` file."""
        lines = ['[DEFAULT]']
        lines += ['%s = %s' % (key, value) for key, value in self.options.items()
                  if value is not None]
        for name, values in self.sections.items():
            lines += ['', '[%s]' % name]
            lines += ['%s = %s' % (key, value) for key, value in values.items()]
        with open(self.conf_path, 'w') as conf:
            conf.write('\n'.join(lines) + '\n')

    def start(self, timeout=90):
        """Start the process and wait until it listens.

        :raises DaemonError: if it exits or does not listen within ``timeout`` seconds.
        """
        self.write_conf()
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get(
            'PYTHONPATH', ''), GLANCE_CONFIG_FILE=self.conf_path)
        with open(self.stderr_path, 'wb') as stderr:
            self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                            stderr=stderr, stdin=subprocess.DEVNULL,
                                            env=env, cwd=self.folder)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.read_stderr())
            if match:
                self.url = match.group(1)
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise DaemonError('%s did not start: stderr: %s\nlog: %s'
                          % (self.prog, self.read_stderr()[-2000:], self.read_log()[-2000:]))

    def sync_schema(self, timeout=90):
        """Create the registry's schema with ``glance-manage db sync`` and set
        ``db_auto_create = false``, as README says for several registry processes on
        one database (two would race to create the schema)."""
        self.options['db_auto_create'] = 'false'
        self.write_conf()
        subprocess.run([sys.executable, os.path.join(REPO, 'bin', 'glance-manage'),
                        '--config-file', self.conf_path, 'db', 'sync'],
                       check=True, capture_output=True, timeout=timeout,
                       env=dict(os.environ, PYTHONPATH=REPO + os.pathsep
                                + os.environ.get('PYTHONPATH', '')))

    def command(self):
        """The command line that starts this daemon (the built-in eventlet server)."""
        command = [sys.executable, os.path.join(REPO, 'bin', self.prog),
                   '--config-file', self.conf_path]
        if self.pipeline:
            command += ['--pipeline', self.pipeline]
        return command

    def read_stderr(self):
        """Return what the daemon wrote on stderr so far."""
        with open(self.stderr_path, 'rb') as stderr:
            return stderr.read().decode('utf-8', 'replace')

    def read_log(self):
        """Return the daemon's log file so far ('' if none)."""
        try:
            with open(self.log_path, 'rb') as log:
                return log.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    @property
    def pid(self):
        """The daemon's process id."""
        return self.process.pid

    def workers(self):
        """Process ids of the daemon's live workers (its child processes)."""
        try:
            with open('/proc/%d/task/%d/children' % (self.pid, self.pid)) as children:
                return set(int(pid) for pid in children.read().split())
        except FileNotFoundError:
            return set()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stop the daemon by PID and reap it; escalate to SIGKILL after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


#: Unless a test says otherwise, test daemons believe the identity headers the tests
#: send (trusted_gateway mode, glance-api's service role included) and let members
#: publish. A test of authentication passes these options as None (not written).
TRUSTED_GATEWAY = {'trusted_gateway': 'true', 'publish_roles': 'admin, member'}
#: Pass these (``**NO_TRUSTED_GATEWAY``) for a daemon that authenticates for real.
NO_TRUSTED_GATEWAY = {'trusted_gateway': None, 'publish_roles': None,
                      'registry_trusted_gateway': None}


def registry_daemon(folder, sql_connection, pipeline=None, sections=None,
                    server='eventlet', **options):
    """Build (not start) a glance-registry :class:`Daemon` on the given database.

    :param server: ``eventlet`` (the built-in server) or ``gunicorn`` (:data:`SERVERS`).
    """
    options.setdefault('sql_connection', sql_connection)
    for name, value in TRUSTED_GATEWAY.items():
        options.setdefault(name, value)
    return SERVERS[server]('glance-registry', folder, options, sections, pipeline)


def api_daemon(folder, registry_urls, sections=None, pipeline=None, server='eventlet',
               **options):
    """Build (not start) a glance-api :class:`Daemon` talking to the given registries.

    :param registry_urls: one URL or a list of registry base URLs.
    :param server: ``eventlet`` (the built-in server) or ``gunicorn`` (:data:`SERVERS`).
    """
    if isinstance(registry_urls, (list, tuple)):
        registry_urls = ', '.join(registry_urls)
    options.setdefault('registry_urls', registry_urls)
    for name, value in dict(TRUSTED_GATEWAY, registry_trusted_gateway='true').items():
        options.setdefault(name, value)
    options.setdefault('filesystem_store_datadir', os.path.join(str(folder), 'images'))
    sections = dict(sections or {})
    sections.setdefault('store:file', {'filesystem_store_datadir':
                                       options['filesystem_store_datadir']})
    return SERVERS[server]('glance-api', folder, options, sections, pipeline)


def start_deployment(registry, build_api):
    """Start a registry, then the glance-api ``build_api(registry_url)`` makes.

    :param registry: an unstarted registry :class:`Daemon`.
    :returns: the two started daemons ``(registry, api)``; the registry is stopped
        again when the api does not start.
    """
    registry.start()
    try:
        return registry, build_api(registry.url).start()
    except DaemonError:
        registry.stop()
        raise


def _started_daemons(build):
    """Yield a factory that starts the daemons ``build(index, ...)`` makes; stop them after.

    :param build: returns an unstarted :class:`Daemon`; ``index`` counts the daemons
        made so far, for private folder names.
    """
    started = []

    def make(*args, **kwargs):
        daemon = build(len(started), *args, **kwargs)
        started.append(daemon)
        return daemon.start()

    yield make
    stop_all(started)


def stop_all(daemons):
    """Stop several daemons at once: SIGTERM to every live one first, then reap each
    (:meth:`Daemon.stop`), so their graceful stops overlap instead of adding up."""
    for daemon in daemons:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.send_signal(signal.SIGTERM)
    for daemon in daemons:
        daemon.stop()


@pytest.fixture
def make_registry(tmp_path, make_database):
    """Factory fixture: ``make_registry(sql_connection=None, **options)`` → started Daemon.

    Without ``sql_connection`` a fresh SQLite database is used. Extra keyword arguments
    become conf options; ``pipeline=`` picks the paste pipeline.
    """
    def build(index, sql_connection=None, pipeline=None, sections=None, **options):
        return registry_daemon(tmp_path / ('registry-%d' % index),
                               sql_connection or make_database('sqlite').url,
                               pipeline, sections, **options)
    yield from _started_daemons(build)


@pytest.fixture
def make_api(tmp_path):
    """Factory fixture: ``make_api(registry_urls, sections=None, **options)`` → started Daemon.

    The file store goes to a private folder (``filesystem_store_datadir``) unless given.
    """
    def build(index, registry_urls, sections=None, pipeline=None, **options):
        return api_daemon(tmp_path / ('api-%d' % index), registry_urls, sections, pipeline,
                          **options)
    yield from _started_daemons(build)


@pytest.fixture
def make_client():
    """Factory fixture: ``make_client(urls, **options)`` returns a RegistryClient.

    Every client made is closed at the end of the test, before the registries stop.
    """
    made = []

    def make(urls, **options):
        options.setdefault('timeout', 10)
        made.append(RegistryClient(urls, **options))
        return made[-1]

    yield make
    for registry_client in made:
        registry_client.close()


class GunicornDaemon(Daemon):
    """The same daemon's paste app served by gunicorn (threads worker) through
    :mod:`glance.wsgi` with the shipped ``etc/gunicorn.conf.py``.

    The port is picked before the start (gunicorn binds it, and glance-registry builds
    image URIs from ``bind_port``); :meth:`start` returns once a worker answers. The
    registry's schema is made by ``glance-manage db sync`` first, with
    ``db_auto_create = false``, as README says for several workers: each worker
    loads the app, and two would race to create the schema.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.options.get('bind_port'):
            with socket.socket() as probe:
                probe.bind(('127.0.0.1', 0))
                self.options['bind_port'] = probe.getsockname()[1]
        if self.pipeline:
            self.options['pipeline'] = self.pipeline

    def command(self):
        """``python -m gunicorn`` on ``glance.wsgi:api`` or ``glance.wsgi:registry``."""
        return [sys.executable, '-m', 'gunicorn', '-c',
                os.path.join(ETC, 'gunicorn.conf.py'), '--workers', '2', '--threads',
                '4', '--bind', '127.0.0.1:%d' % self.options['bind_port'],
                'glance.wsgi:%s' % self.prog.split('-', 1)[1]]

    def start(self, timeout=30):
        """Start gunicorn and wait until a worker answers the health check."""
        if self.prog == 'glance-registry':
            self.sync_schema(timeout)
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url + '/healthcheck', timeout=5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise DaemonError('gunicorn %s did not answer: stderr: %s\nlog: %s'
                          % (self.prog, self.read_stderr()[-2000:],
                             self.read_log()[-2000:]))


#: The WSGI servers a test can run the daemons under.
SERVERS = {'eventlet': Daemon, 'gunicorn': GunicornDaemon}
