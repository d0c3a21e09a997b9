"""The routes of the v2 API, the only place they are listed.

================================================ ========================================
request                                          action
================================================ ========================================
GET /v2/schemas/{image,images,member,members}    :class:`.schemas.SchemasController`
GET, POST /v2/images                             :class:`.images.ImagesController`
GET, PATCH, DELETE /v2/images/<id>               :class:`.images.ImagesController`
PUT, GET /v2/images/<id>/file                    :class:`.image_data.ImageDataController`
PUT, DELETE /v2/images/<id>/tags/<tag>           :class:`.tags.TagsController`
GET, POST /v2/images/<id>/members                :class:`.members.MembersController`
GET, PUT, DELETE /v2/images/<id>/members/<p>     :class:`.members.MembersController`
GET /v2/info/import                              :class:`.imports.ImportController`
PUT /v2/images/<id>/stage                        :class:`.imports.ImportController`
POST /v2/images/<id>/import                      :class:`.imports.ImportController`
================================================ ========================================
"""

from glance.api.v2 import image_data, images, imports, members, schemas, staging, tags

_GET = ['GET', 'HEAD']


def connect_routes(mapper, core, disk_formats=None):
    """Add the v2 routes to glance-api's mapper.

    :param mapper: the :class:`routes.Mapper` of :func:`glance.api.router.build_mapper`.
    :param core: the :class:`~glance.api.core.ImageCore` every handler calls.
    :param disk_formats: the accepted ``disk_format`` values, for the image schema.
    :raises ConfigError: when ``import_staging_dir`` is not a folder.
    """
    def connect(path, controller, **actions):
        for method, action in actions.items():
            mapper.connect(path, controller=controller, action=action,
                           conditions={'method': _GET if method == 'GET' else [method]})

    mapper.connect('/v2/schemas/{name}', controller=schemas.SchemasController(
        disk_formats), action='show', conditions={'method': _GET},
        requirements={'name': 'image|images|member|members'})
    options = core.options
    area = None if options.import_staging_dir is None else staging.StagingArea(
        options.import_staging_dir, options.read_block_size, options.image_size_cap)
    image = images.ImagesController(core, area)
    connect('/v2/images', image, GET='index', POST='create')
    connect('/v2/images/{image_id}', image, GET='show', PATCH='update', DELETE='delete')
    connect('/v2/images/{image_id}/file', image_data.ImageDataController(core),
            PUT='upload', GET='download')
    connect('/v2/images/{image_id}/tags/{tag}', tags.TagsController(core),
            PUT='update', DELETE='delete')
    importer = imports.ImportController(core, area)
    connect('/v2/info/import', importer, GET='info')
    connect('/v2/images/{image_id}/stage', importer, PUT='stage')
    connect('/v2/images/{image_id}/import', importer, POST='import_image')
    member = members.MembersController(core)
    connect('/v2/images/{image_id}/members', member, GET='index', POST='create')
    connect('/v2/images/{image_id}/members/{member_id}', member, GET='show',
            PUT='update', DELETE='delete')
    importer = imports.ImportController(core, area)
    connect('/v2/info/import', importer, GET='info')
    connect('/v2/images/{image_id}/stage', importer, PUT='stage')
    connect('/v2/images/{image_id}/import', importer, POST='import_image')
