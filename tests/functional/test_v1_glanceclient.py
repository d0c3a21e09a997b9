"""Glance v1 on glance-api with the real python-glanceclient 2.17.1.

A glance-registry and a glance-api authenticating with a real Keystone, glance-api
registered as the catalog's ``image`` service (``glance_in_catalog``). The library
(``glanceclient.v1``) runs with a Keystone session (endpoint from the catalog) or
with a token and an endpoint; the CLI is ``glance --os-image-api-version 1`` with
nothing but the ``OS_*`` login. Every call goes through python-glanceclient's own
wire format: header codec, chunked uploads, client-side paging, md5 verification.
"""

import hashlib
import json
import os
import re
import uuid

import pytest

from tests.functional.test_api_images import Api

# Each snippet logs in as params['auth'] and talks v1 through the catalog.
_CLIENT = '''
import glanceclient
from keystoneauth1 import session
from keystoneauth1.identity import v3
gc = glanceclient.Client('1', session=session.Session(auth=v3.Password(**params['auth'])))
'''


@pytest.fixture(scope='module')
def glance_api(glance_in_catalog):
    return glance_in_catalog[1]


@pytest.fixture(scope='module')
def alice(keystone_service):
    return keystone_service.make_project_user('v1-alice')


@pytest.fixture(scope='module')
def bob(keystone_service):
    return keystone_service.make_project_user('v1-bob')


@pytest.fixture
def v1(glanceclient1, glance_api, keystone_service):
    """``v1(user, code, **params)``: run a v1 library snippet as ``user``."""
    def run(user, code, **params):
        return glanceclient1.run(_CLIENT + code, auth=keystone_service.client_auth(user),
                                 **params)
    return run


# The CLI with its standard input closed (``glance ... <&-``, as from cron): with
# stdin open but not a terminal, image-create would read image data from it and
# image-update would refuse to run for an active image.
_CLI = '''
import subprocess
done = subprocess.run(['sh', '-c', 'exec glance "$@" <&-', 'glance',
                       '--os-image-api-version', '1'] + params['args'],
                      capture_output=True, timeout=100)
result = {'status': done.returncode, 'out': done.stdout.decode('utf-8'),
          'err': done.stderr.decode('utf-8')}
'''


@pytest.fixture
def cli(glanceclient1, glance_api, keystone_service):
    """``cli(user, *args)``: ``glance --os-image-api-version 1 <args>`` as ``user``
    (``OS_*`` login only); returns ``{'status', 'out', 'err'}``."""
    def run(user, *args):
        return glanceclient1.run(_CLI, env=keystone_service.os_environ(user),
                                 args=[str(arg) for arg in args]).value
    return run


def _data(size):
    return os.urandom(size)


