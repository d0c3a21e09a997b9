"""The Parallax image registry: a JSON REST API over the image database.

:func:`app_factory` is the paste entry point of ``glance-registry``. It reads the
options below once, opens (and by default creates or upgrades) the database, and
returns a :class:`glance.common.wsgi.Router` built by :func:`build_mapper`, the one
place where the routes are listed. The caller's identity comes from
``environ['glance.context']`` (the ``context`` filter); without it, a caller is
anonymous.

=================== ============================ =====================================
option              default                      meaning
=================== ============================ =====================================
public_endpoint     http://<bind_host>:<port>    base URL of image URIs and ``next``
                                                 links; when bind_host is a wildcard
                                                 or the port is 0, the request's own
                                                 host URL is used
db_auto_create      true                         create/upgrade the schema at start-up
api_limit_max       1000                         largest page size a client may ask for
limit_param_default 25                           page size when ``limit`` is absent
max_json_body_size  1M                           largest JSON request body (413)
max_json_depth      32                           deepest nesting of a JSON body (400)
image_property_quota 128                         most properties one image may hold
                                                 (413); 0 means none allowed
image_member_quota  128                          most members one image may have (413)
=================== ============================ =====================================

Which fields a caller may set and how an image's status may change is
:mod:`glance.registry.image_rules`.

The ``sql_*`` options are read by :mod:`glance.registry.db.session`. The sharing
routes (``/images/<id>/members``, ``/shared-images/<member>``) are
:mod:`glance.registry.members`.
"""

import dataclasses
import logging
import urllib.parse

import routes
import webob

from glance.common import config, context, exception, wsgi
from glance.common import health as health_check
from glance.registry import image_rules, members, validation
from glance.registry.db import api as db_api
from glance.registry.db import migration, session

LOG = logging.getLogger(__name__)

DEFAULT_PORT = 9191  # the glance-registry daemon's default bind_port
API_VERSION = 'v1.0'
_WILDCARD_HOSTS = ('', '0.0.0.0', '::')
_GET = {'method': ['GET', 'HEAD']}
PURGE_PROPS_HEADER = 'X-Glance-Registry-Purge-Props'
#: WSGI environ key a filter in front of the registry may set (never a client: it
#: is no header) to narrow ``GET /images[/detail]`` to some images: a SQLAlchemy
#: ``SELECT`` of image ids that the list statement embeds (see the instance_aware
#: filter).
ONLY_IDS_KEY = 'glance.registry.only_ids'


@dataclasses.dataclass(frozen=True)
class RegistryOptions:
    """Typed options of the registry app (see the module docstring).

    :ivar public_endpoint: base URL without trailing slash, or None to use the
        request's host URL.
    """

    public_endpoint: str | None = None
    db_auto_create: bool = True
    api_limit_max: int = 1000
    limit_param_default: int = 25
    max_json_body_size: int = 1024 * 1024
    max_json_depth: int = 32
    image_property_quota: int = 128
    image_member_quota: int = 128


def _check_endpoint(url, section):
    parts = urllib.parse.urlsplit(url)
    if (parts.scheme not in ('http', 'https') or not parts.hostname
            or parts.username or parts.password or parts.query or parts.fragment):
        raise exception.ConfigError('public_endpoint', section,
                                    'expected an http(s) URL such as '
                                    'https://registry.example.com:9191')
    return url.rstrip('/')


