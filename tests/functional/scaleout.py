"""A scaled-out deployment for functional tests: two glance-registry and two glance-api
daemons, each a pre-fork master with workers, on one database, behind HAProxy.

What README's "Deploying for production" describes, on loopback::

    clients -> haproxy (etc/haproxy/glance-api.cfg) -> api1, api2 (workers each)
                                                        | registry_urls
    glance-api -> haproxy (etc/haproxy/glance-registry.cfg) -> registry1, registry2
                                                                | sql_connection
                                                              one database

The schema is made once by ``glance-manage db sync``; the registries start with
``db_auto_create = false`` and ``public_endpoint`` set to the registries' front end,
so image URIs name the balancer. Both glance-api daemons share one file store folder
(on a real deployment: shared storage, Swift or S3). Every daemon has a
``disable_path`` to drain it. Both balancers add ``X-Glance-Backend`` (the server that
answered) to every response.

Example::

    deployment = Deployment(tmp_path, database.url).start()
    try:
        Api(deployment.api_front.url).upload(b'data')
    finally:
        deployment.stop()
"""

import concurrent.futures
import os
import signal
import urllib.error
import urllib.request

from tests.functional import daemons, proxies
from tests.functional.test_api_images import wait_until

#: Worker processes of each daemon.
WORKERS = 2


def backend_of(url, path='/healthcheck'):
    """The server behind a balancer that answered ``GET url + path`` (None if none)."""
    try:
        with urllib.request.urlopen(url + path, timeout=5) as resp:
            return resp.headers.get('X-Glance-Backend')
    except urllib.error.HTTPError as err:
        return err.headers.get('X-Glance-Backend')
    except OSError:
        return None


class Front:
    """A balancer's front end and the daemons behind it.

    :ivar url: the front end's base URL.
    :ivar daemons: ``{server name: Daemon}`` behind it.
    """

    def __init__(self, url, daemons_by_name):
        self.url = url
        self.daemons = daemons_by_name

    def read_log(self):
        """Every daemon's log, one after the other."""
        return '\n'.join(daemon.read_log() for daemon in self.daemons.values())


def kill(daemon):
    """SIGKILL a daemon's master and every one of its workers, by PID; reap the master."""
    workers = daemon.workers()
    os.kill(daemon.pid, signal.SIGKILL)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    daemon.process.wait(30)
    # The workers were children of the master: once it is gone, init reaps them.
    wait_until(lambda: not any(proxies.pid_alive(pid) for pid in workers),
               'the killed workers to be gone')
    return {daemon.pid} | workers


class Deployment:
    """Two registries and (unless ``apis=0``) two glance-apis behind two HAProxies.

    :param folder: a private folder for the daemons' confs, logs and the file store.
    :param sql_connection: the one database of both registries.
    :param apis: how many glance-api daemons (0 or 2).
    :param registry_options: extra ``[DEFAULT]`` options of each registry.
    :param api_options: extra ``[DEFAULT]`` options of each glance-api; a
        ``store_file`` key gives extra ``[store:file]`` options.
    """

    REGISTRIES = ('registry1', 'registry2')
    APIS = ('api1', 'api2')

    def __init__(self, folder, sql_connection, apis=2, registry_options=None,
                 api_options=None, workers=WORKERS):
        self.folder = str(folder)
        self.sql_connection = sql_connection
        self.api_names = self.APIS[:apis]
        self.workers = workers
        self.registry_options = dict(registry_options or {})
        self.api_options = dict(api_options or {})
        self.datadir = os.path.join(self.folder, 'store')
        self.daemons = {}
        self.balancers = []
        self.registry_front = self.api_front = None

    def disable_path(self, name):
        """The file that drains server ``name`` while it exists."""
        return os.path.join(self.folder, name + '.disabled')

    def start(self):
        """Start the registries, their balancer, then the glance-apis and theirs.

        :raises DaemonError: when a daemon does not start (everything is stopped).
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        registry_lb = proxies.HAProxyService([], cfg=proxies.HAPROXY_REGISTRY_CFG)
        self.balancers.append(registry_lb)
        registries = {}
        for name in self.REGISTRIES:
            registries[name] = daemons.registry_daemon(
                os.path.join(self.folder, name), self.sql_connection,
                workers=self.workers, public_endpoint=registry_lb.url,
                disable_path=self.disable_path(name), db_auto_create='false',
                **self.registry_options)
        registries[self.REGISTRIES[0]].sync_schema()
        self._start_daemons(registries)
        self.registry_front = Front(self._balance(registry_lb, registries), registries)
        if not self.api_names:
            return
        os.makedirs(self.datadir, exist_ok=True)
        options = dict(self.api_options)
        store_file = dict(options.pop('store_file', {}),
                          filesystem_store_datadir=self.datadir)
        apis = {name: daemons.api_daemon(
            os.path.join(self.folder, name), registry_lb.url,
            sections={'store:file': store_file}, workers=self.workers,
            filesystem_store_datadir=self.datadir, disable_path=self.disable_path(name),
            **options) for name in self.api_names}
        self._start_daemons(apis)
        api_lb = proxies.HAProxyService([], cfg=proxies.HAPROXY_CFG)
        self.balancers.append(api_lb)
        self.api_front = Front(self._balance(api_lb, apis), apis)

    def _start_daemons(self, named):
        """Start the daemons ``{name: Daemon}`` side by side (each start mostly waits
        for a Python process to import and listen)."""
        self.daemons.update(named)
        with concurrent.futures.ThreadPoolExecutor(len(named)) as pool:
            for started in [pool.submit(daemon.start) for daemon in named.values()]:
                started.result()

    def _balance(self, balancer, servers):
        """Start ``balancer`` in front of ``servers``; wait until it answers."""
        balancer.backend_ports = [int(daemon.url.rsplit(':', 1)[1])
                                  for daemon in servers.values()]
        try:
            balancer.start()
        except RuntimeError as err:
            proxies.service_unavailable(str(err))
        wait_until(lambda: backend_of(balancer.url) in servers, 'haproxy to answer')
        return balancer.url

    def wait_for_workers(self):
        """Wait until every daemon has all its workers."""
        for daemon in self.daemons.values():
            wait_until(lambda: len(daemon.workers()) == self.workers,
                       '%s workers of %s' % (self.workers, daemon.prog))

    def stop(self):
        """Stop the balancers, then every daemon (by PID)."""
        for balancer in self.balancers:
            balancer.stop()
        daemons.stop_all(list(self.daemons.values()))
