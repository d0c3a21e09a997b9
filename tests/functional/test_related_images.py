"""Related images end to end: real daemons, real databases, the Nova-side services.

Each registry runs the shipped ``glance-registry-instance-aware`` pipeline (the
``instance_aware`` filter in front of the registry) on SQLite, PostgreSQL and MariaDB,
with a real glance-api in front of it. Nova installations are played by
:class:`~glance.nova.image_service.InstanceAwareGlanceImageService` objects built from
flag files whose installation UUID the real ``bin/glance-nova-manage`` wrote.

At the end, the registry client's own functional tests run again, unchanged, against
the instance-aware pipeline: the filter changes nothing for requests without the tuple.
"""

import hashlib
import io
import os
import subprocess
import sys
import types

import pytest

from glance.common.context import RequestContext
from glance.nova import image_service, installation
from glance.registry.client import RegistryClient
from tests.functional import daemons, databases
from tests.functional import test_registry_client as core_tests

INSTANCE_AWARE = 'glance-registry-instance-aware'
ALICE = types.SimpleNamespace(project_id='alice', user_id='alice-user', roles=['member'])
BOB = types.SimpleNamespace(project_id='bob', user_id='bob-user', roles=['member'])


def _registry(make_registry, make_database, kind):
    return make_registry(sql_connection=make_database(kind).url, pipeline=INSTANCE_AWARE)


@pytest.fixture(params=databases.KINDS)
def glance(request, make_registry, make_api, make_database):
    """One Glance: an instance-aware registry on each kind of database, and its API."""
    registry = _registry(make_registry, make_database, request.param)
    return types.SimpleNamespace(registry=registry.url, api=make_api(registry.url).url)


@pytest.fixture
def make_nova(tmp_path):
    """Factory fixture: ``make_nova(registries, api_url=None, api_urls=None)``.

    Plays one Nova installation: writes a flag file, has the real
    ``bin/glance-nova-manage`` generate its installation UUID, and returns the
    instance-aware image service built from that file. Its registry connections are
    closed before the daemons stop.
    """
    made = []

    def make(registries, api_url=None, api_urls=None):
        folder = tmp_path / ('nova-%d' % len(made))
        folder.mkdir()
        flagfile = folder / 'nova.conf'
        lines = ['--verbose', '--glance_registry_urls=%s' % ','.join(registries),
                 '--glance_timeout=20', '--glance_chunk_size=4096']
        if api_url:
            lines.append('--glance_api_url=%s' % api_url)
        if api_urls:
            lines.append('--glance_api_urls=%s' % ','.join(
                '%s=%s' % pair for pair in api_urls.items()))
        flagfile.write_text('\n'.join(lines) + '\n')
        done = subprocess.run(
            [sys.executable, os.path.join(daemons.REPO, 'bin', 'glance-nova-manage'),
             'generate-installation-uuid', '--flagfile', str(flagfile)],
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, PYTHONPATH=daemons.REPO))
        assert done.returncode == 0, done.stderr
        assert installation.read_installation_uuid(str(flagfile)) == done.stdout.strip()
        made.append(image_service.InstanceAwareGlanceImageService.from_flagfile(
            str(flagfile)))
        return made[-1]

    yield make
    for service in made:
        service.close()


def _blocks(data, size=1000):
    """An iterator over ``data``: the service sends it chunked, as it has no length."""
    return (data[offset:offset + size] for offset in range(0, len(data), size))


def _ids(images):
    return sorted(image['id'] for image in images)


def test_two_nova_installations_with_instance_123_stay_apart(glance, make_nova):
    nova_a = make_nova([glance.registry], glance.api)
    nova_b = make_nova([glance.registry], glance.api)
    assert nova_a.installation_uuid != nova_b.installation_uuid
    from_a = nova_a.snapshot(ALICE, 123, {'name': 'a-123', 'disk_format': 'raw',
                                          'container_format': 'bare'}, data=b'a' * 5000)
    from_b = nova_b.snapshot(ALICE, 123, {'name': 'b-123'}, data=b'b' * 5000)
    assert _ids(nova_a.images_for_instance(ALICE, 123)) == [from_a['id']]
    assert _ids(nova_b.images_for_instance(ALICE, 'i-0000007b')) == [from_b['id']]
    assert _ids(nova_a.index(ALICE)) == _ids([from_a, from_b])


