"""An in-memory store, intended solely for testing.

It is the one fake store of the test suite (like distribution's ``inmemory`` driver):
unit tests of code that uses stores (upload, download, the registry) run against it,
and ``tests/unit/store/test_memory.py`` runs the same checks the real stores pass.
Objects live in :attr:`MemoryStore.objects`, a plain ``{name: bytes}`` dict that tests
may inspect or change (e.g. to corrupt a chunk).

Locations look like ``memory:///<name>``.
"""

import hashlib
import io
import urllib.parse

from glance.store.base import (BadLocation, Location, ObjectInfo, ObjectNotFound,
                               ReadIterator, Store)


class MemoryStore(Store):
    """Objects held in a dict; ETag is the md5 of the content, like Swift's.

    :param options: ``chunk_size`` only (default 1 MiB).
    :param name: the store name (default ``memory``).
    """

    schemes = ('memory',)

    def _configure(self, opts):
        self.objects = {}

    def _key(self, location):
        if location.netloc or not location.path.strip('/'):
            raise BadLocation(reason='expected memory:///<name>')
        return urllib.parse.unquote(location.path.lstrip('/'))

    def _stored(self, location):
        try:
            return self.objects[self._key(location)]
        except KeyError:
            raise self.error(ObjectNotFound, location) from None

    def head(self, location):
        """Return size and md5 ETag of a stored object.

        :raises ObjectNotFound: if it is not in :attr:`objects`.
        """
        loc = self.parse_location(location)
        data = self._stored(loc)
        return ObjectInfo(str(loc), len(data), hashlib.md5(data).hexdigest())

    def _open(self, location, offset, length):
        data = self._stored(location)
        end = len(data) if length is None else offset + length
        wanted = data[offset:end]
        body = io.BytesIO(wanted)
        return ReadIterator(self, location, body.read, len(wanted), body.close)

    def _write(self, location, source, size):
        key = self._key(location)
        data = b''.join(source)
        self.objects[key] = data
        return ObjectInfo(str(location), len(data), hashlib.md5(data).hexdigest())

    def _delete(self, location):
        self._stored(location)
        del self.objects[self._key(location)]

    def _object_location(self, quoted_name):
        return Location('memory', '', '/' + quoted_name)
