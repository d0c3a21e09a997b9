"""Functional tests of glance-api against every real store with multi-chunk images.

Swift and S3 (Swift's s3api) run from ``tests/functional/services.py``; the HTTP store
reads from a real nginx. Each store gets: upload (or registration, for the read-only
HTTP store) split over several chunks, byte-exact downloads and ranges across chunk
boundaries, a chunk changed or deleted behind the registry's back (5xx, no body), an
interrupted upload (image killed, no orphan objects), and the store dying mid-stream
(the client sees a short read). S3 chunks written as multipart uploads keep their
opaque ``md5-N`` ETags.
"""

import hashlib
import os
import shutil
import types
import urllib.parse

import blake3
import boto3
import botocore.config
import pytest
import swiftclient.client

from tests.functional import daemons, services
from tests.functional.test_api_images import (ADMIN, USER, Api,
                                              random_bytes, registry,  # noqa: F401
                                              registry_get, rot_silently, stop_reason,
                                              wait_for_status)

CHUNK = 256 * 1024
DATA = random_bytes(3 * CHUNK + 4321, seed=11)
CONTAINER = 'glance-api-tests'


def swift_connection(service):
    return swiftclient.client.Connection(
        authurl=service.auth_url, user=services.SWIFT_USER, key=services.SWIFT_KEY,
        auth_version='1')


def s3_client(service):
    return boto3.client('s3', endpoint_url=service.url, region_name=services.SWIFT_REGION,
                        aws_access_key_id=services.SWIFT_USER,
                        aws_secret_access_key=services.SWIFT_KEY,
                        config=botocore.config.Config(s3={'addressing_style': 'path'}))


class SwiftObjects:
    """Direct access to the objects of the swift store, bypassing Glance."""

    def __init__(self, service):
        self.conn = swift_connection(service)

    def names(self, prefix):
        return [o['name'] for o in self.conn.get_container(CONTAINER, prefix=prefix)[1]]

    def leftovers(self, prefix):
        """Everything of the image still in Swift: its objects."""
        return self.names(prefix)

    def replace(self, name, data):
        self.conn.put_object(CONTAINER, name, data)

    def delete(self, name):
        self.conn.delete_object(CONTAINER, name)


class S3Objects:
    """Direct access to the objects of the s3 store, bypassing Glance."""

    def __init__(self, service):
        self.client = s3_client(service)

    def names(self, prefix):
        listing = self.client.list_objects_v2(Bucket=CONTAINER, Prefix=prefix)
        return [item['Key'] for item in listing.get('Contents', [])]

    def leftovers(self, prefix):
        """Everything of the image still in S3: its objects and any unfinished
        multipart upload (whose parts S3 keeps, and bills, until it is aborted)."""
        uploads = self.client.list_multipart_uploads(Bucket=CONTAINER, Prefix=prefix)
        return self.names(prefix) + ['upload:' + upload['Key']
                                     for upload in uploads.get('Uploads', [])]

    def replace(self, name, data):
        self.client.put_object(Bucket=CONTAINER, Key=name, Body=data)

    def delete(self, name):
        self.client.delete_object(Bucket=CONTAINER, Key=name)


def start_api(folder, registry_url, service, default_store, chunk_size=CHUNK):
    """Start a glance-api whose uploads go to ``default_store`` on ``service``."""
    daemon = daemons.api_daemon(
        folder, registry_url, enabled_stores='file, http, swift, s3',
        default_store=default_store, store_chunk_size=chunk_size,
        sections={'store:swift': service.swift_options(container=CONTAINER,
                                                       chunk_size='64K'),
                  'store:s3': service.s3_options(bucket=CONTAINER,
                                                chunk_size='64K')})
    return daemon.start()


@pytest.fixture(scope='module', params=['swift', 's3'])
def writable(request, tmp_path_factory, registry, swift_service):
    """(Api, objects accessor) for each writable remote store."""
    daemon = start_api(tmp_path_factory.mktemp('api-' + request.param), registry.url,
                       swift_service, request.param)
    objects = (SwiftObjects if request.param == 'swift' else S3Objects)(swift_service)
    yield Api(daemon.url), objects
    daemon.stop()


@pytest.fixture
def uploaded(writable):
    api, objects = writable
    resp = api.upload(DATA)
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    return api, objects, image


def test_upload_writes_one_object_per_chunk(uploaded, registry):  # noqa: F811
    api, objects, image = uploaded
    assert image['status'] == 'active' and image['size'] == len(DATA)
    assert image['sha256'] == hashlib.sha256(DATA).hexdigest()
    assert image['blake3'] == blake3.blake3(DATA).hexdigest()
    assert len(objects.names(image['id'])) == 4
    chunks = registry_get(registry, image['id'])['chunks']
    assert [c['checksum'] for c in chunks[:3]] == [
        hashlib.md5(DATA[n * CHUNK:(n + 1) * CHUNK]).hexdigest() for n in range(3)]


