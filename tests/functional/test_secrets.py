"""Secrets never leak: a full scenario with distinctive secrets configured, then every
log line and every response is searched for them.

Real parts only: a private Swift (with s3api) whose store users have distinctive keys,
a MariaDB user created with a distinctive password for the registry's database URL,
distinctive tokens on every request, and both daemons logging at DEBUG. The scenario
uploads to Swift and to S3, downloads (whole, ranges, HEAD), registers existing
objects, provokes errors (bad headers and queries, unknown images and locations, a
size over the cap, a chunk deleted behind the registry, a store that refuses our
credentials) and deletes.
"""

import http.client
import json
import os
import urllib.parse
import uuid

import boto3
import botocore.config
import pytest
import swiftclient.client

from tests.data import random_bytes
from tests.functional import daemons, databases, services
from tests.functional.availability import service_unavailable

MARK = uuid.uuid4().hex[:10]
SWIFT_KEY = 'SwKey-%s-swift' % MARK
S3_SECRET = 'S3Sec-%s-s3' % MARK
WRONG_KEY = 'BadKey-%s-wrong' % MARK
DB_PASSWORD = 'DbPw-%s-maria' % MARK
TOKEN = 'Tok-%s-user' % MARK
SERVICE_TOKEN = 'Tok-%s-service' % MARK
SECRETS = (SWIFT_KEY, S3_SECRET, WRONG_KEY, DB_PASSWORD, TOKEN, SERVICE_TOKEN)
CONTAINER = 'secrets-test'
CHUNK = 128 * 1024
DATA = random_bytes(3 * CHUNK + 77, seed=5)


def _identity(tenant='tenant-s', roles='member'):
    return {'X-Tenant-Id': tenant, 'X-User-Id': 'u', 'X-Roles': roles,
            'X-Auth-Token': TOKEN, 'X-Service-Token': SERVICE_TOKEN}


class Recorder:
    """An http.client client that keeps every response (status, headers, body)."""

    def __init__(self):
        self.responses = []

    def __call__(self, url, method, path, headers=None, body=None):
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
        except (http.client.IncompleteRead, OSError) as err:
            data = b'(cut: %s)' % type(err).__name__.encode()
            self.responses.append(b'%s %s -> cut' % (method.encode(), path.encode()))
            return None, {}, data
        finally:
            conn.close()
        text = ('%d %s\n' % (resp.status, resp.reason)).encode('latin-1')
        text += b''.join(('%s: %s\n' % item).encode('latin-1')
                         for item in resp.getheaders())
        self.responses.append(text + data)
        return resp.status, dict(resp.getheaders()), data


@pytest.fixture(scope='module')
def swift(tmp_path_factory):
    service = services.SwiftService(tmp_path_factory.mktemp('swift-secrets'),
                                    extra_users=[('glance', 'swiftstore', SWIFT_KEY),
                                                 ('glances3', 's3store', S3_SECRET)])
    yield services.start_or_give_up(service)
    service.stop()


@pytest.fixture(scope='module')
def mariadb_url():
    name = 'glance_secrets_' + MARK
    user = 'gs_' + MARK
    try:
        databases._mysql_execute('CREATE DATABASE %s CHARACTER SET utf8mb4' % name)
        databases._mysql_execute("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'"
                                 % (user, DB_PASSWORD))
        databases._mysql_execute("GRANT ALL ON %s.* TO '%s'@'127.0.0.1'" % (name, user))
    except Exception as err:  # server down: report, not crash
        service_unavailable('mysql server unavailable: %s' % type(err).__name__)
    yield 'mysql+pymysql://%s:%s@127.0.0.1:3306/%s?charset=utf8mb4' % (
        user, DB_PASSWORD, name)
    databases._mysql_execute('DROP DATABASE IF EXISTS %s' % name)
    databases._mysql_execute("DROP USER IF EXISTS '%s'@'127.0.0.1'" % user)


def _stores(swift_service, swift_key=SWIFT_KEY):
    return {'store:swift': swift_service.swift_options(
                container=CONTAINER, user='glance:swiftstore', key=swift_key,
                chunk_size='32K'),
            'store:s3': swift_service.s3_options(
                bucket=CONTAINER, access_key='glances3:s3store', secret_key=S3_SECRET,
                chunk_size='32K')}


def _api(tmp_path, registry, swift_service, default_store, **kwargs):
    return daemons.api_daemon(
        tmp_path / ('api-%s-%s' % (default_store, len(os.listdir(tmp_path)))),
        registry.url, enabled_stores='file, http, swift, s3',
        default_store=default_store, store_chunk_size=CHUNK, image_size_cap='1M',
        debug='true', sections=_stores(swift_service, **kwargs)).start()


