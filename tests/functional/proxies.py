"""Real Varnish and HAProxy in front of glance-api, run from the shipped configs.

* :class:`VarnishService`: ``varnishd`` with ``etc/varnish/glance.vcl``, its backend
  pointed at a test's glance-api (or HAProxy) port;
* :class:`HAProxyService`: ``haproxy`` with ``etc/haproxy/glance-api.cfg`` (or
  ``glance-registry.cfg``), its listen address and servers pointed at test ports.

Both listen on free 127.0.0.1 ports, run in a fresh folder under /tmp (Varnish's
cache process runs as the ``vcache`` user, which cannot enter pytest's private
temporary folders) and are stopped by PID. Debian's packages come from
``tools/test-setup.sh``; without them the tests skip (fail under CI).
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from tests.functional import daemons
from tests.functional.availability import service_unavailable
from tests.functional.services import free_ports

VCL = os.path.join(daemons.ETC, 'varnish', 'glance.vcl')
HAPROXY_CFG = os.path.join(daemons.ETC, 'haproxy', 'glance-api.cfg')
HAPROXY_REGISTRY_CFG = os.path.join(daemons.ETC, 'haproxy', 'glance-registry.cfg')


def _binary(name):
    path = shutil.which(name) or os.path.join('/usr/sbin', name)
    if not os.access(path, os.X_OK):
        service_unavailable('%s is not installed: run tools/test-setup.sh' % name)
    return path


def _wait_for_pid_file(path, process, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as pid_file:
                text = pid_file.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        if process is not None and process.poll() not in (None, 0):
            break
        time.sleep(0.05)
    raise RuntimeError('%s did not start' % what)


def pid_alive(pid):
    """True while process ``pid`` runs; a zombie (exited, not yet reaped by its
    parent, init for daemonised services) counts as gone."""
    try:
        with open('/proc/%d/stat' % pid) as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


def _stop_pid(pid, timeout=15):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)


class VarnishService:
    """varnishd running the shipped VCL in front of ``backend_port``.

    :param backend_port: the port of glance-api (or HAProxy) on 127.0.0.1.
    :param storage: the malloc storage size; it must exceed the largest image.
    """

    def __init__(self, backend_port, storage='256m'):
        self.backend_port = backend_port
        self.storage = storage
        self.base = tempfile.mkdtemp(prefix='glance-varnish-', dir='/tmp')
        os.chmod(self.base, 0o755)
        self.port = self.admin_port = None
        self.pid = None

    @property
    def url(self):
        """Base URL of Varnish's listening address."""
        return 'http://127.0.0.1:%d' % self.port

    def start(self):
        """Write the VCL with this backend port and start varnishd (daemonised)."""
        binary = _binary('varnishd')
        with open(VCL) as shipped:
            vcl = re.sub(r'\.port = "\d+";', '.port = "%d";' % self.backend_port,
                         shipped.read(), count=1)
        vcl_path = os.path.join(self.base, 'glance.vcl')
        with open(vcl_path, 'w') as out:
            out.write(vcl)
        os.chmod(vcl_path, 0o644)
        self.port, self.admin_port = free_ports(2)
        pid_path = os.path.join(self.base, 'varnishd.pid')
        done = subprocess.run(
            [binary, '-a', '127.0.0.1:%d' % self.port, '-f', vcl_path,
             '-s', 'malloc,%s' % self.storage, '-n', os.path.join(self.base, 'work'),
             '-P', pid_path, '-T', '127.0.0.1:%d' % self.admin_port,
             '-p', 'default_grace=0'],
            capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError('varnishd failed: %s' % done.stderr[-2000:])
        self.pid = _wait_for_pid_file(pid_path, None, 'varnishd')
        return self

    def stop(self):
        """Stop varnishd by PID and remove its folder."""
        if self.pid is not None:
            _stop_pid(self.pid)
        shutil.rmtree(self.base, ignore_errors=True)


class HAProxyService:
    """haproxy running a shipped config for two backends.

    :param backend_ports: the ports on 127.0.0.1 of the servers, in the order of the
        config's ``server`` lines.
    :param cfg: the shipped config (default: glance-api's).
    :param port: the front end's port (default: a free one); known before the start,
        e.g. for the registries' ``public_endpoint``.
    """

    def __init__(self, backend_ports, cfg=HAPROXY_CFG, port=None):
        self.backend_ports = list(backend_ports)
        self.cfg = cfg
        self.base = tempfile.mkdtemp(prefix='glance-haproxy-', dir='/tmp')
        self.port = port or free_ports(1)[0]
        self.pid = None

    @property
    def url(self):
        """Base URL of HAProxy's front end."""
        return 'http://127.0.0.1:%d' % self.port

    def config(self):
        """The shipped config with this test's ports."""
        with open(self.cfg) as shipped:
            text = shipped.read()
        text = re.sub(r'bind 127\.0\.0\.1:\d+', 'bind 127.0.0.1:%d' % self.port, text,
                      count=1)
        ports = iter(self.backend_ports)
        return re.sub(r'(server \S+ 127\.0\.0\.1:)\d+',
                      lambda match: match.group(1) + str(next(ports)), text)

    def start(self):
        """Validate and start haproxy (daemonised)."""
        binary = _binary('haproxy')
        cfg_path = os.path.join(self.base, 'haproxy.cfg')
        with open(cfg_path, 'w') as out:
            out.write(self.config())
        check = subprocess.run([binary, '-c', '-f', cfg_path], capture_output=True,
                               text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError('haproxy -c: %s%s' % (check.stdout, check.stderr))
        pid_path = os.path.join(self.base, 'haproxy.pid')
        done = subprocess.run([binary, '-D', '-f', cfg_path, '-p', pid_path],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError('haproxy failed: %s' % done.stderr[-2000:])
        self.pid = _wait_for_pid_file(pid_path, None, 'haproxy')
        return self

    def stop(self):
        """Stop haproxy by PID and remove its folder."""
        if self.pid is not None:
            _stop_pid(self.pid)
        shutil.rmtree(self.base, ignore_errors=True)
