"""Build the request context from trusted headers.

Reads ``X-Tenant-Id``, ``X-User-Id``, ``X-Roles`` (comma-separated) and ``X-Auth-Token``
and stores a :class:`glance.common.context.RequestContext` in
``environ['glance.context']``. The headers are trusted as they come, so this mode
belongs behind a gateway that sets them (and strips them from clients) until token
auth lands in the same slot of the pipeline.

============== ======= ========================================================
option         default meaning
============== ======= ========================================================
admin_role     admin   role name that makes a caller an administrator
============== ======= ========================================================
"""

import re

from glance.common import config, context, wsgi

_SAFE_VALUE = re.compile(r'^[A-Za-z0-9_.@:+-]{1,255}$')


class ContextFilter:
    """Parse identity headers into a RequestContext; 400 on malformed values."""

    def __init__(self, app, conf):
        self.app = app
        self.admin_role = config.Options(conf, 'filter:context').get_str('admin_role',
                                                                         'admin')

    def _header(self, environ, name):
        value = environ.get(name, '').strip()
        if value and not _SAFE_VALUE.match(value):
            raise ValueError(name[5:].replace('_', '-').title())
        return value or None

    def __call__(self, environ, start_response):
        try:
            tenant = self._header(environ, 'HTTP_X_TENANT_ID')
            user = self._header(environ, 'HTTP_X_USER_ID')
            roles = []
            for role in environ.get('HTTP_X_ROLES', '').split(','):
                role = role.strip()
                if role and not _SAFE_VALUE.match(role):
                    raise ValueError('X-Roles')
                if role:
                    roles.append('admin' if role == self.admin_role else role.lower())
        except ValueError as err:
            return wsgi.json_error(400, 'Malformed %s header' % err)(environ,
                                                                     start_response)
        environ[context.WSGI_KEY] = context.RequestContext(
            tenant=tenant, user=user, roles=roles,
            auth_token=environ.get('HTTP_X_AUTH_TOKEN') or None,
            request_id=environ.get('glance.request_id'))
        return self.app(environ, start_response)


def filter_factory(global_conf, **local_conf):
    """Paste filter factory for :class:`ContextFilter`."""
    conf = config.merge(global_conf, local_conf)
    return lambda app: ContextFilter(app, conf)
