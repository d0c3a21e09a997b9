"""Token authentication against a real Keystone, through the shipped keystone pipelines.

glance-registry and glance-api run ``authtoken context`` (keystonemiddleware's
auth_token, then our context filter); glance-api logs in to Keystone as the
``glance`` service user and sends that token as ``X-Service-Token`` to the registry.
"""

import io
import json
import types

import pytest

from glance.common import auth, exception
from glance.nova import image_service
from tests.data import random_bytes
from tests.functional import daemons
from tests.functional.keystone import start_glance
from tests.functional.services import free_ports
from tests.functional.test_api_images import Api
from tests.functional.test_cli import Services, run_cli


@pytest.fixture(scope='module')
def users(keystone_service):
    """The Keystone users of this module: alice, bob (members), an admin, glance."""
    make = keystone_service.make_user
    return {'alice': make('alice', 'p-alice', ['member']),
            'bob': make('bob', 'p-bob', ['member']),
            'ops': make('ops', 'p-ops', ['admin']),
            'glance': make('glance', 'service', ['service'])}


@pytest.fixture(scope='module')
def deployment(tmp_path_factory, keystone_service, users):
    """A registry and a glance-api in keystone mode; yields ``(registry, api)``."""
    registry, api = start_glance(tmp_path_factory.mktemp('keystone-deployment'),
                                 keystone_service, users['glance'])
    yield registry, api
    api.stop()
    registry.stop()


@pytest.fixture(scope='module')
def tokens(keystone_service, users):
    """A fresh token per user."""
    return {name: keystone_service.token(user) for name, user in users.items()}


def _upload(api, token, data, **meta):
    headers = {'X-Auth-Token': token, 'x-image-meta-name': 'img',
               'x-image-meta-disk-format': 'raw', 'x-image-meta-container-format': 'bare'}
    headers.update({'x-image-meta-' + name: value for name, value in meta.items()})
    return api.request('POST', '/images', headers, data)


def test_a_valid_token_uploads_and_downloads_through_the_service_token(
        deployment, tokens, users):
    registry, api_daemon = deployment
    api = Api(api_daemon.url)
    data = random_bytes(300 * 1024)
    created = _upload(api, tokens['alice'], data)
    assert created.status == 201, created.body
    image = created.json()['image']
    assert image['owner'] == users['alice'].project_id
    got = api.request('GET', '/images/' + image['id'], {'X-Auth-Token': tokens['alice']})
    assert got.status == 200 and got.body == data
    assert 'x-image-meta-location' not in got.headers
    as_admin = api.request('HEAD', '/images/' + image['id'],
                           {'X-Auth-Token': tokens['ops']})
    assert as_admin.status == 200
    assert as_admin.headers['x-image-meta-location'].startswith('file://')


@pytest.mark.parametrize('daemon', [0, 1], ids=['registry', 'api'])
def test_bogus_or_missing_token_is_401_whatever_headers_say(deployment, daemon):
    client = Api(deployment[daemon].url)
    forged = {'X-Auth-Token': 'gAAAAABbogus', 'X-Roles': 'admin,service',
              'X-Tenant-Id': 'ops', 'X-Project-Id': 'ops', 'X-Identity-Status': 'Confirmed',
              'X-Service-Roles': 'service'}
    assert client.request('GET', '/images', forged).status == 401
    without = {name: value for name, value in forged.items() if name != 'X-Auth-Token'}
    assert client.request('GET', '/images', without).status == 401


def test_a_tenant_cannot_see_another_tenants_private_image(deployment, tokens):
    api = Api(deployment[1].url)
    created = _upload(api, tokens['alice'], b'private bytes')
    assert created.status == 201, created.body
    path = '/images/' + created.json()['image']['id']
    assert api.request('GET', path, {'X-Auth-Token': tokens['bob']}).status == 404
    assert api.request('GET', path, {'X-Auth-Token': tokens['alice']}).status == 200
    registry = Api(deployment[0].url)
    assert registry.request('GET', path, {'X-Auth-Token': tokens['bob']}).status == 404


def test_publishing_needs_the_admin_role(deployment, tokens):
    api = Api(deployment[1].url)
    refused = _upload(api, tokens['alice'], b'x', is_public='true')
    assert refused.status == 403, refused.body
    published = _upload(api, tokens['ops'], b'x', is_public='true')
    assert published.status == 201, published.body
    path = '/images/' + published.json()['image']['id']
    assert api.request('GET', path, {'X-Auth-Token': tokens['bob']}).body == b'x'


