"""Unit tests of the image core (:class:`glance.api.core.ImageCore`), called directly.

The registry is the real registry app on SQLite, served in-process over HTTP, and the
core's registry client is a real :class:`~glance.registry.client.RegistryClient`
(wrapped by :class:`_Observed` to record the status changes it sends); the memory
store (the one fake store, see ``memory_store.py``) injects store failures.
"""

import hashlib
import io
import json
import urllib.request

import blake3
import pytest

from glance.api import conversion, core, router
from glance.common import context, exception
from glance.registry.client import RegistryClient
from tests.disk_images import DiskImages
from tests.unit.api.memory_store import memory_stores
from tests.unit.nova import glance_services

ADMIN_HEADERS = {'X-Tenant-Id': 'ops', 'X-User-Id': 'root', 'X-Roles': 'admin'}
USER = context.RequestContext('tenant1', 'user1', ('member',))
OTHER = context.RequestContext('tenant2', 'user2', ('member',))
ADMIN = context.RequestContext('ops', 'root', ('admin',))
DATA = b'x' * 25000


class _Observed:
    """A registry client that records the statuses it sends."""

    def __init__(self, client, statuses):
        self.client = client
        self.statuses = statuses

    def with_context(self, ctx):
        return _Observed(self.client.with_context(ctx), self.statuses)

    def update_image(self, image_id, metadata, **kwargs):
        if 'status' in metadata:
            self.statuses.append(metadata['status'])
        return self.client.update_image(image_id, metadata, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.fixture(scope='module')
def registry(tmp_path_factory):
    served = glance_services.serve_registry(tmp_path_factory.mktemp('registry'),
                                            instance_aware_filter=False)
    yield served
    served.stop()


@pytest.fixture
def stores():
    return memory_stores(chunk_size=1024)


@pytest.fixture
def statuses():
    return []


@pytest.fixture
def client(registry, statuses):
    conf = {'registry_urls': registry.url, 'registry_trusted_gateway': 'true'}
    return _Observed(RegistryClient.from_conf(conf), statuses)


OPTIONS = router.ApiOptions(read_block_size=4096, store_chunk_size=10240)


@pytest.fixture
def image_core(client, stores):
    return core.ImageCore(client, stores, OPTIONS)


def _reserve(image_core, name, ctx=USER, **fields):
    return image_core.reserve(ctx, dict(fields, name=name, disk_format='raw',
                                        container_format='bare'))


def _registry_record(registry, image_id):
    """The registry record of an image, seen by an admin (status included)."""
    request = urllib.request.Request(registry.url + '/images/' + image_id,
                                     headers=ADMIN_HEADERS)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)['image']


def test_an_upload_goes_queued_saving_active_and_stores_its_chunks(image_core, stores,
                                                                    statuses):
    image = _reserve(image_core, 'fine')
    assert image['status'] == 'queued'
    image = image_core.upload(USER, image['id'], io.BytesIO(DATA), len(DATA))
    assert statuses == ['saving', 'active']
    assert image['status'] == 'active' and image['size'] == len(DATA)
    assert image['blake3'] == blake3.blake3(DATA).hexdigest()
    assert sorted(len(data) for data in stores.default_store.objects.values()) == [
        4520, 10240, 10240]


@pytest.mark.parametrize('setup', [{'fail_write_after': 15000}, {'lose_bytes': 1}])
def test_a_store_failure_kills_the_image_and_deletes_every_chunk(image_core, stores,
                                                                 registry, statuses,
                                                                 setup):
    store = stores.default_store
    for attribute, value in setup.items():
        setattr(store, attribute, value)
    image = _reserve(image_core, 'broken')
    with pytest.raises(exception.GlanceException):
        image_core.upload(USER, image['id'], io.BytesIO(DATA), len(DATA))
    assert store.objects == {}
    assert statuses == ['saving', 'killed']
    assert _registry_record(registry, image['id'])['status'] == 'killed'


def test_a_declared_checksum_that_differs_is_invalid_and_kills(image_core, stores,
                                                               registry):
    image = _reserve(image_core, 'lied', checksum=hashlib.md5(b'other').hexdigest())
    with pytest.raises(exception.Invalid, match='x-image-meta-checksum is'):
        image_core.upload(USER, image['id'], io.BytesIO(DATA), len(DATA))
    assert stores.default_store.objects == {}
    assert _registry_record(registry, image['id'])['status'] == 'killed'


