"""The pre-fork master of both daemons, as real processes (``workers`` > 1).

A worker killed with SIGKILL is replaced; SIGTERM and SIGHUP let a download in flight
finish; after SIGHUP new workers, built from the re-read conf, serve.
"""

import hashlib
import os
import signal
import time

import pytest

from tests.data import random_bytes
from tests.functional.test_api_images import USER, Api

IMAGE = random_bytes(24 * 1024 * 1024, seed=11)
# Bytes read before the signal: far from the end, whatever the socket buffers hold.
FIRST_READ = 1024 * 1024


def wait_until(condition, what, timeout=30):
    """Poll ``condition()`` until true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail('timed out waiting for %s' % what)
        time.sleep(0.05)


def exited(daemon):
    return daemon.process.poll() is not None


@pytest.fixture
def registry(make_registry):
    return make_registry()


@pytest.fixture
def api_with_image(make_api, registry):
    """A glance-api with 2 workers and one 24 MiB image in its file store."""
    daemon = make_api(registry.url, workers=2, image_size_cap='1G')
    wait_until(lambda: len(daemon.workers()) == 2, 'two workers')
    resp = Api(daemon.url).upload(IMAGE, name='big')
    assert resp.status == 201, resp.body
    return daemon, resp.json()['image']['id']


def download_with_signal(daemon, image_id, on_pause):
    """Download the image, calling ``on_pause()`` once 1 MiB has arrived."""
    status, body, error = Api(daemon.url).read_streaming(
        '/images/%s' % image_id, USER, pause_after=FIRST_READ, on_pause=on_pause)
    assert (status, error) == (200, None)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(IMAGE).hexdigest()


def log_count(daemon, text):
    return daemon.read_log().count(text)


@pytest.mark.parametrize('database', ['sqlite', 'postgresql', 'mysql'])
def test_registry_worker_killed_is_replaced_and_serving(make_registry, make_database,
                                                        database):
    registry = make_registry(make_database(database).url, workers=2)
    wait_until(lambda: len(registry.workers()) == 2, 'two workers')
    before = registry.workers()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(registry.workers()) == 2 and victim not in registry.workers(),
               'a replacement worker')
    assert len(registry.workers() - before) == 1
    api = Api(registry.url)
    created = api.request('POST', '/images', USER, b'{"image": {"name": "w"}}')
    assert created.status == 201, created.body
    # Every worker answers from its own database connection: many requests over new
    # connections spread across both workers, and each one sees the new image.
    for _ in range(20):
        listed = api.request('GET', '/images?name=w', USER)
        assert [image['name'] for image in listed.json()['images']] == ['w']


def test_api_worker_killed_is_replaced_and_serving(api_with_image):
    daemon, image_id = api_with_image
    victim = min(daemon.workers())
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(daemon.workers()) == 2 and victim not in daemon.workers(),
               'a replacement worker')
    resp = Api(daemon.url).request('GET', '/images/%s' % image_id, USER)
    assert resp.status == 200 and resp.body == IMAGE


def test_sigterm_lets_the_download_in_flight_finish(api_with_image):
    daemon, image_id = api_with_image

    def terminate():
        os.kill(daemon.pid, signal.SIGTERM)
        wait_until(lambda: log_count(daemon, 'finishing in-flight requests') == 2,
                   'both workers to start stopping')

    download_with_signal(daemon, image_id, terminate)
    wait_until(lambda: exited(daemon), 'the master to exit')
    assert daemon.process.returncode == 0
    with pytest.raises(ConnectionRefusedError):
        Api(daemon.url).request('GET', '/images/%s' % image_id, USER)


def test_sighup_finishes_the_download_and_new_workers_serve_the_new_conf(api_with_image):
    daemon, image_id = api_with_image
    old = daemon.workers()

    def reload():
        daemon.options['workers'] = 3
        daemon.write_conf()
        os.kill(daemon.pid, signal.SIGHUP)
        wait_until(lambda: len(daemon.workers() - old) == 3, 'three new workers')
        wait_until(lambda: log_count(daemon, 'finishing in-flight requests') == 2,
                   'the old workers to start stopping')
        # The idle old worker exits; the one streaming stays until it is done.
        wait_until(lambda: len(daemon.workers() & old) == 1, 'the idle old worker to exit')
        resp = Api(daemon.url).request('GET', '/images/%s' % image_id, USER)
        assert resp.status == 200 and resp.body == IMAGE

    download_with_signal(daemon, image_id, reload)
    wait_until(lambda: not daemon.workers() & old, 'the last old worker to exit')
    assert len(daemon.workers()) == 3
    assert not exited(daemon)
