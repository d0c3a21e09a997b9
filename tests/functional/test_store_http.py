"""The read-only HTTP store against a real nginx: the contract suite plus redirects."""

import os

import pytest

from glance.store.base import (BadLocation, StoreError, StoreIOError,
                               StoreUnavailable)
from glance.store.http import HTTPStore
from tests.functional.services import free_ports
from tests.functional.store_contract import (CHUNK, ReadOnlyStoreContract, payload,
                                             read_all)


class TestHTTPStore(ReadOnlyStoreContract):

    @pytest.fixture
    def store(self):
        return HTTPStore({'chunk_size': str(CHUNK), 'timeout': '5'})

    @pytest.fixture
    def listing(self, nginx_service):
        return lambda: sorted(os.listdir(nginx_service.root))

    @pytest.fixture(autouse=True)
    def _nginx(self, nginx_service):
        self.nginx = nginx_service

    def put(self, store, name, data):
        with open(os.path.join(self.nginx.root, name), 'wb') as handle:
            handle.write(data)
        return self.nginx.location(name)

    def remove(self, store, location):
        os.unlink(os.path.join(self.nginx.root, location.rsplit('/', 1)[1]))

    def test_redirects_are_followed_for_head_and_ranged_get(self, store, make_object,
                                                            name):
        data = payload(30)
        make_object(data)
        redirected = self.nginx.location('_test/redirect/' + name)
        info = store.head(redirected)
        assert (info.location, info.size) == (redirected, 30)
        assert read_all(store, redirected, 3, 9) == data[3:12]

    def test_redirects_are_refused_when_max_redirects_is_zero(self, make_object, name):
        make_object(b'data')
        store = HTTPStore({'max_redirects': '0'})
        with pytest.raises(StoreError, match='more than 0 redirects'):
            store.head(self.nginx.location('_test/redirect/' + name))

    def test_a_redirect_loop_stops_after_max_redirects(self, store):
        with pytest.raises(StoreError, match='more than 5 redirects'):
            store.head(self.nginx.location('_test/loop'))

    def test_a_redirect_to_another_scheme_is_refused(self, store):
        with pytest.raises(StoreError, match='redirect to a ftp:// URI refused'):
            store.get(self.nginx.location('_test/ftp'))

    def test_server_overload_raises_store_unavailable(self, store):
        with pytest.raises(StoreUnavailable, match='HTTP 503'):
            store.head(self.nginx.location('_test/unavailable'))

    def test_an_unreachable_server_raises_store_unavailable(self, store):
        location = 'http://127.0.0.1:%d/image' % free_ports(1)[0]
        with pytest.raises(StoreUnavailable, match='ConnectionRefusedError'):
            store.head(location)
        with pytest.raises(StoreUnavailable):
            store.get(location)

    def test_credentials_in_a_location_are_refused_without_echoing_them(self, store):
        with pytest.raises(BadLocation) as caught:
            store.head('http://user:s3cr3t@127.0.0.1/image')
        assert 's3cr3t' not in str(caught.value)

    def test_a_file_truncated_while_streaming_raises_store_io_error(self, make_object):
        size = 64 * 1024 * 1024
        location = make_object(b'\0' * size)
        store = HTTPStore({'chunk_size': '64K', 'timeout': '5'})
        reader = store.get(location)
        next(reader)
        os.truncate(os.path.join(self.nginx.root, location.rsplit('/', 1)[1]), 1024)
        with pytest.raises(StoreIOError):
            for _ in reader:
                pass
