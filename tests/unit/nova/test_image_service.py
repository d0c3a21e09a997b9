"""GlanceImageService and InstanceAwareGlanceImageService against in-process Glances.

The seed's test plan 1: Nova-style customer contexts (stub objects with project_id,
user_id and roles) make the listing calls Nova makes, and each customer sees only
their own images plus public ones. Glance is stubbed out by serving the real registry
(with the instance_aware filter) and glance-api apps in-process (glance_services.py).
"""

import hashlib
import io
import threading
import types
import uuid
# Names are taken from sys.modules['http.server'], never through the package
# attribute ``http.server``: importing eventlet.wsgi (glance.common.server does)
# re-imports http.server over green socketserver/threading with
# eventlet.patcher.inject, which puts sys.modules back but leaves the ``http``
# package's ``server`` attribute on that green copy; a server of the green copy
# run in an OS thread then blocks its shutdown() forever on an eventlet lock.
from http.server import BaseHTTPRequestHandler, HTTPServer

import blake3
import pytest

from glance.common import context as glance_context
from glance.common import exception
from glance.nova import image_service, installation
from tests.unit.nova import glance_services

NOVA = '5f1c2a8e-3b4d-4e6f-8a9b-0c1d2e3f4a5b'


def nova_context(project, roles=(), is_admin=False):
    """A Nova-style context: a plain object with the attributes Nova's has."""
    return types.SimpleNamespace(project_id=project, user_id=project + '-user',
                                 roles=list(roles), is_admin=is_admin,
                                 auth_token=None, request_id='req-' + project)


ALICE = nova_context('alice', ['member'])
BOB = nova_context('bob', ['member'])


@pytest.fixture
def glance(tmp_path):
    """One registry (with the filter) and its glance-api."""
    registry = glance_services.serve_registry(tmp_path / 'registry')
    api = glance_services.serve_api(tmp_path / 'api', [registry.url])
    yield types.SimpleNamespace(registry=registry.url, api=api.url)
    api.stop()
    registry.stop()


@pytest.fixture
def service(glance):
    service = image_service.InstanceAwareGlanceImageService(
        NOVA, [glance.registry], api_url=glance.api, chunk_size=1000)
    yield service
    service.close()


def _names(images):
    return sorted(image['name'] for image in images)


# -- contexts -------------------------------------------------------------------------

def test_nova_context_becomes_identity_headers():
    ctx = image_service.request_context(nova_context('p1', roles=['member'],
                                                     is_admin=True))
    assert ctx.to_headers() == {'X-Tenant-Id': 'p1', 'X-User-Id': 'p1-user',
                                'X-Roles': 'member,admin', 'X-Request-Id': 'req-p1'}


def test_glance_context_and_none_are_accepted():
    ctx = glance_context.RequestContext('t', 'u', ['admin'])
    assert image_service.request_context(ctx) is ctx
    assert image_service.request_context(None).is_anonymous


# -- listings in a customer context (seed test plan 1) --------------------------------

def test_listings_show_a_customer_only_own_and_public_images(service):
    service.create(ALICE, {'name': 'alice private'})
    public = service.create(ALICE, {'name': 'alice public'})
    service.update(ALICE, public['uri'], {'is_public': True})
    service.create(BOB, {'name': 'bob private'})
    assert _names(service.index(ALICE)) == ['alice private', 'alice public']
    assert _names(service.detail(BOB)) == ['alice public', 'bob private']
    assert _names(service.index(None)) == ['alice public']


def test_alices_snapshot_is_in_her_list_and_not_in_bobs(service):
    snapshot = service.snapshot(ALICE, 123, {'name': 'alice snap'}, data=b'x' * 2500)
    assert snapshot['status'] == 'active'
    assert [image['id'] for image in service.index(ALICE)] == [snapshot['id']]
    assert service.index(BOB) == []
    assert [image['id'] for image in service.images_for_instance(ALICE, 123)] == [
        snapshot['id']]
    assert service.images_for_instance(BOB, 123) == []
    with pytest.raises(exception.ImageNotFound):
        service.show(BOB, snapshot['uri'])


