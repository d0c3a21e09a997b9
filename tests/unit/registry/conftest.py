"""Fixtures for the registry unit tests: the real app over in-memory SQLite.

The schema comes from the real alembic migrations, and requests go through the real
:class:`glance.common.wsgi.Router` with ``webob.Request.blank``; the caller's identity
is put in the environ as the ``context`` filter would.
"""

import json

import pytest
import webob

from glance.common import context
from glance.registry import api
from glance.registry.db import migration, session

ENDPOINT = 'http://registry.test:9191'


@pytest.fixture
def database():
    """A migrated in-memory SQLite :class:`~glance.registry.db.session.Database`."""
    db = session.Database.from_conf({'sql_connection': 'sqlite://'})
    migration.REGISTRY.upgrade(db.engine)
    yield db
    db.dispose()


class Caller:
    """Send requests to a registry app as one identity.

    :param app: the registry WSGI app.
    :param tenant: tenant id, or None for an anonymous caller.
    :param roles: role names.
    :param can_publish: the caller may make images public (default: admins only).
    """

    def __init__(self, app, tenant=None, roles=(), can_publish=None):
        self.app = app
        self.context = context.RequestContext(tenant=tenant, roles=roles,
                                              can_publish=can_publish)

    def __call__(self, method, path, body=None, raw=None, headers=None):
        """Return the :class:`webob.Response`; ``body`` is sent as JSON, ``raw`` as is."""
        req = webob.Request.blank(path, method=method, headers=headers or {})
        if body is not None:
            raw = json.dumps(body).encode('utf-8')
        if raw is not None:
            req.body = raw
            req.content_type = 'application/json'
        req.environ[context.WSGI_KEY] = self.context
        return req.get_response(self.app)

    def create(self, **fields):
        """Create an image; returns its full record (asserts 201)."""
        response = self('POST', '/images', {'image': fields})
        assert response.status_int == 201, response.text
        return response.json['image']


@pytest.fixture
def registry_app(database):
    """The registry app with a fixed public endpoint and small page sizes."""
    options = api.RegistryOptions(public_endpoint=ENDPOINT, api_limit_max=50,
                                  limit_param_default=5)
    return api.build_app(database, options)


@pytest.fixture
def alice(registry_app):
    """Tenant ``alice`` with the member role, which may publish here."""
    return Caller(registry_app, 'alice', ('member',), can_publish=True)


@pytest.fixture
def bob(registry_app):
    """Tenant ``bob`` with the member role, which may publish here."""
    return Caller(registry_app, 'bob', ('member',), can_publish=True)


@pytest.fixture
def admin(registry_app):
    """An admin of tenant ``ops``."""
    return Caller(registry_app, 'ops', ('admin',))


@pytest.fixture
def service(registry_app):
    """glance-api acting for ``alice`` (roles member + service)."""
    return Caller(registry_app, 'alice', ('member', 'service'), can_publish=True)


@pytest.fixture
def anonymous(registry_app):
    """A caller without tenant or roles."""
    return Caller(registry_app)
