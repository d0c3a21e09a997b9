"""The eventlet WSGI server both daemons run: bind, optional TLS, graceful stop.

The server takes any WSGI app; :func:`run` is what ``glance-registry`` and
``glance-api`` call. On SIGTERM or SIGINT it stops accepting new connections and lets
in-flight requests finish (up to ``graceful_shutdown_timeout`` seconds).
"""

import logging
import os
import signal
import socket
import ssl

import eventlet
import eventlet.hubs
import eventlet.wsgi

from glance.common import wsgi
from glance.common.config import Options

LOG = logging.getLogger(__name__)


class _AccessLogSilencer:
    """eventlet's own per-request log is replaced by the access_log filter."""

    def write(self, data):
        pass


class _HeadersTooLarge(Exception):
    """The request headers broke ``max_header_line`` or ``max_total_header_size``."""


class _HeaderReader:
    """Reads the header block line by line, enforcing the server's own limits.

    eventlet's reader enforces module-wide constants; this one takes the limits of
    the :class:`Server` it belongs to.
    """

    def __init__(self, fp, max_line, max_total):
        self.fp = fp
        self.max_line = max_line
        self.max_total = max_total
        self.total = 0

    def readline(self, size=-1):
        """Return one header line; raise :class:`_HeadersTooLarge` past a limit."""
        line = self.fp.readline(self.max_line + 1)
        if len(line) > self.max_line:
            raise _HeadersTooLarge('a header line is longer than %d bytes '
                                   '(max_header_line)' % self.max_line)
        self.total += len(line)
        if self.total > self.max_total:
            raise _HeadersTooLarge('the headers are longer than %d bytes in total '
                                   '(max_total_header_size)' % self.max_total)
        return line


class HttpProtocol(eventlet.wsgi.HttpProtocol):
    """eventlet's protocol, keeping ``x-image-meta-*`` headers written with underscores,
    and answering over-long headers (and every request it refuses itself) in JSON.

    eventlet drops every header whose name holds ``_``, because ``a_b`` and ``a-b``
    would share one environ key. Glance clients send ``x-image-meta-disk_format`` and
    ``x-image-meta-property-<key_with_underscores>``; for that prefix both spellings
    mean the same field, so they are kept (as WSGI servers that do not drop them do).
    """

    max_header_line = eventlet.wsgi.MAX_HEADER_LINE
    max_total_header_size = eventlet.wsgi.MAX_TOTAL_HEADER_SIZE

    def get_environ(self):
        """eventlet's environ, plus the peek at unread bytes (``wsgi.PEEK_KEY``)."""
        environ = super().get_environ()
        environ[wsgi.PEEK_KEY] = self._peek_unread
        return environ

    def _peek_unread(self, size):
        """Bytes received but not read yet, up to ``size``; never waits for more."""
        timeout = self.connection.gettimeout()
        # Non-blocking for this one look: a buffered reader's peek does at most one
        # read of the socket, which then answers "nothing yet" instead of waiting.
        self.connection.setblocking(False)
        try:
            return self.rfile.peek(size)[:size]
        except OSError:
            return b''
        finally:
            self.connection.settimeout(timeout)

    def parse_request(self):
        """Parse the request line and headers under the configured size limits.

        :returns: False when the request was refused (with a JSON 400).
        """
        # eventlet wraps rfile in its own limited reader for exactly this call (and
        # unwraps it afterwards); ours replaces it with the configured limits.
        self.rfile = _HeaderReader(getattr(self.rfile, 'fp', self.rfile),
                                   self.max_header_line, self.max_total_header_size)
        try:
            return super().parse_request()
        except _HeadersTooLarge as err:
            self.send_error(400, explain=str(err))
            return False

    def send_error(self, code, message=None, explain=None):
        """Answer a request the server itself refuses (malformed request line, too
        many headers...) with our JSON error body instead of the standard library's
        HTML page, and close the connection.
        """
        short, long = self.responses.get(code, ('Error', 'Request refused'))
        body = wsgi.json_error(code, explain or long).body
        # A request line too broken to name its version leaves the default, HTTP/0.9,
        # under which no status line or header would be written.
        if self.request_version == 'HTTP/0.9':
            self.request_version = 'HTTP/1.0'
        self.send_response(code, short)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        self.close_connection = True

    def formalize_key_naming(self, k):
        """Keep ``x-image-meta-*`` headers spelled with ``_`` (see the class)."""
        if k.lower().startswith('x-image-meta-'):
            k = k.replace('_', '-')
        return super().formalize_key_naming(k)


