"""ImageClient over a real socket: identity, error mapping, upload checks, members."""

import hashlib
import io
import json
import socket
import ssl
import threading

import pytest

from glance.client import images
from glance.common import exception
from glance.common.context import RequestContext
from tests.tls import CertificateAuthority
from tests.unit.client.members_app import MembersApp
from tests.unit.common.test_client import serve_wsgi


class Recorder:
    """A WSGI app that records requests and answers with a canned response."""

    def __init__(self, status='200 OK', body=b'', headers=()):
        self.status, self.body, self.headers = status, body, list(headers)
        self.environs = []
        self.bodies = []

    def __call__(self, environ, start_response):
        length = int(environ.get('CONTENT_LENGTH') or 0)
        self.bodies.append(environ['wsgi.input'].read(length) if length else b'')
        self.environs.append(environ)
        start_response(self.status, [('Content-Length', str(len(self.body)))]
                       + self.headers)
        return [self.body]


def _image_body(**image):
    return json.dumps({'image': image}).encode('utf-8')


def test_identity_and_metadata_go_with_an_upload_of_known_size():
    data = b'image-bytes' * 1000
    digest = hashlib.md5(data).hexdigest()
    app = Recorder('201 Created', _image_body(id='i1', checksum=digest))
    context = RequestContext('t1', 'u1', ['member'], auth_token='tok')
    seen = []
    with serve_wsgi(app) as url:
        image = images.ImageClient(url, context, block_size=4096).add_image(
            {'name': 'n'}, {'os': 'linux'}, io.BytesIO(data), len(data),
            lambda done, total: seen.append((done, total)))
    environ = app.environs[0]
    assert image['id'] == 'i1'
    assert (environ['REQUEST_METHOD'], environ['PATH_INFO']) == ('POST', '/images')
    assert (environ['HTTP_X_TENANT_ID'], environ['HTTP_X_USER_ID'],
            environ['HTTP_X_ROLES'], environ['HTTP_X_AUTH_TOKEN']) == (
        't1', 'u1', 'member', 'tok')
    assert environ['HTTP_X_IMAGE_META_NAME'] == 'n'
    assert environ['HTTP_X_IMAGE_META_PROPERTY_OS'] == 'linux'
    assert environ['CONTENT_LENGTH'] == str(len(data))
    assert app.bodies[0] == data
    assert seen[-1] == (len(data), len(data)) and len(seen) == 3


def test_upload_whose_recorded_checksum_differs_is_an_error():
    app = Recorder('201 Created', _image_body(id='i1', checksum='0' * 32))
    with serve_wsgi(app) as url:
        with pytest.raises(exception.ChecksumMismatch, match='recorded md5 0000'):
            images.ImageClient(url).add_image({}, data=io.BytesIO(b'abc'), size=3)


def test_update_with_purge_sends_the_purge_header_and_empty_body():
    app = Recorder(body=_image_body(id='i1'))
    with serve_wsgi(app) as url:
        images.ImageClient(url).update_image('i1', {'name': 'x'}, purge_props=True)
    environ = app.environs[0]
    assert environ['REQUEST_METHOD'] == 'PUT' and environ['PATH_INFO'] == '/images/i1'
    assert environ['HTTP_X_GLANCE_REGISTRY_PURGE_PROPS'] == 'true'
    assert environ['CONTENT_LENGTH'] == '0'


def test_update_and_delete_want_an_id_not_a_uri():
    client = images.ImageClient('http://127.0.0.1:9')
    with pytest.raises(exception.Invalid, match='give the image id'):
        client.delete_image('http://registry/images/x')


@pytest.mark.parametrize('status, cls', [('400 Bad Request', exception.Invalid),
                                         ('403 Forbidden', exception.Forbidden),
                                         ('404 Not Found', exception.NotFound),
                                         ('409 Conflict', exception.Conflict),
                                         ('413 Too Large', exception.RequestTooLarge)])
def test_client_errors_carry_the_servers_reason(status, cls):
    body = json.dumps({'error': {'message': 'because of %s' % status}}).encode()
    with serve_wsgi(Recorder(status, body)) as url:
        with pytest.raises(cls) as caught:
            images.ImageClient(url).delete_image('i1')
    assert str(caught.value) == 'because of %s' % status


def test_server_error_is_service_unavailable_naming_the_url():
    with serve_wsgi(Recorder('502 Bad Gateway', b'<html>proxy</html>')) as url:
        with pytest.raises(exception.ServiceUnavailable) as caught:
            images.ImageClient(url).get_image('i1')
    assert str(caught.value) == ('Service unavailable: glance-api at %s answered 502'
                                 % images.ImageClient(url).url)


def test_refused_connection_is_one_readable_message():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    with pytest.raises(exception.ServiceUnavailable) as caught:
        images.ImageClient('http://127.0.0.1:%d' % port).get_image('i1')
    assert str(caught.value) == ('Service unavailable: glance-api at '
                                 'http://127.0.0.1:%d refused the connection' % port)


