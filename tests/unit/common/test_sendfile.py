"""Tests of zero-copy bodies under eventlet's real WSGI server on 127.0.0.1."""

import logging
import os

import eventlet
import eventlet.wsgi
from eventlet.green.http import client as green_client
import pytest

from glance.common import sendfile, wsgi

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / 'image'
    path.write_bytes(DATA)
    return str(path)


@pytest.fixture
def serve():
    """Serve ``app`` with eventlet.wsgi on a free loopback port; yield its port."""
    servers = []

    def start(app):
        sock = eventlet.listen(('127.0.0.1', 0))
        servers.append((sock, eventlet.spawn(
            eventlet.wsgi.server, sock, app, log=logging.getLogger('test.wsgi'),
            log_output=False)))
        return sock.getsockname()[1]
    yield start
    for sock, thread in servers:
        thread.kill()
        sock.close()


def _get(port, headers=None):
    conn = green_client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        conn.request('GET', '/', headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _app(data_file, offset, length, bodies, counted, block_size=65536):
    def app(environ, start_response):
        wrap = sendfile.file_wrapper_for(environ, block_size)
        body = wrap(open(data_file, 'rb'), offset, length)
        bodies.append(body)
        start_response('200 OK', [('Content-Length', str(length))])
        return wsgi.CountingBody(body, counted.append)
    return app


def test_whole_file_goes_out_with_sendfile_and_is_counted(serve, data_file):
    bodies, counted = [], []
    port = serve(_app(data_file, 0, len(DATA), bodies, counted))
    status, body = _get(port)
    assert status == 200 and body == DATA
    assert bodies[0].zero_copy_bytes == len(DATA) - sendfile.FIRST_BLOCK
    for _ in range(1000):
        if counted:
            break
        eventlet.sleep(0.01)
    assert counted[0].sent == len(DATA) and counted[0].complete


def test_a_range_from_an_offset_is_byte_exact(serve, data_file):
    bodies, counted = [], []
    offset, length = 1000001, 2 * 1024 * 1024 + 3
    port = serve(_app(data_file, offset, length, bodies, counted))
    status, body = _get(port)
    assert body == DATA[offset:offset + length]
    assert bodies[0].zero_copy_bytes > 0


def test_small_bodies_are_read_not_sent(serve, data_file):
    bodies, counted = [], []
    port = serve(_app(data_file, 5, 1000, bodies, counted, block_size=4096))
    assert _get(port)[1] == DATA[5:1005]
    assert bodies[0].zero_copy_bytes == 0


def test_without_a_plain_socket_blocks_are_read(data_file):
    wrap = sendfile.file_wrapper_for({'wsgi.url_scheme': 'https'}, 4096)
    body = wrap(open(data_file, 'rb'), 10, 10000)
    assert b''.join(body) == DATA[10:10010]
    assert all(len(block) <= 4096 for block in wrap(open(data_file, 'rb'), 0, 9000))
    body.close()


def test_a_file_shorter_than_announced_raises(tmp_path):
    path = tmp_path / 'short'
    path.write_bytes(b'abc')
    body = sendfile.file_wrapper_for({}, 4096)(open(path, 'rb'), 0, 10)
    with pytest.raises(IOError):
        b''.join(body)
    body.close()


def test_the_marker_is_an_empty_block_carrying_a_count():
    marker = sendfile.SentOutOfBand(123)
    assert marker == b'' and len(marker) == 0 and marker.length == 123
