"""Nova's image services for Glance: the calls Nova makes, over Glance's HTTP APIs.

:class:`GlanceImageService` talks to one or more Glances. Metadata goes to the
registries (Parallax) through :class:`~glance.registry.client.RegistryClient`, and
image data to and from glance-api (Teller). An image is named by its URI
(``<registry base URL>/images/<id>``, the ``uri`` field of every record) or by a bare
id, which means the default (first) registry. A URI selects its registry through the
registry allow-list, and that registry's glance-api through the ``api_urls`` mapping,
or the default ``api_url`` when the registry has no entry of its own. Downloads name
the image by URI (``GET /images?uri=``), so any glance-api that allow-lists the
registry can serve them; uploads into an existing image and deletes name it by id, so
the glance-api mapped to a registry must list that registry first.

:class:`InstanceAwareGlanceImageService` adds the related-images tuple
``(nova_installation_uuid, instance_id)`` to the images it creates for an instance, so
a registry running the ``instance_aware`` filter can answer "which images belong to
instance 123 of this Nova?".

The contexts Nova passes are used for identity only: any object with ``project_id``,
``user_id`` and ``roles`` (and optionally ``is_admin``, ``auth_token``,
``request_id``) will do, as will a :class:`glance.common.context.RequestContext`.
Image data goes through the glance-api client library (:mod:`glance.client`): its
header codec, status table, TLS options and download verification (the recorded
size and every digest glance-api announces) are those of the CLI and glance-fetch.

The context's ``auth_token`` (the user's Keystone token) is what Glance verifies; a
context without one is sent with Nova's own token, from ``OS_AUTH_TOKEN`` or a Keystone
login with the usual ``OS_*`` variables (:meth:`glance.common.auth.TokenSource.
from_environ`), when those are set.

Flags read by :meth:`GlanceImageService.from_flagfile` (gflags-style ``--name=value``):

======================== ============ ==================================================
flag                     default      meaning
======================== ============ ==================================================
glance_registry_urls     (required)   registry base URLs; the first is the default
glance_api_url           (none)       glance-api used for registries without an entry
                                      in glance_api_urls
glance_api_urls          (none)       ``registry=api`` pairs, comma separated
glance_timeout           30           seconds to connect and per socket read
glance_ca_file           (system)     PEM file of CAs trusted for https
glance_insecure          false        skip TLS verification (tests only)
glance_cert_file         (none)       PEM client certificate, for a registry or
                                      glance-api that requires one
glance_key_file          (none)       PEM private key of glance_cert_file
glance_chunk_size        65536        bytes per block when streaming image data
nova_installation_uuid   (none)       this Nova's UUID; required by the instance-aware
                                      service (``glance-nova-manage
                                      generate-installation-uuid``)
======================== ============ ==================================================
"""

import logging
import os

from glance.client import codec, images as image_client
from glance.common import auth, client, config, context as glance_context, exception
from glance.nova import installation
from glance.registry.client import RegistryClient

LOG = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 64 * 1024


def request_context(context):
    """Turn a Nova-style context into a :class:`~glance.common.context.RequestContext`.

    :param context: a RequestContext (returned as is), None (anonymous), or any object
        with ``project_id``/``user_id``/``roles``; a true ``is_admin`` adds the
        ``admin`` role.
    :returns: a RequestContext whose headers identify the caller to Glance.
    """
    if context is None:
        return glance_context.RequestContext()
    if isinstance(context, glance_context.RequestContext):
        return context
    roles = [str(role) for role in (getattr(context, 'roles', None) or ())]
    if getattr(context, 'is_admin', False) and 'admin' not in roles:
        roles.append('admin')
    tenant = getattr(context, 'project_id', None) or getattr(context, 'tenant', None)
    user = getattr(context, 'user_id', None) or getattr(context, 'user', None)
    return glance_context.RequestContext(
        tenant=None if tenant is None else str(tenant),
        user=None if user is None else str(user), roles=roles,
        auth_token=getattr(context, 'auth_token', None),
        request_id=getattr(context, 'request_id', None))


