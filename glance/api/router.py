"""glance-api's app: Teller, the streaming image proxy.

One :class:`~glance.api.core.ImageCore` does what image requests do; the controllers
(the native one, :mod:`glance.api.images`) only speak their protocol.

``app_factory`` is the paste entry point (``use = egg:glance#api``). It parses every
option once, builds the :class:`~glance.store.StoreRegistry` and the
:class:`~glance.registry.client.RegistryClient`, and fails fast with a
:class:`~glance.common.exception.ConfigError` naming a bad option.

Options read here (``[DEFAULT]`` of glance-api.conf, or the ``[app:api]`` section):

================== ======= ===========================================================
option             default meaning
================== ======= ===========================================================
read_block_size    1M      bytes per block read from the request body and sent to
                           clients; smaller blocks cost throughput (64K: about half)
store_chunk_size   1G      largest object an upload writes; bigger images are split
image_size_cap     1T      largest image accepted on upload or registration (413)
user_storage_quota 0       most bytes a tenant's images (not deleted) may hold, checked
                           on upload (streaming: stops once over) and registration
                           (413); 0 means no quota
import_staging_dir (none)  existing folder for the data of v2 ``glance-direct``
                           imports (:mod:`glance.api.v2.staging`); unset: no import
================== ======= ===========================================================

``verified_files_memo_size`` (default 1024): how many images' verified chunk-file
identities each worker keeps, so unchanged files are sent zero-copy without hashing
again (:mod:`glance.api.verified_memo`); 0 hashes every download.

HTTP caching (``Cache-Control`` of downloads; see README.rst, "HTTP caches"): a
shared cache may keep only public images, and only responses without admin-only
headers; every other download is private.

============================ ====================== ====================================
option                       default                meaning
============================ ====================== ====================================
public_image_cache_control   public, max-age=60     for public images seen by non-admins
private_image_cache_control  private                for every other download
============================ ====================== ====================================

The image cache options (``image_cache_*``) are documented in
:mod:`glance.api.cache.serve`.

The registry options (``registry_urls``...) are documented in
:mod:`glance.registry.client`, the store options in :mod:`glance.store`, the format
safety options in :mod:`glance.api.inspection` and :mod:`glance.api.conversion`.
"""

import dataclasses
import functools

import routes

from glance.api import conversion, core, images, inspection
from glance.api.cache import admin as cache_admin
from glance.api.cache import maintain as cache_maintain
from glance.api.cache import serve as cache_serve
from glance.api.v1 import routes as v1_routes
from glance.api.v2 import routes as v2_routes
from glance.common import config, health, wsgi
from glance.registry.client import RegistryClient
from glance.store import StoreRegistry


@dataclasses.dataclass(frozen=True)
class ApiOptions:
    """The typed options of the image core and controllers (see the module table)."""

    read_block_size: int = 1024 * 1024
    store_chunk_size: int = 1024 ** 3
    image_size_cap: int = 1024 ** 4
    user_storage_quota: int = 0
    verified_files_memo_size: int = 1024
    public_image_cache_control: str = 'public, max-age=60'
    private_image_cache_control: str = 'private'
    import_staging_dir: str | None = None

    @classmethod
    def from_conf(cls, conf):
        """Parse the options from a merged conf dict.

        :raises ConfigError: naming the option whose value is invalid.
        """
        opts = config.Options(conf, 'DEFAULT')
        defaults = cls()
        return cls(
            read_block_size=opts.get_size('read_block_size', defaults.read_block_size,
                                          minimum=4096),
            store_chunk_size=opts.get_size('store_chunk_size', defaults.store_chunk_size,
                                           minimum=1),
            image_size_cap=opts.get_size('image_size_cap', defaults.image_size_cap,
                                         minimum=0),
            user_storage_quota=opts.get_size('user_storage_quota',
                                             defaults.user_storage_quota, minimum=0),
            verified_files_memo_size=opts.get_int(
                'verified_files_memo_size', defaults.verified_files_memo_size,
                minimum=0),
            public_image_cache_control=opts.get_str(
                'public_image_cache_control', defaults.public_image_cache_control),
            private_image_cache_control=opts.get_str(
                'private_image_cache_control', defaults.private_image_cache_control),
            import_staging_dir=opts.get_path('import_staging_dir', '') or None)


