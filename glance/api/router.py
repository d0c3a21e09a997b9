"""glance-api's app: Teller, the streaming image proxy (see glance/api/images.py).

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
image_size_cap     1T      largest image accepted on upload (413 above it)
================== ======= ===========================================================

The registry options (``registry_urls``...) are documented in
:mod:`glance.registry.client`, the store options in :mod:`glance.store`.
"""

import dataclasses
import functools

import routes

from glance.api import images
from glance.common import config, health, wsgi
from glance.registry.client import RegistryClient
from glance.store import StoreRegistry


@dataclasses.dataclass(frozen=True)
class ApiOptions:
    """The typed options of the images controller (see the module table)."""

    read_block_size: int = 1024 * 1024
    store_chunk_size: int = 1024 ** 3
    image_size_cap: int = 1024 ** 4

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
                                         minimum=0))


def build_mapper(controller, health_controller=None):
    """The routes of glance-api, the only place they are listed.

    :param controller: the :class:`~glance.api.images.ImagesController`.
    :param health_controller: the :class:`~glance.common.health.HealthController` of
        ``/healthcheck?detail``, if any.
    :returns: a :class:`routes.Mapper`.
    """
    mapper = routes.Mapper()
    if health_controller is not None:
        mapper.connect(health.PATH, controller=health_controller, action='detail',
                       conditions={'method': ['GET']})
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
    return mapper


def build_app(conf, stores=None):
    """Build the router from a merged conf dict.

    :param conf: ``[DEFAULT]`` options (with ``config_file`` for the store sections).
    :param stores: a ready :class:`~glance.store.StoreRegistry` (tests); built from
        ``conf`` when None.
    :raises ConfigError: for any invalid option.
    """
    options = ApiOptions.from_conf(conf)
    registry = RegistryClient.from_conf(conf)
    if stores is None:
        stores = StoreRegistry(conf)
    return wsgi.Router(build_mapper(images.ImagesController(registry, stores, options),
                                    health.HealthController(_checks(registry, stores))))


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