# -- the calls Nova makes -------------------------------------------------------------

def test_create_without_data_is_queued_and_update_uploads_it(service):
    image = service.create(ALICE, {'name': 'queued', 'disk_format': 'raw',
                                   'properties': {'kernel_id': 'k1'}})
    assert image['status'] == 'queued'
    data = bytes(range(256)) * 20
    updated = service.update(ALICE, image['uri'], {'properties': {'os': 'linux'}},
                             data=io.BytesIO(data))
    assert updated['status'] == 'active' and updated['size'] == len(data)
    assert updated['checksum'] == hashlib.md5(data).hexdigest()
    assert updated['properties'] == {'kernel_id': 'k1', 'os': 'linux'}
    out = io.BytesIO()
    assert service.download(ALICE, image['uri'], out) == len(data)
    assert out.getvalue() == data


def test_create_with_data_goes_through_glance_api_headers(service):
    image = service.create(ALICE, {'name': 'with data', 'disk_format': 'raw',
                                   'container_format': 'bare', 'is_public': False,
                                   'properties': {'os_type': 'linux'}},
                           data=b'abc' * 1000)
    shown = service.show(ALICE, image['id'])
    assert shown['status'] == 'active' and shown['disk_format'] == 'raw'
    assert shown['properties'] == {'os_type': 'linux'}


def test_property_keys_that_cannot_be_headers_are_refused_before_sending(service):
    with pytest.raises(exception.Invalid):
        service.create(ALICE, {'name': 'x', 'properties': {'Os-Type': 'linux'}},
                       data=b'abc')
    assert service.index(ALICE) == []


def test_update_metadata_only_and_purge_props(service):
    image = service.create(ALICE, {'name': 'a', 'properties': {'k1': 'v1', 'k2': 'v2'}})
    merged = service.update(ALICE, image['id'], {'properties': {'k3': 'v3'}})
    assert merged['properties'] == {'k1': 'v1', 'k2': 'v2', 'k3': 'v3'}
    purged = service.update(ALICE, image['id'], {'properties': {'k3': 'v3'}},
                            purge_props=True)
    assert purged['properties'] == {'k3': 'v3'}


def test_show_by_name_and_a_missing_name(service):
    image = service.create(ALICE, {'name': 'find me'})
    assert service.show_by_name(ALICE, 'find me')['id'] == image['id']
    with pytest.raises(exception.NotFound):
        service.show_by_name(ALICE, 'nobody')


def test_index_pages_with_marker_and_limit(service):
    ids = [service.create(ALICE, {'name': 'n%d' % n})['id'] for n in range(5)]
    first = service.index(ALICE, limit=2)
    rest = service.index(ALICE, marker=first[-1]['uri'])
    assert [image['id'] for image in first + rest] == list(reversed(ids))
    assert [image['name'] for image in service.detail(ALICE, sort_key='name',
                                                      sort_dir='asc', limit=3)] == [
        'n0', 'n1', 'n2']


def test_delete_removes_the_image_and_bob_cannot(service):
    image = service.create(ALICE, {'name': 'doomed'}, data=b'bytes')
    with pytest.raises(exception.ImageNotFound):
        service.delete(BOB, image['uri'])
    service.delete(ALICE, image['uri'])
    with pytest.raises(exception.ImageNotFound):
        service.show(ALICE, image['uri'])


def test_unknown_registry_uri_is_refused(service):
    with pytest.raises(exception.Invalid):
        service.show(ALICE, 'http://elsewhere.test:9191/images/%s' % uuid.uuid4())


# -- the instance-aware service -------------------------------------------------------

