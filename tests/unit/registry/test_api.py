"""The registry REST API through the real Router over in-memory SQLite."""

import urllib.parse
import uuid

import pytest

from glance.registry import api
from glance.registry.db import session
from tests.unit.registry.conftest import ENDPOINT, Caller

IMAGE_ID = '3f2a7c1e-9b8d-4e6f-a1b2-c3d4e5f6a7b8'
FULL_FIELDS = {'id', 'uri', 'name', 'status', 'is_public', 'owner', 'disk_format',
               'container_format', 'size', 'checksum', 'sha256', 'blake3', 'properties',
               'detected_format', 'virtual_size', 'visibility', 'protected', 'min_disk',
               'min_ram', 'tags', 'created_at', 'updated_at', 'deleted_at', 'deleted'}
BRIEF_FIELDS = {'id', 'uri', 'name', 'status', 'is_public', 'visibility', 'disk_format',
                'container_format', 'size', 'checksum'}


def _error(response, status):
    assert response.status_int == status, response.text
    assert response.content_type == 'application/json'
    message = response.json['error']['message']
    assert 'Traceback' not in message
    return message


def test_create_returns_201_full_record_and_location(service):
    response = service('POST', '/images', {'image': {
        'name': 'cirros', 'disk_format': 'qcow2', 'container_format': 'bare',
        'size': 12, 'checksum': 'D41D8CD98F00B204E9800998ECF8427E',
        'properties': {'os': 'linux'}}})
    assert response.status_int == 201
    image = response.json['image']
    assert set(image) == FULL_FIELDS | {'location', 'chunks'}
    assert uuid.UUID(image['id']).version == 4
    assert image['uri'] == '%s/images/%s' % (ENDPOINT, image['id'])
    assert response.headers['Location'] == image['uri']
    assert (image['status'], image['owner'], image['is_public']) == ('queued', 'alice',
                                                                     False)
    assert image['checksum'] == 'd41d8cd98f00b204e9800998ecf8427e'
    assert image['properties'] == {'os': 'linux'}
    assert image['created_at'] == image['updated_at']
    assert image['created_at'].endswith('Z') and '.' in image['created_at']
    assert (image['deleted'], image['deleted_at']) == (False, None)


def test_client_supplied_id_is_kept_lower_case_and_duplicates_conflict(alice, bob):
    image = alice.create(id=IMAGE_ID.upper())
    assert image['id'] == IMAGE_ID
    _error(bob('POST', '/images', {'image': {'id': IMAGE_ID}}), 409)


def test_deleted_image_id_cannot_be_reused(alice):
    alice.create(id=IMAGE_ID)
    assert alice('DELETE', '/images/' + IMAGE_ID).status_int == 204
    _error(alice('POST', '/images', {'image': {'id': IMAGE_ID}}), 409)


def test_show_returns_the_full_record(alice):
    image = alice.create(name='a')
    response = alice('GET', '/images/' + image['id'])
    assert response.status_int == 200
    assert response.json['image'] == image


def test_show_accepts_an_upper_case_id(alice):
    image = alice.create(id=IMAGE_ID)
    assert alice('GET', '/images/' + IMAGE_ID.upper()).json['image']['id'] == image['id']


def test_update_changes_fields_and_merges_properties(alice):
    image = alice.create(name='a', properties={'a': '1', 'b': '2'})
    response = alice('PUT', '/images/' + image['id'], {'image': {
        'name': 'b', 'properties': {'b': '3', 'c': '4'}}})
    assert response.status_int == 200
    updated = response.json['image']
    assert updated['name'] == 'b'
    assert updated['properties'] == {'a': '1', 'b': '3', 'c': '4'}
    assert updated['updated_at'] >= image['updated_at']
    assert updated['created_at'] == image['created_at']