def test_after_body_runs_once_the_body_is_read_and_its_refusal_kills(image_core,
                                                                     stores, registry):
    body = io.BytesIO(DATA)
    seen = []

    def after_body():
        seen.append(body.tell())
        raise exception.Invalid(reason='more body than declared')
    image = _reserve(image_core, 'trailing')
    with pytest.raises(exception.Invalid, match='more body'):
        image_core.upload(USER, image['id'], body, len(DATA), after_body=after_body)
    assert seen == [len(DATA)]
    assert stores.default_store.objects == {}
    assert _registry_record(registry, image['id'])['status'] == 'killed'


def test_data_for_an_image_that_is_not_queued_is_a_conflict_and_unread(image_core):
    image = _reserve(image_core, 'twice')
    image_core.upload(USER, image['id'], io.BytesIO(b'first'), 5)
    body = io.BytesIO(b'second')
    with pytest.raises(exception.Conflict, match='is active'):
        image_core.upload(USER, image['id'], body, 6)
    assert body.tell() == 0


def test_a_location_without_an_object_leaves_no_record(image_core, client):
    before = client.with_context(ADMIN).list_images(filters={'name': 'ghost'})
    with pytest.raises(exception.Invalid, match='location 1 .* has no object'):
        image_core.reserve(ADMIN, {'name': 'ghost', 'disk_format': 'raw',
                                   'container_format': 'bare'},
                           locations=['memory://elsewhere/none'])
    after = client.with_context(ADMIN).list_images(filters={'name': 'ghost'})
    assert before['images'] == after['images'] == []


def test_registered_locations_activate_and_delete_leaves_their_objects(image_core,
                                                                       stores, statuses):
    store = stores.default_store
    locations = [store.put('elsewhere/a', b'abc'), store.put('elsewhere/b', b'defg')]
    with pytest.raises(exception.Forbidden, match='Only admins may register'):
        image_core.register(USER, _reserve(image_core, 'mine')['id'], locations)
    image = _reserve(image_core, 'registered', ctx=ADMIN)
    image = image_core.register(ADMIN, image['id'], locations, {'size': 7})
    assert image['status'] == 'active' and image['size'] == 7
    assert statuses == ['saving', 'active']
    image_core.delete(ADMIN, image['id'])
    assert sorted(store.objects) == ['elsewhere/a', 'elsewhere/b']
    assert image_core.get(ADMIN, image['id'])['deleted'] is True


def test_delete_goes_pending_delete_and_removes_the_uploaded_chunks(image_core, stores,
                                                                    statuses):
    image = _reserve(image_core, 'doomed')
    image_core.upload(USER, image['id'], io.BytesIO(DATA), len(DATA))
    with pytest.raises(exception.ImageNotFound):
        image_core.delete(OTHER, image['id'])
    image_core.delete(USER, image['id'])
    assert statuses == ['saving', 'active', 'pending_delete']
    assert stores.default_store.objects == {}


def test_a_protected_image_is_not_deleted(image_core, stores, statuses):
    image = _reserve(image_core, 'precious', protected=True)
    image_core.upload(USER, image['id'], io.BytesIO(DATA), len(DATA))
    with pytest.raises(exception.Forbidden, match='is protected'):
        image_core.delete(USER, image['id'])
    assert statuses == ['saving', 'active']
    assert len(stores.default_store.objects) == 3
    assert image_core.get(USER, image['id'])['status'] == 'active'
    image_core.update(USER, image['id'], {'protected': False})
    image_core.delete(USER, image['id'])
    assert stores.default_store.objects == {}


def test_open_download_streams_verified_bytes_of_active_images_only(image_core):
    image = _reserve(image_core, 'served')
    with pytest.raises(exception.ImageNotFound, match='its status is queued'):
        image_core.open_download(USER, image['id'], {})
    image_core.upload(USER, image['id'], io.BytesIO(DATA), len(DATA))
    opened = image_core.open_download(USER, image['id'], {})
    assert opened.size == len(DATA) and opened.image['id'] == image['id']
    assert b''.join(opened.body) == DATA
    assert (opened.verified_by(False), opened.verified_by(True)) == ('blake3', 'none')


