"""Download verification: the image's size and every digest glance-api announces.

glance-api sends the record's digests with a download (``x-image-meta-checksum``
(md5), ``x-image-meta-sha256``, ``x-image-meta-blake3``), an ETag that is the md5,
and ``X-Image-Meta-Verified`` naming the digest it checked the body against on its
side (:func:`glance.api.download.verified_by`). The client checks the bytes it
received against each announced digest, and their count against the recorded size,
so a store or a proxy that changed the bytes is caught at the end of the body. A
response whose ``X-Image-Meta-Verified`` names a digest it does not announce is
inconsistent and refused: the client always checks at least what glance-api checked.
"""

import functools
import hashlib
import re

import blake3

from glance.common import exception

#: Digests a download is checked against: (record field, algorithm, hasher).
DIGESTS = (('checksum', 'md5', functools.partial(hashlib.md5, usedforsecurity=False)),
           ('sha256', 'sha256', hashlib.sha256),
           ('blake3', 'blake3', blake3.blake3))
_MD5 = re.compile(r'^[0-9a-f]{32}$')


def strong_etag(etag):
    """The ETag as sent when it is a strong ASCII one (usable for If-Range), else None."""
    return etag if etag and not etag.startswith('W/') and etag.isascii() else None


class Verifier:
    """Hash a download's bytes and check them against glance-api's record.

    :param metadata: the image record from the response headers
        (:func:`glance.client.codec.image_metadata`).
    :param etag: the response's ETag (an md5 when strong and 32 hex digits).
    :param server_verified: the response's ``X-Image-Meta-Verified`` (``blake3``,
        ``sha256``, ``md5`` or ``none``), or None when glance-api sent none.
    """

    def __init__(self, metadata, etag=None, server_verified=None):
        self.metadata = metadata
        self.server_verified = (server_verified or 'none').lower()
        self.expected = []
        for field, algorithm, _new in DIGESTS:
            if metadata.get(field):
                self.expected.append((algorithm, metadata[field].lower(),
                                      'x-image-meta-' + field))
        tag = (strong_etag(etag) or '').strip('"').lower()
        if _MD5.match(tag):
            self.expected.append(('md5', tag, 'the ETag'))
        wanted = {algorithm for algorithm, _digest, _source in self.expected}
        self.hashers = {algorithm: new() for _field, algorithm, new in DIGESTS
                        if algorithm in wanted}

    def update(self, block):
        """Hash one block of the body."""
        for hasher in self.hashers.values():
            hasher.update(block)

    def check(self, image, size):
        """Check the bytes hashed so far, ``size`` of them, against the record.

        :param image: the image, for messages.
        :returns: ``((algorithm, hexdigest), ...)`` verified, sorted; empty when
            glance-api announced no digest.
        :raises UpstreamError: when ``size`` is not the recorded size, or glance-api
            verified with a digest it did not announce.
        :raises ChecksumMismatch: naming the algorithm and both values.
        """
        if self.server_verified != 'none' and self.server_verified not in self.hashers:
            raise exception.UpstreamError(
                reason='image %s: glance-api verified it with %s but announced no %s '
                       'digest' % (image, self.server_verified, self.server_verified))
        recorded = self.metadata.get('size')
        if isinstance(recorded, int) and size != recorded:
            raise exception.UpstreamError(reason='image %s: received %d bytes, its '
                                          'record says %d' % (image, size, recorded))
        verified = {}
        for algorithm, want, source in self.expected:
            got = self.hashers[algorithm].hexdigest()
            if got != want:
                raise exception.ChecksumMismatch(
                    image_id=image, reason='the %s of the data is %s but %s says %s'
                                           % (algorithm, got, source, want))
            verified[algorithm] = got
        return tuple(sorted(verified.items()))