def _scenario(call, api_url, registry_url, store, objects):
    """Run the whole scenario against one glance-api; returns nothing, records all."""
    user = _identity()
    status, _, body = call(api_url, 'POST', '/images', dict(user, **{
        'x-image-meta-name': 'secret-' + store, 'x-image-meta-disk-format': 'raw',
        'x-image-meta-container-format': 'bare'}), DATA)
    assert status == 201, body
    image_id = json.loads(body)['image']['id']
    path = '/images/' + image_id
    assert call(api_url, 'GET', path, user)[2] == DATA
    assert call(api_url, 'GET', path, dict(user, Range='bytes=10-200000'))[0] == 206
    assert call(api_url, 'HEAD', path, user)[0] == 200
    admin = _identity('ops', 'admin')
    assert call(api_url, 'GET', path, admin)[0] == 200

    # Registration of an object that already exists in the store.
    objects.put('registered-' + store, b'r' * 5000)
    location = '%s://%s/registered-%s' % (store, CONTAINER, store)
    status, _, body = call(api_url, 'POST', '/images', dict(admin, **{
        'x-image-meta-name': 'registered', 'x-image-meta-location': location}))
    assert status == 201, body
    registered = json.loads(body)['image']['id']

    # Errors of every kind.
    expected = [
        ('GET', '/images/' + str(uuid.uuid4()), user, None, 404),
        ('GET', '/images?uri=%zz', user, None, 400),
        ('POST', '/images', dict(user, **{'x-image-meta-size': 'big'}), None, 400),
        ('POST', '/images', dict(admin, **{
            'x-image-meta-location': '%s://%s/missing' % (store, CONTAINER)}), None, 400),
        ('POST', '/images', dict(admin, **{
            'x-image-meta-location': 'gopher://x/y'}), None, 400),
        ('POST', '/images', user, b'x' * (1024 * 1024 + 1), 413),
        ('PUT', path, user, b'more data', 409),
        ('DELETE', path, _identity('other'), None, 404),
    ]
    for method, where, headers, data, wanted in expected:
        assert call(api_url, method, where, headers, data)[0] == wanted, where
    call(registry_url, 'GET', '/images/detail?name=%ff', user)
    call(registry_url, 'PUT', path, dict(user, **{'Content-Type': 'application/json'}),
         b'{"image": {"size": 1}}')
    call(registry_url, 'GET', '/images/detail', admin)
    call(registry_url, 'GET', '/usage?owner=tenant-s',
         dict(_identity(), **{'X-Service-Roles': 'service'}))

    # A chunk deleted behind the registry: 502 on download.
    objects.delete('%s-00001' % image_id)
    assert call(api_url, 'GET', path, user)[0] == 502
    objects.put('%s-00001' % image_id, DATA[CHUNK:2 * CHUNK])

    for doomed in (image_id, registered):
        assert call(api_url, 'DELETE', '/images/' + doomed, admin)[0] == 204


class _SwiftObjects:
    def __init__(self, service):
        self.conn = swiftclient.client.Connection(
            authurl=service.auth_url, user='glance:swiftstore', key=SWIFT_KEY,
            auth_version='1')
        self.conn.put_container(CONTAINER)

    def put(self, name, data):
        self.conn.put_object(CONTAINER, name, data)

    def delete(self, name):
        self.conn.delete_object(CONTAINER, name)


class _S3Objects:
    def __init__(self, service):
        self.client = boto3.client(
            's3', endpoint_url=service.url, region_name=services.SWIFT_REGION,
            aws_access_key_id='glances3:s3store', aws_secret_access_key=S3_SECRET,
            config=botocore.config.Config(s3={'addressing_style': 'path'}))
        try:
            self.client.create_bucket(Bucket=CONTAINER)
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def put(self, name, data):
        self.client.put_object(Bucket=CONTAINER, Key=name, Body=data)

    def delete(self, name):
        self.client.delete_object(Bucket=CONTAINER, Key=name)


def test_no_secret_appears_in_any_log_or_response(tmp_path, swift, mariadb_url):
    call = Recorder()
    registry = daemons.registry_daemon(tmp_path / 'registry', mariadb_url, debug='true')
    registry.start()
    started = [registry]
    try:
        for store, objects in (('swift', _SwiftObjects(swift)),
                               ('s3', _S3Objects(swift))):
            api = _api(tmp_path, registry, swift, store)
            started.append(api)
            _scenario(call, api.url, registry.url, store, objects)
        # A store that refuses our (wrong, distinctive) key.
        refused = _api(tmp_path, registry, swift, 'swift', swift_key=WRONG_KEY)
        started.append(refused)
        status, _, _ = call(refused.url, 'POST', '/images', _identity(), b'z' * 1000)
        assert status in (502, 503)
    finally:
        for daemon in reversed(started):
            daemon.stop()

    configured = ''.join(open(daemon.conf_path).read() for daemon in started)
    for secret in (SWIFT_KEY, S3_SECRET, WRONG_KEY, DB_PASSWORD):
        assert secret in configured  # the scenario really used them
    texts = {'response %d' % index: text for index, text in enumerate(call.responses)}
    for daemon in started:
        texts[daemon.log_path] = daemon.read_log().encode('utf-8')
        texts[daemon.stderr_path] = daemon.read_stderr().encode('utf-8')
    assert len(call.responses) > 30
    assert any(b'DEBUG' in text for text in texts.values())
    for where, text in texts.items():
        for secret in SECRETS:
            for form in {secret, urllib.parse.quote(secret)}:
                assert form.encode() not in text, '%s leaked in %s' % (secret, where)
