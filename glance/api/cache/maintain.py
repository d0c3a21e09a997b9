"""Keeping the image cache honest, and filling it ahead of demand.

:class:`Maintainer` runs two kinds of background work for one
:class:`~glance.api.cache.serve.ImageCache`, as glance-api itself: its registry
lookups carry only glance-api's verified service credential
(:class:`~glance.common.auth.ServiceCredentials`), never a caller's identity nor
claimed identity headers:

* **prefetch**: images queued on disk (admin API, ``glance-cache-manage queue``)
  are looked up and filled, at most ``image_cache_prefetch_workers`` at a time;
* **audit**, every ``image_cache_verify_interval`` seconds and on demand: each
  entry is checked against the registry (a deleted, inactive or changed image is
  dropped, which catches deletions made through another glance-api), then its
  file is hashed again; a corrupted file is dropped and queued to be fetched again.

Hashing a file reads it in blocks and yields to the hub between blocks, so requests
keep being served.
"""

import logging
import time

import eventlet
import eventlet.event
import eventlet.greenpool

from glance.api import download
from glance.common import context, exception, streaming

LOG = logging.getLogger(__name__)

class Maintainer:
    """Prefetch and audit for one image cache.

    :param cache: the :class:`~glance.api.cache.serve.ImageCache`.
    :param registry: a :class:`~glance.registry.client.RegistryClient` carrying
        glance-api's service credentials; it acts for no user, as the service
        itself (:meth:`~glance.common.context.RequestContext.service_itself`).
    :param stores: the :class:`~glance.store.StoreRegistry`.
    :param block_size: bytes per block read from stores and cache files.
    :param workers: most prefetches at once.
    :param interval: seconds between audits (0: only on demand).
    """

    def __init__(self, cache, registry, stores, block_size, workers, interval):
        self.cache = cache
        self.registry = registry.with_context(context.RequestContext.service_itself())
        self.stores = stores
        self.block_size = block_size
        self.interval = interval
        self.pool = eventlet.greenpool.GreenPool(workers)
        self.prefetching = set()
        self._kick = eventlet.event.Event()

    def start(self):
        """Start the prefetch loop and, with an interval, the audit loop."""
        eventlet.spawn_n(self._prefetch_loop)
        if self.interval:
            eventlet.spawn_n(self._audit_loop)

    # -- prefetch ----------------------------------------------------------------

    def enqueue(self, image_id):
        """Queue an image for prefetch and wake the prefetcher.

        :raises ValueError: for an id that cannot be a file name.
        """
        self.cache.index.enqueue(image_id)
        self.wake()

    def wake(self):
        """Make the prefetch loop look at the queue now."""
        kick, self._kick = self._kick, eventlet.event.Event()
        kick.send()

    def _prefetch_loop(self):
        while True:
            kick = self._kick
            for image_id, _queued_at in self.cache.index.queued():
                if image_id not in self.prefetching:
                    self.prefetching.add(image_id)
                    self.pool.spawn_n(self._prefetch, image_id)
            kick.wait()

    def _prefetch(self, image_id):
        try:
            self.prefetch(image_id)
        # Deliberately contained: one failed prefetch must not stop the others; the
        # image stays queued for an operator to see or dequeue.
        except exception.GlanceException as err:
            LOG.warning('Image cache: prefetch of %s failed: %s', image_id, err)
        else:
            self.cache.index.dequeue(image_id)
        finally:
            self.prefetching.discard(image_id)

    def prefetch(self, image_id):
        """Fill one image now and wait for the fill to end.

        An image that is gone or not active is dequeued without a fill.

        :raises GlanceException: when the registry or the stores fail, or the fill
            fails (digest mismatch...), or there is no room.
        """
        try:
            image = self.registry.get_image(image_id)
        except exception.NotFound:
            LOG.info('Image cache: %s is gone; dropping it from the queue', image_id)
            return
        if image.get('status') != 'active':
            LOG.info('Image cache: %s is %s; not prefetched', image_id,
                     image.get('status'))
            return
        digest = download.expected_digest(image)
        entry = self.cache.index.get(image_id)
        if entry is not None and (entry.algorithm, entry.digest) == digest:
            return
        if digest is None:
            raise exception.Invalid(reason='image %s records no digest to verify a '
                                           'cached copy against' % image_id)
        source = download.open_image(self.stores, image, self.block_size)
        fill = self.cache.fill(image, digest, source)
        if fill is None:
            source.close()
            raise exception.Conflict(reason='no room in the cache for image %s (%d '
                                            'bytes)' % (image_id, image['size']))
        fill.thread.wait()
        if fill.error is not None:
            raise exception.UpstreamError(reason='the fill of image %s failed'
                                                 % image_id)

    # -- audit -------------------------------------------------------------------

    def _audit_loop(self):
        while True:
            eventlet.sleep(self.interval)
            for image_id in list(self.cache.index.entries):
                try:
                    self.audit(image_id)
                # Deliberately contained: keep auditing the other entries; a registry
                # outage leaves the entries as they are.
                except exception.GlanceException as err:
                    LOG.warning('Image cache: audit of %s skipped: %s', image_id, err)

    def audit(self, image_id):
        """Check one entry against the registry, then hash its file again.

        :returns: ``'ok'``, ``'dropped'`` (the image is gone, inactive or changed)
            or ``'corrupt'`` (dropped and queued for a new fill); None when the
            image is not cached.
        :raises GlanceException: when the registry cannot be asked.
        """
        entry = self.cache.index.get(image_id)
        if entry is None:
            return None
        try:
            image = self.registry.get_image(image_id)
        except exception.NotFound:
            image = None
        if (image is None or image.get('status') != 'active'
                or download.expected_digest(image) != (entry.algorithm, entry.digest)):
            self.cache.forget(image_id)
            return 'dropped'
        if self.verify(image_id):
            return 'ok'
        self.enqueue(image_id)
        return 'corrupt'

    def verify(self, image_id):
        """Hash a cached file again; drop the entry when it does not match.

        :returns: True when the file still matches its verified digest.
        """
        entry = self.cache.index.get(image_id)
        if entry is None:
            return False
        hasher = streaming.new_hasher(entry.algorithm)
        try:
            with open(self.cache.index.data_path(image_id), 'rb') as data:
                for block in streaming.iter_blocks(data, self.block_size):
                    hasher.update(block)
                    eventlet.sleep(0)
            actual = hasher.hexdigest()
        except FileNotFoundError:
            actual = None
        finally:
            hasher.close()
        if actual == entry.digest:
            entry.verified_at = time.time()
            self.cache.index.save(entry)
            return True
        LOG.warning('Image cache: %s is corrupt on disk (%s %s, verified %s); dropping '
                    'it', image_id, entry.algorithm, actual, entry.digest)
        self.cache.index.drop(image_id)
        return False
