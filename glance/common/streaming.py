"""Chunk helpers shared by the upload and download paths: bytes move in bounded blocks.

* :class:`LimitedReader` reads a request body and refuses to go past a size cap.
* :func:`iter_blocks` turns any ``read(n)`` source into an iterator of bounded blocks.
* :func:`coalesce` joins small store chunks into blocks of a useful size for sending.
* :func:`new_hasher` returns the hasher for a digest algorithm: a :class:`Hasher`
  hashes inline, in the caller's thread; a :class:`ThreadedHasher` (same interface)
  hashes in a dedicated OS thread. :data:`INLINE_ALGORITHMS` says which is used.
* :class:`HashingIterator` passes blocks through hashers and holds the last block
  back until the whole stream matches its expected digest (and, for an image that
  has no BLAKE3 yet, until the digest just learnt is recorded).
* :class:`FileGuard` does the same check for bytes that never pass through Python
  (sent with ``sendfile``): a :class:`FileHasher` thread hashes the same ranges of
  the open files, and the files must not have changed between hash and send.

Why BLAKE3, and why in a thread (see bench/README.md, "BLAKE3 verification"):
BLAKE3 is a cryptographic hash (collision- and preimage-resistant, unlike the XXH3
it replaces as the download guard), and the fastest one here: ~1.5-1.8 GB/s on one
core of the loaded reference machine with 1 MiB buffers (~4.3 GB/s on a quiet
core), against sha256's ~0.3-1.4 GB/s and md5's ~0.2-0.6 GB/s. That is still slower
than the hub sends a cached image, so hashing costs throughput wherever it runs.
``bench/digest_bench.py`` streams an image through the real download iterator in
interleaved rounds and measured, as a fraction of the unverified speed (medians of
5-8 runs on the shared 2-core machine at load 13-15): one dedicated thread 0.65,
inline in the hub 0.66, inline with ``max_threads=2`` 0.78, a dedicated thread with
``max_threads=2`` 0.80; sha256 in a thread 0.30. So BLAKE3 runs in a dedicated OS
thread (the ``blake3`` module, like ``hashlib`` for buffers over 2 KiB, releases the
GIL) and splits each block over :data:`BLAKE3_THREADS` threads of its own: the hub
stays free for other requests while a block is hashed. ``eventlet.tpool`` was slower
than a dedicated thread (a pool round trip per block, and consecutive blocks land on
different threads).
"""

import functools
import hashlib
import os

import blake3

from glance.common import exception, offload

#: Blocks queued to a hasher before :meth:`ThreadedHasher.update` waits for it.
HASH_QUEUE_DEPTH = offload.QUEUE_DEPTH

#: Bytes a :class:`FileHasher` reads (into one reused buffer) and hashes at a time.
FILE_HASH_BUFFER = 1024 * 1024

#: Threads BLAKE3 splits each block over (its ``max_threads``; see the docstring).
BLAKE3_THREADS = 2

#: Digest constructors by algorithm name; ``blake3`` is the 256-bit default output.
ALGORITHMS = {'md5': hashlib.md5, 'sha256': hashlib.sha256,
              'blake3': functools.partial(blake3.blake3, max_threads=BLAKE3_THREADS)}
#: Algorithms hashed inline in the hub rather than in a thread (see the module
#: docstring: by measurement, none of them is cheap enough).
INLINE_ALGORITHMS = frozenset()


class LimitedReader:
    """A request-body reader that fails once more than ``cap`` bytes have arrived.

    :param fileobj: the source, e.g. ``req.body_file``.
    :param cap: the largest number of bytes allowed; None for no cap.
    :param cap_name: what the cap is, for the 413 message.
    """

    def __init__(self, fileobj, cap=None, cap_name='image_size_cap'):
        self._file = fileobj
        self._cap = cap
        self._cap_name = cap_name
        self.count = 0

    def read(self, size):
        """Read at most ``size`` bytes (``size`` > 0; never "read all").

        :returns: bytes; ``b''`` at the end of the source.
        :raises RequestTooLarge: when the source holds more than ``cap`` bytes.
        :raises Invalid: when the source cannot be read: the client went away or sent
            malformed chunked encoding (eventlet raises OSError or ValueError).
        :raises ValueError: for a size that is not positive (a caller's bug).
        """
        if size is None or size <= 0:
            raise ValueError('LimitedReader.read needs a positive size')
        try:
            data = self._file.read(size)
        except (OSError, ValueError) as err:
            raise exception.Invalid(reason='the request body could not be read after '
                                           '%d bytes (%s)' % (self.count,
                                                              type(err).__name__))
        self.count += len(data)
        if self._cap is not None and self.count > self._cap:
            raise exception.RequestTooLarge(
                reason='the image is larger than %s (%d bytes)' % (self._cap_name,
                                                                   self._cap))
        return data


