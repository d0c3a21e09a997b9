"""The image core of glance-api: what an image request does, whatever its protocol.

:class:`ImageCore` owns the orchestration every API surface shares: the registry
lookup with the caller's visibility (the registry client acts for the caller,
``registry.with_context(ctx)``), listing, reserving a record, streaming data into a
queued image (size cap and quota, format inspection, conversion, declared size and
digest checks), registering existing locations, metadata updates, deletion with store
cleanup, the download plan (image cache, BLAKE3 learnt on a first full read), and the
member and tag pass-throughs. It knows nothing of HTTP: a body is anything with
``read(n)``, errors are :mod:`glance.common.exception` classes that
:data:`glance.common.wsgi.EXCEPTION_STATUS` maps once for every surface.

Its users are the controllers, which only parse requests and build responses: the
native ``x-image-meta`` API (:mod:`glance.api.images`), Glance v1
(:mod:`glance.api.v1`) and the image v2 subset (:mod:`glance.api.v2`).
:func:`glance.api.router.build_app` builds one core per process and hands it to each.

The status machine (every change goes through :meth:`ImageCore._move`, checked
against :data:`TRANSITIONS`)::

    queued ──► saving ──► active ──► pending_delete ──► (record deleted)
       │  │       │  ▲
       │  │       │  └────────── uploading ◄── queued   (v2 import: data staged)
       │  │       │                  │
       └──┴───────┴──► killed ◄──────┘   (a failed upload, registration or import)

A queued, uploading, saving or killed image is deleted without passing pending_delete.
"""

import dataclasses
import logging

from glance.api import conversion, download, inspection, upload, verified_memo
from glance.common import exception, sendfile
from glance.store import base as store_base

LOG = logging.getLogger(__name__)

QUEUED = 'queued'
UPLOADING = 'uploading'
SAVING = 'saving'
ACTIVE = 'active'
KILLED = 'killed'
PENDING_DELETE = 'pending_delete'

#: The statuses an image may move to, and the statuses it may move from.
TRANSITIONS = {
    UPLOADING: (QUEUED,),
    SAVING: (QUEUED, UPLOADING),
    ACTIVE: (SAVING,),
    KILLED: (QUEUED, SAVING, UPLOADING),
    PENDING_DELETE: (ACTIVE,),
}


@dataclasses.dataclass
class ImageDownload:
    """What a controller needs to answer a download.

    :ivar image: the registry record, seen by the caller.
    :ivar body: the WSGI ``app_iter`` (with ``app_iter_range`` and ``close``).
    :ivar size: the body's length in bytes.
    :ivar digest: ``(algorithm, hexdigest)`` a full body is verified against, or None.
    """

    image: dict
    body: object
    size: int
    digest: tuple | None

    def verified_by(self, partial):
        """The name of what the body is verified with (``none`` for a range).

        :param partial: True when only a range of the image is sent.
        """
        return download.verified_by(self.digest, partial)


