"""Unit tests of the v1 controllers through their routes, over a recording core.

The functional tests (tests/functional/test_v1_glanceclient.py) run the same
requests against the real image core, registry and python-glanceclient; here each
request's mapping onto the core's calls is pinned down.
"""

import json

import pytest
import routes
import webob

from glance.api import core as image_core
from glance.api import router
from glance.api.v1 import routes as v1_routes
from glance.common import context, exception, wsgi

IMAGE_ID = '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47'


class RecordingCore:
    """Answers like the image core from one record, and records every call."""

    options = router.ApiOptions()

    def __init__(self, **record):
        self.record = dict({'id': IMAGE_ID, 'name': 'img', 'status': 'active',
                            'size': 3, 'checksum': 'c' * 32, 'is_public': False,
                            'properties': {'a': '1'}}, **record)
        self.members_list = [{'member_id': 'p1', 'can_share': True,
                              'status': 'accepted'}]
        self.calls = []

    def _call(self, name, *args, **kwargs):
        self.calls.append((name, args, kwargs))

    def get(self, ctx, image_ref):
        self._call('get', image_ref)
        return dict(self.record)

    def list(self, ctx, **kwargs):
        self._call('list', **kwargs)
        return [dict(self.record)], None

    def reserve(self, ctx, metadata, locations=None, with_data=False):
        self._call('reserve', metadata, locations=locations, with_data=with_data)
        return dict(self.record, status='queued', **metadata)

    def upload(self, ctx, image_ref, body, content_length, metadata=None,
               after_body=None):
        self._call('upload', image_ref, body.read(), content_length, metadata=metadata)
        after_body()
        return dict(self.record)

    def register(self, ctx, image_ref, locations, metadata=None):
        self._call('register', image_ref, locations, metadata=metadata)
        return dict(self.record)

    def update(self, ctx, image_ref, metadata, purge_props=False):
        self._call('update', image_ref, metadata, purge_props=purge_props)
        return dict(self.record, **metadata)

    def delete(self, ctx, image_ref):
        self._call('delete', image_ref)

    def open_download(self, ctx, image_ref, environ):
        self._call('open_download', image_ref)
        return image_core.ImageDownload(dict(self.record), [b'abc'], 3, None)

    def members(self, ctx, image_ref):
        self._call('members', image_ref)
        return list(self.members_list)

    def add_member(self, ctx, image_ref, member, can_share=False, accepted=False):
        self._call('add_member', image_ref, member, can_share=can_share,
                   accepted=accepted)

    def replace_members(self, ctx, image_ref, memberships, accepted=False):
        self._call('replace_members', image_ref, memberships, accepted=accepted)

    def remove_member(self, ctx, image_ref, member):
        self._call('remove_member', image_ref, member)

    def shared_images(self, ctx, member):
        self._call('shared_images', member)
        return [{'image_id': IMAGE_ID, 'can_share': False, 'status': 'pending'}]


def _app(core):
    mapper = routes.Mapper()
    v1_routes.connect_routes(mapper, core)
    return wsgi.Router(mapper)


def _send(core, method, path, headers=None, body=None):
    req = webob.Request.blank(path, method=method, headers=headers or {})
    req.environ[context.WSGI_KEY] = context.RequestContext(tenant='t', user='u')
    if body is not None:
        req.body = body
    return req.get_response(_app(core))


def _calls(core, name):
    return [(args, kwargs) for called, args, kwargs in core.calls if called == name]


def test_lists_ask_for_every_membership_status_and_show_v1_fields():
    core = RecordingCore()
    detail = _send(core, 'GET', '/v1/images/detail?name=img&limit=2&marker=m'
                                '&sort_key=name&sort_dir=asc&property-a=1')
    assert detail.status_int == 200
    assert _calls(core, 'list') == [((), {
        'filters': {'name': 'img', 'properties': {'a': '1'}}, 'sort_key': 'name',
        'sort_dir': 'asc', 'limit': '2', 'marker': 'm', 'detail': True,
        'member_status': 'all'})]
    assert detail.json['images'][0]['properties'] == {'a': '1'}
    brief = _send(core, 'GET', '/v1/images')
    assert set(brief.json['images'][0]) == {'id', 'name', 'disk_format',
                                            'container_format', 'checksum', 'size'}


