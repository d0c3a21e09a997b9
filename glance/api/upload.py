"""Teller's upload path: split a request body into store objects, hashing as it goes.

:class:`ImageUpload` reads only ``req.body_file``, in ``read_block_size`` blocks,
through a :class:`~glance.common.streaming.LimitedReader` (``image_size_cap`` → 413),
and writes consecutive objects of ``store_chunk_size`` bytes to the default store with
:meth:`~glance.store.base.Store.add`. It records each object's location, size and
ETag, and computes three digests of the whole image while the bytes pass, each in
its own hashing thread (see :mod:`glance.common.streaming`): md5 (the v1
``checksum``), sha256, and BLAKE3, which downloads verify.
If anything fails, :meth:`ImageUpload.discard` deletes every object already written;
the image core then marks the image ``killed``.
"""

import itertools
import logging

from glance.common import exception, streaming
from glance.store import base as store_base

LOG = logging.getLogger(__name__)

#: Whole-image digests computed on upload, in the order of the attributes
#: ``checksum``, ``sha256`` and ``blake3`` of :class:`ImageUpload`.
DIGESTS = ('md5', 'sha256', 'blake3')


class ImageUpload:
    """Write one image's data into a store as a sequence of chunk objects.

    :param store: the :class:`~glance.store.base.Store` receiving the data.
    :param image_id: the image id; objects are named by ``store.location_for``.
    :param chunk_size: the largest object written (``store_chunk_size``).
    :param block_size: the most bytes read from the body at once.
    :param size_cap: the largest image accepted (``image_size_cap``, or what is left
        of the owner's ``user_storage_quota``), or None.
    :param cap_name: what ``size_cap`` is, for the 413 message.
    :param inspection: a :class:`~glance.api.inspection.Inspection` that sees the
        bytes as they are read (its verdict is the caller's to ask), or None.
    """

    def __init__(self, store, image_id, chunk_size, block_size, size_cap=None,
                 cap_name='image_size_cap', inspection=None):
        self.store = store
        self.image_id = image_id
        self.chunk_size = chunk_size
        self.block_size = block_size
        self.size_cap = size_cap
        self.cap_name = cap_name
        self.inspection = inspection
        #: ``[{"location", "size", "checksum"}]`` of the objects written, in order.
        self.chunks = []
        self.size = 0
        self.checksum = None
        self.sha256 = None
        self.blake3 = None

    def write(self, body, content_length=None):
        """Read the whole body into the store.

        On success :attr:`chunks`, :attr:`size`, :attr:`checksum` (md5),
        :attr:`sha256` and :attr:`blake3` describe the image. On failure the objects
        written so far stay listed in :attr:`chunks` for :meth:`discard`.

        :param body: the request body (``req.body_file``), read with ``read(n)``.
        :param content_length: the declared ``Content-Length``, or None (chunked).
        :raises RequestTooLarge: when the image exceeds ``size_cap``.
        :raises Invalid: when the body ends before ``content_length`` bytes or cannot
            be read (client gone, malformed chunked encoding).
        :raises StoreError: when the store fails.
        """
        if (self.size_cap is not None and content_length is not None
                and content_length > self.size_cap):
            raise exception.RequestTooLarge(
                reason='Content-Length %d is over %s (%d bytes)'
                       % (content_length, self.cap_name, self.size_cap))
        reader = streaming.LimitedReader(body, self.size_cap, self.cap_name)
        hashers = [streaming.new_hasher(name) for name in DIGESTS]
        if self.inspection is not None:
            reader = self.inspection.wrap(reader)
        try:
            for index in itertools.count():
                first = reader.read(min(self.block_size, self.chunk_size))
                if not first:
                    break
                self._write_chunk(index, first, reader, hashers)
            digests = [hasher.hexdigest() for hasher in hashers]
        finally:
            for hasher in hashers:
                hasher.close()
        if content_length is not None and self.size != content_length:
            raise exception.Invalid(reason='the body held %d bytes but Content-Length '
                                           'declared %d' % (self.size, content_length))
        self.checksum, self.sha256, self.blake3 = digests

    def _write_chunk(self, index, first, reader, hashers):
        """Write one object made of ``first`` and the following body blocks."""
        fed = 0

        def blocks():
            nonlocal fed
            for block in itertools.chain(
                    (first,), streaming.iter_blocks(reader, self.block_size,
                                                    self.chunk_size - len(first))):
                for hasher in hashers:
                    hasher.update(block)
                fed += len(block)
                yield block

        info = self.store.add(self.store.location_for(self.image_id, index), blocks())
        self.chunks.append({'location': info.location, 'size': info.size,
                            'checksum': info.etag})
        if info.size != fed:
            raise store_base.StoreIOError(
                store=self.store.name, path=info.location,
                reason='stored %d bytes of the %d sent' % (info.size, fed))
        self.size += fed

    def discard(self):
        """Delete every object written so far (best effort, logged on failure)."""
        for chunk in self.chunks:
            try:
                self.store.delete(chunk['location'])
            except store_base.ObjectNotFound:
                pass
            except store_base.StoreError as err:
                LOG.warning('Image %s: could not delete chunk %s after a failed upload: '
                            '%s', self.image_id, chunk['location'], err)
        self.chunks = []
