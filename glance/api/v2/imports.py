"""Interoperable image import of the v2 API, method ``glance-direct`` only.

================================== ====================================================
request                            answer
================================== ====================================================
GET /v2/info/import                ``{"import-methods": {"value": [...], ...}}``: the
                                   methods served, ``glance-direct`` when
                                   ``import_staging_dir`` is set, else none
PUT /v2/images/<id>/stage          204: the data (``application/octet-stream``, at most
                                   ``image_size_cap`` bytes, ``X-OpenStack-Image-Size``
                                   checked) is staged for a queued image the caller
                                   may modify, which becomes ``uploading``; another
                                   status: 409
POST /v2/images/<id>/import        ``{"method": {"name": "glance-direct"}}``: 202 once
                                   the staged data of the uploading image went through
                                   the image core's upload (checks, format inspection,
                                   store); the image is then active (or killed, with
                                   the error)
================================== ====================================================

The create answer of ``POST /v2/images`` names the methods in
``OpenStack-image-import-methods`` (openstacksdk imports only when it sees one).
``web-download`` and ``glance-download`` are never served: glance-api would fetch an
address the client chose. The import runs within its request, so the image is
active, or killed, when the 202 comes. glance-api has one store: ``stores`` may not
be given, and ``all_stores`` (``true`` or ``false``) means that store.
"""

import webob

from glance.api import core, surface
from glance.api.v2 import image_data
from glance.common import context, exception, wsgi

GLANCE_DIRECT = 'glance-direct'
#: The response header of an image create that lists the import methods.
METHODS_HEADER = 'OpenStack-image-import-methods'


def methods(staging):
    """The import methods served with this staging area (None: import is off)."""
    return [GLANCE_DIRECT] if staging is not None else []


def _check_import_body(body):
    """Refuse an import request this service does not serve.

    :raises Invalid: for a method other than glance-direct, a ``stores`` list or an
        ``all_stores*`` value that is not a boolean.
    """
    method = body.get('method')
    if not isinstance(method, dict) or not isinstance(method.get('name'), str):
        raise exception.Invalid(reason='the body must be {"method": {"name": "%s"}}'
                                       % GLANCE_DIRECT)
    if method['name'] != GLANCE_DIRECT:
        raise exception.Invalid(reason='import method %s is not served; this service '
                                       'imports with %s only'
                                       % (method['name'][:64], GLANCE_DIRECT))
    if body.get('stores'):
        raise exception.Invalid(reason='this service has one store: leave "stores" '
                                       'out')
    for name in ('all_stores', 'all_stores_must_succeed'):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise exception.Invalid(reason='%s must be true or false' % name)


class ImportController(surface.SurfaceController):
    """The v2 import resources (see the module docstring).

    :param core: the :class:`~glance.api.core.ImageCore`.
    :param staging: the :class:`~glance.api.v2.staging.StagingArea`, or None when
        ``import_staging_dir`` is not set (then stage and import are 404s).
    """

    def __init__(self, core, staging):
        super().__init__(core)
        self.staging = staging

    def _staging(self):
        if self.staging is None:
            raise exception.NotFound('image import is not enabled on this service '
                                     '(import_staging_dir is not set)')
        return self.staging

    def info(self, req):
        """``GET /v2/info/import``."""
        return {'import-methods': {'description': 'Import methods available.',
                                   'type': 'array', 'value': methods(self.staging)}}

    def stage(self, req, image_id):
        """``PUT /v2/images/<id>/stage``: 204 once the data is staged.

        :raises UnsupportedMediaType: for another Content-Type.
        :raises Conflict: when the image is not queued.
        :raises Forbidden: when the caller may not modify the image.
        """
        staging = self._staging()
        image_data.check_data_request(req)
        ctx = context.from_environ(req.environ)
        image_id = self.core.check_writable(ctx, surface.path_image_id(image_id))['id']
        staging.stage(image_id, req.body_file, image_data.declared_size(req))
        try:
            wsgi.check_body_end(req)
            self.core.mark_staged(ctx, image_id)
        # Deliberate cleanup: the image did not become uploading; re-raised.
        except BaseException:
            staging.discard(image_id)
            raise
        return webob.Response(status=204)

    def import_image(self, req, image_id):
        """``POST /v2/images/<id>/import``: 202 once the staged data is the image's.

        :raises Invalid: for a method or store choice not served.
        :raises Conflict: when the image is not uploading or its staged data is not
            here (staged through another glance-api host).
        """
        staging = self._staging()
        _check_import_body(wsgi.parse_json_body(req))
        ctx = context.from_environ(req.environ)
        image_id = self.core.check_writable(ctx, surface.path_image_id(image_id),
                                            status=core.UPLOADING)['id']
        staged, size = staging.take(image_id)
        with staged:
            self.core.upload(ctx, image_id, staged, size, staged=True)
        return webob.Response(status=202)
