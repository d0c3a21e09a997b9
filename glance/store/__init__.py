"""Store plugins: the backends Teller reads image chunks from and writes them to.

:class:`StoreRegistry` is built once by the glance-api factory from its conf and handed
down; there is no module-level registry. Store classes are found through the
``glance.stores`` entry-point group, whose entry-point *name is the URI scheme* served
(``file``, ``http``, ``https``, ``swift``, ``s3``). Only configured stores are imported,
so a missing optional client library (swiftclient, boto3) affects its store alone, with
a startup error naming it.

Options, in the ``[DEFAULT]`` section of ``glance-api.conf``:

``enabled_stores`` (default ``file, http, https``)
    the schemes to serve; each store reads its own ``[store:<scheme>]`` section.
``default_store`` (default ``file``)
    the store that receives uploads; it must be enabled and writable.
"""

import importlib.metadata

from glance.common import config
from glance.common.exception import ConfigError
from glance.store.base import BadLocation, Location, ObjectNotFound, Store
from glance.store.metered import MeteredStore

ENTRY_POINT_GROUP = 'glance.stores'


class StoreRegistry:
    """The configured stores, one instance per enabled scheme.

    :param conf: the glance-api conf dict (``[DEFAULT]`` merged with the paste local
        conf); its ``config_file`` names the file holding the ``[store:<scheme>]``
        sections.
    :param store_classes: optional ``{scheme: class or 'module:Class'}`` used instead
        of the installed entry points (for tests).
    :raises ConfigError: for an unknown, duplicate or unloadable store, a bad option,
        or a ``default_store`` that is not enabled or is read-only.
    """

    def __init__(self, conf, store_classes=None):
        opts = config.Options(conf, 'DEFAULT')
        enabled = opts.get_list('enabled_stores', ('file', 'http', 'https'))
        default = opts.get_str('default_store', 'file')
        for scheme in enabled:
            if enabled.count(scheme) > 1:
                raise ConfigError('enabled_stores', 'DEFAULT',
                                  'store %r is listed twice' % scheme)
        if default not in enabled:
            raise ConfigError('default_store', 'DEFAULT',
                              'store %r is not in enabled_stores' % default)
        targets = (_installed_stores() if store_classes is None
                   else dict(store_classes))
        unknown = [scheme for scheme in enabled if scheme not in targets]
        if unknown:
            raise ConfigError('enabled_stores', 'DEFAULT', 'no store plugin serves '
                              'scheme %s' % ', '.join(map(repr, unknown)))
        classes = {scheme: _load(scheme, targets[scheme]) for scheme in enabled}
        # Each store is measured (latency, errors) for Prometheus.
        self._stores = {scheme: MeteredStore(cls(config.read_section(
                            conf, 'store:%s' % scheme), name=scheme))
                        for scheme, cls in classes.items()}
        self._default = self._stores[default]
        if not self._default.writable:
            raise ConfigError('default_store', 'DEFAULT',
                              'store %r is read-only and cannot receive uploads' % default)

    @property
    def default_store(self):
        """The :class:`~glance.store.base.Store` that receives uploads."""
        return self._default

    @property
    def schemes(self):
        """The enabled schemes, in configuration order."""
        return tuple(self._stores)

    def probe(self, scheme):
        """Check that a store answers, by a HEAD of an object that is never written.

        Read-only stores (http, https) have no such object and are not probed.

        :param scheme: an enabled scheme.
        :returns: ``{'probed': bool}``.
        :raises StoreError: when the store cannot be reached.
        """
        store = self._stores[scheme].store
        if not store.writable:
            return {'probed': False}
        try:
            store.head(store.location_for('glance-healthcheck-probe', 0))
        except ObjectNotFound:
            pass
        return {'probed': True}

    def for_location(self, location):
        """Return the store serving a location.

        :param location: a location URI string or :class:`~glance.store.base.Location`.
        :returns: the :class:`~glance.store.base.Store` for its scheme.
        :raises BadLocation: if the location is invalid or no enabled store serves it.
        """
        loc = Location.parse(location)
        try:
            return self._stores[loc.scheme]
        except KeyError:
            raise BadLocation(reason='no enabled store serves %s:// locations'
                                     % loc.scheme) from None


def _installed_stores():
    """Map scheme → entry point for the installed ``glance.stores`` plugins.

    :raises ConfigError: when two installed plugins claim one scheme.
    """
    found = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found and found[entry.name].value != entry.value:
            raise ConfigError('enabled_stores', 'DEFAULT',
                              'scheme %r is claimed by both %s and %s'
                              % (entry.name, found[entry.name].value, entry.value))
        found[entry.name] = entry
    return found


def _load(scheme, target):
    """Import a store class.

    :param scheme: the scheme it must serve.
    :param target: a class, a ``'module:Class'`` string or an entry point.
    :returns: the :class:`Store` subclass.
    :raises ConfigError: when its module or a library it needs is missing, or the
        class is not a store for ``scheme``.
    """
    if isinstance(target, str):
        target = importlib.metadata.EntryPoint(scheme, target, ENTRY_POINT_GROUP)
    if isinstance(target, importlib.metadata.EntryPoint):
        try:
            target = target.load()
        except ImportError as err:
            raise ConfigError('enabled_stores', 'DEFAULT',
                              'store %r needs the Python module %r, which is not '
                              'installed' % (scheme, err.name)) from None
        except AttributeError:
            raise ConfigError('enabled_stores', 'DEFAULT',
                              'store %r: %s names no class' % (scheme, target.value)) \
                from None
    if not (isinstance(target, type) and issubclass(target, Store)):
        raise ConfigError('enabled_stores', 'DEFAULT',
                          'store %r is not a glance Store class' % scheme)
    if scheme not in target.schemes:
        raise ConfigError('enabled_stores', 'DEFAULT', '%s does not serve scheme %r'
                          % (target.__name__, scheme))
    return target