def test_backup_scheduler_finds_exactly_the_backups_of_instance_123(glance, make_nova):
    nova = make_nova([glance.registry], glance.api)
    backups = [nova.backup(ALICE, 123, {'name': 'nightly-%d' % night},
                           data=b'%d' % night * 100, backup_type='daily')
               for night in range(3)]
    nova.snapshot(ALICE, 123, {'name': 'snapshot of 123'})
    nova.backup(ALICE, 124, {'name': 'nightly of 124'}, backup_type='daily')
    assert _ids(nova.images_for_instance(ALICE, 123, relation='backup')) == _ids(backups)

    # The scheduler's raw query, straight to the registry, newest first and paged.
    client = RegistryClient([glance.registry]).with_context(
        RequestContext('alice', 'alice-user', ['member']))
    filters = {'nova_installation_uuid': nova.installation_uuid, 'instance_id': 123,
               'relation': 'backup'}
    page = client.list_images(filters=filters, limit=2)
    assert [image['name'] for image in page['images']] == ['nightly-2', 'nightly-1']
    assert page['next'] is not None
    everything = list(client.iter_images(filters=filters, page_size=2))
    assert [image['name'] for image in everything] == ['nightly-2', 'nightly-1',
                                                       'nightly-0']
    client.close()

    nova.rotate_backups(ALICE, 123, 1, backup_type='daily')
    assert _ids(nova.images_for_instance(ALICE, 123, relation='backup')) == [
        backups[-1]['id']]


def test_alices_snapshot_is_in_her_list_and_not_in_bobs(glance, make_nova):
    nova = make_nova([glance.registry], glance.api)
    public = nova.create(ALICE, {'name': 'public base', 'is_public': True},
                         data=b'base' * 100)
    data = os.urandom(50000)
    snapshot = nova.snapshot(ALICE, 123, {'name': 'alice snap'}, data=_blocks(data))
    assert snapshot['status'] == 'active'
    assert snapshot['checksum'] == hashlib.md5(data).hexdigest()
    assert _ids(nova.index(ALICE)) == _ids([public, snapshot])
    assert _ids(nova.index(BOB)) == [public['id']]
    assert nova.images_for_instance(BOB, 123) == []
    written = io.BytesIO()
    assert nova.download(ALICE, snapshot['uri'], written) == len(data)
    assert written.getvalue() == data


def test_deleting_an_image_drops_it_from_instance_queries(glance, make_nova):
    nova = make_nova([glance.registry], glance.api)
    keep = nova.snapshot(ALICE, 123, {'name': 'keep'}, data=b'k' * 10)
    doomed = nova.snapshot(ALICE, 123, {'name': 'doomed'}, data=b'd' * 10)
    nova.delete(ALICE, doomed['uri'])
    assert _ids(nova.images_for_instance(ALICE, 123)) == [keep['id']]


def test_one_nova_against_two_glances(make_registry, make_api, make_database, make_nova):
    first = _registry(make_registry, make_database, 'sqlite')
    second = _registry(make_registry, make_database, 'postgresql')
    first_api, second_api = make_api(first.url), make_api(second.url)
    nova = make_nova([first.url, second.url],
                     api_urls={first.url: first_api.url, second.url: second_api.url})
    on_first = nova.snapshot(ALICE, 123, {'name': 'on first'}, data=b'1' * 3000)
    on_second = nova.snapshot(ALICE, 123, {'name': 'on second'}, data=b'2' * 3000,
                              registry=second.url)
    assert on_first['uri'].startswith(first.url + '/images/')
    assert on_second['uri'].startswith(second.url + '/images/')
    related = nova.images_for_instance(ALICE, 123)
    assert [image['id'] for image in related] == [on_first['id'], on_second['id']]
    assert [image['id'] for image in nova.images_for_instance(
        ALICE, 123, limit=1, marker=on_first['uri'])] == [on_second['id']]
    for image, content in ((on_first, b'1' * 3000), (on_second, b'2' * 3000)):
        written = io.BytesIO()
        nova.download(ALICE, image['uri'], written)
        assert written.getvalue() == content
    nova.delete(ALICE, on_second['uri'])
    assert [image['id'] for image in nova.images_for_instance(ALICE, 123)] == [
        on_first['id']]

    # The other side of many-to-many: a second Nova uses the same first Glance.
    other = make_nova([first.url], first_api.url)
    theirs = other.snapshot(ALICE, 123, {'name': 'other nova'})
    assert _ids(other.images_for_instance(ALICE, 123)) == [theirs['id']]
    assert _ids(nova.images_for_instance(ALICE, 123)) == [on_first['id']]


# -- the registry's core tests, again, through the instance-aware pipeline --------------

@pytest.fixture
def make_registry(make_registry):
    """The functional ``make_registry`` fixture, with the instance-aware pipeline."""
    def make(sql_connection=None, pipeline=INSTANCE_AWARE, sections=None, **options):
        return make_registry(sql_connection, pipeline, sections, **options)
    return make


@pytest.fixture(scope='module')
def registry_pipeline():
    """The pipeline of the registry client tests' shared registries: instance-aware."""
    return INSTANCE_AWARE


globals().update({name: value for name, value in vars(core_tests).items()
                  if name.startswith('test_') or name in (
                      'make_client', 'registry', 'fresh_registry', 'client',
                      'tls_registry')})