def test_digests_are_stored_lower_case_and_cleared_with_null(service):
    image = service.create(checksum='A' * 32, sha256='B' * 64, blake3='C' * 64)
    assert (image['checksum'], image['sha256'], image['blake3']) == (
        'a' * 32, 'b' * 64, 'c' * 64)
    assert service('GET', '/images/' + image['id']).json['image']['blake3'] == 'c' * 64
    [brief] = service('GET', '/images').json['images']
    assert set(brief) == BRIEF_FIELDS
    updated = service('PUT', '/images/' + image['id'],
                      {'image': {'blake3': None}}).json['image']
    assert (updated['sha256'], updated['blake3']) == ('b' * 64, None)


def test_null_property_value_removes_the_property(alice):
    image = alice.create(properties={'a': '1', 'b': '2'})
    updated = alice('PUT', '/images/' + image['id'],
                    {'image': {'properties': {'a': None}}}).json['image']
    assert updated['properties'] == {'b': '2'}


@pytest.mark.parametrize('query, headers', [
    ('?purge_props=true', {}),
    ('?purge_props=TRUE', {}),
    ('', {'X-Glance-Registry-Purge-Props': 'true'}),
])
def test_purge_props_replaces_all_properties(alice, query, headers):
    image = alice.create(properties={'a': '1', 'b': '2'})
    response = alice('PUT', '/images/%s%s' % (image['id'], query),
                     {'image': {'properties': {'c': '3'}}}, headers=headers)
    assert response.json['image']['properties'] == {'c': '3'}


def test_purge_props_without_properties_keeps_them(alice):
    image = alice.create(properties={'a': '1'})
    response = alice('PUT', '/images/%s?purge_props=true' % image['id'],
                     {'image': {'name': 'x'}})
    assert response.json['image']['properties'] == {'a': '1'}


def test_bad_purge_props_value_is_400(alice):
    image = alice.create()
    _error(alice('PUT', '/images/%s?purge_props=maybe' % image['id'], {'image': {}}), 400)
    _error(alice('PUT', '/images/' + image['id'], {'image': {}},
                 headers={'X-Glance-Registry-Purge-Props': 'yes please'}), 400)


def test_delete_is_soft_and_hides_the_image_from_its_owner(alice, admin):
    image = alice.create(name='gone')
    response = alice('DELETE', '/images/' + image['id'])
    assert response.status_int == 204 and response.body == b''
    _error(alice('GET', '/images/' + image['id']), 404)
    _error(alice('DELETE', '/images/' + image['id']), 404)
    assert alice('GET', '/images').json['images'] == []
    deleted = admin('GET', '/images/' + image['id']).json['image']
    assert (deleted['status'], deleted['deleted']) == ('deleted', True)
    assert deleted['deleted_at'] == deleted['updated_at']
    assert admin('GET', '/images').json['images'] == []


def test_admin_delete_of_a_deleted_image_is_a_no_op(alice, admin):
    image = alice.create()
    assert admin('DELETE', '/images/' + image['id']).status_int == 204
    assert admin('DELETE', '/images/' + image['id']).status_int == 204


def test_a_deleted_image_accepts_no_change(alice, admin):
    image = alice.create()
    alice('DELETE', '/images/' + image['id'])
    message = _error(admin('PUT', '/images/' + image['id'],
                           {'image': {'name': 'revived'}}), 409)
    assert 'deleted' in message
    _error(admin('PUT', '/images/' + image['id'], {'image': {'status': 'active'}}), 403)


def test_setting_status_deleted_soft_deletes(service):
    image = service.create()
    updated = service('PUT', '/images/' + image['id'],
                    {'image': {'status': 'deleted'}}).json['image']
    assert updated['deleted'] is True and updated['deleted_at']
    _error(service('GET', '/images/' + image['id']), 404)


@pytest.mark.parametrize('path', ['queued saving active pending_delete deleted',
                                  'queued active deleted',
                                  'queued saving killed deleted',
                                  'queued killed',
                                  'queued saving saving active active',
                                  'queued pending_delete deleted',
                                  'queued killed pending_delete deleted'])
def test_valid_status_transitions(service, path):
    image = service.create()
    for status in path.split()[1:]:
        response = service('PUT', '/images/' + image['id'], {'image': {'status': status}})
        assert response.status_int == 200, (status, response.text)
        assert response.json['image']['status'] == status