def test_a_direct_registry_caller_never_gets_the_service_role_or_locations(
        deployment, tokens):
    registry, api_daemon = deployment
    created = _upload(Api(api_daemon.url), tokens['alice'], b'located bytes')
    assert created.status == 201, created.body
    path = '/images/' + created.json()['image']['id']
    client = Api(registry.url)
    json_type = {'Content-Type': 'application/json'}
    chunks = json.dumps({'image': {'name': 'x', 'chunks': [
        {'location': 'file:///etc/passwd'}]}}).encode()
    for headers in ({'X-Auth-Token': tokens['alice']},
                    {'X-Auth-Token': tokens['ops']},
                    {'X-Auth-Token': tokens['alice'], 'X-Roles': 'service',
                     'X-Service-Roles': 'service',
                     'X-Service-Identity-Status': 'Confirmed'}):
        seen = client.request('GET', path, headers)
        assert seen.status == 200, seen.body
        record = seen.json()['image']
        assert 'chunks' not in record and 'location' not in record, headers
        refused = client.request('POST', '/images', dict(headers, **json_type), chunks)
        assert refused.status == 403, refused.body
    # A valid token without the service role is no service token (auth_token's
    # service_token_roles_required), and neither is a bogus one.
    for service_token in (tokens['alice'], tokens['ops'], 'gAAAAABbogus'):
        headers = {'X-Auth-Token': tokens['alice'], 'X-Service-Token': service_token}
        assert client.request('GET', path, headers).status == 401
        assert client.request('POST', '/images', dict(headers, **json_type),
                              chunks).status == 401


def test_keystone_unreachable_is_503_and_lets_nothing_through(
        tmp_path, keystone_service, users, tokens):
    """auth_token cannot validate (its Keystone is down): 503, never the app. The
    tokens themselves are real and valid."""
    dead = 'http://127.0.0.1:%d/v3' % free_ports(1)[0]
    glance = users['glance']
    options = dict(daemons.NO_TRUSTED_GATEWAY, **keystone_service.auth_token_options(glance))
    options.update(auth_url=dead, www_authenticate_uri=dead, http_connect_timeout='2',
                   http_request_max_retries='0')
    registry = daemons.registry_daemon(tmp_path / 'registry',
                                       'sqlite:///%s' % (tmp_path / 'registry.db'),
                                       pipeline='glance-registry-keystone', **options)
    registry.start()
    try:
        client = Api(registry.url)
        for headers in ({'X-Auth-Token': tokens['alice']},
                        {'X-Auth-Token': tokens['ops'], 'X-Roles': 'admin'}):
            answer = client.request('GET', '/images', headers)
            assert answer.status == 503, answer.body
            assert answer.headers.get('retry-after') == '5'
            assert b'"images"' not in answer.body
        assert client.request('GET', '/images').status == 401
    finally:
        registry.stop()


def test_cli_logs_in_with_os_password_variables(deployment, keystone_service, users):
    registry, api = deployment
    services = Services(registry.url, api.url, None)
    alice = users['alice']
    login = {'OS_AUTH_URL': keystone_service.url, 'OS_USERNAME': alice.name,
             'OS_PASSWORD': alice.password, 'OS_PROJECT_NAME': alice.project,
             'OS_USER_DOMAIN_NAME': 'Default', 'OS_PROJECT_DOMAIN_ID': 'default'}
    added = run_cli(services, 'add', 'name=from-cli', '--json', '--file', '-',
                    data=b'cli bytes', identity=login)
    assert added.status == 0, added.stderr
    assert added.json()['owner'] == alice.project_id
    wrong = run_cli(services, 'index', identity=dict(login, OS_PASSWORD='wrong-pa55'))
    wrong.assert_one_line_error(1, 'Keystone refused')
    assert 'wrong-pa55' not in wrong.stderr
    anonymous = run_cli(services, 'index', identity={})
    anonymous.assert_one_line_error(1, 'OS_AUTH_URL')


def test_nova_side_sends_the_users_token_or_its_own_keystone_login(
        deployment, keystone_service, users, tokens):
    registry, api = deployment
    nova = users['alice']
    own_login = auth.TokenSource.from_environ({
        'OS_AUTH_URL': keystone_service.url, 'OS_USERNAME': nova.name,
        'OS_PASSWORD': nova.password, 'OS_PROJECT_NAME': nova.project})
    service = image_service.GlanceImageService([registry.url], api_url=api.url,
                                               timeout=30, token_source=own_login)
    try:
        without_token = types.SimpleNamespace(project_id=None, user_id=None, roles=[],
                                              auth_token=None, request_id=None)
        image = service.create(without_token, {'name': 'nova-own'}, data=b'nova bytes')
        assert image['owner'] == nova.project_id
        received = io.BytesIO()
        service.download(without_token, image['uri'], received)
        assert received.getvalue() == b'nova bytes'
        bob = types.SimpleNamespace(project_id=None, user_id=None, roles=[],
                                    auth_token=tokens['bob'], request_id=None)
        with pytest.raises(exception.ImageNotFound):
            service.show(bob, image['uri'])
    finally:
        service.close()


def test_no_token_or_password_reaches_a_log(deployment, keystone_service, users, tokens):
    secrets_used = list(tokens.values()) + [user.password for user in users.values()]
    secrets_used.append(keystone_service.admin_password)
    for daemon in deployment:
        text = daemon.read_log() + daemon.read_stderr()
        assert text, daemon.prog
        for secret in secrets_used:
            assert secret not in text, daemon.prog
