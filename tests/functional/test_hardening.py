"""Hardening of both daemons, against real glance-registry and glance-api processes:
image field rules and ids on SQLite, MariaDB and PostgreSQL, quotas, lying
Content-Length, header and query-string input, and one status per bad location."""

import json
import os
import socket
import uuid

import pytest

from tests.data import random_bytes
from tests.functional import daemons
from tests.functional.test_api_images import (ADMIN, USER, Api,  # noqa: F401
                                              datadir, image_files)

# glance-api's identity towards a trusted_gateway registry: the service role is
# believed only from X-Service-Roles.
SERVICE = {'X-Tenant-Id': 'tenant1', 'X-User-Id': 'glance', 'X-Service-Roles': 'service'}
QUOTA = 300000


def _json(resp, status):
    assert resp.status == status, resp.body
    assert resp.headers['content-type'].startswith('application/json')
    assert b'Traceback' not in resp.body
    return resp.json()


def _post_json(api, path, body, identity, method='POST'):
    headers = dict(identity, **{'Content-Type': 'application/json'})
    return api.request(method, path, headers, json.dumps(body).encode())


# --- registry records on every database ------------------------------------------

def test_registry_field_rules_and_ids_on_every_database(make_registry, database_url):
    registry = Api(make_registry(sql_connection=database_url).url)
    image_id = str(uuid.uuid4())
    created = _json(_post_json(registry, '/images', {'image': {
        'id': image_id, 'status': 'active', 'size': 3, 'checksum': 'a' * 32,
        'chunks': [{'location': 'file:///x/y.0', 'size': 3, 'checksum': 'c'}]}},
        SERVICE), 201)['image']
    assert created['status'] == 'active'

    refused = _json(_post_json(registry, '/images/' + image_id,
                               {'image': {'size': 4}}, USER, 'PUT'), 403)
    assert 'size' in refused['error']['message']
    frozen = _json(_post_json(registry, '/images/' + image_id,
                              {'image': {'checksum': 'b' * 32}}, SERVICE, 'PUT'), 409)
    assert 'cannot change' in frozen['error']['message']
    _json(_post_json(registry, '/images/' + image_id,
                     {'image': {'status': 'saving'}}, SERVICE, 'PUT'), 409)

    usage = _json(registry.request('GET', '/usage?owner=tenant1', SERVICE), 200)
    assert usage['usage'] == {'owner': 'tenant1', 'images': 1, 'size': 3}

    assert registry.request('DELETE', '/images/' + image_id, USER).status == 204
    # OSSN-0075: the id of a deleted image is never handed out again.
    reused = _json(_post_json(registry, '/images', {'image': {'id': image_id}}, USER),
                   409)
    assert 'never reused' in reused['error']['message']
    usage = _json(registry.request('GET', '/usage?owner=tenant1', SERVICE), 200)
    assert usage['usage']['size'] == 0


# --- configuration -----------------------------------------------------------------

def test_pipeline_option_in_the_conf_file_selects_the_pipeline(tmp_path):
    daemon = daemons.registry_daemon(tmp_path, 'sqlite:///%s' % (tmp_path / 'r.db'))
    daemon.options['pipeline'] = 'glance-registry-instance-aware'
    daemon.start()
    try:
        assert 'Create the related-images table' in daemon.read_log()
        assert Api(daemon.url).request('GET', '/images', USER).status == 200
    finally:
        daemon.stop()


