"""Several real registries at once, reached through one RegistryClient by image URI.

One registry runs on SQLite and one on PostgreSQL (the design's "multiple image
registries"); a third, real but not allow-listed, proves that URIs naming it are
refused before any request is sent to it.
"""

import time

import pytest

from glance.common import auth, exception
from glance.common.context import RequestContext

ALICE = RequestContext(tenant='alice', user='alice-user', roles=['member'])


@pytest.fixture
def registries(make_registry, make_database):
    """``(sqlite_registry, postgresql_registry)``, both running."""
    first = make_registry(sql_connection=make_database('sqlite').url)
    second = make_registry(sql_connection=make_database('postgresql').url)
    return first, second


@pytest.fixture
def alice(registries, make_client):
    """Alice's client allow-listing both registries, the SQLite one first."""
    return make_client([daemon.url for daemon in registries]).with_context(ALICE)


def _create(client, registry, name, **fields):
    image = {'name': name, 'disk_format': 'raw', 'container_format': 'bare'}
    image.update(fields)
    return client.create_image(image, registry=registry.url)


def _wait_for_log(daemon, text):
    """Wait until ``text`` is in the daemon's log and return the log's length.

    An access line is written once the response has been sent, so it may appear a
    moment after the client has the response.
    """
    deadline = time.monotonic() + 5
    while text not in daemon.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = daemon.read_log()
    assert text in log
    return len(log)


def test_images_of_both_registries_resolve_by_uri_through_one_client(registries, alice,
                                                                      make_client):
    first, second = registries
    on_first = _create(alice, first, 'on-sqlite')
    on_second = _create(alice, second, 'on-postgresql')
    assert on_first['uri'].startswith(first.url + '/images/')
    assert on_second['uri'].startswith(second.url + '/images/')

    assert alice.get_image(on_first['uri'])['name'] == 'on-sqlite'
    assert alice.get_image(on_second['uri'])['name'] == 'on-postgresql'
    assert alice.resolve(on_second['uri'])[0] == alice.registries[1]

    # Status is the upload flow's to set: glance-api's service identity (the
    # registries run in trusted_gateway mode: the X-Service-Roles header).
    service = make_client([daemon.url for daemon in registries],
                          credentials=auth.ServiceCredentials(trusted_gateway=True)
                          ).with_context(ALICE)
    updated = service.update_image(on_second['uri'], {'status': 'active'})
    assert updated['status'] == 'active'
    alice.delete_image(on_first['uri'])
    with pytest.raises(exception.ImageNotFound):
        alice.get_image(on_first['uri'])
    assert alice.get_image(on_second['uri'])['status'] == 'active'


def test_bare_ids_go_to_the_default_registry_only(registries, alice):
    first, second = registries
    on_first = _create(alice, first, 'default')
    on_second = _create(alice, second, 'other')
    assert alice.get_image(on_first['id'])['uri'] == on_first['uri']
    with pytest.raises(exception.ImageNotFound):
        alice.get_image(on_second['id'])
    assert alice.create_image({'name': 'no registry given'})['uri'].startswith(first.url)


def test_listings_are_per_registry(registries, alice):
    first, second = registries
    for index in range(2):
        _create(alice, first, 'first-%d' % index)
    for index in range(7):
        _create(alice, second, 'second-%d' % index)

    def names(registry, **kwargs):
        return [image['name'] for image in
                alice.iter_images(registry=registry.url, sort_key='name',
                                  sort_dir='asc', **kwargs)]

    assert names(first) == ['first-0', 'first-1']
    assert names(second, page_size=2) == ['second-%d' % index for index in range(7)]
    default = alice.list_images()['images']
    assert default == alice.list_images(registry=first.url)['images']


def test_uri_of_a_registry_not_allow_listed_is_refused_unsent(registries, make_registry,
                                                              make_client):
    first, second = registries
    third = make_registry()
    only_third = make_client([third.url]).with_context(ALICE)
    stranger = _create(only_third, third, 'elsewhere')
    log_size = _wait_for_log(third, '"POST /images" 201')

    only_first = make_client([first.url]).with_context(ALICE)
    on_second = _create(make_client([second.url]).with_context(ALICE), second, 'second')
    for uri in (stranger['uri'], on_second['uri']):
        for call in (only_first.get_image, only_first.delete_image,
                     lambda ref: only_first.update_image(ref, {'name': 'x'})):
            with pytest.raises(exception.Invalid) as info:
                call(uri)
            assert 'unknown registry' in info.value.message
    with pytest.raises(exception.Invalid):
        only_first.list_images(registry=third.url)
    assert len(third.read_log()) == log_size
    # The same URI through a client that allow-lists the third registry does reach
    # it, and shows up in its log: the unchanged log above means "never contacted".
    only_third.get_image(stranger['uri'])
    assert _wait_for_log(third, '"GET /images/%s" 200' % stranger['id']) > log_size


def test_one_registry_down_leaves_the_other_usable(registries, alice):
    first, second = registries
    on_second = _create(alice, second, 'survivor')
    alice.close()
    first.stop()
    with pytest.raises(exception.RegistryUnavailable) as info:
        alice.list_images()
    assert alice.registries[0] in info.value.message
    assert alice.get_image(on_second['uri'])['name'] == 'survivor'
