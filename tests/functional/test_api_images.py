"""Functional tests of glance-api with the file store: real glance-registry and
glance-api daemons started from bin/ with the shipped paste ini.

Covers the download flow (registry lookup, chunk HEADs, streaming with integrity),
headers, HEAD, ranges, upload with its failure modes, registration, update and delete.
The helpers here (:class:`Api`, :func:`random_bytes`) are shared with
``test_api_stores.py``.
"""

import hashlib
import http.client
import json
import os
import socket
import time
import urllib.parse

import blake3
import pytest

from tests.data import random_bytes, rot_silently
from tests.functional import daemons

USER = {'X-Tenant-Id': 'tenant1', 'X-User-Id': 'user1', 'X-Roles': 'member'}
OTHER = {'X-Tenant-Id': 'tenant2', 'X-User-Id': 'user2', 'X-Roles': 'member'}
ADMIN = {'X-Tenant-Id': 'ops', 'X-User-Id': 'root', 'X-Roles': 'admin'}
CHUNK = 64 * 1024


class Response:
    """Status, headers (lower-cased names; repeated ones joined by ', ') and body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Api:
    """A tiny http.client client of one glance-api daemon.

    :param url: the daemon's base URL.
    """

    def __init__(self, url, daemon=None):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        #: The :class:`~tests.functional.daemons.Daemon` serving ``url``, if known.
        self.daemon = daemon

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method, path, headers=None, body=None, chunked=False):
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {},
                         encode_chunked=chunked)
            resp = conn.getresponse()
            data = resp.read()
            names = {}
            for name, value in resp.getheaders():
                key = name.lower()
                names[key] = value if key not in names else names[key] + ', ' + value
            return Response(resp.status, names, data)
        finally:
            conn.close()

    def upload(self, data, identity=USER, name='img', extra=None, chunked=False):
        headers = dict(identity, **{'x-image-meta-name': name,
                                    'x-image-meta-disk-format': 'raw',
                                    'x-image-meta-container-format': 'bare'})
        headers.update(extra or {})
        if chunked:
            body = (data[i:i + 10000] for i in range(0, len(data), 10000))
            headers['Transfer-Encoding'] = 'chunked'
        else:
            body = data
        return self.request('POST', '/images', headers, body, chunked)

    def partial_upload(self, registry, declared, sent, identity=USER, name='partial'):
        """Send ``sent`` of ``declared`` bytes, then close the connection.

        The connection is closed once the registry shows the upload started (image
        ``name`` is ``saving``), so the data is being read when the client goes away.

        :returns: the image id.
        """
        sock = socket.create_connection((self.host, self.port), timeout=30)
        head = ['POST /images HTTP/1.1', 'Host: %s:%d' % (self.host, self.port),
                'Content-Length: %d' % declared, 'x-image-meta-name: %s' % name]
        head += ['%s: %s' % item for item in identity.items()]
        try:
            sock.sendall(('\r\n'.join(head) + '\r\n\r\n').encode('ascii') + sent)
            image = wait_until(lambda: next(iter(find_images(registry, name)), None),
                               'image %s to be created' % name)
            wait_for_status(registry, image['id'], 'saving')
        finally:
            sock.close()
        return image['id']

    def read_streaming(self, path, identity=USER, headers=None, pause_after=None,
                       on_pause=None):
        """GET a body block by block; return (status, bytes read, error or None).

        The error is ``'short'`` when the server closed the connection before
        ``Content-Length`` bytes, or the reset or incomplete read that ended it. A
        server that stops sending without closing the connection (it hung instead of
        aborting) fails the test with an AssertionError, never passes as an error.

        :param pause_after: call ``on_pause()`` once this many bytes have arrived.
        """
        conn = self.connection()
        received = bytearray()
        try:
            conn.request('GET', path, headers=dict(identity, **(headers or {})))
            resp = conn.getresponse()
            paused = False
            while True:
                try:
                    block = resp.read(65536)
                except TimeoutError:
                    raise AssertionError(
                        'glance-api kept the connection open without sending anything '
                        'after %d bytes: it hung instead of aborting' % len(received))
                except (http.client.IncompleteRead, ConnectionResetError) as err:
                    return resp.status, bytes(received), err
                if not block:
                    break
                received += block
                if pause_after is not None and not paused and len(received) >= pause_after:
                    paused = True
                    on_pause()
            length = int(resp.getheader('Content-Length'))
            error = None if len(received) == length else 'short'
            return resp.status, bytes(received), error
        finally:
            conn.close()


def wait_until(probe, what, timeout=30):
    """Call ``probe()`` until it returns something true, and return that.

    A wait on a condition, not on time: ``timeout`` only bounds a test whose
    condition never comes true.

    :param what: names the condition in the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError('gave up waiting for %s' % what)
        time.sleep(0.05)


