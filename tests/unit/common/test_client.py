"""BaseJSONClient against a real HTTP server started in-process on 127.0.0.1.

The server is wsgiref in a thread serving a small WSGI app, so requests go through a
real socket and the real httplib2 stack; :func:`serve_wsgi` is also used by the
registry client's unit tests.
"""

import contextlib
import json
import os
import socket
import socketserver
import ssl
import subprocess
import sys
import textwrap
import threading
import wsgiref.simple_server
from concurrent import futures

import pytest

from glance.common import client, exception
from glance.common.context import RequestContext
from tests.tls import write_self_signed_certificate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


@contextlib.contextmanager
def serve_wsgi(app, ssl_context=None):
    """Serve ``app`` on 127.0.0.1 in a thread for the duration of the block.

    :param app: a WSGI application.
    :param ssl_context: a server-side :class:`ssl.SSLContext` to serve https.
    :returns: the server's base URL.
    """
    server = wsgiref.simple_server.make_server('127.0.0.1', 0, app,
                                               server_class=_ThreadingWSGIServer,
                                               handler_class=_QuietHandler)
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                              daemon=True)
    thread.start()
    try:
        yield '%s://127.0.0.1:%d' % ('https' if ssl_context else 'http',
                                     server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _json(start_response, status, data, headers=()):
    body = json.dumps(data).encode('utf-8')
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))] + list(headers))
    return [body]


def _error_body(code, message):
    return {'error': {'code': code, 'title': 'x', 'message': message}}


#: Set when the module's echo server stops: releases the requests held by ``/slow``.
_SLOW_RELEASE = threading.Event()


def echo_app(environ, start_response):
    """Answer by path: ``/echo`` repeats the request, ``/status/<n>`` fails with n."""
    path = environ['PATH_INFO']
    if path.endswith('/echo'):
        length = int(environ.get('CONTENT_LENGTH') or 0)
        body = environ['wsgi.input'].read(length) if length else b''
        headers = {key[5:].replace('_', '-').title(): value
                   for key, value in environ.items() if key.startswith('HTTP_')}
        if environ.get('CONTENT_TYPE'):
            headers['Content-Type'] = environ['CONTENT_TYPE']
        return _json(start_response, '200 OK', {
            'method': environ['REQUEST_METHOD'], 'path': path,
            'query': environ.get('QUERY_STRING', ''), 'headers': headers,
            'body': body.decode('utf-8')})
    if path == '/empty':
        start_response('204 No Content', [])
        return [b'']
    if path == '/slow':
        # Answers only when the module's tests are over: a client that gets an answer
        # before then has not timed out (no elapsed-time measurement needed).
        _SLOW_RELEASE.wait(60)
        return _json(start_response, '200 OK', {})
    if path == '/not-json':
        start_response('200 OK', [('Content-Type', 'text/html')])
        return [b'<html>hello</html>']
    if path == '/html-error':
        start_response('502 Bad Gateway', [('Content-Type', 'text/html')])
        return [b'<html>proxy at 10.0.0.1 says token=abc</html>']
    if path == '/redirect':
        start_response('302 Found', [('Location', 'http://127.0.0.1:9/echo'),
                                     ('Content-Length', '0')])
        return [b'']
    if path.startswith('/status/'):
        code = int(path.rsplit('/', 1)[1])
        return _json(start_response, '%d Something' % code,
                     _error_body(code, 'server says %d' % code))
    return _json(start_response, '404 Not Found', _error_body(404, 'no route'))


@pytest.fixture(scope='module')
def echo_url():
    with serve_wsgi(echo_app) as url:
        try:
            yield url
        finally:
            _SLOW_RELEASE.set()


@pytest.fixture
def json_client(echo_url):
    return client.BaseJSONClient(echo_url, client.HttpPool(timeout=5))


@pytest.mark.parametrize('url, expected', [
    ('http://127.0.0.1:9191', 'http://127.0.0.1:9191'),
    ('http://127.0.0.1:9191/', 'http://127.0.0.1:9191'),
    ('HTTP://LocalHost', 'http://localhost:80'),
    ('https://registry.example/', 'https://registry.example:443'),
    ('https://registry.example:443/glance/', 'https://registry.example:443/glance'),
    ('http://[::1]:9191', 'http://[::1]:9191'),
])
def test_normalize_base_url_makes_equal_urls_compare_equal(url, expected):
    assert client.normalize_base_url(url) == expected


