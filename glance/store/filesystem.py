"""The ``file://`` store: each object is one file under a configured directory.

Locations look like ``file:///var/lib/glance/images/<image>-00000``. Every location,
read or write, must lie inside ``filesystem_store_datadir``: a registered location
cannot make Teller serve an arbitrary file of the host. The check is made on the real
path, after percent-decoding, ``..`` and every symlink are resolved, each time a
location is used (registration, HEAD, read, delete); a read also checks the file it
actually opened (through ``/proc/self/fd``), so a directory swapped for a symlink
between the check and the ``open`` is caught too. Only regular files are served.

=========================  ==========  ==========================================
option ([store:file])      default     meaning
=========================  ==========  ==========================================
filesystem_store_datadir   (required)  absolute directory holding the objects
chunk_size                 1M          bytes read per iteration
filesystem_store_direct_io true        write with ``O_DIRECT`` (see below)
=========================  ==========  ==========================================

**Writes.** :meth:`FilesystemStore.add` writes a temporary file beside the object,
fsyncs it, renames it into place and fsyncs the directory; every one of these disk
calls runs in a :class:`~glance.common.offload.Worker` thread, so the hub only reads
the source. With ``filesystem_store_direct_io`` the data goes out in aligned
``O_DIRECT`` writes (the last partial block without it), bypassing the page cache;
a file system that refuses ``O_DIRECT`` gets plain writes.

**ETag.** Hashing the content would make every ``head`` read the whole file, so the
ETag is the hex BLAKE2b (16 bytes) of ``device:inode:size:mtime_ns`` instead. It is
cheap, and a change of content changes it: :meth:`FilesystemStore.add` writes a new
file (new inode) and renames it into place, and an edit in place changes the size or
the nanosecond mtime. Copying the directory elsewhere changes every ETag.
"""

import datetime
import errno
import fcntl
import hashlib
import logging
import mmap
import os
import stat
import tempfile
import urllib.parse

import eventlet.patcher

from glance.common import offload
from glance.store.base import (BadLocation, BadStoreConfiguration, Location,
                               ObjectInfo, ObjectNotFound, ReadIterator, Store,
                               StoreIOError)

LOG = logging.getLogger(__name__)

# The unpatched os: writes run in an OS thread, not through eventlet's green os.
_os = eventlet.patcher.original('os')

