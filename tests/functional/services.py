"""Real storage services for functional tests: OpenStack Swift (with s3api) and nginx.

Both run as real processes bound to ``127.0.0.1`` on free ports, with every file
(configs, rings, devices, logs) under a private folder, and are stopped by PID.

* :class:`SwiftService`: account, container, object and proxy servers from the
  virtualenv that ``tools/test-setup.sh`` creates (``.test-services/swift-venv``, or
  ``$GLANCE_TEST_SWIFT_VENV``), tempauth with Fernet tokens (no memcached) and Swift's own
  ``s3api`` on the same port. One user, ``test:tester``, whose key (also its S3 secret)
  is :data:`SWIFT_KEY`, a distinctive string a test can search logs and responses for.
* :class:`NginxService`: Debian's nginx serving a folder over http and https (a
  self-signed certificate), with ETags and ranges, plus a few ``/_test/`` routes
  (redirects, a redirect loop, a 503) for the HTTP store.

Fixtures (session-scoped): ``swift_service`` and ``nginx_service``. A service that
cannot start skips its tests, or fails them when ``CI`` is set. Example::

    def test_swift(swift_service):
        store = SwiftStore(swift_service.swift_options(container='t1'))
"""

import base64
import getpass
import http.client
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time

import pytest

from tests.functional.availability import service_unavailable
from tests.tls import write_self_signed_certificate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWIFT_VENV = os.environ.get('GLANCE_TEST_SWIFT_VENV') or os.path.join(
    REPO, '.test-services', 'swift-venv')
SWIFT_SERVERS = ('account', 'container', 'object', 'proxy')
SWIFT_USER, SWIFT_REGION = 'test:tester', 'us-east-1'
#: The Swift key and S3 secret of :data:`SWIFT_USER`: distinctive, so that finding it in
#: a log or a response can only mean it leaked.
SWIFT_KEY = 'sEcReT-swift-key-3f9b1c7e'

_RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder
swift_dir = sys.argv[1]
for arg in sys.argv[2:]:
    name, port = arg.split('=')
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1',
                     'port': int(port), 'device': 'd1', 'weight': 100})
    builder.rebalance()
    builder.get_ring().save('%s/%s.ring.gz' % (swift_dir, name))
"""

_SWIFT_DEFAULT = """\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
bind_timeout = 5
swift_dir = {etc}
devices = {devices}
mount_check = false
user = {user}
workers = 0
log_udp_host = 127.0.0.1
log_name = {server}-server
"""

_STORAGE_PIPELINE = """
[pipeline:main]
pipeline = healthcheck {server}-server

[app:{server}-server]
use = egg:swift#{server}

[filter:healthcheck]
use = egg:swift#healthcheck
"""

_PROXY_PIPELINE = """
[pipeline:main]
# s3api must precede tempauth, and slo must sit between s3api and the app, or S3
# multipart uploads are disabled.
pipeline = catch_errors gatekeeper healthcheck proxy-logging listing_formats
    s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = {swift_key} .admin
{extra_users}fernet_key_1 = {fernet_key}
active_fernet_key_id = 1

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
dns_compliant_bucket_names = false

