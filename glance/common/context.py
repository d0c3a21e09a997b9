"""The request context: who is calling, and the visibility rules that follow from it."""

WSGI_KEY = 'glance.context'
#: Sent by glance-api's own background work (cache prefetch and audit), which acts for
#: no user. The registry believes it only next to a verified service identity: an
#: anonymous caller relayed by glance-api never carries it, and a caller without the
#: service token gains nothing by sending it.
ACTING_AS_SERVICE_HEADER = 'X-Glance-Acting-As'


class RequestContext:
    """Identity of the caller of one request.

    :param tenant: the caller's tenant (project) id, or None for an anonymous caller.
    :param user: the caller's user id, or None.
    :param roles: role names; ``admin`` makes the caller an administrator and ``service``
        marks another Glance service (e.g. glance-api calling the registry). Only the
        ``context`` filter grants these two, from a verified identity
        (:mod:`glance.middleware.context`).
    :param auth_token: the caller's own token, forwarded to other services as
        ``X-Auth-Token`` so they can verify it; never logged.
    :param can_publish: the caller holds a role allowed to make images public.
    """

    def __init__(self, tenant=None, user=None, roles=(), auth_token=None,
                 request_id=None, can_publish=None, acting_as_service=False):
        self.tenant = tenant or None
        self.user = user or None
        self.roles = tuple(role for role in roles if role)
        self.auth_token = auth_token
        self.request_id = request_id
        self.can_publish = self.is_admin if can_publish is None else bool(can_publish)
        #: True for glance-api's own work, for no user (see ACTING_AS_SERVICE_HEADER).
        self.acting_as_service = bool(acting_as_service)

    @classmethod
    def service_itself(cls):
        """The context of glance-api's background work, which acts for no user."""
        return cls(acting_as_service=True)

    @property
    def is_admin(self):
        """True when the caller holds the ``admin`` role."""
        return 'admin' in self.roles

    @property
    def is_service(self):
        """True when the caller is another Glance service acting for a user."""
        return 'service' in self.roles

    @property
    def is_anonymous(self):
        """True when the request carries no tenant."""
        return self.tenant is None

    @property
    def can_see_locations(self):
        """Locations and chunks are shown only to a verified Glance service.

        glance-api shows them to its admins itself; a caller of the registry (an
        admin included) never gets them, so a store URL stays inside Glance.
        """
        return self.is_service

    @property
    def sees_every_image(self):
        """Admins, and a verified Glance service acting for no user, see every image."""
        return self.is_admin or (self.acting_as_service and self.is_service
                                 and self.tenant is None and self.user is None)

    def can_see(self, image_owner, visibility):
        """Return True when an image with that owner and visibility is visible
        without a membership (public and community images are visible to everyone;
        a member of a shared image also sees it, which the registry looks up)."""
        return (self.sees_every_image or visibility in ('public', 'community')
                or (self.tenant is not None and image_owner == self.tenant))

    def can_modify(self, image_owner):
        """Return True when the caller may change or delete an image of that owner."""
        return self.is_admin or (self.tenant is not None and image_owner == self.tenant)

    def to_headers(self):
        """Headers that carry this identity to another Glance service.

        The token (``X-Auth-Token``) is what a receiving service verifies. The identity
        headers are believed only by a service in ``trusted_gateway`` mode, and the
        ``service`` role is never among them: a service identity travels only as a
        verifiable ``X-Service-Token`` (:mod:`glance.common.auth`).
        """
        headers = {}
        if self.tenant:
            headers['X-Tenant-Id'] = self.tenant
        if self.user:
            headers['X-User-Id'] = self.user
        roles = [role for role in self.roles if role != 'service']
        if roles:
            headers['X-Roles'] = ','.join(roles)
        if self.auth_token:
            headers['X-Auth-Token'] = self.auth_token
        if self.request_id:
            headers['X-Request-Id'] = self.request_id
        if self.acting_as_service:
            headers[ACTING_AS_SERVICE_HEADER] = 'service'
        return headers

    def __repr__(self):
        return ('RequestContext(tenant=%r, user=%r, roles=%r)'
                % (self.tenant, self.user, self.roles))


def from_environ(environ):
    """Return the context stored in a WSGI environ, or an anonymous one."""
    return environ.get(WSGI_KEY) or RequestContext()
