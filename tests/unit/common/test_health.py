"""The detailed health check: admins only, every check reported, 503 if one fails."""

import webob

from glance.common import context, exception, health


def _ask(controller, ctx):
    req = webob.Request.blank('/healthcheck?detail')
    req.environ[context.WSGI_KEY] = ctx
    try:
        return controller(req, 'detail')
    except exception.Forbidden:
        return 403


def _failing():
    raise exception.ServiceUnavailable(reason='database unavailable (OperationalError)')


def test_only_admins_may_ask():
    controller = health.HealthController({'database': dict})
    assert _ask(controller, context.RequestContext('t', 'u', ['member'])) == 403
    assert _ask(controller, context.RequestContext()) == 403


def test_all_checks_passing_is_200_with_their_details():
    controller = health.HealthController({'database': lambda: {'backend': 'sqlite'}})
    response = _ask(controller, context.RequestContext('ops', 'root', ['admin']))
    assert response.status_int == 200
    assert response.json['healthy'] is True
    checks = response.json['checks']
    assert checks['database']['ok'] is True and checks['database']['backend'] == 'sqlite'
    assert checks['database']['seconds'] >= 0


def test_one_failing_check_is_503_naming_it():
    controller = health.HealthController({'store file': dict, 'registry x': _failing})
    response = _ask(controller, context.RequestContext('ops', 'root', ['admin']))
    assert response.status_int == 503 and response.json['healthy'] is False
    assert response.json['checks']['store file']['ok'] is True
    assert response.json['checks']['registry x'] == dict(
        response.json['checks']['registry x'], ok=False,
        error='Service unavailable: database unavailable (OperationalError)')