# Delete the segments of a multipart object at once: no object-expirer runs here.
[filter:slo]
use = egg:swift#slo
allow_async_delete = false
""" + ''.join('\n[filter:%s]\nuse = egg:swift#%s\n' % (name, name.replace('-', '_'))
              for name in ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging',
                           'listing_formats', 'copy', 'dlo', 'versioned_writes',
                           'symlink'))

_NGINX_CONF = """\
daemon off;
master_process off;
pid {base}/nginx.pid;
error_log {base}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {access_log};
{directives}    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {base}/tls.crt;
        ssl_certificate_key {base}/tls.key;
        root {root};
        location / {{ }}
        location ~ ^/_test/redirect/(.*)$ {{ return 302 /$1; }}
        location = /_test/loop {{ return 302 /_test/loop; }}
        location = /_test/ftp {{ return 302 ftp://127.0.0.1/image; }}
        location = /_test/unavailable {{ return 503; }}
        location ~ ^/_test/to-tls/(.*)$ {{ return 302 https://127.0.0.1:{tls_port}/$1; }}
        location ~ ^/_test/to-decimal/(.*)$ {{ return 302 http://2130706433:{port}/$1; }}
        location = /_test/to-metadata {{ return 302 http://169.254.169.254/latest/; }}
    }}
}}
"""


class ServiceError(RuntimeError):
    """A service could not be started; the message carries its log tail."""


def free_ports(count):
    """Return ``count`` distinct TCP ports free on 127.0.0.1 right now.

    The sockets stay bound until all ports are chosen, so no port is returned twice.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(('127.0.0.1', 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _answers(port, path, timeout=1.0):
    """True when ``GET path`` on the port answers with a status below 500."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def _tail(path, size=3000):
    try:
        with open(path, 'rb') as log:
            return log.read()[-size:].decode('utf-8', 'replace')
    except FileNotFoundError:
        return ''


def _stop(process, timeout=10):
    """SIGTERM a process we started, reap it, and SIGKILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class SwiftService:
    """A four-server Swift with tempauth and s3api, private to one folder.

    :param base: a fresh folder for configs, rings, devices and logs.
    :param venv: the virtualenv holding Swift (default :data:`SWIFT_VENV`).
    :param extra_users: more tempauth users, ``(account, user, key)``; each is an
        admin of its account, reachable as ``account:user`` with ``key`` (also its S3
        access key and secret).
    """

    def __init__(self, base, venv=SWIFT_VENV, extra_users=()):
        self.base = str(base)
        self.venv = venv
        self.extra_users = tuple(extra_users)
        self.etc = os.path.join(self.base, 'etc')
        self.devices = os.path.join(self.base, 'srv', 'node')
        self.processes = {}
        self.ports = {}

    @property
    def url(self):
        """Base URL of the proxy (also the S3 endpoint)."""
        return 'http://127.0.0.1:%d' % self.ports['proxy']

    @property
    def auth_url(self):
        """The tempauth v1 endpoint."""
        return self.url + '/auth/v1.0'

    def swift_options(self, **overrides):
        """Return ``[store:swift]`` options for this Swift, with overrides."""
        options = {'auth_url': self.auth_url, 'auth_version': '1',
                   'user': SWIFT_USER, 'key': SWIFT_KEY}
        options.update(overrides)
        return options

    def s3_options(self, **overrides):
        """Return ``[store:s3]`` options for this Swift's s3api, with overrides."""
        options = {'endpoint': self.url, 'region': SWIFT_REGION,
                   'access_key': SWIFT_USER, 'secret_key': SWIFT_KEY}
        options.update(overrides)
        return options

    def log_path(self, server):
        """Path of one server's console log."""
        return os.path.join(self.base, '%s-server.log' % server)

    def start(self, timeout=30):
        """Write configs and rings, start the four servers, wait for their healthchecks.

        :raises ServiceError: if Swift is not installed or a server does not come up.
        """
        binaries = {server: os.path.join(self.venv, 'bin', 'swift-%s-server' % server)
                    for server in SWIFT_SERVERS}
        if not all(os.access(path, os.X_OK) for path in binaries.values()):
            raise ServiceError('Swift is not installed in %s: run tools/test-setup.sh'
                               % self.venv)
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.devices, 'd1'))
        self.ports = dict(zip(SWIFT_SERVERS, free_ports(len(SWIFT_SERVERS))))
        self._write_configs()
        subprocess.run([os.path.join(self.venv, 'bin', 'python'), '-c', _RING_SCRIPT,
                        self.etc] + ['%s=%d' % (server, self.ports[server])
                                     for server in SWIFT_SERVERS[:3]],
                       check=True, capture_output=True, timeout=60)
        for server in SWIFT_SERVERS:
            with open(self.log_path(server), 'wb') as log:
                self.processes[server] = subprocess.Popen(
                    [binaries[server], self._conf_path(server), '-v'],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        waiting = list(SWIFT_SERVERS)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for server in list(waiting):
                if self.processes[server].poll() is not None:
                    self._fail('%s-server exited with status %d'
                               % (server, self.processes[server].returncode), server)
                if _answers(self.ports[server], '/healthcheck'):
                    waiting.remove(server)
            if waiting:
                time.sleep(0.1)
        if waiting:
            self._fail('no healthcheck answer from %s within %ds'
                       % (', '.join(waiting), timeout), waiting[0])
        return self

    def _fail(self, why, server):
        self.stop()
        raise ServiceError('Swift did not start: %s\n%s' % (why, _tail(self.log_path(server))))

    def _conf_path(self, server):
        return os.path.join(self.etc, '%s-server.conf' % server)

    def _write_configs(self):
        with open(os.path.join(self.etc, 'swift.conf'), 'w') as conf:
            conf.write(textwrap.dedent("""\
                [swift-hash]
                swift_hash_path_suffix = glance-tests
                swift_hash_path_prefix = glance-tests

                [storage-policy:0]
                name = gold
                default = yes
                """))
        fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode('ascii')
        for server in SWIFT_SERVERS:
            text = _SWIFT_DEFAULT.format(port=self.ports[server], etc=self.etc,
                                         devices=self.devices, user=getpass.getuser(),
                                         server=server)
            if server == 'proxy':
                text += _PROXY_PIPELINE.format(
                    fernet_key=fernet_key, swift_key=SWIFT_KEY, extra_users=''.join(
                        'user_%s_%s = %s .admin\n' % user for user in self.extra_users))
            else:
                text += _STORAGE_PIPELINE.format(server=server)
            with open(self._conf_path(server), 'w') as conf:
                conf.write(text)

    def stop(self):
        """Stop every server by PID (proxy first) and reap it."""
        for server in reversed(SWIFT_SERVERS):
            _stop(self.processes.get(server))


class NginxService:
    """nginx serving :attr:`root` on two free loopback ports, plain and TLS.

    The TLS port uses a self-signed certificate, :attr:`ca_file`, for 127.0.0.1.

    :param base: a fresh folder for the config, logs and temp files.
    :param binary: the nginx executable (default: found on PATH or /usr/sbin).
    :param directives: extra ``http``-level directives, e.g. ``('sendfile on',)``.
    :param access_log: the ``access_log`` directive's value (e.g. a path, to count
        requests).
    """

    def __init__(self, base, binary=None, directives=(), access_log='off'):
        self.base = str(base)
        self.access_log = access_log
        self.binary = binary or shutil.which('nginx') or '/usr/sbin/nginx'
        self.directives = tuple(directives)
        self.root = os.path.join(self.base, 'root')
        self.ca_file = os.path.join(self.base, 'tls.crt')
        self.port = self.tls_port = None
        self.process = None

    @property
    def url(self):
        """Base URL of the server, e.g. ``http://127.0.0.1:34567``."""
        return 'http://127.0.0.1:%d' % self.port

    @property
    def tls_url(self):
        """Base URL of the TLS port, e.g. ``https://127.0.0.1:34568``."""
        return 'https://127.0.0.1:%d' % self.tls_port

    def start(self, timeout=15):
        """Write the config, start nginx and wait until it answers.

        :raises ServiceError: if nginx is missing or does not come up.
        """
        if not os.access(self.binary, os.X_OK):
            raise ServiceError('nginx is not installed: run tools/test-setup.sh')
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.base, 'tmp'))
        self.port, self.tls_port = free_ports(2)
        write_self_signed_certificate(self.base, 'tls')
        conf_path = os.path.join(self.base, 'nginx.conf')
        with open(conf_path, 'w') as conf:
            conf.write(_NGINX_CONF.format(
                base=self.base, root=self.root, port=self.port, tls_port=self.tls_port,
                access_log=self.access_log,
                directives=''.join('    %s;\n' % line for line in self.directives)))
        error_log = os.path.join(self.base, 'error.log')
        stderr_path = os.path.join(self.base, 'stderr.log')
        with open(stderr_path, 'wb') as stderr:
            self.process = subprocess.Popen(
                [self.binary, '-p', self.base, '-c', conf_path, '-e', error_log],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if _answers(self.port, '/'):
                return self
            time.sleep(0.05)
        self.stop()
        raise ServiceError('nginx did not start:\n%s%s'
                           % (_tail(stderr_path), _tail(error_log)))

    def stop(self):
        """Stop nginx by PID and reap it."""
        _stop(self.process)


def start_or_give_up(service):
    """Start a service; skip the test when it cannot start, or fail under CI."""
    try:
        return service.start()
    except (ServiceError, OSError, subprocess.SubprocessError) as err:
        service_unavailable('%s unavailable: %s' % (type(service).__name__, err))


@pytest.fixture(scope='session')
def swift_service(tmp_path_factory):
    """A running :class:`SwiftService` shared by the session (stopped at its end)."""
    service = SwiftService(tmp_path_factory.mktemp('swift'))
    yield start_or_give_up(service)
    service.stop()


@pytest.fixture(scope='session')
def nginx_service(tmp_path_factory):
    """A running :class:`NginxService`; tests put files under its ``root``."""
    service = NginxService(tmp_path_factory.mktemp('nginx'))
    yield start_or_give_up(service)
    service.stop()
