"""Unit tests for the download path: chunk checks, range math and the body iterator.

Images are split into tiny chunks of a :class:`MemoryStore` that reads 3 bytes per
iteration, and bodies are re-blocked to 4 bytes, so every boundary is exercised.
"""

import hashlib

import blake3
import pytest

from glance.api import download
from glance.common import exception, streaming, wsgi
from glance.store import base as store_base
from tests.unit.api.memory_store import memory_stores

SOURCE = bytes(range(256)) * 2 + b'tail!'          # 517 bytes
SIZES = [100, 1, 0, 150, 266]                        # chunk sizes, one empty


@pytest.fixture
def stores():
    return memory_stores(chunk_size=3)


def _image(stores, sizes=SIZES, data=SOURCE):
    store = stores.default_store
    chunks, offset = [], 0
    for index, size in enumerate(sizes):
        part = data[offset:offset + size]
        location = store.put('images/img-%05d' % index, part)
        chunks.append({'location': location, 'size': size,
                       'checksum': hashlib.md5(part).hexdigest()})
        offset += size
    return {'id': 'img', 'size': offset, 'status': 'active', 'chunks': chunks,
            'checksum': hashlib.md5(data).hexdigest(),
            'sha256': hashlib.sha256(data).hexdigest(),
            'blake3': blake3.blake3(data).hexdigest()}


def _body(stores, image, block_size=4):
    return download.ChunkedImageIterable(stores, image['id'],
                                         download.image_chunks(image), block_size,
                                         download.expected_digest(image))


def test_image_chunks_computes_offsets_and_normalises_etags():
    image = {'id': 'i', 'size': 5, 'chunks': [
        {'location': 'memory://a/1', 'size': 2, 'checksum': '"ABC"'},
        {'location': 'memory://a/2', 'size': 3, 'checksum': None}]}
    chunks = download.image_chunks(image)
    assert [(c.index, c.offset, c.end, c.checksum) for c in chunks] == [
        (0, 0, 2, 'abc'), (1, 2, 5, None)]


def test_image_chunks_rejects_sizes_that_do_not_add_up():
    image = {'id': 'i', 'size': 6, 'chunks': [{'location': 'memory://a/1', 'size': 5}]}
    with pytest.raises(exception.UpstreamError) as info:
        download.image_chunks(image)
    assert 'image i' in info.value.message


def test_image_chunks_without_a_chunk_list_names_the_missing_service_identity():
    with pytest.raises(exception.UpstreamError) as info:
        download.image_chunks({'id': 'i', 'size': 5})
    assert 'registry_service_token' in info.value.message
    assert download.image_chunks({'id': 'i', 'size': 0, 'chunks': []}) == []


def test_expected_digest_prefers_blake3_then_sha256_then_md5_then_none():
    image = {'blake3': 'cc', 'sha256': 'aa', 'checksum': 'bb'}
    assert download.expected_digest(image) == ('blake3', 'cc')
    assert download.expected_digest(dict(image, blake3=None)) == ('sha256', 'aa')
    assert download.expected_digest({'sha256': None, 'checksum': 'bb'}) == ('md5', 'bb')
    assert download.expected_digest({}) is None


def _chunks(sizes):
    return download.image_chunks({'id': 'i', 'chunks': [
        {'location': 'memory://a/%d' % n, 'size': size} for n, size in enumerate(sizes)]})


def test_plan_range_inside_one_chunk():
    plan = download.plan_range(_chunks([10, 10]), 12, 15)
    assert [(c.index, off, length) for c, off, length in plan] == [(1, 2, 3)]


def test_plan_range_spanning_three_chunks_skips_empty_ones():
    plan = download.plan_range(_chunks([10, 0, 10, 10]), 5, 25)
    assert [(c.index, off, length) for c, off, length in plan] == [
        (0, 5, 5), (2, 0, 10), (3, 0, 5)]


