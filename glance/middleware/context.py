"""Build the request context from an identity that an auth filter confirmed.

Stores a :class:`glance.common.context.RequestContext` in ``environ['glance.context']``.
Where the identity comes from:

* **Token authentication** (the default). An auth filter in front of this one,
  keystonemiddleware's ``auth_token`` or :mod:`glance.middleware.tokens_file`,
  verified the request's tokens, removed every identity header the client sent and
  set its own: ``X-Identity-Status: Confirmed``, ``X-Project-Id``, ``X-User-Id`` and
  ``X-Roles`` for ``X-Auth-Token``, and ``X-Service-Identity-Status: Confirmed`` with
  ``X-Service-Roles`` for ``X-Service-Token``. These headers are read only when the
  environ shows such a filter ran (``keystone.token_auth`` or
  ``glance.token_auth``, keys no client can set); otherwise the caller is anonymous.
* **trusted_gateway = true**. ``X-Tenant-Id`` (or ``X-Project-Id``), ``X-User-Id``,
  ``X-Roles`` and ``X-Service-Roles`` are believed as sent. Anyone who can reach the
  port can then claim any role: only for a daemon behind a gateway that
  authenticates callers and strips these headers. A warning is logged at startup.

Roles: the configured ``admin_role`` becomes ``admin``; the ``service`` role is
granted only from the service identity (``X-Service-Roles`` holding
``service_role``), never from the user's own roles; a user role spelled like either
internal name is dropped so it cannot be mistaken for them.

============== ======= ============================================================
option         default meaning
============== ======= ============================================================
admin_role     admin   role name that makes a caller an administrator
service_role   service role the service token must hold to act as a Glance service
publish_roles  admin   roles (comma-separated) that may make images public;
                       ``admin`` here means the admin_role
trusted_gateway false  believe identity headers as sent (see above)
============== ======= ============================================================
"""

import logging
import re

from glance.common import config, context, wsgi

LOG = logging.getLogger(__name__)

_SAFE_VALUE = re.compile(r'^[A-Za-z0-9_.@:+-]{1,255}$')
#: environ keys set by the auth filters this filter trusts.
AUTH_FILTER_KEYS = ('keystone.token_auth', 'glance.token_auth')


class ContextFilter:
    """Turn the confirmed (or, in trusted_gateway mode, the sent) identity into a
    RequestContext; 400 on malformed identity values."""

    def __init__(self, app, conf):
        self.app = app
        opts = config.Options(conf, 'filter:context')
        self.admin_role = opts.get_str('admin_role', 'admin')
        self.service_role = opts.get_str('service_role', 'service')
        self.publish_roles = {'admin' if role == self.admin_role else role
                              for role in opts.get_list('publish_roles', ['admin'])}
        self.trusted_gateway = opts.get_bool('trusted_gateway', False)
        if self.trusted_gateway:
            LOG.warning('trusted_gateway mode: identity headers (X-Tenant-Id, X-Roles, '
                        'X-Service-Roles) are believed as sent; anyone who can reach '
                        'this port can claim any role, admin and service included')

    @staticmethod
    def _header(environ, name):
        value = environ.get(name, '').strip()
        if value and not _SAFE_VALUE.match(value):
            raise ValueError(name[5:].replace('_', '-').title())
        return value or None

    @staticmethod
    def _roles(environ, name):
        roles = []
        for role in environ.get(name, '').split(','):
            role = role.strip()
            if role and not _SAFE_VALUE.match(role):
                raise ValueError(name[5:].replace('_', '-').title())
            if role:
                roles.append(role)
        return roles

    def _identity(self, environ):
        """Return ``(tenant, user, user roles, service roles)`` this request may claim."""
        if self.trusted_gateway:
            tenant = (self._header(environ, 'HTTP_X_TENANT_ID')
                      or self._header(environ, 'HTTP_X_PROJECT_ID'))
            return (tenant, self._header(environ, 'HTTP_X_USER_ID'),
                    self._roles(environ, 'HTTP_X_ROLES'),
                    self._roles(environ, 'HTTP_X_SERVICE_ROLES'))
        if not any(key in environ for key in AUTH_FILTER_KEYS):
            return None, None, [], []
        user = (None, None, [])
        if environ.get('HTTP_X_IDENTITY_STATUS') == 'Confirmed':
            user = (self._header(environ, 'HTTP_X_PROJECT_ID'),
                    self._header(environ, 'HTTP_X_USER_ID'),
                    self._roles(environ, 'HTTP_X_ROLES'))
        service = []
        if environ.get('HTTP_X_SERVICE_IDENTITY_STATUS') == 'Confirmed':
            service = self._roles(environ, 'HTTP_X_SERVICE_ROLES')
        return user + (service,)

    def _internal_roles(self, user_roles, service_roles):
        roles = []
        for role in user_roles:
            if role == self.admin_role:
                roles.append('admin')
            elif role.lower() not in ('admin', 'service'):
                roles.append(role.lower())
        if self.service_role in service_roles:
            roles.append('service')
        return roles

    def __call__(self, environ, start_response):
        try:
            tenant, user, user_roles, service_roles = self._identity(environ)
        except ValueError as err:
            return wsgi.json_error(400, 'Malformed %s header' % err)(environ,
                                                                     start_response)
        roles = self._internal_roles(user_roles, service_roles)
        environ[context.WSGI_KEY] = context.RequestContext(
            tenant=tenant, user=user, roles=roles,
            auth_token=environ.get('HTTP_X_AUTH_TOKEN') or None,
            request_id=environ.get('glance.request_id'),
            can_publish=bool(self.publish_roles.intersection(roles)),
            acting_as_service=environ.get('HTTP_X_GLANCE_ACTING_AS', '').lower()
            == 'service')
        return self.app(environ, start_response)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`ContextFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: ContextFilter(app, conf)