@pytest.mark.parametrize('prog, option, value', [
    ('glance-registry', 'bind_port', 'eighty'),
    ('glance-registry', 'sql_connection', 'mysql://root@127.0.0.1/x'),
    ('glance-registry', 'image_property_quota', '-3'),
    ('glance-registry', 'max_header_line', 'huge'),
    ('glance-registry', 'pipeline', 'no-such-pipeline'),
    ('glance-registry', 'log_level', 'LOUD'),
    ('glance-registry', 'db_auto_create', 'perhaps'),
    ('glance-registry', 'max_json_depth', '0'),
    ('glance-api', 'user_storage_quota', 'plenty'),
    ('glance-api', 'image_size_cap', '-1'),
    ('glance-api', 'max_total_header_size', '10'),
    ('glance-api', 'default_store', 'tape'),
    ('glance-api', 'registry_urls', 'ftp://127.0.0.1/'),
    ('glance-api', 'read_block_size', '1'),
    ('glance-api', 'debug', 'perhaps'),
    ('glance-api', 'max_header_line', '-5'),
])
def test_a_bad_option_stops_startup_with_one_line(tmp_path, prog, option, value):
    if prog == 'glance-registry':
        daemon = daemons.registry_daemon(tmp_path, 'sqlite:///%s' % (tmp_path / 'r.db'))
    else:
        daemon = daemons.api_daemon(tmp_path, 'http://127.0.0.1:9')
    daemon.options[option] = value
    with pytest.raises(daemons.DaemonError):
        daemon.start(timeout=60)
    assert daemon.process.returncode == 2
    stderr = daemon.read_stderr().strip()
    assert 'Traceback' not in stderr and 'Traceback' not in daemon.read_log()
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith(prog + ': ') and option in stderr


# --- glance-api: quotas, lying lengths, input, locations -------------------------

@pytest.fixture(scope='module')
def registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp('registry')
    daemon = daemons.registry_daemon(folder, 'sqlite:///%s' % (folder / 'registry.db'),
                                     max_header_line=4096, max_total_header_size=16384)
    yield daemon.start()
    daemon.stop()


@pytest.fixture(scope='module')
def api_daemon(tmp_path_factory, registry, datadir):  # noqa: F811
    daemon = daemons.api_daemon(
        tmp_path_factory.mktemp('api'), registry.url, filesystem_store_datadir=datadir,
        sections={'store:file': {'filesystem_store_datadir': datadir}},
        store_chunk_size=64 * 1024, image_size_cap=200000, read_block_size='16K',
        user_storage_quota=QUOTA, max_header_line=4096, max_total_header_size=16384)
    yield daemon.start()
    daemon.stop()


@pytest.fixture(scope='module')
def api(api_daemon):
    return Api(api_daemon.url)


def _registry_record(registry, image_id):
    return _json(Api(registry.url).request('GET', '/images/' + image_id, ADMIN),
                 200)['image']


def _killed_without_data(registry, datadir, name):
    found = _json(Api(registry.url).request('GET', '/images/detail?name=' + name, ADMIN),
                  200)['images']
    assert [image['status'] for image in found] == ['killed']
    assert image_files(datadir, found[0]['id']) == []


def test_storage_quota_stops_an_upload_once_over_and_kills_it(api, registry, datadir):
    identity = {'X-Tenant-Id': 'quota1', 'X-Roles': 'member'}
    first = api.upload(random_bytes(180000), identity, name='q-first')
    assert first.status == 201, first.body
    over = api.upload(random_bytes(150000), identity, name='q-second', chunked=True)
    message = _json(over, 413)['error']['message']
    assert 'user_storage_quota' in message
    _killed_without_data(registry, datadir, 'q-second')
    declared = api.upload(random_bytes(150000), identity, name='q-third')
    assert 'user_storage_quota' in _json(declared, 413)['error']['message']
    _killed_without_data(registry, datadir, 'q-third')
    # Deleting frees the quota again.
    assert api.request('DELETE', '/images/' + first.json()['image']['id'],
                       identity).status == 204
    assert api.upload(random_bytes(150000), identity, name='q-fourth').status == 201


