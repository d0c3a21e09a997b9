"""The image cache's admin API on glance-api (callers with the ``admin`` role only).

=================================== ===============================================
request                             action
=================================== ===============================================
GET /cache                          cached images (size, hits, last access,
                                    verified at), fills in progress (bytes so far),
                                    queued images, bytes used and the cap
DELETE /cache/images                drop every cached image (204)
DELETE /cache/images/<id>           drop one (204; 404 when not cached)
POST /cache/images/<id>/verify      audit one now: registry check and a full hash
                                    (200 ``{"result": "ok|dropped|corrupt"}``)
PUT /cache/queue/<id>               queue an image the caller can see for prefetch
                                    (202)
DELETE /cache/queue/<id>            take it off the queue (204; 404 when not queued)
=================================== ===============================================
"""

import webob

from glance.common import context, exception, wsgi


class CacheAdminController(wsgi.Controller):
    """Admin resource of one glance-api's image cache.

    :param cache: the :class:`~glance.api.cache.serve.ImageCache`.
    :param maintainer: its :class:`~glance.api.cache.maintain.Maintainer`.
    :param registry: a :class:`~glance.registry.client.RegistryClient` (no context)
        carrying glance-api's service credentials.
    """

    def __init__(self, cache, maintainer, registry):
        self.cache = cache
        self.maintainer = maintainer
        self.registry = registry

    @staticmethod
    def _admin(req):
        ctx = context.from_environ(req.environ)
        if not ctx.is_admin:
            raise exception.Forbidden('The image cache API is for admins only')
        return ctx

    def show(self, req):
        """GET /cache: the cache's contents and queue."""
        self._admin(req)
        index = self.cache.index
        cached = [{'id': entry.image_id, 'size': entry.size, 'hits': entry.hits,
                   'last_access': entry.last_access, 'verified_at': entry.verified_at}
                  for entry in sorted(index.entries.values(),
                                      key=lambda entry: -entry.last_access)]
        filling = [{'id': fill.image_id, 'size': fill.size, 'written': fill.written}
                   for fill in self.cache.fills.values()]
        queued = [{'id': image_id, 'queued_at': queued_at,
                   'prefetching': image_id in self.maintainer.prefetching}
                  for image_id, queued_at in index.queued()]
        return wsgi.json_response({'cached_images': cached, 'filling': filling,
                                   'queued_images': queued, 'used': index.used(),
                                   'max_size': index.max_size})

    def delete_all(self, req):
        """DELETE /cache/images: drop every entry (fills in progress go on)."""
        self._admin(req)
        for image_id in list(self.cache.index.entries):
            self.cache.index.drop(image_id)
        return webob.Response(status=204)

    def delete(self, req, image_id):
        """DELETE /cache/images/<id>: drop one entry.

        :raises NotFound: when the image is not cached.
        """
        self._admin(req)
        if not self.cache.index.drop(image_id):
            raise exception.NotFound('Image %s is not cached' % image_id)
        return webob.Response(status=204)

    def verify(self, req, image_id):
        """POST /cache/images/<id>/verify: audit one entry now.

        :raises NotFound: when the image is not cached.
        """
        self._admin(req)
        result = self.maintainer.audit(image_id)
        if result is None:
            raise exception.NotFound('Image %s is not cached' % image_id)
        return wsgi.json_response({'id': image_id, 'result': result})

    def queue(self, req, image_id):
        """PUT /cache/queue/<id>: queue an image for prefetch.

        :raises NotFound: when the registry does not know the image.
        :raises Invalid: when it is not active.
        """
        ctx = self._admin(req)
        # As the caller (who must see the image); the client adds glance-api's own
        # service token itself.
        image = self.registry.with_context(ctx).get_image(image_id)
        if image.get('status') != 'active':
            raise exception.Invalid(reason='image %s is %s; only active images can be '
                                           'cached' % (image['id'], image.get('status')))
        self.maintainer.enqueue(image['id'])
        return wsgi.json_response({'id': image['id'], 'queued': True}, status=202)

    def dequeue(self, req, image_id):
        """DELETE /cache/queue/<id>: take an image off the prefetch queue.

        :raises NotFound: when it is not queued.
        """
        self._admin(req)
        if not self.cache.index.dequeue(image_id):
            raise exception.NotFound('Image %s is not queued' % image_id)
        return webob.Response(status=204)


def connect_routes(mapper, controller):
    """Add the cache admin routes to glance-api's mapper."""
    for path, action, method in (
            ('/cache', 'show', 'GET'),
            ('/cache/images', 'delete_all', 'DELETE'),
            ('/cache/images/{image_id}', 'delete', 'DELETE'),
            ('/cache/images/{image_id}/verify', 'verify', 'POST'),
            ('/cache/queue/{image_id}', 'queue', 'PUT'),
            ('/cache/queue/{image_id}', 'dequeue', 'DELETE')):
        mapper.connect(path, controller=controller, action=action,
                       conditions={'method': [method]})

