"""Clients that go away mid-download, against real glance-registry and glance-api.

A download is verified by a hashing thread; when the client leaves, the server
closes the body while that thread may still be hashing a block. The thread must
end then: a daemon that kept one per aborted download would pile up threads that
never finish (under ``eventlet.monkey_patch()`` they spun on the closed pipe).
"""

import os
import socket
import time

from tests.data import random_bytes
from tests.functional.test_api_images import USER, Api

SIZE = 32 * 1024 * 1024
ABORTS = 10


def _threads(pid):
    return len(os.listdir('/proc/%d/task' % pid))


def test_aborted_downloads_leave_no_hashing_thread(make_registry, make_api):
    registry = make_registry()
    daemon = make_api(registry.url, workers=1, read_block_size='1M')
    api = Api(daemon.url, daemon)
    resp = api.upload(random_bytes(SIZE), USER, name='aborted')
    assert resp.status == 201, resp.body
    image_id = resp.json()['image']['id']
    idle = _threads(daemon.pid)
    request = ['GET /images/%s HTTP/1.1' % image_id, 'Host: %s:%d' % (api.host, api.port)]
    request += ['%s: %s' % item for item in USER.items()]
    for _ in range(ABORTS):
        with socket.create_connection((api.host, api.port), timeout=30) as sock:
            sock.sendall(('\r\n'.join(request) + '\r\n\r\n').encode('ascii'))
            head = sock.recv(65536)
            assert head.startswith(b'HTTP/1.1 200'), head[:200]
    # Every download above was cut short; each hashing thread (and BLAKE3's own
    # threads) must be gone once the server has noticed.
    deadline = time.monotonic() + 30
    while _threads(daemon.pid) > idle and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _threads(daemon.pid) <= idle
    resp = api.request('GET', '/images/' + image_id, USER)
    assert resp.status == 200 and len(resp.body) == SIZE
