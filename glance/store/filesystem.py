"""The ``file://`` store: each object is one file under a configured directory.

Locations look like ``file:///var/lib/glance/images/<image>-00000``. Every location,
read or write, must lie inside ``filesystem_store_datadir``: a registered location
cannot make Teller serve an arbitrary file of the host.

=========================  ==========  ==========================================
option ([store:file])      default     meaning
=========================  ==========  ==========================================
filesystem_store_datadir   (required)  absolute directory holding the objects
chunk_size                 1M          bytes read per iteration
=========================  ==========  ==========================================

**ETag.** Hashing the content would make every ``head`` read the whole file, so the
ETag is the hex BLAKE2b (16 bytes) of ``device:inode:size:mtime_ns`` instead. It is
cheap, and a change of content changes it: :meth:`FilesystemStore.add` writes a new
file (new inode) and renames it into place, and an edit in place changes the size or
the nanosecond mtime. Copying the directory elsewhere changes every ETag.
"""

import datetime
import hashlib
import logging
import os
import stat
import tempfile
import urllib.parse

from glance.store.base import (BadLocation, BadStoreConfiguration, Location,
                               ObjectInfo, ObjectNotFound, ReadIterator, Store,
                               StoreIOError)

LOG = logging.getLogger(__name__)


class FilesystemStore(Store):
    """Objects as files in ``filesystem_store_datadir``.

    Reads seek to the offset; writes go to a temporary file in the same directory,
    which is fsynced and then renamed over the target, so a reader never sees a
    partial object.

    :param options: the ``[store:file]`` options.
    :param name: the store name (default ``file``).
    :raises BadStoreConfiguration: if the data directory is missing or relative.
    """

    schemes = ('file',)

    def _configure(self, opts):
        datadir = self._required(opts, 'filesystem_store_datadir')
        if not os.path.isabs(datadir):
            raise BadStoreConfiguration(self.name, 'filesystem_store_datadir',
                                        'must be an absolute path')
        self.datadir = os.path.normpath(datadir)

    def _path(self, location):
        """Map a location to a file path inside the data directory.

        :raises BadLocation: for a remote host, a query, or a path outside the
            data directory.
        """
        if location.netloc not in ('', 'localhost') or location.query:
            raise BadLocation(reason='file locations are local paths without a query')
        path = os.path.normpath(urllib.parse.unquote(location.path))
        if path == self.datadir or os.path.commonpath((path, self.datadir)) != self.datadir:
            raise BadLocation(reason='file location %s is outside the data directory of '
                                     'store %s' % (path, self.name))
        return path

    def _os_error(self, location, err):
        """Translate an OSError into ObjectNotFound or StoreIOError."""
        if isinstance(err, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
            return self.error(ObjectNotFound, location)
        return self.error(StoreIOError, location, err.strerror or type(err).__name__)

    def _info(self, location, st):
        token = '%d:%d:%d:%d' % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        etag = hashlib.blake2b(token.encode('ascii'), digest_size=16).hexdigest()
        modified = datetime.datetime.fromtimestamp(st.st_mtime_ns / 1e9,
                                                   tz=datetime.timezone.utc)
        return ObjectInfo(str(location), st.st_size, etag, modified)

    def head(self, location):
        """Stat the file; see the module docstring for what the ETag means.

        :param location: a ``file://`` location inside the data directory.
        :returns: :class:`~glance.store.base.ObjectInfo`.
        :raises ObjectNotFound: if there is no regular file there.
        """
        loc = self.parse_location(location)
        try:
            st = os.stat(self._path(loc))
        except OSError as err:
            raise self._os_error(loc, err) from None
        if not stat.S_ISREG(st.st_mode):
            raise self.error(ObjectNotFound, loc)
        return self._info(loc, st)

    def _open(self, location, offset, length):
        try:
            # Unbuffered: each read is one read(2) of at most chunk_size bytes.
            handle = open(self._path(location), 'rb', buffering=0)
        except OSError as err:
            raise self._os_error(location, err) from None
        try:
            size = os.fstat(handle.fileno()).st_size
            start = min(offset, size)
            end = size if length is None else min(size, offset + length)
            handle.seek(start)
        except OSError as err:
            handle.close()
            raise self._os_error(location, err) from None
        return ReadIterator(self, location, handle.read, end - start, handle.close,
                            errors=(OSError,))

    def _write(self, location, source, size):
        path = self._path(location)
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix='.', suffix='.tmp')
        except OSError as err:
            raise self._os_error(location, err) from None
        try:
            with os.fdopen(fd, 'wb') as handle:
                for chunk in source:
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
                st = os.fstat(handle.fileno())
            os.replace(tmp, path)
            _fsync_directory(directory)
        # Deliberate cleanup of the temporary file, then re-raise.
        except BaseException as err:
            _unlink_quietly(tmp)
            if isinstance(err, OSError):
                raise self.error(StoreIOError, location,
                                 err.strerror or type(err).__name__) from err
            raise
        return self._info(location, st)

    def _delete(self, location):
        try:
            os.unlink(self._path(location))
        except OSError as err:
            raise self._os_error(location, err) from None

    def _object_location(self, quoted_name):
        return Location('file', '', urllib.parse.quote(self.datadir) + '/' + quoted_name)


def _fsync_directory(path):
    """Make a rename in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path):
    """Best-effort removal of a temporary file; a failure is logged, not raised."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        LOG.warning('Could not remove temporary file %s: %s', path,
                    err.strerror or type(err).__name__)
