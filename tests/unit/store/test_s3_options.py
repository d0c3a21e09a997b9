"""The S3 store's options: defaults, limits at their boundaries, exact refusals, and
the boto3 client they configure (built lazily, never connecting here)."""

import pytest

from glance.store.base import BadStoreConfiguration
from glance.store.s3 import MIN_PART_SIZE, S3Store

REQUIRED = {'access_key': 'AK', 'secret_key': 'sEcReT-unit-s3'}


def _store(**options):
    return S3Store(dict(REQUIRED, **options))


def test_defaults():
    store = _store()
    assert (store.endpoint, store.region, store.bucket, store.create_bucket,
            store.addressing_style, store.part_size, store.timeout, store.retries) == (
        None, 'us-east-1', 'glance', True, 'path', 8 * 1024 * 1024, 60.0, 2)
    assert store._ready_buckets == set()


@pytest.mark.parametrize('options,values', [
    ({'endpoint': 'https://s3.example'}, {'endpoint': 'https://s3.example'}),
    ({'addressing_style': 'virtual'}, {'addressing_style': 'virtual'}),
    ({'addressing_style': 'auto'}, {'addressing_style': 'auto'}),
    ({'timeout': '0.001'}, {'timeout': 0.001}),
    ({'retries': '0'}, {'retries': 0}),
    ({'retries': '10'}, {'retries': 10}),
    ({'multipart_part_size': '5M'}, {'part_size': MIN_PART_SIZE}),
    ({'create_bucket_on_put': 'false'}, {'create_bucket': False}),
])
def test_accepted_boundaries(options, values):
    store = _store(**options)
    assert {name: getattr(store, name) for name in values} == values


@pytest.mark.parametrize('options,option,why', [
    ({'endpoint': 'ftp://s3'}, 'endpoint', 'must be an http(s) URL'),
    ({'bucket': 'a/b'}, 'bucket', 'must be a bucket name'),
    ({'addressing_style': 'Path'}, 'addressing_style', 'must be path, virtual or auto'),
    ({'secret_key': ''}, 'secret_key', 'required'),
    ({'access_key': ''}, 'access_key', 'required'),
    ({'retries': '11'}, 'retries', None),
    ({'retries': '-1'}, 'retries', None),
    ({'timeout': '0'}, 'timeout', None),
    ({'multipart_part_size': str(MIN_PART_SIZE - 1)}, 'multipart_part_size', None),
])
def test_refusals(options, option, why):
    with pytest.raises(BadStoreConfiguration) as info:
        _store(**options)
    assert info.value.option == option
    if why:
        assert str(info.value) == ("Invalid configuration: option '%s' in [store:s3]: %s"
                                   % (option, why))


def test_the_client_is_configured_from_the_options():
    store = _store(endpoint='http://127.0.0.1:1', region='eu-west-1', timeout='7',
                   retries='4', addressing_style='virtual')
    client = store.client
    assert client is store.client
    config = client.meta.config
    assert (config.region_name, config.connect_timeout, config.read_timeout) == (
        'eu-west-1', 7.0, 7.0)
    # retries = 4: four retries after the first attempt, five attempts in all (botocore's
    # max_attempts would count retries only, and retries + 1 of them was one too many).
    assert config.retries == {'mode': 'standard', 'total_max_attempts': 5}
    assert config.s3 == {'addressing_style': 'virtual'}
    assert client.meta.endpoint_url == 'http://127.0.0.1:1'
