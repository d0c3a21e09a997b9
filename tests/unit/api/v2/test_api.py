"""The v2 API in-process over HTTP semantics the real clients do not exercise.

glance-api's app (the image core, the v2 routes) talks to the real registry app on
SQLite served in-process, in trusted-gateway mode so the test's identity headers
are believed; images live in the memory store. The clients' own behaviour is
``tests/functional/test_v2_clients.py``.
"""

import hashlib
import json

import pytest
import webob

from glance.api import router
from glance.middleware import context as context_filter
from tests.unit.api.memory_store import memory_stores
from tests.unit.nova import glance_services

ALICE = {'X-Tenant-Id': 'alice', 'X-User-Id': 'a', 'X-Roles': 'member'}
BOB = {'X-Tenant-Id': 'bob', 'X-User-Id': 'b', 'X-Roles': 'member'}
PATCH = 'application/openstack-images-v2.1-json-patch'
DATA = 'application/octet-stream'


@pytest.fixture(scope='module')
def app(tmp_path_factory):
    registry = glance_services.serve_registry(tmp_path_factory.mktemp('registry'),
                                              instance_aware_filter=False)
    conf = {'registry_urls': registry.url, 'store_chunk_size': '10K',
            'read_block_size': '4K', 'trusted_gateway': 'true',
            'registry_trusted_gateway': 'true', 'image_size_cap': '64K'}
    yield context_filter.filter_factory(conf)(router.build_app(
        conf, stores=memory_stores(chunk_size=1024)))
    registry.stop()


def _call(app, method, path, headers=ALICE, body=None, content_type=None):
    req = webob.Request.blank(path, method=method, headers=headers)
    if body is not None:
        req.body = json.dumps(body).encode() if not isinstance(body, bytes) else body
        req.content_type = content_type or (DATA if isinstance(body, bytes)
                                            else 'application/json')
    return req.get_response(app)


def _create(app, headers=ALICE, **fields):
    fields = dict({'name': 'img', 'disk_format': 'raw', 'container_format': 'bare'},
                  **fields)
    response = _call(app, 'POST', '/v2/images', headers, fields)
    assert response.status_int == 201, response.body
    return response.json


def _upload(app, image, data, headers=ALICE):
    return _call(app, 'PUT', image['file'], headers, data)


def test_create_answers_201_with_location_and_the_flat_view(app):
    response = _call(app, 'POST', '/v2/images', body={
        'name': 'flat', 'disk_format': 'raw', 'container_format': 'bare',
        'visibility': 'private', 'min_ram': 64, 'tags': ['x'], 'os_distro': 'cirros'})
    assert response.status_int == 201, response.body
    image = response.json
    assert response.location == 'http://localhost/v2/images/' + image['id']
    assert image['status'] == 'queued' and image['visibility'] == 'private'
    assert image['min_ram'] == 64 and image['tags'] == ['x']
    assert image['os_distro'] == 'cirros' and image['owner'] == 'alice'
    assert image['self'] == '/v2/images/' + image['id']
    assert _call(app, 'GET', image['self']).json == image


def test_new_images_are_shared_by_default(app):
    assert _create(app)['visibility'] == 'shared'


@pytest.mark.parametrize('body, status', [
    ({'status': 'active'}, 403), ({'size': 1}, 403), ({'self': '/x'}, 403),
    ({'location': 'http://x'}, 403), ({'os_hash_value': 'a'}, 403),
    ({'extra': 1}, 400), ({'min_disk': -1}, 400), ({'visibility': 'all'}, 400),
    ({'id': 'not-a-uuid'}, 400)])
def test_create_refuses_what_glance_refuses(app, body, status):
    response = _call(app, 'POST', '/v2/images', body=body)
    assert response.status_int == status, response.body
    assert response.json['error']['code'] == status


def test_create_with_a_chosen_id(app):
    chosen = '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47'
    assert _create(app, id=chosen.upper())['id'] == chosen
    assert _call(app, 'POST', '/v2/images', body={'id': chosen}).status_int == 409