def load_options(conf):
    """Read the registry app's options from a merged conf dict.

    :raises ConfigError: naming the first bad option.
    """
    opts = config.Options(conf)
    endpoint = opts.get_str('public_endpoint', None)
    if endpoint:
        endpoint = _check_endpoint(endpoint, opts.section)
    else:
        host = opts.get_str('bind_host', '127.0.0.1')
        port = opts.get_int('bind_port', DEFAULT_PORT, minimum=0, maximum=65535)
        if port and host not in _WILDCARD_HOSTS:
            scheme = 'https' if opts.get_str('cert_file', None) else 'http'
            endpoint = '%s://%s:%d' % (scheme, '[%s]' % host if ':' in host else host,
                                       port)
    limit_max = opts.get_int('api_limit_max', 1000, minimum=1)
    return RegistryOptions(
        public_endpoint=endpoint or None,
        db_auto_create=opts.get_bool('db_auto_create', True),
        api_limit_max=limit_max,
        limit_param_default=opts.get_int('limit_param_default', 25, minimum=1,
                                         maximum=limit_max),
        max_json_body_size=opts.get_size('max_json_body_size', 1024 * 1024,
                                         minimum=1024),
        max_json_depth=opts.get_int('max_json_depth', 32, minimum=3, maximum=1000),
        image_property_quota=opts.get_int('image_property_quota', 128, minimum=0),
        image_member_quota=opts.get_int('image_member_quota', 128, minimum=0))


_timestamp = members.timestamp


class ImagesController(wsgi.Controller):
    """``/images``: list, show, create, update and delete image records; tags.

    :param database: a :class:`glance.registry.db.session.Database`.
    :param options: the :class:`RegistryOptions`.
    """

    def __init__(self, database, options=RegistryOptions()):
        self.database = database
        self.options = options

    def _base_url(self, req):
        return self.options.public_endpoint or req.application_url

    def _brief(self, image, base):
        return {'id': image.id, 'uri': '%s/images/%s' % (base, image.id),
                'name': image.name, 'status': image.status,
                'visibility': image.visibility,
                'is_public': image.visibility == 'public',
                'disk_format': image.disk_format,
                'container_format': image.container_format, 'size': image.size,
                'checksum': image.checksum}

    def _full(self, image, base, ctx):
        view = self._brief(image, base)
        view.update(
            owner=image.owner, sha256=image.sha256, blake3=image.blake3,
            detected_format=image.detected_format, virtual_size=image.virtual_size,
            protected=image.protected, min_disk=image.min_disk, min_ram=image.min_ram,
            tags=sorted(tag.value for tag in image.tags),
            properties={name: prop.value for name, prop in image.properties.items()},
            created_at=_timestamp(image.created_at),
            updated_at=_timestamp(image.updated_at),
            deleted_at=_timestamp(image.deleted_at), deleted=image.deleted)
        if ctx.can_see_locations:
            view['location'] = image.chunks[0].location if image.chunks else None
            view['chunks'] = [{'location': chunk.location, 'size': chunk.size,
                               'checksum': chunk.checksum} for chunk in image.chunks]
        return view

    def _list(self, req, detail):
        ctx = context.from_environ(req.environ)
        query = validation.list_query(
            validation.query_params(req, validation.is_list_param,
                                    validation.REPEATABLE_PARAMS),
            self.options.limit_param_default, self.options.api_limit_max)
        images, more = db_api.image_list(self.database, ctx, query, detail=detail,
                                         only_ids=req.environ.get(ONLY_IDS_KEY))
        base = self._base_url(req)
        if detail:
            body = {'images': [self._full(image, base, ctx) for image in images]}
        else:
            body = {'images': [self._brief(image, base) for image in images]}
        if more:
            body['next'] = '%s%s?%s' % (base, req.path_info, urllib.parse.urlencode(
                query.next_params(images[-1].id), doseq=True))
        return body

    def index(self, req):
        """``GET /images``: a page of brief records."""
        return self._list(req, detail=False)

    def detail(self, req):
        """``GET /images/detail``: a page of full records."""
        return self._list(req, detail=True)

    def show(self, req, image_id):
        """``GET /images/<id>``: one full record."""
        validation.query_params(req, ())
        ctx = context.from_environ(req.environ)
        image = db_api.image_get(self.database, ctx, image_id.lower())
        return {'image': self._full(image, self._base_url(req), ctx)}

    def _body(self, req, current_id=None):
        """The checked fields of a create or update body."""
        return validation.image_body(
            wsgi.parse_json_body(req, self.options.max_json_body_size,
                                 self.options.max_json_depth), current_id=current_id)

    @staticmethod
    def _authorize(ctx, values):
        """Check the fields only some callers may set.

        :raises Forbidden: for fields only the upload flow may set (see
            :mod:`glance.registry.image_rules`), a public or community visibility from
            a caller whose roles may not publish (``publish_roles``), or an owner other
            than the caller's tenant from a non-admin.
        """
        image_rules.check_caller_fields(ctx, values)
        image_rules.check_publishing(ctx, values)
        if 'owner' in values and not ctx.is_admin and values['owner'] != ctx.tenant:
            raise exception.Forbidden('only an admin may set another owner')

    def create(self, req):
        """``POST /images``: register a new image; 201 with ``Location``.

        :raises Forbidden: for anonymous callers and fields they may not set.
        :raises Duplicate: when the given ``id`` is taken.
        """
        validation.query_params(req, ())
        ctx = context.from_environ(req.environ)
        if ctx.is_anonymous and not ctx.is_admin:
            raise exception.Forbidden('anonymous callers cannot register images')
        values = self._body(req)
        self._authorize(ctx, values)
        values.setdefault('owner', ctx.tenant)
        image = db_api.image_create(self.database, values,
                                    self.options.image_property_quota)
        view = self._full(image, self._base_url(req), ctx)
        return wsgi.json_response({'image': view}, status=201,
                                  headers={'Location': view['uri']})

    def update(self, req, image_id):
        """``PUT /images/<id>``: change some fields; properties are merged unless
        ``purge_props`` (query or ``X-Glance-Registry-Purge-Props`` header) is true.
        """
        params = validation.query_params(req, ('purge_props',))
        by_query = validation.flag(params.get('purge_props'), 'purge_props')
        by_header = validation.flag(req.headers.get(PURGE_PROPS_HEADER),
                                    PURGE_PROPS_HEADER)
        ctx = context.from_environ(req.environ)
        image_id = image_id.lower()
        values = self._body(req, current_id=image_id)
        self._authorize(ctx, values)
        image = db_api.image_update(self.database, ctx, image_id, values,
                                    purge_props=by_query or by_header,
                                    max_properties=self.options.image_property_quota)
        return {'image': self._full(image, self._base_url(req), ctx)}

    def delete(self, req, image_id):
        """``DELETE /images/<id>``: soft-delete; 204."""
        validation.query_params(req, ())
        db_api.image_destroy(self.database, context.from_environ(req.environ),
                             image_id.lower())
        return webob.Response(status=204)

    def add_tag(self, req, image_id, tag):
        """``PUT /images/<id>/tags/<tag>``: 204 (already tagged: a no-op)."""
        validation.query_params(req, ())
        db_api.tag_add(self.database, context.from_environ(req.environ),
                       image_id.lower(), validation.tag(tag), validation.MAX_TAGS)
        return webob.Response(status=204)

    def delete_tag(self, req, image_id, tag):
        """``DELETE /images/<id>/tags/<tag>``: 204; 404 when the image lacks it."""
        validation.query_params(req, ())
        db_api.tag_delete(self.database, context.from_environ(req.environ),
                          image_id.lower(), validation.tag(tag))
        return webob.Response(status=204)


