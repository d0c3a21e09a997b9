"""Teller's download path: check every chunk, then stream them as one body.

The flow follows the design: after the registry lookup, :func:`verify_chunks` HEADs
every chunk in its store and compares size and ETag with what the registry recorded
at upload time, so a missing or changed chunk is a 5xx naming the image and the chunk
position before any byte is sent. :class:`ChunkedImageIterable` then concatenates the
chunks seamlessly into one response body:

* the whole body is re-blocked to ``read_block_size`` and passed through a
  :class:`~glance.common.streaming.HashingIterator`, which holds the last block back
  until the image's digest matches the registry's (BLAKE3, in a hashing thread;
  sha256 or md5 for images recorded without a BLAKE3; see :func:`expected_digest`).
  An image with no BLAKE3 yet (registered from existing locations) gets one
  computed on its first full read and recorded (:func:`digest_plan`);
  :func:`verified_by` names what a response is verified with, for the
  ``X-Image-Meta-Verified`` header;
* when every chunk is a local file (the file store's :meth:`open_local
  <glance.store.base.Store.open_local>`) and the client's connection is plain HTTP,
  the body is sent zero-copy instead (:class:`~glance.common.sendfile.SendfileBody`,
  ``sendfile(2)``) while a thread hashes the same file ranges
  (:class:`~glance.common.streaming.FileGuard`): the same digest, the same held-back
  end, and a file that changes during the send counts as a mismatch. An image that
  still has a BLAKE3 to learn takes the reading path. Chunk files verified by an
  earlier download and unchanged since are not hashed again
  (:mod:`glance.api.verified_memo`);
* :meth:`ChunkedImageIterable.app_iter_range` serves a byte range by asking only the
  chunks it touches for their sub-ranges (WebOb calls it for ``Range`` requests);
  a partial body cannot be checked against the whole-image checksum, so it relies on
  the per-chunk ETag check alone;
* a store failure or a checksum mismatch after the headers are out is logged here,
  once, and raised: the server then drops the connection short of
  ``Content-Length``, so a client never receives a complete-looking corrupt image.
"""

import contextvars
import dataclasses
import logging
import os

import eventlet

from glance.common import exception, sendfile, streaming
from glance.store import base as store_base

LOG = logging.getLogger(__name__)

#: Chunks HEADed at once for one image.
HEAD_CONCURRENCY = 8


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One object of an image, as the registry records it.

    :param index: the chunk's position in the image, from 0.
    :param location: the object's location URI.
    :param size: its size in bytes.
    :param checksum: the store's normalised ETag recorded at upload (None if the
        store had none).
    :param offset: the image offset of the chunk's first byte.
    """

    index: int
    location: str
    size: int
    checksum: str | None
    offset: int

    @property
    def end(self):
        """The image offset just past the chunk's last byte."""
        return self.offset + self.size


def image_chunks(image, check_size=True):
    """Build the ordered :class:`Chunk` list of a registry record.

    :param image: the full registry record (seen with the ``service`` role).
    :param check_size: compare the chunk sizes with the image size (off when the
        chunks are only going to be deleted).
    :returns: a list of :class:`Chunk`.
    :raises UpstreamError: when the record has no chunks for a non-empty image or
        their sizes do not add up to the image size, or when the registry did not
        show the chunks at all (glance-api has no service identity).
    """
    if 'chunks' not in image:
        raise exception.UpstreamError(
            reason='the registry hides the locations of image %s from this glance-api: '
                   'give it a service identity (registry_service_token, '
                   'registry_auth_url or registry_trusted_gateway)' % image.get('id'))
    chunks = []
    offset = 0
    for index, record in enumerate(image.get('chunks') or ()):
        size = int(record.get('size') or 0)
        chunks.append(Chunk(index, record['location'], size,
                            store_base.normalize_etag(record.get('checksum')), offset))
        offset += size
    if check_size and image.get('size') is not None and offset != image['size']:
        raise exception.UpstreamError(
            reason='image %s: the registry records %d bytes in %d chunk(s) for an image '
                   'of %d bytes' % (image['id'], offset, len(chunks), image['size']))
    return chunks