def wait_for_status(registry, image_id, status):
    """Poll the registry (as admin) until the image has ``status``; return it."""
    def current():
        image = registry_get(registry, image_id)
        return image if image['status'] == status else None
    return wait_until(current, 'image %s to become %s' % (image_id, status))


def registry_get(registry, image_id):
    """The full record, chunks included: asked as the service (trusted_gateway mode)."""
    api = Api(registry.url)
    resp = api.request('GET', '/images/' + image_id,
                       dict(ADMIN, **{'X-Service-Roles': 'service'}))
    assert resp.status == 200, resp.body
    return resp.json()['image']


def image_files(datadir, image_id):
    """The chunk files of one image in the file store, sorted by chunk index."""
    return sorted(name for name in os.listdir(datadir) if name.startswith(image_id))


@pytest.fixture(scope='module')
def registry(tmp_path_factory, server):
    """One glance-registry on SQLite for the module (daemons take a while to stop)."""
    folder = tmp_path_factory.mktemp('registry')
    daemon = daemons.registry_daemon(folder, 'sqlite:///%s' % (folder / 'registry.db'),
                                     server=server)
    yield daemon.start()
    daemon.stop()


@pytest.fixture(scope='module')
def datadir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('images'))


#: glance-api's options for these tests (small chunks, a 1 MiB cap), and its
#: ``[store:file]`` ones; modules that run these tests elsewhere use them too.
API_OPTIONS = {'store_chunk_size': CHUNK, 'image_size_cap': 1024 * 1024,
               'read_block_size': '32K'}
STORE_FILE_OPTIONS = {'chunk_size': '16K'}


@pytest.fixture(scope='module')
def api_daemon(tmp_path_factory, registry, datadir, server):
    daemon = daemons.api_daemon(
        tmp_path_factory.mktemp('api'), registry.url, server=server,
        filesystem_store_datadir=datadir,
        sections={'store:file': dict(STORE_FILE_OPTIONS,
                                     filesystem_store_datadir=datadir)},
        **API_OPTIONS)
    yield daemon.start()
    daemon.stop()


@pytest.fixture(scope='module')
def api(api_daemon):
    return Api(api_daemon.url, api_daemon)


def find_images(registry, name):
    """The registry records of every image with that name, chunks included: asked as
    an admin with the service role (trusted_gateway mode), as glance-api would."""
    query = '/images/detail?' + urllib.parse.urlencode({'name': name})
    return Api(registry.url).request(
        'GET', query, dict(ADMIN, **{'X-Service-Roles': 'service'})).json()['images']


DATA = random_bytes(5 * CHUNK + 1234)


@pytest.fixture
def image(api):
    resp = api.upload(DATA, extra={'x-image-meta-property-os-type': 'linux'})
    assert resp.status == 201, resp.body
    return resp.json()['image']


def test_upload_splits_into_chunks_and_records_checksums(api, image, datadir, registry):
    assert image['status'] == 'active'
    assert image['size'] == len(DATA)
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert image['sha256'] == hashlib.sha256(DATA).hexdigest()
    assert image['blake3'] == blake3.blake3(DATA).hexdigest()
    assert 'chunks' not in image and 'location' not in image
    assert len(image_files(datadir, image['id'])) == 6
    chunks = registry_get(registry, image['id'])['chunks']
    assert [c['size'] for c in chunks] == [CHUNK] * 5 + [1234]
    assert all(c['checksum'] for c in chunks)


