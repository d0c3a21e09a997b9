"""The image cache's on-disk state: complete entries, fills in progress, the queue.

Layout under ``image_cache_dir``::

    images/<id>         a complete, verified image
    images/<id>.json    its record (:class:`Entry`): digest, stat, hits, last access
    incomplete/<id>.*   fills in progress (never served as hits)
    queue/<id>          images queued for prefetch (empty files, oldest first)

An entry is a hit only while both files exist and the data file still has the size,
inode and mtime recorded when its digest was verified. The record is written after
the data file is renamed into place, so a crash between the two leaves a data file
without a record, which :meth:`CacheIndex.load` removes with any incomplete file.
The directory belongs to one glance-api process: it holds an exclusive ``flock`` on
``lock`` for its lifetime, and a second process pointed at it refuses to start.

The size cap counts complete entries plus the space reserved by fills in progress;
:meth:`CacheIndex.reserve` makes room by evicting the least recently used entries.
Unlinking an entry that is being served is safe: open files stay readable.
"""

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import time
import uuid

from glance.common import exception, metrics

LOG = logging.getLogger(__name__)

#: Free bytes a fill must leave on the cache's file system.
DISK_MARGIN = 64 * 1024 * 1024


@dataclasses.dataclass
class Entry:
    """One complete cached image.

    :param image_id: the image id (the file name).
    :param uri: the image's URI in its registry.
    :param size: bytes.
    :param algorithm: the digest algorithm verified at fill.
    :param digest: the registry's digest the data matched.
    :param inode: ``st_ino`` of the data file when verified.
    :param mtime_ns: ``st_mtime_ns`` of the data file when verified.
    :param verified_at: epoch seconds of the last full verification.
    :param hits: times served from the cache.
    :param last_access: epoch seconds of the last fill or hit.
    """

    image_id: str
    uri: str
    size: int
    algorithm: str
    digest: str
    inode: int
    mtime_ns: int
    verified_at: float
    hits: int = 0
    last_access: float = 0.0

    def matches(self, stat):
        """True when ``stat`` (an ``os.stat_result``) is the file verified at fill."""
        return (stat.st_size, stat.st_ino, stat.st_mtime_ns) == (
            self.size, self.inode, self.mtime_ns)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def valid_id(image_id):
    """True when ``image_id`` is safe as a file name in the cache directories."""
    return (isinstance(image_id, str) and bool(image_id) and '/' not in image_id
            and '\0' not in image_id and not image_id.startswith('.')
            and not image_id.endswith(('.json', '.tmp')))


