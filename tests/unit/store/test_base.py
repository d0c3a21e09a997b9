"""Unit tests of glance.store.base: locations, ETags, exceptions and the shared loops."""

import logging

import pytest

from glance.common import exception, wsgi
from glance.store.base import (BadLocation, BadStoreConfiguration, Location,
                               ObjectInfo, ObjectNotFound, ReadIterator, StoreError,
                               StoreIOError, StoreReadOnly, StoreUnavailable,
                               normalize_etag, parse_http_date, range_header)
from tests.unit.api.memory_store import MemoryStore


class ClientGone(Exception):
    """Stands for an upload whose client went away."""


@pytest.mark.parametrize('raw,normalised', [
    ('"5D41402ABC4B2A76B9719D911017C592"', '5d41402abc4b2a76b9719d911017c592'),
    ('5d41402abc4b2a76b9719d911017c592', '5d41402abc4b2a76b9719d911017c592'),
    ('W/"6B074A5E-6"', '6b074a5e-6'),
    ('w/"abc"', 'abc'),
    ('  "d41d8cd98f00b204e9800998ecf8427e-3" ', 'd41d8cd98f00b204e9800998ecf8427e-3'),
    ('""', None),
    ('', None),
    (None, None),
])
def test_normalize_etag_strips_quotes_and_weakness_and_lowercases(raw, normalised):
    assert normalize_etag(raw) == normalised


def test_parse_http_date_gives_an_aware_datetime_or_none():
    parsed = parse_http_date('Wed, 25 Nov 2026 20:51:42 GMT')
    assert (parsed.year, parsed.hour, parsed.utcoffset().total_seconds()) == (2026, 20, 0)
    assert parse_http_date('yesterday') is None
    assert parse_http_date(None) is None


@pytest.mark.parametrize('uri,fields,text', [
    ('swift://glance/img-00001', ('swift', 'glance', '/img-00001', ''), None),
    ('S3://bucket/a/b%20c', ('s3', 'bucket', '/a/b%20c', ''), 's3://bucket/a/b%20c'),
    ('file:///var/lib/glance/x', ('file', '', '/var/lib/glance/x', ''), None),
    ('memory:///x', ('memory', '', '/x', ''), None),
    ('https://example.com:8443/i.img?v=2', ('https', 'example.com:8443', '/i.img', 'v=2'),
     None),
])
def test_location_parses_into_fields_and_back(uri, fields, text):
    loc = Location.parse(uri)
    assert (loc.scheme, loc.netloc, loc.path, loc.query) == fields
    assert str(loc) == (text or uri)
    assert Location.parse(loc) is loc


def test_location_label_leaves_out_scheme_and_query():
    assert Location.parse('https://h/p/i.img?sig=abc').label == 'h/p/i.img'


@pytest.mark.parametrize('uri', [
    'swift://tenant:user:s3cr3t@auth.example.com/v1/glance/obj',
    'http://user:s3cr3t@example.com/image',
    's3://AKIA:s3cr3t@bucket/key',
])
def test_location_with_credentials_is_refused_without_echoing_them(uri):
    with pytest.raises(BadLocation) as caught:
        Location.parse(uri)
    assert 's3cr3t' not in str(caught.value)
    assert 'credentials' in str(caught.value)


@pytest.mark.parametrize('value,why', [
    ('just/a/path', 'no scheme'), ('http://[::1/x', 'not a valid URI'),
    ('http://h/x#frag', 'fragment'), (42, 'expected a URI string'),
])
def test_unparsable_locations_raise_bad_location(value, why):
    with pytest.raises(BadLocation, match=why):
        Location.parse(value)


def test_object_info_is_immutable():
    info = ObjectInfo('memory:///x', 1, 'abc')
    with pytest.raises(AttributeError):
        info.size = 2
    assert info.last_modified is None


@pytest.mark.parametrize('error,status', [
    (ObjectNotFound(store='s', path='p'), 502),
    (StoreIOError(store='s', path='p', reason='r'), 502),
    (StoreError(store='s', path='p', reason='r'), 502),
    (StoreUnavailable(store='s', path='p', reason='r'), 503),
    (StoreReadOnly(store='s', path='p', operation='write'), 403),
    (BadLocation(reason='r'), 400),
])
def test_store_errors_map_to_http_statuses(error, status):
    assert isinstance(error, exception.GlanceException)
    assert wsgi.status_for(error) == status


def test_store_errors_inherit_no_http_category():
    for error in (StoreUnavailable(store='s', path='p', reason='r'),
                  StoreReadOnly(store='s', path='p', operation='write'),
                  BadLocation(reason='r')):
        assert not isinstance(error, (exception.ServiceUnavailable, exception.Forbidden,
                                      exception.Invalid, exception.UpstreamError))


def test_store_error_messages_name_store_and_path():
    error = ObjectNotFound(store='swift', path='glance/img-00000')
    assert str(error) == 'Object glance/img-00000 not found in store swift'


def test_bad_store_configuration_is_a_config_error_naming_the_section():
    error = BadStoreConfiguration('swift', 'auth_url', 'required')
    assert isinstance(error, exception.ConfigError)
    assert (error.store, error.option, error.section) == ('swift', 'auth_url',
                                                          'store:swift')
    assert str(error) == "Invalid configuration: option 'auth_url' in [store:swift]: required"