@pytest.mark.parametrize('path', ['queued saving pending_delete', 'queued active saving',
                                  'queued active queued', 'queued killed active',
                                  'queued saving queued',
                                  'queued active pending_delete active'])
def test_invalid_status_transitions_are_409(service, path):
    image = service.create()
    statuses = path.split()
    for status in statuses[1:-1]:
        assert service('PUT', '/images/' + image['id'],
                     {'image': {'status': status}}).status_int == 200
    message = _error(service('PUT', '/images/' + image['id'],
                           {'image': {'status': statuses[-1]}}), 409)
    assert statuses[-2] in message and statuses[-1] in message


def test_a_failed_update_changes_nothing(service):
    image = service.create(name='before')
    service('PUT', '/images/' + image['id'], {'image': {'status': 'active'}})
    _error(service('PUT', '/images/' + image['id'],
                 {'image': {'name': 'after', 'status': 'queued'}}), 409)
    assert service('GET', '/images/' + image['id']).json['image']['name'] == 'before'


@pytest.mark.parametrize('status', ['deleted', 'pending_delete'])
def test_new_images_cannot_start_deleted(alice, status):
    _error(alice('POST', '/images', {'image': {'status': status}}), 400)


def test_new_image_may_start_active(service):
    image = service.create(status='active', size=3,
                           chunks=[{'location': 'file:///a', 'size': 3, 'checksum': 'x'}])
    assert image['status'] == 'active'


# --- visibility -------------------------------------------------------------------

def test_tenants_see_their_own_and_public_images(alice, bob, admin, anonymous):
    mine = alice.create(name='alice-private')
    public = alice.create(name='alice-public', is_public=True)
    theirs = bob.create(name='bob-private')

    def names(caller):
        return sorted(image['name'] for image in caller('GET', '/images').json['images'])

    assert names(alice) == ['alice-private', 'alice-public']
    assert names(bob) == ['alice-public', 'bob-private']
    assert names(admin) == ['alice-private', 'alice-public', 'bob-private']
    assert names(anonymous) == ['alice-public']
    _error(bob('GET', '/images/' + mine['id']), 404)
    _error(anonymous('GET', '/images/' + theirs['id']), 404)
    assert anonymous('GET', '/images/' + public['id']).status_int == 200
    assert admin('GET', '/images/' + theirs['id']).status_int == 200


def test_private_image_of_another_tenant_is_404_for_every_method(alice, bob):
    image = alice.create()
    _error(bob('PUT', '/images/' + image['id'], {'image': {'name': 'x'}}), 404)
    _error(bob('DELETE', '/images/' + image['id']), 404)


def test_changing_a_visible_image_of_another_tenant_is_403(alice, bob):
    image = alice.create(is_public=True)
    _error(bob('PUT', '/images/' + image['id'], {'image': {'name': 'mine'}}), 403)
    _error(bob('DELETE', '/images/' + image['id']), 403)


def test_admin_may_change_any_image(alice, admin):
    image = alice.create()
    response = admin('PUT', '/images/' + image['id'], {'image': {'owner': 'bob'}})
    assert response.json['image']['owner'] == 'bob'


def test_anonymous_callers_cannot_write(alice, anonymous):
    image = alice.create(is_public=True)
    _error(anonymous('POST', '/images', {'image': {'name': 'x'}}), 403)
    _error(anonymous('PUT', '/images/' + image['id'], {'image': {'name': 'x'}}), 403)
    _error(anonymous('DELETE', '/images/' + image['id']), 403)


def test_owner_defaults_to_the_caller_and_only_admins_set_another(alice, admin):
    _error(alice('POST', '/images', {'image': {'owner': 'bob'}}), 403)
    assert alice.create(owner='alice')['owner'] == 'alice'
    assert admin.create()['owner'] == 'ops'
    assert admin.create(owner='bob')['owner'] == 'bob'
    assert admin.create(owner=None)['owner'] is None
    image = alice.create()
    _error(alice('PUT', '/images/' + image['id'], {'image': {'owner': 'bob'}}), 403)