def test_download_concatenates_the_chunks_with_all_headers(api, image):
    resp = api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 200
    assert resp.body == DATA
    headers = resp.headers
    assert headers['content-length'] == str(len(DATA))
    assert headers['content-type'] == 'application/octet-stream'
    assert headers['etag'] == '"%s"' % hashlib.md5(DATA).hexdigest()
    assert headers['accept-ranges'] == 'bytes'
    assert 'last-modified' in headers
    assert headers['x-image-meta-name'] == 'img'
    assert headers['x-image-meta-status'] == 'active'
    assert headers['x-image-meta-size'] == str(len(DATA))
    assert headers['x-image-meta-is_public'] == 'False'
    assert headers['x-image-meta-sha256'] == hashlib.sha256(DATA).hexdigest()
    assert headers['x-image-meta-blake3'] == blake3.blake3(DATA).hexdigest()
    assert headers['x-image-meta-verified'] == 'blake3'
    assert headers['x-image-meta-property-os_type'] == 'linux'
    assert 'x-image-meta-location' not in headers


def test_admin_sees_one_location_header_per_chunk(api, image):
    resp = api.request('HEAD', '/images/' + image['id'], ADMIN)
    assert resp.status == 200
    assert len(resp.headers['x-image-meta-location'].split(', ')) == 6


def test_head_returns_the_headers_and_no_body(api, image):
    resp = api.request('HEAD', '/images/' + image['id'], USER)
    assert resp.status == 200 and resp.body == b''
    assert resp.headers['content-length'] == str(len(DATA))
    assert resp.headers['x-image-meta-checksum'] == hashlib.md5(DATA).hexdigest()


def test_download_by_image_uri(api, image):
    path = '/images?uri=' + urllib.parse.quote(image['uri'], safe='')
    resp = api.request('GET', path, USER)
    assert resp.status == 200 and resp.body == DATA


def test_image_uri_of_an_unknown_registry_is_refused(api, image):
    uri = 'http://127.0.0.2:1/images/' + image['id']
    resp = api.request('GET', '/images?uri=' + urllib.parse.quote(uri, safe=''), USER)
    assert resp.status == 400
    assert 'unknown registry' in resp.json()['error']['message']


def test_unknown_and_invisible_images_are_404(api, image):
    resp = api.request('GET', '/images/00000000-0000-0000-0000-000000000000', USER)
    assert resp.status == 404
    assert api.request('GET', '/images/' + image['id'], OTHER).status == 404


def test_queued_image_is_404_with_its_status(api):
    resp = api.request('POST', '/images', dict(USER, **{'x-image-meta-name': 'q'}))
    assert resp.status == 201 and resp.json()['image']['status'] == 'queued'
    resp = api.request('GET', '/images/' + resp.json()['image']['id'], USER)
    assert resp.status == 404
    assert 'queued' in resp.json()['error']['message']


@pytest.mark.parametrize('first,last', [
    (0, 0), (CHUNK - 10, CHUNK + 9), (CHUNK, 2 * CHUNK - 1), (100, 4 * CHUNK + 7),
    (5 * CHUNK, 5 * CHUNK + 1233), (3 * CHUNK - 1, 3 * CHUNK)])
def test_range_across_chunk_boundaries_returns_206_exact_bytes(api, image, first, last):
    resp = api.request('GET', '/images/' + image['id'],
                       dict(USER, Range='bytes=%d-%d' % (first, last)))
    assert resp.status == 206
    assert resp.body == DATA[first:last + 1]
    assert resp.headers['content-range'] == 'bytes %d-%d/%d' % (first, last, len(DATA))


def test_suffix_and_open_ranges(api, image):
    resp = api.request('GET', '/images/' + image['id'], dict(USER, Range='bytes=-1300'))
    assert resp.status == 206 and resp.body == DATA[-1300:]
    resp = api.request('GET', '/images/' + image['id'],
                       dict(USER, Range='bytes=%d-' % (2 * CHUNK + 5)))
    assert resp.status == 206 and resp.body == DATA[2 * CHUNK + 5:]


def test_unsatisfiable_range_is_416(api, image):
    resp = api.request('GET', '/images/' + image['id'],
                       dict(USER, Range='bytes=%d-' % (len(DATA) + 10)))
    assert resp.status == 416


def test_if_none_match_gives_304(api, image):
    resp = api.request('GET', '/images/' + image['id'],
                       dict(USER, **{'If-None-Match': '"%s"' % image['checksum']}))
    assert resp.status == 304 and resp.body == b''