class UsageController(wsgi.Controller):
    """``GET /usage?owner=<tenant>``: storage a tenant's images use (for quotas).

    Services and admins may ask about any tenant, other callers about their own.

    :param database: a :class:`glance.registry.db.session.Database`.
    """

    def __init__(self, database):
        self.database = database

    def show(self, req):
        """Return ``{"usage": {"owner", "images", "size"}}``; deleted images excluded.

        :raises Invalid: without ``owner``.
        :raises Forbidden: for another tenant's usage asked by a plain caller.
        """
        params = validation.query_params(req, ('owner',))
        owner = validation.text(params.get('owner'), 'owner', nullable=False)
        ctx = context.from_environ(req.environ)
        if not (ctx.is_service or ctx.is_admin or owner == ctx.tenant):
            raise exception.Forbidden('only a service, an admin or the tenant itself '
                                      'may read a tenant\'s usage')
        count, size = db_api.image_usage(self.database, owner)
        return {'usage': {'owner': owner, 'images': count, 'size': size}}


class VersionsController(wsgi.Controller):
    """``GET /versions``: the API versions this registry speaks.

    :param options: the :class:`RegistryOptions` (for the links' base URL).
    """

    def __init__(self, options=RegistryOptions()):
        self.options = options

    def index(self, req):
        """List the one API version."""
        base = self.options.public_endpoint or req.application_url
        return {'versions': [{'id': API_VERSION, 'status': 'CURRENT',
                              'links': [{'rel': 'self', 'href': base + '/'}]}]}


