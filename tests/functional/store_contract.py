"""The one conformance suite every store passes, run against the real service.

In the pattern of distribution's storage-driver ``testsuites``: a store's test module
subclasses :class:`ReadableStoreContract` (read-only stores) or
:class:`WritableStoreContract` and provides two fixtures:

``store``
    the store under test, configured with ``chunk_size = CHUNK`` (a tiny size, so
    every chunk boundary is crossed) and a container/bucket/folder of its own;
``listing``
    a callable returning the names still present in that container/bucket/folder
    (including in-progress uploads or temp files);
``broken_reader``
    a callable ``broken_reader(location)`` returning ``store.get(location)`` (of the
    store or a twin of it) whose backend will fail part way through the object: the
    service's connection is reset by a :class:`~tests.functional.relay.Relay`, or
    the file shrinks under the open read. See :func:`relayed_reader`.

Read-only stores also override :meth:`ReadableStoreContract.put` and
:meth:`ReadableStoreContract.remove` to place objects by other means. After every
test the listing must be empty, like distribution's ``TearDownTest``: a test removes
what it creates, and a failed ``add`` must leave nothing behind.
"""

import hashlib
import uuid

import pytest

from glance.store.base import ObjectNotFound, StoreIOError, StoreReadOnly
from tests.data import random_bytes as payload

CHUNK = 7
SIZES = (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 2)
BIG = 3 * CHUNK + 2
#: Size of the object read in the mid-stream failure case, and how many bytes of the
#: service's answer get through before its connection is reset.
MID_STREAM_SIZE = 256 * 1024
BREAK_AFTER = 32 * 1024


class ClientGone(Exception):
    """Raised by a test's chunk iterator: the uploading client went away."""


class ClientReset(ConnectionResetError):
    """Like :class:`ClientGone`, but an OSError, which HTTP client libraries wrap."""


def pieces(data, size):
    """Split ``data`` into chunks of ``size`` bytes (an iterator, as uploads arrive)."""
    return iter([data[i:i + size] for i in range(0, len(data), size)])


def relayed_reader(relay, store, relay_location=lambda location: location):
    """Build a ``broken_reader`` for a store that reaches its service through ``relay``.

    :param relay: the :class:`~tests.functional.relay.Relay` in front of the service.
    :param store: a store configured to talk to the relay.
    :param relay_location: maps a location to the one read through the relay (for
        stores whose locations name the server, like http).
    """
    def open_broken(location):
        relay.break_after(BREAK_AFTER)
        return store.get(relay_location(location))
    return open_broken


def read_all(store, location, offset=0, length=None):
    """Read through ``store.get`` and check that no chunk exceeds ``chunk_size``."""
    chunks = list(store.get(location, offset, length))
    assert all(0 < len(chunk) <= store.chunk_size for chunk in chunks)
    return b''.join(chunks)


class ReadableStoreContract:
    """head/get/range/not-found behaviour that every store shares."""

    @pytest.fixture(autouse=True)
    def _store_ends_empty(self, store, listing):
        yield
        assert listing() == []

    @pytest.fixture
    def name(self):
        """A fresh object name for one test."""
        return 'contract-%s' % uuid.uuid4().hex[:12]

    def put(self, store, name, data, piece_size=5):
        """Create an object holding ``data`` (sent in pieces); return its location."""
        return store.add(store.location_for(name, 0), pieces(data, piece_size)).location

    def remove(self, store, location):
        """Remove an object created by :meth:`put`."""
        store.delete(location)

    @pytest.fixture
    def make_object(self, store, name):
        """Factory ``make_object(data, suffix='')`` → location; removed afterwards."""
        created = []

        def make(data, suffix=''):
            location = self.put(store, name + suffix, data)
            created.append(location)
            return location

        yield make
        for location in dict.fromkeys(created):
            self.remove(store, location)

    @pytest.mark.parametrize('size', SIZES)
    def test_head_reports_size_and_a_normalised_etag(self, store, make_object, size):
        location = make_object(payload(size))
        info = store.head(location)
        assert info.location == location
        assert info.size == size
        assert info.etag and info.etag == info.etag.strip('"').lower()

    @pytest.mark.parametrize('size', SIZES)
    def test_get_returns_whole_object_in_bounded_chunks(self, store, make_object, size):
        data = payload(size, seed=size)
        assert read_all(store, make_object(data)) == data

    @pytest.mark.parametrize('offset,length', [
        (0, 1), (0, CHUNK), (CHUNK - 1, 2), (CHUNK, CHUNK), (CHUNK + 1, None),
        (1, BIG - 2), (BIG - 1, None), (BIG - 1, 1), (0, None), (0, BIG),
    ])
    def test_range_returns_exact_bytes(self, store, make_object, offset, length):
        data = payload(BIG, seed=1)
        end = BIG if length is None else offset + length
        assert read_all(store, make_object(data), offset, length) == data[offset:end]

    @pytest.mark.parametrize('offset,length', [(5, 1000), (BIG, None), (BIG + 10, None),
                                               (BIG + 10, 5), (3, 0)])
    def test_range_past_the_end_is_cut_at_the_end(self, store, make_object,
                                                  offset, length):
        data = payload(BIG, seed=2)
        end = None if length is None else offset + length
        assert read_all(store, make_object(data), offset, length) == data[offset:end]

    def test_stopping_early_and_closing_twice_is_allowed(self, store, make_object):
        reader = store.get(make_object(payload(BIG)))
        assert len(next(reader)) == CHUNK
        reader.close()
        reader.close()

    def test_a_backend_failing_mid_stream_raises_store_io_error(self, store, name,
                                                                 broken_reader):
        data = payload(MID_STREAM_SIZE, seed=12)
        location = self.put(store, name, data, piece_size=64 * 1024)
        received = bytearray()
        try:
            reader = broken_reader(location)
            try:
                with pytest.raises(StoreIOError):
                    for chunk in reader:
                        received += chunk
            finally:
                reader.close()
        finally:
            self.remove(store, location)
        assert 0 < len(received) < len(data)
        assert data.startswith(received)

    def test_head_of_a_missing_object_raises_not_found(self, store, make_object):
        location = make_object(b'x')
        missing = location + '-missing'
        with pytest.raises(ObjectNotFound) as caught:
            store.head(missing)
        assert store.name in str(caught.value)

    @pytest.mark.parametrize('offset,length', [(0, None), (2, 3), (0, 0)])
    def test_get_of_a_missing_object_raises_not_found(self, store, make_object, offset,
                                                      length):
        missing = make_object(b'x') + '-missing'
        with pytest.raises(ObjectNotFound):
            store.get(missing, offset, length)

    def test_etag_changes_when_content_changes(self, store, make_object):
        first = store.head(make_object(payload(BIG, seed=3)))
        second = store.head(make_object(payload(BIG + 1, seed=4)))
        assert first.location == second.location
        assert first.etag != second.etag