def test_download_is_byte_exact_and_verified_with_blake3(uploaded):
    api, _, image = uploaded
    resp = api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 200 and resp.body == DATA
    assert resp.headers['x-image-meta-verified'] == 'blake3'


def assert_learns_blake3(api, registry, image_id, identity):  # noqa: F811
    """The first full GET of ``image_id`` (holding DATA) is unverified and records
    its BLAKE3; the next one is verified with it."""
    path = '/images/' + image_id
    first = api.request('GET', path, identity)
    assert first.body == DATA and first.headers['x-image-meta-verified'] == 'none'
    assert registry_get(registry, image_id)['blake3'] == blake3.blake3(DATA).hexdigest()
    second = api.request('GET', path, identity)
    assert second.body == DATA and second.headers['x-image-meta-verified'] == 'blake3'


def test_a_registered_object_gets_its_blake3_on_first_full_read(
        uploaded, registry):  # noqa: F811
    api, objects, _ = uploaded  # the upload made sure the container exists
    scheme = 'swift' if isinstance(objects, SwiftObjects) else 's3'
    name = 'existing-%s' % os.urandom(4).hex()
    objects.replace(name, DATA)
    try:
        resp = api.request('POST', '/images', dict(ADMIN, **{
            'x-image-meta-name': name,
            'x-image-meta-location': '%s://%s/%s' % (scheme, CONTAINER, name)}))
        assert resp.status == 201, resp.body
        image = resp.json()['image']
        assert image['blake3'] is None
        path = '/images/' + image['id']
        refused = api.request('POST', '/images', dict(USER, **{
            'x-image-meta-name': name,
            'x-image-meta-location': '%s://%s/%s' % (scheme, CONTAINER, name)}))
        assert refused.status == 403, refused.body
        assert_learns_blake3(api, registry, image['id'], ADMIN)
        assert api.request('DELETE', path, ADMIN).status == 204
        assert objects.names(name) == [name]  # registered, so only unregistered
    finally:
        objects.delete(name)


@pytest.mark.parametrize('first,last', [(CHUNK - 3, CHUNK + 2), (10, 3 * CHUNK + 10),
                                        (2 * CHUNK, 2 * CHUNK)])
def test_range_across_chunks_is_byte_exact(uploaded, first, last):
    api, _, image = uploaded
    resp = api.request('GET', '/images/' + image['id'],
                       dict(USER, Range='bytes=%d-%d' % (first, last)))
    assert resp.status == 206 and resp.body == DATA[first:last + 1]


def test_changed_chunk_is_502_without_body(uploaded):
    api, objects, image = uploaded
    objects.replace(objects.names(image['id'])[1], b'x' * CHUNK)
    resp = api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 502
    assert 'chunk 2 of 4 changed' in resp.json()['error']['message']


def test_deleted_chunk_is_502_without_body(uploaded):
    api, objects, image = uploaded
    objects.delete(objects.names(image['id'])[3])
    resp = api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 502
    assert 'chunk 4 of 4 is missing' in resp.json()['error']['message']


def test_interrupted_upload_leaves_no_orphan_objects(writable, registry):  # noqa: F811
    api, objects = writable
    name = 'partial-%s' % os.urandom(4).hex()
    image_id = api.partial_upload(registry, 4 * CHUNK,
                                  random_bytes(2 * CHUNK + 99, seed=12), name=name)
    wait_for_status(registry, image_id, 'killed')
    assert objects.leftovers(image_id) == []


def test_delete_removes_the_objects(uploaded):
    api, objects, image = uploaded
    assert api.request('DELETE', '/images/' + image['id'], USER).status == 204
    assert objects.leftovers(image['id']) == []


def test_swift_dying_mid_stream_gives_a_short_read(tmp_path, registry):  # noqa: F811
    swift = services.SwiftService(tmp_path / 'swift')
    services.start_or_give_up(swift)
    try:
        daemon = start_api(tmp_path / 'api', registry.url, swift, 'swift',
                           chunk_size=16 * 1024 * 1024)
        try:
            api = Api(daemon.url)
            data = random_bytes(48 * 1024 * 1024, seed=13)
            resp = api.upload(data)
            assert resp.status == 201, resp.body
            image_id = resp.json()['image']['id']
            status, received, error = api.read_streaming(
                '/images/' + image_id, pause_after=1024 * 1024, on_pause=swift.stop)
            assert status == 200
            assert error is not None and len(received) < len(data)
            assert data.startswith(received)
            assert 'store swift' in stop_reason(daemon, image_id)
        finally:
            daemon.stop()
    finally:
        swift.stop()