def test_snapshots_and_backups_are_related_and_queryable(service):
    snap = service.snapshot(ALICE, 123, {'name': 'snap'})
    daily = service.backup(ALICE, 'i-0000007b', {'name': 'daily'}, backup_type='daily')
    service.snapshot(ALICE, 124, {'name': 'other instance'})
    assert _names(service.images_for_instance(ALICE, 123)) == ['daily', 'snap']
    backups = service.images_for_instance(ALICE, 123, relation='backup')
    assert [image['id'] for image in backups] == [daily['id']]
    assert backups[0]['properties'] == {'backup_type': 'daily'}
    assert [image['id'] for image in service.images_for_instance(
        ALICE, 123, relation='snapshot')] == [snap['id']]


def test_two_installations_with_the_same_instance_id_stay_apart(service, glance):
    other = image_service.InstanceAwareGlanceImageService(
        str(uuid.uuid4()), [glance.registry], api_url=glance.api)
    mine = service.snapshot(ALICE, 123, {'name': 'mine'})
    theirs = other.snapshot(ALICE, 123, {'name': 'theirs'})
    assert [i['id'] for i in service.images_for_instance(ALICE, 123)] == [mine['id']]
    assert [i['id'] for i in other.images_for_instance(ALICE, 123)] == [theirs['id']]


def test_rotate_backups_keeps_the_newest(service):
    ids = [service.backup(ALICE, 123, {'name': 'b%d' % n}, backup_type='daily')['id']
           for n in range(4)]
    weekly = service.backup(ALICE, 123, {'name': 'weekly'}, backup_type='weekly')
    deleted = service.rotate_backups(ALICE, 123, 2, backup_type='daily')
    assert sorted(image['id'] for image in deleted) == sorted(ids[:2])
    left = service.images_for_instance(ALICE, 123, relation='backup')
    assert sorted(image['id'] for image in left) == sorted(ids[2:] + [weekly['id']])
    with pytest.raises(exception.Invalid):
        service.rotate_backups(ALICE, 123, -1)


def test_instance_aware_service_needs_a_uuid(tmp_path, glance):
    with pytest.raises(installation.InstallationUUIDError):
        image_service.InstanceAwareGlanceImageService('nope', [glance.registry])
    flagfile = tmp_path / 'nova.conf'
    flagfile.write_text('--glance_registry_urls=%s\n--glance_api_url=%s\n'
                        % (glance.registry, glance.api))
    assert image_service.GlanceImageService.from_flagfile(str(flagfile)).api_url == (
        glance.api)
    with pytest.raises(installation.InstallationUUIDError) as raised:
        image_service.InstanceAwareGlanceImageService.from_flagfile(str(flagfile))
    assert 'generate-installation-uuid' in str(raised.value)
    new_uuid = installation.generate_installation_uuid(str(flagfile))
    service = image_service.InstanceAwareGlanceImageService.from_flagfile(str(flagfile))
    assert service.installation_uuid == new_uuid


# -- configuration --------------------------------------------------------------------

def test_flags_map_registries_to_apis():
    options = image_service.GlanceImageService.options_from_flags({
        'glance_registry_urls': 'http://r1:9191, http://r2:9191',
        'glance_api_urls': 'http://r2:9191=http://a2:9292',
        'glance_api_url': 'http://a1:9292', 'glance_timeout': '5',
        'glance_chunk_size': '4096'})
    service = image_service.GlanceImageService(**options)
    first, second = service._api(None, 'http://r1:9191'), service._api(None,
                                                                        'http://r2:9191')
    assert (first.url, second.url) == ('http://a1:9292', 'http://a2:9292')
    assert first.block_size == 4096 and first.transport.timeout == 5.0


@pytest.mark.parametrize('flags, option', [
    ({}, 'glance_registry_urls'),
    ({'glance_registry_urls': 'http://r1', 'glance_api_urls': 'http://r1'},
     'glance_api_urls'),
    ({'glance_registry_urls': 'http://r1', 'glance_timeout': 'soon'}, 'glance_timeout'),
])
def test_bad_flags_name_the_flag(flags, option):
    with pytest.raises(exception.ConfigError) as raised:
        image_service.GlanceImageService.options_from_flags(flags)
    assert raised.value.option == option


def test_api_mapping_must_name_a_configured_registry():
    with pytest.raises(exception.Invalid):
        image_service.GlanceImageService(['http://r1:9191'],
                                         api_urls={'http://r9:9191': 'http://a:9292'})


