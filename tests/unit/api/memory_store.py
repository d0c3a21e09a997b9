"""An in-memory :class:`~glance.store.base.Store`, intended solely for testing.

It is the only fake store in the tests: unit tests of the download and upload paths
use it to put every chunk and block boundary under test with tiny sizes, and to inject
failures that a real backend cannot be made to produce on demand. Functional tests use
the real stores.

* Objects live in :attr:`MemoryStore.objects` (``{"container/name": bytes}``) under
  ``memory://<container>/<name>`` locations; uploads go to container ``images``.
* The ETag is the md5 of the content, as Swift's.
* :attr:`MemoryStore.reads` records each ``get`` as ``(key, offset, length)``.
* :attr:`MemoryStore.fail_read_after` makes every read fail (as ``StoreIOError``) once
  that many bytes of the object have been delivered; :attr:`MemoryStore.fail_write_after`
  makes ``add`` fail once that many bytes have been written in total.
* :attr:`MemoryStore.lose_bytes` makes ``add`` silently keep that many bytes fewer
  than it was given (and report the smaller size), like a backend that lost data.
"""

import hashlib
import io

from glance.store import StoreRegistry
from glance.store.base import (Location, ObjectInfo, ObjectNotFound, ReadIterator,
                               Store, StoreIOError)


class MemoryStore(Store):
    """Objects held in a dict; see the module docstring."""

    schemes = ('memory',)

    def __init__(self, options, name=None):
        super().__init__(options, name)
        self.objects = {}
        self.reads = []
        self.fail_read_after = None
        self.fail_write_after = None
        self.lose_bytes = 0
        self.written = 0

    @staticmethod
    def _key(location):
        return location.netloc + location.path

    def put(self, key, data):
        """Store ``data`` directly (test setup) and return its location URI."""
        self.objects[key] = bytes(data)
        return 'memory://' + key

    def head(self, location):
        """The object's size and md5 ETag, as real stores report them."""
        loc = self.parse_location(location)
        try:
            data = self.objects[self._key(loc)]
        except KeyError:
            raise self.error(ObjectNotFound, loc) from None
        return ObjectInfo(str(loc), len(data), hashlib.md5(data).hexdigest())

    def _open(self, location, offset, length):
        try:
            data = self.objects[self._key(location)]
        except KeyError:
            raise self.error(ObjectNotFound, location) from None
        end = len(data) if length is None else min(len(data), offset + length)
        end = max(end, offset)
        self.reads.append((self._key(location), offset, end - offset))
        body = io.BytesIO(data[offset:end])
        limit = self.fail_read_after

        def read(size):
            if limit is not None and offset + body.tell() >= limit:
                raise OSError('injected read failure')
            return body.read(size)

        return ReadIterator(self, location, read, end - offset, body.close,
                            errors=(OSError,))

    def _write(self, location, source, size):
        buffer = bytearray()
        for chunk in source:
            buffer += chunk
            self.written += len(chunk)
            if self.fail_write_after is not None and self.written > self.fail_write_after:
                raise self.error(StoreIOError, location, 'injected write failure')
        if self.lose_bytes:
            del buffer[-self.lose_bytes:]
        self.objects[self._key(location)] = bytes(buffer)
        return ObjectInfo(str(location), len(buffer), hashlib.md5(buffer).hexdigest())

    def _delete(self, location):
        try:
            del self.objects[self._key(location)]
        except KeyError:
            raise self.error(ObjectNotFound, location) from None

    def _object_location(self, quoted_name):
        return Location('memory', 'images', '/' + quoted_name)


def memory_stores(chunk_size=3):
    """A :class:`~glance.store.StoreRegistry` whose only (default) store is a
    :class:`MemoryStore` reading ``chunk_size`` bytes per iteration."""
    stores = StoreRegistry({'enabled_stores': 'memory', 'default_store': 'memory'},
                           store_classes={'memory': MemoryStore})
    stores.default_store.chunk_size = chunk_size
    return stores
