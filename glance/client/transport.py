"""Streaming HTTP to one Glance service: base URLs, TLS, connections, safe retries.

:class:`Transport` sends one request per connection over :mod:`http.client`, which
sends and reads bodies in bounded blocks (httplib2, the JSON clients' transport,
reads whole bodies into memory: fine for registry metadata, wrong for image data).
Every failure becomes a :mod:`glance.common.exception` class through
:mod:`glance.client.errors`. TLS options (a CA bundle, ``insecure``, and a client
certificate for servers that require one) are checked once, when the transport is
built; :func:`check_files` is shared with :class:`~glance.common.client.HttpPool`.
"""

import http.client
import json
import os
import ssl
import urllib.parse

import glance
from glance.client import errors
from glance.common import exception

BLOCK_SIZE = 64 * 1024
_DEFAULT_PORTS = {'http': 80, 'https': 443}
#: Methods resent once after a connection reset before any answer: they carry no
#: body and change nothing, so a second attempt cannot do anything twice.
_RETRIED_METHODS = ('GET', 'HEAD')
_RETRIED_ERRORS = (ConnectionResetError, BrokenPipeError,
                   http.client.RemoteDisconnected)


def normalize_base_url(url):
    """Return the canonical form of a service base URL.

    The scheme and host are lower-cased, the default port is made explicit, and a
    trailing slash is dropped, so ``HTTP://Host/`` and ``http://host:80`` compare equal.

    :param url: an ``http`` or ``https`` URL with a host and an optional path prefix.
    :returns: ``scheme://host:port[/path]``.
    :raises Invalid: for another scheme, no host, a bad port, user info (credentials
        do not belong in URLs), a query or a fragment.
    """
    if not isinstance(url, str) or not url.strip():
        raise exception.Invalid(reason='a service URL must be a non-empty string')
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise exception.Invalid(reason='service URL scheme must be http or https, got %r'
                                % parts.scheme)
    if '@' in parts.netloc:
        raise exception.Invalid(reason='service URLs must not carry user info; '
                                'pass credentials through the request context')
    if not parts.hostname:
        raise exception.Invalid(reason='service URL has no host')
    if parts.query or parts.fragment:
        raise exception.Invalid(reason='service URL must not have a query or fragment')
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise exception.Invalid(reason='service URL has an invalid port')
    host = parts.hostname
    if ':' in host:
        host = '[%s]' % host
    return '%s://%s:%d%s' % (scheme, host, port, parts.path.rstrip('/'))


def check_files(ca_file=None, cert_file=None, key_file=None):
    """Check the TLS files a client was given before any request needs them.

    :raises Invalid: naming a file that does not exist, or a key without its
        certificate.
    """
    for kind, path in (('CA', ca_file), ('certificate', cert_file), ('key', key_file)):
        if path and not os.path.isfile(path):
            raise exception.Invalid(reason='%s file %s does not exist' % (kind, path))
    if key_file and not cert_file:
        raise exception.Invalid(reason='a client key file needs its certificate file '
                                '(cert_file)')


def ssl_context(ca_file=None, insecure=False, cert_file=None, key_file=None):
    """Build the client TLS context of these options.

    :param ca_file: PEM CAs trusted for ``https``; the system's when None.
    :param insecure: skip certificate and host name verification.
    :param cert_file: PEM client certificate for servers that require one (its key
        may be in the same file).
    :param key_file: PEM private key of ``cert_file``.
    :raises Invalid: for a missing file, or a certificate and key that do not load.
    """
    check_files(ca_file, cert_file, key_file)
    context = ssl.create_default_context(cafile=ca_file or None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file or None)
        except ssl.SSLError as err:
            raise exception.Invalid(reason='client certificate %s and its key do not '
                                    'load (%s)' % (cert_file, err.reason or err))
    return context