def test_plan_range_on_exact_chunk_boundaries():
    chunks = _chunks([10, 10, 10])
    assert [(c.index, o, n) for c, o, n in download.plan_range(chunks, 10, 20)] == [
        (1, 0, 10)]
    assert [(c.index, o, n) for c, o, n in download.plan_range(chunks, 9, 11)] == [
        (0, 9, 1), (1, 0, 1)]


def test_plan_range_of_an_empty_range_is_empty():
    assert download.plan_range(_chunks([10]), 4, 4) == []


def test_verify_chunks_accepts_unchanged_chunks(stores):
    image = _image(stores)
    infos = download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert [info.size for info in infos] == SIZES


def test_verify_chunks_names_a_missing_chunk_and_its_position(stores):
    image = _image(stores)
    del stores.default_store.objects['images/img-00003']
    with pytest.raises(exception.UpstreamError) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert 'image img chunk 4 of 5 is missing' in info.value.message


def test_verify_chunks_detects_a_chunk_changed_behind_the_registry(stores):
    image = _image(stores)
    stores.default_store.objects['images/img-00000'] = b'X' * 100
    with pytest.raises(exception.UpstreamError) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert 'image img chunk 1 of 5 changed' in info.value.message
    assert 'ETag' in info.value.message


def test_verify_chunks_detects_a_chunk_of_another_size(stores):
    image = _image(stores)
    stores.default_store.objects['images/img-00001'] = b'XY'
    with pytest.raises(exception.UpstreamError) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert '2 bytes, the registry records 1' in info.value.message


def test_verify_chunks_rejects_a_location_no_store_serves(stores):
    chunks = download.image_chunks({'id': 'i', 'chunks': [
        {'location': 'gopher://x/y', 'size': 1}]})
    with pytest.raises(store_base.BadLocation) as info:
        download.verify_chunks(stores, 'i', chunks)
    assert 'chunk 1 of 1' in info.value.message
    assert wsgi.status_for(info.value) == 400


def test_whole_body_is_the_exact_concatenation(stores):
    body = _body(stores, _image(stores))
    blocks = list(body)
    assert b''.join(blocks) == SOURCE
    assert all(len(block) < 8 for block in blocks)
    body.close()


def test_nothing_is_read_before_iteration(stores):
    body = _body(stores, _image(stores))
    body.app_iter_range(3, 9)
    assert stores.default_store.reads == []
    body.close()


@pytest.mark.parametrize('start,stop', [
    (0, 517), (0, 1), (99, 101), (100, 101), (100, 102), (5, 400), (250, 251),
    (251, 517), (516, 517), (0, 100), (101, 251)])
def test_range_is_byte_exact_and_reads_only_the_needed_chunks(stores, start, stop):
    image = _image(stores)
    ranged = _body(stores, image).app_iter_range(start, stop)
    assert b''.join(ranged) == SOURCE[start:stop]
    reads = stores.default_store.reads
    touched = [c for c in download.image_chunks(image)
               if c.size and c.offset < stop and c.end > start]
    assert len(reads) == len(touched)
    assert sum(length for _, _, length in reads) == stop - start


def test_every_single_range_of_a_small_image_is_exact(stores):
    data = bytes(range(23))
    image = _image(stores, [5, 0, 7, 11], data)
    body = _body(stores, image, block_size=2)
    for start in range(24):
        for stop in range(start, 24):
            assert b''.join(body.app_iter_range(start, stop)) == data[start:stop]


@pytest.mark.parametrize('field,unrecorded,digest', [
    ('blake3', (), lambda data: blake3.blake3(data).hexdigest()),
    ('sha256', ('blake3',), lambda data: hashlib.sha256(data).hexdigest()),
    ('checksum', ('blake3', 'sha256'), lambda data: hashlib.md5(data).hexdigest())])
def test_checksum_mismatch_stops_before_the_last_block(stores, field, unrecorded,
                                                       digest):
    image = _image(stores)
    image.update(dict.fromkeys(unrecorded), **{field: digest(b'not the data')})
    received = bytearray()
    with pytest.raises(exception.ChecksumMismatch):
        for block in _body(stores, image, block_size=64):
            received += block
    assert 0 < len(received) < len(SOURCE)
    assert SOURCE.startswith(bytes(received))


