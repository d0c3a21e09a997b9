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
"""

import os
import socket

import eventlet.hubs

#: Bytes read and yielded as one block before ``sendfile`` starts: they carry the
#: headers out. eventlet buffers blocks below its ``minimum_chunk_size`` (4096 by
#: default), so this must stay above it or buffered bytes would follow later ones.
FIRST_BLOCK = 64 * 1024
#: The most bytes asked of one ``sendfile`` call.
SENDFILE_BURST = 16 * 1024 * 1024


class SentOutOfBand(bytes):
    """An empty block standing for ``length`` bytes sent directly to the socket."""

    def __new__(cls, length):
        block = super().__new__(cls, b'')
        block.length = length
        return block


def _plain_socket(environ):
    # eventlet keeps the connection only on its Input object (a private attribute);
    # without it, or on TLS, bodies fall back to reads.
    sock = getattr(environ.get('eventlet.input'), '_sock', None)
    if sock is None or hasattr(sock, 'getpeercert') or environ.get(
            'wsgi.url_scheme') != 'http':
        return None
    return sock


class SendfileBody:
    """A response body sending ``length`` bytes of an open file from ``offset``.

    :param fileobj: an open binary file (closed by :meth:`close`).
    :param offset: the first byte sent.
    :param length: bytes sent.
    :param sock: the client's (green) socket, or None to read and yield blocks.
    :param block_size: the size of blocks when reading instead.
    """

    def __init__(self, fileobj, offset, length, sock, block_size):
        self.fileobj = fileobj
        self.offset = offset
        self.length = length
        self.sock = sock
        self.block_size = block_size
        self.zero_copy_bytes = 0

    def __iter__(self):
        position, remaining = self.offset, self.length
        if self.sock is None:
            while remaining > 0:
                block = self._read(position, min(remaining, self.block_size))
                position += len(block)
                remaining -= len(block)
                yield block
            return
        if remaining > 0:
            block = self._read(position, min(remaining, FIRST_BLOCK))
            position += len(block)
            remaining -= len(block)
            yield block
        while remaining > 0:
            sent = self._sendfile(position, min(remaining, SENDFILE_BURST))
            position += sent
            remaining -= sent
            self.zero_copy_bytes += sent
            yield SentOutOfBand(sent)

    def _read(self, position, count):
        block = os.pread(self.fileobj.fileno(), count, position)
        if len(block) != count:
            raise IOError('%s is shorter than expected' % self.fileobj.name)
        return block

    def _sendfile(self, position, count):
        fd = self.sock.fileno()
        while True:
            try:
                sent = os.sendfile(fd, self.fileobj.fileno(), position, count)
            except BlockingIOError:
                eventlet.hubs.trampoline(fd, write=True, timeout=self.sock.gettimeout(),
                                         timeout_exc=socket.timeout)
                continue
            if sent == 0:
                raise IOError('%s ended early' % self.fileobj.name)
            return sent

    def close(self):
        """Close the file (idempotent)."""
        self.fileobj.close()


def file_wrapper_for(environ, block_size):
    """Return a factory ``(fileobj, offset, length) -> body`` for this request.

    :param environ: the WSGI environ.
    :param block_size: block size for bodies that read.
    """
    sock = _plain_socket(environ)

    def wrap(fileobj, offset, length):
        return SendfileBody(fileobj, offset, length, sock, block_size)
    return wrap
