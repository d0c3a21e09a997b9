"""Unit tests of the images controller's upload flow: a failed upload leaves no data.

The registry is the real registry app on SQLite, served in-process over HTTP; the
memory store (the one fake, see ``memory_store.py``) injects the store failure.
"""

import json
import urllib.request

import pytest
import webob

from glance.api import router
from glance.middleware import context as context_filter
from tests.unit.api.memory_store import memory_stores
from tests.unit.nova import glance_services

USER = {'X-Tenant-Id': 'tenant1', 'X-User-Id': 'user1', 'X-Roles': 'member'}
ADMIN = {'X-Tenant-Id': 'ops', 'X-User-Id': 'root', 'X-Roles': 'admin'}


@pytest.fixture
def registry(tmp_path):
    served = glance_services.serve_registry(tmp_path / 'registry',
                                            instance_aware_filter=False)
    yield served
    served.stop()


@pytest.fixture
def stores():
    return memory_stores(chunk_size=1024)


@pytest.fixture
def app(registry, stores):
    # Both daemons in trusted-gateway mode: glance-api believes the test's identity
    # headers and presents its service role to the registry as X-Service-Roles.
    conf = {'registry_urls': registry.url, 'store_chunk_size': '10K',
            'read_block_size': '4K', 'trusted_gateway': 'true',
            'registry_trusted_gateway': 'true'}
    return context_filter.filter_factory(conf)(router.build_app(conf, stores=stores))


def _call(app, method, path, headers, body=None):
    req = webob.Request.blank(path, method=method, headers=headers)
    if body is not None:
        req.body = body
    return req.get_response(app)


def _upload(app, data, name):
    return _call(app, 'POST', '/images', dict(USER, **{'x-image-meta-name': name}), data)


def test_an_upload_stores_its_chunks(app, stores):
    resp = _upload(app, b'x' * 25000, 'fine')
    assert resp.status_int == 201, resp.body
    assert resp.json['image']['status'] == 'active'
    assert sorted(len(data) for data in stores.default_store.objects.values()) == [
        4520, 10240, 10240]


@pytest.mark.parametrize('setup', [{'fail_write_after': 15000}, {'lose_bytes': 1}])
def test_a_store_failure_kills_the_image_and_deletes_every_chunk(app, stores, registry,
                                                                 setup):
    store = stores.default_store
    for attribute, value in setup.items():
        setattr(store, attribute, value)
    resp = _upload(app, b'y' * 25000, 'broken')
    assert resp.status_int == 502, resp.body
    assert store.objects == {}
    [image] = _registry_images(registry, 'broken')
    assert image['status'] == 'killed'


def _registry_images(registry, name):
    """The registry records (seen by an admin) of the images called ``name``."""
    request = urllib.request.Request(registry.url + '/images/detail?name=' + name,
                                     headers=ADMIN)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)['images']