#: The digest that guards downloads and is learnt when missing.
GUARD = 'blake3'
#: Digests a download may be verified against, strongest first: (field, algorithm).
VERIFIABLE = ((GUARD, GUARD), ('sha256', 'sha256'), ('checksum', 'md5'))


def expected_digest(image):
    """Choose the whole-image digest verified while streaming.

    BLAKE3 is preferred: cryptographic and the fastest (see
    :mod:`glance.common.streaming`). Images recorded without one (registered from
    existing locations, with digests given by a client) fall back to sha256, then
    md5.

    :param image: the registry record.
    :returns: ``(algorithm, hexdigest)``, or None when the registry records no
        digest (an image registered from existing locations without one).
    """
    for field, algorithm in VERIFIABLE:
        if image.get(field):
            return algorithm, image[field]
    return None


def digest_plan(image):
    """Say what a full download of ``image`` verifies and whether it learns a BLAKE3.

    :param image: the registry record.
    :returns: ``(expected, learn)``: ``expected`` as :func:`expected_digest`
        returns it, and ``learn`` True when the record has no BLAKE3 yet.
    """
    return expected_digest(image), not image.get(GUARD)


def verified_by(digest, partial):
    """The ``X-Image-Meta-Verified`` value of a response.

    :param digest: ``(algorithm, hexdigest)`` the body is checked against, or None.
    :param partial: True for a range (206), which no whole-image digest can cover.
    :returns: the algorithm's name, or ``none``.
    """
    return 'none' if partial or digest is None else digest[0]


def _position(image_id, chunk, count):
    return 'image %s chunk %d of %d' % (image_id, chunk.index + 1, count)


def verify_chunks(stores, image_id, chunks):
    """HEAD every chunk and compare it with the registry's record.

    :param stores: the :class:`~glance.store.StoreRegistry`.
    :param image_id: the image id, for messages.
    :param chunks: the image's :class:`Chunk` list.
    :raises UpstreamError: (502) for a chunk that is missing, has another size or
        ETag, or whose location no enabled store serves.
    :raises ServiceUnavailable: (503) when a store cannot be reached.
    """
    count = len(chunks)

    def check(chunk):
        where = _position(image_id, chunk, count)
        try:
            store = stores.for_location(chunk.location)
            info = store.head(chunk.location)
        except store_base.ObjectNotFound:
            raise exception.UpstreamError(reason='%s is missing from its store' % where)
        except store_base.BadLocation as err:
            raise store_base.BadLocation(reason='%s: %s' % (where, err.kwargs.get(
                'reason', err.message)))
        except store_base.StoreUnavailable as err:
            raise exception.ServiceUnavailable(reason='%s: %s' % (where, err.message))
        except store_base.StoreError as err:
            raise exception.UpstreamError(reason='%s: %s' % (where, err.message))
        if info.size != chunk.size:
            raise exception.UpstreamError(
                reason='%s changed in its store: %d bytes, the registry records %d'
                       % (where, info.size, chunk.size))
        if chunk.checksum is not None and info.etag != chunk.checksum:
            raise exception.UpstreamError(
                reason='%s changed in its store: ETag %s, the registry records %s'
                       % (where, info.etag, chunk.checksum))
        return info

    if len(chunks) == 1:
        # Nothing to overlap: HEAD it in this green thread, saving a spawn and two
        # hub switches before the first byte of every one-chunk download.
        return [check(chunks[0])]
    pool = eventlet.GreenPool(HEAD_CONCURRENCY)
    # Green threads start with an empty context; each HEAD gets a copy of this one, so
    # its log lines carry the request id.
    context = contextvars.copy_context()
    return list(pool.imap(lambda chunk: context.copy().run(check, chunk), chunks))


