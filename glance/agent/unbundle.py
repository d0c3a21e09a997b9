"""Unpack a fetched image bundle safely: tar, tar.gz (tgz), gzip, zip, or raw.

The format comes from the image's ``container_format`` or ``disk_format`` when either
names an archive, else from the file's magic bytes (see :func:`detect_format`).

Safety rules, all enforced while streaming (no archive or member is read whole into
memory):

* every member lands inside the destination: absolute names, ``..`` components,
  symbolic links leading outside (when created, or later through another member) and
  hard links to anything but a file unpacked before them are refused;
* device files, fifos, sockets and other special members are refused;
* :class:`Limits` caps the unpacked bytes and the number of members (archive bombs);
  for zip the declared sizes are checked first, then the actual bytes are counted;
* set-user-id, set-group-id and sticky bits are dropped and ownership is not restored;
* the result appears atomically: members go into a temporary directory beside the
  destination, renamed into place only when the whole archive passed. A refused or
  broken archive leaves nothing behind and the error names the offending member.
"""

import dataclasses
import gzip
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib

from glance.common import exception

BLOCK_SIZE = 64 * 1024
DEFAULT_MAX_SIZE = 64 * 1024 ** 3
DEFAULT_MAX_MEMBERS = 10000
FORMATS = ('tar', 'tgz', 'gzip', 'zip', 'raw')
_ARCHIVE_NAMES = {'tar': 'tar', 'ova': 'tar', 'tgz': 'tgz', 'tar.gz': 'tgz',
                  'gzip': 'gzip', 'gz': 'gzip', 'zip': 'zip'}
# Container formats that say "not an archive": a kernel (aki) or a ramdisk (ari) may
# well start with gzip magic and must still be left as it is.
_NOT_ARCHIVES = frozenset(('bare', 'aki', 'ari', 'ami'))
_MAX_LINK_TARGET = 4096


class UnbundleError(exception.GlanceException):
    """The bundle cannot be unpacked (not a valid archive, or the disk failed)."""

    template = 'cannot unbundle: %(reason)s'


class UnsafeArchive(UnbundleError):
    """A member breaks a safety rule; nothing was unpacked.

    :ivar member: the offending member's name as written in the archive.
    :ivar reason: which rule it breaks.
    """

    template = 'refused archive member %(member)r: %(reason)s; nothing was unpacked'

    def __init__(self, member, reason):
        super().__init__(member=member, reason=reason)
        self.member = member
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Limits:
    """Caps against archive bombs.

    :param max_size: most bytes all members together may unpack to.
    :param max_members: most members (files, directories, links) an archive may hold.
    """

    max_size: int = DEFAULT_MAX_SIZE
    max_members: int = DEFAULT_MAX_MEMBERS


@dataclasses.dataclass(frozen=True)
class UnbundleResult:
    """What :func:`unbundle` produced.

    :param path: the unpacked directory (tar, tgz, zip), the decompressed file (gzip),
        or the untouched source (raw).
    :param format: one of :data:`FORMATS`.
    :param members: number of members unpacked (1 for gzip and raw).
    :param size: bytes unpacked (the source size for raw).
    """

    path: str
    format: str
    members: int
    size: int


def _is_tar_header(block):
    return len(block) >= 262 and block[257:262] == b'ustar'


def sniff(source):
    """Guess a bundle's format from its first bytes.

    :param source: path of the bundle.
    :returns: ``zip``, ``tgz`` (gzip holding a tar), ``gzip``, ``tar`` or ``raw``.
    """
    with open(source, 'rb') as data:
        head = data.read(512)
    if head.startswith((b'PK\x03\x04', b'PK\x05\x06')):
        return 'zip'
    if head.startswith(b'\x1f\x8b'):
        try:
            with gzip.open(source, 'rb') as data:
                inner = data.read(512)
        except (OSError, EOFError, zlib.error):
            inner = b''
        return 'tgz' if _is_tar_header(inner) else 'gzip'
    return 'tar' if _is_tar_header(head) else 'raw'


