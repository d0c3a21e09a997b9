"""Unit tests of the image cache: index (cap, LRU, restart), fills and the layer.

Images live in the in-memory test store, read 3 bytes at a time and sent in 4-byte
blocks, so fills cross every boundary; the cache itself works on a real temporary
directory.
"""

import hashlib
import os

import eventlet
import blake3
import pytest

from glance.api import download
from glance.api.cache import index as cache_index
from glance.api.cache import serve
from glance.common import exception, metrics
from tests.unit.api.memory_store import memory_stores

DATA = bytes(range(256)) * 3 + b'end'


@pytest.fixture
def stores():
    return memory_stores(chunk_size=3)


def _image(stores, image_id='img', data=DATA, **digests):
    location = stores.default_store.put('images/' + image_id, data)
    record = {'id': image_id, 'uri': 'http://registry/images/' + image_id,
              'size': len(data), 'status': 'active',
              'chunks': [{'location': location, 'size': len(data),
                          'checksum': hashlib.md5(data).hexdigest()}]}
    record.update(digests or {'blake3': blake3.blake3(data).hexdigest()})
    return record


def _cache(tmp_path, max_size=10000):
    return serve.ImageCache(serve.CacheOptions(directory=str(tmp_path / 'cache'),
                                               max_size=max_size), block_size=4)


def _download(cache, stores, image):
    body = cache.body(image, {}, lambda: download.open_image(stores, image, 4))
    try:
        return b''.join(body)
    finally:
        body.close()


def _counts():
    """The cache's (hits, misses, evictions) counters of this process so far."""
    return tuple(metrics.REGISTRY.get_sample_value('glance_cache_%s_total' % name) or 0
                 for name in ('hits', 'misses', 'evictions'))


def _counted_since(before):
    return tuple(now - then for now, then in zip(_counts(), before))


def _settle(cache):
    for fill in list(cache.fills.values()):
        fill.thread.wait()


def test_a_miss_fills_then_hits_without_reading_the_store(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    before = _counts()
    assert _download(cache, stores, image) == DATA
    _settle(cache)
    assert _counted_since(before) == (0, 1, 0)
    reads = len(stores.default_store.reads)
    hit = cache.body(image, {}, None)
    assert isinstance(hit, serve.HitBody)
    hit.close()
    assert _download(cache, stores, image) == DATA
    assert len(stores.default_store.reads) == reads
    assert cache.index.get('img').hits == 2
    assert _counted_since(before) == (2, 1, 0)


def test_a_hit_serves_ranges(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    _download(cache, stores, image)
    _settle(cache)
    body = cache.body(image, {}, None).app_iter_range(5, 600)
    assert b''.join(body) == DATA[5:600]
    body.close()


def test_readers_joining_a_fill_share_one_store_read(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    bodies = [cache.body(image, {}, lambda: download.open_image(stores, image, 4))
              for _ in range(5)]
    results = list(eventlet.GreenPool().imap(lambda body: b''.join(body), bodies))
    assert results == [DATA] * 5
    assert len(stores.default_store.reads) == 1


def test_a_request_joining_a_fill_in_progress_counts_as_a_hit(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    before = _counts()
    first = cache.body(image, {}, lambda: download.open_image(stores, image, 4))
    blocks = iter(first)
    assert next(blocks) == DATA[:4]
    joined = cache.body(image, {}, None)
    assert b''.join(joined) == DATA
    assert DATA[:4] + b''.join(blocks) == DATA
    first.close()
    joined.close()
    assert _counted_since(before) == (1, 1, 0)


def test_a_digest_mismatch_leaves_nothing(tmp_path, stores):
    cache = _cache(tmp_path)
    image = _image(stores, blake3='0' * 64)
    with pytest.raises(exception.UpstreamError) as info:
        _download(cache, stores, image)
    assert 'Checksum mismatch' in info.value.message
    _settle(cache)
    assert cache.index.get('img') is None
    assert os.listdir(cache.index.incomplete_dir) == []
    assert cache.index.reserved == 0


def test_a_changed_image_drops_its_entry(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    _download(cache, stores, image)
    _settle(cache)
    changed = _image(stores, data=DATA[::-1])
    assert _download(cache, stores, changed) == DATA[::-1]
    _settle(cache)
    assert cache.index.get('img').digest == changed['blake3']


def test_an_image_without_digest_is_not_cached(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    del image['blake3']
    image['checksum'] = None
    before = _counts()
    assert _download(cache, stores, image) == DATA
    assert cache.index.get('img') is None and not cache.fills
    assert _counted_since(before) == (0, 1, 0)


def test_reserve_evicts_least_recently_used(tmp_path, stores):
    cache = _cache(tmp_path, max_size=2 * len(DATA) + 10)
    images = [_image(stores, name) for name in ('a', 'b', 'c')]
    for image in images[:2]:
        _download(cache, stores, image)
        _settle(cache)
    cache.index.touch(cache.index.get('a'))
    before = _counts()
    _download(cache, stores, images[2])
    _settle(cache)
    assert sorted(cache.index.entries) == ['a', 'c']
    assert _counted_since(before) == (0, 1, 1)


def test_reserve_refuses_what_cannot_fit(tmp_path):
    index = cache_index.CacheIndex(str(tmp_path), 100)
    assert not index.reserve(101)
    assert index.reserve(60)
    assert not index.reserve(60)
    index.release(60)
    assert index.reserve(100)


def test_load_drops_stale_orphaned_and_changed_files(tmp_path, stores):
    cache, image = _cache(tmp_path), _image(stores)
    _download(cache, stores, image)
    _settle(cache)
    directory = cache.index.directory
    cache.index._lock.close()
    for name in ('incomplete/img.dead', 'images/orphan'):
        with open(os.path.join(directory, name), 'wb') as junk:
            junk.write(b'junk')
    reloaded = cache_index.CacheIndex(directory, 10000)
    assert list(reloaded.entries) == ['img']
    assert sorted(os.listdir(reloaded.images_dir)) == ['img', 'img.json']
    assert os.listdir(reloaded.incomplete_dir) == []
    reloaded._lock.close()
    with open(reloaded.data_path('img'), 'ab') as data:
        data.write(b'!')
    assert cache_index.CacheIndex(directory, 10000).entries == {}


def test_a_directory_serves_one_process_only(tmp_path):
    first = cache_index.CacheIndex(str(tmp_path), 100)
    with pytest.raises(exception.ConfigError) as info:
        cache_index.CacheIndex(str(tmp_path), 100)
    assert 'image_cache_dir' in str(info.value)
    first._lock.close()


def test_the_queue_takes_only_file_name_safe_ids(tmp_path):
    index = cache_index.CacheIndex(str(tmp_path), 100)
    for bad in ('../escape', '', '.hidden', 'x.json'):
        with pytest.raises(ValueError):
            index.enqueue(bad)
    index.enqueue('abc')
    assert [image_id for image_id, _ in index.queued()] == ['abc']
    assert index.dequeue('abc') and not index.dequeue('abc')


def test_reserve_refuses_when_the_disk_lacks_space(tmp_path, monkeypatch):
    index = cache_index.CacheIndex(str(tmp_path), 10 ** 12)
    usage = cache_index.shutil.disk_usage(str(tmp_path))
    monkeypatch.setattr(cache_index.shutil, 'disk_usage', lambda path: usage._replace(
        free=cache_index.DISK_MARGIN + 1000))
    assert index.reserve(1000)
    assert not index.reserve(1)