def test_chunked_upload_becomes_active(api):
    data = random_bytes(3 * CHUNK + 17, seed=3)
    resp = api.upload(data, chunked=True)
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert image['status'] == 'active' and image['size'] == len(data)
    assert api.request('GET', '/images/' + image['id'], USER).body == data


def test_upload_over_image_size_cap_is_413_killed_and_cleaned(api, datadir, registry):
    resp = api.upload(random_bytes(1024 * 1024 + 1, seed=4), name='too-big', chunked=True)
    assert resp.status == 413
    [image] = find_images(registry, 'too-big')
    assert image['status'] == 'killed'
    assert image_files(datadir, image['id']) == []


def test_declared_length_over_the_cap_is_413_without_reading(api, datadir, registry):
    headers = dict(USER, **{'Content-Length': '2000000', 'x-image-meta-name': 'huge'})
    conn = api.connection()
    try:
        conn.request('POST', '/images', headers=headers)
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    [image] = find_images(registry, 'huge')
    assert image['status'] == 'killed'
    assert image_files(datadir, image['id']) == []


def test_interrupted_upload_kills_the_image_and_leaves_no_objects(api, datadir,
                                                                 registry):
    image_id = api.partial_upload(registry, 4 * CHUNK,
                                  random_bytes(2 * CHUNK + 100, seed=5))
    wait_for_status(registry, image_id, 'killed')
    assert image_files(datadir, image_id) == []


def test_declared_size_mismatch_is_400_and_killed(api, registry, datadir):
    resp = api.upload(DATA, name='wrong-size',
                      extra={'x-image-meta-size': str(len(DATA) + 1)})
    assert resp.status == 400
    [image] = find_images(registry, 'wrong-size')
    assert image['status'] == 'killed'
    assert image_files(datadir, image['id']) == []


@pytest.mark.parametrize('field,length', [('checksum', 32), ('sha256', 64),
                                          ('blake3', 64)])
def test_declared_digest_mismatch_is_400_and_killed(api, registry, datadir, field,
                                                    length):
    name = 'wrong-' + field
    resp = api.upload(DATA, name=name, extra={'x-image-meta-' + field: '0' * length})
    assert resp.status == 400
    assert 'x-image-meta-' + field in resp.json()['error']['message']
    [image] = find_images(registry, name)
    assert image['status'] == 'killed'
    assert image_files(datadir, image['id']) == []


def test_declared_digests_that_match_are_accepted(api):
    resp = api.upload(DATA, name='declared', extra={
        'x-image-meta-checksum': hashlib.md5(DATA).hexdigest(),
        'x-image-meta-sha256': hashlib.sha256(DATA).hexdigest().upper(),
        'x-image-meta-blake3': blake3.blake3(DATA).hexdigest().upper()})
    assert resp.status == 201, resp.body
    assert resp.json()['image']['blake3'] == blake3.blake3(DATA).hexdigest()


def test_chunk_changed_behind_the_registry_is_502_and_no_body(api, image, datadir):
    path = os.path.join(datadir, image_files(datadir, image['id'])[2])
    before = os.stat(path)
    with open(path, 'r+b') as chunk:
        chunk.write(b'changed')
    # An edit in place changes the mtime; set it explicitly rather than rely on the
    # clock having ticked since the upload.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1))
    resp = api.request('GET', '/images/' + image['id'], USER)
    assert resp.status == 502
    message = resp.json()['error']['message']
    assert image['id'] in message and 'chunk 3 of 6' in message


def test_chunk_deleted_is_502_naming_the_chunk(api, image, datadir):
    os.unlink(os.path.join(datadir, image_files(datadir, image['id'])[5]))
    for method in ('GET', 'HEAD'):
        resp = api.request(method, '/images/' + image['id'], USER)
        assert resp.status == 502
    message = api.request('GET', '/images/' + image['id'], USER).json()['error']['message']
    assert 'chunk 6 of 6 is missing' in message


def stop_reason(daemon, image_id):
    """The one line glance-api logged for stopping a download of ``image_id``."""
    def lines():
        return [line for line in daemon.read_log().splitlines()
                if 'Download of image %s ' % image_id in line]
    found = wait_until(lines, 'the log line of the stopped download of %s' % image_id)
    assert len(found) == 1 and ' stopped: ' in found[0], found
    return found[0]


