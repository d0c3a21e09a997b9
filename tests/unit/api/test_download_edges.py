"""Edges of the download path: exact messages, every store error's translation, the
one log line of a stopped download, and what closing releases."""

import logging

import pytest

from glance.api import download
from glance.common import exception
from glance.store.base import BadLocation, StoreError, StoreUnavailable
from tests.unit.api.memory_store import memory_stores
from tests.unit.api.test_download import SOURCE, _body, _image


@pytest.fixture
def stores():
    return memory_stores(chunk_size=3)


def test_image_chunks_message_and_lenient_records():
    image = {'id': 'i', 'size': 6, 'chunks': [{'location': 'memory://a/1', 'size': 5}]}
    with pytest.raises(exception.UpstreamError) as info:
        download.image_chunks(image)
    assert info.value.message.endswith(
        'image i: the registry records 5 bytes in 1 chunk(s) for an image of 6 bytes')
    assert [c.size for c in download.image_chunks(image, check_size=False)] == [5]
    assert download.image_chunks({'id': 'i', 'size': None, 'chunks': [
        {'location': 'memory://a/1', 'size': None}]})[0].size == 0
    assert download.image_chunks({'id': 'i', 'size': 0, 'chunks': None}) == []


def _failing_head(stores, monkeypatch, error):
    def head(location):
        raise error
    # The backend itself fails (the registry's store is a MeteredStore in front of it).
    monkeypatch.setattr(stores.default_store.store, 'head', head)


@pytest.mark.parametrize('error,translated,message', [
    (StoreUnavailable(store='memory', path='a/1', reason='down'),
     exception.ServiceUnavailable,
     'image img chunk 1 of 5: Store memory unavailable for a/1: down'),
    (StoreError(store='memory', path='a/1', reason='odd'), exception.UpstreamError,
     'image img chunk 1 of 5: Store memory failed on a/1: odd'),
])
def test_verify_chunks_translates_store_errors(stores, monkeypatch, error, translated,
                                               message):
    image = _image(stores)
    _failing_head(stores, monkeypatch, error)
    with pytest.raises(translated) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert type(info.value) is translated
    assert info.value.message.endswith(message)


def test_verify_chunks_exact_change_messages(stores):
    image = _image(stores)
    stores.default_store.objects['images/img-00001'] = b'XY'
    with pytest.raises(exception.UpstreamError) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert info.value.message.endswith(
        'image img chunk 2 of 5 changed in its store: 2 bytes, the registry records 1')
    image = _image(stores)
    stores.default_store.objects['images/img-00001'] = b'Y'
    with pytest.raises(exception.UpstreamError) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert info.value.message.endswith(
        'image img chunk 2 of 5 changed in its store: ETag %s, the registry records %s'
        % (stores.default_store.head('memory://images/img-00001').etag,
           image['chunks'][1]['checksum']))
    bad = download.image_chunks({'id': 'i', 'chunks': [{'location': 'x', 'size': 1}]})
    with pytest.raises(BadLocation) as info:        # 400, like at registration
        download.verify_chunks(stores, 'i', bad)
    assert info.value.message == ('Invalid store location: image i chunk 1 of 1: no '
                                  'scheme in location')
    image = _image(stores)
    del stores.default_store.objects['images/img-00003']
    with pytest.raises(exception.UpstreamError) as info:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert info.value.message == ('Upstream error: image img chunk 4 of 5 is missing '
                                  'from its store')


def test_a_chunk_without_a_recorded_etag_is_checked_by_size_only(stores):
    image = _image(stores)
    image['chunks'][0]['checksum'] = None
    stores.default_store.objects['images/img-00000'] = b'Z' * 100
    assert len(download.verify_chunks(stores, 'img', download.image_chunks(image))) == 5


def test_a_short_chunk_message_and_log_line(stores, caplog):
    image = _image(stores, [5, 5], b'0123456789')
    stores.default_store.objects['images/img-00001'] = b'567'
    caplog.set_level(logging.ERROR, logger='glance.api.download')
    with pytest.raises(exception.UpstreamError) as info:
        b''.join(_body(stores, image).app_iter_range(2, 9))
    assert info.value.message.endswith('image img chunk 2 of 2 ended after 3 of 4 bytes')
    [record] = caplog.records
    assert record.getMessage() == (
        'Download of image img (bytes 2-8) stopped: %s; closing the connection short '
        'of Content-Length' % info.value)


def test_closing_mid_stream_closes_the_open_store_read(stores):
    image = _image(stores)
    closed = []
    store = stores.default_store
    real_open = store._open

    def tracking_open(location, offset, length):
        reader = real_open(location, offset, length)
        real_close = reader.close

        def close():
            closed.append(location.path)
            real_close()
        reader.close = close
        return reader

    store._open = tracking_open
    body = _body(stores, image)
    iterator = iter(body)
    next(iterator)
    body.close()
    body.close()
    assert closed and set(closed) == {'/img-00000'}


def test_a_body_is_iterated_once_and_sized_from_its_chunks(stores):
    body = _body(stores, _image(stores))
    assert body.size == len(SOURCE) and (body.start, body.stop) == (0, len(SOURCE))
    assert iter(body) is iter(body)
    empty = download.ChunkedImageIterable(stores, 'e', [], 4)
    assert empty.size == 0 and list(empty) == []
    empty.close()


def test_a_checksum_mismatch_names_the_image(stores):
    image = _image(stores)
    image['blake3'] = '0' * 64
    with pytest.raises(exception.ChecksumMismatch) as info:
        list(_body(stores, image))
    assert 'img' in info.value.message.replace('blake3', '')
    assert info.value.message.endswith(', expected %s' % ('0' * 64))


def test_one_chunk_is_checked_in_the_callers_green_thread(stores, monkeypatch):
    def no_pool(*args):
        raise AssertionError('a one-chunk image needs no green pool')
    monkeypatch.setattr(download.eventlet, 'GreenPool', no_pool)
    image = _image(stores, [5], b'01234')
    [info] = download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert (info.size, info.etag) == (5, image['chunks'][0]['checksum'])
    stores.default_store.objects['images/img-00000'] = b'0123X'
    with pytest.raises(exception.UpstreamError) as changed:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    del stores.default_store.objects['images/img-00000']
    with pytest.raises(exception.UpstreamError) as missing:
        download.verify_chunks(stores, 'img', download.image_chunks(image))
    assert 'image img chunk 1 of 1 changed in its store: ETag ' in changed.value.message
    assert missing.value.message.endswith('image img chunk 1 of 1 is missing from its '
                                          'store')
