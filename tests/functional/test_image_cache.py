"""Functional tests of glance-api's image cache: real glance-registry and glance-api
daemons (shipped paste ini), the real file store, and a real nginx as an http store
whose access log counts the store fetches.

Hits are told from misses by what only a hit can do: answer while the store's files
are gone.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest

from tests.data import random_bytes
from tests.functional import daemons, services
from tests.functional.test_api_images import (  # noqa: F401 (registry: fixture)
    ADMIN, OTHER, USER, Api, registry)

CHUNK = 64 * 1024
DATA = random_bytes(3 * CHUNK + 777)


def wait_until(predicate, what, timeout=30):
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError('timed out waiting for %s' % what)


class Cache:
    """The on-disk view of one daemon's cache directory."""

    def __init__(self, directory):
        self.directory = directory

    def data(self, image_id):
        return os.path.join(self.directory, 'images', image_id)

    def record(self, image_id):
        with open(self.data(image_id) + '.json') as record:
            return json.load(record)

    def has(self, image_id):
        return os.path.exists(self.data(image_id) + '.json')

    def incomplete(self):
        return os.listdir(os.path.join(self.directory, 'incomplete'))


@pytest.fixture
def datadir(tmp_path):
    path = tmp_path / 'store'
    path.mkdir()
    return str(path)


def cached_api(folder, registry, datadir, sections=None, **options):
    """Build (not start) a glance-api daemon with an image cache in ``folder``/cache.

    :param sections: more conf sections (e.g. ``store:http``).
    """
    options.setdefault('image_cache_dir', os.path.join(str(folder), 'cache'))
    options.setdefault('image_cache_max_size', '64M')
    options.setdefault('read_block_size', '32K')
    return daemons.api_daemon(
        folder, registry.url, filesystem_store_datadir=datadir,
        sections=dict({'store:file': {'filesystem_store_datadir': datadir,
                                      'chunk_size': '16K'}}, **(sections or {})),
        store_chunk_size=CHUNK, **options)


@pytest.fixture
def started(tmp_path):
    """Stop every daemon a test started, by PID."""
    running = []
    yield running
    for daemon in running:
        daemon.stop()


@pytest.fixture
def api_daemon(tmp_path, registry, datadir, started):
    daemon = cached_api(tmp_path / 'api', registry, datadir).start()
    started.append(daemon)
    return daemon


@pytest.fixture
def api(api_daemon):
    return Api(api_daemon.url)


@pytest.fixture
def cache(api_daemon):
    return Cache(api_daemon.options['image_cache_dir'])


def upload(api, data=DATA, identity=USER, **extra):
    resp = api.upload(data, identity=identity, extra=extra)
    assert resp.status == 201, resp.body
    return resp.json()['image']


def cache_counts(api):
    """glance-api's (hits, misses, evictions) cache counters, from ``/metrics``."""
    body = api.request('GET', '/metrics').body.decode()
    return tuple(float(match.group(1)) if match else 0.0 for match in (
        re.search(r'^glance_cache_%s_total (\S+)$' % name, body, re.M)
        for name in ('hits', 'misses', 'evictions')))


def remove_store_files(datadir):
    for name in os.listdir(datadir):
        os.unlink(os.path.join(datadir, name))


def test_second_download_is_a_hit_that_needs_no_store(api, cache, datadir):
    image = upload(api)
    path = '/images/' + image['id']
    first = api.request('GET', path, USER)
    assert first.status == 200 and first.body == DATA
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    remove_store_files(datadir)

    hit = api.request('GET', path, USER)
    assert hit.status == 200 and hit.body == DATA
    assert hit.headers['etag'] == first.headers['etag']
    assert hit.headers['x-image-meta-sha256'] == hashlib.sha256(DATA).hexdigest()
    assert cache.record(image['id'])['hits'] >= 1
    assert cache_counts(api) == (1, 1, 0)


