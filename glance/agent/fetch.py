"""Fetch an image through glance-api: resumable, verified, and optionally unbundled.

This is the node agent's half of the design: it asks Teller for the image by its URI
(``GET /images?uri=<uri>``, or ``GET /images/<id>`` for a bare id), checks the bytes,
and with ``unbundle=True`` unpacks them (:mod:`glance.agent.unbundle`).

Format safety, in depth: before a verified download becomes the final file, it is
read once more through oslo's format inspector
(:func:`glance.api.inspection.inspect_file`): data that is not its ``disk_format``, or
that names host files (a qcow2 backing or data file, a VMDK extent), is refused and
removed, whatever glance-api recorded, since a store can be changed behind the
registry's back. :func:`stream_image` writes to a stream and cannot take bytes back,
so it is not inspected.

Resuming: the bytes go to ``<name>.part``, and the image's strong ETag to
``<name>.part.etag`` beside it. A later fetch of the same image asks only for the rest,
with ``Range: bytes=<have>-`` and ``If-Range: <etag>``, and appends only to a 206 that
starts exactly there and carries the same ETag. Anything else (a 200 because the image
changed, a 416, another ETag) drops the partial file and fetches the image whole. A
lock on the partial file keeps two fetches of one image from writing it at once.

Verification covers the whole file, resumed or not, with the client library's
:class:`~glance.client.verify.Verifier`: the recorded size, and every digest
glance-api announces (md5 from ``x-image-meta-checksum`` and the ETag, sha256, and
BLAKE3, the digest glance-api itself verifies downloads with). A mismatch removes the
partial file.
"""

import dataclasses
import fcntl
import os
import re

from glance.agent import unbundle as unbundling
from glance.api import inspection
from glance.client import images, streams
from glance.client.streams import TransferInterrupted  # noqa: F401 (raised here)
from glance.client.verify import strong_etag
from glance.common import exception

_SAFE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$')
_CONTENT_RANGE = re.compile(r'^bytes (\d+)-(\d+)/(\d+)$')


@dataclasses.dataclass(frozen=True)
class FetchResult:
    """A verified image.

    :param path: the downloaded file, the unbundled directory or decompressed file,
        or None when the data went to a stream.
    :param image_id: the image id (from ``x-image-meta-id``).
    :param size: bytes of image data received in total (resumed bytes included).
    :param metadata: the image record from the ``x-image-meta-*`` headers.
    :param resumed_from: bytes already on disk from an earlier attempt (0: none).
    :param verified: ``((algorithm, hexdigest), ...)`` checked against glance-api's
        record; empty when glance-api sent no checksum.
    :param format: the unbundled format (see :data:`glance.agent.unbundle.FORMATS`),
        or None when not unbundled.
    :param members: members unpacked, or None when not unbundled.
    """

    path: str | None
    image_id: str | None
    size: int
    metadata: dict
    resumed_from: int = 0
    verified: tuple = ()
    format: str | None = None
    members: int | None = None


def image_file_name(image_ref):
    """The file name a fetch uses for an image: its id.

    :param image_ref: a bare image id or an image URI ending in ``/images/<id>``.
    :raises Invalid: when the id is not a plain file name.
    """
    image_id = image_ref.rpartition('/images/')[2] if '://' in image_ref else image_ref
    if not _SAFE_NAME.match(image_id):
        raise exception.Invalid(reason='cannot name a file after image reference %r'
                                % image_ref)
    return image_id


