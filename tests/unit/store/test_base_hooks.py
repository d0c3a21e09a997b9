"""The Store base class's contract with its subclasses: what a writable store that
forgets a hook gets told, and the messages of the base's own checks."""

import pytest

from glance.store.base import (BadLocation, BadStoreConfiguration, Location, ObjectInfo,
                               ReadIterator, SourceReader, Store, StoreIOError,
                               StoreReadOnly, normalize_etag)
from glance.store.filesystem import FilesystemStore
from tests.unit.api.memory_store import MemoryStore


class Incomplete(Store):
    """A writable store implementing only the read side."""

    schemes = ('inc',)

    def head(self, location):
        return ObjectInfo(str(location), 0, None)

    def _open(self, location, offset, length):
        return ReadIterator(self, location, None, 0, None)


@pytest.mark.parametrize('call,hook', [
    (lambda store: store._write(store.parse_location('inc://c/a'), None, None),
     '_write'),
    (lambda store: store.delete('inc://c/a'), '_delete'),
    (lambda store: store.location_for('img', 0), '_object_location'),
])
def test_a_writable_store_without_a_hook_says_which(call, hook):
    store = Incomplete({})
    with pytest.raises(NotImplementedError) as info:
        call(store)
    assert str(info.value) == 'writable stores implement %s' % hook


def test_a_read_only_store_names_itself_and_the_object_it_cannot_write():
    class ReadOnly(Incomplete):
        writable = False

    with pytest.raises(StoreReadOnly) as info:
        ReadOnly({}, name='mirror').location_for('img', 7)
    assert str(info.value) == 'Store mirror is read-only: cannot write img-00007'


def test_read_iterator_and_add_messages():
    store = MemoryStore({'chunk_size': '4'})
    location = Location.parse('memory://c/obj')

    def broken(size):
        raise OSError('disk')

    with pytest.raises(StoreIOError) as info:
        next(ReadIterator(store, location, broken, 5, lambda: None, (OSError,)))
    assert str(info.value) == 'I/O error in store memory on c/obj: read failed: OSError'
    short = iter([b'ab', b''])
    reader = ReadIterator(store, location, lambda size: next(short), 5, lambda: None)
    assert next(reader) == b'ab'
    with pytest.raises(StoreIOError) as info:
        next(reader)
    assert str(info.value) == 'I/O error in store memory on c/obj: short read: got 2 of 5 bytes'
    with pytest.raises(StoreIOError) as info:
        store.add('memory://c/obj', iter([b'abc']), size=4)
    assert str(info.value) == 'I/O error in store memory on c/obj: expected 4 bytes, got 3'


def test_source_reader_counts_what_passed_through():
    source = SourceReader([b'ab', b'', b'cde'])
    assert source.size == 0 and source.error is None
    assert list(source) == [b'ab', b'', b'cde']
    assert source.size == 5


@pytest.mark.parametrize('raw,normalised', [('W/abc', 'abc'), ('"XABC"', 'xabc')])
def test_etag_normalisation_edges(raw, normalised):
    assert normalize_etag(raw) == normalised


@pytest.mark.parametrize('value,message', [
    (5, 'expected a URI string, got int'),
    ('http://[::1/x', 'not a valid URI'),
    ('http://u:p@h/x', 'a http location must not carry credentials; configure them in '
                       'the store section'),
    ('http://h/x#f', 'a http location must not have a #fragment'),
])
def test_location_refusal_messages(value, message):
    with pytest.raises(BadLocation) as info:
        Location.parse(value)
    assert str(info.value) == 'Invalid store location: ' + message


def test_store_level_messages(caplog):
    store = MemoryStore({'chunk_size': '4'})
    with pytest.raises(BadLocation) as info:
        store.head('http://h/x')
    assert str(info.value) == ('Invalid store location: store memory does not serve '
                               'http:// locations')
    with pytest.raises(ValueError) as info:
        store.get('memory://c/x', -1)
    assert str(info.value) == 'offset and length must not be negative'
    oversize = ReadIterator(store, Location.parse('memory://c/x'), lambda size: b'x' * 9,
                            9, lambda: None)
    with pytest.raises(StoreIOError) as info:
        next(oversize)
    assert str(info.value) == ('I/O error in store memory on c/x: the backend returned '
                               'more bytes than asked for')
    with pytest.raises(BadStoreConfiguration) as info:
        FilesystemStore({})
    assert str(info.value) == ("Invalid configuration: option 'filesystem_store_datadir' "
                               "in [store:file]: required")


def test_a_failed_cleanup_is_logged_with_its_reason(caplog, monkeypatch):
    store = MemoryStore({})

    def failing_delete(location):
        raise StoreIOError(store='memory', path='c/x', reason='EIO')

    monkeypatch.setattr(store, '_delete', failing_delete)
    with pytest.raises(StoreIOError):
        store.add('memory://c/x', iter([b'abc']), size=4)
    assert [record.getMessage() for record in caplog.records] == [
        'Could not remove partial object after a failed write: I/O error in store '
        'memory on c/x: EIO']
