"""The read-only ``http://`` and ``https://`` store: images already on a web server.

Teller never writes here: :meth:`~glance.store.base.Store.add` and
:meth:`~glance.store.base.Store.delete` raise ``StoreReadOnly``. Sizes and ETags come
from a ``HEAD``; reads are ``GET`` requests with a ``Range`` header, so a ranged
download fetches only the bytes it needs. Redirects are followed up to
``max_redirects`` times, only to ``http``/``https`` and never from https down to http.

**Where it connects.** Every request, the first and each redirect's, resolves its host
once through :class:`~glance.store.netpolicy.AddressPolicy` and is refused (a
:class:`~glance.store.netpolicy.AddressRefused`, 400) before any connection is opened
when an address is not globally routable and not on the allow-list. The connection
then goes to the checked address itself, with the URL's host name in ``Host`` and,
for https, in SNI and the certificate check.

================  ========  ==================================================
option            default   meaning
================  ========  ==================================================
timeout           60        seconds to wait for a connection or for data
max_redirects     5         redirects followed per request (0 to refuse them)
chunk_size        1M        bytes read per iteration
insecure          false     https: skip certificate verification (tests only)
ca_file           (system)  https: PEM bundle of CAs to trust instead
allowed_hosts     (none)    host names allowed whatever they resolve to
allowed_networks  (none)    CIDR networks allowed although not global
================  ========  ==================================================

Each of ``[store:http]`` and ``[store:https]`` configures the store for its scheme;
a redirect is followed with the options of the store that received the location.

**ETag.** The server's own ETag, normalised; None when the server sends none. Its
strength depends on the server: nginx derives it from the file's mtime (seconds) and
size.
"""

import functools
import http.client
import os
import ssl
import urllib.parse

from glance.store.base import (BadLocation, BadStoreConfiguration, Location,
                               ObjectInfo, ObjectNotFound, ReadIterator, Store,
                               StoreError, StoreIOError, StoreUnavailable,
                               normalize_etag, parse_http_date, range_header)
from glance.store.netpolicy import AddressPolicy, connect

_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_UNAVAILABLE = frozenset((408, 429, 502, 503, 504))
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