class _PartFile:
    """The locked partial download ``path`` and the note of its ETag."""

    def __init__(self, path):
        self.path = path
        self.etag_path = path + '.etag'
        self.closed_out = False
        self.file = open(path, 'a+b')
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise exception.Conflict(reason='another fetch is writing %s' % path)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        # A failure before the first byte leaves no empty partial file behind.
        if not self.closed_out and os.fstat(self.file.fileno()).st_size == 0:
            self.discard()
        self.file.close()

    def resumable(self):
        """Return ``(bytes on disk, ETag)`` to resume from, or ``(0, None)``."""
        size = os.fstat(self.file.fileno()).st_size
        try:
            with open(self.etag_path, encoding='ascii') as note:
                etag = note.read().strip()
        except (OSError, UnicodeDecodeError):
            etag = ''
        return (size, etag) if size and etag else (0, None)

    def restart(self, etag):
        """Empty the file and note the ETag of the new transfer (None: cannot resume)."""
        self.file.truncate(0)
        if etag:
            with open(self.etag_path, 'w', encoding='ascii') as note:
                note.write(etag)
        elif os.path.lexists(self.etag_path):
            os.unlink(self.etag_path)

    def finish(self, dest):
        """Move the verified file to ``dest`` and drop the ETag note."""
        self.closed_out = True
        os.replace(self.path, dest)
        if os.path.lexists(self.etag_path):
            os.unlink(self.etag_path)

    def discard(self):
        """Remove the partial file and its note."""
        self.closed_out = True
        for path in (self.path, self.etag_path):
            if os.path.lexists(path):
                os.unlink(path)


def _content_range(response):
    match = _CONTENT_RANGE.match(response.header('Content-Range') or '')
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(3))


def _receive(client, response, partial, have, total, image_ref, progress):
    """Append the body to the partial file, then verify the whole file."""
    metadata = response.metadata
    image = metadata.get('id') or image_ref
    verifier = response.verifier()
    partial.file.seek(0)
    for block in iter(lambda: partial.file.read(client.block_size), b''):
        verifier.update(block)
    try:
        size = streams.copy_body(response, partial.file.write, verifier, have, total,
                                 image, progress, client.block_size)
    except TransferInterrupted as err:
        raise TransferInterrupted('%s; %s is kept: run the same command again to resume'
                                  % (err.message, partial.path))
    partial.file.flush()
    os.fsync(partial.file.fileno())
    try:
        verified = verifier.check(image, size)
    except exception.UpstreamError:
        partial.discard()
        raise
    return FetchResult(None, metadata.get('id'), size, metadata, have, verified)


def _download(client, image_ref, partial, progress):
    """Fill ``partial`` with the verified image, resuming what it already holds."""
    for _attempt in range(2):
        have, etag = partial.resumable()
        headers = {'Range': 'bytes=%d-' % have, 'If-Range': etag} if have else None
        response = client.get_image(image_ref, headers)
        try:
            if response.status == 206 and have:
                start, total = _content_range(response)
                if start == have and response.etag == etag:
                    return _receive(client, response, partial, have, total, image_ref,
                                    progress)
            elif response.status == 200:
                partial.restart(strong_etag(response.etag))
                return _receive(client, response, partial, 0, response.length,
                                image_ref, progress)
        finally:
            response.close()
        # A 416, or a 206 that is not the rest of this very image: start again.
        partial.restart(None)
    raise exception.UpstreamError(reason='glance-api at %s answered Range requests for '
                                  '%s inconsistently' % (client.url, image_ref))


def _inspect(partial, metadata):
    """Read the verified file through the format inspector before it becomes final.

    :raises FormatRefused: the data is not its ``disk_format`` or names host files;
        the partial file is removed.
    """
    try:
        inspection.inspect_file(partial.path, metadata.get('disk_format'))
    except inspection.FormatRefused:
        partial.discard()
        raise


def download_to_file(client, image_ref, path, progress=None):
    """Download an image to ``path`` through ``path.part``, resuming and verifying.

    ``path`` appears (or is replaced) only once the whole image is verified.

    :param client: an :class:`~glance.client.images.ImageClient`.
    :param image_ref: a bare image id or a full image URI.
    :param path: the file to write.
    :param progress: called as ``progress(bytes_so_far, total_or_None)``.
    :returns: a :class:`FetchResult`.
    :raises TransferInterrupted: the transfer broke off; ``path.part`` is kept.
    :raises ChecksumMismatch: the data does not match; nothing is kept.
    :raises FormatRefused: the data fails format inspection; nothing is kept.
    :raises Conflict: another fetch is writing ``path.part``.
    """
    with _PartFile(path + '.part') as partial:
        result = _download(client, image_ref, partial, progress)
        _inspect(partial, result.metadata)
        partial.finish(path)
    return dataclasses.replace(result, path=path)