def build_mapper(controller, cache_controller=None, health_controller=None,
                 disk_formats=None):
    """The routes of glance-api, the only place they are listed.

    :param controller: the native :class:`~glance.api.images.ImagesController`; its
        :class:`~glance.api.core.ImageCore` also serves the v1 and v2 APIs.
    :param cache_controller: the image cache's
        :class:`~glance.api.cache.admin.CacheAdminController`, when the cache is on.
    :param health_controller: the :class:`~glance.common.health.HealthController` of
        ``/healthcheck?detail``, if any.
    :param disk_formats: the accepted ``disk_format`` values, for the v2 image schema.
    :returns: a :class:`routes.Mapper`.
    """
    mapper = routes.Mapper()
    v2_routes.connect_routes(mapper, controller.core, disk_formats)
    if health_controller is not None:
        mapper.connect(health.PATH, controller=health_controller, action='detail',
                       conditions={'method': ['GET']})
    if cache_controller is not None:
        cache_admin.connect_routes(mapper, cache_controller)
    mapper.connect('/images', controller=controller, action='show_by_uri',
                   conditions={'method': ['GET', 'HEAD']})
    mapper.connect('/images', controller=controller, action='create',
                   conditions={'method': ['POST']})
    mapper.connect('/images/{image_id}', controller=controller, action='show',
                   conditions={'method': ['GET', 'HEAD']})
    mapper.connect('/images/{image_id}', controller=controller, action='update',
                   conditions={'method': ['PUT']})
    mapper.connect('/images/{image_id}', controller=controller, action='delete',
                   conditions={'method': ['DELETE']})
    v1_routes.connect_routes(mapper, controller.core)
    return mapper


def build_app(conf, stores=None):
    """Build the router from a merged conf dict.

    :param conf: ``[DEFAULT]`` options (with ``config_file`` for the store sections).
    :param stores: a ready :class:`~glance.store.StoreRegistry` (tests); built from
        ``conf`` when None.
    :raises ConfigError: for any invalid option.
    """
    options = ApiOptions.from_conf(conf)
    cache_options = cache_serve.CacheOptions.from_conf(conf)
    registry = RegistryClient.from_conf(conf)
    if stores is None:
        stores = StoreRegistry(conf)
    cache = cache_controller = None
    if cache_options.directory:
        cache = cache_serve.ImageCache(cache_options, options.read_block_size)
        maintainer = cache_maintain.Maintainer(
            cache, registry, stores, options.read_block_size,
            cache_options.prefetch_workers, cache_options.verify_interval)
        maintainer.start()
        cache_controller = cache_admin.CacheAdminController(cache, maintainer, registry)
    formats = inspection.InspectionOptions.from_conf(conf)
    image_core = core.ImageCore(registry, stores, options, formats,
                                conversion.ConversionOptions.from_conf(conf), cache)
    controller = images.ImagesController(image_core, options)
    return wsgi.Router(build_mapper(controller, cache_controller,
                                    health.HealthController(_checks(registry, stores)),
                                    formats.disk_formats))


def _checks(registry, stores):
    """The detailed health check of glance-api: every registry and every store."""
    checks = {'registry %s' % base: functools.partial(registry.ping, base)
              for base in registry.registries}
    checks.update({'store %s' % scheme: functools.partial(stores.probe, scheme)
                   for scheme in stores.schemes})
    return checks


def app_factory(global_conf, **local_conf):
    """Paste app factory for glance-api; local (ini) values override the conf file.

    :raises ConfigError: for any invalid option, so the daemon stops at startup.
    """
    return build_app(config.merge(global_conf, local_conf))
