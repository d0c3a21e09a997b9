"""A small JSON-over-HTTP client for calls between Glance services.

:class:`BaseJSONClient` sends one request with a small JSON body (or none) to one base
URL, carries the caller's identity headers from a
:class:`~glance.common.context.RequestContext`, and turns every failure into the typed
exception of the one table all Glance clients share (:mod:`glance.client.errors`);
5xx answers and transport failures raise the client's ``unavailable`` class.
Messages built here name the server by scheme, host, port and path only: base URLs
may not carry user info, and headers (tokens included) never appear in a message or a
log line.

The transport is httplib2, which reads every response body into memory: that is right
for registry metadata and wrong for image data, so image bytes go through
``http.client`` (:mod:`glance.client.transport`) instead (STYLE.md recipe 7). Both
transports share URL normalisation, TLS file checks, the status table and the failure
messages.
"""

import collections
import contextlib
import dataclasses
import http.client
import json
import logging
import urllib.parse

import httplib2

import glance
from glance.client import errors, transport
from glance.common import exception, log

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30
normalize_base_url = transport.normalize_base_url
server_message = errors.server_message


@dataclasses.dataclass(frozen=True)
class JSONResponse:
    """A successful response.

    :param status: the HTTP status (2xx).
    :param headers: response headers with lower-case names.
    :param data: the decoded JSON body, or None when the body is empty.
    """

    status: int
    headers: dict
    data: object


class HttpPool:
    """Idle :class:`httplib2.Http` objects for clients that share transport options.

    An ``Http`` object holds open connections and is not safe to use from two green
    threads at once, so each request checks one out for itself and puts it back when
    the response has been read. Checking out and in are single ``deque`` operations,
    which are atomic for OS threads and never yield to another green thread.

    :param timeout: seconds allowed for connecting and for each socket read.
    :param ca_file: PEM bundle of the CAs trusted for ``https`` (default: httplib2's).
    :param insecure: skip TLS certificate and host name verification.
    :param max_idle: most ``Http`` objects kept open between requests.
    :param cert_file: PEM client certificate presented to servers that ask for one.
    :param key_file: PEM private key of ``cert_file``.
    :raises Invalid: for a non-positive timeout or a ``ca_file``, ``cert_file`` or
        ``key_file`` that does not exist.
    """

    def __init__(self, timeout=DEFAULT_TIMEOUT, ca_file=None, insecure=False, max_idle=8,
                 cert_file=None, key_file=None):
        if timeout is None or timeout <= 0:
            raise exception.Invalid(reason='timeout must be a positive number of seconds')
        transport.check_files(ca_file, cert_file, key_file)
        self.timeout = timeout
        self.ca_file = ca_file or None
        self.insecure = bool(insecure)
        self.max_idle = max_idle
        self.client_cert = (key_file, cert_file) if cert_file else None
        self._idle = collections.deque()

    def _new_http(self):
        # proxy_info=None: service-to-service calls never go through an environment
        # proxy, which would see the identity headers.
        transport = httplib2.Http(timeout=self.timeout, proxy_info=None,
                                  ca_certs=self.ca_file,
                                  disable_ssl_certificate_validation=self.insecure)
        if self.client_cert:
            transport.add_certificate(*self.client_cert, domain='')
        # A redirect could send the identity headers to a host nobody allow-listed.
        transport.follow_redirects = False
        return transport

    @contextlib.contextmanager
    def connection(self):
        """Check out an ``Http`` object for one request.

        It goes back to the pool only when the request succeeded at the transport
        level; after an error its connections are closed, as their state is unknown.
        """
        try:
            transport = self._idle.pop()
        except IndexError:
            transport = self._new_http()
        reusable = False
        try:
            yield transport
            reusable = True
        finally:
            if reusable and len(self._idle) < self.max_idle:
                self._idle.append(transport)
            else:
                transport.close()

    def close(self):
        """Close every idle connection."""
        while True:
            try:
                self._idle.pop().close()
            except IndexError:
                return


