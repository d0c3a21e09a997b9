"""The real OpenStack clients against glance-api's Image v2 subset.

python-glanceclient 4.x (``glanceclient.Client('2', session=...)``) and openstacksdk
4.x (``openstack.connect(...).image``), each from its own virtualenv
(:mod:`tests.functional.openstack_clients`), with nothing but a Keystone password
login: glance-api (keystone pipeline, real Keystone, real registry on SQLite, file
store) is found through the catalog, and openstacksdk finds ``/v2/`` through version
discovery. Downloads are checked byte for byte after each client verified them
against ``os_hash_algo``/``os_hash_value``; errors must be each client's typed
exception.
"""

import hashlib
import uuid

import pytest

from tests.data import random_bytes

_GLANCE = '''
import io
import glanceclient
from glanceclient import exc
from keystoneauth1 import session
from keystoneauth1.identity import v3
glance = glanceclient.Client('2', session=session.Session(
    auth=v3.Password(**params['auth'])))
'''

_SDK = '''
import io
import openstack
from openstack import exceptions
conn = openstack.connect(**params['auth'])
'''

#: glance-api's image_size_cap here, for the 413 test.
SIZE_CAP = 4 * 1024 * 1024


@pytest.fixture(scope='module')
def glance_api_options():
    """A small size cap, so an upload over it is cheap."""
    return {'image_size_cap': str(SIZE_CAP)}


@pytest.fixture(scope='module')
def api(glance_in_catalog):
    """glance-api, registered as the catalog's image service."""
    return glance_in_catalog[1]


@pytest.fixture(scope='module')
def alice(keystone_service):
    """A member of a project of her own."""
    return keystone_service.make_project_user('v2-alice')


@pytest.fixture(scope='module')
def bob(keystone_service):
    """A member of another project."""
    return keystone_service.make_project_user('v2-bob')


@pytest.fixture(scope='module')
def ops(keystone_service):
    """An admin (may publish images)."""
    return keystone_service.make_project_user('v2-ops', roles=('admin',))