def iter_blocks(reader, block_size, limit=None):
    """Yield non-empty blocks of at most ``block_size`` bytes from ``reader.read``.

    :param reader: an object with ``read(n)``.
    :param block_size: the most bytes asked for per read.
    :param limit: stop after this many bytes (None: read to the end).
    :returns: an iterator of bytes.
    """
    remaining = limit
    while remaining is None or remaining > 0:
        want = block_size if remaining is None else min(block_size, remaining)
        data = reader.read(want)
        if not data:
            return
        if remaining is not None:
            remaining -= len(data)
        yield data


def coalesce(chunks, block_size):
    """Join small chunks into blocks of at least ``block_size`` bytes.

    Sending many small writes through the hub halves throughput (64 KiB vs 1 MiB
    blocks), whatever chunk size a store hands out. Chunks already as large as a block
    pass through without a copy. Each yielded block is smaller than
    ``2 * block_size`` (given store chunks of at most ``block_size``); the last may be
    shorter than ``block_size``.

    :param chunks: an iterable of bytes.
    :param block_size: the target block size.
    :returns: an iterator of bytes.
    """
    pending = []
    pending_size = 0
    for chunk in chunks:
        if not pending and len(chunk) >= block_size:
            yield chunk
            continue
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= block_size:
            yield b''.join(pending)
            pending = []
            pending_size = 0
    if pending_size:
        yield b''.join(pending)


def new_hasher(algorithm):
    """Return the hasher for ``algorithm``: inline when it is cheap, threaded if not.

    Both kinds have one interface: ``algorithm``, ``update(block)``, ``hexdigest()``
    and ``close()``. Always call ``close()``; ``hexdigest()`` may come before it.

    :param algorithm: a key of :data:`ALGORITHMS`.
    :returns: a :class:`Hasher` for :data:`INLINE_ALGORITHMS`, else a
        :class:`ThreadedHasher`.
    :raises ValueError: for an unknown algorithm.
    """
    if algorithm in INLINE_ALGORITHMS:
        return Hasher(algorithm)
    return ThreadedHasher(algorithm)


class Hasher:
    """A digest computed inline, in the caller's thread (the hub's, in a server).

    :param algorithm: a key of :data:`ALGORITHMS`.
    :raises ValueError: for an unknown algorithm.
    """

    def __init__(self, algorithm):
        if algorithm not in ALGORITHMS:
            raise ValueError('unknown digest algorithm %r' % algorithm)
        self.algorithm = algorithm
        self._digest = ALGORITHMS[algorithm]()
        self._closed = False

    def _check_open(self):
        if self._closed:
            raise ValueError('update() on a closed hasher')

    def update(self, block):
        """Hash a block.

        :param block: bytes.
        :raises ValueError: after :meth:`close`.
        """
        self._check_open()
        self._digest.update(block)

    def hexdigest(self):
        """Return the hex digest of every block given so far."""
        return self._digest.hexdigest()

    def close(self):
        """Refuse further blocks (idempotent)."""
        self._closed = True


class ThreadedHasher(Hasher):
    """A :class:`Hasher` whose hashing runs in a dedicated OS thread.

    :meth:`update` hands a block to a :class:`~glance.common.offload.Worker` and
    returns at once unless ``depth`` blocks are already waiting; then it waits
    cooperatively (the hub keeps serving other requests). Memory held is at most
    ``depth`` blocks. :meth:`close` ends the thread.

    :param algorithm: a key of :data:`ALGORITHMS`, e.g. ``sha256`` or ``md5``.
    :param depth: the most blocks queued to the thread.
    :raises ValueError: for an unknown algorithm.
    """

    def __init__(self, algorithm, depth=HASH_QUEUE_DEPTH):
        super().__init__(algorithm)
        self._worker = offload.Worker('hash-%s' % algorithm, depth)

    def update(self, block):
        """Queue a block for hashing.

        :param block: bytes; the caller must not mutate it afterwards.
        :raises ValueError: after :meth:`close`.
        """
        self._check_open()
        self._worker.submit(self._digest.update, block)

    def hexdigest(self):
        """Wait until every queued block is hashed and return the hex digest."""
        self._worker.wait()
        return super().hexdigest()

    def close(self):
        """End the thread (idempotent); it drops any blocks still queued."""
        super().close()
        self._worker.close()