class ImageCore:
    """The protocol-neutral image service used by every glance-api controller.

    Every method takes the caller's :class:`~glance.common.context.RequestContext`
    first and works through the registry client acting for that caller.

    :param registry: a :class:`~glance.registry.client.RegistryClient` (no context).
    :param stores: the :class:`~glance.store.StoreRegistry`.
    :param options: the typed :class:`~glance.api.router.ApiOptions`.
    :param formats: the :class:`~glance.api.inspection.InspectionOptions` every
        upload and registration is inspected with.
    :param conversions: the :class:`~glance.api.conversion.ConversionOptions`.
    :param cache: the :class:`~glance.api.cache.serve.ImageCache`, or None.
    """

    def __init__(self, registry, stores, options,
                 formats=inspection.InspectionOptions(),
                 conversions=conversion.ConversionOptions(), cache=None):
        self.registry = registry
        self.stores = stores
        self.options = options
        self.formats = formats
        self.conversions = conversions
        self.cache = cache
        #: Chunk files verified whole and unchanged since (one memo per process).
        self.memo = verified_memo.VerifiedMemo(options.verified_files_memo_size)

    def _client(self, ctx):
        return self.registry.with_context(ctx)

    # -- lookup -----------------------------------------------------------------

    def get(self, ctx, image_ref):
        """Return the registry record of an image the caller may see.

        :param image_ref: an image id, or a full image URI of an allow-listed
            registry.
        :raises ImageNotFound: when it does not exist or is not visible.
        """
        return self._client(ctx).get_image(image_ref)

    def list(self, ctx, filters=None, sort_key=None, sort_dir=None, limit=None,
             marker=None, detail=True, member_status=None):
        """Return one page of the images the caller may see.

        :param filters: registry filters (``{'properties': {...}}`` for properties).
        :param member_status: which shared images a member sees (``accepted``,
            ``pending``, ``rejected`` or ``all``); the registry's default when None.
        :returns: ``(images, next_marker)``; ``next_marker`` is None on the last page.
        """
        filters = dict(filters or {})
        if member_status is not None:
            filters['member_status'] = member_status
        page = self._client(ctx).list_images(detail=detail, filters=filters,
                                             sort_key=sort_key, sort_dir=sort_dir,
                                             limit=limit, marker=marker)
        images = page['images']
        return images, (images[-1]['id'] if page.get('next') and images else None)

    # -- reserve, upload, register ------------------------------------------------

    def reserve(self, ctx, metadata, locations=None, with_data=False):
        """Create an image record: queued, or active on ``locations``.

        Nothing is recorded when a check fails before the record exists: the
        disk format (``with_data`` or ``locations``), and each location.

        :param metadata: registry fields plus ``properties``.
        :param locations: location URIs of existing objects to register (see
            :meth:`register`), or None.
        :param with_data: the caller uploads data next (:meth:`upload`).
        :returns: the new record.
        """
        client = self._client(ctx)
        if locations or with_data:
            # An unaccepted disk_format is refused before any record exists.
            self.formats.begin(metadata.get('disk_format'))
        if not locations:
            return client.create_image(metadata)
        chunks = self._check_locations(ctx, locations, metadata.get('size'))
        self._check_registered_size(client, metadata.get('owner', ctx.tenant), chunks)
        image = client.create_image(metadata)
        return self._activate_registered(client, image, chunks)

    def _queued(self, client, image_ref):
        """The record of ``image_ref``, which must be queued to receive data.

        :raises Conflict: when it is not queued.
        """
        return _require_status(client.get_image(image_ref), QUEUED)

    def check_writable(self, ctx, image_ref, status=QUEUED):
        """Return the record of an image the caller may write data into, checked
        before a v2 ``stage`` (which writes nothing to the registry) and ``import``.

        :param status: the status it must have: queued (stage) or uploading
            (import of the staged data).
        :raises ImageNotFound: when it is not visible.
        :raises Forbidden: when the caller may not modify it.
        :raises Conflict: when it has another status.
        """
        image = self._client(ctx).get_image(image_ref)
        if not ctx.can_modify(image.get('owner')):
            raise exception.Forbidden('You may not add data to image %s' % image['id'])
        return _require_status(image, status)

    def mark_staged(self, ctx, image_ref):
        """Record that a queued image's data is staged for import: uploading.

        :returns: the updated record.
        :raises Conflict: when it is not queued.
        """
        return self._move(self._client(ctx), image_ref, UPLOADING, source=QUEUED)

    def upload(self, ctx, image_ref, body, content_length, metadata=None,
               after_body=None, staged=False):
        """Stream ``body`` into the default store: queued (or uploading, for staged
        data) → saving → active.

        Any failure deletes the chunks written, marks the image killed and re-raises.

        :param body: the data, read with ``read(n)``.
        :param content_length: the declared length, or None (chunked).
        :param metadata: fields (and ``properties``) applied along with the data;
            a declared ``size``, ``checksum`` or ``sha256`` must match the data.
        :param after_body: called once the body is consumed (it may raise).
        :param staged: ``body`` is the image's staged data (v2 import): the image
            must be uploading.
        :returns: the active record.
        :raises Conflict: when the image is not queued (uploading).
        :raises Invalid: when the data does not match what was declared.
        :raises RequestTooLarge: over ``image_size_cap`` or the owner's quota.
        """
        client = self._client(ctx)
        source = UPLOADING if staged else QUEUED
        image = _require_status(client.get_image(image_ref), source)
        metadata = metadata or {}
        image_id = image['id']
        try:
            size_cap, cap_name = self._size_limit(client, image.get('owner'),
                                                  image.get('size'))
        # Deliberate cleanup on every failure; re-raised.
        except BaseException:
            self._kill(client, image_id)
            raise
        inspected = self.formats.begin(metadata.get('disk_format',
                                                    image.get('disk_format')))
        converting = self.conversions.wants(inspected.declared)
        writer = upload.ImageUpload(
            self.stores.default_store, image_id, self.options.store_chunk_size,
            self.options.read_block_size, size_cap, cap_name,
            inspection.Inspection(self.conversions.convert_to) if converting
            else inspected)
        data = _Data(body, content_length, after_body)
        try:
            self._move(client, image_id, SAVING, metadata, source)
            if converting:
                measured = self._convert(image, metadata, data, inspected, writer)
            else:
                writer.write(data.body, data.content_length)
                data.consumed()
                measured = _measured(writer)
                _check_declared(image, metadata, measured)
            measured.update(writer.inspection.verdict().record())
            return self._move(client, image_id, ACTIVE,
                              dict(measured, chunks=writer.chunks), SAVING)
        # Deliberate cleanup on every failure, client disconnects included; re-raised.
        except BaseException:
            writer.discard()
            self._kill(client, image_id)
            raise

    def register(self, ctx, image_ref, locations, metadata=None):
        """Make a queued image active on existing objects (``locations``).

        Each location is HEADed (size), the total is checked against the size cap
        and quota, and the data is read once through the format inspector.

        :raises Conflict: when the image is not queued.
        :raises Invalid: for a bad location or a declared size that differs.
        :raises Forbidden: for a location in a writable store from a non-admin.
        """
        client = self._client(ctx)
        image = self._queued(client, image_ref)
        metadata = metadata or {}
        chunks = self._check_locations(ctx, locations, metadata.get('size'))
        self._check_registered_size(client, image.get('owner'), chunks,
                                    image.get('size'))
        return self._activate_registered(client, image, chunks, metadata)

    def _size_limit(self, client, owner, counted=None):
        """The most bytes an image of ``owner`` may hold, and the option that says so.

        :param client: the registry client acting for the caller.
        :param owner: the image's tenant; no quota applies without one.
        :param counted: the size the registry already counts for this image (a size
            declared before the data arrived), left out of the tenant's usage.
        :returns: ``(bytes, name)``: ``image_size_cap``, or what is left of the owner's
            ``user_storage_quota`` when that is smaller.
        """
        cap, name = self.options.image_size_cap, 'image_size_cap'
        quota = self.options.user_storage_quota
        if quota and owner:
            used = client.get_usage(owner)['size'] - (counted or 0)
            if quota - used < cap:
                cap = max(quota - used, 0)
                name = ('what is left of user_storage_quota for tenant %s (%d of %d '
                        'bytes used)' % (owner, used, quota))
        return cap, name

    def _check_registered_size(self, client, owner, chunks, counted=None):
        """Apply ``image_size_cap`` and the owner's quota to registered locations.

        :raises RequestTooLarge: when the locations hold more than allowed.
        """
        size = sum(chunk['size'] for chunk in chunks)
        cap, name = self._size_limit(client, owner, counted)
        if size > cap:
            raise exception.RequestTooLarge(reason='the locations hold %d bytes, over %s '
                                                   '(%d bytes)' % (size, name, cap))

    def _convert(self, image, metadata, data, inspected, writer):
        """Stage the body, convert it with qemu-img, and write the result with
        ``writer`` (see :mod:`glance.api.conversion`).

        :returns: the registry fields of the converted image, the source's size and
            digests as ``source_*`` properties.
        """
        with self.conversions.workspace(image['id']) as work:
            staged, verdict = work.stage(data.body, data.content_length, inspected,
                                         self.options.read_block_size)
            data.consumed()
            source = _measured(staged)
            _check_declared(image, metadata, source)
            with open(work.convert(staged, verdict), 'rb') as converted:
                writer.write(converted)
        properties = {'source_disk_format': inspected.declared,
                      'source_size': str(source['size']),
                      'source_checksum': source['checksum'],
                      'source_sha256': source['sha256']}
        return dict(_measured(writer), disk_format=self.conversions.convert_to,
                    properties=properties)

    def _check_locations(self, ctx, locations, declared_size):
        """HEAD each location given to register; return the chunk records.

        :param declared_size: the size the caller declared, or None.
        :raises Invalid: for a malformed location, one carrying credentials, one that
            no enabled store serves, one the store refuses (outside the file store's
            directory, a non-global address), or one with no object behind it.
        :raises Forbidden: for a location in a writable store (``file://``,
            ``swift://``, ``s3://``: read with glance-api's own credentials) from a
            caller who is not admin.
        """
        chunks = []
        for position, value in enumerate(locations, 1):
            location = store_base.Location.parse(value)
            store = self.stores.for_location(location)
            if store.writable and not ctx.is_admin:
                raise exception.Forbidden(
                    'Only admins may register %s:// locations: store %s reads them '
                    "with glance-api's own credentials" % (location.scheme, store.name))
            try:
                info = store.head(location)
            except store_base.ObjectNotFound:
                raise exception.Invalid(reason='location %d (%s) has no object'
                                               % (position, location.label))
            chunks.append({'location': str(location), 'size': info.size,
                           'checksum': info.etag})
        size = sum(chunk['size'] for chunk in chunks)
        if declared_size is not None and declared_size != size:
            raise exception.Invalid(reason='x-image-meta-size is %d but the locations '
                                           'hold %d bytes' % (declared_size, size))
        return chunks

    def _activate_registered(self, client, image, chunks, metadata=None):
        """Record existing chunks on a queued image, inspect them, make it active.

        The image is ``saving`` while its data is read once, whole, through the
        format inspector (:meth:`_inspect_registered`); it becomes ``active`` only
        if the data passes. A failure marks the image ``killed`` (the registered
        objects are not ours and are not touched).
        """
        metadata = dict(metadata or {}, chunks=chunks,
                        size=sum(chunk['size'] for chunk in chunks))
        try:
            image = self._move(client, image['id'], SAVING, metadata, QUEUED)
            verdict = self._inspect_registered(image)
            return self._move(client, image['id'], ACTIVE, verdict.record(), SAVING)
        # Deliberate cleanup on every failure; re-raised.
        except BaseException:
            self._kill(client, image['id'])
            raise

    def _inspect_registered(self, image):
        """Read a registered image's chunks once, whole, through the inspector.

        :returns: the :class:`~glance.api.inspection.Verdict`.
        :raises FormatRefused: when the data is refused.
        :raises StoreError: when a chunk cannot be read.
        """
        inspected = self.formats.begin(image.get('disk_format'))
        body = download.ChunkedImageIterable(self.stores, image['id'],
                                             download.image_chunks(image),
                                             self.options.read_block_size)
        for _block in inspected.wrap(iter(body)):
            pass
        return inspected.verdict()

    # -- status -----------------------------------------------------------------

    @staticmethod
    def _move(client, image_id, status, fields=None, source=None):
        """Move an image to ``status`` (with ``fields``): the one place statuses change.

        :param source: the status the image is in now, checked against
            :data:`TRANSITIONS`; None when it is not known (a failure's cleanup).
        :returns: the updated record.
        :raises Conflict: when ``source`` may not move to ``status``.
        """
        if source is not None and source not in TRANSITIONS[status]:
            raise exception.Conflict(reason='image %s is %s; it cannot become %s'
                                            % (image_id, source, status))
        return client.update_image(image_id, dict(fields or {}, status=status))

    @classmethod
    def _kill(cls, client, image_id):
        """Mark an image killed after a failed upload or registration (best effort)."""
        try:
            cls._move(client, image_id, KILLED)
        # Deliberately swallowed: the original failure is what the client must see.
        except exception.GlanceException as err:
            LOG.warning('Image %s: could not mark it killed after a failed upload: %s',
                        image_id, err)

    # -- metadata ---------------------------------------------------------------

    def update(self, ctx, image_ref, metadata, purge_props=False):
        """Merge fields and properties into the record (no data).

        :param purge_props: replace the properties instead of merging them.
        :returns: the updated record.
        """
        return self._client(ctx).update_image(image_ref, metadata,
                                              purge_props=purge_props)

    # -- delete -----------------------------------------------------------------

    def delete(self, ctx, image_ref):
        """Delete an image's data, then its record.

        An active image first becomes ``pending_delete`` (the registry checks the
        caller may modify it), then each chunk that glance-api itself wrote for this
        image is deleted from its store (an object already gone is fine), then the
        record is deleted and the image cache forgets it. Registered objects (any
        location other than the one an upload of this image would have written, and
        every object of a read-only store such as http) are only unregistered, so
        deleting an image can never delete another image's data.

        :raises Forbidden: when the caller may see but not delete the image, or the
            image is protected.
        """
        client = self._client(ctx)
        image = client.get_image(image_ref)
        if not ctx.can_modify(image.get('owner')):
            raise exception.Forbidden('You may not delete image %s' % image['id'])
        if image.get('protected'):
            raise exception.Forbidden('Image %s is protected: unprotect it before '
                                      'deleting it' % image['id'])
        chunks = download.image_chunks(image, check_size=False)
        if image.get('status') == ACTIVE:
            self._move(client, image['id'], PENDING_DELETE, source=ACTIVE)
        for chunk in chunks:
            self._delete_chunk(image['id'], chunk, len(chunks))
        client.delete_image(image['id'])
        self._forget(image['id'])

    def _delete_chunk(self, image_id, chunk, count):
        where = 'image %s chunk %d of %d' % (image_id, chunk.index + 1, count)
        try:
            store = self.stores.for_location(chunk.location)
        except store_base.BadLocation as err:
            raise store_base.BadLocation(reason='%s: %s; enable its store to delete it'
                                                % (where, err.kwargs.get('reason',
                                                                         err.message)))
        if not store.writable or chunk.location != store.location_for(image_id,
                                                                      chunk.index):
            LOG.info('%s was registered, not uploaded: unregistered only', where)
            return
        try:
            store.delete(chunk.location)
        except store_base.ObjectNotFound:
            LOG.info('%s was already gone from store %s', where, store.name)

    def _forget(self, image_id):
        if self.cache is not None:
            self.cache.forget(image_id)

    # -- download ---------------------------------------------------------------

    def open_download(self, ctx, image_ref, environ):
        """Look an active image up, check its chunks, and return its download.

        The image cache answers after the lookup, so a hit is authorized and gets
        the same handling as a store read. A full read of an image without a BLAKE3
        records the one it computed.

        :param environ: the WSGI environ (the cache's ``sendfile``).
        :returns: an :class:`ImageDownload`; nothing is read before iteration.
        :raises ImageNotFound: when the image is not visible or not active.
        :raises UpstreamError: or ServiceUnavailable when a chunk is missing,
            changed, or its store cannot be reached.
        """
        client = self._client(ctx)
        image = client.get_image(image_ref)
        if image.get('status') != ACTIVE:
            self._forget(image['id'])
            raise exception.ImageNotFound(
                'Image %s is not available: its status is %s'
                % (image.get('id'), image.get('status')))
        digest, learn = download.digest_plan(image)

        # Without a cache the body goes to this client, so it may be sent zero-copy;
        # a cache fill reads the body itself.
        sock = sendfile.client_socket(environ) if self.cache is None else None

        def uncached():
            return download.open_image(
                self.stores, image, self.options.read_block_size,
                _digest_recorder(client, image['id']) if learn else None, sock=sock,
                memo=self.memo)
        body = uncached() if self.cache is None else self.cache.body(
            image, environ, uncached)
        size = body.size if image.get('size') is None else image['size']
        return ImageDownload(image, body, size, digest)

    # -- members and tags (the registry owns them) -------------------------------

    def members(self, ctx, image_ref):
        """The members of an image: ``[{"member_id", "can_share", "status", ...}]``."""
        return self._client(ctx).list_members(image_ref)

    def replace_members(self, ctx, image_ref, memberships, accepted=False):
        """Make an image's members exactly ``memberships``.

        :param memberships: ``[{"member_id": ..., "can_share": bool}]``.
        :param accepted: new members start accepted (a surface without acceptance).
        """
        return self._client(ctx).replace_members(image_ref, memberships,
                                                 accepted=accepted)

    def add_member(self, ctx, image_ref, member, can_share=False, accepted=False):
        """Share an image with tenant ``member`` (or change its ``can_share``)."""
        return self._client(ctx).add_member(image_ref, member, can_share=can_share,
                                            accepted=accepted)

    def set_member_status(self, ctx, image_ref, member, status):
        """Accept or reject an image shared with ``member`` (the member's own call)."""
        return self._client(ctx).set_member_status(image_ref, member, status)

    def remove_member(self, ctx, image_ref, member):
        """Stop sharing an image with ``member``."""
        return self._client(ctx).delete_member(image_ref, member)

    def shared_images(self, ctx, member):
        """The images shared with tenant ``member``."""
        return self._client(ctx).shared_images(member)

    def add_tag(self, ctx, image_ref, tag):
        """Tag an image (already tagged: a no-op)."""
        return self._client(ctx).add_tag(image_ref, tag)

    def remove_tag(self, ctx, image_ref, tag):
        """Remove a tag from an image."""
        return self._client(ctx).delete_tag(image_ref, tag)