@pytest.mark.parametrize('url, reason', [
    ('ftp://127.0.0.1', 'scheme'),
    ('http://user:secret@127.0.0.1:9191', 'user info'),
    ('http://127.0.0.1:9191?x=1', 'query'),
    ('http://127.0.0.1:9191#frag', 'query or fragment'),
    ('http://127.0.0.1:notaport', 'port'),
    ('http://', 'no host'),
    ('', 'non-empty'),
    (None, 'non-empty'),
])
def test_normalize_base_url_rejects_unusable_urls(url, reason):
    with pytest.raises(exception.Invalid) as info:
        client.normalize_base_url(url)
    assert reason in str(info.value)
    assert 'secret' not in str(info.value)


def test_encode_query_drops_none_and_spells_booleans():
    assert client.encode_query({'a': None, 'b': True, 'c': False, 'd': 3}) == \
        'b=true&c=false&d=3'
    assert client.encode_query([('k', 'a b&c'), ('k', 'x')]) == 'k=a+b%26c&k=x'


@pytest.mark.parametrize('content, expected', [
    (json.dumps(_error_body(400, ' bad sort_key ')).encode(), 'bad sort_key'),
    (json.dumps(_error_body(400, 'x' * 5000)).encode(), 'x' * 1000),
    (b'<html>oops</html>', None),
    (b'{"error": "flat"}', None),
    (b'{"error": {"message": 12}}', None),
    (b'[1, 2]', None),
    (b'\xff\xfe', None),
    (b'', None),
])
def test_server_message_trusts_only_the_json_error_shape(content, expected):
    assert client.server_message(content) == expected


def test_get_returns_status_headers_and_decoded_json(json_client):
    response = json_client.request('GET', '/echo', query={'limit': 2, 'marker': None})
    assert response.status == 200
    assert response.headers['content-type'] == 'application/json'
    assert response.data['method'] == 'GET'
    assert response.data['query'] == 'limit=2'
    assert response.data['headers']['Accept'] == 'application/json'


def test_no_content_response_has_no_data(json_client):
    response = json_client.request('DELETE', '/empty')
    assert (response.status, response.data) == (204, None)


def test_body_is_sent_as_json(json_client):
    data = json_client.request('POST', '/echo', body={'image': {'name': 'ü'}}).data
    assert data['headers']['Content-Type'] == 'application/json'
    assert json.loads(data['body']) == {'image': {'name': 'ü'}}


def test_base_url_path_prefix_is_kept(echo_url):
    prefixed = client.BaseJSONClient(echo_url + '/registry/', client.HttpPool(timeout=5))
    assert prefixed.request('GET', '/echo').data['path'] == '/registry/echo'


def test_identity_headers_come_from_the_context(json_client):
    context = RequestContext(tenant='t1', user='u1', roles=['member', 'service'],
                             auth_token='tok', request_id='req-1')
    headers = json_client.with_context(context).request('GET', '/echo').data['headers']
    assert headers['X-Tenant-Id'] == 't1'
    assert headers['X-User-Id'] == 'u1'
    assert headers['X-Roles'] == 'member'
    assert headers['X-Auth-Token'] == 'tok'
    assert headers['X-Request-Id'] == 'req-1'


def test_without_context_no_identity_is_sent(json_client):
    headers = json_client.request('GET', '/echo').data['headers']
    assert not {'X-Tenant-Id', 'X-Roles', 'X-Auth-Token'} & set(headers)


def test_extra_headers_are_sent_and_win(json_client):
    anonymous = json_client.with_context(RequestContext(tenant='t1'))
    headers = anonymous.request('PUT', '/echo', body={},
                                headers={'X-Glance-Registry-Purge-Props': 'true',
                                         'X-Tenant-Id': 't2'}).data['headers']
    assert headers['X-Glance-Registry-Purge-Props'] == 'true'
    assert headers['X-Tenant-Id'] == 't2'


def test_with_context_shares_the_pool(json_client):
    other = json_client.with_context(RequestContext(tenant='t'))
    assert other.pool is json_client.pool
    assert other.base_url == json_client.base_url
    assert type(other) is type(json_client)


