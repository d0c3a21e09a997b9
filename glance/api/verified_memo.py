"""The per-worker memo of chunk files already verified whole: hashed once, trusted
while their identity stays the same.

Hashing every byte of every zero-copy download costs more CPU than the send itself
(bench/README.md). So once a :class:`~glance.common.streaming.FileGuard` has seen an
image's chunk files hash to the registry's digest, unchanged before and after, the
worker remembers ``(image id, algorithm, digest) -> identities``: for each chunk
file its device, inode, size, mtime and ctime (nanoseconds) and the range sent. A
later download whose files ``fstat`` to exactly those identities, against the same
registry digest, is sent without hashing; its guard still compares the identities
again before the held-back end goes out. Every write changes a file's mtime and
ctime, and no unprivileged user can set ctime back, so an edited or rewritten
chunk is hashed again. Bit rot beneath the file system changes no metadata: it is
caught only by a worker's first download of the image (README.rst, "Zero-copy
downloads from the file store").

The memo is a bounded LRU (``verified_files_memo_size`` entries, 0: off). It lives
in one process and is used from its hub's thread only, so it takes no lock.
"""

import collections

from glance.common import metrics


class VerifiedMemo:
    """An LRU of verified chunk-file identities, keyed by image and digest.

    :param size: the most entries kept; 0 keeps none (every download hashes).
    """

    def __init__(self, size):
        self.size = size
        self._entries = collections.OrderedDict()

    def trusts(self, key, identities):
        """Say whether ``identities`` are exactly those verified for ``key``.

        :param key: ``(image id, algorithm, hexdigest)``.
        :param identities: the files' identities now, as the guard notes them.
        :returns: True (and the entry becomes the most recently used) on a match.
        """
        if self._entries.get(key) != identities:
            return False
        self._entries.move_to_end(key)
        metrics.VERIFIED_BY_MEMO.inc()
        return True

    def remember(self, key, identities):
        """Record that the files of ``identities`` hashed to ``key``'s digest."""
        if self.size <= 0:
            return
        self._entries[key] = identities
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key):
        """Drop ``key``'s entry, if any (its files changed or failed the digest)."""
        self._entries.pop(key, None)

    def __len__(self):
        return len(self._entries)
