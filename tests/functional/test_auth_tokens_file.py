"""Token authentication with the tokens file, through the shipped tokens-file pipelines,
and the CLI authenticating against it; the registry down is a 503 with Retry-After."""

import json
import os

import pytest

from tests.data import random_bytes
from tests.functional import daemons
from tests.functional.services import free_ports
from tests.functional.test_api_images import Api
from tests.functional.test_cli import Services, run_cli

ALICE = 'alice-token-' + 'a' * 20
BOB = 'bob-token-' + 'b' * 20
OPS = 'ops-token-' + 'o' * 20
GLANCE = 'glance-api-token-' + 's' * 20
TOKENS = {ALICE: {'user': 'alice-user', 'project': 'alice', 'roles': ['member']},
          BOB: {'user': 'bob-user', 'project': 'bob', 'roles': ['member']},
          OPS: {'user': 'root', 'project': 'ops', 'roles': ['admin']},
          GLANCE: {'user': 'glance', 'project': 'service', 'roles': ['service']}}


def write_tokens(path, tokens):
    """Replace the tokens file so that the daemons see a new version."""
    tmp = str(path) + '.new'
    with open(tmp, 'w') as out:
        json.dump(tokens, out)
    os.replace(tmp, path)


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    """Registry and glance-api sharing one tokens file; yields (registry, api, path)."""
    folder = tmp_path_factory.mktemp('tokens-deployment')
    tokens = folder / 'tokens.json'
    write_tokens(tokens, TOKENS)
    registry, api = daemons.start_deployment(
        daemons.registry_daemon(folder / 'registry',
                                'sqlite:///%s' % (folder / 'registry.db'),
                                pipeline='glance-registry-tokens-file',
                                tokens_file=tokens, **daemons.NO_TRUSTED_GATEWAY),
        lambda registry_url: daemons.api_daemon(
            folder / 'api', registry_url, pipeline='glance-api-tokens-file',
            tokens_file=tokens, registry_service_token=GLANCE, **daemons.NO_TRUSTED_GATEWAY))
    yield registry, api, tokens
    api.stop()
    registry.stop()


def _upload(api, token, data, **meta):
    headers = {'X-Auth-Token': token, 'x-image-meta-name': 'img',
               'x-image-meta-disk-format': 'raw', 'x-image-meta-container-format': 'bare'}
    headers.update({'x-image-meta-' + name: value for name, value in meta.items()})
    return api.request('POST', '/images', headers, data)


def test_a_known_token_uploads_and_downloads(deployment):
    registry, api_daemon, _ = deployment
    api = Api(api_daemon.url)
    data = random_bytes(200 * 1024)
    created = _upload(api, ALICE, data)
    assert created.status == 201, created.body
    image = created.json()['image']
    assert image['owner'] == 'alice'
    got = api.request('GET', '/images/' + image['id'], {'X-Auth-Token': ALICE})
    assert got.status == 200 and got.body == data
    assert api.request('GET', '/images/' + image['id'],
                       {'X-Auth-Token': BOB}).status == 404
    assert 'x-image-meta-location' in api.request(
        'HEAD', '/images/' + image['id'], {'X-Auth-Token': OPS}).headers


@pytest.mark.parametrize('daemon', [0, 1], ids=['registry', 'api'])
def test_a_bogus_token_with_admin_headers_is_401(deployment, daemon):
    client = Api(deployment[daemon].url)
    answer = client.request('GET', '/images', {
        'X-Auth-Token': 'bogus-token-0123456789', 'X-Roles': 'admin',
        'X-Tenant-Id': 'ops'})
    assert answer.status == 401
    assert 'bogus-token' not in answer.body.decode()
    for log in (deployment[daemon].read_log(), deployment[daemon].read_stderr()):
        assert 'bogus-token-0123456789' not in log
        assert ALICE not in log and GLANCE not in log


def test_anonymous_callers_are_anonymous_whatever_headers_say(deployment):
    api = Api(deployment[1].url)
    forged = {'X-Tenant-Id': 'alice', 'X-Roles': 'admin', 'X-Identity-Status': 'Confirmed',
              'X-Project-Id': 'alice', 'X-Service-Roles': 'service'}
    refused = api.request('POST', '/images', dict(forged, **{'x-image-meta-name': 'anon'}),
                          b'data')
    assert refused.status == 403, refused.body