@pytest.mark.parametrize('status, cls', [
    (400, exception.Invalid),
    (401, exception.Unauthorized),
    (403, exception.Forbidden),
    (404, exception.NotFound),
    (405, exception.Invalid),
    (409, exception.Conflict),
    (413, exception.RequestTooLarge),
])
def test_client_errors_map_to_typed_exceptions_with_the_server_message(
        json_client, status, cls):
    with pytest.raises(cls) as info:
        json_client.request('GET', '/status/%d' % status)
    assert type(info.value) is cls
    assert info.value.message == 'server says %d' % status


def test_not_found_class_can_be_chosen_by_the_caller(json_client):
    with pytest.raises(exception.ImageNotFound) as info:
        json_client.request('GET', '/status/404', not_found=exception.ImageNotFound)
    assert info.value.message == 'server says 404'


@pytest.mark.parametrize('status', [500, 502, 503, 504])
def test_server_errors_are_service_unavailable(json_client, status):
    with pytest.raises(exception.ServiceUnavailable) as info:
        json_client.request('GET', '/status/%d' % status)
    assert 'answered %d: server says %d' % (status, status) in info.value.message
    assert json_client.base_url in info.value.message


def test_subclass_chooses_its_unavailable_exception(echo_url):
    class RegistryJSON(client.BaseJSONClient):
        unavailable = exception.RegistryUnavailable

    with pytest.raises(exception.RegistryUnavailable) as info:
        RegistryJSON(echo_url).request('GET', '/status/503')
    assert info.value.message.startswith('Registry unavailable: ')


def test_error_body_that_is_not_json_is_not_repeated(json_client):
    with pytest.raises(exception.ServiceUnavailable) as info:
        json_client.request('GET', '/html-error')
    assert 'answered 502' in info.value.message
    assert 'token' not in info.value.message and '10.0.0.1' not in info.value.message


def test_success_that_is_not_json_is_a_failure(json_client):
    with pytest.raises(exception.ServiceUnavailable) as info:
        json_client.request('GET', '/not-json')
    assert 'not JSON' in info.value.message


def test_redirects_are_not_followed(json_client):
    with pytest.raises(exception.ServiceUnavailable) as info:
        json_client.request('GET', '/redirect')
    assert 'answered 302' in info.value.message


def test_credentials_never_reach_exception_messages(json_client):
    context = RequestContext(tenant='t', auth_token='s3cr3t-token')
    authed = json_client.with_context(context)
    for path in ('/status/400', '/status/403', '/status/500', '/html-error', '/not-json'):
        with pytest.raises(exception.GlanceException) as info:
            authed.request('GET', path)
        assert 's3cr3t' not in str(info.value) and 's3cr3t' not in repr(info.value)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_refused_connection_is_service_unavailable():
    url = 'http://127.0.0.1:%d' % _free_port()
    with pytest.raises(exception.ServiceUnavailable) as info:
        client.BaseJSONClient(url).request('GET', '/echo')
    assert info.value.message.endswith('refused the connection')


class _GarbageHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(65536)
        self.request.sendall(b'this is not HTTP\r\n\r\n')


def test_a_response_that_is_not_http_is_service_unavailable():
    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), _GarbageHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                              daemon=True)
    thread.start()
    try:
        url = 'http://127.0.0.1:%d' % server.server_address[1]
        json_client = client.BaseJSONClient(url, client.HttpPool(timeout=5))
        with pytest.raises(exception.ServiceUnavailable) as info:
            json_client.request('GET', '/')
        assert 'sent a malformed HTTP response' in info.value.message
        assert len(json_client.pool._idle) == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_slow_server_times_out(echo_url):
    slow = client.BaseJSONClient(echo_url, client.HttpPool(timeout=0.3))
    with pytest.raises(exception.ServiceUnavailable) as info:
        slow.request('GET', '/slow')
    assert 'did not answer within 0.3 s' in info.value.message


