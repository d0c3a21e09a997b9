"""Tests of FileHasher and FileGuard: verifying bytes that never pass through Python.

Real files in ``tmp_path``; the hashing thread is a real OS thread.
"""

import hashlib
import os

import blake3
import pytest

from glance.common import exception, streaming

PARTS = [os.urandom(streaming.FILE_HASH_BUFFER + 5), b'', os.urandom(1000)]


@pytest.fixture
def files(tmp_path):
    opened = []
    for number, part in enumerate(PARTS):
        path = tmp_path / ('part-%d' % number)
        path.write_bytes(part)
        opened.append(open(path, 'rb'))
    yield opened
    for fileobj in opened:
        fileobj.close()


def _ranges(files):
    return [(fileobj, 0, len(part)) for fileobj, part in zip(files, PARTS)]


@pytest.mark.parametrize('algorithm, new', [('blake3', blake3.blake3),
                                            ('sha256', hashlib.sha256)])
def test_ranges_of_several_files_hash_as_one_stream(files, algorithm, new):
    ranges = [(files[0], 7, len(PARTS[0]) - 7), (files[2], 0, 999)]
    hasher = streaming.FileHasher(algorithm, [(f.fileno(), o, n) for f, o, n in ranges])
    assert hasher.hexdigest() == new(PARTS[0][7:] + PARTS[2][:999]).hexdigest()
    hasher.close()
    hasher.close()


def test_the_hasher_works_on_its_own_descriptors(files):
    hasher = streaming.FileHasher('blake3', [(f.fileno(), 0, len(p))
                                             for f, p in zip(files, PARTS)])
    for fileobj in files:
        fileobj.close()
    assert hasher.hexdigest() == blake3.blake3(b''.join(PARTS)).hexdigest()
    hasher.close()


def test_a_range_past_the_end_of_its_file_is_an_error(files):
    hasher = streaming.FileHasher('blake3', [(files[2].fileno(), 0, 2000)])
    with pytest.raises(EOFError):
        hasher.hexdigest()
    hasher.close()


def test_an_unknown_algorithm_is_refused(files):
    with pytest.raises(ValueError):
        streaming.FileHasher('crc32', [(files[2].fileno(), 0, 10)])


def test_the_guard_passes_unchanged_files_with_the_right_digest(files):
    guard = streaming.FileGuard('blake3', blake3.blake3(b''.join(PARTS)).hexdigest(),
                                'img', _ranges(files))
    guard.start()
    guard.verdict()
    guard.close()


def test_the_guard_refuses_another_digest_with_the_download_message(files):
    guard = streaming.FileGuard('blake3', blake3.blake3(b'other').hexdigest().upper(),
                                'img', _ranges(files))
    guard.start()
    with pytest.raises(exception.ChecksumMismatch) as info:
        guard.verdict()
    guard.close()
    assert 'blake3 of the streamed data is %s, expected %s' % (
        blake3.blake3(b''.join(PARTS)).hexdigest(),
        blake3.blake3(b'other').hexdigest()) in info.value.message


def test_the_guard_refuses_a_file_that_grew_even_if_the_range_matches(files):
    guard = streaming.FileGuard('blake3', blake3.blake3(b''.join(PARTS)).hexdigest(),
                                'img', _ranges(files))
    guard.start()
    with open(files[2].name, 'ab') as grow:
        grow.write(b'x')
    with pytest.raises(exception.ChecksumMismatch) as info:
        guard.verdict()
    guard.close()
    assert 'changed while it was sent' in info.value.message


def test_the_guard_reports_a_file_cut_short_as_a_mismatch(files):
    os.truncate(files[0].name, 10)
    guard = streaming.FileGuard('blake3', blake3.blake3(b''.join(PARTS)).hexdigest(),
                                'img', _ranges(files))
    guard.start()
    with pytest.raises(exception.ChecksumMismatch) as info:
        guard.verdict()
    guard.close()
    assert 'could not be hashed whole' in info.value.message