def test_upload_download_range_and_headers(app):
    image = _create(app)
    data = bytes(range(256)) * 100
    assert _call(app, 'GET', image['file']).status_int == 204
    uploaded = _upload(app, image, data)
    assert uploaded.status_int == 204, uploaded.body
    shown = _call(app, 'GET', image['self']).json
    assert shown['os_hash_value'] == hashlib.sha256(data).hexdigest()
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    downloaded = _call(app, 'GET', image['file'])
    assert downloaded.status_int == 200 and downloaded.body == data
    assert downloaded.headers['Content-MD5'] == shown['checksum']
    assert downloaded.content_type == 'application/octet-stream'
    req = webob.Request.blank(image['file'], headers=dict(ALICE, Range='bytes=10-19'))
    partial = req.get_response(app)
    assert partial.status_int == 206 and partial.body == data[10:20]
    again = _upload(app, image, b'more')
    assert again.status_int == 409, again.body


def test_upload_checks_type_and_declared_size(app):
    image = _create(app)
    wrong_type = _call(app, 'PUT', image['file'], body=b'data',
                       content_type='application/json')
    assert wrong_type.status_int == 415
    req = webob.Request.blank(image['file'], method='PUT', headers=dict(
        ALICE, **{'X-OpenStack-Image-Size': '5', 'Content-Type': DATA}))
    req.body = b'four'
    assert req.get_response(app).status_int == 400
    assert _call(app, 'GET', image['self']).json['status'] == 'killed'
    too_big = _create(app)
    assert _upload(app, too_big, b'x' * (65 * 1024)).status_int == 413


def test_patch_media_types_and_errors(app):
    image = _create(app, kept='1')
    path = image['self']
    ops = [{'op': 'replace', 'path': '/name', 'value': 'new'}]
    plain = _call(app, 'PATCH', path, body=ops)
    assert plain.status_int == 415
    assert 'application/openstack-images-v2.1-json-patch' in plain.headers['Accept-Patch']
    patched = _call(app, 'PATCH', path, body=ops + [
        {'op': 'remove', 'path': '/kept'},
        {'op': 'add', 'path': '/added', 'value': 'v'}], content_type=PATCH)
    assert patched.status_int == 200, patched.body
    assert patched.json['name'] == 'new' and patched.json['added'] == 'v'
    assert 'kept' not in patched.json
    for bad, status in (([{'op': 'replace', 'path': '/status', 'value': 'active'}], 403),
                        ([{'op': 'remove', 'path': '/name'}], 403),
                        ([{'op': 'remove', 'path': '/missing'}], 409),
                        ([{'op': 'add', 'path': '/x', 'value': 5}], 400),
                        ({'op': 'add'}, 400)):
        answer = _call(app, 'PATCH', path, body=bad, content_type=PATCH)
        assert answer.status_int == status, (bad, answer.body)
    others = _call(app, 'PATCH', path, BOB, ops, content_type=PATCH)
    assert others.status_int == 404


def test_protected_images_cannot_be_deleted(app):
    image = _create(app, protected=True)
    assert _call(app, 'DELETE', image['self']).status_int == 403
    _call(app, 'PATCH', image['self'], body=[
        {'op': 'replace', 'path': '/protected', 'value': False}], content_type=PATCH)
    assert _call(app, 'DELETE', image['self']).status_int == 204
    assert _call(app, 'GET', image['self']).status_int == 404
    assert _call(app, 'DELETE', image['self']).status_int == 404


@pytest.mark.parametrize('path', ['/v2/images/not-a-uuid', '/v2/images/x/file',
                                  '/v2/images/x/members', '/v2/images/x/tags/t'])
def test_ids_that_are_not_uuids_are_404(app, path):
    assert _call(app, 'GET' if 'tags' not in path else 'PUT', path).status_int == 404


