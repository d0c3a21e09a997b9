"""Store call latency and errors, by store, for Prometheus.

:class:`MeteredStore` stands in front of one configured store (the
:class:`~glance.store.StoreRegistry` hands these out) and times ``head``, ``get``,
``add`` and ``delete``, counting the store errors they raise, a read that breaks off
mid-stream included; at DEBUG level it logs each call (with the request id, like every
log line). Every other attribute is the wrapped store's own (read and set).
"""

import logging
import time

from glance.common import metrics
from glance.store.base import StoreError

LOG = logging.getLogger(__name__)


class MeteredStore:
    """Time and count the calls made to one store.

    :param store: the :class:`~glance.store.base.Store` to measure (kept as
        :attr:`store`).
    """

    def __init__(self, store):
        object.__setattr__(self, 'store', store)

    # Attributes other than the four measured calls are the store's own, both ways.
    def __getattr__(self, name):
        return getattr(self.store, name)

    def __setattr__(self, name, value):
        setattr(self.store, name, value)

    def __repr__(self):
        return repr(self.store)

    def _call(self, operation, method, location, *args):
        started = time.monotonic()
        outcome = 'failed'
        try:
            result = method(location, *args)
            outcome = 'done'
            return result
        except StoreError as err:
            self.count_error(operation, err)
            raise
        finally:
            seconds = time.monotonic() - started
            metrics.STORE_SECONDS.labels(self.store.name, operation).observe(seconds)
            LOG.debug('Store %s: %s %s %s in %.4fs', self.store.name, operation,
                      location, outcome, seconds)

    def count_error(self, operation, err):
        """Count one failed store call.

        :param operation: ``head``, ``get``, ``add`` or ``delete``.
        :param err: the :class:`~glance.store.base.StoreError` it raised.
        """
        metrics.STORE_ERRORS.labels(self.store.name, operation,
                                    type(err).__name__).inc()

    def head(self, location):
        """:meth:`Store.head <glance.store.base.Store.head>`, measured."""
        return self._call('head', self.store.head, location)

    def get(self, location, offset=0, length=None):
        """:meth:`Store.get <glance.store.base.Store.get>`, timed until the read is
        open; errors while reading are counted too."""
        return MeteredRead(self, self._call('get', self.store.get, location, offset,
                                            length))

    def add(self, name, chunks, size=None):
        """:meth:`Store.add <glance.store.base.Store.add>`, measured."""
        return self._call('add', self.store.add, name, chunks, size)

    def delete(self, location):
        """:meth:`Store.delete <glance.store.base.Store.delete>`, measured."""
        return self._call('delete', self.store.delete, location)


class MeteredRead:
    """The iterator a measured ``get`` returns: counts errors raised while reading.

    :param store: the :class:`MeteredStore` that opened the read.
    :param reader: the store's :class:`~glance.store.base.ReadIterator`.
    """

    def __init__(self, store, reader):
        self._metered = store
        self._reader = reader

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._reader)
        except StoreError as err:
            self._metered.count_error('get', err)
            raise

    def close(self):
        """Release the underlying read."""
        self._reader.close()