class CacheIndex:
    """The cache directory and the in-memory index of its entries.

    :param directory: ``image_cache_dir``; created if missing.
    :param max_size: the most bytes of complete entries plus reservations.
    :raises ConfigError: when another process uses the directory.
    """

    def __init__(self, directory, max_size):
        self.directory = directory
        self.max_size = max_size
        self.images_dir = os.path.join(directory, 'images')
        self.incomplete_dir = os.path.join(directory, 'incomplete')
        self.queue_dir = os.path.join(directory, 'queue')
        for folder in (self.images_dir, self.incomplete_dir, self.queue_dir):
            os.makedirs(folder, exist_ok=True)
        self._lock = open(os.path.join(directory, 'lock'), 'a')
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise exception.ConfigError('image_cache_dir', 'DEFAULT',
                                        '%s is used by another glance-api process; '
                                        'give each its own' % directory)
        self.entries = {}
        self.reserved = 0
        self.load()

    # -- paths -----------------------------------------------------------------

    def data_path(self, image_id):
        """Path of the complete image's data file."""
        return os.path.join(self.images_dir, image_id)

    def _record_path(self, image_id):
        return os.path.join(self.images_dir, image_id + '.json')

    def incomplete_path(self, image_id):
        """A fresh path for a fill of ``image_id``."""
        return os.path.join(self.incomplete_dir, '%s.%s' % (image_id, uuid.uuid4().hex))

    # -- loading ---------------------------------------------------------------

    def load(self):
        """Rebuild the index from disk; remove incomplete, orphaned and changed files."""
        for name in os.listdir(self.incomplete_dir):
            _remove(os.path.join(self.incomplete_dir, name))
        self.entries = {}
        names = set(os.listdir(self.images_dir))
        for name in sorted(names):
            if not name.endswith('.json'):
                continue
            entry = self._read_record(name[:-len('.json')])
            if entry is None:
                _remove(os.path.join(self.images_dir, name))
                continue
            self.entries[entry.image_id] = entry
        for name in names:
            if not name.endswith('.json') and name not in self.entries:
                LOG.info('Image cache: removing %s, which has no valid record', name)
                _remove(os.path.join(self.images_dir, name))

    def _read_record(self, image_id):
        try:
            with open(self._record_path(image_id), encoding='utf-8') as record:
                entry = Entry(**json.load(record))
            stat = os.stat(self.data_path(image_id))
        except (OSError, ValueError, TypeError) as err:
            LOG.info('Image cache: dropping %s: %s', image_id, err)
            return None
        if entry.image_id != image_id or not entry.matches(stat):
            LOG.info('Image cache: dropping %s: its file changed since it was verified',
                     image_id)
            return None
        return entry

    # -- entries -----------------------------------------------------------------

    def get(self, image_id):
        """The :class:`Entry` of ``image_id``, or None."""
        return self.entries.get(image_id)

    def used(self):
        """Bytes held by complete entries."""
        return sum(entry.size for entry in self.entries.values())

    def reserve(self, size):
        """Reserve room for a fill of ``size`` bytes, evicting LRU entries if needed.

        :returns: True when reserved; False when the image cannot fit (larger than
            the cap, the room is held by fills in progress, or the disk lacks the
            space: a fill that ran out of disk would cut its readers' downloads).
        """
        if size > self.max_size or shutil.disk_usage(self.directory).free < (
                self.reserved + size + DISK_MARGIN):
            return False
        by_age = sorted(self.entries.values(), key=lambda entry: entry.last_access)
        while self.used() + self.reserved + size > self.max_size and by_age:
            victim = by_age.pop(0)
            LOG.info('Image cache: evicting %s (%d bytes, last used %s)',
                     victim.image_id, victim.size, time.ctime(victim.last_access))
            self.drop(victim.image_id)
            metrics.CACHE_EVICTIONS.inc()
        if self.used() + self.reserved + size > self.max_size:
            return False
        self.reserved += size
        return True

    def release(self, size):
        """Give back a reservation made by :meth:`reserve`."""
        self.reserved -= size

    def commit(self, image, path, digest):
        """Make a verified fill a complete entry.

        :param image: the registry record the fill was made from.
        :param path: the incomplete file, fully written and verified.
        :param digest: ``(algorithm, hexdigest)`` it matched.
        :returns: the new :class:`Entry`.
        """
        image_id = image['id']
        target = self.data_path(image_id)
        os.replace(path, target)
        stat = os.stat(target)
        now = time.time()
        entry = Entry(image_id, image.get('uri') or '', stat.st_size, digest[0],
                      digest[1], stat.st_ino, stat.st_mtime_ns, now, 0, now)
        self.entries[image_id] = entry
        self.save(entry)
        return entry

    def save(self, entry):
        """Write an entry's record (atomically)."""
        path = self._record_path(entry.image_id)
        temporary = path + '.tmp'
        with open(temporary, 'w', encoding='utf-8') as record:
            json.dump(dataclasses.asdict(entry), record)
        os.replace(temporary, path)

    def touch(self, entry):
        """Count a hit on ``entry`` and make it the most recently used."""
        entry.hits += 1
        entry.last_access = time.time()
        self.save(entry)

    def drop(self, image_id):
        """Remove an entry and its files (no-op for an unknown id).

        :returns: True when there was an entry.
        """
        entry = self.entries.pop(image_id, None)
        _remove(self._record_path(image_id))
        _remove(self.data_path(image_id))
        return entry is not None

    # -- prefetch queue --------------------------------------------------------

    def enqueue(self, image_id):
        """Queue an image for prefetch (idempotent).

        :raises ValueError: for an id that cannot be a file name.
        """
        if not valid_id(image_id):
            raise ValueError('not an image id: %r' % image_id)
        with open(os.path.join(self.queue_dir, image_id), 'a'):
            pass

    def queued(self):
        """Ids queued for prefetch, oldest first, as ``[(image_id, queued_at)]``."""
        items = []
        for name in os.listdir(self.queue_dir):
            try:
                items.append((name, os.stat(os.path.join(self.queue_dir, name)).st_mtime))
            except FileNotFoundError:
                continue
        return sorted(items, key=lambda item: item[1])

    def dequeue(self, image_id):
        """Remove an image from the prefetch queue.

        :returns: True when it was queued.
        """
        if not valid_id(image_id):
            return False
        try:
            os.unlink(os.path.join(self.queue_dir, image_id))
        except FileNotFoundError:
            return False
        return True
