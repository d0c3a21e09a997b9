"""Edges of glance.common.streaming that the main tests leave open: exact messages,
exact block boundaries, and the hashing thread's life cycle."""

import hashlib
import io
import os

import pytest

from glance.common import exception, offload, streaming


class _Recorder(io.BytesIO):
    """A body that records the size of every read."""

    def __init__(self, data):
        super().__init__(data)
        self.asked = []

    def read(self, size=-1):
        self.asked.append(size)
        return super().read(size)


class _Failing:
    def __init__(self, error):
        self.error = error

    def read(self, size):
        raise self.error


@pytest.mark.parametrize('size', [0, -1, None])
def test_limited_reader_refuses_non_positive_sizes(size):
    with pytest.raises(ValueError) as info:
        streaming.LimitedReader(io.BytesIO(b'abc')).read(size)
    assert str(info.value) == 'LimitedReader.read needs a positive size'


@pytest.mark.parametrize('error,name', [(OSError('reset'), 'OSError'),
                                        (ValueError('bad chunk'), 'ValueError')])
def test_limited_reader_read_errors_name_the_byte_count_and_the_error(error, name):
    reader = streaming.LimitedReader(_Failing(error))
    with pytest.raises(exception.Invalid) as info:
        reader.read(5)
    assert info.value.message == ('Invalid input: the request body could not be read '
                                  'after 0 bytes (%s)' % name)


def test_limited_reader_counts_and_names_the_cap():
    reader = streaming.LimitedReader(io.BytesIO(b'x' * 11), cap=10)
    assert reader.read(10) == b'x' * 10 and reader.count == 10
    with pytest.raises(exception.RequestTooLarge) as info:
        reader.read(10)
    assert reader.count == 11
    assert info.value.message == ('Request entity too large: the image is larger than '
                                  'image_size_cap (10 bytes)')


def test_iter_blocks_asks_for_no_more_than_the_limit_leaves():
    body = _Recorder(bytes(range(20)))
    assert b''.join(streaming.iter_blocks(body, 6, limit=14)) == bytes(range(14))
    assert body.asked == [6, 6, 2]


def test_iter_blocks_with_a_zero_limit_reads_nothing():
    body = _Recorder(b'abc')
    assert list(streaming.iter_blocks(body, 6, limit=0)) == []
    assert body.asked == []


def test_iter_blocks_without_limit_reads_to_the_end():
    body = _Recorder(b'abcdefg')
    assert list(streaming.iter_blocks(body, 3)) == [b'abc', b'def', b'g']
    assert body.asked == [3, 3, 3, 3]


def test_coalesce_blocks_are_exact():
    assert list(streaming.coalesce([b'ab', b'c', b'defg', b'h', b'ij'], 4)) == [
        b'abcdefg', b'hij']
    assert list(streaming.coalesce([b'abc', b'd'], 4)) == [b'abcd']
    assert list(streaming.coalesce([b'ab', b'cd', b'ef'], 4)) == [b'abcd', b'ef']
    exact = b'wxyz'
    assert list(streaming.coalesce([exact, b'a', b''], 4)) == [exact, b'a']
    assert list(streaming.coalesce([b'', b''], 4)) == []


def test_unknown_algorithm_and_late_update_messages():
    with pytest.raises(ValueError) as info:
        streaming.Hasher('sha1')
    assert str(info.value) == "unknown digest algorithm 'sha1'"
    hasher = streaming.Hasher('md5')
    hasher.close()
    with pytest.raises(ValueError) as info:
        hasher.update(b'x')
    assert str(info.value) == 'update() on a closed hasher'


def _hash_threads():
    return [thread for thread in offload._os_threading.enumerate()
            if thread.name.startswith('hash-')]


def test_a_threaded_hasher_runs_one_named_thread_until_closed():
    before = set(_hash_threads())
    hasher = streaming.ThreadedHasher('sha256', depth=1)
    [thread] = set(_hash_threads()) - before
    assert thread.name == 'hash-sha256' and thread.daemon
    for block in (b'a', b'b', b'c'):
        hasher.update(block)
    assert hasher.hexdigest() == hashlib.sha256(b'abc').hexdigest()
    assert hasher.hexdigest() == hashlib.sha256(b'abc').hexdigest()
    hasher.close()
    hasher.close()
    thread.join(10)
    assert not thread.is_alive()


def test_a_threaded_hasher_digest_of_nothing():
    hasher = streaming.ThreadedHasher('md5')
    try:
        assert hasher.hexdigest() == hashlib.md5(b'').hexdigest()
    finally:
        hasher.close()


def test_a_mismatch_message_gives_both_digests():
    actual, expected = hashlib.sha256(b'ab').hexdigest(), 'ab' * 32
    body = streaming.HashingIterator([b'a', b'b'], 'sha256', expected.upper(), 'img-1')
    with pytest.raises(exception.ChecksumMismatch) as info:
        list(body)
    assert info.value.message.endswith(
        'sha256 of the streamed data is %s, expected %s' % (actual, expected))
    assert 'img-1' in info.value.message


def test_hashing_iterator_drops_empty_blocks_and_iterates_once():
    body = streaming.HashingIterator([b'', b'a', b'', b'b', b''], 'md5',
                                     hashlib.md5(b'ab').hexdigest(), 'img')
    assert iter(body) is iter(body)
    assert list(body) == [b'a', b'b']


def test_hashing_iterator_closed_before_iterating_closes_only_the_source():
    closed = []

    class Source(list):
        def close(self):
            closed.append(True)

    body = streaming.HashingIterator(Source([b'a']), 'md5', 'x' * 32, 'img')
    body.close()
    assert closed == [True]


def test_a_hashing_thread_that_ended_early_is_an_error_not_a_hang():
    hasher = streaming.ThreadedHasher('sha256', depth=2)
    hasher._worker._queue.put(None)          # the thread stops as if it had died
    hasher.update(b'lost')
    try:
        with pytest.raises(RuntimeError) as info:
            hasher.hexdigest()
        assert str(info.value) == 'the hash-sha256 thread ended early'
    finally:
        hasher.close()


def _descriptors_of(target):
    """How many of the process's descriptors point at ``target`` (e.g. a pipe)."""
    count = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            count += os.readlink('/proc/self/fd/' + fd) == target
        except FileNotFoundError:
            pass
    return count


def test_a_threaded_hasher_never_blocks_its_caller_and_leaks_no_descriptor():
    before = set(_hash_threads())
    hasher = streaming.ThreadedHasher('md5')
    [thread] = set(_hash_threads()) - before
    pipe = os.readlink('/proc/self/fd/%d' % hasher._worker._rfd)
    assert pipe.startswith('pipe:') and _descriptors_of(pipe) == 2
    # The caller waits for the thread through the eventlet hub: its end of the pipe
    # must not block, or a whole server would stop while one block is hashed.
    assert os.get_blocking(hasher._worker._rfd) is False
    hasher.update(b'x')
    assert hasher.hexdigest() == hashlib.md5(b'x').hexdigest()
    hasher.close()
    thread.join(10)
    assert _descriptors_of(pipe) == 0


def test_closing_a_hashing_iterator_over_a_plain_list_is_fine():
    body = streaming.HashingIterator([b'a'], 'md5', hashlib.md5(b'a').hexdigest(), 'i')
    body.close()
    assert list(body) == [b'a']