def test_a_registered_image_learns_its_blake3_on_a_first_full_read(image_core, stores):
    location = stores.default_store.put('elsewhere/learn', b'learn me')
    image = _reserve(image_core, 'learner', ctx=ADMIN)
    image_core.register(ADMIN, image['id'], [location])
    opened = image_core.open_download(ADMIN, image['id'], {})
    assert opened.verified_by(False) == 'none'
    assert b''.join(opened.body) == b'learn me'
    assert image_core.get(ADMIN, image['id'])['blake3'] == blake3.blake3(
        b'learn me').hexdigest()


def test_update_merges_or_replaces_properties(image_core):
    image = _reserve(image_core, 'props', properties={'a': '1'})
    image = image_core.update(USER, image['id'], {'properties': {'b': '2'}})
    assert image['properties'] == {'a': '1', 'b': '2'}
    image = image_core.update(USER, image['id'], {'properties': {'c': '3'}},
                              purge_props=True)
    assert image['properties'] == {'c': '3'}


def test_list_pages_with_next_markers_until_none(image_core):
    ids = {_reserve(image_core, 'paged')['id'] for _ in range(3)}
    seen, marker = [], None
    for _page in range(5):
        images, marker = image_core.list(USER, filters={'name': 'paged'}, limit=2,
                                         marker=marker)
        seen += [image['id'] for image in images]
        if marker is None:
            break
    assert marker is None and sorted(seen) == sorted(ids)


def test_a_converted_upload_consumes_the_body_first_and_records_its_source(
        client, stores, statuses, tmp_path):
    disk_images = DiskImages(tmp_path)
    source = disk_images.data('vhdx')
    converting = core.ImageCore(client, stores, OPTIONS,
                                conversions=conversion.ConversionOptions.from_conf(
                                    {'convert_to': 'raw',
                                     'conversion_work_dir': str(tmp_path)}))
    body = io.BytesIO(source)
    seen = []
    image = converting.reserve(USER, {'name': 'converted', 'disk_format': 'vhdx',
                                      'container_format': 'bare'}, with_data=True)
    image = converting.upload(USER, image['id'], body, len(source),
                              after_body=lambda: seen.append(body.tell()))
    assert seen == [len(source)] and statuses == ['saving', 'active']
    assert image['disk_format'] == 'raw'
    assert image['properties']['source_sha256'] == hashlib.sha256(source).hexdigest()
    data = b''.join(converting.open_download(USER, image['id'], {}).body)
    assert len(data) == image['size'] and image['sha256'] == hashlib.sha256(
        data).hexdigest()


def test_members_and_tags_reach_the_registry(image_core):
    image = _reserve(image_core, 'shared', visibility='shared')
    with pytest.raises(exception.ImageNotFound):
        image_core.get(OTHER, image['id'])
    image_core.add_member(USER, image['id'], 'tenant2')
    assert [(m['member_id'], m['status']) for m in image_core.members(
        USER, image['id'])] == [('tenant2', 'pending')]
    assert image_core.get(OTHER, image['id'])['id'] == image['id']
    image_core.set_member_status(OTHER, image['id'], 'tenant2', 'accepted')
    assert [(s['image_id'], s['status']) for s in image_core.shared_images(
        USER, 'tenant2')] == [(image['id'], 'accepted')]
    image_core.replace_members(USER, image['id'], [{'member_id': 'tenant3',
                                                    'can_share': False}],
                               accepted=True)
    assert [(m['member_id'], m['status']) for m in image_core.members(
        USER, image['id'])] == [('tenant3', 'accepted')]
    image_core.remove_member(USER, image['id'], 'tenant3')
    assert image_core.members(USER, image['id']) == []
    image_core.add_tag(USER, image['id'], 'gold')
    assert image_core.get(USER, image['id'])['tags'] == ['gold']
    image_core.remove_tag(USER, image['id'], 'gold')
    assert image_core.get(USER, image['id'])['tags'] == []
