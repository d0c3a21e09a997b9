"""The Store base class's contract with its subclasses: what a writable store that
forgets a hook gets told, and the messages of the base's own checks."""

import pytest

from glance.store.base import (Location, ObjectInfo, ReadIterator, SourceReader, Store,
                               StoreIOError, StoreReadOnly)
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