def test_a_direct_registry_caller_never_gets_locations(deployment):
    registry, api_daemon, _ = deployment
    created = _upload(Api(api_daemon.url), ALICE, b'located')
    path = '/images/' + created.json()['image']['id']
    client = Api(registry.url)
    for headers in ({'X-Auth-Token': ALICE},
                    {'X-Auth-Token': OPS},
                    {'X-Auth-Token': ALICE, 'X-Service-Token': ALICE},
                    {'X-Auth-Token': ALICE, 'X-Roles': 'service',
                     'X-Service-Roles': 'service'}):
        record = client.request('GET', path, headers).json()['image']
        assert 'chunks' not in record and 'location' not in record, headers
    with_service = client.request('GET', path, {'X-Auth-Token': ALICE,
                                                'X-Service-Token': GLANCE})
    assert with_service.json()['image']['chunks']
    assert client.request('GET', path, {'X-Auth-Token': ALICE,
                                        'X-Service-Token': 'bogus-0123456789abcdef'}
                          ).status == 401


def test_a_new_token_works_without_a_restart(deployment):
    _, api_daemon, tokens = deployment
    carol = 'carol-token-' + 'c' * 20
    api = Api(api_daemon.url)
    assert api.request('GET', '/images?uri=x', {'X-Auth-Token': carol}).status == 401
    write_tokens(tokens, dict(TOKENS, **{carol: {'user': 'carol', 'project': 'carol'}}))
    try:
        created = _upload(api, carol, b'carol bytes')
        assert created.status == 201, created.body
        assert created.json()['image']['owner'] == 'carol'
    finally:
        write_tokens(tokens, TOKENS)
    assert _upload(api, carol, b'again').status == 401


def test_cli_authenticates_with_os_auth_token(deployment):
    registry, api, _ = deployment
    services = Services(registry.url, api.url, None)
    anonymous = run_cli(services, 'add', 'name=anon', identity={}, data=b'x')
    anonymous.assert_one_line_error(1, 'OS_AUTH_TOKEN')
    added = run_cli(services, 'add', 'name=cli', '--file', '-', data=b'cli bytes',
                    identity={'OS_AUTH_TOKEN': ALICE})
    assert added.status == 0, added.stderr
    listed = run_cli(services, 'index', '--json', identity={'OS_AUTH_TOKEN': ALICE})
    assert 'cli' in [image['name'] for image in listed.json()['images']]
    flag = run_cli(services, '--os-auth-token', BOB, 'index', '--json', identity={})
    assert flag.status == 0, flag.stderr
    assert 'cli' not in [image['name'] for image in flag.json()['images']]


def test_registry_down_is_503_with_retry_after(tmp_path):
    dead = 'http://127.0.0.1:%d' % free_ports(1)[0]
    api = daemons.api_daemon(tmp_path / 'api', dead).start()
    try:
        client = Api(api.url)
        for method in ('GET', 'HEAD'):
            answer = client.request(method, '/images/%s' % ('0' * 8 + '-0000-0000-0000-'
                                                            + '0' * 12),
                                    {'X-Tenant-Id': 't1', 'X-Roles': 'member'})
            assert answer.status == 503
            assert int(answer.headers['retry-after']) > 0
        created = client.request('POST', '/images', {
            'X-Tenant-Id': 't1', 'x-image-meta-name': 'n'}, b'data')
        assert created.status == 503 and created.headers['retry-after']
    finally:
        api.stop()


def test_glance_api_without_a_service_identity_says_so(tmp_path, deployment):
    registry, api_daemon, tokens = deployment
    created = _upload(Api(api_daemon.url), ALICE, b'hidden locations')
    path = '/images/' + created.json()['image']['id']
    bare = daemons.api_daemon(tmp_path / 'api', registry.url,
                              pipeline='glance-api-tokens-file', tokens_file=tokens,
                              **daemons.NO_TRUSTED_GATEWAY).start()
    try:
        answer = Api(bare.url).request('GET', path, {'X-Auth-Token': ALICE})
        assert answer.status == 502
        assert 'registry_service_token' in answer.json()['error']['message']
        deleted = Api(bare.url).request('DELETE', path, {'X-Auth-Token': ALICE})
        assert deleted.status == 502
    finally:
        bare.stop()
    assert Api(api_daemon.url).request('GET', path, {'X-Auth-Token': ALICE}).body == (
        b'hidden locations')
