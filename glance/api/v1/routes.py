"""The routes of the Glance v1 API, the only place they are listed.

=============================================== =====================================
request                                         action
=============================================== =====================================
GET /v1/images, GET /v1/images/detail           :class:`.images.ImagesController`
POST /v1/images                                 :class:`.images.ImagesController`
HEAD, GET, PUT, DELETE /v1/images/<id>          :class:`.images.ImagesController`
GET, PUT /v1/images/<id>/members                :class:`.members.MembersController`
GET, PUT, DELETE /v1/images/<id>/members/<m>    :class:`.members.MembersController`
GET /v1/shared-images/<m>                       :class:`.members.MembersController`
=============================================== =====================================
"""

from glance.api.v1 import images, members

# /v1/images/detail is the detailed list, never an image (so its 405 answers
# list GET only in Allow).
_NOT_DETAIL = '(?!detail$)[^/]+'


def connect_routes(mapper, core):
    """Add the v1 routes to glance-api's mapper.

    :param mapper: the :class:`routes.Mapper` of :func:`glance.api.router.build_mapper`.
    :param core: the :class:`~glance.api.core.ImageCore` every handler calls.
    """
    def connect(path, controller, **actions):
        for method, action in actions.items():
            mapper.connect(path, controller=controller, action=action,
                           conditions={'method': [method]},
                           requirements={'image_id': _NOT_DETAIL})

    image = images.ImagesController(core)
    connect('/v1/images', image, GET='index', POST='create')
    connect('/v1/images/detail', image, GET='detail')
    connect('/v1/images/{image_id}', image, HEAD='meta', GET='show', PUT='update',
            DELETE='delete')
    member = members.MembersController(core)
    connect('/v1/images/{image_id}/members', member, GET='index', PUT='replace')
    connect('/v1/images/{image_id}/members/{member_id}', member, GET='show',
            PUT='update', DELETE='delete')
    connect('/v1/shared-images/{member_id}', member, GET='shared_images')
