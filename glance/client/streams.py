"""Image bytes in bounded blocks: upload bodies and download copies.

:class:`UploadBody` turns bytes, a file object or an iterator of bytes into blocks
of at most ``block_size`` and hashes them on the way (md5 and sha256, what glance-api
records), so the client can check the record it gets back. :func:`copy_body` reads a
download in blocks, feeds a :class:`~glance.client.verify.Verifier`, and raises
:class:`TransferInterrupted` for a body that fails or ends short.
"""

import hashlib
import http.client
import os

from glance.common import exception


class TransferInterrupted(exception.UpstreamError):
    """The body ended or failed before all its bytes arrived."""

    template = 'the download broke off'


def interrupted(image, received, total, why):
    """A :class:`TransferInterrupted` naming the image and how far it got."""
    of_total = '' if total is None else ' of %d' % total
    return TransferInterrupted('download of image %s broke off after %d%s bytes (%s)'
                               % (image, received, of_total, why))


def body_length(data):
    """Return the byte length of an upload body when it is known without reading it.

    :returns: the length of bytes or of the rest of a seekable stream, else None
        (an iterator or a pipe: sent chunked).
    """
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    try:
        if not data.seekable():
            return None
        position = data.tell()
        end = data.seek(0, os.SEEK_END)
        data.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position


class UploadBody:
    """Iterate over an upload source in blocks, hashing and reporting progress.

    :param data: bytes, a binary file object (``read(n)``) or an iterable of bytes.
    :param size: the length announced, for ``progress``; None when unknown.
    :param progress: None or called as ``progress(bytes_sent, size)`` per block.
    :param block_size: most bytes per block.
    :ivar md5: and ``sha256``: the digests of the bytes sent so far.
    """

    def __init__(self, data, size, progress, block_size):
        self.data = data
        self.size = size
        self.progress = progress
        self.block_size = block_size
        self.sent = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()

    def _blocks(self):
        if isinstance(self.data, (bytes, bytearray)):
            view = memoryview(self.data)
            for start in range(0, len(view), self.block_size):
                yield bytes(view[start:start + self.block_size])
        elif hasattr(self.data, 'read'):
            yield from iter(lambda: self.data.read(self.block_size), b'')
        else:
            for piece in self.data:
                view = memoryview(piece)
                for start in range(0, len(view), self.block_size):
                    yield bytes(view[start:start + self.block_size])

    def __iter__(self):
        for block in self._blocks():
            self.md5.update(block)
            self.sha256.update(block)
            self.sent += len(block)
            if self.progress is not None:
                self.progress(self.sent, self.size)
            yield block

    def check_record(self, image):
        """Compare glance-api's record of the upload with the bytes sent.

        :raises ChecksumMismatch: when it recorded another md5 or sha256.
        """
        for field, digest in (('checksum', self.md5), ('sha256', self.sha256)):
            if image.get(field) not in (None, digest.hexdigest()):
                raise exception.ChecksumMismatch(
                    image_id=image.get('id'),
                    reason='glance-api recorded %s %s, the bytes sent hash to %s'
                           % (digest.name, image[field], digest.hexdigest()))


def copy_body(response, write, verifier, received, total, image, progress, block_size):
    """Copy a response body to ``write`` in blocks; return the running byte count.

    :param response: has ``read(n)``.
    :param verifier: a :class:`~glance.client.verify.Verifier` fed every block.
    :param received: bytes already received (a resumed download), for counting.
    :param total: the bytes expected in all, or None.
    :param image: the image, for messages.
    :param progress: None or called as ``progress(bytes_so_far, total)``.
    :raises TransferInterrupted: when the body fails or ends short of ``total``.
    """
    if progress is not None:
        progress(received, total)
    while True:
        try:
            block = response.read(block_size)
        except (OSError, http.client.HTTPException) as err:
            raise interrupted(image, received, total, type(err).__name__)
        if not block:
            break
        write(block)
        verifier.update(block)
        received += len(block)
        if progress is not None:
            progress(received, total)
    if total is not None and received != total:
        raise interrupted(image, received, total, 'the connection closed early')
    return received