class GlanceImageService:
    """The image service Nova uses to find, store, fetch and delete images.

    :param registry_urls: the allow-list of registry base URLs; the first is the
        default registry for new images and bare ids.
    :param api_url: base URL of the glance-api used for any registry that has no
        entry in ``api_urls``.
    :param api_urls: ``{registry base URL: glance-api base URL}``.
    :param timeout: seconds allowed to connect and for each socket read.
    :param ca_file: PEM file of the CAs trusted for https.
    :param insecure: skip TLS certificate verification.
    :param chunk_size: bytes per block when streaming image data.
    :param cert_file: PEM client certificate for services that require one.
    :param key_file: PEM private key of ``cert_file``.
    :param token_source: a :class:`~glance.common.auth.TokenSource` giving the token
        sent for contexts that carry none.
    :raises Invalid: for an empty or unacceptable URL list, or an ``api_urls`` key
        that is not one of the registries.
    """

    def __init__(self, registry_urls, api_url=None, api_urls=None,
                 timeout=client.DEFAULT_TIMEOUT, ca_file=None, insecure=False,
                 chunk_size=DEFAULT_CHUNK_SIZE, token_source=None, cert_file=None,
                 key_file=None):
        self.token_source = token_source
        self.registry = RegistryClient(registry_urls, timeout=timeout, ca_file=ca_file,
                                       insecure=insecure, cert_file=cert_file,
                                       key_file=key_file)
        self.api_url = client.normalize_base_url(api_url) if api_url else None
        self.api_urls = {}
        for registry, api in (api_urls or {}).items():
            registry = client.normalize_base_url(registry)
            if registry not in self.registry.registries:
                raise exception.Invalid(reason='api_urls names %s, which is not one of '
                                        'the registries' % registry)
            self.api_urls[registry] = client.normalize_base_url(api)
        self.chunk_size = chunk_size
        tls = {'timeout': timeout, 'ca_file': ca_file, 'insecure': insecure,
               'block_size': chunk_size, 'cert_file': cert_file, 'key_file': key_file}
        #: One glance-api client (transport and TLS options) per glance-api URL.
        self._api_clients = {api: image_client.ImageClient(api, **tls)
                             for api in {self.api_url, *self.api_urls.values()} - {None}}

    @staticmethod
    def options_from_flags(flags):
        """Turn the ``glance_*`` flags of a Nova flag file into constructor arguments.

        :param flags: ``{flag name: value}`` as read by
            :func:`glance.nova.installation.read_flags`.
        :returns: a dict of keyword arguments for :class:`GlanceImageService`.
        :raises ConfigError: naming the flag that is missing or invalid.
        """
        opts = config.Options(flags, 'nova flags')
        registry_urls = opts.get_list('glance_registry_urls', [])
        if not registry_urls:
            raise exception.ConfigError('glance_registry_urls', 'nova flags',
                                        'at least one registry URL is needed')
        api_urls = {}
        for pair in opts.get_list('glance_api_urls', []):
            registry, sep, api = pair.partition('=')
            if not sep or not registry or not api:
                raise exception.ConfigError('glance_api_urls', 'nova flags',
                                            'expected registry_url=api_url pairs, got %r'
                                            % pair)
            api_urls[registry] = api
        timeout = opts.get_float('glance_timeout', client.DEFAULT_TIMEOUT, minimum=0.001)
        ca_file = opts.get_str('glance_ca_file', None)
        insecure = opts.get_bool('glance_insecure', False)
        cert_file = opts.get_str('glance_cert_file', None)
        key_file = opts.get_str('glance_key_file', None)
        return {'registry_urls': registry_urls,
                'api_url': opts.get_str('glance_api_url', None),
                'api_urls': api_urls,
                'timeout': timeout, 'ca_file': ca_file, 'insecure': insecure,
                'cert_file': cert_file, 'key_file': key_file,
                'chunk_size': opts.get_int('glance_chunk_size', DEFAULT_CHUNK_SIZE,
                                           minimum=1),
                'token_source': auth.TokenSource.from_environ(
                    os.environ, ca_file=ca_file, insecure=insecure, timeout=timeout)}

    @classmethod
    def from_flagfile(cls, flagfile):
        """Build the service from a Nova flag file (see the module's flag table).

        :param flagfile: path of Nova's gflags-style flag file.
        :raises ConfigError: for a missing or invalid flag.
        :raises InstallationUUIDError: when the file cannot be read.
        """
        return cls(**cls.options_from_flags(installation.read_flags(flagfile)))

    def close(self):
        """Close the idle registry connections (call when done with the service)."""
        self.registry.close()

    # -- helpers ---------------------------------------------------------------------

    def _context(self, context):
        ctx = request_context(context)
        if ctx.auth_token is None and self.token_source:
            ctx = glance_context.RequestContext(ctx.tenant, ctx.user, ctx.roles,
                                                self.token_source(), ctx.request_id)
        return ctx

    def _registry(self, context):
        return self.registry.with_context(self._context(context))

    def _api(self, context, registry):
        """The glance-api client of ``registry``, acting as ``context``."""
        api = self.api_urls.get(registry, self.api_url)
        if api is None:
            raise exception.Invalid(reason='no glance-api is configured for registry %s'
                                    % registry)
        return self._api_clients[api].with_context(self._context(context))

    def _registry_base(self, registry):
        if registry is None:
            return self.registry.default_registry
        base = client.normalize_base_url(registry)
        if base not in self.registry.registries:
            raise exception.Invalid(reason='unknown registry %s' % base)
        return base

    def _list(self, context, detail, filters, marker, limit, sort_key, sort_dir):
        """List images of every registry in order, continuing after ``marker``.

        Results are grouped by registry in the configured order and sorted within
        each registry; ``marker`` is an image URI (or a bare id of the default
        registry) so the listing resumes in the right registry.
        """
        registry = self._registry(context)
        registries = registry.registries
        start, page_marker = 0, None
        if marker is not None:
            marker_base, page_marker = registry.resolve(marker)
            start = registries.index(marker_base)
        images = []
        for base in registries[start:]:
            while limit is None or len(images) < limit:
                page = registry.list_images(
                    detail=detail, filters=filters, sort_key=sort_key, sort_dir=sort_dir,
                    limit=None if limit is None else limit - len(images),
                    marker=page_marker, registry=base)
                images.extend(page['images'])
                if not page['next'] or not page['images']:
                    break
                page_marker = page['images'][-1]['id']
            page_marker = None
        return images

    # -- the calls Nova makes --------------------------------------------------------

    def index(self, context, filters=None, marker=None, limit=None):
        """Return brief records of the images visible to the caller.

        :param context: the caller (see the module docstring).
        :param filters: registry filters, e.g. ``{'name': 'x', 'is_public': True}``.
        :param marker: URI (or bare id) of the last image already seen.
        :param limit: most images returned (all when None).
        :returns: a list of image dicts, each with its ``uri``.
        """
        return self._list(context, False, filters, marker, limit, None, None)

    def detail(self, context, filters=None, marker=None, limit=None, sort_key=None,
               sort_dir=None):
        """Return full records of the images visible to the caller.

        :param sort_key: a registry sort key (``created_at`` by default).
        :param sort_dir: ``asc`` or ``desc`` (default ``desc``).
        :returns: a list of image dicts; see :meth:`index` for the other parameters.
        """
        return self._list(context, True, filters, marker, limit, sort_key, sort_dir)

    def show(self, context, image_ref):
        """Return the full record of one image.

        :param image_ref: an image URI or a bare id of the default registry.
        :raises ImageNotFound: when it does not exist or is not visible to the caller.
        :raises Invalid: for a URI of a registry that is not configured.
        """
        return self._registry(context).get_image(image_ref)

    def show_by_name(self, context, name):
        """Return the full record of the newest visible image with that name.

        Registries are searched in the configured order.

        :raises NotFound: when no registry has a visible image of that name.
        """
        found = self._list(context, True, {'name': name}, None, 1, None, None)
        if not found:
            raise exception.NotFound('No image named %r' % name)
        return found[0]

    def create(self, context, metadata, data=None, registry=None):
        """Create an image, with its data when given.

        Without data the image is registered as ``queued`` (the registry is asked
        directly); :meth:`update` with data uploads it later, which is how Nova
        snapshots. With data the image is created by glance-api (``POST /images``,
        metadata as ``x-image-meta-*`` headers, see
        :func:`glance.client.codec.split_record`), which streams it into its store.

        :param metadata: image fields (``name``, ``disk_format``, ``container_format``,
            ``is_public``, ``properties``...).
        :param data: None, bytes, a file-like object or an iterator of bytes; sent in
            ``chunk_size`` blocks (chunked when its length is unknown).
        :param registry: the registry to create in (default: the first one).
        :returns: the new image's record.
        """
        base = self._registry_base(registry)
        if data is None:
            return self._registry(context).create_image(metadata, registry=base)
        fields, properties = codec.split_record(metadata)
        return self._api(context, base).add_image(fields, properties, data)

    def update(self, context, image_ref, metadata, data=None, purge_props=False):
        """Change an image's metadata, and upload its data when given.

        The metadata goes to the registry; the data, for a ``queued`` image, is then
        streamed to the registry's glance-api (``PUT /images/<id>``).

        :param image_ref: an image URI or a bare id of the default registry.
        :param metadata: the fields to change (may be empty when only data is sent).
        :param data: None, bytes, a file-like object or an iterator of bytes.
        :param purge_props: replace the properties instead of merging them.
        :returns: the updated record.
        :raises Conflict: when data is sent for an image that is not queued.
        """
        base, image_id = self.registry.resolve(image_ref)
        image = None
        if metadata or purge_props or data is None:
            image = self._registry(context).update_image(image_ref, metadata,
                                                         purge_props=purge_props)
        if data is not None:
            image = self._api(context, base).update_image(image_id, {}, data=data)
        return image

    def delete(self, context, image_ref):
        """Delete an image and its stored data (through its registry's glance-api).

        :raises ImageNotFound: when it does not exist or is not visible to the caller.
        :raises Forbidden: when the caller may see but not delete it.
        """
        base, image_id = self.registry.resolve(image_ref)
        self._api(context, base).delete_image(image_id)

    def download(self, context, image_ref, writer):
        """Stream an image's data into ``writer`` in ``chunk_size`` blocks.

        The bytes are checked while they pass (:mod:`glance.client.verify`): a body
        shorter than its ``Content-Length`` or the recorded size, or whose digests
        differ from those glance-api announces (BLAKE3, sha256, md5), raises after the
        last block, so the caller must discard what ``writer`` received then.

        :param image_ref: an image URI or a bare id of the default registry.
        :param writer: an object with ``write(bytes)``.
        :returns: the number of bytes written.
        :raises ImageNotFound: when it does not exist or is not visible to the caller.
        :raises UpstreamError: for a short body (``TransferInterrupted``).
        :raises ChecksumMismatch: when the data does not match the recorded checksum.
        """
        base, image_id = self.registry.resolve(image_ref)
        # By URI, so that any glance-api that allow-lists the registry can serve it.
        download = self._api(context, base).download('%s/images/%s' % (base, image_id),
                                                     writer.write)
        return download.size