def test_only_blake3_is_checked_when_it_is_recorded(stores):
    image = _image(stores)
    image['sha256'] = hashlib.sha256(b'not the data').hexdigest()
    assert b''.join(_body(stores, image)) == SOURCE


def _learning_body(stores, image, learnt, block_size=4):
    digest, learn = download.digest_plan(image)
    return download.ChunkedImageIterable(
        stores, image['id'], download.image_chunks(image), block_size, digest,
        learnt.append if learn else None)


@pytest.mark.parametrize('recorded', [(), ('sha256',), ('checksum',)])
def test_an_image_without_blake3_learns_it_on_a_full_read(stores, recorded):
    image = _image(stores)
    image.update(blake3=None, **{field: None for field in ('sha256', 'checksum')
                                 if field not in recorded})
    learnt = []
    received = bytearray()
    for block in _learning_body(stores, image, learnt):
        # The digest is recorded before the last block goes out.
        assert not learnt or len(received) + len(block) == len(SOURCE)
        received += block
    assert bytes(received) == SOURCE
    assert learnt == [blake3.blake3(SOURCE).hexdigest()]


def test_no_blake3_is_learnt_from_data_that_fails_its_sha256(stores):
    image = dict(_image(stores), blake3=None,
                 sha256=hashlib.sha256(b'not the data').hexdigest())
    learnt = []
    with pytest.raises(exception.ChecksumMismatch):
        list(_learning_body(stores, image, learnt))
    assert learnt == []


def test_a_range_learns_nothing_and_is_not_verified(stores):
    image = dict(_image(stores), blake3=None)
    learnt = []
    body = _learning_body(stores, image, learnt)
    assert b''.join(body.app_iter_range(10, 200)) == SOURCE[10:200]
    assert learnt == []
    assert download.verified_by(download.expected_digest(image), partial=True) == 'none'


def test_an_image_with_blake3_learns_nothing(stores):
    image = _image(stores)
    assert download.digest_plan(image) == (('blake3', image['blake3']), False)


@pytest.mark.parametrize('image,partial,header', [
    ({'blake3': 'aa', 'sha256': 'bb'}, False, 'blake3'),
    ({'sha256': 'bb', 'checksum': 'cc'}, False, 'sha256'),
    ({'checksum': 'cc'}, False, 'md5'),
    ({}, False, 'none'),
    ({'blake3': 'aa'}, True, 'none')])
def test_the_verified_header_names_what_the_body_is_checked_with(image, partial,
                                                                 header):
    assert download.verified_by(download.expected_digest(image), partial) == header


def test_the_blake3_check_runs_in_a_hashing_thread(stores, monkeypatch):
    started = []
    real = streaming.ThreadedHasher

    def counting(algorithm, *args, **kwargs):
        started.append(algorithm)
        return real(algorithm, *args, **kwargs)

    monkeypatch.setattr(streaming, 'ThreadedHasher', counting)
    assert b''.join(_body(stores, _image(stores))) == SOURCE
    assert started == ['blake3']


def test_store_failure_mid_stream_raises_after_a_short_body(stores, caplog):
    image = _image(stores)
    stores.default_store.fail_read_after = 120
    received = bytearray()
    with pytest.raises(store_base.StoreIOError):
        for block in _body(stores, image):
            received += block
    assert len(received) < len(SOURCE)
    assert 'closing the connection short' in caplog.text
    assert caplog.text.count('Download of image img') == 1


def test_close_mid_stream_releases_the_store_read(stores):
    image = _image(stores)
    body = _body(stores, image)
    iterator = iter(body)
    next(iterator)
    body.close()
    with pytest.raises(StopIteration):
        next(iterator)


def test_chunk_shorter_than_recorded_is_an_error(stores):
    image = _image(stores, [5, 5], b'0123456789')
    stores.default_store.objects['images/img-00001'] = b'567'
    with pytest.raises(exception.UpstreamError) as info:
        b''.join(_body(stores, image))
    assert 'chunk 2 of 2' in info.value.message