class BaseJSONClient:
    """Send JSON requests to one service base URL, with the caller's identity.

    :param base_url: the service's base URL, e.g. ``http://127.0.0.1:9191``; a path
        prefix is kept and request paths are appended to it.
    :param pool: the :class:`HttpPool` that holds the transport options (timeout, TLS);
        a new one with default options when None.
    :param context: the :class:`~glance.common.context.RequestContext` whose
        :meth:`~glance.common.context.RequestContext.to_headers` go with every request.
    :param credentials: this process's own identity, an object whose ``headers()``
        go with every request (:class:`~glance.common.auth.ServiceCredentials`).
    :raises Invalid: when ``base_url`` is not an acceptable service URL.
    """

    #: Raised for 5xx answers and transport failures; subclasses name their service.
    unavailable = exception.ServiceUnavailable

    def __init__(self, base_url, pool=None, context=None, credentials=None):
        self.base_url = normalize_base_url(base_url)
        self.pool = pool if pool is not None else HttpPool()
        self.context = context
        self.credentials = credentials

    def with_context(self, context):
        """Return a client for the same service and pool that acts as ``context``."""
        return type(self)(self.base_url, self.pool, context, self.credentials)

    def _headers(self, body, extra_headers):
        headers = {'Accept': 'application/json',
                   'User-Agent': 'glance-client/%s' % glance.__version__}
        if body is not None:
            headers['Content-Type'] = 'application/json'
        if self.context is not None:
            headers.update(self.context.to_headers())
        if self.credentials is not None:
            headers.update(self.credentials.headers())
        if 'X-Request-Id' not in headers and log.current_request_id():
            # The request being served, so the registry logs the same id.
            headers['X-Request-Id'] = log.current_request_id()
        headers.update(extra_headers or {})
        return headers

    def _fail(self, why):
        return self.unavailable(reason='%s %s' % (self.base_url, why))

    def request(self, method, path, query=None, body=None, headers=None, not_found=None):
        """Send one request and decode its JSON answer.

        :param method: HTTP method.
        :param path: path below the base URL, starting with ``/``, already quoted.
        :param query: a dict or a list of pairs; None values are left out and booleans
            are sent as ``true``/``false``.
        :param body: a JSON-serialisable object sent as the request body, or None.
        :param headers: extra request headers; they override the identity headers.
        :param not_found: the exception class (or a callable taking the message) for a
            404, e.g. :class:`~glance.common.exception.ImageNotFound`.
        :returns: a :class:`JSONResponse`.
        :raises GlanceException: the subclass mapped from the status or the failure
            (see the module table).
        """
        url = self.base_url + path
        if query:
            url += '?' + encode_query(query)
        payload = None if body is None else json.dumps(body).encode('utf-8')
        try:
            with self.pool.connection() as transport:
                response, content = transport.request(
                    url, method, body=payload, headers=self._headers(body, headers))
        except httplib2.ServerNotFoundError:
            raise self._fail('has a host name that does not resolve')
        except httplib2.HttpLib2Error as err:
            raise self._fail('sent a malformed HTTP response (%s)' % type(err).__name__)
        except (OSError, http.client.HTTPException) as err:
            raise self._fail(errors.describe_failure(err, self.pool.timeout))
        LOG.debug('%s %s%s -> %s', method, self.base_url, path, response.status)
        if 200 <= response.status < 300:
            return JSONResponse(response.status, dict(response), self._decode(content))
        raise self._error(response.status, content, not_found)

    def _decode(self, content):
        if not content:
            return None
        try:
            return json.loads(content.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            raise self._fail('answered with a body that is not JSON')

    def _error(self, status, content, not_found):
        return errors.for_status(status, content, self.base_url, not_found,
                                 self.unavailable)


def encode_query(query):
    """URL-encode query parameters.

    :param query: a dict or a list of ``(name, value)`` pairs; None values are dropped
        and booleans become ``true``/``false``.
    :returns: the encoded query string, without the ``?``.
    """
    pairs = query.items() if isinstance(query, dict) else query
    encoded = []
    for name, value in pairs:
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        encoded.append((name, str(value)))
    return urllib.parse.urlencode(encoded)
