"""The ``openstack`` command (python-openstackclient) against glance-api's Image v2 API.

The real CLI runs from the openstack-clients virtualenv
(:mod:`tests.functional.openstack_clients`) with nothing but the ``OS_*`` password
login of a Keystone user: glance-api (keystone pipeline, real Keystone, real registry
on SQLite, file store) is found through the catalog. Every command prints JSON
(``-f json``) or writes a file, and the tests check what the service then holds:
sizes, md5 ``checksum`` and sha256 ``os_hash_value`` of the bytes sent, bytes
downloaded equal to the bytes uploaded, members and their status as each project sees
them; ``image create --import`` stages the data and imports it (``glance-direct``).
The CLI sorts (``--sort``) and filters properties (``--property``) on its side;
the other filters, ``--limit`` and ``--marker`` go to the service.
"""

import hashlib
import os
import uuid

import pytest

from tests.data import random_bytes
from tests.disk_images import PAYLOAD_SIZE, DiskImages

# Each test runs a dozen or more CLI processes (each a Keystone login and a version
# discovery) on a shared machine: more than tox's 120 s default guard allows.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope='module')
def glance_api_options(tmp_path_factory):
    """A staging folder: glance-api serves the ``glance-direct`` import."""
    return {'import_staging_dir': str(tmp_path_factory.mktemp('staging'))}


@pytest.fixture(scope='module')
def api(glance_in_catalog):
    """glance-api, registered as the catalog's image service."""
    return glance_in_catalog[1]


@pytest.fixture(scope='module')
def qcow2(tmp_path_factory):
    """The path of a real qcow2 image (made by qemu-img) and its bytes."""
    path = DiskImages(tmp_path_factory.mktemp('osc-images')).path('qcow2')
    with open(path, 'rb') as image:
        return path, image.read()


def _users(keystone_service, prefix, roles=('member',)):
    return keystone_service.make_project_user(prefix, roles=roles)


@pytest.fixture(scope='module')
def alice(keystone_service):
    """A member of a project of her own."""
    return _users(keystone_service, 'osc-alice')


@pytest.fixture(scope='module')
def bob(keystone_service):
    """A member of another project."""
    return _users(keystone_service, 'osc-bob')


@pytest.fixture(scope='module')
def ops(keystone_service):
    """An admin (may publish images)."""
    return _users(keystone_service, 'osc-ops', roles=('admin',))