def stream_image(client, image_ref, out, progress=None):
    """Download an image into the binary stream ``out`` and verify it at the end.

    A stream cannot be taken back: on a mismatch or a short body the error comes
    after the bytes were written, and the caller must discard them.

    :param out: a binary file object (e.g. ``sys.stdout.buffer``).
    :returns: a :class:`FetchResult` with ``path`` None.
    :raises TransferInterrupted: for a short body.
    :raises ChecksumMismatch: when the data does not match the image's record.
    """
    download = client.download(image_ref, out.write, progress)
    out.flush()
    return FetchResult(None, download.image_id, download.size, download.metadata, 0,
                       download.verified)


def fetch_image(image_ref, dest_dir, api_url=images.DEFAULT_API_URL, context=None,
                unbundle=False, limits=None, timeout=images.DEFAULT_TIMEOUT,
                ca_file=None, insecure=False, progress=None, cert_file=None,
                key_file=None):
    """Fetch an image into ``dest_dir`` as the node agent does, for Nova's use.

    Without ``unbundle`` the image ends up as the file ``dest_dir/<image id>``. With
    it, the bundle is unpacked by its ``container_format``/``disk_format`` (or magic
    bytes) into ``dest_dir/<image id>``: a directory for tar, tgz and zip, the
    decompressed file for gzip, the file itself for raw. A bundle refused by
    :func:`~glance.agent.unbundle.unbundle` leaves nothing behind, the download
    included.

    :param image_ref: the image URI (``<registry>/images/<id>``) or a bare id of
        glance-api's default registry.
    :param dest_dir: folder of the result (created if missing); the partial download
        ``<image id>.part`` is kept there between attempts.
    :param api_url: glance-api's base URL.
    :param context: a :class:`~glance.common.context.RequestContext` for identity.
    :param unbundle: unpack after verifying.
    :param limits: :class:`~glance.agent.unbundle.Limits` for unpacking.
    :param timeout: seconds allowed to connect and per socket read.
    :param ca_file: PEM file of CAs trusted for an ``https`` glance-api.
    :param insecure: skip TLS verification.
    :param progress: called as ``progress(bytes_so_far, total_or_None)``.
    :param cert_file: PEM client certificate for a glance-api that requires one.
    :param key_file: PEM private key of ``cert_file``.
    :returns: a :class:`FetchResult`.
    :raises Duplicate: when ``dest_dir/<image id>`` already exists.
    :raises TransferInterrupted: the transfer broke off; call again to resume.
    :raises ChecksumMismatch: the data does not match the image's record.
    :raises FormatRefused: the data fails format inspection; nothing is kept.
    :raises UnbundleError: the bundle cannot be unpacked (``UnsafeArchive``: refused).
    :raises GlanceException: from glance-api (NotFound, ServiceUnavailable...).
    """
    client = images.ImageClient(api_url, context, timeout, ca_file, insecure,
                                cert_file=cert_file, key_file=key_file)
    final = os.path.join(dest_dir, image_file_name(image_ref))
    if os.path.lexists(final):
        raise exception.Duplicate('%s already exists; remove it to fetch again' % final)
    os.makedirs(dest_dir, exist_ok=True)
    with _PartFile(final + '.part') as partial:
        result = _download(client, image_ref, partial, progress)
        _inspect(partial, result.metadata)
        if not unbundle:
            partial.finish(final)
            return dataclasses.replace(result, path=final)
        try:
            unpacked = unbundling.unbundle(
                partial.path, final, result.metadata.get('container_format'),
                result.metadata.get('disk_format'), limits)
        except unbundling.UnbundleError:
            partial.discard()
            raise
        if unpacked.format == 'raw':
            partial.finish(final)
        else:
            partial.discard()
    return dataclasses.replace(result, path=final, format=unpacked.format,
                               members=unpacked.members)