def test_tags(app):
    image = _create(app)
    tag_path = image['self'] + '/tags/'
    assert _call(app, 'PUT', tag_path + 'a').status_int == 204
    assert _call(app, 'PUT', tag_path + 'a').status_int == 204
    assert _call(app, 'GET', image['self']).json['tags'] == ['a']
    assert _call(app, 'DELETE', tag_path + 'a').status_int == 204
    assert _call(app, 'DELETE', tag_path + 'a').status_int == 404
    assert _call(app, 'PUT', tag_path + 'b', BOB).status_int == 404


def test_list_paging_links_and_filters(app):
    names = ['page-%d' % index for index in range(5)]
    for name in names:
        _create(app, name=name, tags=['paged'], flavour=name[-1])
    listed = _call(app, 'GET', '/v2/images?tag=paged&limit=2&sort=name:asc').json
    assert [image['name'] for image in listed['images']] == names[:2]
    assert listed['first'] == '/v2/images?tag=paged&limit=2&sort=name%3Aasc'
    assert listed['schema'] == '/v2/schemas/images'
    seen = [image['name'] for image in listed['images']]
    while 'next' in listed:
        listed = _call(app, 'GET', listed['next']).json
        seen += [image['name'] for image in listed['images']]
    assert seen == names
    by_property = _call(app, 'GET', '/v2/images?tag=paged&flavour=3').json
    assert [image['name'] for image in by_property['images']] == ['page-3']
    assert _call(app, 'GET', '/v2/images?tag=paged', BOB).json['images'] == []
    assert _call(app, 'GET', '/v2/images?os_hidden=true').json['images'] == []
    assert _call(app, 'GET', '/v2/images?sort_key=owner').status_int == 400


def test_members(app):
    image = _create(app)
    members = image['self'] + '/members'
    added = _call(app, 'POST', members, body={'member': 'bob'})
    assert added.status_int == 200, added.body
    assert added.json['status'] == 'pending' and added.json['member_id'] == 'bob'
    assert _call(app, 'POST', members, body={'member': 'bob'}).status_int == 409
    assert _call(app, 'GET', members + '/bob', BOB).json['status'] == 'pending'
    assert _call(app, 'GET', image['self'], BOB).status_int == 200
    refused = _call(app, 'PUT', members + '/bob', body={'status': 'accepted'})
    assert refused.status_int == 403, refused.body
    accepted = _call(app, 'PUT', members + '/bob', BOB, {'status': 'accepted'})
    assert accepted.status_int == 200 and accepted.json['status'] == 'accepted'
    listed = _call(app, 'GET', members).json
    assert [m['member_id'] for m in listed['members']] == ['bob']
    assert listed['schema'] == '/v2/schemas/members'
    missing = _call(app, 'GET', members + '/carol')
    assert missing.status_int == 404
    assert missing.json['error']['message'] == ('Project carol is not a member of '
                                                'image %s' % image['id'])
    assert _call(app, 'DELETE', members + '/bob').status_int == 204
    assert _call(app, 'GET', image['self'], BOB).status_int == 404
    private = _create(app, visibility='private')
    assert _call(app, 'POST', private['self'] + '/members',
                 body={'member': 'bob'}).status_int == 403
    assert _call(app, 'POST', members, body={'member': ''}).status_int == 400


@pytest.mark.parametrize('name', ['image', 'images', 'member', 'members'])
def test_schemas(app, name):
    response = _call(app, 'GET', '/v2/schemas/' + name)
    assert response.status_int == 200 and response.json['name'] == name
    assert _call(app, 'GET', '/v2/schemas/task').status_int == 404


def test_community_images_are_seen_by_id_and_listed_only_when_asked(app):
    image = _create(app, name='community-img', visibility='community')
    assert _call(app, 'GET', image['self'], BOB).status_int == 200
    listed = _call(app, 'GET', '/v2/images?name=community-img', BOB).json['images']
    assert listed == []
    asked = _call(app, 'GET', '/v2/images?name=community-img&visibility=community',
                  BOB).json['images']
    assert [found['id'] for found in asked] == [image['id']]
