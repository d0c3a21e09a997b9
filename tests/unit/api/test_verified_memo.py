"""Unit tests for the verified-files memo: unchanged, verified chunk files are sent
zero-copy without hashing again; any change to a file (or its digest) is hashed.

Downloads are served over a socket pair as in :mod:`test_download_zero_copy`, from
real files of a :class:`FilesystemStore`. Hashing is observed by counting the
:class:`~glance.common.streaming.FileHasher` threads started.
"""

import os

import blake3
import pytest

from glance.api import download, verified_memo
from glance.common import exception, metrics, sendfile, streaming
from tests.data import rot_silently
from tests.unit.api.test_download_zero_copy import (  # noqa: F401 (fixture)
    DATA, _image, _opener, _path, _serve, file_stores)


@pytest.fixture
def hashers(monkeypatch):
    """The list of FileHasher instances started (each one hashes a whole body)."""
    started = []

    class Counting(streaming.FileHasher):
        def __init__(self, *args):
            super().__init__(*args)
            started.append(self)

    monkeypatch.setattr(streaming, 'FileHasher', Counting)
    return started


def _memo_hits():
    return metrics.REGISTRY.get_sample_value('glance_downloads_verified_by_memo_total')


def _download(stores, image, memo, **kwargs):
    return _serve(_opener(stores, image, memo=memo), **kwargs)


def test_a_second_download_of_an_unchanged_image_is_not_hashed(file_stores, hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(8)
    first = _download(file_stores, image, memo)
    hits = _memo_hits()
    second = _download(file_stores, image, memo)
    assert first[0] == second[0] == DATA
    assert first[2] is None and second[2] is None
    assert len(hashers) == 1
    assert _memo_hits() == hits + 1
    # Still zero-copy, still holding back the end for the (identity) verdict.
    assert second[1] == len(DATA) - sendfile.FIRST_BLOCK - sendfile.HELD_BACK


def test_a_chunk_whose_metadata_changed_is_hashed_again_then_trusted_again(
        file_stores, hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(8)
    _download(file_stores, image, memo)
    # A new mtime also changes the file store's ETag (a 502 before any byte); chmod
    # changes only the ctime, which the memo compares too.
    os.chmod(_path(image, 3), 0o600)
    received, _, error = _download(file_stores, image, memo)
    assert error is None and received == DATA
    assert len(hashers) == 2
    _download(file_stores, image, memo)
    assert len(hashers) == 2


def test_a_touched_chunk_is_hashed_again(file_stores, hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(8)
    _download(file_stores, image, memo)
    path = _path(image, 3)
    before = os.stat(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10 ** 9))
    # Built without the chunk checks, whose ETag would already refuse the new mtime.
    received, _, error = _serve(lambda sock: download.ChunkedImageIterable(
        file_stores, 'img', download.image_chunks(image), 64 * 1024,
        download.expected_digest(image), sock=sock, memo=memo))
    assert error is None and received == DATA
    assert len(hashers) == 2


def test_a_chunk_rotted_with_its_mtime_restored_is_caught_by_its_ctime(file_stores,
                                                                       hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(8)
    _download(file_stores, image, memo)
    rot_silently(_path(image, 3), 5000)
    received, _, error = _download(file_stores, image, memo)
    assert isinstance(error, exception.ChecksumMismatch)
    assert 'blake3 of the streamed data' in error.message
    assert len(received) == len(DATA) - sendfile.HELD_BACK
    assert len(hashers) == 2
    assert len(memo) == 0


def test_a_chunk_changed_while_a_trusted_body_is_sent_ends_it_short_and_is_forgotten(
        file_stores, hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(8)
    _download(file_stores, image, memo)
    path = _path(image, 0)

    def rewrite_same_bytes():
        with open(path, 'r+b') as chunk:
            chunk.write(DATA[:10])

    received, zero_copy, error = _download(file_stores, image, memo,
                                           on_first_block=rewrite_same_bytes)
    assert isinstance(error, exception.ChecksumMismatch)
    assert 'changed while it was sent' in error.message
    assert zero_copy > 0 and len(received) == len(DATA) - sendfile.HELD_BACK
    assert len(hashers) == 1
    assert len(memo) == 0


def test_another_registry_digest_is_not_trusted(file_stores, hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(8)
    _download(file_stores, image, memo)
    image['blake3'] = blake3.blake3(b'other').hexdigest()
    _, _, error = _download(file_stores, image, memo)
    assert isinstance(error, exception.ChecksumMismatch)
    assert len(hashers) == 2


def test_a_memo_of_size_zero_hashes_every_download(file_stores, hashers):
    image = _image(file_stores)
    memo = verified_memo.VerifiedMemo(0)
    for _ in range(3):
        received, _, error = _download(file_stores, image, memo)
        assert error is None and received == DATA
    assert len(hashers) == 3
    assert len(memo) == 0


def test_the_memo_keeps_the_most_recently_used_entries_only():
    memo = verified_memo.VerifiedMemo(2)
    memo.remember('a', ('ida',))
    memo.remember('b', ('idb',))
    assert memo.trusts('a', ('ida',))
    memo.remember('c', ('idc',))
    assert len(memo) == 2
    assert not memo.trusts('b', ('idb',))
    assert memo.trusts('a', ('ida',)) and memo.trusts('c', ('idc',))
    assert not memo.trusts('a', ('other',))