# -- the read-only HTTP store --------------------------------------------------

@pytest.fixture(scope='module')
def http_api(tmp_path_factory, registry):  # noqa: F811
    daemon = daemons.api_daemon(tmp_path_factory.mktemp('api-http'), registry.url,
                                enabled_stores='file, http', default_store='file',
                                sections={'store:http': {'allowed_networks':
                                                         '127.0.0.0/8'}})
    yield Api(daemon.start().url, daemon)
    daemon.stop()


@pytest.fixture
def nginx_folder(nginx_service):
    """A private folder under nginx's root, removed after the test.

    The HTTP store suite shares the session's nginx and checks that its root is empty.
    """
    name = 'api-%s' % os.urandom(4).hex()
    path = os.path.join(nginx_service.root, name)
    os.mkdir(path)
    yield types.SimpleNamespace(root=path, url='%s/%s' % (nginx_service.url, name))
    shutil.rmtree(path)


def register_http(api, nginx, parts, prefix):
    """Put ``parts`` under nginx's root and register them as one image's chunks."""
    locations = []
    for number, part in enumerate(parts):
        name = '%s-%d' % (prefix, number)
        with open(os.path.join(nginx.root, name), 'wb') as out:
            out.write(part)
        locations.append('%s/%s' % (nginx.url, name))
    headers = dict(USER, **{'x-image-meta-name': prefix,
                            'x-image-meta-location': ', '.join(locations)})
    resp = api.request('POST', '/images', headers)
    assert resp.status == 201, resp.body
    return resp.json()['image']


PARTS = [DATA[:CHUNK], DATA[CHUNK:2 * CHUNK + 7], DATA[2 * CHUNK + 7:]]


def test_http_registration_download_and_ranges(http_api, nginx_folder):
    image = register_http(http_api, nginx_folder, PARTS, 'reg-%s' % os.urandom(4).hex())
    assert image['status'] == 'active' and image['size'] == len(DATA)
    assert 'chunks' not in image
    resp = http_api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 200 and resp.body == DATA
    resp = http_api.request('GET', '/images/' + image['id'],
                            dict(USER, Range='bytes=%d-%d' % (CHUNK - 1, 2 * CHUNK + 8)))
    assert resp.status == 206 and resp.body == DATA[CHUNK - 1:2 * CHUNK + 9]


def test_http_registered_image_learns_blake3_on_first_full_read(
        http_api, registry, nginx_folder):  # noqa: F811
    image = register_http(http_api, nginx_folder, PARTS, 'learn-%s' % os.urandom(4).hex())
    assert image['blake3'] is None
    path = '/images/' + image['id']
    ranged = http_api.request('GET', path, dict(USER, Range='bytes=0-99'))
    assert ranged.status == 206 and ranged.headers['x-image-meta-verified'] == 'none'
    assert registry_get(registry, image['id'])['blake3'] is None
    assert_learns_blake3(http_api, registry, image['id'], USER)


def test_http_chunk_tampered_keeping_size_and_mtime_is_a_short_read(
        http_api, registry, nginx_folder):  # noqa: F811
    # nginx's ETag is mtime + size, so only the BLAKE3 computed while streaming can
    # tell: the client gets a 200 that ends short of Content-Length. (The image spans
    # several 1 MiB blocks, so the held-back last block is not the whole body.)
    data = random_bytes(3 * 1024 * 1024 + 5, seed=16)
    parts = [data[:2 * 1024 * 1024], data[2 * 1024 * 1024:]]
    prefix = 'tamper-%s' % os.urandom(4).hex()
    image = register_http(http_api, nginx_folder, parts, prefix)
    path = '/images/' + image['id']
    assert http_api.request('GET', path, USER).body == data
    assert registry_get(registry, image['id'])['blake3'] == \
        blake3.blake3(data).hexdigest()
    rot_silently(os.path.join(nginx_folder.root, prefix + '-1'), offset=100)
    status, received, error = http_api.read_streaming(path)
    assert status == 200
    # The rotten byte may already be out; what matters is the body never completes.
    assert error is not None and 0 < len(received) < len(data)
    assert 'blake3 of the streamed data' in stop_reason(http_api.daemon, image['id'])


def test_http_chunk_changed_or_gone_is_502(http_api, nginx_folder):
    prefix = 'chg-%s' % os.urandom(4).hex()
    image = register_http(http_api, nginx_folder, PARTS, prefix)
    with open(os.path.join(nginx_folder.root, prefix + '-1'), 'ab') as out:
        out.write(b'appended')
    resp = http_api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 502 and 'chunk 2 of 3 changed' in resp.json()['error']['message']
    os.unlink(os.path.join(nginx_folder.root, prefix + '-2'))
    os.unlink(os.path.join(nginx_folder.root, prefix + '-1'))
    resp = http_api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 502 and 'chunk 2 of 3 is missing' in resp.json()['error']['message']