def test_path_prefix_of_the_url_is_kept():
    app = Recorder(headers=[('x-image-meta-id', 'i1')])
    with serve_wsgi(app) as url:
        response = images.ImageClient(url + '/glance/').get_image('i 1')
        response.close()
    assert app.environs[0]['PATH_INFO'] == '/glance/images/i 1'
    assert response.metadata['id'] == 'i1'


def test_missing_ca_file_is_named():
    with pytest.raises(exception.Invalid, match='CA file /nonexistent.pem does not exist'):
        images.ImageClient('https://127.0.0.1:1', ca_file='/nonexistent.pem')


# -- Glance v1 sharing -------------------------------------------------------------------

def test_members_calls_speak_the_v1_wire_format():
    app = MembersApp('img1', 'img2')
    context = RequestContext('owner', 'u', ['member'], auth_token='tok')
    with serve_wsgi(app) as url:
        client = images.ImageClient(url, context)
        client.add_member('img1', 'tenant2')
        client.add_member('img1', 'tenant3', can_share=True)
        client.add_member('img2', 'tenant2', can_share=False)
        assert client.list_members('img1') == [
            {'member_id': 'tenant2', 'can_share': False},
            {'member_id': 'tenant3', 'can_share': True}]
        assert client.shared_images('tenant2') == [
            {'image_id': 'img1', 'can_share': False},
            {'image_id': 'img2', 'can_share': False}]
        client.delete_member('img1', 'tenant2')
        client.replace_members('img2', [{'member_id': 'tenant4', 'can_share': True}])
        assert app.images == {'img1': {'tenant3': True}, 'img2': {'tenant4': True}}
        with pytest.raises(exception.ImageNotFound, match='No image found'):
            client.list_members('missing')
    bodies = [json.loads(raw) if raw else None for _m, _p, raw, _t in app.requests[:3]]
    assert bodies == [None, {'member': {'can_share': True}},
                      {'member': {'can_share': False}}]
    assert {token for *_rest, token in app.requests} == {'tok'}


# -- TLS ---------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp('pki')
    ca = CertificateAuthority(folder)
    return {'ca': ca.cert_path, 'server': ca.issue('server'),
            'client': ca.issue('client', client=True)}


def _requiring_client_certs(pki):
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(*pki['server'])
    server.load_verify_locations(pki['ca'])
    server.verify_mode = ssl.CERT_REQUIRED
    return server


def test_client_certificate_is_presented_to_a_glance_api_that_requires_one(pki):
    app = MembersApp('img1')
    cert, key = pki['client']
    with serve_wsgi(app, _requiring_client_certs(pki)) as url:
        client = images.ImageClient(url, ca_file=pki['ca'], cert_file=cert,
                                    key_file=key, timeout=10)
        assert client.list_members('img1') == []
        with pytest.raises(exception.ServiceUnavailable) as caught:
            images.ImageClient(url, ca_file=pki['ca'], timeout=10).list_members('img1')
    assert 'glance-api at %s' % client.url in str(caught.value)


def test_tls_files_are_checked_when_the_client_is_built(pki, tmp_path):
    with pytest.raises(exception.Invalid, match='certificate file /nonexistent.pem'):
        images.ImageClient('https://127.0.0.1:1', cert_file='/nonexistent.pem')
    with pytest.raises(exception.Invalid, match='needs its certificate file'):
        images.ImageClient('https://127.0.0.1:1', key_file=pki['client'][1])
    cert, _key = pki['client']
    with pytest.raises(exception.Invalid, match='do not load'):
        images.ImageClient('https://127.0.0.1:1', cert_file=cert, key_file=pki['ca'])


# -- retries -----------------------------------------------------------------------------

class _DropsFirstConnections:
    """A socket server that closes its first ``drops`` connections without answering,
    then answers every request with ``answer``; counts the connections."""

    def __init__(self, drops, answer):
        self.drops, self.answer, self.connections = drops, answer, 0
        self.sock = socket.create_server(('127.0.0.1', 0))
        self.url = 'http://127.0.0.1:%d' % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.recv(65536)
                if self.connections > self.drops:
                    conn.sendall(self.answer)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


_IMAGE_ANSWER = (b'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nx-image-meta-id: i1\r\n'
                 b'Connection: close\r\n\r\nabc')


def test_a_get_is_resent_once_after_the_connection_drops_unanswered():
    server = _DropsFirstConnections(1, _IMAGE_ANSWER)
    try:
        download = images.ImageClient(server.url, timeout=10).download('i1',
                                                                       lambda b: None)
    finally:
        server.close()
    assert (download.size, server.connections) == (3, 2)


@pytest.mark.parametrize('call, attempts', [
    (lambda client: client.download('i1', lambda b: None), 2),
    (lambda client: client.delete_image('i1'), 1),
    (lambda client: client.add_image({'name': 'n'}, data=b'abc'), 1)])
def test_reads_are_sent_at_most_twice_and_writes_once(call, attempts):
    server = _DropsFirstConnections(2, _IMAGE_ANSWER)
    try:
        with pytest.raises(exception.ServiceUnavailable,
                           match='closed the connection without answering'):
            call(images.ImageClient(server.url, timeout=10))
    finally:
        server.close()
    assert server.connections == attempts
