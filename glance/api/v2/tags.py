"""``/v2/images/<id>/tags/<tag>``: add (``PUT``) and remove (``DELETE``) one tag.

Both answer 204. Adding a tag the image has is a no-op; removing one it lacks is a
404. The whole list is also set by a JSON patch of ``/tags``
(:mod:`glance.api.v2.patch`).
"""

import webob

from glance.api import surface
from glance.api.v2 import schemas
from glance.common import context


class TagsController(surface.SurfaceController):
    """The v2 tag resource (see the module docstring)."""

    def update(self, req, image_id, tag):
        """``PUT /v2/images/<id>/tags/<tag>``.

        :raises Invalid: for a tag longer than 255 characters.
        """
        ctx = context.from_environ(req.environ)
        tag = schemas.check_value('tags', [tag])[0]
        self.core.add_tag(ctx, self.get_image(ctx, image_id)['id'], tag)
        return webob.Response(status=204)

    def delete(self, req, image_id, tag):
        """``DELETE /v2/images/<id>/tags/<tag>``."""
        ctx = context.from_environ(req.environ)
        self.core.remove_tag(ctx, self.get_image(ctx, image_id)['id'], tag)
        return webob.Response(status=204)