def _name(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


_CREATE_FROM_FILE = '''
with open(params['path'], 'rb') as data:
    image = gc.images.create(name=params['name'], disk_format='raw',
                             container_format='bare', data=data,
                             properties=params.get('properties', {}),
                             **params.get('fields', {}))
result = image.to_dict()
'''


def _create(v1, user, tmp_path, name, data, **params):
    path = tmp_path / ('%s.img' % name)
    path.write_bytes(data)
    return v1(user, _CREATE_FROM_FILE, path=str(path), name=name, **params).value


def test_create_from_a_file_then_show_and_download_byte_exact(v1, alice, tmp_path):
    data = _data(300 * 1024 + 7)
    name = _name('create')
    created = _create(v1, alice, tmp_path, name, data,
                      properties={'os_distro': 'cirros', 'note': 'a b/c? é'},
                      fields={'min_ram': 64, 'min_disk': 1})
    assert created['status'] == 'active'
    assert created['size'] == len(data)
    assert created['checksum'] == hashlib.md5(data).hexdigest()
    assert created['properties'] == {'os_distro': 'cirros', 'note': 'a b/c? é'}
    assert created['is_public'] is False

    shown = v1(alice, '''
image = gc.images.get(params['id'])
result = {'image': image.to_dict(),
          'data': b''.join(gc.images.data(params['id'], do_checksum=True))}
''', id=created['id']).value
    image = shown['image']
    assert shown['data'] == data
    assert image['id'] == created['id'] and image['name'] == name
    assert image['status'] == 'active' and image['size'] == len(data)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['is_public'] is False and image['protected'] is False
    assert (image['min_ram'], image['min_disk']) == (64, 1)
    assert image['owner'] == alice.project_id
    assert image['properties'] == {'os_distro': 'cirros', 'note': 'a b/c? é'}
    assert 'location' not in image


def test_a_checksum_that_does_not_match_is_a_400_and_the_image_is_killed(
        v1, alice, tmp_path):
    name = _name('badsum')
    path = tmp_path / 'bad.img'
    path.write_bytes(_data(4096))
    failed = v1(alice, _CREATE_FROM_FILE, path=str(path), name=name,
                fields={'checksum': '0' * 32})
    assert failed.raised('glanceclient.exc.HTTPBadRequest'), failed
    assert 'checksum' in failed.error['message']
    found = v1(alice, '''
result = [image.to_dict() for image in gc.images.list(filters={'name': params['name']})]
''', name=name).value
    assert [image['status'] for image in found] == ['killed']


def test_update_merges_properties_or_purges_them(v1, alice):
    updated = v1(alice, '''
image = gc.images.create(name=params['name'], disk_format='raw',
                         container_format='bare', properties={'a': '1', 'b': '2'})
merged = gc.images.update(image, name=params['name'] + '-2', properties={'c': '3'})
shown_merged = gc.images.get(image.id)
purged = gc.images.update(image, properties={'d': '4'}, purge_props=True)
shown_purged = gc.images.get(image.id)
result = [merged.to_dict(), shown_merged.to_dict(), purged.to_dict(),
          shown_purged.to_dict()]
''', name=_name('update')).value
    merged, shown_merged, purged, shown_purged = updated
    for image in (merged, shown_merged):
        assert image['properties'] == {'a': '1', 'b': '2', 'c': '3'}
        assert image['name'].endswith('-2')
    for image in (purged, shown_purged):
        assert image['properties'] == {'d': '4'}
        assert image['name'].endswith('-2')


def test_data_only_while_queued(v1, alice):
    conflict = v1(alice, '''
import io
image = gc.images.create(name=params['name'], disk_format='raw',
                         container_format='bare')
queued = image.status
image = gc.images.update(image, data=io.BytesIO(b'first bytes'))
try:
    gc.images.update(image, data=io.BytesIO(b'second bytes'))
except Exception as error:
    result = [queued, image.status, image.size, type(error).__name__]
''', name=_name('queued')).value
    assert conflict == ['queued', 'active', 11, 'HTTPConflict']


def test_list_filters_and_pages(v1, alice, tmp_path):
    batch = uuid.uuid4().hex
    sizes = [10, 20, 30, 40, 50]
    names = []
    for index, size in enumerate(sizes):
        name = '%s-%d' % (batch, index)
        _create(v1, alice, tmp_path, name, _data(size), properties={'batch': batch})
        names.append(name)
    listed = v1(alice, '''
def names(filters, **kwargs):
    # glanceclient pops 'properties' out of the filters it is given: a fresh dict
    # each time.
    filters = dict(filters, properties={'batch': params['batch']})
    return [image.name for image in gc.images.list(filters=filters, **kwargs)]
result = {
    'paged': names({}, page_size=2, sort_key='name', sort_dir='asc'),
    'desc': names({}, page_size=3, sort_key='size', sort_dir='desc'),
    'limited': names({}, limit=3, page_size=2, sort_key='name', sort_dir='asc'),
    'sized': names({'size_min': 20, 'size_max': 40}, sort_key='name', sort_dir='asc'),
    'named': names({'name': params['names'][2]}),
    'formats': names({'disk_format': 'raw', 'container_format': 'bare',
                      'status': 'active', 'is_public': False},
                     sort_key='name', sort_dir='asc'),
    'none': names({'disk_format': 'qcow2'}),
}
''', batch=batch, names=names).value
    assert listed['paged'] == names
    assert listed['desc'] == names[::-1]
    assert listed['limited'] == names[:3]
    assert listed['sized'] == names[1:4]
    assert listed['named'] == [names[2]]
    assert listed['formats'] == names
    assert listed['none'] == []


def test_delete_then_the_image_is_gone(v1, alice):
    gone = v1(alice, '''
image = gc.images.create(name=params['name'], disk_format='raw',
                         container_format='bare')
gc.images.delete(image)
try:
    gc.images.get(image.id)
except Exception as error:
    result = type(error).__name__
''', name=_name('delete')).value
    assert gone == 'HTTPNotFound'


def test_protected_images_are_not_deleted(v1, alice):
    refused = v1(alice, '''
image = gc.images.create(name=params['name'], disk_format='raw',
                         container_format='bare', protected=True)
try:
    gc.images.delete(image)
except Exception as error:
    refused = type(error).__name__
gc.images.update(image, protected=False)
gc.images.delete(image)
result = refused
''', name=_name('protected')).value
    assert refused == 'HTTPForbidden'


def test_a_private_image_is_seen_by_another_project_only_once_shared(
        v1, alice, bob, tmp_path, glance_in_catalog, keystone_service):
    data = _data(70000)
    image = _create(v1, alice, tmp_path, _name('shared'), data)

    look = '''
from glanceclient import exc
try:
    image = gc.images.get(params['id']).to_dict()
    data = b''.join(gc.images.data(params['id'], do_checksum=True))
except exc.HTTPNotFound:
    image = data = None
listed = [i.id for i in gc.images.list(filters={'name': params['name']})]
shared = [m.to_dict() for m in gc.image_members.list(member=params['project'])]
result = {'image': image, 'data': data, 'listed': listed, 'shared': shared}
'''
    before = v1(bob, look, id=image['id'], name=image['name'],
                project=bob.project_id).value
    assert before == {'image': None, 'data': None, 'listed': [], 'shared': []}

    members = v1(alice, '''
gc.image_members.create(params['id'], params['project'], can_share=False)
result = [m.to_dict() for m in gc.image_members.list(image=params['id'])]
''', id=image['id'], project=bob.project_id).value
    assert [(m['member_id'], m['can_share']) for m in members] == [
        (bob.project_id, False)]
    # v1 has no acceptance step: the registry holds the membership as accepted.
    registry = Api(glance_in_catalog[0].url)
    held = registry.request('GET', '/images/%s/members' % image['id'],
                            {'X-Auth-Token': keystone_service.token(alice)})
    assert held.status == 200, held.body
    assert [(m['member_id'], m['status']) for m in held.json()['members']] == [
        (bob.project_id, 'accepted')]

    after = v1(bob, look, id=image['id'], name=image['name'],
               project=bob.project_id).value
    assert after['image']['id'] == image['id']
    assert after['data'] == data
    assert after['listed'] == [image['id']]
    assert [(m['image_id'], m['can_share']) for m in after['shared']] == [
        (image['id'], False)]

    refused = v1(bob, '''
try:
    gc.images.update(params['id'], name='taken')
except Exception as error:
    result = type(error).__name__
''', id=image['id']).value
    assert refused in ('HTTPForbidden', 'HTTPNotFound')

    v1(alice, '''
gc.image_members.replace(params['id'], [{'member_id': params['project'],
                                         'can_share': True}])
result = [m.to_dict() for m in gc.image_members.list(image=params['id'])]
gc.image_members.delete(params['id'], params['project'])
''', id=image['id'], project=bob.project_id).value
    unshared = v1(bob, look, id=image['id'], name=image['name'],
                  project=bob.project_id).value
    assert unshared == before


def test_a_keystone_token_and_an_endpoint_are_enough(
        glanceclient1, glance_api, keystone_service, alice):
    token = keystone_service.token(alice)
    image_id = str(uuid.uuid4())
    listed = glanceclient1.run('''
import glanceclient
from glanceclient import exc
gc = glanceclient.Client('1', endpoint=params['endpoint'], token=params['token'])
image = gc.images.create(id=params['id'], name=params['name'], disk_format='raw',
                         container_format='bare', properties={'k': 'v'})
try:
    gc.images.create(id=params['id'], name='again')
    again = None
except exc.HTTPConflict:
    again = 'HTTPConflict'
listed = gc.images.list(filters={'name': params['name']})
result = {'listed': [i.to_dict() for i in listed], 'again': again}
''', endpoint=glance_api.url, token=token, name=_name('token'), id=image_id).value
    assert [(i['id'], i['status'], i['properties']) for i in listed['listed']] == [
        (image_id, 'queued', {'k': 'v'})]
    assert listed['again'] == 'HTTPConflict'


def _table(out):
    """The ``| key | value |`` rows of a glance CLI table, as a dict."""
    rows = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip().strip('|').split('|')]
        if line.startswith('|') and len(cells) == 2:
            rows[cells[0]] = cells[1]
    return rows


