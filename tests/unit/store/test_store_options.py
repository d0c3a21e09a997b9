"""Each store checks its ``[store:<name>]`` options at startup and hides its secrets."""

import pytest

from glance.store.base import BadStoreConfiguration
from glance.store.filesystem import FilesystemStore
from glance.store.http import HTTPStore
from glance.store.s3 import S3Store
from glance.store.swift import SwiftStore

SWIFT = {'auth_url': 'http://127.0.0.1:8080/auth/v1.0', 'user': 'test:tester',
         'key': 'swift-secret-123'}
S3 = {'endpoint': 'http://127.0.0.1:8080', 'access_key': 'test:tester',
      'secret_key': 's3-secret-456'}
FILE = {'filesystem_store_datadir': '/var/lib/glance/images'}


def options(base, **changes):
    merged = dict(base)
    merged.update(changes)
    return {key: value for key, value in merged.items() if value is not None}


@pytest.mark.parametrize('cls,opts,option,why', [
    (FilesystemStore, {}, 'filesystem_store_datadir', 'required'),
    (FilesystemStore, options(FILE, filesystem_store_datadir='images'),
     'filesystem_store_datadir', 'absolute'),
    (FilesystemStore, options(FILE, chunk_size='lots'), 'chunk_size',
     'expected a size'),
    (FilesystemStore, options(FILE, chunk_size='0'), 'chunk_size', 'at least 1'),
    (FilesystemStore, options(FILE, filesystem_store_direct_io='often'),
     'filesystem_store_direct_io', 'expected a boolean'),
    (HTTPStore, {'timeout': 'soon'}, 'timeout', 'could not convert'),
    (HTTPStore, {'timeout': '0'}, 'timeout', 'must be >='),
    (HTTPStore, {'max_redirects': '50'}, 'max_redirects', 'must be <= 20'),
    (HTTPStore, {'insecure': 'perhaps'}, 'insecure', 'expected a boolean'),
    (HTTPStore, {'ca_file': '/nonexistent/ca.pem'}, 'ca_file', 'no such file'),
    (SwiftStore, options(SWIFT, auth_url=None), 'auth_url', 'required'),
    (SwiftStore, options(SWIFT, auth_url='127.0.0.1:8080'), 'auth_url', 'http(s) URL'),
    (SwiftStore, options(SWIFT, auth_version='3'), 'auth_version', 'only version 1'),
    (SwiftStore, options(SWIFT, user=''), 'user', 'required'),
    (SwiftStore, options(SWIFT, key=None), 'key', 'required'),
    (SwiftStore, options(SWIFT, container='a/b'), 'container', 'must not contain'),
    (SwiftStore, options(SWIFT, retries='-1'), 'retries', 'must be >= 0'),
    (SwiftStore, options(SWIFT, create_container_on_put='maybe'),
     'create_container_on_put', 'expected a boolean'),
    (S3Store, options(S3, access_key=None), 'access_key', 'required'),
    (S3Store, options(S3, secret_key=''), 'secret_key', 'required'),
    (S3Store, options(S3, endpoint='localhost:9000'), 'endpoint', 'http(s) URL'),
    (S3Store, options(S3, multipart_part_size='1M'), 'multipart_part_size',
     'at least 5242880'),
    (S3Store, options(S3, addressing_style='dns'), 'addressing_style',
     'path, virtual or auto'),
    (S3Store, options(S3, bucket='a/b'), 'bucket', 'bucket name'),
])
def test_bad_options_raise_bad_store_configuration_naming_them(cls, opts, option, why):
    with pytest.raises(BadStoreConfiguration) as caught:
        cls(opts)
    assert caught.value.option == option
    assert caught.value.section == 'store:%s' % cls.schemes[0]
    assert why in str(caught.value)


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path):
    bad = tmp_path / 'ca.pem'
    bad.write_text('not a certificate')
    with pytest.raises(BadStoreConfiguration, match='not a PEM bundle'):
        HTTPStore({'ca_file': str(bad)})


def test_options_are_typed_once_at_startup():
    store = S3Store(options(S3, multipart_part_size='16M', chunk_size='64K',
                            create_bucket_on_put='no', timeout='2.5', retries='0'))
    assert (store.part_size, store.chunk_size, store.create_bucket, store.timeout,
            store.retries) == (16 * 1024 * 1024, 65536, False, 2.5, 0)
    assert store.region == 'us-east-1' and store.bucket == 'glance'
    assert FilesystemStore(FILE).direct_io is True
    assert FilesystemStore(options(FILE, filesystem_store_direct_io='false')).direct_io \
        is False
    swift = SwiftStore(SWIFT)
    assert (swift.container, swift.create_container, swift.retries) == ('glance', True, 2)


def test_the_store_name_picks_the_section_in_messages():
    with pytest.raises(BadStoreConfiguration) as caught:
        HTTPStore({'timeout': 'x'}, name='https')
    assert caught.value.section == 'store:https'


@pytest.mark.parametrize('cls,opts,secret', [
    (SwiftStore, SWIFT, 'swift-secret-123'),
    (S3Store, S3, 's3-secret-456'),
])
def test_secrets_never_show_in_repr(cls, opts, secret):
    store = cls(opts)
    assert repr(store) == '<%s %s>' % (cls.__name__, cls.schemes[0])
    assert secret not in repr(vars(store))
    assert secret not in str(vars(store))


def test_no_connection_is_opened_at_startup():
    # An unreachable endpoint is fine until the first request.
    store = S3Store(options(S3, endpoint='http://127.0.0.1:1'))
    assert store._client is None
    SwiftStore(options(SWIFT, auth_url='http://127.0.0.1:1/auth/v1.0'))