def _name(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def test_openstacksdk_discovers_v2_from_the_unversioned_catalog_url(
        openstack_clients, api, keystone_service, alice):
    found = openstack_clients.run(_SDK + '''
import requests
root = requests.get(conn.endpoint_for('image') + '/')
result = {'endpoint': conn.image.get_endpoint(),
          'version': list(conn.image.get_api_major_version()),
          'root_status': root.status_code, 'root': root.json()}
''', auth=keystone_service.client_auth(alice)).value
    assert found['endpoint'].rstrip('/') == api.url + '/v2'
    assert found['version'][0] == 2
    assert found['root_status'] == 300
    assert found['root']['versions'][0] == {
        'id': 'v2.5', 'status': 'CURRENT',
        'links': [{'rel': 'self', 'href': api.url + '/v2/'}]}


def test_glanceclient_create_upload_get_download_update_tags_delete(
        openstack_clients, api, keystone_service, alice):
    data = random_bytes(3 * 1024 * 1024 + 17)
    name = _name('gc')
    done = openstack_clients.run(_GLANCE + '''
image = glance.images.create(name=params['name'], disk_format='raw',
                             container_format='bare', visibility='private',
                             tags=['t1'], os_distro='cirros')
image_id = image['id']
created = dict(image)
glance.images.upload(image_id, io.BytesIO(params['data']))
shown = dict(glance.images.get(image_id))
body = glance.images.data(image_id)
downloaded = b''.join(body)
glance.images.update(image_id, name=params['name'] + '-renamed', hw_disk_bus='scsi',
                     min_ram=256, remove_props=['os_distro'])
updated = dict(glance.images.get(image_id))
glance.image_tags.update(image_id, 't2')
glance.image_tags.delete(image_id, 't1')
tagged = dict(glance.images.get(image_id))
glance.images.delete(image_id)
try:
    glance.images.get(image_id)
    gone = False
except exc.HTTPNotFound:
    gone = True
result = {'created': created, 'shown': shown, 'data': downloaded,
          'length': len(body), 'updated': updated, 'tagged': tagged, 'gone': gone}
''', auth=keystone_service.client_auth(alice), name=name, data=data).value
    created, shown = done['created'], done['shown']
    assert created['status'] == 'queued' and created['name'] == name
    assert created['visibility'] == 'private' and created['owner'] == alice.project_id
    assert created['tags'] == ['t1'] and created['os_distro'] == 'cirros'
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['os_hash_algo'] == 'sha256'
    assert shown['os_hash_value'] == hashlib.sha256(data).hexdigest()
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert done['data'] == data and done['length'] == len(data)
    updated = done['updated']
    assert updated['name'] == name + '-renamed' and updated['hw_disk_bus'] == 'scsi'
    assert updated['min_ram'] == 256 and 'os_distro' not in updated
    assert sorted(done['tagged']['tags']) == ['t2']
    assert done['gone']


def test_glanceclient_lists_with_filters_and_paging(
        openstack_clients, api, keystone_service, alice):
    tag = _name('list')
    listed = openstack_clients.run(_GLANCE + '''
ids = [glance.images.create(name='%s-%d' % (params['tag'], index), disk_format='raw',
                            container_format='bare', tags=[params['tag']],
                            flavour='big' if index % 2 else 'small')['id']
       for index in range(5)]
def names(**kwargs):
    return [image['name'] for image in glance.images.list(**kwargs)]
result = {
    'paged': names(filters={'tag': [params['tag']]}, page_size=2,
                   sort_key='name', sort_dir='asc'),
    'limited': names(filters={'tag': [params['tag']]}, limit=3, page_size=2,
                     sort='name:desc'),
    'by_name': names(filters={'name': params['tag'] + '-3'}),
    'by_property': names(filters={'tag': [params['tag']], 'flavour': 'big'},
                         sort_key='name', sort_dir='asc'),
    'two_tags': names(filters={'tag': [params['tag'], 'other']}),
}
for image_id in ids:
    glance.images.delete(image_id)
''', auth=keystone_service.client_auth(alice), tag=tag).value
    every = ['%s-%d' % (tag, index) for index in range(5)]
    assert listed['paged'] == every
    assert listed['limited'] == every[::-1][:3]
    assert listed['by_name'] == [tag + '-3']
    assert listed['by_property'] == [tag + '-1', tag + '-3']
    assert listed['two_tags'] == []


def test_openstacksdk_create_download_update_tags_list_delete(
        openstack_clients, api, keystone_service, alice):
    data = random_bytes(2 * 1024 * 1024 + 5)
    name = _name('sdk')
    done = openstack_clients.run(_SDK + '''
image = conn.image.create_image(params['name'], data=params['data'], disk_format='raw',
                                container_format='bare', tags=['a'], wait=True)
fetched = conn.image.get_image(image.id)
downloaded = conn.image.download_image(image.id).content
updated = conn.image.update_image(image.id, name=params['name'] + '-2', min_disk=2,
                                  is_protected=False, hw_vif_model='virtio')
conn.image.add_tag(image.id, 'b')
conn.image.remove_tag(image.id, 'a')
tagged = conn.image.get_image(image.id)
listed = [found.id for found in conn.image.images(name=params['name'] + '-2')]
by_tag = [found.id for found in conn.image.images(tag='b', limit=1)]
conn.image.delete_image(image.id, ignore_missing=False)
try:
    conn.image.get_image(image.id)
    gone = False
except exceptions.NotFoundException:
    gone = True
result = {'image': image.to_dict(), 'fetched': fetched.to_dict(), 'data': downloaded,
          'updated': updated.to_dict(), 'tags': tagged.tags, 'listed': listed,
          'by_tag': by_tag, 'gone': gone}
''', auth=keystone_service.client_auth(alice), name=name, data=data).value
    image, fetched = done['image'], done['fetched']
    assert fetched['status'] == 'active' and fetched['size'] == len(data)
    assert fetched['hash_algo'] == 'sha256'
    assert fetched['hash_value'] == hashlib.sha256(data).hexdigest()
    assert fetched['owner_id'] == alice.project_id
    assert done['data'] == data
    updated = done['updated']
    assert updated['name'] == name + '-2' and updated['min_disk'] == 2
    assert updated['hw_vif_model'] == 'virtio'
    assert done['tags'] == ['b']
    assert done['listed'] == [image['id']]
    assert image['id'] in done['by_tag']
    assert done['gone']


_ERRORS = '''
def error(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except Exception as err:
        return [type(err).__module__ + '.' + type(err).__name__,
                getattr(err, 'status_code', None) or getattr(err, 'code', None), str(err)]
    return None
'''


def test_glanceclient_errors_are_its_typed_exceptions(
        openstack_clients, api, keystone_service, alice):
    errors = openstack_clients.run(_GLANCE + _ERRORS + '''
image = glance.images.create(name='errors', disk_format='raw', container_format='bare',
                             protected=True)
glance.images.upload(image['id'], io.BytesIO(b'data'))
big = glance.images.create(name='big', disk_format='raw', container_format='bare')
result = {
    'missing': error(glance.images.get, params['missing']),
    'not_an_id': error(glance.images.get, 'no-such-name'),
    'protected': error(glance.images.delete, image['id']),
    'read_only': error(glance.images.update, image['id'], status='queued'),
    'uploaded_twice': error(glance.images.upload, image['id'], io.BytesIO(b'again')),
    'bad_filter': error(lambda: list(glance.images.list(
        filters={'visibility': 'everyone'}))),
    'too_big': error(glance.images.upload, big['id'],
                     io.BytesIO(b'x' * (params['cap'] + 1))),
    'big_status': glance.images.get(big['id'])['status'],
}
glance.images.update(image['id'], protected=False)
glance.images.delete(image['id'])
glance.images.delete(big['id'])
''', auth=keystone_service.client_auth(alice), missing=str(uuid.uuid4()),
        cap=SIZE_CAP).value
    expected = {'missing': ('HTTPNotFound', 404), 'not_an_id': ('HTTPNotFound', 404),
                'protected': ('HTTPForbidden', 403), 'read_only': ('HTTPForbidden', 403),
                'uploaded_twice': ('HTTPConflict', 409),
                'bad_filter': ('HTTPBadRequest', 400), 'too_big': ('HTTPOverLimit', 413)}
    for case, (name, status) in expected.items():
        assert errors[case][:2] == ['glanceclient.exc.' + name, status], (case, errors)
    assert 'read-only' in errors['read_only'][2]
    assert errors['big_status'] == 'killed'


def test_openstacksdk_errors_are_its_typed_exceptions(
        openstack_clients, api, keystone_service, alice):
    errors = openstack_clients.run(_SDK + _ERRORS + '''
image = conn.image.create_image('sdk-errors', data=b'data', disk_format='raw',
                                container_format='bare', is_protected=True,
                                allow_duplicates=True)
result = {
    'missing': error(conn.image.get_image, params['missing']),
    'protected': error(conn.image.delete_image, image.id, ignore_missing=False),
    'uploaded_twice': error(lambda: exceptions.raise_from_response(
        conn.image.get_image(image.id).upload(conn.image, data=b'again'))),
    'bad_sort': error(lambda: list(conn.image.images(sort_key='owner'))),
}
conn.image.update_image(image.id, is_protected=False)
conn.image.delete_image(image.id)
''', auth=keystone_service.client_auth(alice), missing=str(uuid.uuid4())).value
    assert errors['missing'][:2] == ['openstack.exceptions.NotFoundException', 404]
    assert errors['protected'][:2] == ['openstack.exceptions.ForbiddenException', 403]
    assert errors['uploaded_twice'][:2] == ['openstack.exceptions.ConflictException', 409]
    assert errors['bad_sort'][:2] == ['openstack.exceptions.BadRequestException', 400]


def test_sharing_with_a_second_project_through_members(
        openstack_clients, api, keystone_service, alice, bob):
    data = random_bytes(64 * 1024)
    owner = openstack_clients.run(_GLANCE + '''
image = glance.images.create(name=params['name'], disk_format='raw',
                             container_format='bare', visibility='shared')
glance.images.upload(image['id'], io.BytesIO(params['data']))
private = glance.images.create(name=params['name'], disk_format='raw',
                               container_format='bare', visibility='private')
try:
    glance.image_members.create(private['id'], params['bob'])
    refused = None
except exc.HTTPForbidden as err:
    refused = 403
result = {'id': image['id'], 'private': private['id'], 'refused': refused}
''', auth=keystone_service.client_auth(alice), name=_name('shared'), data=data,
        bob=bob.project_id).value
    as_bob = _GLANCE + _ERRORS + '''
def listed():
    return [image['id'] for image in glance.images.list(
        filters={'name': params['name']})]
'''
    before = openstack_clients.run(as_bob + '''
result = {'get': error(glance.images.get, params['id']), 'listed': listed()}
''', auth=keystone_service.client_auth(bob), id=owner['id'],
        name=owner.get('name', '')).value
    assert before['get'][:2] == ['glanceclient.exc.HTTPNotFound', 404]
    added = openstack_clients.run(_GLANCE + _ERRORS + '''
member = dict(glance.image_members.create(params['id'], params['bob']))
twice = error(glance.image_members.create, params['id'], params['bob'])
result = {'member': member, 'twice': twice,
          'members': [dict(m) for m in glance.image_members.list(params['id'])]}
''', auth=keystone_service.client_auth(alice), id=owner['id'],
        bob=bob.project_id).value
    assert added['member']['member_id'] == bob.project_id
    assert added['member']['status'] == 'pending'
    assert added['twice'][:2] == ['glanceclient.exc.HTTPConflict', 409]
    assert [m['member_id'] for m in added['members']] == [bob.project_id]
    shared = openstack_clients.run(as_bob + '''
seen = dict(glance.images.get(params['id']))
pending = [image['id'] for image in glance.images.list(
    filters={'member_status': 'pending', 'visibility': 'shared'})]
before_accepting = [image['id'] for image in glance.images.list()]
glance.image_members.update(params['id'], params['bob'], 'accepted')
after_accepting = [image['id'] for image in glance.images.list()]
data = b''.join(glance.images.data(params['id']))
result = {'seen': seen, 'pending': pending, 'before': before_accepting,
          'after': after_accepting, 'data': data,
          'private': error(glance.images.get, params['private'])}
''', auth=keystone_service.client_auth(bob), id=owner['id'], private=owner['private'],
        bob=bob.project_id, name='').value
    assert shared['seen']['visibility'] == 'shared'
    assert owner['id'] in shared['pending']
    assert owner['id'] not in shared['before']
    assert owner['id'] in shared['after']
    assert shared['data'] == data
    assert shared['private'][:2] == ['glanceclient.exc.HTTPNotFound', 404]
    assert owner['refused'] == 403
    removed = openstack_clients.run(_GLANCE + '''
glance.image_members.delete(params['id'], params['bob'])
result = [dict(m) for m in glance.image_members.list(params['id'])]
''', auth=keystone_service.client_auth(alice), id=owner['id'],
        bob=bob.project_id).value
    assert removed == []
    after = openstack_clients.run(as_bob + '''
result = error(glance.images.get, params['id'])
''', auth=keystone_service.client_auth(bob), id=owner['id'], name='').value
    assert after[:2] == ['glanceclient.exc.HTTPNotFound', 404]


def test_publishing_needs_a_publish_role_and_shows_the_image_to_everyone(
        openstack_clients, api, keystone_service, alice, bob, ops):
    refused = openstack_clients.run(_SDK + _ERRORS + '''
result = error(conn.image.create_image, params['name'], data=b'x', disk_format='raw',
               container_format='bare', visibility='public', allow_duplicates=True)
''', auth=keystone_service.client_auth(alice), name=_name('public')).value
    assert refused[1] == 403, refused
    name = _name('public')
    published = openstack_clients.run(_SDK + '''
image = conn.image.create_image(params['name'], data=b'public bytes', disk_format='raw',
                                container_format='bare', visibility='public')
result = image.id
''', auth=keystone_service.client_auth(ops), name=name).value
    seen = openstack_clients.run(_SDK + '''
result = {'listed': [image.id for image in conn.image.images(visibility='public',
                                                             name=params['name'])],
          'data': conn.image.download_image(params['id']).content}
''', auth=keystone_service.client_auth(bob), id=published, name=name).value
    assert seen == {'listed': [published], 'data': b'public bytes'}


def _field(table, name):
    """The value of row ``name`` in a ``glance image-show`` style table."""
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.split('|')]
        if len(cells) == 4 and cells[1] == name:
            return cells[2]
    raise AssertionError('no %s in\n%s' % (name, table))