def test_pool_keeps_the_http_object_after_success_and_drops_it_after_failure(echo_url):
    pool = client.HttpPool(timeout=0.3)
    json_client = client.BaseJSONClient(echo_url, pool)
    json_client.request('GET', '/echo')
    json_client.request('GET', '/echo')
    assert len(pool._idle) == 1
    with pytest.raises(exception.ServiceUnavailable):
        json_client.request('GET', '/slow')
    assert len(pool._idle) == 0
    json_client.request('GET', '/echo')
    pool.close()
    assert len(pool._idle) == 0


def test_http_errors_still_return_the_http_object_to_the_pool(json_client):
    with pytest.raises(exception.NotFound):
        json_client.request('GET', '/status/404')
    assert len(json_client.pool._idle) == 1


@pytest.mark.parametrize('kwargs, reason', [
    ({'timeout': 0}, 'timeout'),
    ({'timeout': None}, 'timeout'),
    ({'ca_file': '/nonexistent/ca.pem'}, 'does not exist'),
])
def test_pool_rejects_bad_options(kwargs, reason):
    with pytest.raises(exception.Invalid) as info:
        client.HttpPool(**kwargs)
    assert reason in str(info.value)


def test_threads_sharing_one_client_never_mix_responses(json_client):
    def call(index):
        headers = json_client.request('GET', '/echo',
                                      headers={'X-Request-Id': 'r%d' % index}
                                      ).data['headers']
        return headers['X-Request-Id']

    with futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(200)))
    assert results == ['r%d' % index for index in range(200)]
    assert len(json_client.pool._idle) <= json_client.pool.max_idle


_GREEN_SCRIPT = textwrap.dedent('''
    import eventlet
    eventlet.monkey_patch()
    import eventlet.wsgi, json, sys
    from glance.common import client

    def app(environ, start_response):
        eventlet.sleep(0.01)  # make every request overlap with the others
        body = json.dumps({'id': environ['HTTP_X_REQUEST_ID']}).encode()
        start_response('200 OK', [('Content-Type', 'application/json'),
                                  ('Content-Length', str(len(body)))])
        return [body]

    class Quiet:
        def write(self, data):
            pass

    sock = eventlet.listen(('127.0.0.1', 0))
    eventlet.spawn(eventlet.wsgi.server, sock, app, log=Quiet())
    shared = client.BaseJSONClient('http://127.0.0.1:%d' % sock.getsockname()[1])

    def call(index):
        for _ in range(5):
            data = shared.request('GET', '/', headers={'X-Request-Id': str(index)}).data
            assert data['id'] == str(index), (data, index)
        return index

    pool = eventlet.GreenPool(50)
    done = sorted(pool.imap(call, range(50)))
    assert done == list(range(50)), done
    print('ok', len(done), len(shared.pool._idle))
''')


def test_green_threads_sharing_one_client_under_eventlet():
    result = subprocess.run([sys.executable, '-c', _GREEN_SCRIPT], cwd=REPO,
                            capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, PYTHONPATH=REPO))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith('ok 50 ')
    assert int(result.stdout.split()[2]) <= client.HttpPool().max_idle


@pytest.fixture(scope='module')
def tls_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tls')
    cert, key = write_self_signed_certificate(folder, 'server')
    other_ca, _ = write_self_signed_certificate(folder, 'other')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve_wsgi(echo_app, context) as url:
        yield url, cert, other_ca


def test_tls_with_the_right_ca_file_works(tls_server):
    url, cert, _ = tls_server
    json_client = client.BaseJSONClient(url, client.HttpPool(timeout=5, ca_file=cert))
    assert json_client.request('GET', '/echo').data['method'] == 'GET'


def test_tls_insecure_skips_verification(tls_server):
    url, _, _ = tls_server
    json_client = client.BaseJSONClient(url, client.HttpPool(timeout=5, insecure=True))
    assert json_client.request('GET', '/echo').status == 200


@pytest.mark.parametrize('ca', ['other', 'default'])
def test_tls_with_an_untrusted_certificate_fails_clearly(tls_server, ca):
    url, _, other_ca = tls_server
    pool = client.HttpPool(timeout=5, ca_file=other_ca if ca == 'other' else None)
    with pytest.raises(exception.ServiceUnavailable) as info:
        client.BaseJSONClient(url, pool).request('GET', '/echo')
    assert 'TLS certificate that could not be verified' in info.value.message
    assert 'self-signed certificate' in info.value.message
    assert 'ca_file' in info.value.message