def _name(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class Cli:
    """The ``openstack`` command as one Keystone user."""

    def __init__(self, venv, keystone_service, user):
        self.venv = venv
        self.env = keystone_service.os_environ(user)

    def run(self, *args):
        """Run ``openstack ARGS``; returns the ``Result``."""
        return self.venv.openstack(*args, env=self.env)

    def ok(self, *args):
        """Run ``openstack ARGS`` and assert it exits 0; returns its stdout."""
        result = self.run(*args)
        assert result.status == 0, (args, result.stderr[-3000:])
        return result.stdout

    def json(self, *args):
        """Run ``openstack ARGS -f json``; returns the decoded output."""
        result = self.run(*(args + ('-f', 'json')))
        assert result.status == 0, (args, result.stderr[-3000:])
        return result.json()

    def names(self, *args):
        """The names ``openstack image list ARGS`` prints, in its order."""
        return [row['Name'] for row in self.json('image', 'list', *args)]


@pytest.fixture
def cli(openstack_cli, keystone_service, api):
    """``cli(user)``: a :class:`Cli` for ``user``."""
    return lambda user: Cli(openstack_cli, keystone_service, user)


def test_create_show_save_set_unset_delete(cli, alice, qcow2, tmp_path):
    path, data = qcow2
    me = cli(alice)
    name = _name('osc')
    created = me.json('image', 'create', '--file', path, '--disk-format', 'qcow2',
                      '--container-format', 'bare', '--private', '--property',
                      'os_distro=cirros', '--tag', 't1', name)
    assert created['status'] == 'active' and created['name'] == name
    assert created['size'] == len(data) and created['visibility'] == 'private'
    assert created['checksum'] == hashlib.md5(data).hexdigest()
    assert created['properties']['os_hash_algo'] == 'sha256'
    assert created['properties']['os_hash_value'] == hashlib.sha256(data).hexdigest()
    assert created['properties']['os_distro'] == 'cirros'
    assert created['tags'] == ['t1'] and created['owner'] == alice.project_id
    assert created['virtual_size'] == PAYLOAD_SIZE
    image_id = created['id']
    shown = me.json('image', 'show', name)
    assert shown['id'] == image_id and shown['status'] == 'active'
    saved = tmp_path / 'saved.qcow2'
    me.ok('image', 'save', '--file', str(saved), name)
    assert saved.read_bytes() == data

    me.ok('image', 'set', '--name', name + '-2', '--property', 'hw_disk_bus=scsi',
          '--tag', 't2', '--protected', '--min-disk', '2', '--min-ram', '128',
          '--shared', image_id)
    shown = me.json('image', 'show', image_id)
    assert shown['name'] == name + '-2' and shown['protected'] is True
    assert shown['min_disk'] == 2 and shown['min_ram'] == 128
    assert shown['visibility'] == 'shared'
    assert shown['properties']['hw_disk_bus'] == 'scsi'
    assert sorted(shown['tags']) == ['t1', 't2']
    refused = me.run('image', 'delete', image_id)
    assert refused.status == 1 and 'Failed to delete 1 of 1 images' in refused.stderr
    published = me.run('image', 'set', '--public', image_id)
    assert published.status == 1 and 'publish_roles' in published.stderr

    me.ok('image', 'unset', '--property', 'os_distro', '--tag', 't1', image_id)
    me.ok('image', 'set', '--unprotected', '--private', image_id)
    shown = me.json('image', 'show', image_id)
    assert 'os_distro' not in shown['properties'] and shown['tags'] == ['t2']
    assert shown['protected'] is False and shown['visibility'] == 'private'
    me.ok('image', 'delete', image_id)
    gone = me.run('image', 'show', image_id)
    assert gone.status == 1 and 'No Image found for %s' % image_id in gone.stderr


def test_list_filters_visibility_sort_and_paging(cli, alice, ops, tmp_path):
    me = cli(alice)
    tag = _name('osc-list')
    small = tmp_path / 'small.raw'
    small.write_bytes(random_bytes(4096, seed=3))
    made = {}
    for index, visibility in enumerate(('--private', '--shared', '--private')):
        name = '%s-%d' % (tag, index)
        made[name] = me.json(
            'image', 'create', '--disk-format', 'raw', '--container-format', 'bare',
            visibility, '--tag', tag, '--property',
            'flavour=%s' % ('big' if index % 2 else 'small'), '--file', str(small),
            name)['id']
    public_name = '%s-public' % tag
    public = cli(ops).json('image', 'create', '--disk-format', 'raw',
                           '--container-format', 'bare', '--public', '--tag', tag,
                           '--file', str(small), public_name)['id']
    mine = sorted(made)
    assert me.names('--tag', tag, '--sort', 'name:asc') == mine + [public_name]
    assert me.names('--tag', tag, '--sort', 'name:desc') == [public_name] + mine[::-1]
    long = me.json('image', 'list', '--long', '--tag', tag, '--sort', 'name:asc')
    assert [row['Visibility'] for row in long] == ['private', 'shared', 'private',
                                                   'public']
    assert {row['Project'] for row in long[:3]} == {alice.project_id}
    assert all(row['Tags'] == [tag] and row['Status'] == 'active' for row in long)
    assert me.names('--tag', tag, '--property', 'flavour=big') == [tag + '-1']
    assert me.names('--tag', tag, '--private', '--sort', 'name:asc') == [
        tag + '-0', tag + '-2']
    assert me.names('--tag', tag, '--shared') == [tag + '-1']
    assert me.names('--tag', tag, '--public') == [public_name]
    assert me.names('--name', tag + '-2') == [tag + '-2']
    # The client sorts what it lists (by name unless told); sorted by creation time,
    # as the service pages (the images were made seconds apart), the last row of a
    # page is the marker of the next.
    def page(*marker):
        return [row['ID'] for row in me.json('image', 'list', '--tag', tag, '--limit',
                                             '2', '--sort', 'created_at:desc', *marker)]
    first = page()
    second = page('--marker', first[-1])
    assert page('--marker', second[-1]) == []
    assert first + second == [public] + [made[name] for name in mine[::-1]]
    for image_id in made.values():
        me.ok('image', 'delete', image_id)
    cli(ops).ok('image', 'delete', public)
    assert me.names('--tag', tag) == []


def test_share_with_a_project_accept_and_remove(cli, alice, bob, tmp_path):
    data = random_bytes(256 * 1024 + 3, seed=7)
    source = tmp_path / 'shared.raw'
    source.write_bytes(data)
    owner, member = cli(alice), cli(bob)
    image_id = owner.json('image', 'create', '--disk-format', 'raw',
                          '--container-format', 'bare', '--shared', '--file',
                          str(source), _name('osc-shared'))['id']
    assert member.run('image', 'show', image_id).status == 1

    added = owner.json('image', 'add', 'project', image_id, bob.project_id)
    assert added['member_id'] == bob.project_id and added['status'] == 'pending'
    listed = owner.json('image', 'member', 'list', image_id)
    assert [(row['Member ID'], row['Status']) for row in listed] == [
        (bob.project_id, 'pending')]
    assert image_id not in [row['ID'] for row in member.json('image', 'list')]

    member.ok('image', 'set', '--accept', image_id)
    listed = owner.json('image', 'member', 'list', image_id)
    assert [(row['Member ID'], row['Status']) for row in listed] == [
        (bob.project_id, 'accepted')]
    assert [row['ID'] for row in member.json('image', 'list', '--shared')] == [image_id]
    downloaded = member.run('image', 'save', image_id)
    assert downloaded.status == 0 and downloaded.stdout == data

    owner.ok('image', 'remove', 'project', image_id, bob.project_id)
    assert owner.json('image', 'member', 'list', image_id) == []
    assert member.run('image', 'show', image_id).status == 1
    owner.ok('image', 'delete', image_id)


def test_create_with_import_stages_and_imports_glance_direct(
        cli, alice, qcow2, glance_api_options):
    path, data = qcow2
    me = cli(alice)
    assert me.json('image', 'import', 'info') == {'import-methods': ['glance-direct']}
    name = _name('osc-import')
    me.ok('image', 'create', '--import', '--file', path, '--disk-format', 'qcow2',
          '--container-format', 'bare', '--private', name)
    shown = me.json('image', 'show', name)
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert shown['properties']['os_hash_value'] == hashlib.sha256(data).hexdigest()
    assert shown['virtual_size'] == PAYLOAD_SIZE
    downloaded = me.run('image', 'save', shown['id'])
    assert downloaded.status == 0 and downloaded.stdout == data
    assert os.listdir(glance_api_options['import_staging_dir']) == []
    me.ok('image', 'delete', shown['id'])


def test_stage_then_import_in_two_commands(cli, alice, qcow2, glance_api_options,
                                           openstack_cli, keystone_service):
    path, data = qcow2
    me = cli(alice)
    # Without a terminal, "openstack image create" uploads its stdin: the queued
    # image is made with openstacksdk.
    image_id = openstack_cli.run('''
import openstack
conn = openstack.connect(**params['auth'])
result = conn.image.create_image(params['name'], disk_format='qcow2',
                                 container_format='bare', allow_duplicates=True).id
''', auth=keystone_service.client_auth(alice), name=_name('osc-stage')).value
    assert me.json('image', 'show', image_id)['status'] == 'queued'
    me.ok('image', 'stage', '--file', path, image_id)
    assert me.json('image', 'show', image_id)['status'] == 'uploading'
    assert os.listdir(glance_api_options['import_staging_dir']) == [image_id]
    me.ok('image', 'import', '--method', 'glance-direct', image_id)
    shown = me.json('image', 'show', image_id)
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['properties']['os_hash_value'] == hashlib.sha256(data).hexdigest()
    refused = me.run('image', 'import', '--method', 'web-download', '--uri',
                     'http://127.0.0.1:9/x', image_id)
    assert refused.status == 1 and 'web-download' in refused.stderr
    me.ok('image', 'delete', image_id)
