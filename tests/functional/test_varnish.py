"""End-to-end tests of etc/varnish/glance.vcl: a real varnishd in front of real
glance-api and glance-registry daemons (shipped paste ini, file store).

A response served from Varnish's storage carries two ids in ``X-Varnish`` (the
request's and the stored object's); a fetch from glance-api carries one.
"""

import pytest

from tests.data import random_bytes
from tests.functional import daemons, proxies
from tests.functional.test_api_images import (  # noqa: F401 (registry: fixture)
    ADMIN, OTHER, USER, Api, registry)

THIRD = {'X-Tenant-Id': 'tenant3', 'X-User-Id': 'user3', 'X-Roles': 'member'}
DATA = random_bytes(300 * 1024 + 11)


@pytest.fixture(scope='module')
def api_daemon(tmp_path_factory, registry):
    daemon = daemons.api_daemon(tmp_path_factory.mktemp('api'), registry.url,
                                store_chunk_size='128K')
    yield daemon.start()
    daemon.stop()


@pytest.fixture(scope='module')
def varnish(api_daemon):
    service = proxies.VarnishService(int(api_daemon.url.rsplit(':', 1)[1]))
    try:
        service.start()
    except RuntimeError as err:
        service.stop()
        proxies.service_unavailable(str(err))
    yield Api(service.url)
    service.stop()


def is_hit(resp):
    return len(resp.headers.get('x-varnish', '').split()) == 2


def upload(varnish, public):
    extra = {'x-image-meta-is-public': 'true'} if public else {}
    resp = varnish.upload(DATA, extra=extra)
    assert resp.status == 201, resp.body
    return '/images/' + resp.json()['image']['id']


def test_the_second_fetch_of_a_public_image_is_a_varnish_hit(varnish):
    path = upload(varnish, public=True)
    first = varnish.request('GET', path, OTHER)
    assert first.status == 200 and first.body == DATA and not is_hit(first)
    assert 'public' in first.headers['cache-control']
    second = varnish.request('GET', path, THIRD)
    assert second.status == 200 and second.body == DATA
    assert is_hit(second) and 'age' in second.headers
    assert 'x-image-meta-location' not in second.headers
    part = varnish.request('GET', path, dict(USER, Range='bytes=1000-1999'))
    assert part.status == 206 and part.body == DATA[1000:2000] and is_hit(part)
    etag = first.headers['etag']
    assert varnish.request('GET', path, dict(USER, **{'If-None-Match': etag})).status \
        == 304


def test_a_private_image_is_never_served_from_varnish(varnish):
    path = upload(varnish, public=False)
    refused = varnish.request('GET', path, OTHER)
    assert refused.status == 404
    for _ in range(2):
        owner = varnish.request('GET', path, USER)
        assert owner.status == 200 and owner.body == DATA and not is_hit(owner)
        assert owner.headers['cache-control'] == 'private'
    for identity in (OTHER, THIRD, {}):
        resp = varnish.request('GET', path, identity)
        assert resp.status == 404 and not is_hit(resp)
        assert DATA[:32] not in resp.body


def test_an_admin_download_of_a_public_image_is_not_stored(varnish):
    path = upload(varnish, public=True)
    admin = varnish.request('GET', path, ADMIN)
    assert admin.status == 200 and 'x-image-meta-location' in admin.headers
    assert admin.headers['cache-control'] == 'private'
    member = varnish.request('GET', path, OTHER)
    assert member.status == 200 and not is_hit(member)
    assert 'x-image-meta-location' not in member.headers


def test_a_deleted_image_stops_being_served(varnish):
    path = upload(varnish, public=True)
    varnish.request('GET', path, OTHER)
    assert is_hit(varnish.request('GET', path, OTHER))
    assert varnish.request('DELETE', path, USER).status == 204
    gone = varnish.request('GET', path, OTHER)
    assert gone.status == 404 and not is_hit(gone)


def test_purge_from_loopback_bans_an_image(varnish):
    path = upload(varnish, public=True)
    varnish.request('GET', path, OTHER)
    assert is_hit(varnish.request('GET', path, OTHER))
    assert varnish.request('PURGE', path).status == 200
    assert not is_hit(varnish.request('GET', path, OTHER))
