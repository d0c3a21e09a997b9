"""In-process Glance for the Nova-side unit tests: no daemons, real apps.

A registry pipeline (``context`` → ``instance_aware`` → registry app, SQLite in a
temporary folder) and a glance-api app (file store in the same folder) are served by
``wsgiref`` servers in threads on ``127.0.0.1:0``, so the image services talk real HTTP
to the real apps. Threads, not eventlet: the services under test use blocking sockets.
"""

import socketserver
import threading
import wsgiref.simple_server

from glance.api import router
from glance.common import config
from glance.middleware import context as context_filter
from glance.middleware import instance_aware
from glance.registry import api as registry_api


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


class ServedApp:
    """One WSGI app served on a free loopback port until :meth:`stop`.

    :param build: called with the port once it is bound; returns the app (the
        registry builds its image URIs from the port).
    """

    def __init__(self, build):
        self.server = wsgiref.simple_server.make_server(
            '127.0.0.1', 0, None, server_class=_ThreadingServer,
            handler_class=_QuietHandler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_port
        self.server.set_app(build(self.server.server_port))
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve_registry(folder, instance_aware_filter=True):
    """Serve a registry (with the related-images filter unless told otherwise)."""
    folder.mkdir(parents=True, exist_ok=True)

    def build(port):
        conf = {'sql_connection': 'sqlite:///%s' % (folder / 'registry.sqlite'),
                'bind_host': '127.0.0.1', 'bind_port': str(port),
                'trusted_gateway': 'true', 'publish_roles': 'admin, member'}
        app = registry_api.app_factory(conf)
        if instance_aware_filter:
            app = instance_aware.filter_factory(conf)(app)
        return context_filter.filter_factory(conf)(app)
    return ServedApp(build)


def serve_api(folder, registry_urls):
    """Serve a glance-api whose file store lives in ``folder``."""
    datadir = folder / 'images'
    datadir.mkdir(parents=True, exist_ok=True)
    conf_path = folder / 'glance-api.conf'
    conf_path.write_text('[DEFAULT]\nregistry_urls = %s\nread_block_size = 4096\n'
                         'trusted_gateway = true\nregistry_trusted_gateway = true\n\n'
                         '[store:file]\nfilesystem_store_datadir = %s\n'
                         % (', '.join(registry_urls), datadir))
    conf = config.load_config_file(str(conf_path))
    return ServedApp(lambda port: context_filter.filter_factory(conf)(
        router.app_factory(conf)))