def detect_format(source, container_format=None, disk_format=None):
    """Choose how to unpack a bundle.

    A ``container_format`` or ``disk_format`` naming an archive (``tar``, ``ova``,
    ``tgz``, ``tar.gz``, ``gzip``, ``gz``, ``zip``) wins; a container format that means
    "no archive" (``bare``, ``aki``, ``ari``, ``ami``) gives ``raw``; otherwise the
    magic bytes decide (:func:`sniff`).

    :param source: path of the bundle.
    :returns: one of :data:`FORMATS`.
    """
    for declared in (container_format, disk_format):
        fmt = _ARCHIVE_NAMES.get((declared or '').lower())
        if fmt:
            return fmt
    if (container_format or '').lower() in _NOT_ARCHIVES:
        return 'raw'
    return sniff(source)


def _split(name):
    """Return the components of an archive path; ValueError says why it is unsafe."""
    if '\x00' in name:
        raise ValueError('the name holds a NUL byte')
    if name.startswith('/'):
        raise ValueError('absolute path')
    parts = [part for part in name.split('/') if part not in ('', '.')]
    if '..' in parts:
        raise ValueError('the path climbs out with ".."')
    return parts


class _Extraction:
    """Members written one by one into a private temporary directory beside ``dest``.

    Every write first resolves the real path of the member's parent, so a symbolic
    link unpacked earlier can never redirect it outside; :meth:`finish` checks every
    link once more, as a later member can change where an earlier link leads.
    """

    def __init__(self, dest, limits):
        self.dest = dest
        self.limits = limits
        self.root = os.path.realpath(tempfile.mkdtemp(
            prefix='.%s.' % os.path.basename(dest), suffix='.unbundle',
            dir=os.path.dirname(dest)))
        self.members = 0
        self.size = 0
        self.current = None
        self._dir_modes = {}

    def refuse(self, member, reason):
        """Stop the whole extraction because of one member."""
        raise UnsafeArchive(member, reason)

    def _inside(self, path):
        return path == self.root or path.startswith(self.root + os.sep)

    def _parts(self, name):
        self.current = name
        self.members += 1
        if self.members > self.limits.max_members:
            self.refuse(name, 'the archive has more than %d members (max_members)'
                        % self.limits.max_members)
        try:
            return _split(name)
        except ValueError as err:
            self.refuse(name, str(err))

    def _parent(self, name, parts):
        """Create the member's missing parent directories; return the real parent."""
        path = self.root
        for part in parts[:-1]:
            path = os.path.join(path, part)
            if not os.path.lexists(path):
                os.mkdir(path, 0o700)
            path = os.path.realpath(path)
            if not self._inside(path):
                self.refuse(name, 'a symbolic link in its path leads outside the '
                            'destination')
            if not os.path.isdir(path):
                self.refuse(name, 'a component of its path is not a directory')
        return path

    def _target(self, name, parts):
        """Return where the member goes, after removing an earlier non-directory."""
        if not parts:
            self.refuse(name, 'the name is empty')
        path = os.path.join(self._parent(name, parts), parts[-1])
        if os.path.isdir(path) and not os.path.islink(path):
            self.refuse(name, 'it would replace a directory')
        if os.path.lexists(path):
            os.unlink(path)
        return path

    def check_declared(self, entries):
        """Refuse early from a table of contents (zip): member count and sizes.

        :param entries: ``(name, declared_size)`` pairs in archive order.
        """
        total = 0
        for index, (name, size) in enumerate(entries, 1):
            total += size
            if index > self.limits.max_members:
                self.refuse(name, 'the archive has more than %d members (max_members)'
                            % self.limits.max_members)
            if total > self.limits.max_size:
                self.refuse(name, 'declared sizes unpack past %d bytes (max_size)'
                            % self.limits.max_size)

    def add_dir(self, name, mode):
        """Create a directory member; its mode is applied in :meth:`finish`."""
        parts = self._parts(name)
        if not parts:
            return
        path = os.path.join(self._parent(name, parts), parts[-1])
        if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
            os.unlink(path)
        if not os.path.isdir(path):
            os.mkdir(path, 0o700)
        self._dir_modes[path] = (mode & 0o777) | 0o700

    def add_file(self, name, data, mode, declared=None, mtime=None):
        """Copy a regular file member from ``data`` in blocks, counting every byte.

        :param data: a binary file object positioned at the member's content.
        :param declared: the size the archive announces, or None.
        """
        parts = self._parts(name)
        if declared is not None and self.size + declared > self.limits.max_size:
            self.refuse(name, 'it unpacks past %d bytes (max_size)' % self.limits.max_size)
        path = self._target(name, parts)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        written = 0
        with os.fdopen(os.open(path, flags, 0o600), 'wb') as out:
            while True:
                block = data.read(BLOCK_SIZE)
                if not block:
                    break
                written += len(block)
                self.size += len(block)
                if declared is not None and written > declared:
                    self.refuse(name, 'it holds more than its declared %d bytes' % declared)
                if self.size > self.limits.max_size:
                    self.refuse(name, 'it unpacks past %d bytes (max_size)'
                                % self.limits.max_size)
                out.write(block)
            os.fchmod(out.fileno(), mode & 0o777)
        if mtime is not None:
            os.utime(path, (mtime, mtime))

    def add_symlink(self, name, target):
        """Create a relative symbolic link that resolves inside the destination."""
        parts = self._parts(name)
        if not target or '\x00' in target:
            self.refuse(name, 'symbolic link with an empty or NUL-holding target')
        if target.startswith('/'):
            self.refuse(name, 'symbolic link to the absolute path %r' % target)
        path = self._target(name, parts)
        if not self._inside(os.path.realpath(os.path.join(os.path.dirname(path), target))):
            self.refuse(name, 'symbolic link leads outside the destination (-> %r)' % target)
        os.symlink(target, path)

    def add_hardlink(self, name, target):
        """Create a hard link to a regular file unpacked earlier from this archive."""
        parts = self._parts(name)
        try:
            source = os.path.realpath(os.path.join(self.root, *_split(target)))
        except ValueError as err:
            self.refuse(name, 'hard link target %r: %s' % (target, err))
        if not self._inside(source):
            self.refuse(name, 'hard link leads outside the destination (-> %r)' % target)
        if not os.path.isfile(source):
            self.refuse(name, 'hard link to %r, which is not a file unpacked before it'
                        % target)
        os.link(source, self._target(name, parts), follow_symlinks=False)

    def finish(self, single=None):
        """Check every link once more, apply directory modes, then rename into place.

        :param single: name of the one member that becomes ``dest`` itself (gzip);
            by default the whole directory becomes ``dest``.
        """
        for folder, dirnames, filenames in os.walk(self.root):
            for entry in dirnames + filenames:
                path = os.path.join(folder, entry)
                if os.path.islink(path) and not self._inside(os.path.realpath(path)):
                    self.refuse(os.path.relpath(path, self.root),
                                'symbolic link leads outside the destination '
                                '(through a later member)')
        for path, mode in sorted(self._dir_modes.items(), reverse=True):
            os.chmod(path, mode)
        if single is None:
            os.chmod(self.root, 0o755)
            os.rename(self.root, self.dest)
        else:
            os.rename(os.path.join(self.root, single), self.dest)
            os.rmdir(self.root)

    def abort(self):
        """Remove everything unpacked so far."""
        shutil.rmtree(self.root, ignore_errors=True)