class InstanceAwareGlanceImageService(GlanceImageService):
    """A :class:`GlanceImageService` that relates the images it makes to instances.

    Snapshots and backups carry ``properties.nova_installation_uuid``,
    ``properties.instance_id`` and ``properties.image_relation``; a registry with the
    ``instance_aware`` filter keeps the tuple in its own table and answers
    :meth:`images_for_instance`.

    :param installation_uuid: this Nova installation's UUID.
    :raises InstallationUUIDError: when it is not a UUID.

    The other parameters are those of :class:`GlanceImageService`.
    """

    def __init__(self, installation_uuid, registry_urls, **kwargs):
        canonical = installation.canonical_uuid(installation_uuid)
        if canonical is None:
            raise installation.InstallationUUIDError(
                reason='the instance-aware image service needs --%s set to a UUID'
                % installation.FLAG_NAME)
        super().__init__(registry_urls, **kwargs)
        self.installation_uuid = canonical

    @classmethod
    def from_flagfile(cls, flagfile):
        """Build the service from a Nova flag file that holds the installation UUID.

        :raises InstallationUUIDError: when ``--nova_installation_uuid`` is missing
            or not a UUID (the message says how to generate one).
        """
        installation_uuid = installation.read_installation_uuid(flagfile)
        return cls(installation_uuid,
                   **cls.options_from_flags(installation.read_flags(flagfile)))

    def _related(self, instance_id, metadata, relation):
        related = dict(metadata)
        properties = dict(related.get('properties') or {})
        properties.update(nova_installation_uuid=self.installation_uuid,
                          instance_id=str(instance_id), image_relation=relation)
        related['properties'] = properties
        return related

    def _tuple_filters(self, instance_id, relation, filters):
        query = dict(filters or {})
        query.update(nova_installation_uuid=self.installation_uuid,
                     instance_id=str(instance_id), relation=relation)
        return query

    def snapshot(self, context, instance_id, metadata, data=None, registry=None):
        """Create a snapshot image of an instance (relation ``snapshot``).

        :param instance_id: the instance's id in this Nova (an int, an ``i-…`` id or a
            UUID).
        :returns: the new image's record; see :meth:`create` for the rest.
        """
        return self.create(context, self._related(instance_id, metadata, 'snapshot'),
                           data, registry)

    def backup(self, context, instance_id, metadata, data=None, backup_type=None,
               registry=None):
        """Create a backup image of an instance (relation ``backup``).

        :param backup_type: e.g. ``daily`` or ``weekly``; kept as the ordinary image
            property ``backup_type`` so that :meth:`rotate_backups` can count per type.
        :returns: the new image's record; see :meth:`snapshot` for the rest.
        """
        metadata = dict(metadata)
        if backup_type is not None:
            metadata['properties'] = dict(metadata.get('properties') or {},
                                          backup_type=backup_type)
        return self.create(context, self._related(instance_id, metadata, 'backup'),
                           data, registry)

    def images_for_instance(self, context, instance_id, relation=None, filters=None,
                            marker=None, limit=None, sort_key=None, sort_dir=None):
        """Return the full records of the caller-visible images related to an instance.

        Every configured registry is asked, in order (as in :meth:`detail`).

        :param instance_id: the instance's id in this Nova.
        :param relation: only images of this relation (``snapshot``, ``backup``).
        :param filters: further registry filters.
        :returns: a list of image dicts.
        """
        return self._list(context, True, self._tuple_filters(instance_id, relation,
                                                             filters),
                          marker, limit, sort_key, sort_dir)

    def rotate_backups(self, context, instance_id, rotation, backup_type=None):
        """Delete all but the ``rotation`` newest backups of an instance.

        Call it once a new backup's data is uploaded. Backups from every registry
        count together, newest first by ``created_at``.

        :param rotation: how many backups to keep (0 keeps none).
        :param backup_type: count only backups of this type.
        :returns: the records of the deleted images.
        :raises Invalid: for a negative ``rotation``.
        """
        if rotation < 0:
            raise exception.Invalid(reason='rotation must be 0 or more')
        backups = [image for image in
                   self.images_for_instance(context, instance_id, 'backup')
                   if backup_type is None
                   or image['properties'].get('backup_type') == backup_type]
        backups.sort(key=lambda image: (image['created_at'], image['id']), reverse=True)
        for image in backups[rotation:]:
            LOG.info('Rotating out backup %s of instance %s', image['uri'], instance_id)
            self.delete(context, image['uri'])
        return backups[rotation:]
