"""RegistryClient: how glance-api, the Nova side and the CLI talk to Parallax registries.

Several registries can coexist (the design's "multiple image registries"): the client
holds an allow-list of registry base URLs, the first being the default one for
creating and listing images. An image is named either by its bare id (meaning the
default registry) or by its full URI, ``<registry base URL>/images/<uuid>``, which is
the ``uri`` field every registry returns. A URI is followed only when its base is on the
allow-list, compared exactly after normalisation (scheme and host case, default port,
trailing slash) and never by DNS, so an image reference from a user can never make
Glance call a server that the operator did not configure.

Options read by :meth:`RegistryClient.from_conf`:

=================== ======================= ==========================================
option              default                 meaning
=================== ======================= ==========================================
registry_urls       http://127.0.0.1:9191   allow-listed registry base URLs (comma or
                                            space separated); the first is the default
registry_timeout    30                      seconds allowed to connect and per read
registry_ca_file    (httplib2's bundle)     PEM file of CAs trusted for https
registry_insecure   false                   skip TLS verification (tests only)
registry_cert_file  (none)                  PEM client certificate for registries that
                                            require one (their ``client_ca_file``)
registry_key_file   (none)                  PEM private key of registry_cert_file
=================== ======================= ==========================================

glance-api's own identity towards the registries (``registry_service_token`` and
friends) is read by :meth:`glance.common.auth.ServiceCredentials.from_conf`.
"""

import copy
import re
import urllib.parse

from glance.common import auth, client, config, exception

DEFAULT_REGISTRY_URL = 'http://127.0.0.1:9191'
_UUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
                   r'[0-9a-fA-F]{12}$')
_LIST_PATHS = ('/images', '/images/detail')


class _RegistryJSONClient(client.BaseJSONClient):
    """A JSON client whose transport failures are :class:`RegistryUnavailable`."""

    unavailable = exception.RegistryUnavailable


def _check_image_id(image_id):
    if not isinstance(image_id, str) or not _UUID.match(image_id):
        raise exception.Invalid(reason='not an image id or image URI')
    return image_id


