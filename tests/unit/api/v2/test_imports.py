"""The v2 ``glance-direct`` import (:mod:`glance.api.v2.imports`) in-process.

glance-api's app runs with ``import_staging_dir`` on a temp folder against the real
registry app on SQLite (as in ``test_api.py``); a second app without the option
serves no import. The ``openstack image create --import`` run against real daemons is
``tests/functional/test_openstack_cli.py``.
"""

import hashlib
import os

import pytest

from glance.api import router
from glance.middleware import context as context_filter
from tests.unit.api.memory_store import memory_stores
from tests.unit.api.test_core import registry  # noqa: F401
from tests.unit.api.v2.test_api import ALICE, BOB, _call, _create

GLANCE_DIRECT = {'method': {'name': 'glance-direct'}}


def _build(registry, **options):  # noqa: F811
    conf = dict({'registry_urls': registry.url, 'store_chunk_size': '10K',
                 'read_block_size': '4K', 'trusted_gateway': 'true',
                 'registry_trusted_gateway': 'true', 'image_size_cap': '64K'},
                **options)
    return context_filter.filter_factory(conf)(router.build_app(
        conf, stores=memory_stores(chunk_size=1024)))


@pytest.fixture(scope='module')
def staging_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('staging'))


@pytest.fixture(scope='module')
def app(registry, staging_dir):  # noqa: F811
    return _build(registry, import_staging_dir=staging_dir)


def _stage(app, image, data, headers=ALICE, **extra):
    return _call(app, 'PUT', image['self'] + '/stage', dict(headers, **extra), data)


def _import(app, image, body=GLANCE_DIRECT, headers=ALICE):
    return _call(app, 'POST', image['self'] + '/import', headers, body)


def test_info_and_create_advertise_glance_direct_only(app, registry):  # noqa: F811
    info = _call(app, 'GET', '/v2/info/import')
    assert info.status_int == 200
    assert info.json['import-methods']['value'] == ['glance-direct']
    created = _call(app, 'POST', '/v2/images', body={'name': 'x'})
    assert created.headers['OpenStack-image-import-methods'] == 'glance-direct'
    off = _build(registry)
    assert _call(off, 'GET', '/v2/info/import').json['import-methods']['value'] == []
    created = _call(off, 'POST', '/v2/images', body={'name': 'x'})
    assert 'OpenStack-image-import-methods' not in created.headers
    refused = _stage(off, created.json, b'data')
    assert refused.status_int == 404
    assert 'import_staging_dir' in refused.json['error']['message']


def test_stage_then_import_makes_the_image_active(app, staging_dir):
    image = _create(app)
    data = bytes(range(256)) * 40
    staged = _stage(app, image, data, **{'X-OpenStack-Image-Size': str(len(data))})
    assert staged.status_int == 204, staged.body
    assert _call(app, 'GET', image['self']).json['status'] == 'uploading'
    listed = _call(app, 'GET', '/v2/images?status=uploading').json['images']
    assert [found['id'] for found in listed] == [image['id']]
    assert os.listdir(staging_dir) == [image['id']]
    imported = _import(app, image)
    assert imported.status_int == 202, imported.body
    shown = _call(app, 'GET', image['self']).json
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['os_hash_value'] == hashlib.sha256(data).hexdigest()
    assert _call(app, 'GET', image['file']).body == data
    assert os.listdir(staging_dir) == []
    again = _import(app, image)
    assert again.status_int == 409 and 'active' in again.json['error']['message']


def test_stage_and_import_refusals(app, staging_dir):
    image = _create(app)
    queued = _import(app, image)                          # nothing staged
    assert queued.status_int == 409 and 'uploading' in queued.json['error']['message']
    assert _stage(app, image, b'x', **{'X-OpenStack-Image-Size': '2'}).status_int == 400
    wrong_type = _call(app, 'PUT', image['self'] + '/stage', ALICE, b'x',
                       content_type='text/plain')
    assert wrong_type.status_int == 415
    assert _stage(app, image, b'x' * (64 * 1024 + 1)).status_int == 413
    assert _stage(app, image, b'x', headers=BOB).status_int == 404   # not visible
    assert _call(app, 'POST', image['self'] + '/members', ALICE,
                 {'member': 'bob'}).status_int == 200
    assert _stage(app, image, b'x', headers=BOB).status_int == 403   # a member's
    assert _call(app, 'GET', image['self']).json['status'] == 'queued'
    assert _stage(app, image, b'first').status_int == 204
    assert _stage(app, image, b'second').status_int == 409  # uploading now
    for body in ({'method': {'name': 'web-download', 'uri': 'http://127.0.0.1/'}},
                 {'method': 'glance-direct'}, {},
                 dict(GLANCE_DIRECT, stores=['file']),
                 dict(GLANCE_DIRECT, all_stores='yes')):
        refused = _import(app, image, body)
        assert refused.status_int == 400, (body, refused.body)
    assert 'web-download' in _import(app, image, {'method': {
        'name': 'web-download'}}).json['error']['message']
    assert _import(app, image, headers=BOB).status_int == 403
    assert _import(app, image, dict(GLANCE_DIRECT, all_stores=True)).status_int == 202
    assert _call(app, 'GET', image['file']).body == b'first'
    assert os.listdir(staging_dir) == []


def test_unaccepted_data_kills_the_image_and_deleting_drops_staged_data(
        app, staging_dir):
    bad = _create(app, disk_format='qcow2')
    assert _stage(app, bad, b'not a qcow2 image').status_int == 204
    refused = _import(app, bad)
    assert refused.status_int == 400 and 'qcow2' in refused.json['error']['message']
    assert _call(app, 'GET', bad['self']).json['status'] == 'killed'
    dropped = _create(app)
    assert _stage(app, dropped, b'data').status_int == 204
    assert _call(app, 'DELETE', dropped['self']).status_int == 204
    assert os.listdir(staging_dir) == []


def test_staged_data_lost_is_a_conflict_and_the_image_can_be_deleted(app, staging_dir):
    image = _create(app)
    assert _stage(app, image, b'data').status_int == 204
    os.unlink(os.path.join(staging_dir, image['id']))   # staged on another host
    lost = _import(app, image)
    assert lost.status_int == 409 and 'no data is staged' in lost.json['error']['message']
    assert _call(app, 'GET', image['self']).json['status'] == 'uploading'
    assert _call(app, 'DELETE', image['self']).status_int == 204
