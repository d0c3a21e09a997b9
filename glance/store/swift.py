"""The ``swift://`` store: OpenStack Swift through python-swiftclient.

Locations look like ``swift://<container>/<object>``; the auth endpoint and
credentials come from ``[store:swift]`` only, never from a location. Teller splits
images into chunks itself, so no large-object (SLO/DLO) support is needed here.

=======================  ==========  ==============================================
option                   default     meaning
=======================  ==========  ==============================================
auth_url                 (required)  auth endpoint, e.g. http://swift:8080/auth/v1.0
auth_version             1           only 1 (tempauth, swauth) is supported
user                     (required)  ``account:user``
key                      (required)  the user's key (a secret: never logged)
container                glance      container that receives uploads
create_container_on_put  true        create the container on the first upload
chunk_size               1M          bytes read per iteration
timeout                  60          seconds to wait for a connection or for data
retries                  2           retries of a failed HEAD, GET or DELETE (with
                                     back-off); uploads stream and are never retried
=======================  ==========  ==============================================

Each call uses its own :class:`swiftclient.client.Connection`, so the store can be
shared by greenthreads; the auth token is shared between them and renewed by
swiftclient when Swift answers 401.

**ETag.** The md5 of the object's content, which Swift sends unquoted for a plain
object.
"""

import contextlib
import urllib.parse

import requests.exceptions
import swiftclient.client
import swiftclient.exceptions
import urllib3.exceptions

from glance.store.base import (BadLocation, BadStoreConfiguration, Location,
                               ObjectInfo, ObjectNotFound, ReadIterator, Store,
                               StoreError, StoreIOError, StoreUnavailable,
                               normalize_etag, parse_http_date, range_header)

_NETWORK_ERRORS = (requests.exceptions.RequestException, OSError)
_READ_ERRORS = _NETWORK_ERRORS + (urllib3.exceptions.HTTPError,
                                  swiftclient.exceptions.ClientException)


