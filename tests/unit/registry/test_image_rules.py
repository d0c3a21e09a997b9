"""Who may set which image field, the status machine and the registry's limits,
through the real registry app over in-memory SQLite."""

import json
import types

import pytest

from glance.common import exception
from glance.common.context import RequestContext
from glance.registry import api, image_rules
from tests.unit.registry.conftest import ENDPOINT, Caller

CHUNKS = [{'location': 'file:///data/a.0', 'size': 3, 'checksum': 'abc'}]


def _error(response, status):
    assert response.status_int == status, response.text
    assert response.content_type == 'application/json'
    return response.json['error']['message']


def _active(service):
    return service.create(status='active', size=3, checksum='a' * 32,
                          blake3='b' * 64, chunks=CHUNKS)


@pytest.mark.parametrize('field, value', [
    ('size', 10), ('checksum', 'b' * 32), ('sha256', 'c' * 64), ('blake3', 'd' * 64),
    ('status', 'killed'), ('chunks', CHUNKS), ('location', 'file:///data/x')])
def test_owner_cannot_set_service_fields_on_create_or_update(alice, field, value):
    message = _error(alice('POST', '/images', {'image': {field: value}}), 403)
    assert 'upload flow' in message
    image = alice.create(name='mine')
    message = _error(alice('PUT', '/images/' + image['id'], {'image': {field: value}}),
                     403)
    assert 'upload flow' in message
    assert alice('GET', '/images/' + image['id']).json['image']['status'] == 'queued'


def test_owner_put_of_a_new_size_or_checksum_on_an_active_image_is_refused(
        service, alice):
    image = _active(service)
    for change in ({'size': 4}, {'checksum': 'f' * 32}):
        message = _error(alice('PUT', '/images/' + image['id'], {'image': change}), 403)
        assert list(change)[0] in message
    record = alice('GET', '/images/' + image['id']).json['image']
    assert (record['size'], record['checksum']) == (3, 'a' * 32)


def test_admin_cannot_set_service_fields(admin, alice):
    image = alice.create()
    message = _error(admin('PUT', '/images/' + image['id'],
                           {'image': {'status': 'active', 'size': 1}}), 403)
    assert 'status, size' in message


@pytest.mark.parametrize('change', [
    {'size': 4}, {'checksum': 'f' * 32}, {'sha256': 'e' * 64}, {'blake3': 'd' * 64},
    {'checksum': None},
    {'chunks': []}, {'location': 'file:///data/other'}])
@pytest.mark.parametrize('roles', [('service',), ('service', 'admin')])
def test_data_fields_of_an_active_image_are_immutable_even_for_services_and_admins(
        service, registry_app, change, roles):
    image = _active(service)
    caller = Caller(registry_app, 'alice', roles)
    message = _error(caller('PUT', '/images/' + image['id'], {'image': change}), 409)
    assert 'active' in message and 'cannot change' in message
    assert service('GET', '/images/' + image['id']).json['image'] == image


@pytest.mark.parametrize('field, value', [
    ('blake3', 'c' * 64), ('detected_format', 'qcow2'), ('virtual_size', 1024)])
def test_an_empty_recorded_once_field_of_an_active_image_is_filled_once(
        service, field, value):
    image = service.create(status='active', size=3, checksum='a' * 32, chunks=CHUNKS)
    filled = service('PUT', '/images/' + image['id'], {'image': {field: value}})
    assert filled.status_int == 200, filled.text
    assert filled.json['image'][field] == value
    other = 'd' * 64 if field == 'blake3' else ('raw' if field == 'detected_format'
                                                else 2048)
    message = _error(service('PUT', '/images/' + image['id'],
                             {'image': {field: other}}), 409)
    assert 'cannot change' in message


def test_resending_unchanged_data_fields_of_an_active_image_is_accepted(service):
    image = _active(service)
    response = service('PUT', '/images/' + image['id'], {'image': {
        'size': 3, 'checksum': 'a' * 32, 'chunks': CHUNKS, 'name': 'renamed'}})
    assert response.status_int == 200, response.text
    assert response.json['image']['name'] == 'renamed'


def test_metadata_of_an_active_image_still_changes(alice, service):
    image = _active(service)
    response = alice('PUT', '/images/' + image['id'], {'image': {
        'name': 'n', 'properties': {'os': 'linux'}}})
    assert response.status_int == 200, response.text


def test_data_fields_stay_frozen_after_pending_delete(service):
    image = _active(service)
    service('PUT', '/images/' + image['id'], {'image': {'status': 'pending_delete'}})
    _error(service('PUT', '/images/' + image['id'], {'image': {'size': 9}}), 409)


_PAIRS = [(old, new) for old in image_rules.STATUSES for new in image_rules.STATUSES
          if old not in ('deleted',) and new != old]


def _reach(service, status):
    """A new image brought to ``status`` along allowed transitions."""
    path = {'queued': [], 'saving': ['saving'], 'active': ['active'],
            'uploading': ['uploading'],
            'killed': ['killed'], 'pending_delete': ['pending_delete']}[status]
    image = service.create()
    for step in path:
        assert service('PUT', '/images/' + image['id'],
                       {'image': {'status': step}}).status_int == 200
    return image