def test_silent_corruption_is_a_short_read_caught_by_blake3(api, api_daemon, image,
                                                            datadir):
    assert image['blake3'] and image['sha256']
    rot_silently(os.path.join(datadir, image_files(datadir, image['id'])[4]))
    status, received, error = api.read_streaming('/images/' + image['id'])
    assert status == 200
    assert error is not None
    assert len(received) < len(DATA)
    assert 'blake3 of the streamed data' in stop_reason(api_daemon, image['id'])


def test_image_recorded_with_sha256_only_is_verified_with_sha256_then_blake3(
        api, api_daemon, registry, datadir):
    data = random_bytes(3 * CHUNK + 99, seed=9)
    paths = [os.path.join(datadir, 'sha256-only-%d' % n) for n in range(2)]
    for path, part in zip(paths, (data[:2 * CHUNK], data[2 * CHUNK:])):
        with open(path, 'wb') as out:
            out.write(part)
    sha256 = hashlib.sha256(data).hexdigest()
    resp = api.request('POST', '/images', dict(ADMIN, **{
        'x-image-meta-name': 'sha256-only', 'x-image-meta-sha256': sha256,
        'x-image-meta-location': ', '.join('file://' + path for path in paths)}))
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert (image['sha256'], image['blake3'], image['checksum']) == (sha256, None, None)
    path = '/images/' + image['id']
    first = api.request('GET', path, ADMIN)
    assert first.body == data
    assert first.headers['x-image-meta-verified'] == 'sha256'
    # The first full read, verified by sha256, recorded the BLAKE3 of what passed.
    assert registry_get(registry, image['id'])['blake3'] == \
        blake3.blake3(data).hexdigest()
    assert api.request('HEAD', path, ADMIN).headers['x-image-meta-verified'] == 'blake3'
    rot_silently(paths[0], offset=CHUNK)
    status, received, error = api.read_streaming(path, identity=ADMIN)
    assert status == 200
    assert error is not None
    assert len(received) < len(data)
    assert 'blake3 of the streamed data' in stop_reason(api_daemon, image['id'])


def test_put_data_into_a_queued_image(api):
    resp = api.request('POST', '/images', dict(USER, **{'x-image-meta-name': 'later'}))
    image_id = resp.json()['image']['id']
    data = random_bytes(CHUNK + 5, seed=6)
    resp = api.request('PUT', '/images/' + image_id,
                       dict(USER, **{'x-image-meta-property-arch': 'x86_64'}), data)
    assert resp.status == 200, resp.body
    assert resp.json()['image']['status'] == 'active'
    assert resp.json()['image']['properties'] == {'arch': 'x86_64'}
    assert api.request('GET', '/images/' + image_id, USER).body == data
    resp = api.request('PUT', '/images/' + image_id, USER, data)
    assert resp.status == 409


def test_put_without_data_updates_metadata(api, image):
    resp = api.request('PUT', '/images/' + image['id'],
                       dict(USER, **{'x-image-meta-name': 'renamed',
                                     'x-image-meta-property-extra': 'yes'}))
    assert resp.status == 200
    assert resp.json()['image']['name'] == 'renamed'
    assert resp.json()['image']['properties'] == {'os_type': 'linux', 'extra': 'yes'}


def test_read_only_and_unknown_fields_are_400(api):
    assert api.upload(b'x', extra={'x-image-meta-status': 'active'}).status == 400
    assert api.upload(b'x', extra={'x-image-meta-colour': 'red'}).status == 400


def test_delete_removes_data_then_record(api, image, datadir):
    assert api.request('DELETE', '/images/' + image['id'], OTHER).status == 404
    assert api.request('DELETE', '/images/' + image['id'], USER).status == 204
    assert image_files(datadir, image['id']) == []
    assert api.request('GET', '/images/' + image['id'], USER).status == 404


