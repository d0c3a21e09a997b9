"""Tests of zero-copy bodies, served by eventlet's real WSGI server on 127.0.0.1.

The server runs in a child process (stopped by PID): importing ``eventlet.wsgi`` in
the test process would change how later tests' plain-thread servers behave.
"""

import http.client
import json
import os
import subprocess
import sys
import textwrap

import pytest

from glance.common import sendfile

DATA = os.urandom(3 * 1024 * 1024 + 17)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

_SERVER = textwrap.dedent('''
    import json, logging, sys
    import eventlet, eventlet.wsgi
    from glance.common import sendfile, wsgi

    path, offset, length, block_size = sys.argv[1], *map(int, sys.argv[2:5])
    bodies = []

    def report(counted):
        print(json.dumps({'sent': counted.sent, 'complete': counted.complete,
                          'zero_copy': bodies[-1].zero_copy_bytes}), flush=True)

    def app(environ, start_response):
        body = sendfile.file_wrapper_for(environ, block_size)(open(path, 'rb'), offset,
                                                               length)
        bodies.append(body)
        start_response('200 OK', [('Content-Length', str(length))])
        return wsgi.CountingBody(body, report)

    sock = eventlet.listen(('127.0.0.1', 0))
    print(sock.getsockname()[1], flush=True)
    eventlet.wsgi.server(sock, app, log=logging.getLogger('quiet'), log_output=False)
''')


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / 'image'
    path.write_bytes(DATA)
    return str(path)


@pytest.fixture
def serve(data_file):
    """``serve(offset, length, block_size)`` -> ``get()`` returning (body, report)."""
    processes = []

    def start(offset, length, block_size=65536):
        process = subprocess.Popen(
            [sys.executable, '-c', _SERVER, data_file, str(offset), str(length),
             str(block_size)], stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=REPO), stderr=subprocess.DEVNULL)
        processes.append(process)
        port = int(process.stdout.readline())

        def get():
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
            try:
                conn.request('GET', '/')
                resp = conn.getresponse()
                assert resp.status == 200
                body = resp.read()
            finally:
                conn.close()
            return body, json.loads(process.stdout.readline())
        return get
    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_whole_file_goes_out_with_sendfile_and_is_counted(serve):
    body, report = serve(0, len(DATA))()
    assert body == DATA
    assert report == {'sent': len(DATA), 'complete': True,
                      'zero_copy': len(DATA) - sendfile.FIRST_BLOCK}


def test_a_range_from_an_offset_is_byte_exact(serve):
    offset, length = 1000001, 2 * 1024 * 1024 + 3
    body, report = serve(offset, length)()
    assert body == DATA[offset:offset + length]
    assert report['zero_copy'] > 0 and report['sent'] == length


def test_small_bodies_are_read_not_sent(serve):
    body, report = serve(5, 1000, block_size=4096)()
    assert body == DATA[5:1005]
    assert report['zero_copy'] == 0


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
