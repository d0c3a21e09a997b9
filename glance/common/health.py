"""``GET /healthcheck?detail``: what a daemon depends on, checked now, for admins.

The plain ``GET /healthcheck`` stays cheap: the ``healthcheck`` filter answers it before
any auth or database work. With ``?detail`` the filter lets the request through the
pipeline (so the caller is authenticated like any other), and the app's
:class:`HealthController` runs its checks: glance-registry its database, glance-api
every registry it may call and every writable store. The answer is JSON::

    {"healthy": true, "checks": {"database": {"ok": true, "seconds": 0.001, ...}}}

with status 200 when every check passed and 503 otherwise. Only administrators may ask
(403 for anyone else): the answer names back-end hosts.
"""

import time

from glance.common import context, exception, wsgi

#: The path the apps route to :class:`HealthController`.
PATH = '/healthcheck'


class HealthController(wsgi.Controller):
    """Run named checks and report each one's outcome and duration.

    :param checks: ``{name: check}``; a check takes no argument, returns a dict of
        details (or None) when healthy and raises a
        :class:`~glance.common.exception.GlanceException` when not.
    """

    def __init__(self, checks):
        self.checks = checks

    def detail(self, req):
        """Answer ``GET /healthcheck?detail`` (admins only).

        :raises Forbidden: for a caller who is not an administrator.
        """
        if not context.from_environ(req.environ).is_admin:
            raise exception.Forbidden('Only administrators may see the detailed '
                                      'health check')
        results = {}
        for name, check in self.checks.items():
            started = time.monotonic()
            try:
                result = dict(check() or {}, ok=True)
            except exception.GlanceException as err:
                result = {'ok': False, 'error': err.message}
            result['seconds'] = round(time.monotonic() - started, 4)
            results[name] = result
        healthy = all(result['ok'] for result in results.values())
        return wsgi.json_response({'healthy': healthy, 'checks': results},
                                  status=200 if healthy else 503)
