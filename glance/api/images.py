"""Teller's images resource: download, upload, register, update and delete images.

Every registry call carries the caller's token and glance-api's own service token
(:class:`~glance.common.auth.ServiceCredentials`), so the registry, having verified
both, applies the caller's visibility and ownership rules while also returning chunk
locations, which this controller needs and shows to admins only.

=============================== ==============================================
request                         action
=============================== ==============================================
GET/HEAD /images/<id>           :meth:`ImagesController.show`
GET/HEAD /images?uri=<uri>      :meth:`ImagesController.show_by_uri`
POST /images                    :meth:`ImagesController.create`
PUT /images/<id>                :meth:`ImagesController.update`
DELETE /images/<id>             :meth:`ImagesController.delete`
=============================== ==============================================
"""

import datetime
import logging
import re

import webob

from glance.api import conversion, download, headers, inspection, upload
from glance.common import context, exception, wsgi
from glance.store import base as store_base

LOG = logging.getLogger(__name__)

# What a pipelined next request starts with; anything else right after the declared
# body is more body.
_REQUEST_LINE = re.compile(rb'[A-Z]{3,10} [^ ]')


def _check_body_end(req):
    """Refuse a body longer than its ``Content-Length``.

    The server reads exactly ``Content-Length`` bytes; bytes the client sent beyond
    them, unless they start another request, mean the declared length was a lie.

    :raises Invalid: (with ``Connection: close``) for such a body.
    """
    peek = req.environ.get(wsgi.PEEK_KEY)
    if peek is None or req.content_length is None:
        return
    trailing = peek(16)
    if trailing and not _REQUEST_LINE.match(trailing):
        error = exception.Invalid(reason='the body is longer than its Content-Length '
                                         '(%d bytes)' % req.content_length)
        error.headers = {'Connection': 'close'}
        raise error


def _is_partial(req, response):
    """True when WebOb will answer this request with a 206 (its own conditions)."""
    return bool(req.range and response in req.if_range
                and req.range.content_range(response.content_length) is not None)


def _has_body(req):
    """True when the request carries data (a Content-Length above 0, or chunked).

    eventlet de-chunks a chunked body and ends it at the last chunk but does not set
    ``wsgi.input_terminated``; setting it lets ``req.body_file`` read such a body.
    """
    if req.content_length is None and req.environ.get(
            'HTTP_TRANSFER_ENCODING', '').lower() == 'chunked':
        req.is_body_readable = True
    return req.is_body_readable


