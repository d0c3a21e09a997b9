"""RegistryClient against a real glance-registry daemon.

Each test talks to a real ``bin/glance-registry`` process (shipped paste pipeline,
generated conf) over loopback: the round trip runs on SQLite, MariaDB and PostgreSQL,
the rest on SQLite, since what they check is the client and the HTTP contract. Tests
that only create and read their own images share one registry per module (and one
TLS registry); a test that lists everything it can see, or stops the registry, gets
its own (``fresh_registry``).
"""

import urllib.parse
import uuid

import pytest

from glance.common import auth, exception
from glance.common.context import RequestContext
from glance.registry.client import RegistryClient
from tests.functional import daemons
from tests.tls import write_self_signed_certificate

ALICE = RequestContext(tenant='alice', user='alice-user', roles=['member'])
BOB = RequestContext(tenant='bob', user='bob-user', roles=['member'])
ADMIN = RequestContext(tenant='ops', user='root', roles=['admin'])


def _image(**fields):
    image = {'name': 'cirros', 'disk_format': 'qcow2', 'container_format': 'bare'}
    image.update(fields)
    return image


@pytest.fixture(scope='module')
def registry_pipeline():
    """The paste pipeline of the module's shared registries (None: the default);
    test_related_images.py runs these tests again with the instance-aware one."""
    return None


def _module_registry(tmp_path_factory, pipeline, **options):
    """Start a registry on its own SQLite database, for a whole module."""
    folder = tmp_path_factory.mktemp('registry')
    return daemons.registry_daemon(folder, 'sqlite:///%s' % (folder / 'registry.sqlite'),
                                   pipeline, **options).start()


@pytest.fixture(scope='module')
def registry(tmp_path_factory, registry_pipeline):
    """A registry daemon on a SQLite database, shared by the module's tests."""
    daemon = _module_registry(tmp_path_factory, registry_pipeline)
    yield daemon
    daemon.stop()


@pytest.fixture
def fresh_registry(make_registry):
    """A registry daemon on a fresh SQLite database, for this test only."""
    return make_registry()


def _service(make_client, registry, context):
    """A client acting for ``context`` as glance-api does: the registry runs in
    trusted_gateway mode, so the service identity is the X-Service-Roles header."""
    return make_client([registry.url], credentials=auth.ServiceCredentials(
        trusted_gateway=True)).with_context(context)


@pytest.fixture
def client(registry, make_client):
    """A client allow-listing only ``registry``, with no identity."""
    return make_client([registry.url])


def test_round_trip_on_every_database(make_registry, make_client, database_url):
    registry = make_registry(sql_connection=database_url)
    alice = make_client([registry.url]).with_context(ALICE)
    created = alice.create_image(_image(properties={'os': 'linux', 'arch': 'x86_64'}))
    assert uuid.UUID(created['id'])
    assert created['uri'] == '%s/images/%s' % (registry.url, created['id'])
    assert created['owner'] == 'alice'
    assert created['status'] == 'queued'
    assert alice.resolve(created['uri']) == (alice.default_registry, created['id'])
    assert alice.get_image(created['uri']) == alice.get_image(created['id'])

    # Status and size are the upload flow's: glance-api's service identity.
    service = _service(make_client, registry, ALICE)
    service.update_image(created['uri'], {'status': 'saving'})
    updated = service.update_image(created['id'], {'status': 'active', 'size': 42,
                                                   'properties': {'os': 'bsd'}})
    assert (updated['status'], updated['size']) == ('active', 42)
    assert updated['properties'] == {'os': 'bsd', 'arch': 'x86_64'}

    listed = alice.list_images(detail=True)
    assert [image['id'] for image in listed['images']] == [created['id']]
    assert listed['next'] is None

    alice.delete_image(created['uri'])
    with pytest.raises(exception.ImageNotFound):
        alice.get_image(created['uri'])