class WritableStoreContract(ReadableStoreContract):
    """add/delete behaviour of stores that Teller writes to."""

    def test_add_returns_what_head_reports(self, store, name):
        data = payload(BIG, seed=5)
        location = store.location_for(name, 3)
        info = store.add(location, pieces(data, 4), size=BIG)
        try:
            assert info.location == location
            assert location.endswith('/%s-00003' % name)
            assert info.size == BIG
            head = store.head(location)
            assert (head.size, head.etag) == (info.size, info.etag)
            assert read_all(store, location) == data
        finally:
            store.delete(location)

    def test_add_of_an_empty_iterable_creates_an_empty_object(self, store, make_object):
        location = make_object(b'')
        assert store.head(location).size == 0
        assert read_all(store, location) == b''

    def test_adding_twice_replaces_the_object(self, store, make_object):
        make_object(payload(BIG, seed=6))
        location = make_object(b'new content')
        assert read_all(store, location) == b'new content'

    @pytest.mark.parametrize('error', [ClientGone, ClientReset])
    def test_failing_iterator_propagates_its_error_and_leaves_nothing(self, store, name,
                                                                      error):
        def chunks():
            yield payload(BIG)
            yield payload(CHUNK)
            raise error('client disconnected')

        location = store.location_for(name, 0)
        with pytest.raises(error):
            store.add(location, chunks())
        with pytest.raises(ObjectNotFound):
            store.head(location)

    def test_failed_add_over_an_existing_object_leaves_nothing(self, store, name):
        # Teller only writes fresh names; the rule is simply that a failed add leaves
        # no object at its location, never a half-replaced one.
        location = self.put(store, name, b'old content')

        def chunks():
            yield b'partial'
            raise ClientGone('client disconnected')

        with pytest.raises(ClientGone):
            store.add(location, chunks())
        with pytest.raises(ObjectNotFound):
            store.head(location)

    def test_size_mismatch_raises_and_leaves_nothing(self, store, name):
        location = store.location_for(name, 0)
        with pytest.raises(StoreIOError):
            store.add(location, pieces(payload(BIG), 5), size=BIG + 1)
        with pytest.raises(ObjectNotFound):
            store.head(location)

    def test_add_reports_the_etag_that_head_reports(self, store, name):
        data = payload(BIG, seed=7)
        location = store.location_for(name, 0)
        info = store.add(location, pieces(data, 3))
        try:
            assert store.head(location).etag == info.etag
            assert info.etag == self.expected_etag(location, data)
        finally:
            store.delete(location)

    def expected_etag(self, location, data):
        """What the store's ETag should be for ``data`` stored at ``location``: its
        md5, unless overridden by a store whose ETag is not a content hash (the
        override computes it independently of the store, never from its answer)."""
        return hashlib.md5(data).hexdigest()

    def test_delete_removes_the_object(self, store, name):
        location = store.add(store.location_for(name, 1), pieces(b'bye', 2)).location
        store.delete(location)
        with pytest.raises(ObjectNotFound):
            store.head(location)
        with pytest.raises(ObjectNotFound):
            store.get(location)

    def test_delete_of_a_missing_object_raises_not_found(self, store, name):
        with pytest.raises(ObjectNotFound):
            store.delete(store.location_for(name, 0))


class ReadOnlyStoreContract(ReadableStoreContract):
    """What a read-only store refuses."""

    def test_add_delete_and_location_for_raise_read_only(self, store, make_object):
        location = make_object(b'data')
        with pytest.raises(StoreReadOnly):
            store.add(location, iter([b'x']))
        with pytest.raises(StoreReadOnly):
            store.delete(location)
        with pytest.raises(StoreReadOnly):
            store.location_for('image', 0)
        assert read_all(store, location) == b'data'