def test_ranges_and_conditionals_are_answered_from_the_cache(api, cache, datadir):
    image = upload(api)
    path = '/images/' + image['id']
    etag = api.request('GET', path, USER).headers['etag']
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    remove_store_files(datadir)

    part = api.request('GET', path, dict(USER, Range='bytes=70000-150000'))
    assert part.status == 206
    assert part.body == DATA[70000:150001]
    assert part.headers['content-range'] == 'bytes 70000-150000/%d' % len(DATA)
    tail = api.request('GET', path, dict(USER, Range='bytes=-10'))
    assert tail.status == 206 and tail.body == DATA[-10:]
    assert api.request('GET', path, dict(USER, **{'If-None-Match': etag})).status == 304
    modified = part.headers['last-modified']
    assert api.request('GET', path, dict(USER, **{'If-Modified-Since': modified})).status \
        == 304
    stale = api.request('GET', path, dict(USER, **{'If-Range': '"other"',
                                                   'Range': 'bytes=0-9'}))
    assert stale.status == 200 and stale.body == DATA
    head = api.request('HEAD', path, USER)
    assert head.status == 200 and head.body == b''
    assert head.headers['content-length'] == str(len(DATA))


def test_a_private_image_in_the_cache_is_a_404_for_another_tenant(api, cache):
    image = upload(api)
    path = '/images/' + image['id']
    assert api.request('GET', path, USER).body == DATA
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    resp = api.request('GET', path, OTHER)
    assert resp.status == 404
    assert DATA[:64] not in resp.body
    assert cache.record(image['id'])['hits'] == 0


def test_a_deleted_image_is_dropped_and_not_served(api, cache):
    image = upload(api)
    path = '/images/' + image['id']
    assert api.request('GET', path, USER).status == 200
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    assert api.request('DELETE', path, USER).status == 204
    assert not os.path.exists(cache.data(image['id']))
    assert api.request('GET', path, USER).status == 404


def test_an_image_no_longer_active_is_dropped_and_not_served(api, cache, registry):
    image = upload(api)
    path = '/images/' + image['id']
    assert api.request('GET', path, USER).status == 200
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    # status is a service field: set as glance-api would (the registry runs in
    # trusted_gateway mode, where X-Service-Roles stands for a verified service token).
    resp = Api(registry.url).request(
        'PUT', path, dict(ADMIN, **{'Content-Type': 'application/json',
                                    'X-Service-Roles': 'service'}),
        json.dumps({'image': {'status': 'pending_delete'}}))
    assert resp.status == 200, resp.body
    assert api.request('GET', path, USER).status == 404
    assert not os.path.exists(cache.data(image['id']))


def test_a_changed_cache_file_is_dropped_and_refetched(api, cache):
    image = upload(api)
    path = '/images/' + image['id']
    assert api.request('GET', path, USER).body == DATA
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    before = cache.record(image['id'])
    with open(cache.data(image['id']), 'r+b') as data:
        data.write(b'X' * 100)

    resp = api.request('GET', path, USER)
    assert resp.status == 200 and resp.body == DATA
    wait_until(lambda: cache.has(image['id'])
               and cache.record(image['id'])['verified_at'] != before['verified_at'],
               'the refill to commit')
    with open(cache.data(image['id']), 'rb') as data:
        assert data.read() == DATA