def test_http_delete_only_unregisters(http_api, nginx_folder):
    prefix = 'del-%s' % os.urandom(4).hex()
    image = register_http(http_api, nginx_folder, PARTS, prefix)
    assert http_api.request('DELETE', '/images/' + image['id'], USER).status == 204
    assert os.path.exists(os.path.join(nginx_folder.root, prefix + '-0'))


def test_nginx_dying_mid_stream_gives_a_short_read(tmp_path, http_api):
    nginx = services.NginxService(tmp_path / 'nginx')
    services.start_or_give_up(nginx)
    try:
        data = random_bytes(48 * 1024 * 1024, seed=14)
        parts = [data[:16 * 1024 * 1024], data[16 * 1024 * 1024:]]
        image = register_http(http_api, nginx, parts, 'die-%s' % os.urandom(4).hex())
        status, received, error = http_api.read_streaming(
            '/images/' + image['id'], pause_after=1024 * 1024, on_pause=nginx.stop)
        assert status == 200
        assert error is not None and len(received) < len(data)
        assert data.startswith(received)
        assert 'store http' in stop_reason(http_api.daemon, image['id'])
    finally:
        nginx.stop()


def test_image_uri_query_works_for_http_images(http_api, nginx_folder):
    image = register_http(http_api, nginx_folder, PARTS[:1], 'uri-%s' % os.urandom(4).hex())
    path = '/images?uri=' + urllib.parse.quote(image['uri'], safe='')
    assert http_api.request('GET', path, USER).body == DATA[:CHUNK]


@pytest.fixture(scope='module')
def s3_multipart(tmp_path_factory, registry, swift_service):  # noqa: F811
    """(Api, S3Objects) of a glance-api writing 6 MiB chunks as 5 MiB S3 parts."""
    daemon = daemons.api_daemon(
        tmp_path_factory.mktemp('api-s3-multipart'), registry.url,
        enabled_stores='file, s3', default_store='s3', store_chunk_size='6M',
        sections={'store:s3': swift_service.s3_options(bucket=CONTAINER,
                                                       multipart_part_size='5M')})
    yield Api(daemon.start().url, daemon), S3Objects(swift_service)
    daemon.stop()


def test_s3_multipart_chunks_keep_their_opaque_etags(s3_multipart,
                                                    registry):  # noqa: F811
    api, _ = s3_multipart
    data = random_bytes(13 * 1024 * 1024, seed=15)
    resp = api.upload(data)
    assert resp.status == 201, resp.body
    image_id = resp.json()['image']['id']
    chunks = registry_get(registry, image_id)['chunks']
    assert [c['checksum'].endswith('-2') for c in chunks] == [True, True, False]
    assert api.request('GET', '/images/' + image_id, USER).body == data
    first, last = 6 * 1024 * 1024 - 5, 12 * 1024 * 1024 + 5
    resp = api.request('GET', '/images/' + image_id,
                       dict(USER, Range='bytes=%d-%d' % (first, last)))
    assert resp.status == 206 and resp.body == data[first:last + 1]


def test_an_upload_interrupted_mid_multipart_leaves_no_unfinished_upload(
        s3_multipart, registry):  # noqa: F811
    api, objects = s3_multipart
    name = 'multipart-%s' % os.urandom(4).hex()
    # The first 5 MiB part of the first chunk is uploaded before the client leaves.
    image_id = api.partial_upload(registry, 12 * 1024 * 1024,
                                  random_bytes(5 * 1024 * 1024 + 4321, seed=16),
                                  name=name)
    wait_for_status(registry, image_id, 'killed')
    assert objects.leftovers(image_id) == []


def test_http_image_of_one_block_tampered_is_a_short_read_not_a_500(
        http_api, registry, nginx_folder):  # noqa: F811
    # Smaller than read_block_size (1 MiB): the whole body is one held-back block,
    # and all but its last byte go out before the verdict.
    prefix = 'small-%s' % os.urandom(4).hex()
    image = register_http(http_api, nginx_folder, PARTS, prefix)
    path = '/images/' + image['id']
    assert http_api.request('GET', path, USER).body == DATA
    rot_silently(os.path.join(nginx_folder.root, prefix + '-1'), offset=5)
    status, received, error = http_api.read_streaming(path)
    assert status == 200
    assert error is not None and len(received) == len(DATA) - 1
    assert 'blake3 of the streamed data' in stop_reason(http_api.daemon, image['id'])