def test_locations_are_shown_and_accepted_only_for_the_service(alice, service, admin):
    chunks = [{'location': 'swift://c/o.0', 'size': 5, 'checksum': 'abc'},
              {'location': 'swift://c/o.1', 'size': 2, 'checksum': None}]
    _error(alice('POST', '/images', {'image': {'chunks': chunks}}), 403)
    _error(alice('POST', '/images', {'image': {'location': 'file:///x'}}), 403)
    image = service.create(chunks=chunks, size=7)
    assert image['chunks'] == chunks
    assert image['location'] == 'swift://c/o.0'
    for caller in (alice, admin):
        seen = caller('GET', '/images/' + image['id']).json['image']
        assert 'chunks' not in seen and 'location' not in seen
    _error(admin('POST', '/images', {'image': {'location': 'file:///x'}}), 403)
    detail = alice('GET', '/images/detail').json['images'][0]
    assert 'chunks' not in detail and 'location' not in detail
    _error(alice('PUT', '/images/' + image['id'], {'image': {'chunks': []}}), 403)


def test_detected_format_and_virtual_size_are_set_by_the_service_only(alice, service):
    _error(alice('POST', '/images', {'image': {'detected_format': 'raw'}}), 403)
    image = alice.create()
    _error(alice('PUT', '/images/' + image['id'], {'image': {'virtual_size': 1}}), 403)
    response = service('PUT', '/images/' + image['id'], {'image': {
        'detected_format': 'qcow2', 'virtual_size': 10 * 1024 ** 3}})
    assert response.status_int == 200, response.text
    seen = alice('GET', '/images/' + image['id']).json['image']
    assert (seen['detected_format'], seen['virtual_size']) == ('qcow2', 10 * 1024 ** 3)
    assert 'virtual_size' in _error(service('PUT', '/images/' + image['id'], {
        'image': {'virtual_size': -1}}), 400)


def test_update_replaces_the_chunk_list(service):
    image = service.create(chunks=[{'location': 'file:///%d' % i} for i in range(3)])
    for chunks in ([{'location': 'file:///b', 'size': 1}],
                   [{'location': 'file:///c'}, {'location': 'file:///d'}], []):
        response = service('PUT', '/images/' + image['id'], {'image': {'chunks': chunks}})
        assert [chunk['location'] for chunk in response.json['image']['chunks']] == [
            chunk['location'] for chunk in chunks]


def test_location_is_shorthand_for_a_single_chunk(service):
    image = service.create(location='http://example.com/a.img', size=9)
    assert image['chunks'] == [{'location': 'http://example.com/a.img', 'size': 9,
                                'checksum': None}]
    cleared = service('PUT', '/images/' + image['id'], {'image': {'location': None}})
    assert cleared.json['image']['chunks'] == []
    assert cleared.json['image']['location'] is None


def test_location_must_agree_with_chunks(service):
    _error(service('POST', '/images', {'image': {
        'location': 'file:///b', 'chunks': [{'location': 'file:///a'}]}}), 400)
    image = service.create(location='file:///a', chunks=[{'location': 'file:///a'}])
    assert image['location'] == 'file:///a'


# --- lists --------------------------------------------------------------------------

def test_brief_and_detail_lists(alice):
    alice.create(name='a', properties={'k': 'v'})
    brief = alice('GET', '/images').json
    assert set(brief) == {'images'}
    assert set(brief['images'][0]) == BRIEF_FIELDS
    detail = alice('GET', '/images/detail').json['images'][0]
    assert set(detail) == FULL_FIELDS
    assert detail['properties'] == {'k': 'v'}


def test_default_order_is_newest_first(alice):
    ids = [alice.create(name=str(index))['id'] for index in range(3)]
    assert [image['id'] for image in alice('GET', '/images').json['images']] == ids[::-1]


def test_limit_defaults_and_is_capped(alice):
    for index in range(55):
        alice.create(name='img-%02d' % index)
    assert len(alice('GET', '/images').json['images']) == 5
    assert len(alice('GET', '/images?limit=1000').json['images']) == 50