def test_a_failed_fill_leaves_nothing_and_cuts_the_body_short(api, cache, datadir):
    image = upload(api)
    chunk_file = os.path.join(datadir, sorted(os.listdir(datadir))[1])
    stat = os.stat(chunk_file)
    with open(chunk_file, 'r+b') as data:
        data.write(b'corrupt!')
    # Same size, inode and mtime: the store's ETag still matches, only the digest
    # of the whole image can tell.
    os.utime(chunk_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    status, body, error = api.read_streaming('/images/' + image['id'])
    assert status == 200 and error is not None and len(body) < len(DATA)
    wait_until(lambda: not cache.incomplete(), 'the failed fill to be removed')
    assert not cache.has(image['id'])
    assert not os.path.exists(cache.data(image['id']))


def test_least_recently_used_images_are_evicted_at_the_cap(tmp_path, registry, datadir,
                                                          started):
    size = len(DATA)
    daemon = cached_api(tmp_path / 'api', registry, datadir,
                        image_cache_max_size=str(2 * size + size // 2)).start()
    started.append(daemon)
    api, cache = Api(daemon.url), Cache(daemon.options['image_cache_dir'])
    first, second, third = (upload(api, name=name) for name in ('a', 'b', 'c'))
    for image in (first, second, first):
        assert api.request('GET', '/images/' + image['id'], USER).body == DATA
        wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    assert api.request('GET', '/images/' + third['id'], USER).body == DATA
    wait_until(lambda: cache.has(third['id']), 'the third fill to commit')
    assert cache.has(first['id'])
    assert not cache.has(second['id'])
    assert cache_counts(api) == (1, 3, 1)


def test_an_image_larger_than_the_cap_streams_uncached(tmp_path, registry, datadir,
                                                       started):
    daemon = cached_api(tmp_path / 'api', registry, datadir,
                        image_cache_max_size='100K').start()
    started.append(daemon)
    api, cache = Api(daemon.url), Cache(daemon.options['image_cache_dir'])
    image = upload(api)
    assert api.request('GET', '/images/' + image['id'], USER).body == DATA
    assert not cache.has(image['id']) and not cache.incomplete()


def test_the_cache_survives_a_restart_and_cleans_stale_files(tmp_path, registry,
                                                             datadir, started):
    daemon = cached_api(tmp_path / 'api', registry, datadir).start()
    started.append(daemon)
    api, cache = Api(daemon.url), Cache(daemon.options['image_cache_dir'])
    image = upload(api)
    assert api.request('GET', '/images/' + image['id'], USER).body == DATA
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    daemon.stop()
    stale = os.path.join(cache.directory, 'incomplete', image['id'] + '.dead')
    orphan = os.path.join(cache.directory, 'images', 'orphan-without-record')
    for path in (stale, orphan):
        with open(path, 'wb') as junk:
            junk.write(b'junk')
    remove_store_files(datadir)

    again = cached_api(tmp_path / 'api', registry, datadir).start()
    started.append(again)
    resp = Api(again.url).request('GET', '/images/' + image['id'], USER)
    assert resp.status == 200 and resp.body == DATA
    assert not os.path.exists(stale) and not os.path.exists(orphan)


# -- single flight, counted in a real nginx's access log -------------------------

@pytest.fixture
def counting_nginx(tmp_path):
    log = tmp_path / 'nginx-access.log'
    service = services.NginxService(tmp_path / 'nginx', access_log=str(log))
    services.start_or_give_up(service)
    yield service, log
    service.stop()


def test_concurrent_requests_for_an_uncached_image_fetch_it_once(
        tmp_path, registry, datadir, started, counting_nginx):
    nginx, log = counting_nginx
    data = random_bytes(24 * 1024 * 1024 + 5)
    with open(os.path.join(nginx.root, 'big.img'), 'wb') as out:
        out.write(data)
    # The location is a loopback nginx: allowed explicitly, as an operator would.
    daemon = cached_api(tmp_path / 'api', registry, datadir, read_block_size='64K',
                        sections={'store:http': {'allowed_networks': '127.0.0.0/8'}}
                        ).start()
    started.append(daemon)
    api = Api(daemon.url)
    resp = api.request('POST', '/images', dict(
        USER, **{'x-image-meta-name': 'big', 'x-image-meta-location':
                 nginx.url + '/big.img',
                 'x-image-meta-sha256': hashlib.sha256(data).hexdigest()}))
    assert resp.status == 201, resp.body
    path = '/images/' + resp.json()['image']['id']

    def store_gets():
        with open(log) as lines:
            return [line for line in lines if '"GET /big.img' in line]
    # Registration reads the data once, whole, through the format inspector.
    registered = len(store_gets())

    clients = 8
    barrier = threading.Barrier(clients)
    results = [None] * clients

    def fetch(slot):
        barrier.wait()
        results[slot] = api.request('GET', path, USER)

    threads = [threading.Thread(target=fetch, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result.status == 200 and result.body == data for result in results)
    gets = store_gets()
    assert len(gets) == registered + 1, gets


def test_admin_sees_no_difference_in_headers_between_miss_and_hit(api, cache):
    image = upload(api)
    path = '/images/' + image['id']
    miss = api.request('GET', path, ADMIN)
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    hit = api.request('GET', path, ADMIN)
    ignored = {'date', 'x-request-id'}
    assert {k: v for k, v in miss.headers.items() if k not in ignored} == \
        {k: v for k, v in hit.headers.items() if k not in ignored}
    assert hit.body == miss.body == DATA


# -- management: admin API, glance-cache-manage, prefetch, audit -------------------

def cache_manage(api_daemon, *args):
    """Run bin/glance-cache-manage as an admin; return (exit status, stdout, stderr)."""
    env = dict(os.environ, GLANCE_URL=api_daemon.url, GLANCE_TENANT='ops',
               GLANCE_USER='root', GLANCE_ROLES='admin',
               PYTHONPATH=daemons.REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    done = subprocess.run([sys.executable, os.path.join(daemons.REPO, 'bin',
                                                         'glance-cache-manage')]
                          + list(args), env=env, capture_output=True, text=True,
                          timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_the_admin_api_is_for_admins_only(api):
    for method, path in (('GET', '/cache'), ('DELETE', '/cache/images'),
                         ('PUT', '/cache/queue/x'), ('DELETE', '/cache/images/x'),
                         ('POST', '/cache/images/x/verify')):
        resp = api.request(method, path, USER)
        assert resp.status == 403, (method, path)
        assert resp.json()['error']['code'] == 403


def test_list_and_delete_through_the_admin_api(api, cache):
    first, second = upload(api, name='one'), upload(api, name='two')
    for image in (first, second):
        assert api.request('GET', '/images/' + image['id'], USER).status == 200
        wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    api.request('GET', '/images/' + first['id'], USER)

    status = api.request('GET', '/cache', ADMIN).json()
    listed = {item['id']: item for item in status['cached_images']}
    assert set(listed) == {first['id'], second['id']}
    assert listed[first['id']]['hits'] == 1 and listed[second['id']]['hits'] == 0
    assert listed[first['id']]['size'] == len(DATA)
    assert status['used'] == 2 * len(DATA)

    assert api.request('DELETE', '/cache/images/' + first['id'], ADMIN).status == 204
    assert not cache.has(first['id'])
    assert api.request('DELETE', '/cache/images/' + first['id'], ADMIN).status == 404
    assert api.request('DELETE', '/cache/images', ADMIN).status == 204
    assert api.request('GET', '/cache', ADMIN).json()['cached_images'] == []


def test_queue_prefetches_with_the_command_and_list_shows_it(api_daemon, api, cache,
                                                            datadir):
    images = [upload(api, name='p%d' % index) for index in range(3)]
    code, out, err = cache_manage(api_daemon, 'queue', '--wait',
                                  *[image['id'] for image in images])
    assert code == 0, err
    code, out, err = cache_manage(api_daemon, 'list', '--json')
    assert code == 0, err
    listed = json.loads(out)
    assert {item['id'] for item in listed['cached_images']} == {
        image['id'] for image in images}
    assert listed['queued_images'] == []
    code, table, err = cache_manage(api_daemon, 'list')
    assert images[0]['id'] in table and 'Hits' in table and 'Used' in table
    remove_store_files(datadir)
    for image in images:
        assert api.request('GET', '/images/' + image['id'], USER).body == DATA


def test_queue_refuses_unknown_and_inactive_images(api_daemon, api):
    unknown = str(uuid.uuid4())
    code, out, err = cache_manage(api_daemon, 'queue', unknown)
    assert code == 1 and unknown in err and 'Traceback' not in err
    queued = api.request('POST', '/images', dict(USER, **{'x-image-meta-name': 'q'}))
    image_id = queued.json()['image']['id']
    resp = api.request('PUT', '/cache/queue/' + image_id, ADMIN)
    assert resp.status == 400 and 'queued' in resp.json()['error']['message']


def test_verify_finds_silent_corruption_and_the_image_is_fetched_again(api_daemon, api,
                                                                      cache):
    image = upload(api)
    assert api.request('GET', '/images/' + image['id'], USER).body == DATA
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    code, out, err = cache_manage(api_daemon, 'verify', image['id'])
    assert code == 0 and 'ok' in out, err

    path = cache.data(image['id'])
    stat = os.stat(path)
    with open(path, 'r+b') as data:
        data.seek(1000)
        data.write(b'bit rot')
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, out, err = cache_manage(api_daemon, 'verify', '--json', image['id'])
    assert code == 1 and json.loads(out)['result'] == 'corrupt'
    wait_until(lambda: cache.has(image['id']), 'the refetch to commit')
    with open(path, 'rb') as data:
        assert data.read() == DATA


def test_the_periodic_audit_drops_an_image_deleted_elsewhere(tmp_path, registry,
                                                            datadir, started):
    daemon = cached_api(tmp_path / 'api', registry, datadir,
                        image_cache_verify_interval=1).start()
    started.append(daemon)
    api, cache = Api(daemon.url), Cache(daemon.options['image_cache_dir'])
    image = upload(api)
    assert api.request('GET', '/images/' + image['id'], USER).body == DATA
    wait_until(lambda: cache.has(image['id']), 'the fill to commit')
    registry_api = Api(registry.url)
    assert registry_api.request('DELETE', '/images/' + image['id'],
                                ADMIN).status in (200, 204)
    wait_until(lambda: not os.path.exists(cache.data(image['id'])),
               'the audit to drop the deleted image')
