"""S3 error paths that a real S3 API will not produce on demand, via botocore's Stubber.

Everything else about the S3 store is tested against Swift's s3api in
``tests/functional/test_store_s3.py``.
"""

import pytest
from botocore.stub import Stubber

from glance.store.base import ObjectNotFound, StoreError, StoreUnavailable
from glance.store.s3 import MIN_PART_SIZE, S3Store

SECRET = 'stubbed-secret-789'
LOCATION = 's3://glance/img-00000'


@pytest.fixture
def store():
    return S3Store({'endpoint': 'http://127.0.0.1:1', 'access_key': 'AK',
                    'secret_key': SECRET, 'create_bucket_on_put': 'false',
                    'multipart_part_size': str(MIN_PART_SIZE), 'retries': '0'})


@pytest.fixture
def stubber(store):
    with Stubber(store.client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.mark.parametrize('code,status,error', [
    ('SlowDown', 503, StoreUnavailable),
    ('InternalError', 500, StoreUnavailable),
    ('ServiceUnavailable', 503, StoreUnavailable),
    ('AccessDenied', 403, StoreError),
    ('NoSuchKey', 404, ObjectNotFound),
])
def test_head_errors_are_translated_without_the_secret(store, stubber, code, status,
                                                       error):
    stubber.add_client_error('head_object', service_error_code=code,
                             service_message='secret is %s' % SECRET,
                             http_status_code=status)
    with pytest.raises(error) as caught:
        store.head(LOCATION)
    assert type(caught.value) is error
    assert SECRET not in str(caught.value)
    assert 'glance/img-00000' in str(caught.value)


def test_a_throttled_get_raises_store_unavailable(store, stubber):
    stubber.add_client_error('get_object', service_error_code='SlowDown',
                             http_status_code=503,
                             expected_params={'Bucket': 'glance', 'Key': 'img-00000',
                                              'Range': 'bytes=10-19'})
    with pytest.raises(StoreUnavailable, match='SlowDown'):
        store.get(LOCATION, 10, 10)


@pytest.mark.parametrize('failing', ['upload_part', 'complete_multipart_upload'])
def test_a_failed_multipart_upload_is_aborted(store, stubber, failing):
    key = {'Bucket': 'glance', 'Key': 'img-00000'}
    stubber.add_response('create_multipart_upload', {'UploadId': 'u1', **key}, key)
    if failing == 'complete_multipart_upload':
        stubber.add_response('upload_part', {'ETag': '"e1"'})
    stubber.add_client_error(failing, service_error_code='InternalError',
                             http_status_code=500)
    stubber.add_response('abort_multipart_upload', {}, dict(key, UploadId='u1'))
    stubber.add_client_error('head_object', service_error_code='404',
                             http_status_code=404, expected_params=key)
    with pytest.raises(StoreUnavailable, match='InternalError'):
        store.add(LOCATION, iter([b'\0' * MIN_PART_SIZE]))


def test_a_missing_bucket_on_write_is_reported_as_such(store, stubber):
    stubber.add_client_error('put_object', service_error_code='NoSuchBucket',
                             http_status_code=404)
    stubber.add_client_error('head_object', service_error_code='404',
                             http_status_code=404)
    with pytest.raises(StoreError, match='bucket glance does not exist') as caught:
        store.add(LOCATION, iter([b'small']))
    assert not isinstance(caught.value, ObjectNotFound)


def test_a_client_side_error_is_not_reported_as_unavailable(store):
    # botocore checks bucket names before sending: this request never leaves.
    with pytest.raises(StoreError, match='S3 client error: ParamValidationError') as caught:
        store.head('s3://bad%bucket/key')
    assert not isinstance(caught.value, StoreUnavailable)