def test_missing_image_is_image_not_found(client):
    image_id = str(uuid.uuid4())
    with pytest.raises(exception.ImageNotFound) as info:
        client.with_context(ALICE).get_image(image_id)
    assert image_id in info.value.message
    with pytest.raises(exception.ImageNotFound):
        client.with_context(ALICE).delete_image(image_id)


def test_private_image_of_another_tenant_is_not_found(client):
    image = client.with_context(ALICE).create_image(_image(is_public=False))
    with pytest.raises(exception.ImageNotFound):
        client.with_context(BOB).get_image(image['uri'])
    assert client.with_context(ADMIN).get_image(image['uri'])['owner'] == 'alice'


def test_changing_a_public_image_of_another_tenant_is_forbidden(client):
    image = client.with_context(ALICE).create_image(_image(is_public=True))
    bob = client.with_context(BOB)
    assert bob.get_image(image['uri'])['id'] == image['id']
    with pytest.raises(exception.Forbidden) as info:
        bob.update_image(image['uri'], {'name': 'mine now'})
    assert info.value.message
    with pytest.raises(exception.Forbidden):
        bob.delete_image(image['uri'])


def test_anonymous_callers_cannot_write(client):
    with pytest.raises(exception.Forbidden):
        client.create_image(_image(is_public=True))


def test_bad_status_transition_is_conflict(registry, client, make_client):
    alice = client.with_context(ALICE)
    image = alice.create_image(_image())
    service = _service(make_client, registry, ALICE)
    service.update_image(image['id'], {'status': 'active'})
    with pytest.raises(exception.Forbidden):
        alice.update_image(image['id'], {'status': 'queued'})
    with pytest.raises(exception.Conflict) as info:
        service.update_image(image['id'], {'status': 'queued'})
    assert 'active' in info.value.message and 'queued' in info.value.message


@pytest.mark.parametrize('call', [
    lambda alice: alice.list_images(sort_key='no_such_key'),
    lambda alice: alice.list_images(sort_dir='sideways'),
    lambda alice: alice.list_images(limit=-1),
    lambda alice: alice.create_image(_image(status='sleeping')),
    lambda alice: alice.create_image(_image(size='big')),
])
def test_bad_input_is_invalid_with_the_registry_reason(client, call):
    with pytest.raises(exception.Invalid) as info:
        call(client.with_context(ALICE))
    assert type(info.value) is exception.Invalid
    assert info.value.message and 'HTTP 400' not in info.value.message


def test_iter_images_follows_next_links_across_pages(fresh_registry, make_client):
    registry = fresh_registry
    alice = make_client([registry.url]).with_context(ALICE)
    names = ['image-%02d' % index for index in range(7)]
    for name in reversed(names):
        alice.create_image(_image(name=name))
    page = alice.list_images(sort_key='name', sort_dir='asc', limit=2)
    assert [image['name'] for image in page['images']] == names[:2]
    assert page['next'].startswith(registry.url + '/images?')
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page['next']).query)
    assert query['marker'] == [page['images'][-1]['id']]

    found = [image['name'] for image in
             alice.iter_images(sort_key='name', sort_dir='asc', page_size=2)]
    assert found == names
    desc = [image['name'] for image in
            alice.iter_images(detail=False, sort_key='name', sort_dir='desc',
                              page_size=3)]
    assert desc == names[::-1]


def test_filters_and_property_filters_reach_the_registry(fresh_registry, make_client):
    alice = make_client([fresh_registry.url]).with_context(ALICE)
    alice.create_image(_image(name='a', is_public=True, properties={'os': 'linux'}))
    alice.create_image(_image(name='b', is_public=False, properties={'os': 'linux'}))
    alice.create_image(_image(name='c', is_public=True, properties={'os': 'bsd'}))

    def names(**filters):
        return sorted(image['name'] for image in alice.iter_images(filters=filters))

    assert names(is_public=True) == ['a', 'c']
    assert names(is_public=False) == ['b']
    assert names(properties={'os': 'linux'}) == ['a', 'b']
    assert names(is_public=True, properties={'os': 'linux'}) == ['a']
    assert names(name='c') == ['c']