def test_create_with_data_reserves_then_uploads():
    core = RecordingCore()
    created = _send(core, 'POST', '/v1/images', {
        'x-image-meta-name': 'new', 'x-image-meta-size': '4',
        'x-image-meta-property-os_distro': 'cirros'}, b'data')
    assert created.status_int == 201
    assert created.headers['Location'] == 'http://localhost/v1/images/' + IMAGE_ID
    assert _calls(core, 'reserve') == [(({'name': 'new', 'size': 4,
                                          'properties': {'os_distro': 'cirros'}},),
                                        {'locations': None, 'with_data': True})]
    assert _calls(core, 'upload') == [((IMAGE_ID, b'data', 4), {'metadata': {}})]


def test_create_with_a_location_registers_it_and_without_data_stays_queued():
    core = RecordingCore()
    _send(core, 'POST', '/v1/images', {'x-image-meta-location': 'http://h/x%2Cy',
                                       'x-image-meta-id': IMAGE_ID})
    assert _calls(core, 'reserve') == [(({'id': IMAGE_ID},),
                                        {'locations': ['http://h/x,y'],
                                         'with_data': False})]
    core = RecordingCore()
    queued = _send(core, 'POST', '/v1/images', {'x-image-meta-name': 'q'})
    assert queued.json['image']['status'] == 'queued'
    assert not _calls(core, 'upload')


def test_data_and_a_location_together_are_refused_before_anything_is_reserved():
    core = RecordingCore()
    refused = _send(core, 'POST', '/v1/images', {'x-image-meta-location': 'http://h/x'},
                    b'data')
    assert refused.status_int == 400
    assert core.calls == []


@pytest.mark.parametrize('header,purge,properties', [
    (None, True, {}), ('true', True, {}), ('false', False, None)])
def test_metadata_updates_purge_properties_unless_told_not_to(header, purge, properties):
    core = RecordingCore()
    headers = {'x-image-meta-min_ram': '64'}
    if header is not None:
        headers['x-glance-registry-purge-props'] = header
    updated = _send(core, 'PUT', '/v1/images/' + IMAGE_ID, headers)
    assert updated.status_int == 200
    metadata = {'min_ram': 64}
    if properties is not None:
        metadata['properties'] = properties
    assert _calls(core, 'update') == [((IMAGE_ID, metadata), {'purge_props': purge})]


def test_data_in_an_update_goes_to_the_upload_with_its_headers():
    core = RecordingCore(status='queued')
    _send(core, 'PUT', '/v1/images/' + IMAGE_ID, {'x-image-meta-checksum': 'a' * 32},
          b'xyz')
    assert _calls(core, 'upload') == [((IMAGE_ID, b'xyz', 3),
                                       {'metadata': {'checksum': 'a' * 32}})]
    assert not _calls(core, 'update')


def test_an_update_cannot_change_the_id():
    core = RecordingCore()
    refused = _send(core, 'PUT', '/v1/images/' + IMAGE_ID,
                    {'x-image-meta-id': '1' * 8 + IMAGE_ID[8:]})
    assert refused.status_int == 400 and not _calls(core, 'update')


def test_head_shows_headers_and_a_deleted_image_is_404():
    core = RecordingCore()
    head = _send(core, 'HEAD', '/v1/images/' + IMAGE_ID)
    assert head.status_int == 200 and head.headers['x-image-meta-size'] == '3'
    assert head.headers['ETag'] == '"%s"' % ('c' * 32)
    assert head.headers['x-image-meta-property-a'] == '1'
    gone = _send(RecordingCore(status='deleted'), 'HEAD', '/v1/images/' + IMAGE_ID)
    assert gone.status_int == 404
    # glanceclient's find_resource asks for a name made of digits as an id first.
    for method in ('HEAD', 'GET', 'PUT', 'DELETE'):
        core = RecordingCore()
        assert _send(core, method, '/v1/images/2024').status_int == 404
        assert core.calls == []


def test_get_answers_the_bytes_with_the_native_download_headers():
    got = _send(RecordingCore(), 'GET', '/v1/images/' + IMAGE_ID)
    assert got.status_int == 200 and got.body == b'abc'
    assert got.headers['x-image-meta-checksum'] == 'c' * 32
    assert got.headers['Cache-Control'] == 'private'
    assert got.headers['X-Image-Meta-Verified']
    public = _send(RecordingCore(is_public=True), 'GET', '/v1/images/' + IMAGE_ID)
    assert public.headers['Cache-Control'] == 'public, max-age=60'