class Transport:
    """Send requests with streamed bodies to one service base URL.

    :param url: the service's base URL; a path prefix is kept.
    :param timeout: seconds allowed to connect and for each socket read or write.
    :param ca_file: see :func:`ssl_context`; also ``insecure``, ``cert_file`` and
        ``key_file``.
    :param block_size: bytes per socket read and write.
    :param name: the service's name in messages (``glance-api``).
    :raises Invalid: for an unusable URL or TLS file.
    """

    def __init__(self, url, timeout, ca_file=None, insecure=False, cert_file=None,
                 key_file=None, block_size=BLOCK_SIZE, name='glance-api'):
        self.url = normalize_base_url(url)
        parts = urllib.parse.urlsplit(self.url)
        self._host, self._port, self._prefix = parts.hostname, parts.port, parts.path
        self.timeout = timeout
        self.block_size = block_size
        self.where = '%s at %s' % (name, self.url)
        self._ssl = None
        if parts.scheme == 'https':
            self._ssl = ssl_context(ca_file, insecure, cert_file, key_file)
        else:
            check_files(ca_file, cert_file, key_file)

    def _connection(self):
        if self._ssl is not None:
            return http.client.HTTPSConnection(self._host, self._port,
                                               timeout=self.timeout, context=self._ssl,
                                               blocksize=self.block_size)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout,
                                          blocksize=self.block_size)

    def unavailable(self, err):
        """The ServiceUnavailable for a transport failure ``err``."""
        return exception.ServiceUnavailable(reason='%s %s' % (
            self.where, errors.describe_failure(err, self.timeout)))

    def open(self, method, path, headers=(), body=None, length=None, accept=(),
             not_found=None):
        """Send one request; return ``(connection, response)`` for a 2xx answer.

        The caller reads the response and closes both (see :meth:`read_json`).

        :param path: below the base URL, already quoted (a query may follow).
        :param headers: ``(name, value)`` pairs.
        :param body: None or an iterable of bytes blocks; sent chunked when
            ``length`` is None.
        :param accept: further statuses returned rather than raised (e.g. 416).
        :param not_found: the exception class for a 404 (see
            :func:`glance.client.errors.for_status`).
        :raises GlanceException: mapped from the status; ServiceUnavailable for a
            transport failure.
        """
        all_headers = [('User-Agent', 'glance-client/%s' % glance.__version__),
                       # One connection per request: nothing is left open between
                       # calls that a stopping server would wait for.
                       ('Connection', 'close')] + list(headers)
        if body is not None and length is not None:
            all_headers.append(('Content-Length', str(length)))
        elif body is None and method in ('POST', 'PUT'):
            all_headers.append(('Content-Length', '0'))
        attempts = 2 if method in _RETRIED_METHODS and body is None else 1
        for attempt in range(attempts):
            connection = self._connection()
            try:
                send_error = self._send(connection, method, path, all_headers, body)
                response = connection.getresponse()
                break
            except _RETRIED_ERRORS as err:
                connection.close()
                if attempt + 1 == attempts:
                    raise self.unavailable(err)
            except (OSError, http.client.HTTPException) as err:
                connection.close()
                raise self.unavailable(err)
        if 200 <= response.status < 300 or response.status in accept:
            return connection, response
        try:
            content = response.read(errors.MAX_JSON_BODY)
        except (OSError, http.client.HTTPException):
            content = b''
        connection.close()
        if send_error is not None and errors.server_message(content) is None:
            raise self.unavailable(send_error)
        raise errors.for_status(response.status, content, self.where, not_found)

    def _send(self, connection, method, path, headers, body):
        """Send the request; return the error that cut a body short, if any.

        A server that answers early (e.g. 413) may close while the body is sent: the
        caller still reads its answer, which says why.
        """
        connection.putrequest(method, self._prefix + path, skip_accept_encoding=True)
        chunked = body is not None and not any(name == 'Content-Length'
                                               for name, _value in headers)
        for name, value in headers:
            connection.putheader(name, value)
        if chunked:
            connection.putheader('Transfer-Encoding', 'chunked')
        connection.endheaders()
        if body is None:
            return None
        try:
            for block in body:
                if block:
                    connection.send(b'%x\r\n%s\r\n' % (len(block), block) if chunked
                                    else block)
            if chunked:
                connection.send(b'0\r\n\r\n')
        except (BrokenPipeError, ConnectionResetError) as err:
            return err
        return None

    def read_json(self, connection, response):
        """Read a small JSON answer and close the connection.

        :returns: the decoded value; None for an empty or malformed body.
        """
        try:
            content = response.read(errors.MAX_JSON_BODY)
        except (OSError, http.client.HTTPException) as err:
            raise self.unavailable(err)
        finally:
            connection.close()
        try:
            return json.loads(content.decode('utf-8')) if content else None
        except (UnicodeDecodeError, ValueError):
            return None