class _Pinned:
    """Make an http.client connection connect to checked addresses only.

    http.client opens its socket through ``self._create_connection(address, ...)``;
    replacing it keeps everything else (Host header, TLS with SNI and hostname check
    on the URL's name) while the socket goes to an address the policy checked.
    """

    def __init__(self, addresses, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(connect, addresses)


class _PinnedHTTPConnection(_Pinned, http.client.HTTPConnection):
    """An HTTPConnection pinned to checked addresses."""


class _PinnedHTTPSConnection(_Pinned, http.client.HTTPSConnection):
    """An HTTPSConnection pinned to checked addresses."""


class HTTPStore(Store):
    """Read-only access to objects on an HTTP(S) server, with http.client.

    :param options: the ``[store:http]`` or ``[store:https]`` options.
    :param name: the store name (default ``http``).
    :raises BadStoreConfiguration: for a bad timeout, redirect limit or CA file.
    """

    schemes = ('http', 'https')
    writable = False

    def _configure(self, opts):
        self.timeout = opts.get_float('timeout', 60.0, minimum=0.001)
        self.max_redirects = opts.get_int('max_redirects', 5, minimum=0, maximum=20)
        insecure = opts.get_bool('insecure', False)
        ca_file = opts.get_str('ca_file')
        if ca_file and not os.path.isfile(ca_file):
            raise BadStoreConfiguration(self.name, 'ca_file', 'no such file: %s' % ca_file)
        try:
            self._ssl_context = ssl.create_default_context(cafile=ca_file or None)
        except ssl.SSLError:
            raise BadStoreConfiguration(self.name, 'ca_file',
                                        'not a PEM bundle of certificates') from None
        if insecure:
            self._ssl_context.check_hostname = False
            self._ssl_context.verify_mode = ssl.CERT_NONE
        self.policy = AddressPolicy.from_options(self.name, opts)

    def head(self, location):
        """HEAD the object.

        :param location: an ``http(s)://`` location.
        :returns: :class:`~glance.store.base.ObjectInfo` with the server's ETag.
        :raises ObjectNotFound: on 404 or 410.
        :raises StoreUnavailable: if the server cannot be reached or is overloaded.
        :raises StoreError: for any other answer, or one without Content-Length.
        """
        loc = self.parse_location(location)
        conn, resp = self._request('HEAD', loc, {})
        try:
            self._check_status(loc, resp, 200)
            size = self._content_length(loc, resp)
            return ObjectInfo(str(loc), size, normalize_etag(resp.getheader('ETag')),
                              parse_http_date(resp.getheader('Last-Modified')))
        finally:
            conn.close()

    def _open(self, location, offset, length):
        byte_range = range_header(offset, length)
        headers = {'Range': byte_range} if byte_range else {}
        conn, resp = self._request('GET', location, headers)
        try:
            if resp.status == 416:
                conn.close()
                return ReadIterator(self, location, None, 0, None)
            if resp.status == 200 and offset == 0:
                # A whole-object read, or a server answering a range that starts at 0
                # with the whole object: read only what was asked for.
                size = self._content_length(location, resp)
                count = size if length is None else min(size, length)
            else:
                self._check_status(location, resp, 206)
                count = self._content_length(location, resp)
                if _range_start(resp.getheader('Content-Range')) != offset:
                    raise self.error(StoreIOError, location,
                                     'the server answered a different range')
        except StoreError:
            conn.close()
            raise
        return ReadIterator(self, location, resp.read, count, conn.close,
                            errors=_NETWORK_ERRORS)

    def _connection(self, location):
        """Check where ``location`` leads and return a connection pinned there.

        :raises AddressRefused: before any connection, for a refused address.
        :raises BadLocation: for a malformed host or port.
        """
        try:
            parts = urllib.parse.urlsplit('//' + location.netloc)
            host, port = parts.hostname, parts.port
        except ValueError:
            raise BadLocation(reason='invalid host or port in the location') from None
        if not host:
            raise BadLocation(reason='an %s location needs a host' % location.scheme)
        https = location.scheme == 'https'
        addresses = self.policy.resolve(host, port or (443 if https else 80))
        if https:
            return _PinnedHTTPSConnection(addresses, location.netloc,
                                          timeout=self.timeout, context=self._ssl_context)
        return _PinnedHTTPConnection(addresses, location.netloc, timeout=self.timeout)

    def _request(self, method, location, headers):
        """Send a request, following redirects.

        :returns: ``(connection, response)``; the caller closes the connection.
        :raises StoreUnavailable: if a server cannot be reached.
        :raises StoreError: for a failed TLS handshake (e.g. an untrusted
            certificate), or a redirect that is refused or one too many.
        :raises AddressRefused: when the location or a redirect leads to an address
            the policy refuses (checked before connecting, on every hop).
        """
        target = location
        for _ in range(self.max_redirects + 1):
            conn = self._connection(target)
            request_path = (target.path or '/') + ('?' + target.query if target.query
                                                   else '')
            try:
                # http.client, not httplib2: httplib2's request() reads the whole body
                # into memory, while an image object must stream in chunks.
                conn.request(method, request_path, headers=headers)
                resp = conn.getresponse()
            except ssl.SSLError as err:
                conn.close()
                raise self.error(StoreError, location, 'TLS with %s failed: %s'
                                 % (target.netloc, type(err).__name__)) from err
            except _NETWORK_ERRORS as err:
                conn.close()
                raise self.error(StoreUnavailable, location, 'cannot reach %s: %s'
                                 % (target.netloc, type(err).__name__)) from err
            if resp.status not in _REDIRECTS:
                return conn, resp
            conn.close()
            target = self._redirect(location, target, resp.getheader('Location'))
        raise self.error(StoreError, location,
                         'more than %d redirects' % self.max_redirects)

    def _redirect(self, location, current, header):
        """Resolve and check a redirect's target.

        :raises StoreError: for a missing, non-HTTP, credential-carrying or
            https-to-http target.
        """
        if not header:
            raise self.error(StoreError, location, 'redirect without a Location')
        try:
            target = Location.parse(urllib.parse.urljoin(str(current), header))
        except BadLocation:
            raise self.error(StoreError, location, 'redirect to an invalid or '
                             'credential-carrying URI refused') from None
        if target.scheme not in self.schemes:
            raise self.error(StoreError, location,
                             'redirect to a %s:// URI refused' % target.scheme)
        if current.scheme == 'https' and target.scheme == 'http':
            raise self.error(StoreError, location,
                             'redirect from https to http refused')
        return target

    def _check_status(self, location, resp, expected):
        if resp.status == expected:
            return
        if resp.status in (404, 410):
            raise self.error(ObjectNotFound, location)
        cls = StoreUnavailable if resp.status in _UNAVAILABLE else StoreError
        raise self.error(cls, location, 'HTTP %d from the server' % resp.status)

    def _content_length(self, location, resp):
        try:
            return int(resp.getheader('Content-Length'))
        except (TypeError, ValueError):
            raise self.error(StoreError, location,
                             'the server sent no valid Content-Length') from None


def _range_start(content_range):
    """Return the first byte of a ``Content-Range: bytes a-b/c`` value, or None."""
    unit, _, spec = (content_range or '').partition(' ')
    start = spec.partition('-')[0]
    return int(start) if unit == 'bytes' and start.isdigit() else None