class Server:
    """An eventlet WSGI server for one app on one socket.

    :param app: any WSGI application.
    :param host: address to bind (``127.0.0.1``, ``::1``, ``0.0.0.0``).
    :param port: port to bind; 0 picks a free one (see :attr:`port` after :meth:`bind`).
    :param cert_file: PEM certificate; with ``key_file`` the server speaks TLS only.
    :param key_file: PEM private key.
    :param client_ca_file: PEM CAs; when set, every client must present a certificate
        signed by one of them (mutual TLS).
    :param backlog: listen backlog.
    :param pool_size: most concurrent requests (green threads).
    :param graceful_timeout: seconds to wait for in-flight requests on shutdown.
    :param max_header_line: longest request header line, in bytes (400 above).
    :param max_total_header_size: most bytes of request headers (400 above).
    """

    def __init__(self, app, host='127.0.0.1', port=0, cert_file=None, key_file=None,
                 backlog=4096, pool_size=1000, graceful_timeout=60,
                 keepalive=True, client_socket_timeout=900,
                 max_header_line=eventlet.wsgi.MAX_HEADER_LINE,
                 max_total_header_size=eventlet.wsgi.MAX_TOTAL_HEADER_SIZE,
                 client_ca_file=None):
        self.app = app
        self.client_ca_file = client_ca_file
        self.host = host
        self.port = port
        self.cert_file = cert_file
        self.key_file = key_file
        self.backlog = backlog
        self.pool = eventlet.GreenPool(pool_size)
        self.graceful_timeout = graceful_timeout
        self.keepalive = keepalive
        self.client_socket_timeout = client_socket_timeout
        self.protocol = type('HttpProtocol', (HttpProtocol,), {
            'max_header_line': max_header_line,
            'max_total_header_size': max_total_header_size})
        self.socket = None
        self._server_thread = None

    def bind(self):
        """Open the listening socket (wrapped in TLS when configured)."""
        family = socket.AF_INET6 if ':' in self.host else socket.AF_INET
        sock = eventlet.listen((self.host, self.port), family=family,
                               backlog=self.backlog)
        # Accepted sockets inherit this: without it a response larger than eventlet's
        # write buffer goes out in two sends and the second waits ~40 ms for the
        # client's delayed ACK (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.cert_file or self.key_file:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file:
                context.load_verify_locations(self.client_ca_file)
                context.verify_mode = ssl.CERT_REQUIRED
            sock = context.wrap_socket(sock, server_side=True)
        self.socket = sock
        self.port = sock.getsockname()[1]
        return sock

    @property
    def scheme(self):
        """``https`` when TLS is configured, else ``http``."""
        return 'https' if self.cert_file else 'http'

    def start(self):
        """Start serving in a green thread; returns at once."""
        if self.socket is None:
            self.bind()
        self._server_thread = eventlet.spawn(
            eventlet.wsgi.server, self.socket, self.app,
            custom_pool=self.pool, log=_AccessLogSilencer(), protocol=self.protocol,
            keepalive=self.keepalive, socket_timeout=self.client_socket_timeout,
            debug=False)
        return self._server_thread

    def stop(self):
        """Stop accepting; wait for in-flight requests up to the graceful timeout."""
        if self._server_thread is not None:
            self._server_thread.kill()
            self._server_thread = None
        if self.socket is not None:
            try:
                self.socket.close()
            except OSError:
                pass
            self.socket = None
        with eventlet.Timeout(self.graceful_timeout, False):
            self.pool.waitall()

    def serve_forever(self):
        """Serve until SIGTERM/SIGINT, then stop gracefully."""
        # A Python signal handler that pokes eventlet can leave the hub asleep in
        # epoll (the interrupted call is retried with its old timeout), so signals are
        # delivered through a wakeup pipe that the hub watches like any socket.
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        previous_fd = signal.set_wakeup_fd(write_fd)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *args: None)
        try:
            self.start()
            eventlet.hubs.trampoline(read_fd, read=True)
            signum = os.read(read_fd, 1)[0]
            LOG.info('Received signal %d: finishing in-flight requests', signum)
            self.stop()
        finally:
            signal.set_wakeup_fd(previous_fd)
            os.close(read_fd)
            os.close(write_fd)
        LOG.info('Server stopped')


def server_from_conf(app, conf, default_port):
    """Build a :class:`Server` from the daemon's ``[DEFAULT]`` options.

    Options: ``bind_host``, ``bind_port``, ``cert_file``, ``key_file``,
    ``client_ca_file``, ``backlog``,
    ``workers_pool_size``, ``graceful_shutdown_timeout``, ``client_socket_timeout``,
    ``max_header_line``, ``max_total_header_size``.
    """
    opts = Options(conf)
    cert_file = opts.get_path('cert_file', None)
    key_file = opts.get_path('key_file', None)
    if bool(cert_file) != bool(key_file):
        from glance.common.exception import ConfigError
        raise ConfigError('cert_file' if not cert_file else 'key_file', 'DEFAULT',
                          'cert_file and key_file must be set together for TLS')
    client_ca_file = opts.get_path('client_ca_file', None)
    if client_ca_file and not cert_file:
        from glance.common.exception import ConfigError
        raise ConfigError('client_ca_file', 'DEFAULT',
                          'client certificates need TLS: set cert_file and key_file')
    return Server(app,
                  host=opts.get_str('bind_host', '127.0.0.1'),
                  port=opts.get_int('bind_port', default_port, minimum=0, maximum=65535),
                  cert_file=cert_file, key_file=key_file,
                  backlog=opts.get_int('backlog', 4096, minimum=1),
                  pool_size=opts.get_int('workers_pool_size', 1000, minimum=1),
                  graceful_timeout=opts.get_float('graceful_shutdown_timeout', 60,
                                                  minimum=0),
                  client_socket_timeout=opts.get_float('client_socket_timeout', 900,
                                                       minimum=0),
                  max_header_line=opts.get_size(
                      'max_header_line', eventlet.wsgi.MAX_HEADER_LINE, minimum=1024),
                  max_total_header_size=opts.get_size(
                      'max_total_header_size', eventlet.wsgi.MAX_TOTAL_HEADER_SIZE,
                      minimum=1024),
                  client_ca_file=client_ca_file)