def _unpack_tar(source, extraction, fmt):
    with open(source, 'rb') as raw:
        try:
            with tarfile.open(fileobj=raw, mode='r|gz' if fmt == 'tgz' else 'r|') as tar:
                for member in tar:
                    _add_tar_member(extraction, tar, member)
        except (tarfile.TarError, EOFError, zlib.error) as err:
            raise UnbundleError(reason='not a valid %s archive (%s)' % (fmt, err))


def _add_tar_member(extraction, tar, member):
    name = member.name
    if member.isdir():
        extraction.add_dir(name, member.mode)
    elif member.isreg():
        with tar.extractfile(member) as data:
            extraction.add_file(name, data, member.mode, member.size, member.mtime)
    elif member.issym():
        extraction.add_symlink(name, member.linkname)
    elif member.islnk():
        extraction.add_hardlink(name, member.linkname)
    elif member.ischr() or member.isblk():
        extraction.refuse(name, 'device file')
    elif member.isfifo():
        extraction.refuse(name, 'fifo')
    else:
        extraction.refuse(name, 'unsupported member type %r' % member.type)


def _unpack_zip(source, extraction):
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            extraction.check_declared(
                [(info.filename, info.file_size) for info in infos])
            for info in infos:
                _add_zip_member(extraction, archive, info)
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as err:
        raise UnbundleError(reason='not a valid zip archive (%s)' % err)