class ImagesController(wsgi.Controller):
    """The image resource of glance-api.

    :param registry: a :class:`~glance.registry.client.RegistryClient` (no context);
        each request uses a copy acting for its caller.
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

    def _client(self, req):
        ctx = context.from_environ(req.environ)
        return ctx, self.registry.with_context(ctx)

    # -- download ---------------------------------------------------------------

    def show(self, req, image_id):
        """GET/HEAD one image by id from the default registry."""
        return self._download(req, image_id)

    def show_by_uri(self, req):
        """GET/HEAD one image by its full URI (``?uri=``) from any allow-listed registry.

        :raises Invalid: without ``uri``, for a query string that does not decode as
            UTF-8, or for a registry not on the allow-list.
        """
        try:
            uri = req.GET.get('uri')
        except UnicodeDecodeError:
            # WebOb decodes the whole query string as UTF-8 on first access.
            raise exception.Invalid(reason='the query string is not percent-encoded '
                                           'UTF-8') from None
        if not uri:
            raise exception.Invalid(reason='GET /images needs ?uri=<image uri>')
        return self._download(req, uri)

    def _download(self, req, image_ref):
        """Look the image up, HEAD its chunks, and answer with a streaming body.

        HEAD performs the same lookup and chunk checks as GET (so it answers with the
        status a GET would get) but reads no data.
        """
        ctx, client = self._client(req)
        image = client.get_image(image_ref)
        if image.get('status') != 'active':
            if self.cache is not None:
                self.cache.forget(image['id'])
            raise exception.ImageNotFound(
                'Image %s is not available: its status is %s'
                % (image.get('id'), image.get('status')))
        digest, learn = download.digest_plan(image)

        def uncached():
            return download.open_image(
                self.stores, image, self.options.read_block_size,
                self._digest_recorder(client, image['id']) if learn else None)
        # The image cache answers after the lookup above, so a hit is authorized and
        # gets the same headers and Range/conditional handling as a store read.
        body = uncached() if self.cache is None else self.cache.body(
            image, req.environ, uncached)
        response = webob.Response(
            app_iter=body,
            content_length=body.size if image.get('size') is None else image['size'],
            content_type='application/octet-stream', conditional_response=True)
        response.accept_ranges = 'bytes'
        if image.get('checksum'):
            response.etag = image['checksum']
        if image.get('updated_at'):
            response.last_modified = datetime.datetime.fromisoformat(image['updated_at'])
        response.headerlist.extend(headers.image_meta_headers(image, ctx.is_admin))
        response.headers['X-Image-Meta-Verified'] = download.verified_by(
            digest, _is_partial(req, response))
        # Public-only sharing: any caller may see a public image, so a shared cache
        # (Varnish) may hand it to anyone; admins' responses carry locations.
        shared = image.get('is_public') and not ctx.is_admin
        response.headers['Cache-Control'] = (
            self.options.public_image_cache_control if shared
            else self.options.private_image_cache_control)
        return response

    @staticmethod
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

    # -- upload and registration -----------------------------------------------

    def create(self, req):
        """POST /images: create an image, with data, with locations, or queued.

        :returns: 201 with ``{"image": ...}`` and ``Location: <image uri>``.
        :raises Invalid: for bad headers, or both data and locations.
        """
        ctx, client = self._client(req)
        meta = headers.parse_image_meta(req.environ)
        if meta.locations and _has_body(req):
            raise exception.Invalid(reason='send either image data or '
                                           'x-image-meta-location, not both')
        if meta.locations or _has_body(req):
            # An unaccepted disk_format is refused before any record exists.
            self.formats.begin(meta.fields.get('disk_format'))
        if meta.locations:
            chunks = self._check_locations(ctx, meta)
            self._check_registered_size(client, meta.fields.get('owner', ctx.tenant),
                                        chunks)
            image = client.create_image(meta.registry_metadata())
            image = self._activate_registered(client, image, chunks)
        else:
            image = client.create_image(meta.registry_metadata())
            if _has_body(req):
                image = self._upload(client, image, req, {})
        return wsgi.json_response({'image': headers.visible_record(image, ctx.is_admin)},
                                  status=201, headers={'Location': image['uri']})

    def update(self, req, image_id):
        """PUT /images/<id>: upload data into a queued image, or update its metadata.

        With a body (or ``x-image-meta-location``) the image must be ``queued``; the
        header fields are applied along with the data. Without, the fields and
        properties are merged into the record (``x-glance-registry-purge-props:
        true`` replaces the properties instead).

        :raises Conflict: when data is sent for an image that is not queued.
        """
        ctx, client = self._client(req)
        meta = headers.parse_image_meta(req.environ)
        has_body = _has_body(req)
        if meta.locations and has_body:
            raise exception.Invalid(reason='send either image data or '
                                           'x-image-meta-location, not both')
        if not (has_body or meta.locations):
            purge = req.headers.get('x-glance-registry-purge-props', '').lower() == 'true'
            image = client.update_image(image_id, meta.registry_metadata(),
                                        purge_props=purge)
        else:
            image = client.get_image(image_id)
            if image.get('status') != 'queued':
                raise exception.Conflict(reason='image %s is %s; data can only be added '
                                                'to a queued image'
                                                % (image['id'], image.get('status')))
            if meta.locations:
                chunks = self._check_locations(ctx, meta)
                self._check_registered_size(client, image.get('owner'), chunks,
                                            image.get('size'))
                image = self._activate_registered(client, image, chunks,
                                                  meta.registry_metadata())
            else:
                image = self._upload(client, image, req, meta.registry_metadata())
        return wsgi.json_response({'image': headers.visible_record(image, ctx.is_admin)})

    def _upload(self, client, image, req, metadata):
        """Stream the request body into the default store: queued → saving → active.

        Any failure deletes the chunks written, marks the image ``killed`` and
        re-raises for the error map to answer.
        """
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
        try:
            client.update_image(image_id, dict(metadata, status='saving'))
            if converting:
                measured = self._convert(image, metadata, req, inspected, writer)
            else:
                writer.write(req.body_file, req.content_length)
                _check_body_end(req)
                measured = self._measured(writer)
                self._check_declared(image, metadata, measured)
            measured.update(writer.inspection.verdict().record())
            return client.update_image(image_id, dict(measured, status='active',
                                                      chunks=writer.chunks))
        # Deliberate cleanup on every failure, client disconnects included; re-raised.
        except BaseException:
            writer.discard()
            self._kill(client, image_id)
            raise

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

    def _convert(self, image, metadata, req, inspected, writer):
        """Stage the body, convert it with qemu-img, and write the result with
        ``writer`` (see :mod:`glance.api.conversion`).

        :returns: the registry fields of the converted image, the source's size and
            digests as ``source_*`` properties.
        """
        with self.conversions.workspace(image['id']) as work:
            staged, verdict = work.stage(req.body_file, req.content_length, inspected,
                                         self.options.read_block_size)
            source = self._measured(staged)
            self._check_declared(image, metadata, source)
            with open(work.convert(staged, verdict), 'rb') as converted:
                writer.write(converted)
        properties = {'source_disk_format': inspected.declared,
                      'source_size': str(source['size']),
                      'source_checksum': source['checksum'],
                      'source_sha256': source['sha256']}
        return dict(self._measured(writer), disk_format=self.conversions.convert_to,
                    properties=properties)

    @staticmethod
    def _measured(writer):
        """The size and digests an :class:`~glance.api.upload.ImageUpload` measured."""
        return {'size': writer.size, 'checksum': writer.checksum,
                'sha256': writer.sha256, 'blake3': writer.blake3}

    @staticmethod
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

    @staticmethod
    def _kill(client, image_id):
        try:
            client.update_image(image_id, {'status': 'killed'})
        # Deliberately swallowed: the original failure is what the client must see.
        except exception.GlanceException as err:
            LOG.warning('Image %s: could not mark it killed after a failed upload: %s',
                        image_id, err)

    def _check_locations(self, ctx, meta):
        """HEAD each location given to register; return the chunk records.

        :raises Invalid: for a malformed location, one carrying credentials, one that
            no enabled store serves, one the store refuses (outside the file store's
            directory, a non-global address), or one with no object behind it.
        :raises Forbidden: for a location in a writable store (``file://``,
            ``swift://``, ``s3://``: read with glance-api's own credentials) from a
            caller who is not admin.
        """
        chunks = []
        for position, value in enumerate(meta.locations, 1):
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
        declared = meta.fields.get('size')
        if declared is not None and declared != size:
            raise exception.Invalid(reason='x-image-meta-size is %d but the locations '
                                           'hold %d bytes' % (declared, size))
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
            image = client.update_image(image['id'], dict(metadata, status='saving'))
            verdict = self._inspect_registered(image)
            return client.update_image(image['id'], dict(verdict.record(),
                                                         status='active'))
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

    # -- delete -----------------------------------------------------------------

    def delete(self, req, image_id):
        """DELETE /images/<id>: delete the image's data, then its record.

        An active image first becomes ``pending_delete`` (the registry checks the
        caller may modify it), then each chunk that glance-api itself wrote for this
        image is deleted from its store (an object already gone is fine), then the
        record is deleted. Registered objects (any location other than the one an
        upload of this image would have written, and every object of a read-only
        store such as http) are only unregistered, so deleting an image can never
        delete another image's data.

        :returns: 204.
        :raises Forbidden: when the caller may see but not delete the image.
        """
        ctx, client = self._client(req)
        image = client.get_image(image_id)
        if not ctx.can_modify(image.get('owner')):
            raise exception.Forbidden('You may not delete image %s' % image['id'])
        chunks = download.image_chunks(image, check_size=False)
        if image.get('status') == 'active':
            client.update_image(image['id'], {'status': 'pending_delete'})
        for chunk in chunks:
            self._delete_chunk(image['id'], chunk, len(chunks))
        client.delete_image(image['id'])
        if self.cache is not None:
            self.cache.forget(image['id'])
        return webob.Response(status=204)

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