#: Offsets, lengths and buffer addresses of O_DIRECT writes are multiples of this
#: (the largest logical block size of common disks).
DIRECT_ALIGNMENT = 4096
#: Bytes of each O_DIRECT write (a multiple of DIRECT_ALIGNMENT).
DIRECT_BUFFER = 1024 * 1024


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
        self._real_datadir = os.path.realpath(self.datadir)
        self.direct_io = opts.get_bool('filesystem_store_direct_io', True)

    def _outside(self, location):
        return BadLocation(reason='file location %s is outside the data directory of '
                                  'store %s' % (location.label, self.name))

    def _confined(self, path):
        """True when the real path ``path`` names an entry inside the data directory."""
        return (path != self._real_datadir
                and os.path.commonpath((path, self._real_datadir)) == self._real_datadir)

    def _path(self, location):
        """Map a location to the real path of its file inside the data directory.

        :raises BadLocation: for a remote host, a query, a NUL byte, or a path whose
            real location (``..`` and symlinks resolved) is outside the data
            directory.
        """
        if location.netloc not in ('', 'localhost') or location.query:
            raise BadLocation(reason='file locations are local paths without a query')
        path = urllib.parse.unquote(location.path)
        if '\0' in path or not os.path.isabs(path):
            raise BadLocation(reason='file location %s is not an absolute path'
                                     % location.label)
        real = os.path.realpath(path)
        if not self._confined(real):
            raise self._outside(location)
        return real

    def _open_file(self, location):
        """Open a location's regular file for reading, confined to the data directory.

        :returns: a raw, unbuffered binary file object.
        :raises BadLocation: when the path, or the file actually opened, lies outside
            the data directory.
        :raises ObjectNotFound: when there is no regular file there.
        """
        path = self._path(location)
        try:
            # O_NOFOLLOW: the resolved path must not have become a symlink since;
            # O_NONBLOCK: a FIFO put in the directory must not hang the open.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise self._outside(location) from None
            raise self._os_error(location, err) from None
        try:
            opened = _opened_path(fd)
            if opened is not None and not self._confined(opened):
                raise self._outside(location)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self.error(ObjectNotFound, location)
            os.set_blocking(fd, True)
        # Deliberate cleanup of the descriptor, then re-raise.
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, 'rb', buffering=0)

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
        :raises BadLocation: if it is not inside the data directory.
        """
        loc = self.parse_location(location)
        with self._open_file(loc) as handle:
            try:
                return self._info(loc, os.fstat(handle.fileno()))
            except OSError as err:
                raise self._os_error(loc, err) from None

    def open_local(self, location):
        """Open the object's file, confined like every read (see the module docstring).

        :param location: a ``file://`` location inside the data directory.
        :returns: an unbuffered binary file (the caller closes it).
        :raises ObjectNotFound: if there is no regular file there.
        :raises BadLocation: if it is not inside the data directory.
        """
        return self._open_file(self.parse_location(location))

    def _open(self, location, offset, length):
        handle = self._open_file(location)
        try:
            size = os.fstat(handle.fileno()).st_size
            start = min(offset, size)
            end = size if length is None else min(size, offset + length)
            handle.seek(start)
        except OSError as err:
            handle.close()
            raise self._os_error(location, err) from None
        # Unbuffered: each read is one read(2) of at most chunk_size bytes.
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
        # Every disk call runs in the writer's OS thread, in order: the hub only
        # reads the source (the request body) and never waits on the disk.
        writer = None
        try:
            try:
                writer = offload.Worker('write-file')
                output = _DirectOutput(fd) if self.direct_io else _BufferedOutput(fd)
                for chunk in source:
                    writer.submit(output.write, chunk)
                writer.submit(output.finish)
                writer.submit(os.fsync, fd)
                writer.wait()
                st = os.fstat(fd)
                writer.submit(os.replace, tmp, path)
                writer.submit(_fsync_directory, directory)
                writer.wait()
            finally:
                # The thread must be done with the descriptor before it is closed.
                if writer is not None:
                    writer.close(join=True)
                os.close(fd)
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


def _opened_path(fd):
    """The real path of an open descriptor, or None where /proc is not mounted."""
    try:
        return os.readlink('/proc/self/fd/%d' % fd)
    except OSError:
        return None


def _write_all(fd, data):
    """Write all of ``data`` to ``fd`` (in the writer's thread, with the real os)."""
    view = memoryview(data)
    while view:
        view = view[_os.write(fd, view):]


class _BufferedOutput:
    """Plain writes through the page cache (``filesystem_store_direct_io = false``)."""

    def __init__(self, fd):
        self.fd = fd

    def write(self, data):
        """Write ``data`` after what was written before."""
        _write_all(self.fd, data)

    def finish(self):
        """Nothing is held back."""


class _DirectOutput(_BufferedOutput):
    """Writes that bypass the page cache (``O_DIRECT``) where the file system allows.

    Data is copied into a page-aligned buffer of :data:`DIRECT_BUFFER` bytes and
    written in whole buffers; :meth:`finish` writes the aligned part of what is left,
    then the last partial block without ``O_DIRECT``. Where the file system refuses
    ``O_DIRECT`` (``EINVAL``), every write from then on goes through the page cache.
    """

    def __init__(self, fd):
        super().__init__(fd)
        self._buffer = mmap.mmap(-1, DIRECT_BUFFER)
        self._pending = 0
        self.direct = self._set_direct(True)

    def _set_direct(self, direct):
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        flags = flags | os.O_DIRECT if direct else flags & ~os.O_DIRECT
        try:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags)
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            return False
        return direct

    def _flush(self, length):
        """Write the first ``length`` pending bytes; keep the rest at the start."""
        try:
            _write_all(self.fd, memoryview(self._buffer)[:length])
        except OSError as err:
            if not self.direct or err.errno != errno.EINVAL:
                raise
            self.direct = self._set_direct(False)
            _write_all(self.fd, memoryview(self._buffer)[:length])
        self._buffer.move(0, length, self._pending - length)
        self._pending -= length

    def write(self, data):
        """Copy ``data`` into the buffer, writing each buffer as it fills."""
        if not self.direct:
            _write_all(self.fd, data)
            return
        view = memoryview(data)
        while view:
            count = min(len(view), DIRECT_BUFFER - self._pending)
            self._buffer[self._pending:self._pending + count] = view[:count]
            self._pending += count
            view = view[count:]
            if self._pending == DIRECT_BUFFER:
                self._flush(DIRECT_BUFFER)

    def finish(self):
        """Write what the buffer still holds and release it."""
        aligned = self._pending - self._pending % DIRECT_ALIGNMENT
        if aligned:
            self._flush(aligned)
        if self._pending:
            self.direct = self._set_direct(False)
            self._flush(self._pending)
        self._buffer.close()


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