def test_a_registry_without_api_cannot_take_data(glance):
    service = image_service.GlanceImageService([glance.registry])
    with pytest.raises(exception.Invalid) as raised:
        service.create(ALICE, {'name': 'x'}, data=b'1')
    assert 'no glance-api' in str(raised.value)


# -- download checks ------------------------------------------------------------------

class _BrokenApi(BaseHTTPRequestHandler):
    """Answers every GET with a body that is short or does not match its checksum."""

    def do_GET(self):
        self.send_response(200)
        self.send_header('Content-Length', '10')
        self.send_header('x-image-meta-checksum', hashlib.md5(b'0123456789').hexdigest())
        if self.server.blake3:
            self.send_header('x-image-meta-blake3', self.server.blake3)
        self.end_headers()
        self.wfile.write(self.server.body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.mark.parametrize('body, blake3_header, error', [
    (b'01234', None, exception.UpstreamError),
    (b'9876543210', None, exception.ChecksumMismatch),
    # With a BLAKE3 recorded, that is what is checked (the md5 here would pass).
    (b'0123456789', blake3.blake3(b'9876543210').hexdigest(), exception.ChecksumMismatch),
    (b'0123456789', blake3.blake3(b'0123456789').hexdigest(), None),
])
def test_download_checks_length_and_the_strongest_recorded_digest(body, blake3_header,
                                                                 error):
    server = HTTPServer(('127.0.0.1', 0), _BrokenApi)
    server.body = body
    server.blake3 = blake3_header
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        registry = 'http://127.0.0.1:9'
        service = image_service.GlanceImageService(
            [registry], api_url='http://127.0.0.1:%d' % server.server_port)
        if error is None:
            out = io.BytesIO()
            assert service.download(ALICE, str(uuid.uuid4()), out) == 10
            assert out.getvalue() == body
        else:
            with pytest.raises(error) as raised:
                service.download(ALICE, str(uuid.uuid4()), io.BytesIO())
            if blake3_header:
                assert 'blake3 of the data' in str(raised.value)
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_api_is_service_unavailable():
    service = image_service.GlanceImageService(['http://127.0.0.1:9'],
                                               api_url='http://127.0.0.1:9', timeout=2)
    with pytest.raises(exception.ServiceUnavailable):
        service.download(ALICE, str(uuid.uuid4()), io.BytesIO())


# -- a registry without the filter --------------------------------------

def test_a_registry_without_the_filter_knows_nothing_of_nova(tmp_path):
    registry = glance_services.serve_registry(tmp_path / 'plain',
                                              instance_aware_filter=False)
    try:
        service = image_service.InstanceAwareGlanceImageService(NOVA, [registry.url])
        assert service.create(ALICE, {'name': 'plain'})['status'] == 'queued'
        with pytest.raises(exception.Invalid) as raised:
            service.images_for_instance(ALICE, 123)
        assert 'nova_installation_uuid' in str(raised.value)
        service.close()
    finally:
        registry.stop()


def test_contexts_without_a_token_get_novas_own_token(monkeypatch):
    monkeypatch.setenv('OS_AUTH_TOKEN', 'nova-own-token-0123456789')
    options = image_service.GlanceImageService.options_from_flags({
        'glance_registry_urls': 'http://r1:9191'})
    service = image_service.GlanceImageService(**options)
    assert service._context(ALICE).auth_token == 'nova-own-token-0123456789'
    assert service._context(ALICE).tenant == 'alice'
    with_token = types.SimpleNamespace(project_id='bob', user_id='b', roles=[],
                                       auth_token='users-token', request_id=None)
    assert service._context(with_token).auth_token == 'users-token'
    monkeypatch.delenv('OS_AUTH_TOKEN')
    plain = image_service.GlanceImageService(**image_service.GlanceImageService
                                             .options_from_flags({
                                                 'glance_registry_urls': 'http://r1'}))
    assert plain._context(ALICE).auth_token is None
