"""End-to-end tests of etc/haproxy/glance-api.cfg: a real haproxy in front of two
real glance-api daemons (shipped paste ini, one shared registry and file store).

``X-Glance-Backend`` (set by the shipped config) names the server that answered.
"""

import hashlib
import http.client
import os
import signal

import pytest

from tests.data import random_bytes
from tests.functional import daemons, proxies
from tests.functional.test_api_images import (  # noqa: F401 (registry: fixture)
    USER, Api, registry)
from tests.functional.test_image_cache import wait_until

SIZE = 48 * 1024 * 1024


@pytest.fixture
def cluster(tmp_path, registry):
    """Two glance-api daemons (api1, api2) behind haproxy; yields a namespace."""
    datadir = str(tmp_path / 'store')
    os.makedirs(datadir)
    apis = {}
    for name in ('api1', 'api2'):
        # The healthcheck filter reads disable_path from the conf's [DEFAULT].
        apis[name] = daemons.api_daemon(
            tmp_path / name, registry.url, filesystem_store_datadir=datadir,
            sections={'store:file': {'filesystem_store_datadir': datadir}},
            disable_path=str(tmp_path / (name + '.disabled'))).start()
    haproxy = proxies.HAProxyService(
        [int(apis[name].url.rsplit(':', 1)[1]) for name in ('api1', 'api2')])
    try:
        haproxy.start()
    except RuntimeError as err:
        haproxy.stop()
        proxies.service_unavailable(str(err))
    front = Api(haproxy.url)
    wait_until(lambda: {front.request('GET', '/healthcheck').headers.get(
        'x-glance-backend') for _ in range(4)} <= {'api1', 'api2'}, 'haproxy to answer')
    yield type('Cluster', (), {'apis': apis, 'front': front, 'haproxy': haproxy})
    haproxy.stop()
    for daemon in apis.values():
        daemon.stop()


def upload_on_each_backend(front, data, limit=24):
    """Upload images until one is routed to each server; return {server: path}."""
    paths = {}
    for index in range(limit):
        resp = front.upload(data, name='lb-%d' % index)
        assert resp.status == 201, resp.body
        path = '/images/' + resp.json()['image']['id']
        server = front.request('HEAD', path, USER).headers['x-glance-backend']
        paths.setdefault(server, path)
        if len(paths) == 2:
            return paths
    raise AssertionError('every image went to one server: %s' % paths)


def test_downloads_work_through_haproxy_on_both_servers(cluster):
    data = random_bytes(200 * 1024 + 5)
    paths = upload_on_each_backend(cluster.front, data)
    for server, path in paths.items():
        resp = cluster.front.request('GET', path, USER)
        assert resp.status == 200 and resp.body == data
        assert resp.headers['x-glance-backend'] == server


def test_a_drained_server_gets_no_new_requests(cluster):
    data = random_bytes(100 * 1024)
    paths = upload_on_each_backend(cluster.front, data)
    open(cluster.apis['api1'].options['disable_path'], 'w').close()
    wait_until(lambda: cluster.front.request('GET', paths['api1'], USER).headers.get(
        'x-glance-backend') == 'api2', 'haproxy to drain api1')
    for path in paths.values():
        resp = cluster.front.request('GET', path, USER)
        assert resp.body == data and resp.headers['x-glance-backend'] == 'api2'
    os.unlink(cluster.apis['api1'].options['disable_path'])
    wait_until(lambda: cluster.front.request('GET', paths['api1'], USER).headers.get(
        'x-glance-backend') == 'api1', 'api1 to come back')


def test_killing_a_server_fails_only_the_downloads_in_flight_on_it(cluster):
    data = random_bytes(SIZE)
    digest = hashlib.sha256(data).hexdigest()
    paths = upload_on_each_backend(cluster.front, data)
    front = cluster.front
    inflight = []
    for server, path in sorted(paths.items()) * 2:
        conn = front.connection()
        conn.request('GET', path, headers=USER)
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader('X-Glance-Backend') == server
        inflight.append((server, conn, resp, resp.read(65536)))

    victim = cluster.apis['api1']
    victim.stop(sig=signal.SIGKILL)

    outcome = {}
    for index, (server, conn, resp, head) in enumerate(inflight):
        hasher = hashlib.sha256(head)
        try:
            while True:
                block = resp.read(1024 * 1024)
                if not block:
                    break
                hasher.update(block)
            complete = hasher.hexdigest() == digest
        except (http.client.IncompleteRead, OSError):
            complete = False
        finally:
            conn.close()
        outcome[index] = (server, complete)
    assert all(complete == (server == 'api2') for server, complete in outcome.values()), \
        outcome

    for _ in range(3):
        resp = front.request('GET', paths['api1'], USER)
        assert resp.status == 200 and resp.body == data
        assert resp.headers['x-glance-backend'] == 'api2'