def test_quota_and_size_cap_apply_to_registered_locations(api, datadir):
    identity = {'X-Tenant-Id': 'ops', 'X-Roles': 'admin'}
    paths = []
    for index in range(2):
        path = os.path.join(datadir, 'registered-%d' % index)
        with open(path, 'wb') as data:
            data.write(os.urandom(120000 + index))
        paths.append('file://' + path)
    capped = api.request('POST', '/images', dict(identity, **{
        'x-image-meta-name': 'reg-capped', 'x-image-meta-location': ', '.join(paths)}))
    assert 'image_size_cap' in _json(capped, 413)['error']['message']
    one = api.request('POST', '/images', dict(identity, **{
        'x-image-meta-name': 'reg-1', 'x-image-meta-location': paths[0]}))
    assert one.status == 201, one.body
    second = api.request('POST', '/images', dict(identity, **{
        'x-image-meta-name': 'reg-2', 'x-image-meta-location': paths[1]}))
    assert second.status == 201, second.body
    third = api.request('POST', '/images', dict(identity, **{
        'x-image-meta-name': 'reg-3', 'x-image-meta-location': paths[1]}))
    assert 'user_storage_quota' in _json(third, 413)['error']['message']


def _raw_upload(api, declared, body, name, shutdown=False):
    """Send a POST with a hand-written Content-Length; return the first response."""
    sock = socket.create_connection((api.host, api.port), timeout=60)
    try:
        head = ['POST /images HTTP/1.1', 'Host: x', 'Content-Length: %d' % declared,
                'x-image-meta-name: %s' % name]
        head += ['%s: %s' % item for item in USER.items()]
        sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode('ascii') + body)
        if shutdown:
            sock.shutdown(socket.SHUT_WR)
        reader = sock.makefile('rb')
        status = int(reader.readline().split()[1])
        headers = {}
        while True:
            line = reader.readline().strip()
            if not line:
                break
            name_, _, value = line.decode('latin-1').partition(':')
            headers[name_.strip().lower()] = value.strip()
        data = reader.read(int(headers['content-length']))
        return status, headers, json.loads(data)
    finally:
        sock.close()


def test_body_longer_than_content_length_is_400_killed_and_cleaned(api, registry,
                                                                    datadir):
    status, headers, body = _raw_upload(api, 50000, random_bytes(60000), 'liar-long')
    assert status == 400, body
    assert 'longer than its Content-Length' in body['error']['message']
    assert headers.get('connection') == 'close'
    _killed_without_data(registry, datadir, 'liar-long')


def test_body_shorter_than_content_length_is_400_killed_and_cleaned(api, registry,
                                                                     datadir):
    status, _, body = _raw_upload(api, 90000, random_bytes(70000), 'liar-short',
                                  shutdown=True)
    assert status == 400, body
    assert 'request body' in body['error']['message']
    _killed_without_data(registry, datadir, 'liar-short')


def test_a_pipelined_request_after_an_upload_is_not_taken_for_more_body(api):
    data = random_bytes(20000)
    sock = socket.create_connection((api.host, api.port), timeout=60)
    try:
        head = ('POST /images HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n'
                'x-image-meta-name: piped\r\n%s\r\n' % (len(data), ''.join(
                    '%s: %s\r\n' % item for item in USER.items()))).encode('ascii')
        sock.sendall(head + data + b'GET /images/%s HTTP/1.1\r\nHost: x\r\n\r\n'
                     % str(uuid.uuid4()).encode())
        reader = sock.makefile('rb')
        assert reader.readline().split()[1] == b'201'
    finally:
        sock.close()


@pytest.mark.parametrize('header, value', [
    ('x-image-meta-name', 'a\x01b'), ('x-image-meta-disk-format', 'raw\x7f'),
    ('x-image-meta-property-os', 'li\x0bnux'), ('x-image-meta-location', 'file:///a\x00'),
])
def test_control_characters_in_header_fields_are_400(api, header, value):
    sock = socket.create_connection((api.host, api.port), timeout=60)
    try:
        sock.sendall(b'POST /images HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n'
                     + ''.join('%s: %s\r\n' % item for item in USER.items()).encode()
                     + header.encode() + b': ' + value.encode('latin-1') + b'\r\n\r\n')
        reader = sock.makefile('rb')
        assert reader.readline().split()[1] == b'400'
    finally:
        sock.close()


