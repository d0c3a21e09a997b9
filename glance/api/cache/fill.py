"""Filling the image cache: one store fetch per image, read by every waiting request.

A :class:`Fill` copies an image from its stores into an incomplete file in its own
green thread, so it runs at the stores' pace whatever its readers do (a reader that
disconnects does not stop it; a prefetch is a fill with no reader). The source is the
uncached download body (:class:`~glance.api.download.ChunkedImageIterable` with the
whole-image digest), whose verifier holds the last block back until the digest
matches the registry's: the file therefore never holds the whole image before it is
verified, and only then is it committed as a hit. Any failure removes the file.

Every request for the image while it fills reads the growing file through a
:class:`FillReader`, waiting for bytes as they are written ("single flight": N
concurrent requests, one store fetch). A reader whose fill fails raises, so its
response ends short of ``Content-Length``, as an uncached download would.
"""

import logging
import os

import eventlet
import eventlet.event
import eventlet.tpool

from glance.common import exception

LOG = logging.getLogger(__name__)


def _write_all(fd, block):
    view = memoryview(block)
    while view:
        view = view[os.write(fd, view):]


class Fill:
    """One image being copied into the cache.

    :param index: the :class:`~glance.api.cache.index.CacheIndex` (space already
        reserved for ``image['size']``; released when the fill ends).
    :param image: the registry record.
    :param digest: ``(algorithm, hexdigest)`` the source verifies; the BLAKE3 the
        source learnt (its ``learnt``), if any, replaces it once the fill is done.
    :param source: the verified download body of the whole image.
    :param on_end: called with this fill when it ends, success or not.
    """

    def __init__(self, index, image, digest, source, on_end):
        self.index = index
        self.image = image
        self.image_id = image['id']
        self.size = image['size']
        self._digest = digest
        self._source = source
        self.path = index.incomplete_path(self.image_id)
        self.written = 0
        self.error = None
        self.ended = False
        self.entry = None
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._progress = eventlet.event.Event()
        self._on_end = on_end
        self.thread = eventlet.spawn(self._run, source)

    @property
    def digest(self):
        """``(algorithm, hexdigest)`` this fill is verified against.

        Once the source has learnt and recorded the image's BLAKE3 (a first full
        read), that one: the registry now names it, so requests looking the image up
        from then on still join this fill, and the entry is keyed on it.
        """
        return getattr(self._source, 'learnt', None) or self._digest

    def _notify(self):
        progress, self._progress = self._progress, eventlet.event.Event()
        progress.send()

    def wait(self):
        """Wait until more bytes are written or the fill ends."""
        if not self.ended:
            self._progress.wait()

    def _run(self, source):
        try:
            for block in source:
                # Disk writes (and the final fsync) can block for a long time once the
                # kernel throttles dirty pages; an OS thread keeps the hub serving,
                # and on two cores lets the copy to disk overlap the sends to clients.
                eventlet.tpool.execute(_write_all, self._fd, block)
                self.written += len(block)
                self._notify()
            if self.written != self.size:
                raise exception.UpstreamError(
                    reason='image %s: %d bytes arrived, the registry records %d'
                           % (self.image_id, self.written, self.size))
            eventlet.tpool.execute(os.fsync, self._fd)
            os.close(self._fd)
            self._fd = None
            self.entry = self.index.commit(self.image, self.path, self.digest)
            LOG.info('Image cache: %s filled and verified (%d bytes)', self.image_id,
                     self.size)
        # Deliberate cleanup of every failure (the download path has logged a store
        # or digest error already); readers see self.error.
        except BaseException as err:
            self.error = err
            LOG.warning('Image cache: fill of %s failed after %d bytes; nothing kept',
                        self.image_id, self.written)
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        finally:
            if self._fd is not None:
                os.close(self._fd)
            close = getattr(source, 'close', None)
            if close is not None:
                close()
            self.index.release(self.size)
            self.ended = True
            self._on_end(self)
            self._notify()

    def reader(self, block_size, start=0, stop=None):
        """A :class:`FillReader` of ``[start, stop)`` of this fill."""
        return FillReader(self, os.open(self.path, os.O_RDONLY), block_size, start,
                          self.size if stop is None else stop)


class FillReader:
    """A response body reading a :class:`Fill`'s file as it grows.

    It owns a descriptor opened while the fill was registered, so the body stays
    readable whatever happens to the file's name afterwards (commit, eviction).

    :param fill: the :class:`Fill`.
    :param fd: a read-only descriptor of the fill's file.
    :param block_size: the most bytes per block.
    :param start: the first byte.
    :param stop: the offset just past the last byte.
    """

    def __init__(self, fill, fd, block_size, start, stop):
        self.fill = fill
        self.block_size = block_size
        self.start = start
        self.stop = stop
        self._fd = fd

    def __iter__(self):
        position = self.start
        fill = self.fill
        while position < self.stop:
            available = min(fill.written, self.stop)
            if available <= position:
                if fill.error is not None:
                    error = fill.error
                    cause = (error.message if isinstance(error, exception.GlanceException)
                             else type(error).__name__)
                    raise exception.UpstreamError(
                        reason='image %s: the cache fill it was read from failed: %s'
                               % (fill.image_id, cause))
                fill.wait()
                continue
            block = os.pread(self._fd, min(available - position, self.block_size),
                             position)
            position += len(block)
            yield block

    def app_iter_range(self, start, stop):
        """Return a reader of ``[start, stop)`` of the same fill (WebOb's Range hook).

        The new reader takes this one's descriptor over.
        """
        fd, self._fd = self._fd, None
        return FillReader(self.fill, fd, self.block_size, start, stop)

    def close(self):
        """Close the descriptor (idempotent); the fill goes on."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
