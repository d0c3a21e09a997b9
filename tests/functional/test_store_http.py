"""The read-only HTTP store against a real nginx, over http and https.

The contract suite plus redirects, TLS verification, server errors and a file that
shrinks while it streams. nginx listens on loopback, which the store refuses unless
allow-listed, so every store here allow-lists it (:data:`LOOPBACK`).
"""

import os

import pytest

from glance.store.base import (BadLocation, StoreError, StoreIOError,
                               StoreUnavailable)
from glance.store.http import HTTPStore
from glance.store.netpolicy import AddressRefused
from tests.functional.relay import Relay
from tests.functional.services import free_ports
from tests.functional.store_contract import (CHUNK, ReadOnlyStoreContract, payload,
                                             read_all, relayed_reader)


#: The allow-list that lets the store reach the test nginx.
LOOPBACK = {'allowed_networks': '127.0.0.0/8'}


class TestHTTPStore(ReadOnlyStoreContract):
    """Plain http://."""

    @pytest.fixture
    def store_options(self, nginx_service):
        return dict(LOOPBACK, chunk_size=str(CHUNK), timeout='5')

    @pytest.fixture
    def store(self, store_options):
        return HTTPStore(store_options)

    @pytest.fixture
    def base_url(self, nginx_service):
        return nginx_service.url

    @pytest.fixture
    def listing(self, nginx_service):
        return lambda: sorted(os.listdir(nginx_service.root))

    @pytest.fixture(autouse=True)
    def _server(self, nginx_service, base_url):
        self.root, self.base_url = nginx_service.root, base_url

    def url(self, path):
        return '%s/%s' % (self.base_url, path)

    @pytest.fixture
    def broken_reader(self, store, base_url):
        scheme, _, port = base_url.rpartition(':')
        with Relay(int(port)) as relay:
            relay_base = '%s:%d' % (scheme, relay.port)
            yield relayed_reader(relay, store,
                                 lambda location: location.replace(base_url, relay_base))

    def put(self, store, name, data, piece_size=None):
        with open(os.path.join(self.root, name), 'wb') as handle:
            handle.write(data)
        return self.url(name)

    def remove(self, store, location):
        os.unlink(os.path.join(self.root, location.rsplit('/', 1)[1]))

    def test_redirects_are_followed_for_head_and_ranged_get(self, store, make_object,
                                                            name):
        data = payload(30)
        make_object(data)
        redirected = self.url('_test/redirect/' + name)
        info = store.head(redirected)
        assert (info.location, info.size) == (redirected, 30)
        assert read_all(store, redirected, 3, 9) == data[3:12]

    def test_redirects_are_refused_when_max_redirects_is_zero(self, store_options,
                                                              make_object, name):
        make_object(b'data')
        store = HTTPStore(dict(store_options, max_redirects='0'))
        with pytest.raises(StoreError, match='more than 0 redirects'):
            store.head(self.url('_test/redirect/' + name))

    def test_a_redirect_loop_stops_after_max_redirects(self, store):
        with pytest.raises(StoreError, match='more than 5 redirects'):
            store.head(self.url('_test/loop'))

    def test_loopback_is_refused_without_an_allow_list(self, store_options, make_object):
        location = make_object(b'data')
        options = {k: v for k, v in store_options.items() if k != 'allowed_networks'}
        with pytest.raises(AddressRefused, match='is a loopback address'):
            HTTPStore(options).head(location)
        with pytest.raises(AddressRefused):
            HTTPStore(options).get(location)

    def test_a_redirect_to_another_scheme_is_refused(self, store):
        with pytest.raises(StoreError, match='redirect to a ftp:// URI refused'):
            store.get(self.url('_test/ftp'))

    def test_server_overload_raises_store_unavailable(self, store):
        with pytest.raises(StoreUnavailable, match='HTTP 503'):
            store.head(self.url('_test/unavailable'))

    def test_an_unreachable_server_raises_store_unavailable(self, store):
        location = '%s://127.0.0.1:%d/image' % (self.base_url.split(':')[0],
                                                free_ports(1)[0])
        with pytest.raises(StoreUnavailable, match='ConnectionRefusedError'):
            store.head(location)
        with pytest.raises(StoreUnavailable):
            store.get(location)

    def test_credentials_in_a_location_are_refused_without_echoing_them(self, store):
        with pytest.raises(BadLocation) as caught:
            store.head(self.url('image').replace('://', '://user:s3cr3t@'))
        assert 's3cr3t' not in str(caught.value)

    def test_a_file_truncated_while_streaming_raises_store_io_error(self, store_options,
                                                                    make_object):
        # Large enough that nginx cannot have sent it all into socket buffers yet.
        location = make_object(b'\0' * (64 * 1024 * 1024))
        reader = HTTPStore(dict(store_options, chunk_size='64K')).get(location)
        next(reader)
        os.truncate(os.path.join(self.root, location.rsplit('/', 1)[1]), 1024)
        with pytest.raises(StoreIOError):
            for _ in reader:
                pass


class TestHTTPSStore(TestHTTPStore):
    """https:// with the test server's self-signed certificate as ``ca_file``."""

    @pytest.fixture
    def store_options(self, nginx_service):
        return dict(LOOPBACK, chunk_size=str(CHUNK), timeout='5',
                    ca_file=nginx_service.ca_file)

    @pytest.fixture
    def base_url(self, nginx_service):
        return nginx_service.tls_url

    def test_an_untrusted_certificate_is_refused(self, make_object):
        location = make_object(b'data')
        with pytest.raises(StoreError, match='TLS with 127.0.0.1:.* failed: '
                                             'SSLCertVerificationError'):
            HTTPStore(LOOPBACK).head(location)

    def test_insecure_skips_certificate_verification(self, make_object):
        location = make_object(b'data')
        assert HTTPStore(dict(LOOPBACK, insecure='true')).head(location).size == 4

    def test_a_redirect_from_http_to_https_is_followed(self, store, nginx_service,
                                                       make_object, name):
        make_object(b'secure data')
        location = '%s/_test/to-tls/%s' % (nginx_service.url, name)
        assert read_all(store, location) == b'secure data'