class Resource:
    """A readable resource that counts closes and can fail or end early."""

    def __init__(self, data, fail_with=None, oversize=False):
        self.data = data
        self.fail_with = fail_with
        self.oversize = oversize
        self.closed = 0

    def read(self, size):
        if self.fail_with and not self.data:
            raise self.fail_with
        if self.oversize:
            size += 1
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def close(self):
        self.closed += 1


@pytest.fixture
def store():
    return MemoryStore({'chunk_size': '4'})


def reader(store, resource, length, errors=()):
    return ReadIterator(store, Location.parse('memory:///obj'), resource.read, length,
                        resource.close, errors)


def test_read_iterator_yields_bounded_chunks_and_closes_once(store):
    resource = Resource(b'abcdefghij')
    chunks = list(reader(store, resource, 10))
    assert chunks == [b'abcd', b'efgh', b'ij']
    assert resource.closed == 1


def test_read_iterator_stops_at_length_without_reading_further(store):
    resource = Resource(b'abcdefghij')
    assert b''.join(reader(store, resource, 6)) == b'abcdef'
    assert resource.data == b'ghij'


def test_read_iterator_reports_a_short_read(store):
    resource = Resource(b'abcdef')
    with pytest.raises(StoreIOError, match='short read: got 6 of 10 bytes') as caught:
        list(reader(store, resource, 10))
    assert 'memory' in str(caught.value) and '/obj' in str(caught.value)
    assert resource.closed == 1


def test_read_iterator_refuses_more_bytes_than_asked_for(store):
    with pytest.raises(StoreIOError, match='more bytes than asked for'):
        list(reader(store, Resource(b'abcdefghij', oversize=True), 10))


def test_read_iterator_translates_listed_errors_only(store):
    resource = Resource(b'abcd', fail_with=ConnectionResetError('peer 10.0.0.1 gone'))
    chunks = reader(store, resource, 8, errors=(OSError,))
    assert next(chunks) == b'abcd'
    with pytest.raises(StoreIOError, match='read failed: ConnectionResetError') as caught:
        next(chunks)
    assert '10.0.0.1' not in str(caught.value)
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert resource.closed == 1
    with pytest.raises(KeyError):
        list(reader(store, Resource(b'', fail_with=KeyError('x')), 4, errors=(OSError,)))


def test_read_iterator_close_is_idempotent(store):
    resource = Resource(b'abcdefgh')
    chunks = reader(store, resource, 8)
    next(chunks)
    chunks.close()
    chunks.close()
    assert resource.closed == 1


def test_get_rejects_negative_offset_or_length(store):
    with pytest.raises(ValueError):
        store.get('memory:///x', -1)
    with pytest.raises(ValueError):
        store.get('memory:///x', 0, -5)


def test_get_of_zero_bytes_still_reports_a_missing_object(store):
    with pytest.raises(ObjectNotFound):
        store.get('memory:///missing', 0, 0)


def test_store_refuses_locations_of_other_schemes(store):
    with pytest.raises(BadLocation, match='does not serve swift://'):
        store.head('swift://glance/x')


def test_location_for_percent_encodes_the_image_id(store):
    assert store.location_for('a/b c', 7) == 'memory://images/a%2Fb%20c-00007'


def test_range_header_covers_exactly_the_bytes_asked_for():
    assert range_header(0, None) is None
    assert range_header(0, 1) == 'bytes=0-0'
    assert range_header(10, 10) == 'bytes=10-19'
    assert range_header(10, None) == 'bytes=10-'


class WrappingStore(MemoryStore):
    """Wraps whatever its source raises, as client libraries do (swiftclient, requests)."""

    def _write(self, location, source, size):
        try:
            return super()._write(location, source, size)
        except ClientGone as err:
            raise self.error(StoreIOError, location, 'upload failed') from err


def test_add_reraises_the_sources_own_error_even_when_the_library_wraps_it():
    store = WrappingStore({})

    def chunks():
        yield b'abc'
        raise ClientGone('client went away')

    with pytest.raises(ClientGone):
        store.add(store.location_for('img', 0), chunks())
    assert store.objects == {}


class UndeletableStore(MemoryStore):
    """A store whose cleanup after a failed write fails too."""

    def _delete(self, location):
        raise self.error(StoreUnavailable, location, 'backend down')


def test_add_logs_a_failed_cleanup_and_still_raises_the_original_error(caplog):
    store = UndeletableStore({})
    with caplog.at_level(logging.WARNING, logger='glance.store.base'):
        with pytest.raises(StoreIOError, match='expected 5 bytes, got 3'):
            store.add(store.location_for('img', 0), iter([b'abc']), size=5)
    assert 'Could not remove partial object' in caplog.text
    assert 'backend down' in caplog.text


def test_read_only_store_refuses_writes(store):
    store.writable = False
    with pytest.raises(StoreReadOnly, match='cannot write'):
        store.add('memory:///x', iter([b'x']))
    with pytest.raises(StoreReadOnly, match='cannot delete'):
        store.delete('memory:///x')
    with pytest.raises(StoreReadOnly):
        store.location_for('img', 0)