def check_digest(algorithm, actual, expected, image_id):
    """Raise unless a streamed body's digest is the expected one.

    :param algorithm: the digest's algorithm, for the message.
    :param actual: the hex digest computed while streaming.
    :param expected: the expected hex digest (compared case-insensitively).
    :param image_id: names the image in the message.
    :raises ChecksumMismatch: when they differ.
    """
    if actual != expected.lower():
        raise exception.ChecksumMismatch(
            image_id=image_id, reason='%s of the streamed data is %s, expected %s'
                                      % (algorithm, actual, expected.lower()))


class HashingIterator:
    """Pass blocks through, hashing them, and release the last one only if it matches.

    The final block is held back until every byte has been hashed; on a mismatch it
    raises :class:`~glance.common.exception.ChecksumMismatch` instead of yielding it,
    so the response ends short of its ``Content-Length`` and a client can never
    receive a complete-looking corrupt body. (A body of one block is sent but for
    its last byte first, so that it too ends short rather than never starting.)
    Hashers come from :func:`new_hasher`.

    With ``learn``, a second digest is computed on the way and, once the stream is
    complete (and matched ``expected``, if given), handed to a callback before the
    last block goes out: how an image registered without a BLAKE3 gets one on its
    first full read.

    :param blocks: an iterable of bytes (closed by :meth:`close` if it has ``close``).
    :param algorithm: the algorithm of ``expected``, a key of :data:`ALGORITHMS`, or
        None to verify nothing.
    :param expected: the expected hex digest (compared case-insensitively), or None.
    :param image_id: names the image in the mismatch message and the log line.
    :param learn: ``(algorithm, callback)``: also compute that digest and call
        ``callback(hexdigest)`` once the whole stream has passed; or None.
    """

    def __init__(self, blocks, algorithm, expected, image_id, learn=None):
        self._blocks = blocks
        self._algorithm = algorithm if expected else None
        self._expected = expected.lower() if expected else None
        self._image_id = image_id
        self._learn = learn
        self._iterator = None

    def __iter__(self):
        if self._iterator is None:
            self._iterator = self._verified()
        return self._iterator

    def _verified(self):
        names = [name for name in (self._algorithm, self._learn and self._learn[0])
                 if name]
        hashers = [new_hasher(name) for name in names]
        try:
            held = None
            released = False
            for block in self._blocks:
                if not block:
                    continue
                for hasher in hashers:
                    hasher.update(block)
                if held is not None:
                    released = True
                    yield held
                held = block
            if held is not None and not released and len(held) > 1:
                # A one-block body: send all but its last byte before the verdict, so
                # a mismatch ends it short of Content-Length like a longer body. With
                # nothing sent, the server could only answer with a bare 500.
                yield held[:-1]
                held = held[-1:]
            digests = [hasher.hexdigest() for hasher in hashers]
        finally:
            for hasher in hashers:
                hasher.close()
        if self._algorithm is not None:
            check_digest(self._algorithm, digests[0], self._expected, self._image_id)
        if self._learn is not None:
            self._learn[1](digests[-1])
        if held is not None:
            yield held

    def close(self):
        """Stop hashing and close the source (idempotent)."""
        if self._iterator is not None:
            self._iterator.close()
        close = getattr(self._blocks, 'close', None)
        if close is not None:
            close()