def open_image(stores, image, block_size, learn=None, sock=None, memo=None):
    """Check an active image's chunks in their stores and return its download body.

    The uncached path of a download, shared by the image core and the image
    cache's fills.

    :param stores: the :class:`~glance.store.StoreRegistry`.
    :param image: the registry record (seen with the ``service`` role).
    :param block_size: the size of the blocks handed to the server.
    :param learn: called with the BLAKE3 of a full read when the record has none
        (see :func:`digest_plan`), or None.
    :param sock: the client's plain socket, for the zero-copy path (see
        :func:`glance.common.sendfile.client_socket`), or None.
    :param memo: the worker's :class:`~glance.api.verified_memo.VerifiedMemo`, or
        None.
    :returns: a :class:`ChunkedImageIterable` verifying :func:`expected_digest`.
    :raises UpstreamError: or :class:`ServiceUnavailable` as :func:`verify_chunks`.
    """
    chunks = image_chunks(image)
    verify_chunks(stores, image['id'], chunks)
    return ChunkedImageIterable(stores, image['id'], chunks, block_size,
                                expected_digest(image), learn, sock=sock, memo=memo)


def plan_range(chunks, start, stop):
    """Map the image byte range ``[start, stop)`` onto chunk sub-ranges.

    :param chunks: the image's :class:`Chunk` list, in order.
    :param start: first image byte (>= 0).
    :param stop: image offset just past the last byte (<= image size).
    :returns: a list of ``(chunk, offset_in_chunk, length)`` covering exactly the
        range, skipping chunks it does not touch and empty ones.
    """
    plan = []
    for chunk in chunks:
        if chunk.end <= start or chunk.size == 0:
            continue
        if chunk.offset >= stop:
            break
        first = max(start, chunk.offset)
        last = min(stop, chunk.end)
        if last > first:
            plan.append((chunk, first - chunk.offset, last - first))
    return plan


