"""Unit tests for glance.common.streaming: bounded readers, re-blocking, hashing."""

import hashlib

import blake3
import io

import pytest

from glance.common import exception, streaming


class _BrokenBody:
    """A body whose read fails like eventlet's on a dropped connection."""

    def __init__(self, good):
        self._good = io.BytesIO(good)

    def read(self, size):
        data = self._good.read(size)
        if not data:
            raise OSError('connection reset')
        return data


def test_limited_reader_allows_exactly_the_cap():
    reader = streaming.LimitedReader(io.BytesIO(b'x' * 10), cap=10)
    assert b''.join(streaming.iter_blocks(reader, 3)) == b'x' * 10
    assert reader.count == 10


def test_limited_reader_over_cap_raises_request_too_large():
    reader = streaming.LimitedReader(io.BytesIO(b'x' * 11), cap=10)
    with pytest.raises(exception.RequestTooLarge):
        b''.join(streaming.iter_blocks(reader, 4))


def test_limited_reader_without_cap_reads_everything():
    reader = streaming.LimitedReader(io.BytesIO(b'y' * 100))
    assert len(b''.join(streaming.iter_blocks(reader, 7))) == 100


def test_limited_reader_turns_read_errors_into_invalid():
    reader = streaming.LimitedReader(_BrokenBody(b'abc'))
    assert reader.read(3) == b'abc'
    with pytest.raises(exception.Invalid) as info:
        reader.read(3)
    assert 'after 3 bytes' in info.value.message


def test_limited_reader_refuses_unbounded_reads():
    with pytest.raises(ValueError):
        streaming.LimitedReader(io.BytesIO(b'')).read(-1)


def test_iter_blocks_bounds_each_block_and_honours_limit():
    blocks = list(streaming.iter_blocks(io.BytesIO(bytes(range(20))), 6, limit=15))
    assert [len(block) for block in blocks] == [6, 6, 3]
    assert b''.join(blocks) == bytes(range(15))


def test_coalesce_joins_small_chunks_into_blocks():
    chunks = [b'ab', b'c', b'defg', b'h', b'ij']
    blocks = list(streaming.coalesce(chunks, 4))
    assert b''.join(blocks) == b'abcdefghij'
    assert all(len(block) >= 4 for block in blocks[:-1])
    assert all(len(block) < 8 for block in blocks)


def test_coalesce_passes_large_chunks_through_unchanged():
    big = b'z' * 10
    blocks = list(streaming.coalesce([big, big], 4))
    assert blocks[0] is big and blocks[1] is big


def test_coalesce_of_nothing_yields_nothing():
    assert list(streaming.coalesce([], 4)) == []


def _reference(algorithm, data):
    if algorithm == 'blake3':
        return blake3.blake3(data).hexdigest()
    return hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize('algorithm', ['md5', 'sha256', 'blake3'])
def test_threaded_hasher_matches_the_reference_over_many_blocks(algorithm):
    blocks = [bytes([n]) * (5000 + n) for n in range(40)]
    hasher = streaming.ThreadedHasher(algorithm, depth=2)
    try:
        for block in blocks:
            hasher.update(block)
        assert hasher.hexdigest() == _reference(algorithm, b''.join(blocks))
    finally:
        hasher.close()


@pytest.mark.parametrize('algorithm,kind', [('blake3', streaming.ThreadedHasher),
                                            ('sha256', streaming.ThreadedHasher),
                                            ('md5', streaming.ThreadedHasher)])
def test_new_hasher_is_threaded_and_matches_the_reference(algorithm, kind):
    blocks = [bytes([n]) * (3000 + n) for n in range(20)]
    hasher = streaming.new_hasher(algorithm)
    try:
        assert type(hasher) is kind and hasher.algorithm == algorithm
        for block in blocks:
            hasher.update(block)
        assert hasher.hexdigest() == _reference(algorithm, b''.join(blocks))
    finally:
        hasher.close()


@pytest.mark.parametrize('algorithm', ['blake3', 'md5'])
def test_the_inline_hasher_matches_the_reference(algorithm):
    hasher = streaming.Hasher(algorithm)
    hasher.update(b'one')
    hasher.update(b'two')
    assert hasher.hexdigest() == _reference(algorithm, b'onetwo')


def test_blake3_is_the_256_bit_digest():
    hasher = streaming.new_hasher('blake3')
    try:
        assert len(hasher.hexdigest()) == 64
    finally:
        hasher.close()


def test_new_hasher_refuses_an_unknown_algorithm():
    with pytest.raises(ValueError, match='sha1'):
        streaming.new_hasher('sha1')


@pytest.mark.parametrize('algorithm', ['blake3', 'sha256'])
def test_hasher_close_is_idempotent_and_final(algorithm):
    hasher = streaming.new_hasher(algorithm)
    hasher.close()
    hasher.close()
    with pytest.raises(ValueError):
        hasher.update(b'late')


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_hashing_iterator_passes_every_byte_when_the_digest_matches():
    blocks = [b'one', b'two', b'', b'three']
    body = streaming.HashingIterator(blocks, 'sha256', _sha256(b'onetwothree'), 'img')
    assert b''.join(body) == b'onetwothree'


def test_hashing_iterator_withholds_the_last_block_on_mismatch():
    body = streaming.HashingIterator([b'one', b'two', b'three'], 'sha256',
                                     _sha256(b'something else'), 'img')
    received = []
    with pytest.raises(exception.ChecksumMismatch) as info:
        for block in body:
            received.append(block)
    assert received == [b'one', b'two']
    assert 'img' in info.value.message


@pytest.mark.parametrize('algorithm', ['blake3', 'sha256', 'md5'])
def test_hashing_iterator_verifies_each_algorithm(algorithm):
    blocks = [b'first', b'second', b'third']
    good = streaming.HashingIterator(blocks, algorithm,
                                     _reference(algorithm, b''.join(blocks)), 'img')
    assert list(good) == blocks
    bad = streaming.HashingIterator(blocks, algorithm, _reference(algorithm, b'x'),
                                    'img')
    received = []
    with pytest.raises(exception.ChecksumMismatch) as info:
        for block in bad:
            received.append(block)
    assert received == blocks[:-1]
    assert '%s of the streamed data' % algorithm in info.value.message


def test_a_one_block_body_is_cut_one_byte_short_on_mismatch():
    body = streaming.HashingIterator([b'only block'], 'sha256', _sha256(b'x'), 'img')
    received = []
    with pytest.raises(exception.ChecksumMismatch):
        for block in body:
            received.append(block)
    assert received == [b'only bloc']
    good = streaming.HashingIterator([b'only block'], 'sha256', _sha256(b'only block'),
                                     'img')
    assert b''.join(good) == b'only block'


def test_hashing_iterator_compares_case_insensitively():
    body = streaming.HashingIterator([b'abc'], 'md5',
                                     hashlib.md5(b'abc').hexdigest().upper(), 'img')
    assert b''.join(body) == b'abc'


def test_hashing_iterator_of_an_empty_stream_checks_the_empty_digest():
    assert list(streaming.HashingIterator([], 'sha256', _sha256(b''), 'img')) == []
    with pytest.raises(exception.ChecksumMismatch):
        list(streaming.HashingIterator([], 'sha256', _sha256(b'x'), 'img'))


def test_hashing_iterator_close_closes_the_source():
    closed = []

    class Source:
        def __iter__(self):
            yield b'a'
            yield b'b'

        def close(self):
            closed.append(True)

    body = streaming.HashingIterator(Source(), 'sha256', _sha256(b'ab'), 'img')
    iterator = iter(body)
    next(iterator)
    body.close()
    assert closed == [True]