def test_a_protected_image_is_403_on_delete_until_unprotected(api, image, datadir):
    path = '/images/' + image['id']
    protect, unprotect = ({'x-image-meta-protected': flag} for flag in ('true', 'false'))
    assert api.request('PUT', path, dict(USER, **protect)).status == 200
    resp = api.request('DELETE', path, USER)
    assert resp.status == 403 and b'is protected' in resp.body
    assert api.request('GET', path, USER).status == 200
    assert api.request('PUT', path, dict(USER, **unprotect)).status == 200
    assert api.request('DELETE', path, USER).status == 204
    assert image_files(datadir, image['id']) == []


def test_admin_registers_existing_file_chunks(api, datadir):
    parts = [random_bytes(1000, seed=7), random_bytes(2000, seed=8)]
    locations = []
    for number, part in enumerate(parts):
        path = os.path.join(datadir, 'registered-%d' % number)
        with open(path, 'wb') as out:
            out.write(part)
        locations.append('file://' + path)
    headers = dict(ADMIN, **{'x-image-meta-name': 'reg',
                             'x-image-meta-location': ', '.join(locations)})
    resp = api.request('POST', '/images', headers)
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert image['status'] == 'active' and image['size'] == 3000
    assert [c['location'] for c in image['chunks']] == locations
    assert api.request('GET', '/images/' + image['id'], ADMIN).body == b''.join(parts)


def test_file_locations_are_for_admins_only(api, datadir):
    path = os.path.join(datadir, 'someone')
    with open(path, 'wb') as out:
        out.write(b'data')
    headers = dict(USER, **{'x-image-meta-location': 'file://' + path})
    assert api.request('POST', '/images', headers).status == 403


def test_locations_with_credentials_are_400(api):
    headers = dict(ADMIN, **{'x-image-meta-location': 'http://u:p@127.0.0.1:1/x'})
    resp = api.request('POST', '/images', headers)
    assert resp.status == 400
    assert 'u:p' not in resp.body.decode()


def test_wrong_method_is_405_with_allow(api):
    resp = api.request('PATCH', '/images/x', USER)
    assert resp.status == 405
    assert 'GET' in resp.headers['allow']


def test_file_registered_image_without_digests_learns_blake3_then_catches_rot(
        api, api_daemon, registry, datadir):
    # Under the daemon's image_size_cap (1 MiB), which registrations respect too.
    data = random_bytes(900 * 1024 + 77, seed=10)
    path = os.path.join(datadir, 'no-digest')
    with open(path, 'wb') as out:
        out.write(data)
    resp = api.request('POST', '/images', dict(ADMIN, **{
        'x-image-meta-name': 'no-digest', 'x-image-meta-location': 'file://' + path}))
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    url = '/images/' + image['id']
    assert api.request('HEAD', url, ADMIN).headers['x-image-meta-verified'] == 'none'
    first = api.request('GET', url, ADMIN)
    assert first.body == data and first.headers['x-image-meta-verified'] == 'none'
    assert registry_get(registry, image['id'])['blake3'] == \
        blake3.blake3(data).hexdigest()
    rot_silently(path, offset=900 * 1024 + 3)
    status, received, error = api.read_streaming(url, identity=ADMIN)
    assert status == 200 and error is not None
    assert received == data[:len(received)] and len(received) < len(data)
    assert 'blake3 of the streamed data' in stop_reason(api_daemon, image['id'])


def test_deleting_a_registered_image_never_deletes_its_objects(api, datadir):
    # Registered objects may belong to someone else (another image's chunk): only
    # the objects glance-api wrote for the image itself are deleted with it.
    path = os.path.join(datadir, 'kept-on-delete')
    with open(path, 'wb') as out:
        out.write(b'not yours to delete')
    resp = api.request('POST', '/images', dict(ADMIN, **{
        'x-image-meta-name': 'kept', 'x-image-meta-location': 'file://' + path}))
    assert resp.status == 201, resp.body
    assert api.request('DELETE', '/images/' + resp.json()['image']['id'],
                       ADMIN).status == 204
    with open(path, 'rb') as kept:
        assert kept.read() == b'not yours to delete'


def test_a_user_cannot_register_another_images_chunk(api, image, datadir):
    victim = 'file://%s/%s' % (datadir, image_files(datadir, image['id'])[0])
    resp = api.request('POST', '/images', dict(OTHER, **{
        'x-image-meta-name': 'theft', 'x-image-meta-location': victim}))
    assert resp.status == 403
    assert "glance-api's own credentials" in resp.json()['error']['message']
