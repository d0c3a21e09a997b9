"""The Swift store against a real Swift: the contract suite plus auth and containers."""

import pytest
import swiftclient.client
import swiftclient.exceptions

from glance.store.base import ObjectNotFound, StoreError, StoreUnavailable
from glance.store.swift import SwiftStore
from tests.functional.relay import Relay
from tests.functional.services import SWIFT_KEY, free_ports
from tests.functional.store_contract import (CHUNK, WritableStoreContract, pieces,
                                             relayed_reader)

CONTAINER = 'glance-contract'


def container_listing(swift_service, container):
    """Names of the objects in a Swift container ([] if it does not exist)."""
    conn = swiftclient.client.Connection(authurl=swift_service.auth_url,
                                         user='test:tester', key=SWIFT_KEY, retries=0)
    try:
        return sorted(obj['name'] for obj in conn.get_container(container)[1])
    except swiftclient.exceptions.ClientException as err:
        if err.http_status == 404:
            return []
        raise
    finally:
        conn.close()


@pytest.fixture(scope='module')
def store(swift_service):
    """The store under test, shared by the module (it holds the auth token)."""
    return SwiftStore(swift_service.swift_options(container=CONTAINER,
                                                  chunk_size=str(CHUNK)))


class TestSwiftStore(WritableStoreContract):

    @pytest.fixture
    def broken_reader(self, swift_service):
        with Relay(swift_service.ports['proxy']) as relay:
            yield relayed_reader(relay, SwiftStore(swift_service.swift_options(
                auth_url=relay.url + '/auth/v1.0', container=CONTAINER,
                chunk_size=str(CHUNK), retries=0)))

    @pytest.fixture
    def listing(self, swift_service):
        return lambda: container_listing(swift_service, CONTAINER)

    def test_location_names_the_configured_container(self, store):
        assert store.location_for('img', 12) == 'swift://%s/img-00012' % CONTAINER

    def test_a_wrong_key_raises_store_error_without_the_key(self, swift_service,
                                                            make_object):
        location = make_object(b'data')
        store = SwiftStore(swift_service.swift_options(key='wrong-key-xyz', retries=0))
        with pytest.raises(StoreError, match='HTTP 401') as caught:
            store.head(location)
        assert 'wrong-key-xyz' not in str(caught.value)
        assert 'wrong-key-xyz' not in repr(store) + repr(vars(store))

    def test_an_unreachable_swift_raises_store_unavailable(self, swift_service):
        store = SwiftStore(swift_service.swift_options(
            auth_url='http://127.0.0.1:%d/auth/v1.0' % free_ports(1)[0], retries=0))
        with pytest.raises(StoreUnavailable, match='cannot reach Swift'):
            store.head('swift://%s/anything' % CONTAINER)

    def test_missing_container_without_create_fails_and_leaves_nothing(
            self, swift_service, name):
        store = SwiftStore(swift_service.swift_options(
            container='glance-absent', create_container_on_put='false'))
        location = store.location_for(name, 0)
        with pytest.raises(StoreError, match='container glance-absent does not exist'):
            store.add(location, pieces(b'some data', 4))
        with pytest.raises(ObjectNotFound):
            store.head(location)
        assert container_listing(swift_service, 'glance-absent') == []

    def test_objects_in_other_containers_are_readable(self, swift_service, store, name):
        other = SwiftStore(swift_service.swift_options(container='glance-other'))
        location = other.add(other.location_for(name, 0), iter([b'elsewhere'])).location
        try:
            assert b''.join(store.get(location)) == b'elsewhere'
        finally:
            store.delete(location)
        assert container_listing(swift_service, 'glance-other') == []
