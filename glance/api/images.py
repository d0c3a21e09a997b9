"""Teller's native ``x-image-meta`` images resource: the HTTP side only.

This controller parses requests (:mod:`glance.api.headers`) and builds responses
(``x-image-meta-*`` headers, ``ETag``, ``Cache-Control``, ``X-Image-Meta-Verified``);
what a request does is the :class:`~glance.api.core.ImageCore`'s job. Every registry
call of the core carries the caller's token and glance-api's own service token
(:class:`~glance.common.auth.ServiceCredentials`), so the registry, having verified
both, applies the caller's visibility and ownership rules while also returning chunk
locations, which the core needs and this controller shows to admins only.

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
import functools

import webob

from glance.api import headers
from glance.common import context, exception, wsgi

def _is_partial(req, response):
    """True when WebOb will answer this request with a 206 (its own conditions)."""
    return bool(req.range and response in req.if_range
                and req.range.content_range(response.content_length) is not None)


class ImagesController(wsgi.Controller):
    """The native image resource of glance-api.

    :param core: the :class:`~glance.api.core.ImageCore` doing the work.
    :param options: the typed :class:`~glance.api.router.ApiOptions` (its
        ``Cache-Control`` values).
    """

    def __init__(self, core, options):
        self.core = core
        self.options = options

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
        """Answer with the image's streaming body and its ``x-image-meta`` headers.

        HEAD performs the same lookup and chunk checks as GET (so it answers with the
        status a GET would get) but reads no data.
        """
        ctx = context.from_environ(req.environ)
        opened = self.core.open_download(ctx, image_ref, req.environ)
        return download_response(req, ctx, opened, self.options,
                                 headers.image_meta_headers(opened.image, ctx.is_admin))

    # -- upload and registration -----------------------------------------------

    def create(self, req):
        """POST /images: create an image, with data, with locations, or queued.

        :returns: 201 with ``{"image": ...}`` and ``Location: <image uri>``.
        :raises Invalid: for bad headers, or both data and locations.
        """
        ctx = context.from_environ(req.environ)
        meta, has_body = _parse_write(req)
        image = self.core.reserve(ctx, meta.registry_metadata(), meta.locations,
                                  with_data=has_body)
        if has_body:
            image = self._upload(ctx, req, image['id'], {})
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
        ctx = context.from_environ(req.environ)
        meta, has_body = _parse_write(req)
        if has_body:
            image = self._upload(ctx, req, image_id, meta.registry_metadata())
        elif meta.locations:
            image = self.core.register(ctx, image_id, meta.locations,
                                       meta.registry_metadata())
        else:
            purge = req.headers.get('x-glance-registry-purge-props', '').lower() == 'true'
            image = self.core.update(ctx, image_id, meta.registry_metadata(),
                                     purge_props=purge)
        return wsgi.json_response({'image': headers.visible_record(image, ctx.is_admin)})

    def _upload(self, ctx, req, image_id, metadata):
        return self.core.upload(ctx, image_id, req.body_file, req.content_length,
                                metadata, after_body=functools.partial(wsgi.check_body_end,
                                                                       req))

    # -- delete -----------------------------------------------------------------

    def delete(self, req, image_id):
        """DELETE /images/<id>: delete the image's data, then its record.

        See :meth:`~glance.api.core.ImageCore.delete`.

        :returns: 204.
        :raises Forbidden: when the caller may see but not delete the image, or it
            is protected.
        """
        self.core.delete(context.from_environ(req.environ), image_id)
        return webob.Response(status=204)


def download_response(req, ctx, opened, options, meta_headers):
    """The answer to an image download, for every surface that serves one.

    A streaming body (``Range`` and conditional requests answered by WebOb), ``ETag``
    (the md5 checksum), ``Last-Modified``, the surface's image headers,
    ``X-Image-Meta-Verified`` and ``Cache-Control``.

    :param opened: the core's :class:`~glance.api.core.ImageDownload`.
    :param options: the :class:`~glance.api.router.ApiOptions` (``Cache-Control``).
    :param meta_headers: the image as ``(name, value)`` headers.
    """
    image = opened.image
    response = webob.Response(
        app_iter=opened.body, content_length=opened.size,
        content_type='application/octet-stream', conditional_response=True)
    response.accept_ranges = 'bytes'
    if image.get('checksum'):
        response.etag = image['checksum']
    if image.get('updated_at'):
        response.last_modified = datetime.datetime.fromisoformat(image['updated_at'])
    response.headerlist.extend(meta_headers)
    response.headers['X-Image-Meta-Verified'] = opened.verified_by(
        _is_partial(req, response))
    # Public-only sharing: any caller may see a public image, so a shared cache
    # (Varnish) may hand it to anyone; admins' responses carry locations.
    shared = image.get('is_public') and not ctx.is_admin
    response.headers['Cache-Control'] = (
        options.public_image_cache_control if shared
        else options.private_image_cache_control)
    return response


def _parse_write(req):
    """Parse the ``x-image-meta`` headers of a POST or PUT.

    :returns: ``(meta, has_body)``.
    :raises Invalid: for bad headers, or both data and locations.
    """
    meta = headers.parse_image_meta(req.environ)
    has_body = wsgi.has_body(req)
    if meta.locations and has_body:
        raise exception.Invalid(reason='send either image data or '
                                       'x-image-meta-location, not both')
    return meta, has_body
