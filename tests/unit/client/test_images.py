"""ImageClient over a real socket: identity, error mapping, upload checks, members."""

import hashlib
import io
import json
import socket

import pytest

from glance.client import images
from glance.common import exception
from glance.common.context import RequestContext
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