def test_glance_cli_v2_create_list_update_download_delete(
        openstack_clients, api, keystone_service, alice):
    env = keystone_service.os_environ(alice)
    data = random_bytes(300 * 1024)
    name = _name('cli')
    created = openstack_clients.glance(
        'image-create', '--name', name, '--disk-format', 'raw', '--container-format',
        'bare', '--property', 'os_distro=cirros', env=env, data=data)
    assert created.status == 0, created.stderr
    out = created.stdout.decode()
    image_id = _field(out, 'id')
    assert _field(out, 'status') == 'active'
    assert _field(out, 'os_hash_value') == hashlib.sha256(data).hexdigest()
    listed = openstack_clients.glance('image-list', '--property-filter', 'name=' + name,
                                      env=env)
    assert listed.status == 0, listed.stderr
    assert image_id in listed.stdout.decode()
    updated = openstack_clients.glance('image-update', '--name', name + '-2',
                                       '--property', 'hw_disk_bus=scsi',
                                       '--remove-property', 'os_distro', image_id,
                                       env=env)
    assert updated.status == 0, updated.stderr
    out = updated.stdout.decode()
    assert _field(out, 'name') == name + '-2' and _field(out, 'hw_disk_bus') == 'scsi'
    assert 'os_distro' not in out
    downloaded = openstack_clients.glance('image-download', image_id, env=env)
    assert downloaded.status == 0, downloaded.stderr
    assert downloaded.stdout == data
    deleted = openstack_clients.glance('image-delete', image_id, env=env)
    assert deleted.status == 0, deleted.stderr
    shown = openstack_clients.glance('image-show', image_id, env=env)
    assert shown.status == 1 and 'No image found with id %s' % image_id in shown.stderr


