"""Fixtures for functional tests: real databases, real daemons, real storage services."""

import pytest

pytest.register_assert_rewrite('tests.functional.store_contract')

from tests.functional.daemons import make_api, make_client, make_registry  # noqa: F401
from tests.functional.databases import database_url, make_database  # noqa: F401
from tests.functional.keystone import (  # noqa: F401,E402
    glance_api_options, glance_in_catalog, keystone_service)
from tests.functional.openstack_clients import (  # noqa: F401,E402
    glanceclient1, openstack_cli, openstack_clients)
from tests.functional.services import nginx_service, swift_service  # noqa: F401,E402
from tests.functional.prometheus import make_prometheus  # noqa: F401,E402


@pytest.fixture(scope='module')
def server():
    """The WSGI server module-scoped daemons run under; a module may override it
    (test_api_gunicorn.py: ``gunicorn``)."""
    return 'eventlet'
