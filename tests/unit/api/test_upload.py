"""Unit tests for the upload path: splitting, hashing, limits and clean-up."""

import hashlib
import io
import os

import blake3
import pytest

from glance.api import upload
from glance.common import exception
from glance.store.base import StoreIOError
from glance.store import filesystem
from glance.store.filesystem import FilesystemStore
from tests.unit.api.memory_store import memory_stores

DATA = bytes(range(256)) * 4 + b'end'               # 1027 bytes


@pytest.fixture
def store():
    return memory_stores().default_store


def _upload(store, chunk_size=100, block_size=7, size_cap=None):
    return upload.ImageUpload(store, 'img', chunk_size, block_size, size_cap)


def test_body_is_split_into_chunks_of_store_chunk_size(store):
    writer = _upload(store)
    writer.write(io.BytesIO(DATA), len(DATA))
    assert [c['size'] for c in writer.chunks] == [100] * 10 + [27]
    assert writer.chunks[0]['location'] == 'memory://images/img-00000'
    rebuilt = b''.join(store.objects['images/img-%05d' % n] for n in range(11))
    assert rebuilt == DATA


def test_chunk_etags_and_whole_image_checksums_are_recorded(store):
    writer = _upload(store, chunk_size=512)
    writer.write(io.BytesIO(DATA))
    assert writer.size == len(DATA)
    assert writer.checksum == hashlib.md5(DATA).hexdigest()
    assert writer.sha256 == hashlib.sha256(DATA).hexdigest()
    assert writer.blake3 == blake3.blake3(DATA).hexdigest()
    assert writer.chunks[1]['checksum'] == hashlib.md5(DATA[512:1024]).hexdigest()


def test_exact_multiple_of_chunk_size_leaves_no_empty_chunk(store):
    writer = _upload(store, chunk_size=10, block_size=4)
    writer.write(io.BytesIO(b'x' * 30), 30)
    assert [c['size'] for c in writer.chunks] == [10, 10, 10]


def test_empty_body_makes_an_empty_image(store):
    writer = _upload(store)
    writer.write(io.BytesIO(b''), 0)
    assert writer.chunks == [] and writer.size == 0
    assert writer.sha256 == hashlib.sha256(b'').hexdigest()
    assert writer.blake3 == blake3.blake3(b'').hexdigest()


def test_declared_length_over_the_cap_is_refused_before_reading(store):
    body = io.BytesIO(DATA)
    with pytest.raises(exception.RequestTooLarge):
        _upload(store, size_cap=1000).write(body, len(DATA))
    assert body.tell() == 0 and store.objects == {}


def test_chunked_body_over_the_cap_fails_and_discard_leaves_nothing(store):
    writer = _upload(store, size_cap=1000)
    with pytest.raises(exception.RequestTooLarge):
        writer.write(io.BytesIO(DATA))
    assert len(writer.chunks) == 10
    writer.discard()
    assert store.objects == {}


def test_body_shorter_than_content_length_is_invalid(store):
    writer = _upload(store)
    with pytest.raises(exception.Invalid) as info:
        writer.write(io.BytesIO(DATA[:500]), len(DATA))
    assert 'Content-Length' in info.value.message


def test_store_failure_mid_upload_removes_the_partial_object(store):
    store.fail_write_after = 250
    writer = _upload(store)
    with pytest.raises(StoreIOError):
        writer.write(io.BytesIO(DATA), len(DATA))
    assert len(writer.chunks) == 2
    writer.discard()
    assert store.objects == {}


def test_client_disconnect_is_invalid_and_cleanable(store):
    class Dropped:
        def __init__(self):
            self.body = io.BytesIO(DATA[:250])

        def read(self, size):
            data = self.body.read(size)
            if not data:
                raise OSError('connection reset by peer')
            return data

    writer = _upload(store)
    with pytest.raises(exception.Invalid):
        writer.write(Dropped())
    writer.discard()
    assert store.objects == {}


def test_a_store_that_keeps_fewer_bytes_than_sent_fails_the_upload(store):
    store.lose_bytes = 1
    writer = _upload(store)
    with pytest.raises(StoreIOError, match='stored 99 bytes of the 100 sent'):
        writer.write(io.BytesIO(DATA), len(DATA))
    assert [c['size'] for c in writer.chunks] == [99]
    writer.discard()
    assert store.objects == {}


