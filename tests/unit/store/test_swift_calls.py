"""What the Swift store asks of python-swiftclient and what it makes of the answers.

swiftclient's Connection is replaced by a recording fake (unit tests only); the real
exchanges with a real Swift are tested in tests/functional/test_store_swift.py.
"""

import datetime
import io

import pytest
import requests.exceptions
from swiftclient.exceptions import ClientException

from glance.store import swift
from glance.store.base import (BadLocation, ObjectInfo, ObjectNotFound, StoreError,
                               StoreIOError, StoreUnavailable)
from glance.store.swift import SwiftStore

LOCATION = 'swift://glance/img-00000'
DATE = 'Mon, 30 Nov 2026 12:00:00 GMT'
WHEN = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)


class Connection:
    """Records how it was built and called; answers from ``Connection.answers``."""

    made = []
    answers = {}

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls = []
        self.closed = 0
        self.url, self.token = 'http://swift/v1/AUTH_t', 'tok-1'
        Connection.made.append(self)

    def _answer(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))
        answer = Connection.answers[name]
        if isinstance(answer, BaseException):
            raise answer
        return answer(*args, **kwargs) if callable(answer) else answer

    def head_object(self, *args, **kwargs):
        return self._answer('head_object', *args, **kwargs)

    def get_object(self, *args, **kwargs):
        return self._answer('get_object', *args, **kwargs)

    def put_object(self, *args, **kwargs):
        return self._answer('put_object', *args, **kwargs)

    def put_container(self, *args, **kwargs):
        return self._answer('put_container', *args, **kwargs)

    def delete_object(self, *args, **kwargs):
        return self._answer('delete_object', *args, **kwargs)

    def close(self):
        self.closed += 1


@pytest.fixture(autouse=True)
def fake_connection(monkeypatch):
    Connection.made, Connection.answers = [], {}
    monkeypatch.setattr(swift.swiftclient.client, 'Connection', Connection)
    return Connection


def _store(**options):
    settings = {'auth_url': 'http://127.0.0.1:1/auth/v1.0', 'user': 'a:b',
                'key': 'sEcReT-unit-swift', 'chunk_size': '4'}
    settings.update(options)
    return SwiftStore(settings)


def test_head_builds_one_connection_with_the_options_and_closes_it():
    Connection.answers['head_object'] = {'content-length': '7', 'etag': 'ABC',
                                         'last-modified': DATE}
    store = _store(timeout='5', retries='3')
    assert store.head(LOCATION) == ObjectInfo(LOCATION, 7, 'abc', WHEN)
    [conn] = Connection.made
    assert conn.kwargs == {'authurl': 'http://127.0.0.1:1/auth/v1.0', 'user': 'a:b',
                           'key': 'sEcReT-unit-swift', 'auth_version': '1',
                           'preauthurl': None, 'preauthtoken': None, 'retries': 3,
                           'timeout': 5.0}
    assert conn.calls == [('head_object', ('glance', 'img-00000'), {})]
    assert conn.closed == 1


def test_the_token_is_shared_by_later_connections():
    Connection.answers['head_object'] = {'content-length': '1'}
    store = _store()
    store.head(LOCATION)
    store.head(LOCATION)
    assert Connection.made[1].kwargs['preauthurl'] == 'http://swift/v1/AUTH_t'
    assert Connection.made[1].kwargs['preauthtoken'] == 'tok-1'


@pytest.mark.parametrize('error,cls,message', [
    (ClientException('x', http_status=404), ObjectNotFound,
     'Object glance/img-00000 not found in store swift'),
    (ClientException('x', http_status=500), StoreUnavailable,
     'Store swift unavailable for glance/img-00000: HTTP 500 from Swift'),
    (ClientException('x', http_status=408), StoreUnavailable,
     'Store swift unavailable for glance/img-00000: HTTP 408 from Swift'),
    (ClientException('x', http_status=498), StoreUnavailable,
     'Store swift unavailable for glance/img-00000: HTTP 498 from Swift'),
    (ClientException('x', http_status=499), StoreError,
     'Store swift failed on glance/img-00000: HTTP 499 from Swift'),
    (requests.exceptions.ConnectionError('down'), StoreUnavailable,
     'Store swift unavailable for glance/img-00000: cannot reach Swift: '
     'ConnectionError'),
    (OSError('reset'), StoreUnavailable,
     'Store swift unavailable for glance/img-00000: cannot reach Swift: OSError'),
])
def test_errors_close_the_connection_and_are_translated(error, cls, message):
    Connection.answers['head_object'] = error
    with pytest.raises(StoreError) as info:
        _store().head(LOCATION)
    assert type(info.value) is cls and str(info.value) == message
    assert Connection.made[0].closed == 1