class RegistryClient:
    """Client of one or more glance-registry servers.

    :param registries: the allow-list of registry base URLs (a list, or one string);
        the first is the default registry.
    :param context: the :class:`~glance.common.context.RequestContext` to act as; its
        identity headers go with every request (anonymous when None).
    :param timeout: seconds allowed to connect and for each socket read.
    :param ca_file: PEM file of the CAs trusted for ``https`` registries.
    :param insecure: skip TLS certificate verification.
    :param cert_file: PEM client certificate, for registries that require one.
    :param key_file: PEM private key of ``cert_file``.
    :param credentials: this process's service identity
        (:class:`~glance.common.auth.ServiceCredentials`), sent with every request.
    :raises Invalid: for an empty allow-list or an unacceptable URL (user info, another
        scheme, a query), or a missing ``ca_file``.
    """

    def __init__(self, registries, context=None, timeout=client.DEFAULT_TIMEOUT,
                 ca_file=None, insecure=False, cert_file=None, key_file=None,
                 credentials=None):
        if isinstance(registries, str):
            registries = [registries]
        self._pool = client.HttpPool(timeout=timeout, ca_file=ca_file, insecure=insecure,
                                     cert_file=cert_file, key_file=key_file)
        self._clients = {}
        for url in registries or ():
            json_client = _RegistryJSONClient(url, self._pool, context, credentials)
            self._clients.setdefault(json_client.base_url, json_client)
        if not self._clients:
            raise exception.Invalid(reason='at least one registry URL is needed')
        self.context = context

    @classmethod
    def from_conf(cls, conf, section='DEFAULT', context=None):
        """Build a client from a daemon's conf options (see the module table).

        :param conf: a dict of raw option strings (the merged paste conf).
        :param section: section name used in error messages.
        :param context: the context to act as, if any.
        :raises ConfigError: naming the option that is missing or invalid.
        """
        opts = config.Options(conf, section)
        urls = opts.get_list('registry_urls', [DEFAULT_REGISTRY_URL])
        timeout = opts.get_float('registry_timeout', client.DEFAULT_TIMEOUT,
                                 minimum=0.001)
        ca_file = opts.get_path('registry_ca_file', None)
        insecure = opts.get_bool('registry_insecure', False)
        cert_file = opts.get_path('registry_cert_file', None)
        key_file = opts.get_path('registry_key_file', None)
        if bool(cert_file) != bool(key_file):
            raise exception.ConfigError('registry_cert_file', section,
                                        'registry_cert_file and registry_key_file go '
                                        'together')
        if not urls:
            raise exception.ConfigError('registry_urls', section,
                                        'at least one registry URL is needed')
        for url in urls:
            try:
                client.normalize_base_url(url)
            except exception.Invalid as err:
                raise exception.ConfigError('registry_urls', section, err.message)
        try:
            pool = client.HttpPool(timeout=timeout, ca_file=ca_file, insecure=insecure)
        except exception.Invalid as err:
            raise exception.ConfigError('registry_ca_file', section, err.message)
        credentials = auth.ServiceCredentials.from_conf(conf, pool, section)
        try:
            return cls(urls, context, timeout, ca_file, insecure, cert_file, key_file,
                       credentials)
        except exception.Invalid as err:
            raise exception.ConfigError('registry_cert_file', section, err.message)

    @property
    def registries(self):
        """The normalised allow-list; the first entry is the default registry."""
        return list(self._clients)

    @property
    def default_registry(self):
        """The normalised base URL of the default registry."""
        return next(iter(self._clients))

    def with_context(self, context):
        """Return a client with the same registries and connections acting as someone.

        :param context: a :class:`~glance.common.context.RequestContext`, or None.
        """
        clone = copy.copy(self)
        clone._clients = {base: json_client.with_context(context)
                          for base, json_client in self._clients.items()}
        clone.context = context
        return clone

    def close(self):
        """Close the idle connections of this client and of its ``with_context`` copies.

        The client stays usable and reconnects on its next request; call it when a
        long-lived client is done, so no idle socket is left to the garbage collector.
        """
        self._pool.close()

    def _allowed_base(self, url):
        try:
            base = client.normalize_base_url(url)
        except exception.Invalid:
            # Not repeated: the URL may carry user info.
            raise exception.Invalid(reason='unknown registry') from None
        if base not in self._clients:
            raise exception.Invalid(reason='unknown registry %s' % base)
        return base

    def _client_for(self, registry):
        if registry is None:
            return self._clients[self.default_registry]
        return self._clients[self._allowed_base(registry)]

    def ping(self, registry):
        """Check that an allow-listed registry answers (the detailed health check).

        :param registry: its base URL.
        :returns: ``{}`` when it answered ``GET /versions``.
        :raises RegistryUnavailable: when it cannot be reached or fails.
        """
        self._client_for(registry).request('GET', '/versions')
        return {}

    def resolve(self, image_ref):
        """Split an image reference into its registry and id.

        :param image_ref: a bare image id (the default registry) or a full image URI
            ``<allow-listed base URL>/images/<uuid>``.
        :returns: ``(base_url, image_id)`` with the normalised registry base URL.
        :raises Invalid: for a malformed reference or a URI whose base is not on the
            allow-list ("unknown registry").
        """
        if not isinstance(image_ref, str) or not image_ref:
            raise exception.Invalid(reason='not an image id or image URI')
        if '://' not in image_ref:
            return self.default_registry, _check_image_id(image_ref)
        base, sep, image_id = image_ref.rpartition('/images/')
        if not sep:
            raise exception.Invalid(reason='an image URI must end in /images/<id>')
        return self._allowed_base(base), _check_image_id(image_id)

    def _image_request(self, method, image_ref, *subpath, **kwargs):
        """Send a request about one image (``/images/<id>[/<subpath>...]``).

        :param subpath: further path segments, each percent-encoded here.
        """
        base, image_id = self.resolve(image_ref)

        def not_found(message):
            return exception.ImageNotFound(message, image_id=image_id)

        json_client = self._clients[base]
        path = '/'.join(urllib.parse.quote(segment, safe='')
                        for segment in ('', 'images', image_id) + subpath)
        return json_client, json_client.request(method, path, not_found=not_found,
                                                **kwargs)

    @staticmethod
    def _image_of(json_client, response):
        image = response.data.get('image') if isinstance(response.data, dict) else None
        if not isinstance(image, dict):
            raise json_client.unavailable(reason='%s answered without an "image" object'
                                          % json_client.base_url)
        return image

    @staticmethod
    def _list_query(filters, sort_key, sort_dir, limit, marker):
        query = []
        for name, value in (filters or {}).items():
            if name == 'properties' and isinstance(value, dict):
                query += [('property-%s' % key, val) for key, val in value.items()]
            elif isinstance(value, (list, tuple)):
                query += [(name, item) for item in value]
            else:
                query.append((name, value))
        query += [('sort_key', sort_key), ('sort_dir', sort_dir), ('limit', limit),
                  ('marker', marker)]
        return query

    def _list_page(self, json_client, path, query):
        data = json_client.request('GET', path, query=query).data
        images = data.get('images') if isinstance(data, dict) else None
        if not isinstance(images, list):
            raise json_client.unavailable(reason='%s answered without an "images" list'
                                          % json_client.base_url)
        next_url = data.get('next') or None
        if next_url is not None:
            self._next_request(json_client, next_url)
        return {'images': images, 'next': next_url}

    @staticmethod
    def _next_request(json_client, next_url):
        """Return ``(path, query)`` of a "next" link after checking where it points.

        A "next" link is followed only to the registry that sent it and only to an
        image listing; anything else means the registry is misconfigured or hostile.
        """
        base_path = urllib.parse.urlsplit(json_client.base_url).path
        try:
            parts = urllib.parse.urlsplit(next_url)
            origin = client.normalize_base_url('%s://%s' % (parts.scheme, parts.netloc))
        except (AttributeError, TypeError, ValueError, exception.Invalid):
            origin = None
        if (origin is None or origin + base_path != json_client.base_url
                or parts.path not in [base_path + path for path in _LIST_PATHS]
                or parts.fragment):
            raise json_client.unavailable(reason='%s sent a "next" link outside its own '
                                          'image listing' % json_client.base_url)
        return (parts.path[len(base_path):],
                urllib.parse.parse_qsl(parts.query, keep_blank_values=True))

    def list_images(self, detail=False, filters=None, sort_key=None, sort_dir=None,
                    limit=None, marker=None, registry=None):
        """Return one page of images from one registry.

        :param detail: full records (``/images/detail``) instead of brief ones.
        :param filters: registry filters, e.g. ``{'is_public': True, 'name': 'x'}``,
            ``{'visibility': 'community'}``, ``{'member_status': 'pending'}``;
            ``{'properties': {'os': 'linux'}}`` becomes ``property-os=linux`` and a
            list value repeats the parameter (``{'tag': ['a', 'b']}``: both tags).
        :param sort_key: one of the registry's sort keys (e.g. ``name``).
        :param sort_dir: ``asc`` or ``desc``.
        :param limit: page size (the registry caps it).
        :param marker: id of the last image of the previous page.
        :param registry: an allow-listed base URL; the default registry when None.
        :returns: ``{"images": [...], "next": url or None}``.
        :raises Invalid: for a bad filter (from the registry) or an unknown registry.
        :raises RegistryUnavailable: when the registry cannot answer, or sends a
            "next" link to another place.
        """
        json_client = self._client_for(registry)
        path = '/images/detail' if detail else '/images'
        query = self._list_query(filters, sort_key, sort_dir, limit, marker)
        return self._list_page(json_client, path, query)

    def iter_images(self, detail=True, filters=None, sort_key=None, sort_dir=None,
                    page_size=None, registry=None):
        """Iterate over every matching image of one registry, page after page.

        Pages are fetched lazily by following each page's "next" link, which must
        point back into the same registry's listing.

        :param page_size: images per request (the registry's default when None).
        :returns: an iterator of image dicts.
        :raises RegistryUnavailable: also when a "next" link repeats the previous one,
            which would otherwise loop forever.
        """
        json_client = self._client_for(registry)
        path = '/images/detail' if detail else '/images'
        query = self._list_query(filters, sort_key, sort_dir, page_size, None)
        return self._iter_pages(json_client, path, query)

    def _iter_pages(self, json_client, path, query):
        followed = set()
        while True:
            page = self._list_page(json_client, path, query)
            yield from page['images']
            next_url = page['next']
            if not next_url or not page['images']:
                return
            if next_url in followed:
                raise json_client.unavailable(reason='%s sent the same "next" link twice'
                                              % json_client.base_url)
            followed.add(next_url)
            path, query = self._next_request(json_client, next_url)

    def get_image(self, image_ref):
        """Return the full record of one image.

        :param image_ref: a bare id or an allow-listed image URI.
        :raises ImageNotFound: when it does not exist or is not visible to the caller.
        """
        return self._image_of(*self._image_request('GET', image_ref))

    def create_image(self, metadata, registry=None, extra_headers=None):
        """Register a new image.

        :param metadata: image fields (``name``, ``disk_format``, ``properties``...).
        :param registry: an allow-listed base URL; the default registry when None.
        :param extra_headers: additional request headers.
        :returns: the created image's full record, including its ``uri``.
        :raises Invalid: for bad metadata (400 from the registry).
        :raises Forbidden: for an anonymous caller.
        """
        json_client = self._client_for(registry)
        response = json_client.request('POST', '/images', body={'image': metadata},
                                       headers=extra_headers)
        return self._image_of(json_client, response)

    def update_image(self, image_ref, metadata, purge_props=False, extra_headers=None):
        """Change some fields of an image (a status change is a field too).

        :param image_ref: a bare id or an allow-listed image URI.
        :param metadata: the fields to change.
        :param purge_props: replace the properties with ``metadata['properties']``
            instead of merging them.
        :param extra_headers: additional request headers.
        :returns: the updated full record.
        :raises Conflict: for a forbidden status transition.
        :raises Forbidden: when the caller may see but not modify the image.
        :raises ImageNotFound: when the image is not visible to the caller.
        """
        query = {'purge_props': True} if purge_props else None
        return self._image_of(*self._image_request('PUT', image_ref, query=query,
                                                   body={'image': metadata},
                                                   headers=extra_headers))

    def delete_image(self, image_ref, extra_headers=None):
        """Delete an image's record (a soft delete; store data is the caller's job).

        :param image_ref: a bare id or an allow-listed image URI.
        :param extra_headers: additional request headers.
        :raises Forbidden: when the caller may see but not delete the image.
        :raises ImageNotFound: when the image is not visible to the caller.
        """
        self._image_request('DELETE', image_ref, headers=extra_headers)

    def get_usage(self, owner, registry=None):
        """Return the storage a tenant's images use (``GET /usage``), for quotas.

        :param owner: the tenant id.
        :param registry: an allow-listed base URL; the default registry when None.
        :returns: ``{"owner", "images", "size"}``; deleted images are not counted.
        :raises Forbidden: unless the caller is a service, an admin or that tenant.
        """
        json_client = self._client_for(registry)
        data = json_client.request('GET', '/usage', query={'owner': owner}).data
        usage = data.get('usage') if isinstance(data, dict) else None
        if not isinstance(usage, dict) or not isinstance(usage.get('size'), int):
            raise json_client.unavailable(reason='%s answered without a "usage" object'
                                          % json_client.base_url)
        return usage

    @staticmethod
    def _field(json_client, response, key, kind):
        value = response.data.get(key) if isinstance(response.data, dict) else None
        if not isinstance(value, kind):
            raise json_client.unavailable(reason='%s answered without "%s"'
                                          % (json_client.base_url, key))
        return value

    def list_members(self, image_ref):
        """Return the members of an image (``GET /images/<id>/members``).

        :returns: a list of ``{"image_id", "member_id", "can_share", "status",
            "created_at", "updated_at"}``; a caller who neither owns the image nor
            may share it sees its own membership only.
        :raises ImageNotFound: when the image is not visible to the caller.
        """
        json_client, response = self._image_request('GET', image_ref, 'members')
        return self._field(json_client, response, 'members', list)

    def replace_members(self, image_ref, memberships, accepted=False):
        """Make an image's members exactly ``memberships``.

        :param memberships: a list of ``{"member_id": ..., "can_share": bool}``.
        :param accepted: new members start accepted instead of pending (Glance v1,
            which has no acceptance step; the registry honours it from a service
            identity only).
        :returns: the members afterwards, as :meth:`list_members`.
        :raises Forbidden: unless the caller owns the image, is an admin or a member
            allowed to share it; for new members of an image that is not shared.
        """
        json_client, response = self._image_request(
            'PUT', image_ref, 'members', body={'memberships': list(memberships)},
            headers=self._member_status_header(accepted))
        return self._field(json_client, response, 'members', list)

    @staticmethod
    def _member_status_header(accepted):
        return {'X-Glance-Member-Status': 'accepted'} if accepted else None

    def add_member(self, image_ref, member_id, can_share=False, accepted=False):
        """Add a member to an image, or change an existing member's ``can_share``.

        :param accepted: a new membership starts accepted (see
            :meth:`replace_members`).
        :returns: the membership (``{"image_id", "member_id", "can_share",
            "status", ...}``).
        :raises Forbidden: as for :meth:`replace_members`.
        """
        json_client, response = self._image_request(
            'PUT', image_ref, 'members', member_id,
            body={'member': {'can_share': bool(can_share)}},
            headers=self._member_status_header(accepted))
        return self._field(json_client, response, 'member', dict)

    def set_member_status(self, image_ref, member_id, status):
        """Accept or reject an image shared with the caller's tenant.

        :param status: ``pending``, ``accepted`` or ``rejected``.
        :returns: the membership.
        :raises Forbidden: when ``member_id`` is not the caller's own tenant.
        :raises NotFound: when that tenant is not a member.
        """
        json_client, response = self._image_request(
            'PUT', image_ref, 'members', member_id, body={'member': {'status': status}})
        return self._field(json_client, response, 'member', dict)

    def delete_member(self, image_ref, member_id):
        """Remove a member of an image.

        :raises NotFound: when that tenant is not a member.
        :raises Forbidden: as for :meth:`replace_members`.
        """
        self._image_request('DELETE', image_ref, 'members', member_id)

    def shared_images(self, member_id, registry=None):
        """Return the images shared with a tenant (``GET /shared-images/<member>``).

        :param registry: an allow-listed base URL; the default registry when None.
        :returns: a list of ``{"image_id", "can_share", "status"}``; a caller other
            than that tenant (or an admin) gets only those of its own images.
        """
        json_client = self._client_for(registry)
        response = json_client.request(
            'GET', '/shared-images/' + urllib.parse.quote(member_id, safe=''))
        return self._field(json_client, response, 'shared_images', list)

    def add_tag(self, image_ref, tag):
        """Tag an image (already tagged: a no-op).

        :raises Forbidden: when the caller may see but not modify the image.
        """
        self._image_request('PUT', image_ref, 'tags', tag)

    def delete_tag(self, image_ref, tag):
        """Remove a tag from an image.

        :raises NotFound: when the image does not have that tag.
        """
        self._image_request('DELETE', image_ref, 'tags', tag)
