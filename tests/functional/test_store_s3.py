"""The S3 store against Swift's s3api: the contract suite plus multipart uploads."""

import hashlib

import pytest

from glance.store.base import StoreError, StoreUnavailable
from glance.store.s3 import MIN_PART_SIZE, S3Store
from tests.functional.relay import Relay
from tests.functional.services import free_ports
from tests.functional.store_contract import (ClientGone, WritableStoreContract, CHUNK,
                                             payload, pieces, read_all, relayed_reader)
from tests.functional.test_store_swift import container_listing

BUCKET = 'glance-s3-contract'


@pytest.fixture(scope='module')
def store(swift_service):
    """The store under test, shared by the module (building a boto3 client is slow)."""
    return S3Store(swift_service.s3_options(bucket=BUCKET, chunk_size=str(CHUNK),
                                            multipart_part_size=str(MIN_PART_SIZE)))


class TestS3Store(WritableStoreContract):

    @pytest.fixture
    def broken_reader(self, swift_service):
        with Relay(swift_service.ports['proxy']) as relay:
            yield relayed_reader(relay, S3Store(swift_service.s3_options(
                endpoint=relay.url, bucket=BUCKET, chunk_size=str(CHUNK), retries='0')))

    @pytest.fixture
    def listing(self, swift_service, store):
        """Objects, unfinished multipart uploads and their Swift segments."""
        def names():
            client = store.client
            try:
                found = [obj['Key'] for obj in
                         client.list_objects_v2(Bucket=BUCKET).get('Contents', [])]
            except client.exceptions.NoSuchBucket:
                return []
            found += ['upload:' + up['Key'] for up in
                      client.list_multipart_uploads(Bucket=BUCKET).get('Uploads', [])]
            return found + container_listing(swift_service, BUCKET + '+segments')
        return names

    def test_large_objects_are_uploaded_in_parts(self, store, name):
        data = payload(2 * MIN_PART_SIZE + 1000, seed=9)
        location = store.location_for(name, 0)
        info = store.add(location, pieces(data, 1024 * 1024), size=len(data))
        try:
            parts = [hashlib.md5(data[i:i + MIN_PART_SIZE]).digest()
                     for i in range(0, len(data), MIN_PART_SIZE)]
            assert info.etag == '%s-3' % hashlib.md5(b''.join(parts)).hexdigest()
            assert store.head(location).etag == info.etag
            edge = MIN_PART_SIZE - 3
            assert read_all(store, location, edge, 2 * CHUNK) == data[edge:edge + 2 * CHUNK]
        finally:
            store.delete(location)

    def test_a_failed_multipart_upload_is_aborted(self, store, name):
        def chunks():
            yield payload(MIN_PART_SIZE + 10)
            yield b'more'
            raise ClientGone('client disconnected')

        with pytest.raises(ClientGone):
            store.add(store.location_for(name, 0), chunks())

    def test_a_wrong_secret_raises_store_error_without_the_secret(self, swift_service,
                                                                  make_object):
        location = make_object(b'data')
        store = S3Store(swift_service.s3_options(secret_key='wrong-secret-xyz',
                                                 retries='0'))
        with pytest.raises(StoreError, match='HTTP 403') as caught:
            store.head(location)
        assert 'wrong-secret-xyz' not in str(caught.value)
        assert 'wrong-secret-xyz' not in repr(store) + repr(vars(store))

    def test_an_unreachable_endpoint_raises_store_unavailable(self, swift_service):
        store = S3Store(swift_service.s3_options(
            endpoint='http://127.0.0.1:%d' % free_ports(1)[0], retries='0', timeout='2'))
        with pytest.raises(StoreUnavailable, match='cannot reach S3'):
            store.head('s3://%s/anything' % BUCKET)