@pytest.mark.parametrize('old, new', _PAIRS)
def test_every_status_change_follows_the_table(service, old, new):
    image = _reach(service, old)
    response = service('PUT', '/images/' + image['id'], {'image': {'status': new}})
    if new in image_rules.TRANSITIONS[old]:
        assert response.status_int == 200, response.text
        assert response.json['image']['status'] == new
    else:
        message = _error(response, 409)
        assert old in message and new in message


@pytest.mark.parametrize('old', [s for s in image_rules.STATUSES if s != 'deleted'])
def test_owner_delete_follows_the_table_from_every_status(service, alice, old):
    image = _reach(service, old)
    assert alice('DELETE', '/images/' + image['id']).status_int == 204


def test_usage_sums_the_sizes_of_a_tenants_images_that_are_not_deleted(
        service, registry_app, alice, bob):
    first = service.create(status='active', size=10, chunks=CHUNKS)
    service.create(status='active', size=5, chunks=CHUNKS)
    service.create()
    Caller(registry_app, 'bob', ('service',)).create(size=1000)
    service('PUT', '/images/' + first['id'], {'image': {'status': 'deleted'}})
    body = service('GET', '/usage?owner=alice').json
    assert body == {'usage': {'owner': 'alice', 'images': 2, 'size': 5}}
    assert alice('GET', '/usage?owner=alice').json['usage']['size'] == 5
    _error(bob('GET', '/usage?owner=alice'), 403)
    _error(service('GET', '/usage'), 400)
    _error(service('GET', '/usage?owner=alice&x=1'), 400)
    assert service('GET', '/usage?owner=nobody').json['usage'] == {
        'owner': 'nobody', 'images': 0, 'size': 0}


@pytest.fixture
def limited(database):
    options = api.RegistryOptions(public_endpoint=ENDPOINT, image_property_quota=2,
                                  max_json_body_size=2048, max_json_depth=4)
    return Caller(api.build_app(database, options), 'alice', ('member',))


def test_property_quota_applies_to_create_and_to_merged_updates(limited):
    _error(limited('POST', '/images', {'image': {
        'properties': {'a': '1', 'b': '2', 'c': '3'}}}), 413)
    image = limited.create(properties={'a': '1', 'b': '2'})
    message = _error(limited('PUT', '/images/' + image['id'],
                             {'image': {'properties': {'c': '3'}}}), 413)
    assert 'image_property_quota' in message
    assert limited('GET', '/images/' + image['id']).json['image']['properties'] == {
        'a': '1', 'b': '2'}
    response = limited('PUT', '/images/' + image['id'],
                       {'image': {'properties': {'a': None, 'c': '3'}}})
    assert response.json['image']['properties'] == {'b': '2', 'c': '3'}


def test_json_body_size_and_depth_limits(limited):
    _error(limited('POST', '/images', {'image': {'name': 'x' * 3000}}), 413)
    deep = {'image': {'properties': {'a': [[['x']]]}}}
    message = _error(limited('POST', '/images', raw=json.dumps(deep).encode()), 400)
    assert 'deeper than 4' in message


def test_bad_limit_options_stop_startup():
    for option, value in (('image_property_quota', '-1'), ('max_json_depth', '0'),
                          ('max_json_body_size', 'big')):
        with pytest.raises(Exception) as caught:
            api.load_options({option: value})
        assert option in str(caught.value)


def test_protected_images_refuse_deleting_statuses_unless_unprotected_too():
    for status in image_rules.DELETING_STATUSES:
        with pytest.raises(exception.Forbidden, match='protected'):
            image_rules.check_protection('i', True, {'status': status})
        image_rules.check_protection('i', True, {'status': status, 'protected': False})
        image_rules.check_protection('i', False, {'status': status})
    image_rules.check_protection('i', True, {'status': 'active'})


def test_members_are_managed_by_owner_admin_or_a_sharing_member():
    alice = RequestContext(tenant='alice', roles=['member'])
    bob = RequestContext(tenant='bob', roles=['member'])
    admin = RequestContext(tenant='ops', roles=['admin'])
    image_rules.check_member_manager(alice, 'i', 'alice', None)
    image_rules.check_member_manager(admin, 'i', 'alice', None)
    image_rules.check_member_manager(bob, 'i', 'alice', types.SimpleNamespace(can_share=True))
    for membership in (None, types.SimpleNamespace(can_share=False)):
        with pytest.raises(exception.Forbidden):
            image_rules.check_member_manager(bob, 'i', 'alice', membership)
    image_rules.check_status_setter(bob, 'bob')
    for caller in (alice, admin):
        with pytest.raises(exception.Forbidden, match='only member bob'):
            image_rules.check_status_setter(caller, 'bob')
    with pytest.raises(exception.Forbidden, match='only shared images'):
        image_rules.check_shared('i', 'private')
    with pytest.raises(exception.Forbidden, match='publish_roles'):
        image_rules.check_publishing(bob, {'visibility': 'community'})