class SwiftStore(Store):
    """Objects in Swift containers.

    :param options: the ``[store:swift]`` options.
    :param name: the store name (default ``swift``).
    :raises BadStoreConfiguration: for a missing or invalid option.
    """

    schemes = ('swift',)

    def _configure(self, opts):
        self.auth_url = self._required(opts, 'auth_url')
        if urllib.parse.urlsplit(self.auth_url).scheme not in ('http', 'https'):
            raise BadStoreConfiguration(self.name, 'auth_url', 'must be an http(s) URL')
        auth_version = opts.get_str('auth_version', '1')
        if auth_version not in ('1', '1.0'):
            raise BadStoreConfiguration(self.name, 'auth_version',
                                        'only version 1 is supported')
        self.user = self._required(opts, 'user')
        self._key = opts.get_secret('key')
        if not self._key:
            raise BadStoreConfiguration(self.name, 'key', 'required')
        self.container = opts.get_str('container', 'glance')
        if '/' in self.container:
            raise BadStoreConfiguration(self.name, 'container', 'must not contain "/"')
        self.create_container = opts.get_bool('create_container_on_put', True)
        self.timeout = opts.get_float('timeout', 60.0, minimum=0.001)
        self.retries = opts.get_int('retries', 2, minimum=0, maximum=10)
        self._auth = (None, None)
        self._ready_containers = set()

    def _split(self, location):
        """Return ``(container, object)`` of a location.

        :raises BadLocation: without a container or an object name.
        """
        name = urllib.parse.unquote(location.path.lstrip('/'))
        if not location.netloc or not name or location.query:
            raise BadLocation(reason='expected swift://<container>/<object>')
        return urllib.parse.unquote(location.netloc), name

    @contextlib.contextmanager
    def _connection(self, location, retries=None, close=True):
        """Yield a Connection reusing the shared token; translate its errors.

        :param location: the location concerned, for messages.
        :param retries: override of the ``retries`` option.
        :param close: close the connection on success too (False when a body
            streams on; it is always closed on error).
        """
        url, token = self._auth
        conn = swiftclient.client.Connection(
            authurl=self.auth_url, user=self.user, key=self._key.reveal(),
            auth_version='1', preauthurl=url, preauthtoken=token,
            retries=self.retries if retries is None else retries, timeout=self.timeout)
        succeeded = False
        try:
            yield conn
            succeeded = True
        except swiftclient.exceptions.ClientException as err:
            raise self._client_error(location, err) from err
        except _NETWORK_ERRORS as err:
            raise self.error(StoreUnavailable, location, 'cannot reach Swift: %s'
                             % type(err).__name__) from err
        finally:
            if conn.token:
                self._auth = (conn.url, conn.token)
            if close or not succeeded:
                conn.close()

    def _client_error(self, location, err):
        """Translate a swiftclient ClientException (never using its message)."""
        status = err.http_status
        if status == 404:
            return self.error(ObjectNotFound, location)
        if status is None:
            reason = 'request failed'
        else:
            reason = 'HTTP %d from Swift' % status
            if status == 401:
                reason += ': authentication failed, check user and key'
        if err.transaction_id:
            reason += ' (transaction %s)' % err.transaction_id
        overloaded = status is not None and (status >= 500 or status in (408, 429, 498))
        return self.error(StoreUnavailable if overloaded else StoreError, location, reason)

    def head(self, location):
        """HEAD the object.

        :param location: a ``swift://<container>/<object>`` location.
        :returns: :class:`~glance.store.base.ObjectInfo` with the object's md5.
        :raises ObjectNotFound: if the object or its container is missing.
        :raises StoreUnavailable: if Swift cannot be reached or is overloaded.
        :raises StoreError: for any other failure (e.g. a wrong key).
        """
        loc = self.parse_location(location)
        container, name = self._split(loc)
        with self._connection(loc) as conn:
            headers = conn.head_object(container, name)
        return _info(loc, headers)

    def _open(self, location, offset, length):
        container, name = self._split(location)
        byte_range = range_header(offset, length)
        headers = {'Range': byte_range} if byte_range else {}
        with self._connection(location, close=False) as conn:
            try:
                resp_headers, body = conn.get_object(
                    container, name, resp_chunk_size=self.chunk_size, headers=headers)
            except swiftclient.exceptions.ClientException as err:
                if err.http_status != 416:
                    raise
                conn.close()
                return ReadIterator(self, location, None, 0, None)

        def close():
            body.close()
            conn.close()
        return ReadIterator(self, location, body.read, int(resp_headers['content-length']),
                            close, errors=_READ_ERRORS)

    def _write(self, location, source, size):
        container, name = self._split(location)
        response = {}
        # A stream cannot be rewound, so a failed upload is never retried.
        with self._connection(location, retries=0) as conn:
            if self.create_container and container not in self._ready_containers:
                conn.put_container(container)
                self._ready_containers.add(container)
            try:
                etag = conn.put_object(container, name, source, response_dict=response)
            except swiftclient.exceptions.ClientException as err:
                if err.http_status == 404:
                    raise self.error(StoreError, location, 'container %s does not exist'
                                     % container) from err
                raise
            except _NETWORK_ERRORS as err:
                raise self.error(StoreIOError, location, 'upload failed: %s'
                                 % type(err).__name__) from err
        return ObjectInfo(str(location), source.size, normalize_etag(etag),
                          parse_http_date(response.get('headers', {}).get('last-modified')))

    def _delete(self, location):
        container, name = self._split(location)
        with self._connection(location) as conn:
            conn.delete_object(container, name)

    def _object_location(self, quoted_name):
        return Location('swift', urllib.parse.quote(self.container, safe=''),
                        '/' + quoted_name)


def _info(location, headers):
    """Build ObjectInfo from Swift's lower-cased response headers."""
    return ObjectInfo(str(location), int(headers['content-length']),
                      normalize_etag(headers.get('etag')),
                      parse_http_date(headers.get('last-modified')))