def test_next_link_walks_every_page_without_duplicates(alice):
    names = ['n%02d' % index for index in range(12)]
    for name in names:
        alice.create(name=name, is_public=True)
    seen, url, pages = [], '/images?sort_key=name&sort_dir=asc&limit=5', 0
    while url and pages < 10:
        body = alice('GET', url).json
        seen += [image['name'] for image in body['images']]
        pages += 1
        url = body.get('next')
        if url:
            assert url.startswith(ENDPOINT + '/images?')
            parts = urllib.parse.urlsplit(url)
            url = parts.path + '?' + parts.query
    assert seen == names
    assert pages == 3


def test_exact_page_has_no_next_link(alice):
    for index in range(5):
        alice.create(name=str(index))
    body = alice('GET', '/images?limit=5').json
    assert len(body['images']) == 5 and 'next' not in body


def test_next_link_keeps_the_filters(alice):
    for index in range(3):
        alice.create(name='same', disk_format='raw')
    body = alice('GET', '/images/detail?name=same&disk_format=raw&limit=2').json
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(body['next']).query)
    assert urllib.parse.urlsplit(body['next']).path == '/images/detail'
    assert query == {'name': ['same'], 'disk_format': ['raw'], 'limit': ['2'],
                     'marker': [body['images'][-1]['id']]}


def test_next_link_uses_the_request_host_without_public_endpoint(database):
    caller = Caller(api.build_app(database, api.RegistryOptions()), 'alice')
    for _ in range(2):
        caller.create()
    body = caller('GET', '/images?limit=1').json
    assert body['next'].startswith('http://localhost/images?')
    assert body['images'][0]['uri'].startswith('http://localhost/images/')


def test_filters(alice, bob, service):
    service.create(name='a', status='active', disk_format='raw', container_format='bare',
                 size=10, is_public=True, properties={'os': 'linux', 'arch': 'x86'})
    service.create(name='b', disk_format='qcow2', container_format='ovf', size=100,
                   properties={'os': 'linux', 'arch': 'arm'})
    alice.create(name='c', properties={'os': 'bsd'})
    Caller(bob.app, 'bob', ('member', 'service'), can_publish=True).create(
        name='d', is_public=True, size=50)

    def names(query):
        response = alice('GET', '/images?sort_key=name&sort_dir=asc&' + query)
        assert response.status_int == 200, response.text
        return [image['name'] for image in response.json['images']]

    assert names('name=a') == ['a']
    assert names('status=active') == ['a']
    assert names('status=queued') == ['b', 'c', 'd']
    assert names('disk_format=qcow2') == ['b']
    assert names('container_format=bare') == ['a']
    assert names('is_public=true') == ['a', 'd']
    assert names('is_public=false') == ['b', 'c']
    assert names('owner=bob') == ['d']
    assert names('size_min=50') == ['b', 'd']
    assert names('size_max=50') == ['a', 'd']
    assert names('size_min=11&size_max=99') == ['d']
    assert names('property-os=linux') == ['a', 'b']
    assert names('property-os=linux&property-arch=arm') == ['b']
    assert names('property-os=Linux') == []
    assert names('property-nope=linux') == []
    assert names('name=a&is_public=false') == []


def test_changes_since_filter(alice):
    old = alice.create(name='old')
    since = old['updated_at']
    new = alice.create(name='new')
    assert new['updated_at'] >= since

    def names(value):
        response = alice('GET', '/images?sort_key=name&changes-since='
                         + urllib.parse.quote(value))
        assert response.status_int == 200, response.text
        return {image['name'] for image in response.json['images']}

    assert names(since) == {'old', 'new'}
    assert names(new['updated_at']) == {'new'}
    assert names('2999-01-01T00:00:00Z') == set()
    assert names('2999-01-01T00:00:00+02:00') == set()
    assert names('2000-01-01') == {'old', 'new'}


def test_property_filter_matches_long_values_exactly(alice):
    long_value = 'x' * 300
    alice.create(name='long', properties={'blob': long_value})
    alice.create(name='prefix', properties={'blob': long_value[:255] + 'y' * 45})
    response = alice('GET', '/images?property-blob=' + long_value)
    assert [image['name'] for image in response.json['images']] == ['long']