def test_failure_messages_name_the_sizes(store):
    with pytest.raises(exception.RequestTooLarge) as info:
        _upload(store, size_cap=1000).write(io.BytesIO(DATA), len(DATA))
    assert info.value.message == ('Request entity too large: Content-Length 1027 is '
                                  'over image_size_cap (1000 bytes)')
    with pytest.raises(exception.Invalid) as info:
        _upload(store).write(io.BytesIO(DATA[:500]), len(DATA))
    assert info.value.message == ('Invalid input: the body held 500 bytes but '
                                  'Content-Length declared 1027')
    store.lose_bytes = 1
    with pytest.raises(StoreIOError) as info:
        _upload(store).write(io.BytesIO(DATA), len(DATA))
    assert info.value.message == ('I/O error in store memory on memory://images/'
                                  'img-00000: stored 99 bytes of the 100 sent')


def test_an_image_exactly_at_the_cap_is_accepted(store):
    writer = _upload(store, size_cap=len(DATA))
    writer.write(io.BytesIO(DATA), len(DATA))
    assert writer.size == len(DATA)


def test_a_failed_upload_records_no_digests(store):
    writer = _upload(store)
    with pytest.raises(exception.Invalid):
        writer.write(io.BytesIO(DATA[:500]), len(DATA))
    assert (writer.checksum, writer.sha256, writer.blake3) == (None, None, None)
    assert writer.size == 500


def test_discard_deletes_what_it_can_and_logs_what_it_cannot(store, monkeypatch,
                                                            caplog):
    writer = _upload(store)
    writer.write(io.BytesIO(DATA[:300]), 300)
    locations = [chunk['location'] for chunk in writer.chunks]
    store.delete(locations[0])                      # already gone: not an error
    backend = store.store                           # the MemoryStore behind the metering
    real_delete = backend.delete

    def delete(location):
        if location == locations[1]:
            raise StoreIOError(store='memory', path='images/img-00001', reason='EIO')
        real_delete(location)

    monkeypatch.setattr(backend, 'delete', delete)
    writer.discard()
    assert writer.chunks == []
    assert list(store.objects) == ['images/img-00001']
    [record] = caplog.records
    assert record.getMessage() == (
        'Image img: could not delete chunk %s after a failed upload: I/O error in '
        'store memory on images/img-00001: EIO' % locations[1])


BLOCK = 4096


@pytest.mark.parametrize('size', [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 7])
def test_the_threaded_digests_and_the_files_match_hashlib_on_random_data(tmp_path,
                                                                         size):
    data = os.urandom(size)
    store = FilesystemStore({'filesystem_store_datadir': str(tmp_path)})
    writer = upload.ImageUpload(store, 'img', 2 * BLOCK, BLOCK)
    writer.write(io.BytesIO(data), size)
    assert writer.size == size
    assert writer.checksum == hashlib.md5(data).hexdigest()
    assert writer.sha256 == hashlib.sha256(data).hexdigest()
    assert writer.blake3 == blake3.blake3(data).hexdigest()
    stored = b''.join((tmp_path / ('img-%05d' % n)).read_bytes()
                      for n in range(len(writer.chunks)))
    assert stored == data
    assert [c['size'] for c in writer.chunks] == [
        min(2 * BLOCK, size - start) for start in range(0, size, 2 * BLOCK)]


def test_a_disk_write_failing_in_the_second_object_is_cleaned_up(tmp_path,
                                                                  monkeypatch):
    real, written = filesystem._write_all, []

    def full_after_three_blocks(fd, data):
        if len(written) == 3:
            raise OSError(28, 'No space left on device')
        written.append(len(data))
        real(fd, data)

    monkeypatch.setattr(filesystem, '_write_all', full_after_three_blocks)
    monkeypatch.setattr(filesystem, 'DIRECT_BUFFER', BLOCK)
    store = FilesystemStore({'filesystem_store_datadir': str(tmp_path)})
    writer = upload.ImageUpload(store, 'img', 2 * BLOCK, BLOCK)
    with pytest.raises(StoreIOError, match='No space left on device'):
        writer.write(io.BytesIO(os.urandom(6 * BLOCK)), 6 * BLOCK)
    assert os.listdir(tmp_path) == ['img-00000']
    writer.discard()
    assert os.listdir(tmp_path) == []
    assert writer.checksum is None