def test_delete_answers_200_and_wrong_methods_405():
    core = RecordingCore()
    assert _send(core, 'DELETE', '/v1/images/' + IMAGE_ID).status_int == 200
    assert _calls(core, 'delete') == [((IMAGE_ID,), {})]
    wrong = _send(core, 'POST', '/v1/images/' + IMAGE_ID)
    assert wrong.status_int == 405
    assert wrong.headers['Allow'] == 'DELETE, GET, HEAD, PUT'


def test_adding_a_member_keeps_its_can_share_unless_the_body_sets_it():
    core = RecordingCore()
    path = '/v1/images/%s/members/' % IMAGE_ID
    assert _send(core, 'PUT', path + 'p1').status_int == 204
    assert _send(core, 'PUT', path + 'p2').status_int == 204
    body = json.dumps({'member': {'can_share': False}}).encode()
    assert _send(core, 'PUT', path + 'p1', {'Content-Type': 'application/json'},
                 body).status_int == 204
    assert [args for args, _ in _calls(core, 'add_member')] == [
        (IMAGE_ID, 'p1'), (IMAGE_ID, 'p2'), (IMAGE_ID, 'p1')]
    assert [kwargs for _, kwargs in _calls(core, 'add_member')] == [
        {'can_share': True, 'accepted': True}, {'can_share': False, 'accepted': True},
        {'can_share': False, 'accepted': True}]


@pytest.mark.parametrize('path,body,call', [
    ('/members/p1', {'member': {'can_share': 'yes'}}, 'add_member'),
    ('/members/p1', {'member': {'status': 'accepted'}}, 'add_member'),
    ('/members/p1', {'x': 1}, 'add_member'),
    ('/members', {'memberships': 'p1'}, 'replace_members'),
    ('/members', {'memberships': [{'member_id': ''}]}, 'replace_members'),
    ('/members', {'memberships': [{'member_id': 'p1', 'can_share': 1}]},
     'replace_members'),
    ('/members', {'memberships': [], 'extra': 1}, 'replace_members')])
def test_a_bad_member_body_is_400(path, body, call):
    core = RecordingCore()
    refused = _send(core, 'PUT', '/v1/images/%s%s' % (IMAGE_ID, path),
                    {'Content-Type': 'application/json'}, json.dumps(body).encode())
    assert refused.status_int == 400 and not _calls(core, call)


def test_members_are_listed_replaced_shown_and_removed():
    core = RecordingCore()
    path = '/v1/images/%s/members' % IMAGE_ID
    assert _send(core, 'GET', path).json == {
        'members': [{'member_id': 'p1', 'can_share': True}]}
    body = json.dumps({'memberships': [{'member_id': 'p3'},
                                       {'member_id': 'p4', 'can_share': True}]})
    assert _send(core, 'PUT', path, {'Content-Type': 'application/json'},
                 body.encode()).status_int == 204
    assert _calls(core, 'replace_members') == [((IMAGE_ID, [
        {'member_id': 'p3', 'can_share': False},
        {'member_id': 'p4', 'can_share': True}]), {'accepted': True})]
    assert _send(core, 'GET', path + '/p1').json == {
        'member': {'member_id': 'p1', 'can_share': True}}
    missing = _send(core, 'GET', path + '/p9')
    assert missing.status_int == 404
    assert missing.json['error']['message'] == ('Project p9 is not a member of image %s'
                                                % IMAGE_ID)
    assert _send(core, 'DELETE', path + '/p1').status_int == 204
    assert _send(core, 'GET', '/v1/shared-images/p1').json == {
        'shared_images': [{'image_id': IMAGE_ID, 'can_share': False}]}


def test_core_errors_are_mapped_once():
    class Refusing(RecordingCore):
        def delete(self, ctx, image_ref):
            raise exception.Forbidden('Image %s is protected' % image_ref)
    refused = _send(Refusing(), 'DELETE', '/v1/images/' + IMAGE_ID)
    assert refused.status_int == 403 and 'protected' in refused.json['error']['message']