def test_the_v1_cli_main_paths(cli, alice, bob, tmp_path):
    data = _data(123457)
    path = tmp_path / 'cli.img'
    path.write_bytes(data)
    name = _name('cli')

    created = cli(alice, 'image-create', '--name', name, '--disk-format', 'raw',
                  '--container-format', 'bare', '--file', str(path),
                  '--property', 'os_distro=cirros', '--property', 'gone=soon')
    assert created['status'] == 0, created['err']
    shown = _table(created['out'])
    assert shown['status'] == 'active' and shown['size'] == str(len(data))
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    image_id = shown['id']

    listed = cli(alice, 'image-list', '--name', name)
    assert listed['status'] == 0, listed['err']
    assert re.search(r'\| %s \| %s\s+\| raw\s+\| bare\s+\| %d\s+\| active' % (
        image_id, name, len(data)), listed['out']), listed['out']

    shown = cli(alice, 'image-show', name)
    assert shown['status'] == 0, shown['err']
    assert _table(shown['out'])["Property 'os_distro'"] == 'cirros'

    target = tmp_path / 'downloaded.img'
    downloaded = cli(alice, 'image-download', '--file', str(target), image_id)
    assert downloaded['status'] == 0, downloaded['err']
    assert target.read_bytes() == data

    updated = cli(alice, 'image-update', '--property', 'os_distro=ubuntu',
                  '--purge-props', '--min-ram', '128', image_id)
    assert updated['status'] == 0, updated['err']
    table = _table(updated['out'])
    assert table["Property 'os_distro'"] == 'ubuntu' and table['min_ram'] == '128'
    assert "Property 'gone'" not in table

    shared = cli(alice, 'member-create', image_id, bob.project_id)
    assert shared['status'] == 0, shared['err']
    members = cli(alice, 'member-list', '--image-id', image_id)
    # glanceclient prints can_share False as an empty cell.
    assert re.search(r'\| %s \| %s \| (False)?\s+\|' % (image_id, bob.project_id),
                     members['out']), members['out']
    seen = cli(bob, 'image-show', image_id)
    assert seen['status'] == 0 and _table(seen['out'])['id'] == image_id, seen['err']

    deleted = cli(alice, 'image-delete', image_id)
    assert deleted['status'] == 0, deleted['err']
    missing = cli(alice, 'image-show', image_id)
    assert missing['status'] != 0 and 'No image with a name or ID' in missing['err']