@dataclasses.dataclass
class _Data:
    """An upload's body, and the callback run once it is consumed."""

    body: object
    content_length: int | None
    after_body: object

    def consumed(self):
        """Run ``after_body`` (it may raise)."""
        if self.after_body is not None:
            self.after_body()


_RECEIVES = {QUEUED: 'data can only be added to a queued image',
             UPLOADING: 'only an image with staged data (uploading) is imported'}


def _require_status(image, status):
    """Return ``image``, which must have ``status`` to receive data.

    :raises Conflict: when it has another status.
    """
    if image.get('status') != status:
        raise exception.Conflict(reason='image %s is %s; %s' % (
            image['id'], image.get('status'), _RECEIVES[status]))
    return image


def _measured(writer):
    """The size and digests an :class:`~glance.api.upload.ImageUpload` measured."""
    return {'size': writer.size, 'checksum': writer.checksum,
            'sha256': writer.sha256, 'blake3': writer.blake3}


def _check_declared(image, metadata, measured):
    """Compare the data with the size and digests the client declared.

    :param image: the record before the upload (fields set at creation).
    :param metadata: the fields sent with the data.
    :param measured: ``{field: value}`` of the data: size, checksum, sha256, blake3.
    :raises Invalid: on a difference.
    """
    for field, actual in measured.items():
        declared = metadata.get(field, image.get(field))
        if declared is not None and declared != actual:
            raise exception.Invalid(reason='x-image-meta-%s is %s but the data has %s'
                                           % (field, declared, actual))


def _digest_recorder(client, image_id):
    """Return the callback that records a BLAKE3 learnt on a first full read.

    A failure to record is logged and the download goes on: the next full read
    tries again. The callback returns True when the digest was recorded.
    """
    def record(hexdigest):
        try:
            client.update_image(image_id, {download.GUARD: hexdigest})
        # Deliberately swallowed: the data already passed; the client gets it.
        except exception.GlanceException as err:
            LOG.warning('Image %s: could not record the %s computed on its first '
                        'full read: %s', image_id, download.GUARD, err)
            return False
        LOG.info('Image %s: recorded its %s on its first full read', image_id,
                 download.GUARD)
        return True
    return record