@pytest.mark.parametrize('field', ['name', 'disk_format', 'container_format', 'owner'])
def test_cr_lf_in_registry_fields_are_400(registry, field):
    resp = _post_json(Api(registry.url), '/images',
                      {'image': {field: 'a\r\nX-Injected: 1'}}, ADMIN)
    assert 'control characters' in _json(resp, 400)['error']['message']
    resp = _post_json(Api(registry.url), '/images',
                      {'image': {'properties': {'k\n': 'v'}}}, ADMIN)
    _json(resp, 400)


@pytest.mark.parametrize('daemon', ['registry', 'api_daemon'])
def test_over_long_header_lines_and_blocks_are_json_400(request, daemon):
    url = request.getfixturevalue(daemon).url
    client = Api(url)
    long_line = client.request('GET', '/images', dict(USER, **{'X-Long': 'a' * 5000}))
    assert 'max_header_line' in _json(long_line, 400)['error']['message']
    many = {'X-Pad-%d' % index: 'b' * 3000 for index in range(8)}
    too_much = client.request('GET', '/images', dict(USER, **many))
    assert 'max_total_header_size' in _json(too_much, 400)['error']['message']


@pytest.mark.parametrize('daemon', ['registry', 'api_daemon'])
def test_requests_the_server_refuses_itself_get_json_errors(request, daemon):
    client = Api(request.getfixturevalue(daemon).url)
    many = {'X-Pad-%d' % index: 'c' for index in range(120)}
    too_many = client.request('GET', '/images', dict(USER, **many))
    assert too_many.status == 431
    assert 'more than 100 headers' in _json(too_many, 431)['error']['message']
    sock = socket.create_connection((client.host, client.port), timeout=60)
    try:
        sock.sendall(b'GET /images HTTP/1.1"x\r\nHost: x\r\n\r\n')
        reader = sock.makefile('rb')
        assert reader.readline().split()[1] == b'400'
        headers = {}
        for line in iter(reader.readline, b'\r\n'):
            name, _, value = line.decode('latin-1').partition(':')
            headers[name.strip().lower()] = value.strip()
        assert headers['content-type'] == 'application/json'
        body = json.loads(reader.read(int(headers['content-length'])))
        assert body['error']['code'] == 400
    finally:
        sock.close()


@pytest.mark.parametrize('path', [
    '/images?name=%ff', '/images?limit=%zz', '/images/detail?name=%', '/images%ff',
    '/images/detail?%e2=1'])
def test_malformed_query_strings_are_400_on_the_registry(registry, path):
    _json(Api(registry.url).request('GET', path, USER), 400)


@pytest.mark.parametrize('path', [
    '/images?uri=%zz', '/images?uri=%', '/images/%ff', '/images?uri=a%ffb'])
def test_malformed_query_strings_are_400_on_the_api(api, path):
    _json(api.request('GET', path, USER), 400)


def test_a_bad_location_is_400_at_registration_download_and_delete(api, registry):
    registered = api.request('POST', '/images', dict(ADMIN, **{
        'x-image-meta-name': 'bad-loc', 'x-image-meta-location': 'gopher://h/obj'}))
    assert 'gopher' in _json(registered, 400)['error']['message']
    record = _json(_post_json(Api(registry.url), '/images', {'image': {
        'name': 'bad-loc-stored', 'status': 'active', 'size': 1,
        'chunks': [{'location': 'gopher://h/obj', 'size': 1, 'checksum': None}]}},
        dict(ADMIN, **{'X-Roles': 'admin', 'X-Service-Roles': 'service'})), 201)['image']
    download = api.request('GET', '/images/' + record['id'], ADMIN)
    assert 'gopher' in _json(download, 400)['error']['message']
    delete = api.request('DELETE', '/images/' + record['id'], ADMIN)
    assert 'gopher' in _json(delete, 400)['error']['message']
    _registry_record(registry, record['id'])