# -- the same API with plain HTTP (what the README's curl examples send) -------------

def _http(glance_api, keystone_service, user):
    token = keystone_service.token(user)
    api = Api(glance_api.url)

    def request(method, path, headers=None, body=None, chunked=False):
        return api.request(method, path, dict(headers or {}, **{'X-Auth-Token': token}),
                           body, chunked)
    return request


def test_http_headers_locations_ranges_and_errors(glance_api, keystone_service, alice):
    http = _http(glance_api, keystone_service, alice)
    data = _data(5000)
    created = http('POST', '/v1/images', {
        'x-image-meta-name': 'curl%20image', 'x-image-meta-disk-format': 'raw',
        'x-image-meta-container_format': 'bare', 'x-image-meta-min-ram': '256',
        'x-image-meta-property-os-distro': 'cirros',
        'Content-Type': 'application/octet-stream'}, data)
    assert created.status == 201, created.body
    image = created.json()['image']
    assert created.headers['location'] == '%s/v1/images/%s' % (glance_api.url,
                                                               image['id'])
    assert created.headers['etag'].strip('"') == hashlib.md5(data).hexdigest()
    assert image['name'] == 'curl image' and image['min_ram'] == 256
    assert image['properties'] == {'os_distro': 'cirros'}
    path = '/v1/images/' + image['id']

    head = http('HEAD', path)
    assert head.status == 200 and head.body == b''
    assert head.headers['x-image-meta-min_ram'] == '256'
    assert head.headers['x-image-meta-is_public'] == 'False'
    assert head.headers['x-image-meta-protected'] == 'False'
    assert head.headers['x-image-meta-property-os_distro'] == 'cirros'
    assert head.headers['x-image-meta-size'] == str(len(data))
    assert not any('location' in name or 'uri' in name for name in head.headers)

    ranged = http('GET', path, {'Range': 'bytes=100-199'})
    assert ranged.status == 206 and ranged.body == data[100:200]
    whole = http('GET', path)
    assert whole.status == 200 and whole.body == data
    assert whole.headers['x-image-meta-checksum'] == hashlib.md5(data).hexdigest()

    conflict = http('PUT', path, {'Content-Type': 'application/octet-stream'}, b'more')
    assert conflict.status == 409, conflict.body
    assert 'queued' in conflict.json()['error']['message']
    unknown = http('PUT', path, {'x-image-meta-colour': 'blue'})
    assert unknown.status == 400 and 'colour' in unknown.json()['error']['message']
    status = http('PUT', path, {'x-image-meta-status': 'queued'})
    assert status.status == 400 and 'read-only' in status.json()['error']['message']
    wrong = http('POST', path)
    assert wrong.status == 405 and 'PUT' in wrong.headers['allow']
    query = http('GET', '/v1/images/detail?colour=blue')
    assert query.status == 400 and 'colour' in query.json()['error']['message']

    brief = http('GET', '/v1/images?name=curl%20image&limit=1')
    assert brief.status == 200
    assert brief.json()['images'][0] == {
        'id': image['id'], 'name': 'curl image', 'disk_format': 'raw',
        'container_format': 'bare', 'checksum': hashlib.md5(data).hexdigest(),
        'size': len(data)}

    # No x-glance-registry-purge-props header: v1 replaces the properties.
    renamed = http('PUT', path, {'x-image-meta-name': 'renamed'})
    assert renamed.status == 200, renamed.body
    assert renamed.json()['image']['properties'] == {}
    assert http('DELETE', path).status == 200
    assert http('HEAD', path).status == 404