@pytest.mark.parametrize('sort_key', ['name', 'status', 'container_format',
                                      'disk_format', 'size', 'id', 'created_at',
                                      'updated_at'])
@pytest.mark.parametrize('sort_dir', ['asc', 'desc'])
def test_every_sort_key_pages_through_ties_and_nulls(service, sort_key, sort_dir):
    alice = service
    values = [None, 'b', 'a', 'b', None, 'a', 'c']
    sizes = [None, 2, 1, 2, None, 1, 3]
    for index, (value, size) in enumerate(zip(values, sizes)):
        alice.create(name=value, disk_format=value, container_format=value, size=size,
                     status='active' if index % 2 else 'queued')
    url, walked = '/images?limit=2&sort_key=%s&sort_dir=%s' % (sort_key, sort_dir), []
    for _ in range(10):
        body = alice('GET', url).json
        walked += body['images']
        if 'next' not in body:
            break
        url = body['next'][len(ENDPOINT):]
    everything = alice('GET', '/images?limit=50&sort_key=%s&sort_dir=%s'
                       % (sort_key, sort_dir)).json['images']
    assert [image['id'] for image in walked] == [image['id'] for image in everything]
    assert len({image['id'] for image in walked}) == len(values)
    # SQLite sorts NULL below every value; ties are broken by id in the same direction.
    detail = {image['id']: image for image in
              alice('GET', '/images/detail?limit=50').json['images']}

    def key(image_id):
        value = detail[image_id][sort_key]
        return (value is not None, value if value is not None else 0, image_id)

    expected = sorted(detail, key=key, reverse=sort_dir == 'desc')
    assert [image['id'] for image in walked] == expected


def test_deleted_marker_still_pages(alice):
    ids = [alice.create(name='n%d' % index)['id'] for index in range(4)]
    first = alice('GET', '/images?sort_key=name&sort_dir=asc&limit=2').json
    assert [image['id'] for image in first['images']] == ids[:2]
    alice('DELETE', '/images/' + ids[1])
    rest = alice('GET', first['next'][len(ENDPOINT):]).json
    assert [image['id'] for image in rest['images']] == ids[2:]


def test_marker_must_be_a_visible_image(alice, bob):
    hidden = bob.create()
    message = _error(alice('GET', '/images?marker=' + hidden['id']), 400)
    assert hidden['id'] in message
    _error(alice('GET', '/images?marker=' + str(uuid.uuid4())), 400)


# --- bad input: always 400 with a reason, never 500 ----------------------------------

@pytest.mark.parametrize('raw', [
    b'', b'{', b'[]', b'"image"', b'{"image": []}', b'{"image": {}, "extra": 1}',
    b'{"images": {}}', b'\xff\xfe{}', b'{"image": {"name": "\xe9"}}',
    b'{"image": {"name": "a"}} trailing',
])
def test_malformed_bodies_are_400(alice, raw):
    _error(alice('POST', '/images', raw=raw), 400)


@pytest.mark.parametrize('fields', [
    {'size': 'abc'}, {'size': -1}, {'size': 1.5}, {'size': True}, {'size': 2 ** 63},
    {'is_public': 'maybe'}, {'is_public': 'true'}, {'is_public': 1},
    {'name': 5}, {'name': 'x' * 256}, {'name': 'tab\there'}, {'name': 'nul\x00'},
    {'name': 'del\x7f'}, {'name': 'c1\x85'}, {'name': '\ud800'},
    {'status': 'sleeping'}, {'status': None},
    {'owner': ['a']}, {'owner': 'x' * 256},
    {'disk_format': 'x' * 65}, {'container_format': 7},
    {'checksum': 'abc'}, {'checksum': 'g' * 32}, {'sha256': 'a' * 63},
    {'blake3': 'a' * 63}, {'blake3': 'a' * 65}, {'blake3': 'g' * 64}, {'blake3': 7},
    {'id': 'not-a-uuid'}, {'id': 'a' * 32}, {'id': 7},
    {'properties': []}, {'properties': {'k': 5}}, {'properties': {'': 'v'}},
    {'properties': {'k' * 256: 'v'}}, {'properties': {'k': 'v' * 65536}},
    {'properties': {'bad\nkey': 'v'}}, {'properties': {'k': 'bad\x01value'}},
    {'properties': {' padded': 'v'}}, {'properties': {'padded ': 'v'}},
    {'unknown': 1}, {'uri': 'http://x'}, {'created_at': 'now'}, {'deleted': True},
    {'deleted_at': None}, {'updated_at': None},
])
def test_bad_fields_are_400_on_create(alice, fields):
    _error(alice('POST', '/images', {'image': fields}), 400)


