"""Unit tests for the zero-copy download path: file-store chunks sent with sendfile.

An image is split over real files of a :class:`FilesystemStore` in ``tmp_path``.
The body is served the way eventlet serves it (byte blocks written to the socket,
:class:`~glance.common.sendfile.SentOutOfBand` markers skipped) to one end of a
socket pair, whose other end a thread reads: what that thread receives is what a
client would.
"""

import logging
import os
import socket
import threading

import blake3
import pytest

from glance.api import download
from glance.common import exception, sendfile
from glance.store import StoreRegistry
from tests.data import rot_silently
from tests.unit.api.memory_store import memory_stores

KIB = 1024
# Chunk sizes around the first block and the held-back end, one empty chunk.
SIZES = [100 * KIB + 3, 1, 0, 200 * KIB + 7]
DATA = os.urandom(sum(SIZES))


@pytest.fixture
def file_stores(tmp_path):
    datadir = tmp_path / 'images'
    datadir.mkdir()
    conf = tmp_path / 'glance-api.conf'
    conf.write_text('[store:file]\nfilesystem_store_datadir = %s\nchunk_size = 4096\n'
                    % datadir)
    return StoreRegistry({'enabled_stores': 'file', 'default_store': 'file',
                          'config_file': str(conf)})


def _image(stores, data=DATA, sizes=SIZES, **digests):
    store = stores.default_store
    chunks, offset = [], 0
    for index, size in enumerate(sizes):
        info = store.add(store.location_for('img', index), [data[offset:offset + size]])
        chunks.append({'location': info.location, 'size': size, 'checksum': info.etag})
        offset += size
    image = {'id': 'img', 'size': offset, 'status': 'active', 'chunks': chunks,
             'blake3': blake3.blake3(data).hexdigest()}
    image.update(digests)
    return image


def _path(image, index):
    return image['chunks'][index]['location'][len('file://'):]


def _serve(make_body, on_first_block=None):
    """Serve ``make_body(sock)`` over a socket pair.

    :returns: ``(bytes received, bytes sent zero-copy, exception raised or None)``.
    """
    server, client = socket.socketpair()
    received = bytearray()

    def read():
        while True:
            data = client.recv(1024 * 1024)
            if not data:
                return
            received.extend(data)

    reader = threading.Thread(target=read)
    reader.start()
    body = make_body(server)
    zero_copy, error = 0, None
    try:
        for number, block in enumerate(body):
            zero_copy += getattr(block, 'length', 0)
            if block:
                server.sendall(block)
            if number == 0 and on_first_block is not None:
                on_first_block()
    except (exception.GlanceException, sendfile.ShortFile) as err:
        error = err
    finally:
        body.close()
        server.close()
        reader.join()
        client.close()
    return bytes(received), zero_copy, error


def _opener(stores, image, **kwargs):
    return lambda sock: download.open_image(stores, image, 64 * KIB, sock=sock,
                                            **kwargs)


def test_a_file_store_image_is_sent_zero_copy_verified_and_intact(file_stores):
    image = _image(file_stores)
    received, zero_copy, error = _serve(_opener(file_stores, image))
    assert error is None
    assert received == DATA
    # All but the first block and the held-back end went out by sendfile.
    assert zero_copy == len(DATA) - sendfile.FIRST_BLOCK - sendfile.HELD_BACK


def test_a_corrupted_chunk_ends_the_zero_copy_body_short_and_is_logged_once(
        file_stores, caplog):
    image = _image(file_stores)
    rot_silently(_path(image, 3), 5000)
    with caplog.at_level(logging.ERROR, logger='glance.api.download'):
        received, zero_copy, error = _serve(_opener(file_stores, image))
    assert isinstance(error, exception.ChecksumMismatch)
    assert 'blake3 of the streamed data' in error.message
    assert zero_copy > 0
    assert len(received) == len(DATA) - sendfile.HELD_BACK
    assert len([r for r in caplog.records if 'stopped' in r.getMessage()]) == 1


def test_a_chunk_changed_during_the_send_ends_the_body_short(file_stores):
    image = _image(file_stores)
    path = _path(image, 0)

    def rewrite_same_bytes():
        # The content stays the same (the digest would match); only the identity
        # of the file changes, which is enough to refuse vouching for what was sent.
        before = os.stat(path)
        with open(path, 'r+b') as chunk:
            chunk.write(DATA[:10])
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10 ** 9))

    received, zero_copy, error = _serve(_opener(file_stores, image),
                                        on_first_block=rewrite_same_bytes)
    assert isinstance(error, exception.ChecksumMismatch)
    assert 'changed while it was sent' in error.message
    assert zero_copy > 0 and len(received) < len(DATA)


def test_a_chunk_shorter_than_recorded_fails_before_any_byte(file_stores):
    image = _image(file_stores)
    os.truncate(_path(image, 3), 10)
    # Shortened after the chunk checks: the body is built without them.
    received, zero_copy, error = _serve(lambda sock: download.ChunkedImageIterable(
        file_stores, 'img', download.image_chunks(image), 64 * KIB,
        download.expected_digest(image), sock=sock))
    assert isinstance(error, exception.UpstreamError)
    assert 'chunk 4 of 4 is shorter' in error.message
    assert received == b'' and zero_copy == 0


@pytest.mark.parametrize('start, stop', [(0, len(DATA)), (5, 100 * KIB + 10),
                                         (100 * KIB + 3, 100 * KIB + 4),
                                         (70 * KIB, len(DATA) - 1)])
def test_ranges_are_sent_zero_copy_byte_exact(file_stores, start, stop):
    image = _image(file_stores)
    received, _, error = _serve(
        lambda sock: _opener(file_stores, image)(sock).app_iter_range(start, stop))
    assert error is None
    assert received == DATA[start:stop]


def test_a_range_is_not_checked_against_the_whole_image_digest(file_stores):
    image = _image(file_stores, blake3=blake3.blake3(b'other').hexdigest())
    received, zero_copy, error = _serve(
        lambda sock: _opener(file_stores, image)(sock).app_iter_range(0, len(DATA)))
    assert error is None and received == DATA and zero_copy > 0


def test_without_a_plain_socket_tls_the_body_is_read_and_still_verified(file_stores):
    image = _image(file_stores)
    assert sendfile.client_socket({'wsgi.url_scheme': 'https'}) is None
    body = download.open_image(file_stores, image, 64 * KIB, sock=None)
    blocks = list(body)
    assert b''.join(blocks) == DATA
    assert not any(isinstance(block, sendfile.SentOutOfBand) for block in blocks)
    rot_silently(_path(image, 3), 0)
    with pytest.raises(exception.ChecksumMismatch):
        b''.join(download.open_image(file_stores, image, 64 * KIB, sock=None))


def test_a_store_without_local_files_is_read_even_with_a_socket():
    stores = memory_stores(chunk_size=1000)
    store = stores.default_store
    data = DATA[:3000]
    location = store.put('images/m-00000', data)
    image = {'id': 'm', 'size': len(data), 'status': 'active',
             'blake3': blake3.blake3(data).hexdigest(),
             'chunks': [{'location': location, 'size': len(data), 'checksum': None}]}
    received, zero_copy, error = _serve(_opener(stores, image))
    assert error is None and received == data and zero_copy == 0


def test_an_image_with_a_blake3_to_learn_is_read_and_learns_it(file_stores):
    image = _image(file_stores, blake3=None)
    learnt = []
    received, zero_copy, error = _serve(_opener(file_stores, image,
                                                learn=learnt.append))
    assert error is None and received == DATA and zero_copy == 0
    assert learnt == [blake3.blake3(DATA).hexdigest()]