class FileHasher:
    """Hash ranges of open files in a dedicated OS thread, reading them with ``pread``.

    The thread (an :class:`~glance.common.offload.Worker`) works on duplicates of the
    descriptors, closed by :meth:`close` once it has stopped, so the caller may close
    its files at any time. It reads into one reused buffer of
    :data:`FILE_HASH_BUFFER` bytes (memory stays flat); :meth:`hexdigest` waits for
    it through the hub, and :meth:`close` stops it at the next buffer.

    :param algorithm: a key of :data:`ALGORITHMS`.
    :param ranges: ``(fd, offset, length)`` tuples, hashed in order as one stream.
    :raises ValueError: for an unknown algorithm.
    """

    def __init__(self, algorithm, ranges):
        if algorithm not in ALGORITHMS:
            raise ValueError('unknown digest algorithm %r' % algorithm)
        self.algorithm = algorithm
        self._digest = ALGORITHMS[algorithm]()
        self._stopped = False
        self._ranges = [(os.dup(fd), offset, length) for fd, offset, length in ranges]
        self._worker = offload.Worker('hash-file-%s' % algorithm, depth=1)
        self._worker.submit(self._hash_ranges)

    def _hash_ranges(self):
        view = memoryview(bytearray(FILE_HASH_BUFFER))
        for fd, offset, length in self._ranges:
            while length > 0 and not self._stopped:
                count = os.preadv(fd, [view[:min(length, len(view))]], offset)
                if count == 0:
                    raise EOFError('the file ended %d bytes early' % length)
                self._digest.update(view[:count])
                offset += count
                length -= count

    def hexdigest(self):
        """Wait (cooperatively) until every range is hashed; return the hex digest.

        :raises OSError: or :class:`EOFError` when a range could not be read whole.
        """
        self._worker.wait()
        return self._digest.hexdigest()

    def close(self):
        """Stop hashing (idempotent): the thread ends at its next buffer, then the
        duplicated descriptors are closed."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self._worker.close(join=True)
        finally:
            for fd, _, _ in self._ranges:
                os.close(fd)


def _identity(fileobj, offset, length):
    st = os.fstat(fileobj.fileno())
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, offset,
            length)


class FileGuard:
    """Check that ranges of open files, sent without passing through Python, match a
    digest: the verdict that lets the held-back end of a body go out.

    :meth:`start` notes each file's identity (device, inode, size, mtime and ctime,
    which no user can set back, and the range) and starts a :class:`FileHasher` over
    the ranges; :meth:`verdict` waits for the digest and fails if any file changed
    meanwhile (the bytes sent may then differ from the bytes hashed) or the digest
    differs.

    With a ``memo`` (a :class:`~glance.api.verified_memo.VerifiedMemo`), files whose
    identities it trusts for this image and digest are not hashed: the verdict only
    checks that they did not change. A passing hash is remembered; a failure, or a
    change while the body was sent, drops the memo's entry.

    :param algorithm: a key of :data:`ALGORITHMS`.
    :param expected: the expected hex digest.
    :param image_id: names the image in messages.
    :param ranges: ``(fileobj, offset, length)`` tuples, the whole body in order.
    :param memo: the verified-files memo, or None to hash every time.
    """

    def __init__(self, algorithm, expected, image_id, ranges, memo=None):
        self.algorithm = algorithm
        self.expected = expected
        self.image_id = image_id
        self.ranges = ranges
        self.memo = memo
        self._key = (image_id, algorithm, expected)
        self._identities = None
        self._hasher = None

    def _now(self):
        return tuple(_identity(*span) for span in self.ranges)

    def start(self):
        """Note the files' identities and start hashing, unless the memo trusts them."""
        self._identities = self._now()
        if self.memo is not None and self.memo.trusts(self._key, self._identities):
            return
        self._hasher = FileHasher(self.algorithm, [
            (fileobj.fileno(), offset, length) for fileobj, offset, length in self.ranges])

    def verdict(self):
        """Wait for the digest; raise unless it matches and no file changed.

        :raises ChecksumMismatch: on a different digest, a file that changed or
            could not be read whole.
        """
        try:
            self._check()
        except exception.ChecksumMismatch:
            if self.memo is not None:
                self.memo.forget(self._key)
            raise
        if self.memo is not None and self._hasher is not None:
            self.memo.remember(self._key, self._identities)

    def _check(self):
        actual = None
        if self._hasher is not None:
            try:
                actual = self._hasher.hexdigest()
            except (OSError, EOFError) as err:
                raise exception.ChecksumMismatch(
                    image_id=self.image_id, reason='a chunk file could not be hashed '
                                                   'whole (%s)' % err) from None
        if self._now() != self._identities:
            raise exception.ChecksumMismatch(
                image_id=self.image_id, reason='a chunk file changed while it was sent')
        if actual is not None:
            check_digest(self.algorithm, actual, self.expected, self.image_id)

    def close(self):
        """Stop hashing (idempotent)."""
        if self._hasher is not None:
            self._hasher.close()