def test_purge_props_by_argument_or_extra_header(client):
    alice = client.with_context(ALICE)
    image = alice.create_image(_image(properties={'a': '1', 'b': '2'}))
    merged = alice.update_image(image['id'], {'properties': {'c': '3'}})
    assert merged['properties'] == {'a': '1', 'b': '2', 'c': '3'}
    purged = alice.update_image(image['id'], {'properties': {'d': '4'}}, purge_props=True)
    assert purged['properties'] == {'d': '4'}
    by_header = alice.update_image(
        image['id'], {'properties': {'e': '5'}},
        extra_headers={'X-Glance-Registry-Purge-Props': 'true'})
    assert by_header['properties'] == {'e': '5'}


def test_locations_are_shown_to_services_only(registry, client, make_client):
    # A "service" role in the context is never sent; only the credentials count.
    service = _service(make_client, registry, ALICE)
    chunks = [{'location': 'file:///var/lib/glance/x.0', 'size': 3, 'checksum': 'ab'}]
    image = service.create_image(_image(chunks=chunks, size=3))
    assert service.get_image(image['id'])['chunks'] == chunks
    claims = client.with_context(RequestContext(tenant='alice', roles=['service']))
    for caller in (client.with_context(ALICE), client.with_context(ADMIN), claims):
        assert 'chunks' not in caller.get_image(image['id'])
    with pytest.raises(exception.Forbidden):
        claims.create_image(_image(chunks=chunks, size=3))


def test_a_stopped_registry_is_registry_unavailable(fresh_registry, make_client):
    client = make_client([fresh_registry.url])
    client.close()
    fresh_registry.stop()
    with pytest.raises(exception.RegistryUnavailable) as info:
        client.with_context(ALICE).list_images()
    assert client.default_registry in info.value.message


@pytest.fixture(scope='module')
def tls_registry(tmp_path_factory, registry_pipeline):
    """A registry serving TLS with a self-signed certificate, shared by the module's
    TLS tests: ``(registry, its certificate, another CA's certificate)``."""
    folder = tmp_path_factory.mktemp('tls')
    cert, key = write_self_signed_certificate(folder, 'registry')
    other_ca, _ = write_self_signed_certificate(folder, 'other')
    registry = _module_registry(tmp_path_factory, registry_pipeline, cert_file=cert,
                                key_file=key)
    assert registry.url.startswith('https://')
    yield registry, cert, other_ca
    registry.stop()


def test_tls_registry_with_its_ca_file(tls_registry, make_client):
    registry, cert, _ = tls_registry
    alice = make_client([registry.url], ca_file=cert).with_context(ALICE)
    image = alice.create_image(_image())
    assert image['uri'].startswith('https://')
    assert alice.get_image(image['uri'])['id'] == image['id']


def test_tls_registry_with_the_wrong_ca_fails_clearly(tls_registry, make_client):
    registry, _, other_ca = tls_registry
    for registry_client in (make_client([registry.url], ca_file=other_ca),
                            make_client([registry.url])):
        with pytest.raises(exception.RegistryUnavailable) as info:
            registry_client.list_images()
        assert 'could not be verified' in info.value.message
        assert 'ca_file' in info.value.message


def test_tls_registry_insecure_skips_verification(tls_registry, make_client):
    registry, _, _ = tls_registry
    registry_client = make_client([registry.url], insecure=True)
    assert registry_client.list_images()['images'] == []


def test_conf_options_build_a_working_client(tls_registry):
    registry, cert, _ = tls_registry
    conf = {'registry_urls': registry.url + '/', 'registry_ca_file': cert,
            'registry_timeout': '5'}
    registry_client = RegistryClient.from_conf(conf)
    try:
        assert registry_client.list_images() == {'images': [], 'next': None}
    finally:
        registry_client.close()
