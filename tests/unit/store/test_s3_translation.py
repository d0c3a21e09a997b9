"""The S3 store's mapping of botocore answers and errors, request by request, through
botocore's Stubber (no network). The real behaviour is tested against Swift's s3api in
``tests/functional/test_store_s3.py``; here every branch and message is pinned."""

import datetime
import io

import botocore.exceptions
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from glance.store.base import (BadLocation, Location, ObjectInfo, ObjectNotFound,
                               StoreError, StoreIOError, StoreUnavailable)
from glance.store.s3 import MIN_PART_SIZE, S3Store

LOCATION = 's3://glance/img-00000'
KEY = {'Bucket': 'glance', 'Key': 'img-00000'}


def _store(**options):
    settings = {'endpoint': 'http://127.0.0.1:1', 'access_key': 'AK',
                'secret_key': 'sEcReT-unit-s3', 'create_bucket_on_put': 'false',
                'multipart_part_size': str(MIN_PART_SIZE), 'retries': '0'}
    settings.update(options)
    return S3Store(settings)


@pytest.fixture
def store():
    return _store()


@pytest.fixture
def stubber(store):
    with Stubber(store.client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _client_error(code, status):
    response = {'Error': {'Code': code}} if code is not None else {}
    if status is not None:
        response['ResponseMetadata'] = {'HTTPStatusCode': status}
    return botocore.exceptions.ClientError(response, 'HeadObject')


LOC = Location.parse(LOCATION)


@pytest.mark.parametrize('error,cls,message', [
    (_client_error('NoSuchKey', 404), ObjectNotFound,
     'Object glance/img-00000 not found in store s3'),
    (_client_error('NotFound', None), ObjectNotFound,
     'Object glance/img-00000 not found in store s3'),
    (_client_error(None, 404), ObjectNotFound,
     'Object glance/img-00000 not found in store s3'),
    (_client_error('SlowDown', 503), StoreUnavailable,
     'Store s3 unavailable for glance/img-00000: S3 error SlowDown (HTTP 503)'),
    (_client_error('Throttling', 400), StoreUnavailable,
     'Store s3 unavailable for glance/img-00000: S3 error Throttling (HTTP 400)'),
    (_client_error('Weird', 429), StoreUnavailable,
     'Store s3 unavailable for glance/img-00000: S3 error Weird (HTTP 429)'),
    (_client_error('Weird', 503), StoreUnavailable,
     'Store s3 unavailable for glance/img-00000: S3 error Weird (HTTP 503)'),
    (_client_error('Weird', 504), StoreError,
     'Store s3 failed on glance/img-00000: S3 error Weird (HTTP 504)'),
    (_client_error('Weird', 405), StoreError,
     'Store s3 failed on glance/img-00000: S3 error Weird (HTTP 405)'),
    (_client_error(None, None), StoreError,
     'Store s3 failed on glance/img-00000: S3 error unknown (HTTP ?)'),
    (botocore.exceptions.EndpointConnectionError(endpoint_url='http://x'),
     StoreUnavailable,
     'Store s3 unavailable for glance/img-00000: cannot reach S3: '
     'EndpointConnectionError'),
    (botocore.exceptions.NoCredentialsError(), StoreError,
     'Store s3 failed on glance/img-00000: S3 client error: NoCredentialsError'),
])
def test_errors_are_translated_with_exact_messages(store, error, cls, message):
    translated = store._client_error(LOC, error)
    assert type(translated) is cls
    assert str(translated) == message


def test_head_reports_size_etag_and_time(store, stubber):
    modified = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
    stubber.add_response('head_object', {'ContentLength': 42, 'ETag': '"ABC-2"',
                                         'LastModified': modified}, KEY)
    assert store.head(LOCATION) == ObjectInfo(LOCATION, 42, 'abc-2', modified)


def test_a_ranged_get_streams_the_body(store, stubber):
    stubber.add_response('get_object', {
        'ContentLength': 5, 'Body': StreamingBody(io.BytesIO(b'hello'), 5)},
        dict(KEY, Range='bytes=3-7'))
    assert b''.join(store.get(LOCATION, 3, 5)) == b'hello'


def test_a_whole_get_sends_no_range(store, stubber):
    stubber.add_response('get_object', {
        'ContentLength': 2, 'Body': StreamingBody(io.BytesIO(b'hi'), 2)}, KEY)
    assert b''.join(store.get(LOCATION)) == b'hi'


def test_a_range_past_the_end_is_empty(store, stubber):
    stubber.add_client_error('get_object', service_error_code='InvalidRange',
                             http_status_code=416)
    assert list(store.get(LOCATION, 100)) == []


def test_a_missing_object_on_get(store, stubber):
    stubber.add_client_error('get_object', service_error_code='NoSuchKey',
                             http_status_code=404)
    with pytest.raises(ObjectNotFound):
        store.get(LOCATION)


def test_a_body_cut_short_is_a_store_io_error(store, stubber):
    stubber.add_response('get_object', {
        'ContentLength': 10, 'Body': StreamingBody(io.BytesIO(b'short'), 10)}, KEY)
    with pytest.raises(StoreIOError) as info:
        b''.join(store.get(LOCATION))
    assert str(info.value) == ('I/O error in store s3 on glance/img-00000: read failed: '
                               'IncompleteReadError')


def test_a_small_object_is_one_put(store, stubber):
    stubber.add_response('put_object', {'ETag': '"E1"'}, dict(KEY, Body=b'small'))
    info = store.add(LOCATION, iter([b'sm', b'all']))
    assert info == ObjectInfo(LOCATION, 5, 'e1')


def test_delete_heads_first_then_deletes(store, stubber):
    stubber.add_response('head_object', {'ContentLength': 1}, KEY)
    stubber.add_response('delete_object', {}, KEY)
    store.delete(LOCATION)


def test_delete_of_a_missing_object(store, stubber):
    stubber.add_client_error('head_object', service_error_code='404',
                             http_status_code=404, expected_params=KEY)
    with pytest.raises(ObjectNotFound):
        store.delete(LOCATION)


def test_the_bucket_is_created_once_when_missing():
    store = _store(create_bucket_on_put='true', region='eu-west-1')
    with Stubber(store.client) as stub:
        stub.add_client_error('head_bucket', service_error_code='404',
                              http_status_code=404, expected_params={'Bucket': 'glance'})
        stub.add_response('create_bucket', {}, {
            'Bucket': 'glance',
            'CreateBucketConfiguration': {'LocationConstraint': 'eu-west-1'}})
        stub.add_response('put_object', {'ETag': '"a"'}, dict(KEY, Body=b'x'))
        stub.add_response('put_object', {'ETag': '"b"'}, dict(KEY, Body=b'y'))
        store.add(LOCATION, iter([b'x']))
        store.add(LOCATION, iter([b'y']))
        stub.assert_no_pending_responses()


def test_a_bucket_in_us_east_1_is_created_without_a_location():
    store = _store(create_bucket_on_put='true')
    with Stubber(store.client) as stub:
        stub.add_client_error('head_bucket', service_error_code='404',
                              http_status_code=404)
        stub.add_client_error('create_bucket', service_error_code='BucketAlreadyOwnedByYou',
                              http_status_code=409, expected_params={'Bucket': 'glance'})
        stub.add_response('put_object', {'ETag': '"a"'}, dict(KEY, Body=b'x'))
        assert store.add(LOCATION, iter([b'x'])).etag == 'a'
        stub.assert_no_pending_responses()


def test_a_bucket_that_cannot_be_checked_fails_the_write():
    store = _store(create_bucket_on_put='true')
    with Stubber(store.client) as stub:
        stub.add_client_error('head_bucket', service_error_code='AccessDenied',
                              http_status_code=403)
        stub.add_client_error('head_object', service_error_code='404',
                              http_status_code=404)
        with pytest.raises(StoreError) as info:
            store.add(LOCATION, iter([b'x']))
        assert str(info.value) == ('Store s3 failed on glance/img-00000: S3 error '
                                   'AccessDenied (HTTP 403)')


def test_a_multipart_upload_sends_parts_of_part_size(store, stubber):
    part = b'\1' * MIN_PART_SIZE
    stubber.add_response('create_multipart_upload', {'UploadId': 'u1'}, KEY)
    stubber.add_response('upload_part', {'ETag': '"p1"'},
                         dict(KEY, UploadId='u1', PartNumber=1, Body=part))
    stubber.add_response('upload_part', {'ETag': '"p2"'},
                         dict(KEY, UploadId='u1', PartNumber=2, Body=b'tail'))
    stubber.add_response('complete_multipart_upload', {'ETag': '"all-2"'}, dict(
        KEY, UploadId='u1', MultipartUpload={'Parts': [
            {'ETag': '"p1"', 'PartNumber': 1}, {'ETag': '"p2"', 'PartNumber': 2}]}))
    info = store.add(LOCATION, iter([part[:1000], part[1000:], b'tail']))
    assert info == ObjectInfo(LOCATION, MIN_PART_SIZE + 4, 'all-2')


@pytest.mark.parametrize('location', ['s3://glance/', 's3:///key', 's3://glance/k?v=1'])
def test_locations_need_a_bucket_and_a_key(store, location):
    with pytest.raises(BadLocation) as info:
        store.head(location)
    assert str(info.value) == 'Invalid store location: expected s3://<bucket>/<key>'


def test_keys_are_unquoted(store, stubber):
    stubber.add_response('head_object', {'ContentLength': 1},
                         {'Bucket': 'glance', 'Key': 'a b/c'})
    assert store.head('s3://glance/a%20b/c').size == 1