def _add_zip_member(extraction, archive, info):
    # The zip format mandates "/"; a backslash only comes from tools that meant one.
    name = info.filename.replace('\\', '/')
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    if info.flag_bits & 0x1:
        extraction.refuse(name, 'encrypted member')
    if stat.S_ISLNK(mode):
        with archive.open(info) as data:
            target = data.read(_MAX_LINK_TARGET + 1)
        if len(target) > _MAX_LINK_TARGET:
            extraction.refuse(name, 'symbolic link target longer than %d bytes'
                              % _MAX_LINK_TARGET)
        extraction.add_symlink(name, target.decode('utf-8', 'surrogateescape'))
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        extraction.refuse(name, 'device file')
    elif stat.S_ISFIFO(mode):
        extraction.refuse(name, 'fifo')
    elif stat.S_ISSOCK(mode):
        extraction.refuse(name, 'socket')
    elif info.is_dir():
        extraction.add_dir(name, mode or 0o755)
    else:
        with archive.open(info) as data:
            extraction.add_file(name, data, (mode & 0o777) or 0o644, info.file_size)


def _unpack_gzip(source, extraction, name):
    try:
        with gzip.open(source, 'rb') as data:
            extraction.add_file(name, data, 0o644)
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise UnbundleError(reason='not a valid gzip file (%s)' % err)


def unbundle(source, dest, container_format=None, disk_format=None, limits=None,
             fmt=None):
    """Unpack the bundle at ``source`` into the new path ``dest``, safely and atomically.

    ``dest`` appears only when everything passed: for tar, tgz and zip as a directory
    holding the members, for gzip as the decompressed file. A raw bundle is left as it
    is and nothing is created.

    :param source: path of the downloaded bundle.
    :param dest: path to create; it must not exist, and its folder holds the temporary
        directory (same file system, so the final rename is atomic).
    :param container_format: the image's ``container_format``, if known.
    :param disk_format: the image's ``disk_format``, if known.
    :param limits: :class:`Limits` (default: 64 GiB and 10000 members).
    :param fmt: force a format from :data:`FORMATS` instead of detecting it.
    :returns: an :class:`UnbundleResult`.
    :raises UnsafeArchive: a member breaks a rule; the message names it.
    :raises UnbundleError: not a valid archive, ``dest`` exists, or a write failed.
    :raises OSError: when ``source`` cannot be read.
    """
    limits = limits or Limits()
    source_size = os.path.getsize(source)
    fmt = fmt or detect_format(source, container_format, disk_format)
    if fmt not in FORMATS:
        raise UnbundleError(reason='unknown format %r; use one of %s'
                            % (fmt, ', '.join(FORMATS)))
    if fmt == 'raw':
        return UnbundleResult(source, 'raw', 1, source_size)
    dest = os.path.abspath(dest)
    if os.path.lexists(dest):
        raise UnbundleError(reason='%s already exists' % dest)
    extraction = _Extraction(dest, limits)
    done = False
    try:
        if fmt == 'zip':
            _unpack_zip(source, extraction)
            extraction.finish()
        elif fmt == 'gzip':
            name = os.path.basename(dest)
            _unpack_gzip(source, extraction, name)
            extraction.finish(single=name)
        else:
            _unpack_tar(source, extraction, fmt)
            extraction.finish()
        done = True
    except OSError as err:
        raise UnbundleError(reason='cannot write member %r: %s'
                            % (extraction.current, err.strerror or err))
    finally:
        if not done:
            extraction.abort()
    return UnbundleResult(dest, fmt, extraction.members, extraction.size)
