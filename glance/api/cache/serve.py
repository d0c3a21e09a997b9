"""The image cache layer: which body answers a download, cached or not.

The images controller looks the image up in the registry with the caller's identity
(so a private image of another tenant is a 404 whether it is cached or not), checks
its status, builds the response headers, then asks :meth:`ImageCache.body` for the
body. WebOb's ``conditional_response`` then does 304/206/416 for every kind of body
alike. :meth:`ImageCache.body` answers with, in order:

* a **hit**: the entry's digest and size equal the registry's and its file still has
  the size, inode and mtime recorded when it was verified; it is sent with
  ``sendfile`` (:mod:`glance.common.sendfile`), ranges included, and no store is
  touched (hits are served while the stores are down);
* a reader of the **fill in progress** for the image (no store access either);
* a **miss**: the uncached body (chunks HEADed first, so a store problem is a 5xx
  before any byte), which on its first iteration starts a fill and reads it, or
  streams straight from the stores when the image cannot be cached (no digest
  recorded, no room) or for a Range request.

An entry whose image changed (digest, size or URI) or whose file changed is dropped
and refilled; the image core calls :meth:`ImageCache.forget` for deleted and
inactive images.
"""

import dataclasses
import logging
import os

from glance.api import download
from glance.api.cache import fill as cache_fill
from glance.api.cache import index as cache_index
from glance.common import config, metrics, sendfile

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CacheOptions:
    """The typed options of the image cache (see README.rst, "Image cache")."""

    directory: str = ''
    max_size: int = 10 * 1024 ** 3
    verify_interval: int = 3600
    prefetch_workers: int = 2
    sendfile: bool = True

    @classmethod
    def from_conf(cls, conf):
        """Parse the ``image_cache_*`` options of a merged conf dict.

        :raises ConfigError: naming the option whose value is invalid.
        """
        opts = config.Options(conf, 'DEFAULT')
        defaults = cls()
        return cls(
            directory=opts.get_path('image_cache_dir', defaults.directory),
            max_size=opts.get_size('image_cache_max_size', defaults.max_size,
                                   minimum=0),
            verify_interval=opts.get_int('image_cache_verify_interval',
                                         defaults.verify_interval, minimum=0),
            prefetch_workers=opts.get_int('image_cache_prefetch_workers',
                                          defaults.prefetch_workers, minimum=1),
            sendfile=opts.get_bool('image_cache_sendfile', defaults.sendfile))


class HitBody:
    """The body of a cache hit: the whole file, or a range of it (WebOb's hook).

    :param fileobj: the open data file (owned: closed by :meth:`close`).
    :param size: its size.
    :param wrap: ``(fileobj, offset, length) -> body`` from
        :func:`~glance.common.sendfile.file_wrapper_for`.
    """

    def __init__(self, fileobj, size, wrap):
        self.fileobj = fileobj
        self.size = size
        self.wrap = wrap

    def __iter__(self):
        return iter(self.wrap(self.fileobj, 0, self.size))

    def app_iter_range(self, start, stop):
        """Return the body of ``[start, stop)``; it takes the file over."""
        return self.wrap(self.fileobj, start, stop - start)

    def close(self):
        """Close the file (idempotent)."""
        self.fileobj.close()


class MissBody:
    """The body of a miss: fill the cache on first iteration and read the fill.

    :param cache: the :class:`ImageCache`.
    :param image: the registry record.
    :param digest: ``(algorithm, hexdigest)`` of the image.
    :param source: the uncached body (already checked against the stores).
    """

    def __init__(self, cache, image, digest, source):
        self.cache = cache
        self.image = image
        self.digest = digest
        self.source = source
        self._body = None

    def __iter__(self):
        if self._body is None:
            fill = self.cache.fill(self.image, self.digest, self.source)
            if fill is None:
                self._body = self.source
            else:
                self._body = fill.reader(self.cache.options.block_size)
        return iter(self._body)

    def app_iter_range(self, start, stop):
        """Serve a range straight from the stores (ranges do not fill the cache)."""
        return self.source.app_iter_range(start, stop)

    def close(self):
        """Close what was read (the fill itself goes on)."""
        if self._body is not None:
            self._body.close()
        elif self.source is not None:
            self.source.close()


@dataclasses.dataclass(frozen=True)
class _LayerOptions:
    block_size: int
    sendfile: bool


class ImageCache:
    """The on-disk image cache of one glance-api process.

    :param options: :class:`CacheOptions` (``directory`` must be set).
    :param block_size: ``read_block_size``, for bodies that read.
    """

    def __init__(self, options, block_size):
        self.index = cache_index.CacheIndex(options.directory, options.max_size)
        self.options = _LayerOptions(block_size, options.sendfile)
        self.fills = {}

    def body(self, image, environ, uncached):
        """The response body of an active image the caller may see.

        :param image: the registry record, read with the caller's identity.
        :param environ: the WSGI environ (for ``sendfile``).
        :param uncached: ``() -> body`` building the uncached download body; it
            checks the chunks in their stores (and raises) before returning.
        :returns: an iterable with ``app_iter_range`` and ``close``.
        """
        image_id = image['id']
        digest = download.expected_digest(image)
        if digest is None or not image.get('size') or not cache_index.valid_id(image_id):
            metrics.CACHE_MISSES.inc()
            return uncached()
        entry = self.index.get(image_id)
        if entry is not None:
            hit = self._open_hit(entry, image, digest, environ)
            if hit is not None:
                metrics.CACHE_HITS.inc()
                return hit
        fill = self.fills.get(image_id)
        if fill is not None and fill.digest == digest:
            metrics.CACHE_HITS.inc()
            return fill.reader(self.options.block_size)
        metrics.CACHE_MISSES.inc()
        return MissBody(self, image, digest, uncached())

    def _open_hit(self, entry, image, digest, environ):
        image_id = entry.image_id
        if ((entry.algorithm, entry.digest) != digest or entry.size != image['size']
                or entry.uri != (image.get('uri') or '')):
            LOG.info('Image cache: %s changed in the registry; dropping its entry',
                     image_id)
            self.index.drop(image_id)
            return None
        try:
            fileobj = open(self.index.data_path(image_id), 'rb')
        except FileNotFoundError:
            fileobj = None
        if fileobj is None or not entry.matches(os.fstat(fileobj.fileno())):
            LOG.warning('Image cache: the file of %s changed since it was verified; '
                        'dropping it to refetch', image_id)
            if fileobj is not None:
                fileobj.close()
            self.index.drop(image_id)
            return None
        self.index.touch(entry)
        wrap = sendfile.file_wrapper_for(environ if self.options.sendfile else {},
                                         self.options.block_size)
        return HitBody(fileobj, entry.size, wrap)

    def fill(self, image, digest, source):
        """Start filling ``image`` from ``source``, or join the fill in progress.

        :returns: the :class:`~glance.api.cache.fill.Fill`, or None when the image
            cannot be cached now (no room); ``source`` is then left to the caller.
        """
        image_id = image['id']
        current = self.fills.get(image_id)
        if current is not None and current.digest == digest:
            source.close()
            return current
        if current is not None or not self.index.reserve(image['size']):
            return None
        self.index.drop(image_id)
        fill = cache_fill.Fill(self.index, image, digest, source, self._ended)
        self.fills[image_id] = fill
        return fill

    def _ended(self, fill):
        if self.fills.get(fill.image_id) is fill:
            del self.fills[fill.image_id]

    def forget(self, image_id):
        """Drop the entry of an image that was deleted or is no longer active."""
        if self.index.drop(image_id):
            LOG.info('Image cache: dropped %s (deleted or inactive)', image_id)