@pytest.mark.parametrize('chunks', [
    'file:///a', [None], ['file:///a'], [{}], [{'location': None}],
    [{'location': 'file:///a', 'size': 'big'}], [{'location': 'file:///a', 'x': 1}],
    [{'location': 'f' * 2049}], [{'location': 'file:///a', 'checksum': 5}],
    [{'location': 'file:///\x00'}],
])
def test_bad_chunks_are_400(service, chunks):
    _error(service('POST', '/images', {'image': {'chunks': chunks}}), 400)


def test_too_many_chunks_is_400(service):
    chunks = [{'location': 'f'}] * 10001
    _error(service('POST', '/images', {'image': {'chunks': chunks}}), 400)


def test_bad_fields_are_400_on_update(alice):
    image = alice.create()
    for fields in ({'size': 'abc'}, {'id': IMAGE_ID}, {'uri': 'x'}, {'nope': 1}):
        _error(alice('PUT', '/images/' + image['id'], {'image': fields}), 400)
    unchanged = alice('PUT', '/images/' + image['id'], {'image': {'id': image['id']}})
    assert unchanged.status_int == 200


def test_largest_values_are_accepted(alice):
    name = '\U0001F600' * 255
    value = '\u00e9\U0001F600' * 32767
    image = alice.create(name=name, properties={'k' * 255: value})
    stored = alice('GET', '/images/' + image['id']).json['image']
    assert stored['name'] == name
    assert stored['properties'] == {'k' * 255: value}


def test_property_keys_are_case_sensitive(alice):
    image = alice.create(properties={'Key': '1', 'key': '2'})
    assert image['properties'] == {'Key': '1', 'key': '2'}


def test_deeply_nested_json_is_400(alice):
    _error(alice('POST', '/images', raw=b'{"image": ' + b'[' * 100000), 400)


def test_oversized_body_is_413(alice):
    raw = b'{"image": {"name": "' + b'x' * (1024 * 1024) + b'"}}'
    _error(alice('POST', '/images', raw=raw), 413)


@pytest.mark.parametrize('query', [
    'sort_key=owner', 'sort_key=', 'sort_dir=up', 'limit=0', 'limit=-1', 'limit=abc',
    'limit=1.5', 'limit=%2B5', 'limit=%201', 'marker=nope', 'marker=',
    'is_public=maybe', 'is_public=', 'size_min=abc', 'size_max=-5',
    'size_min=99999999999999999999', 'status=sleeping', 'changes-since=yesterday',
    'changes-since=9999-12-31T23:59:59-23:59', 'changes-since=0001-01-01T00:00+01:00',
    'changes-since=', 'name=' + 'x' * 256, 'name=%00', 'property-=v',
    'property-k=%01', 'property-%20k=v', 'unknown=1', 'name=a&name=b',
    'name=%FF', '%FF=1', 'nova_installation_uuid=%s&instance_id=1' % IMAGE_ID,
])
def test_bad_list_queries_are_400(alice, query):
    _error(alice('GET', '/images?' + query), 400)
    _error(alice('GET', '/images/detail?' + query), 400)


