"""Teller's images resource: download, upload, register, update and delete images.

Every registry call is made with the caller's identity plus the ``service`` role
(:meth:`~glance.common.context.RequestContext.elevated_for_service`), so the registry
still applies the caller's visibility and ownership rules while also returning chunk
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

import webob

from glance.api import download, headers, upload
from glance.common import context, exception, wsgi
from glance.store import base as store_base

LOG = logging.getLogger(__name__)


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
    :param cache: the :class:`~glance.api.cache.serve.ImageCache`, or None.
    """

    def __init__(self, registry, stores, options, cache=None):
        self.registry = registry
        self.stores = stores
        self.options = options
        self.cache = cache

    def _client(self, req):
        ctx = context.from_environ(req.environ)
        return ctx, self.registry.with_context(ctx.elevated_for_service())

    # -- download ---------------------------------------------------------------

    def show(self, req, image_id):
        """GET/HEAD one image by id from the default registry."""
        return self._download(req, image_id)

    def show_by_uri(self, req):
        """GET/HEAD one image by its full URI (``?uri=``) from any allow-listed registry.

        :raises Invalid: without ``uri``, or for a registry not on the allow-list.
        """
        uri = req.GET.get('uri')
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

        def uncached():
            return download.open_image(self.stores, image,
                                       self.options.read_block_size)
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
        # Public-only sharing: any caller may see a public image, so a shared cache
        # (Varnish) may hand it to anyone; admins' responses carry locations.
        shared = image.get('is_public') and not ctx.is_admin
        response.headers['Cache-Control'] = (
            self.options.public_image_cache_control if shared
            else self.options.private_image_cache_control)
        return response

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
        if meta.locations:
            chunks = self._check_locations(ctx, meta)
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
        writer = upload.ImageUpload(self.stores.default_store, image_id,
                                    self.options.store_chunk_size,
                                    self.options.read_block_size,
                                    self.options.image_size_cap)
        try:
            client.update_image(image_id, dict(metadata, status='saving'))
            writer.write(req.body_file, req.content_length)
            measured = {'size': writer.size, 'checksum': writer.checksum,
                        'sha256': writer.sha256, 'xxh3': writer.xxh3}
            self._check_declared(image, metadata, measured)
            return client.update_image(image_id, dict(measured, status='active',
                                                      chunks=writer.chunks))
        # Deliberate cleanup on every failure, client disconnects included; re-raised.
        except BaseException:
            writer.discard()
            self._kill(client, image_id)
            raise

    @staticmethod
    def _check_declared(image, metadata, measured):
        """Compare the data with the size and digests the client declared.

        :param image: the record before the upload (fields set at creation).
        :param metadata: the fields sent with the data.
        :param measured: ``{field: value}`` of the data: size, checksum, sha256, xxh3.
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
            no enabled store serves, or one with no object behind it.
        :raises Forbidden: for a ``file://`` location from a caller who is not admin.
        """
        chunks = []
        for position, value in enumerate(meta.locations, 1):
            location = store_base.Location.parse(value)
            if location.scheme == 'file' and not ctx.is_admin:
                raise exception.Forbidden('Only admins may register file:// locations')
            store = self.stores.for_location(location)
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
        """Record existing chunks on a queued image and make it active.

        A failure marks the image ``killed`` (the registered objects are not touched).
        """
        try:
            return client.update_image(image['id'], dict(
                metadata or {}, status='active', chunks=chunks,
                size=sum(chunk['size'] for chunk in chunks)))
        # Deliberate cleanup on every failure; re-raised.
        except BaseException:
            self._kill(client, image['id'])
            raise

    # -- delete -----------------------------------------------------------------

    def delete(self, req, image_id):
        """DELETE /images/<id>: delete the image's data, then its record.

        An active image first becomes ``pending_delete`` (the registry checks the
        caller may modify it), then each chunk is deleted from its store (read-only
        stores such as http are skipped: their objects are only unregistered; an
        object already gone is fine), then the record is deleted.

        :returns: 204.
        :raises Forbidden: when the caller may see but not delete the image.
        """
        ctx, client = self._client(req)
        image = client.get_image(image_id)
        if not ctx.can_modify(image.get('owner')):
            raise exception.Forbidden('You may not delete image %s' % image['id'])
        if image.get('status') == 'active':
            client.update_image(image['id'], {'status': 'pending_delete'})
        chunks = download.image_chunks(image, check_size=False)
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
            raise exception.UpstreamError(reason='%s: %s; enable its store to delete it'
                                                 % (where, err.message))
        if not store.writable:
            return
        try:
            store.delete(chunk.location)
        except store_base.ObjectNotFound:
            LOG.info('%s was already gone from store %s', where, store.name)