def test_openstacksdk_shares_an_image_with_a_second_project(
        openstack_clients, api, keystone_service, alice, bob):
    name = _name('sdk-shared')
    owner = openstack_clients.run(_SDK + '''
image = conn.image.create_image(params['name'], data=b'shared bytes', disk_format='raw',
                                container_format='bare', visibility='shared')
member = conn.image.add_member(image.id, member_id=params['bob'])
result = {'id': image.id, 'member': member.to_dict(),
          'members': [m.to_dict() for m in conn.image.members(image.id)]}
''', auth=keystone_service.client_auth(alice), name=name, bob=bob.project_id).value
    assert owner['member']['status'] == 'pending'
    assert [m['id'] for m in owner['members']] == [bob.project_id]
    accepted = openstack_clients.run(_SDK + '''
before = [image.id for image in conn.image.images(name=params['name'])]
member = conn.image.update_member(params['bob'], params['id'], status='accepted')
after = [image.id for image in conn.image.images(name=params['name'])]
result = {'before': before, 'status': member.status, 'after': after,
          'data': conn.image.download_image(params['id']).content}
''', auth=keystone_service.client_auth(bob), name=name, id=owner['id'],
        bob=bob.project_id).value
    assert accepted == {'before': [], 'status': 'accepted', 'after': [owner['id']],
                        'data': b'shared bytes'}
    removed = openstack_clients.run(_SDK + _ERRORS + '''
conn.image.remove_member(params['bob'], params['id'], ignore_missing=False)
conn.image.delete_image(params['id'])
result = error(conn.image.get_image, params['id'])
''', auth=keystone_service.client_auth(alice), id=owner['id'], bob=bob.project_id).value
    assert removed[:2] == ['openstack.exceptions.NotFoundException', 404]