def test_http_chunked_upload_into_a_queued_image_with_a_declared_checksum(
        glance_api, keystone_service, alice):
    http = _http(glance_api, keystone_service, alice)
    data = _data(200000)
    queued = http('POST', '/v1/images', {'x-image-meta-name': 'later',
                                         'x-image-meta-disk_format': 'raw',
                                         'x-image-meta-container_format': 'bare'})
    assert queued.status == 201 and queued.json()['image']['status'] == 'queued'
    path = '/v1/images/' + queued.json()['image']['id']
    blocks = (data[i:i + 65536] for i in range(0, len(data), 65536))
    uploaded = http('PUT', path, {'x-image-meta-checksum': hashlib.md5(data).hexdigest(),
                                  'x-glance-registry-purge-props': 'false',
                                  'Transfer-Encoding': 'chunked'}, blocks, chunked=True)
    assert uploaded.status == 200, uploaded.body
    assert uploaded.json()['image']['status'] == 'active'
    assert http('GET', path).body == data

    wrong = http('POST', '/v1/images', {'x-image-meta-name': 'wrong',
                                        'x-image-meta-disk_format': 'raw',
                                        'x-image-meta-container_format': 'bare',
                                        'x-image-meta-checksum': '0' * 32}, data)
    assert wrong.status == 400 and 'checksum' in wrong.json()['error']['message']
    killed = http('GET', '/v1/images/detail?name=wrong')
    assert [i['status'] for i in json.loads(killed.body)['images']] == ['killed']


def test_http_location_registers_an_existing_object(glance_api, keystone_service):
    """An admin registers the object of another image through
    ``x-image-meta-location``; deleting the registered image only unregisters it."""
    admin = keystone_service.make_project_user('v1-admin', roles=('admin',))
    http = _http(glance_api, keystone_service, admin)
    data = _data(12345)
    native = http('POST', '/images', {'x-image-meta-name': 'source',
                                      'x-image-meta-disk-format': 'raw',
                                      'x-image-meta-container-format': 'bare'}, data)
    assert native.status == 201, native.body
    source = native.json()['image']
    location = source['chunks'][0]['location']

    registered = http('POST', '/v1/images', {
        'x-image-meta-name': 'registered', 'x-image-meta-disk_format': 'raw',
        'x-image-meta-container_format': 'bare', 'x-image-meta-location': location,
        'x-image-meta-size': str(len(data))})
    assert registered.status == 201, registered.body
    image = registered.json()['image']
    assert image['status'] == 'active' and image['size'] == len(data)
    assert 'location' not in image and location not in registered.body.decode()
    path = '/v1/images/' + image['id']
    assert http('GET', path).body == data

    wrong_size = http('POST', '/v1/images', {
        'x-image-meta-name': 'wrong', 'x-image-meta-disk_format': 'raw',
        'x-image-meta-container_format': 'bare', 'x-image-meta-location': location,
        'x-image-meta-size': str(len(data) + 1)})
    assert wrong_size.status == 400, wrong_size.body

    assert http('DELETE', path).status == 200
    assert http('GET', '/images/' + source['id']).body == data