class ChunkedImageIterable:
    """The response body of an image download: its chunks read one after another.

    Nothing is read from a store until iteration starts, so a HEAD request or a 304
    never touches the data. At most one store read is open at a time, and blocks are
    bounded by ``block_size`` (plus one store chunk when coalescing). Given a
    ``sock``, a body whose chunks are all local files is sent zero-copy (see the
    module docstring); its files are opened when iteration starts.

    :param stores: the :class:`~glance.store.StoreRegistry`.
    :param image_id: the image id, for messages and logs.
    :param chunks: the image's :class:`Chunk` list.
    :param block_size: the size of the blocks handed to the server.
    :param digest: ``(algorithm, hexdigest)`` to verify the whole body against, or
        None.
    :param learn: ``callback(hexdigest)`` to call with the body's BLAKE3 once a full
        read has passed (and matched ``digest``, if any); None not to compute it. It
        returns True when the digest was recorded (then kept as :attr:`learnt`).
    :param start: first image byte served.
    :param stop: image offset just past the last byte served (None: the end).
    :param sock: the client's plain socket (zero-copy path), or None.
    :param memo: the :class:`~glance.api.verified_memo.VerifiedMemo` the zero-copy
        path's guard consults, or None.
    """

    def __init__(self, stores, image_id, chunks, block_size, digest=None, learn=None,
                 start=0, stop=None, sock=None, memo=None):
        self.stores = stores
        self.image_id = image_id
        self.chunks = chunks
        self.block_size = block_size
        self.digest = digest
        self.learn = learn
        #: ``(GUARD, hexdigest)`` once a full read has learnt and recorded the
        #: image's BLAKE3.
        self.learnt = None
        self.size = chunks[-1].end if chunks else 0
        self.start = start
        self.stop = self.size if stop is None else stop
        self.sock = sock
        self.memo = memo
        self._body = None

    def __iter__(self):
        if self._body is None:
            self._body = self._logged()
        return self._body

    def _read_body(self):
        """The reading path: ``(blocks, raw store reads)``."""
        raw = self._read_chunks()
        blocks = streaming.coalesce(raw, self.block_size)
        if self.digest is not None or self.learn is not None:
            algorithm, expected = self.digest or (None, None)
            blocks = streaming.HashingIterator(
                blocks, algorithm, expected, self.image_id,
                learn=(GUARD, self._learnt) if self.learn else None)
        return blocks, raw

    def _zero_copy_body(self):
        """The zero-copy path's :class:`~glance.common.sendfile.SendfileBody`, or None
        when it does not apply (no plain socket, a digest to learn, a chunk whose
        store has no local file)."""
        if self.sock is None or self.learn is not None:
            return None
        spans = []
        try:
            for chunk, offset, length in plan_range(self.chunks, self.start, self.stop):
                fileobj = self.stores.for_location(chunk.location).open_local(
                    chunk.location)
                if fileobj is None:
                    break
                spans.append((fileobj, offset, length))
                if os.fstat(fileobj.fileno()).st_size < offset + length:
                    raise exception.UpstreamError(
                        reason='%s is shorter than the registry records'
                               % _position(self.image_id, chunk, len(self.chunks)))
            else:
                guard = None if self.digest is None else streaming.FileGuard(
                    *self.digest, self.image_id, spans, memo=self.memo)
                return sendfile.SendfileBody(spans, self.sock, self.block_size, guard)
        # Deliberate cleanup of the files opened so far, then re-raise.
        except BaseException:
            for fileobj, _, _ in spans:
                fileobj.close()
            raise
        for fileobj, _, _ in spans:
            fileobj.close()
        return None

    def _learnt(self, hexdigest):
        if self.learn(hexdigest):
            self.learnt = (GUARD, hexdigest)

    def app_iter_range(self, start, stop):
        """Return the body of the range ``[start, stop)`` (WebOb's Range hook).

        Only the chunks that the range touches are read, each from its own offset;
        the whole-image checksum is not verified for a partial body.

        :param start: first byte, as WebOb computed it from the ``Range`` header.
        :param stop: offset just past the last byte.
        :returns: a new :class:`ChunkedImageIterable` limited to the range.
        """
        return ChunkedImageIterable(self.stores, self.image_id, self.chunks,
                                    self.block_size, start=start, stop=stop,
                                    sock=self.sock)

    def _read_chunks(self):
        plan = plan_range(self.chunks, self.start, self.stop)
        for chunk, offset, length in plan:
            where = _position(self.image_id, chunk, len(self.chunks))
            reader = self.stores.for_location(chunk.location).get(chunk.location,
                                                                  offset, length)
            received = 0
            try:
                for data in reader:
                    received += len(data)
                    yield data
            finally:
                reader.close()
            if received != length:
                raise exception.UpstreamError(
                    reason='%s ended after %d of %d bytes' % (where, received, length))

    def _logged(self):
        """Open the body, log a failure once, where it is handled, and re-raise it.

        Re-raising makes the server drop the connection short of Content-Length.
        Closing ends the hasher (and its thread, if any) and the open store read or
        files.
        """
        blocks = raw = None
        try:
            blocks = self._zero_copy_body()
            if blocks is None:
                blocks, raw = self._read_body()
            yield from blocks
        except (exception.GlanceException, sendfile.ShortFile) as err:
            LOG.error('Download of image %s (bytes %d-%d) stopped: %s; closing the '
                      'connection short of Content-Length', self.image_id, self.start,
                      self.stop - 1, err)
            raise
        finally:
            close = getattr(blocks, 'close', None)
            if close is not None:
                close()
            if raw is not None:
                raw.close()

    def close(self):
        """Stop reading and release any open store read (idempotent)."""
        if self._body is not None:
            self._body.close()