def build_mapper(images, versions, usage, sharing, health=None):
    """Return the :class:`routes.Mapper` of the registry: every route, in one place.

    :param images: an :class:`ImagesController`.
    :param versions: a :class:`VersionsController`.
    :param usage: a :class:`UsageController`.
    :param sharing: a :class:`~glance.registry.members.MembersController`.
    :param health: the :class:`~glance.common.health.HealthController` of
        ``/healthcheck?detail``, if any.
    """
    mapper = routes.Mapper()
    if health is not None:
        mapper.connect(health_check.PATH, controller=health, action='detail',
                       conditions=_GET)
    mapper.connect('/usage', controller=usage, action='show', conditions=_GET)
    image_path = '/images/{image_id}'
    id_rule = {'image_id': validation.UUID_PATTERN}
    mapper.connect('/versions', controller=versions, action='index', conditions=_GET)
    mapper.connect('/images', controller=images, action='index', conditions=_GET)
    mapper.connect('/images', controller=images, action='create',
                   conditions={'method': ['POST']})
    mapper.connect('/images/detail', controller=images, action='detail',
                   conditions=_GET)
    mapper.connect(image_path, controller=images, action='show', conditions=_GET,
                   requirements=id_rule)
    mapper.connect(image_path, controller=images, action='update',
                   conditions={'method': ['PUT']}, requirements=id_rule)
    mapper.connect(image_path, controller=images, action='delete',
                   conditions={'method': ['DELETE']}, requirements=id_rule)
    for action, method in (('add_tag', 'PUT'), ('delete_tag', 'DELETE')):
        mapper.connect(image_path + '/tags/{tag}', controller=images, action=action,
                       conditions={'method': [method]}, requirements=id_rule)
    members_path = image_path + '/members'
    mapper.connect(members_path, controller=sharing, action='index', conditions=_GET,
                   requirements=id_rule)
    mapper.connect(members_path, controller=sharing, action='replace',
                   conditions={'method': ['PUT']}, requirements=id_rule)
    for action, method in (('update', 'PUT'), ('delete', 'DELETE')):
        mapper.connect(members_path + '/{member_id}', controller=sharing, action=action,
                       conditions={'method': [method]}, requirements=id_rule)
    mapper.connect('/shared-images/{member_id}', controller=sharing, action='shared',
                   conditions=_GET)
    return mapper


def build_app(database, options=RegistryOptions()):
    """Return the registry WSGI app over an open database (no paste needed)."""
    return wsgi.Router(build_mapper(
        ImagesController(database, options), VersionsController(options),
        UsageController(database), members.MembersController(database, options),
        health_check.HealthController({'database': database.ping})))


def app_factory(global_conf, **local_conf):
    """Paste app factory of ``glance-registry``.

    :param global_conf: the daemon's ``[DEFAULT]`` options.
    :param local_conf: options from the ``[app:registry]`` section (these win).
    :returns: the registry WSGI app.
    :raises ConfigError: for a bad option, an unusable database, or a schema that
        needs ``glance-manage db sync`` while ``db_auto_create`` is false.
    """
    conf = config.merge(global_conf, local_conf)
    options = load_options(conf)
    database = session.Database.from_conf(conf)
    migration.prepare_schema(database.engine, options.db_auto_create)
    LOG.info('Registry database %s, image URIs under %s',
             database.engine.url.render_as_string(hide_password=True),
             options.public_endpoint or 'the request host URL')
    return build_app(database, options)
