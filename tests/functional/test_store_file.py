"""The file store against a real filesystem: the contract suite plus file specifics."""

import hashlib
import os

import pytest

from glance.store.base import BadLocation, StoreIOError
from glance.store.filesystem import FilesystemStore
from tests.functional.store_contract import (CHUNK, WritableStoreContract, payload,
                                             read_all)


class TestFilesystemStore(WritableStoreContract):

    @pytest.fixture
    def datadir(self, tmp_path):
        return tmp_path / 'images'

    @pytest.fixture
    def store(self, datadir):
        return FilesystemStore({'filesystem_store_datadir': str(datadir),
                                'chunk_size': str(CHUNK)})

    @pytest.fixture
    def listing(self, datadir):
        return lambda: sorted(os.listdir(datadir)) if datadir.exists() else []

    def expected_etag(self, location, data):
        # The file ETag is a hash of (device, inode, size, mtime), not of the content:
        # computed here from the file's own stat, independently of the store.
        st = os.stat(location[len('file://'):])
        assert st.st_size == len(data)
        token = '%d:%d:%d:%d' % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        return hashlib.blake2b(token.encode('ascii'), digest_size=16).hexdigest()

    def test_etag_changes_on_an_in_place_edit_of_the_same_size(self, store,
                                                               make_object):
        location = make_object(b'abcdef')
        before = store.head(location)
        path = location[len('file://'):]
        stat = os.stat(path)
        with open(path, 'r+b') as handle:
            handle.write(b'ABCDEF')
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
        assert store.head(location).etag != before.etag

    @pytest.fixture
    def broken_reader(self, store):
        def open_broken(location):
            reader = store.get(location)
            os.truncate(location[len('file://'):], 2 * CHUNK)
            return reader
        return open_broken

    def test_file_truncated_while_reading_raises_store_io_error(self, store,
                                                                make_object):
        location = make_object(payload(10 * CHUNK))
        reader = store.get(location)
        assert len(next(reader)) == CHUNK
        os.truncate(location[len('file://'):], 2 * CHUNK)
        with pytest.raises(StoreIOError, match='short read: got 14 of 70 bytes'):
            list(reader)

    @pytest.mark.parametrize('template', [
        'file:///etc/hostname', 'file://{datadir}/../escape', 'file://{datadir}',
        'file://otherhost{datadir}/x', 'file://{datadir}/x?version=2',
    ])
    def test_locations_outside_the_data_directory_are_refused(self, store, datadir,
                                                              template):
        location = template.format(datadir=datadir)
        with pytest.raises(BadLocation):
            store.head(location)
        with pytest.raises(BadLocation):
            store.add(location, iter([b'x']))

    def test_add_creates_the_data_directory_and_leaves_no_temp_file(self, store, datadir,
                                                                    name):
        location = store.add(store.location_for(name, 0), iter([b'ab', b'cd'])).location
        try:
            assert os.listdir(datadir) == ['%s-00000' % name]
            assert read_all(store, location) == b'abcd'
        finally:
            store.delete(location)