def test_a_ranged_get_streams_and_closes_body_and_connection():
    body = io.BytesIO(b'hello')
    closed = []
    body.close = lambda: closed.append('body')
    Connection.answers['get_object'] = ({'content-length': '5'}, body)
    reader = _store().get(LOCATION, 2, 5)
    [conn] = Connection.made
    assert conn.calls == [('get_object', ('glance', 'img-00000'),
                           {'resp_chunk_size': 4, 'headers': {'Range': 'bytes=2-6'}})]
    assert conn.closed == 0
    assert b''.join(reader) == b'hello'
    assert closed == ['body'] and conn.closed == 1


def test_a_whole_get_sends_no_range():
    Connection.answers['get_object'] = ({'content-length': '2'}, io.BytesIO(b'hi'))
    assert b''.join(_store().get(LOCATION)) == b'hi'
    assert Connection.made[0].calls[0][2]['headers'] == {}


def test_a_range_past_the_end_is_empty_and_closes():
    Connection.answers['get_object'] = ClientException('x', http_status=416)
    assert list(_store().get(LOCATION, 99)) == []
    assert Connection.made[0].closed >= 1


def test_a_read_failing_mid_body_is_a_store_io_error():
    class Body(io.BytesIO):
        def read(self, size=-1):
            raise requests.exceptions.ChunkedEncodingError('cut')

    Connection.answers['get_object'] = ({'content-length': '5'}, Body())
    with pytest.raises(StoreIOError) as info:
        list(_store().get(LOCATION))
    assert str(info.value) == ('I/O error in store swift on glance/img-00000: read '
                               'failed: ChunkedEncodingError')


def test_a_write_creates_the_container_once_and_never_retries():
    Connection.answers['put_container'] = None

    def put(container, name, source, response_dict):
        data = b''.join(source)
        response_dict['headers'] = {'last-modified': DATE}
        return 'E-%d' % len(data)

    Connection.answers['put_object'] = put
    store = _store()
    assert store.add(LOCATION, iter([b'ab', b'c'])) == ObjectInfo(LOCATION, 3, 'e-3', WHEN)
    store.add(LOCATION, iter([b'd']))
    first, second = Connection.made
    assert first.kwargs['retries'] == 0
    assert [call[0] for call in first.calls] == ['put_container', 'put_object']
    assert first.calls[0][1] == ('glance',)
    assert [call[0] for call in second.calls] == ['put_object']


def test_a_write_into_a_missing_container():
    Connection.answers['put_object'] = ClientException('x', http_status=404)
    Connection.answers['delete_object'] = ClientException('x', http_status=404)
    with pytest.raises(StoreError) as info:
        _store(create_container_on_put='false').add(LOCATION, iter([b'x']))
    assert type(info.value) is StoreError
    assert str(info.value) == ('Store swift failed on glance/img-00000: container glance '
                               'does not exist')


def test_a_write_cut_by_the_network():
    Connection.answers['put_object'] = requests.exceptions.ConnectionError('cut')
    Connection.answers['delete_object'] = None
    with pytest.raises(StoreIOError) as info:
        _store(create_container_on_put='false').add(LOCATION, iter([b'x']))
    assert str(info.value) == ('I/O error in store swift on glance/img-00000: upload '
                               'failed: ConnectionError')


def test_delete():
    Connection.answers['delete_object'] = None
    _store().delete(LOCATION)
    assert Connection.made[0].calls == [('delete_object', ('glance', 'img-00000'), {})]
    assert Connection.made[0].closed == 1


@pytest.mark.parametrize('location', ['swift://glance/', 'swift:///obj',
                                      'swift://glance/obj?v=1'])
def test_locations_need_a_container_and_an_object(location):
    with pytest.raises(BadLocation) as info:
        _store().head(location)
    assert str(info.value) == ('Invalid store location: expected '
                               'swift://<container>/<object>')


def test_names_are_quoted_in_locations_and_unquoted_in_requests():
    store = _store(container='my images')
    location = store.location_for('img', 12)
    assert location == 'swift://my%20images/img-00012'
    Connection.answers['head_object'] = {'content-length': '1'}
    store.head('swift://my%20images/a%20b')
    assert Connection.made[0].calls[0][1] == ('my images', 'a b')
