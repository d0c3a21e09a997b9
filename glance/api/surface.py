"""What the controllers of every image API surface share (v1, v2).

A surface speaks its own protocol; the work is the
:class:`~glance.api.core.ImageCore`'s. Both surfaces name an image by id in the path
and answer 404 for anything that cannot be one: clients such as python-glanceclient
look a name up as an id first and expect "not found", not "bad request".
"""

from glance.common import exception, wsgi
from glance.registry import validation


def path_image_id(image_id):
    """The image id of a request path, lower-cased.

    :raises ImageNotFound: for anything but a UUID (nothing can have that id).
    """
    try:
        return validation.image_id(image_id)
    except exception.Invalid:
        raise exception.ImageNotFound(image_id=image_id[:64]) from None


class SurfaceController(wsgi.Controller):
    """Base of the v1 and v2 controllers: the image core and the caller's lookups.

    :param core: the :class:`~glance.api.core.ImageCore`.
    """

    def __init__(self, core):
        self.core = core

    def get_image(self, ctx, image_id):
        """The record of an image the caller may see and that is not deleted.

        :raises ImageNotFound: otherwise.
        """
        image_id = path_image_id(image_id)
        record = self.core.get(ctx, image_id)
        if record.get('status') == 'deleted':
            raise exception.ImageNotFound(image_id=image_id)
        return record

    def find_member(self, ctx, image_id, member_id):
        """The membership of ``member_id`` in an image, or None when it has none."""
        for record in self.core.members(ctx, image_id):
            if record['member_id'] == member_id:
                return record
        return None

    def get_member(self, ctx, image_id, member_id):
        """The membership of ``member_id`` in an image.

        :raises NotFound: when it has none.
        """
        record = self.find_member(ctx, image_id, member_id)
        if record is None:
            raise exception.NotFound('Project %s is not a member of image %s'
                                     % (member_id[:64], image_id))
        return record
