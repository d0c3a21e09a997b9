"""Zero-copy file bodies: ``wsgi.file_wrapper`` for eventlet's WSGI server.

PEP 3333 lets a server offer ``wsgi.file_wrapper`` so that a file body can be sent
by the kernel (``sendfile(2)``) instead of being read into Python and written back.
eventlet's server offers none (``eventlet.wsgi`` writes every block through the
socket's buffered file), and the PEP's wrapper has no offset or length for ranges,
so :func:`file_wrapper_for` builds :class:`SendfileBody` bodies instead.

:class:`SendfileBody` lets eventlet send the status line, the headers and the first
block itself (eventlet writes headers together with the first non-empty block), then
calls ``os.sendfile`` on the connection's descriptor for the rest, waiting for the
socket through the hub so other requests keep running. Each burst is reported as a
:class:`SentOutOfBand` marker: an empty ``bytes`` (eventlet skips it) that carries
the count, so byte counters (:class:`~glance.common.wsgi.CountingBody`) stay exact.
TLS connections cannot use ``sendfile``; the body then reads and yields blocks.

A body may span several files (an image's chunks in the file store) and carry a
guard that verifies the whole body while it is sent (see :class:`SendfileBody`):
the image download's zero-copy path.
"""

import os
import socket

import eventlet.hubs

from glance.common import metrics

#: Bytes read and yielded as one block before ``sendfile`` starts: they carry the
#: headers out. eventlet buffers blocks below its ``minimum_chunk_size`` (4096 by
#: default), so this must stay above it or buffered bytes would follow later ones.
FIRST_BLOCK = 64 * 1024
#: The most bytes sent (by as many ``sendfile`` calls as needed) per marker block.
SENDFILE_BURST = 16 * 1024 * 1024
#: Bytes at the end of a guarded body held back until the guard's verdict.
HELD_BACK = 64 * 1024


class SentOutOfBand(bytes):
    """An empty block standing for ``length`` bytes sent directly to the socket."""

    def __new__(cls, length):
        block = super().__new__(cls, b'')
        block.length = length
        return block


def client_socket(environ):
    """The plain (not TLS) client socket of a request served by eventlet, or None.

    Only such a socket can take ``sendfile``; without it, bodies read and yield.

    :param environ: the WSGI environ.
    """
    # eventlet keeps the connection only on its Input object (a private attribute).
    sock = getattr(environ.get('eventlet.input'), '_sock', None)
    if sock is None or hasattr(sock, 'getpeercert') or environ.get(
            'wsgi.url_scheme') != 'http':
        return None
    return sock


class ShortFile(OSError):
    """A file ended before the bytes a body promised to send from it."""


class SendfileBody:
    """A response body sending ranges of open files, one after another.

    With a ``guard`` (a :class:`~glance.common.streaming.FileGuard`), the body is
    verified while it goes out: :meth:`__iter__` starts the guard (its thread hashes
    the same ranges), sends all but the last :data:`HELD_BACK` bytes, then asks for
    the guard's verdict; only if it passes are the held-back bytes sent. A failed
    verdict raises, so the response ends short of its ``Content-Length``.

    :param spans: ``(fileobj, offset, length)`` tuples: open binary files (closed by
        :meth:`close`), the first byte sent from each and how many.
    :param sock: the client's (green) socket, or None to read and yield blocks.
    :param block_size: the size of blocks when reading instead.
    :param guard: an object with ``start()``, ``verdict()`` and ``close()``, or None.
    """

    def __init__(self, spans, sock, block_size, guard=None):
        self.spans = list(spans)
        self.length = sum(length for _, _, length in self.spans)
        self.sock = sock
        self.block_size = block_size
        self.guard = guard
        self.zero_copy_bytes = 0

    def _held_back(self):
        if self.guard is None:
            return 0
        if self.length <= FIRST_BLOCK:
            return min(1, self.length)
        return min(HELD_BACK, self.length - FIRST_BLOCK)

    def __iter__(self):
        cut = self.length - self._held_back()
        if self.guard is not None:
            self.guard.start()
        yield from self._send(0, cut)
        if self.guard is not None:
            self.guard.verdict()
        yield from self._read_blocks(cut, self.length, self.block_size)

    def _pieces(self, begin, end):
        """``(fileobj, position, count)`` covering the body's bytes ``[begin, end)``."""
        start = 0
        for fileobj, offset, length in self.spans:
            low, high = max(begin, start), min(end, start + length)
            if high > low:
                yield fileobj, offset + low - start, high - low
            start += length

    def _read_blocks(self, begin, end, block_size):
        for fileobj, position, count in self._pieces(begin, end):
            while count > 0:
                block = self._read(fileobj, position, min(count, block_size))
                position += len(block)
                count -= len(block)
                yield block

    def _send(self, begin, end):
        if self.sock is None:
            yield from self._read_blocks(begin, end, self.block_size)
            return
        first = min(end, begin + FIRST_BLOCK)
        if first > begin:
            yield b''.join(self._read_blocks(begin, first, FIRST_BLOCK))
        for fileobj, position, count in self._pieces(first, end):
            while count > 0:
                sent = self._sendfile(fileobj, position, min(count, SENDFILE_BURST))
                position += sent
                count -= sent
                self.zero_copy_bytes += sent
                metrics.ZERO_COPY_BYTES.inc(sent)
                yield SentOutOfBand(sent)

    @staticmethod
    def _read(fileobj, position, count):
        block = os.pread(fileobj.fileno(), count, position)
        if len(block) != count:
            raise ShortFile('a file ended %d bytes early' % (count - len(block)))
        return block

    def _sendfile(self, fileobj, position, count):
        """Send ``count`` bytes from ``position``, waiting for the socket in the hub."""
        fd = self.sock.fileno()
        done = 0
        while done < count:
            try:
                sent = os.sendfile(fd, fileobj.fileno(), position + done, count - done)
            except BlockingIOError:
                eventlet.hubs.trampoline(fd, write=True, timeout=self.sock.gettimeout(),
                                         timeout_exc=socket.timeout)
                continue
            if sent == 0:
                raise ShortFile('a file ended %d bytes early' % (count - done))
            done += sent
        return done

    def close(self):
        """Stop the guard and close the files (idempotent)."""
        if self.guard is not None:
            self.guard.close()
        for fileobj, _, _ in self.spans:
            fileobj.close()


def file_wrapper_for(environ, block_size):
    """Return a factory ``(fileobj, offset, length) -> body`` for this request.

    :param environ: the WSGI environ.
    :param block_size: block size for bodies that read.
    """
    sock = client_socket(environ)

    def wrap(fileobj, offset, length):
        return SendfileBody([(fileobj, offset, length)], sock, block_size)
    return wrap