def test_unknown_query_parameters_are_400_on_single_image_routes(alice):
    image = alice.create()
    _error(alice('GET', '/images/%s?x=1' % image['id']), 400)
    _error(alice('DELETE', '/images/%s?x=1' % image['id']), 400)
    _error(alice('PUT', '/images/%s?x=1' % image['id'], {'image': {}}), 400)
    _error(alice('POST', '/images?x=1', {'image': {}}), 400)
    _error(alice('GET', '/images/%s?%%FF=1' % image['id']), 400)


# --- routing ------------------------------------------------------------------------

@pytest.mark.parametrize('path', ['/', '/image', '/images/not-a-uuid', '/images/detail/x',
                                  '/images/%s/x' % IMAGE_ID, '/versions/v1'])
def test_unknown_paths_are_404(alice, path):
    _error(alice('GET', path), 404)


@pytest.mark.parametrize('path', ['/images/%s%%0A' % IMAGE_ID, '/images/%FF',
                                  '/images%00', '/images?name=%zz', '/images?name=%E2%82'])
def test_malformed_paths_and_query_strings_are_400(alice, path):
    _error(alice('GET', path), 400)


def test_missing_image_is_404(alice):
    message = _error(alice('GET', '/images/' + IMAGE_ID), 404)
    assert IMAGE_ID in message
    _error(alice('PUT', '/images/' + IMAGE_ID, {'image': {}}), 404)
    _error(alice('DELETE', '/images/' + IMAGE_ID), 404)


@pytest.mark.parametrize('method, path, allow', [
    ('DELETE', '/images', 'GET, HEAD, POST'),
    ('PUT', '/images', 'GET, HEAD, POST'),
    ('POST', '/images/detail', 'GET, HEAD'),
    ('PUT', '/images/detail', 'GET, HEAD'),
    ('POST', '/images/' + IMAGE_ID, 'DELETE, GET, HEAD, PUT'),
    ('POST', '/versions', 'GET, HEAD'),
])
def test_wrong_methods_are_405_with_allow(alice, method, path, allow):
    response = alice(method, path)
    _error(response, 405)
    assert response.headers['Allow'] == allow


def test_head_answers_like_get_without_a_body(alice):
    image = alice.create()
    response = alice('HEAD', '/images/' + image['id'])
    assert response.status_int == 200
    assert response.content_type == 'application/json'


def test_versions(alice):
    body = alice('GET', '/versions').json
    assert body == {'versions': [{'id': 'v1.0', 'status': 'CURRENT',
                                  'links': [{'rel': 'self', 'href': ENDPOINT + '/'}]}]}


# --- database trouble ---------------------------------------------------------------

def test_unreachable_database_is_503_not_500():
    # A real connection attempt to a closed port: what a stopped MySQL looks like.
    database = session.Database.from_conf(
        {'sql_connection': 'mysql+pymysql://glance:secret@127.0.0.1:1/glance'})
    caller = Caller(api.build_app(database), 'alice')
    for method, path, body in (('GET', '/images', None),
                               ('GET', '/images/' + IMAGE_ID, None),
                               ('POST', '/images', {'image': {}})):
        message = _error(caller(method, path, body), 503)
        assert 'database' in message and 'secret' not in message


def test_a_member_cannot_publish_without_a_publish_role(registry_app, admin):
    member = Caller(registry_app, 'carol', ('member',))
    _error(member('POST', '/images', {'image': {'name': 'p', 'is_public': True}}), 403)
    image = member.create(name='private')
    _error(member('PUT', '/images/' + image['id'], {'image': {'is_public': True}}), 403)
    assert admin.create(name='public', is_public=True)['is_public'] is True


def test_the_service_role_alone_cannot_publish(registry_app, service):
    """The service role alone does not make images public (``publish_roles``)."""
    no_publish = Caller(registry_app, 'bob', ('service',))
    refused = no_publish('POST', '/images', {'image': {'name': 'p', 'is_public': True}})
    assert refused.status_int == 403
    assert 'public' in refused.json['error']['message']
    image = no_publish.create(name='p')
    refused = no_publish('PUT', '/images/' + image['id'], {'image': {'is_public': True}})
    assert refused.status_int == 403
    assert service.create(name='q', is_public=True)['is_public'] is True
