"""Unit tests for the v2 image and member views and the schemas they must satisfy."""

import jsonschema_rs
import pytest

from glance.api.v2 import schemas, view

RECORD = {
    'id': '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47', 'uri': 'http://r/images/x',
    'name': 'cirros', 'status': 'active', 'visibility': 'public', 'is_public': True,
    'protected': True, 'disk_format': 'qcow2', 'container_format': 'bare',
    'size': 13, 'virtual_size': 1024, 'checksum': 'c' * 32, 'sha256': 'a' * 64,
    'blake3': 'b' * 64, 'detected_format': 'qcow2', 'owner': 'p1', 'min_disk': 1,
    'min_ram': 64, 'tags': ['x', 'y'], 'properties': {'os_distro': 'cirros',
                                                     'size': 'shadowed'},
    'created_at': '2026-11-30T19:00:00.123456Z',
    'updated_at': '2026-11-30T19:05:00.000001Z', 'deleted': False, 'deleted_at': None,
    'chunks': [{'location': 'file:///x', 'size': 13, 'checksum': None}]}


def test_image_view_is_glance_v2_flat_shape():
    shown = view.image(RECORD)
    image_id = RECORD['id']
    assert shown == {
        'id': image_id, 'name': 'cirros', 'status': 'active', 'visibility': 'public',
        'protected': True, 'os_hidden': False, 'checksum': 'c' * 32,
        'os_hash_algo': 'sha256', 'os_hash_value': 'a' * 64, 'owner': 'p1',
        'size': 13, 'virtual_size': 1024, 'container_format': 'bare',
        'disk_format': 'qcow2', 'min_disk': 1, 'min_ram': 64, 'tags': ['x', 'y'],
        'created_at': '2026-11-30T19:00:00Z', 'updated_at': '2026-11-30T19:05:00Z',
        'self': '/v2/images/' + image_id, 'file': '/v2/images/%s/file' % image_id,
        'schema': '/v2/schemas/image', 'os_distro': 'cirros'}


def test_queued_image_has_no_hash_and_validates():
    queued = dict(RECORD, status='queued', size=None, virtual_size=None, checksum=None,
                  sha256=None, properties={}, tags=[])
    shown = view.image(queued)
    assert shown['os_hash_algo'] is None and shown['os_hash_value'] is None
    assert jsonschema_rs.validator_for(schemas.image_schema(['qcow2'])).is_valid(shown)


@pytest.mark.parametrize('record', [RECORD, dict(RECORD, name=None, disk_format=None,
                                                 container_format=None)])
def test_every_view_validates_against_the_served_image_schema(record):
    validator = jsonschema_rs.validator_for(schemas.image_schema(['qcow2', 'raw']))
    assert validator.is_valid(view.image(record))
    listed = {'images': [view.image(record)], 'first': '/v2/images',
              'schema': '/v2/schemas/images'}
    assert jsonschema_rs.validator_for(schemas.images_schema(['qcow2'])).is_valid(listed)


def test_schema_refuses_what_check_value_refuses():
    validator = jsonschema_rs.validator_for(schemas.image_schema())
    assert not validator.is_valid(dict(view.image(RECORD), extra=5))
    assert not validator.is_valid(dict(view.image(RECORD), min_ram=-1))
    assert not validator.is_valid(dict(view.image(RECORD), visibility='everyone'))


def test_schema_marks_read_only_properties():
    properties = schemas.image_schema()['properties']
    read_only = {name for name, spec in properties.items() if spec.get('readOnly')}
    assert read_only == {'status', 'os_hidden', 'checksum', 'os_hash_algo',
                         'os_hash_value', 'size', 'virtual_size', 'created_at',
                         'updated_at', 'self', 'file', 'schema'}
    assert properties['disk_format'].get('enum') is None
    assert schemas.image_schema(['raw'])['properties']['disk_format']['enum'] == [
        None, 'raw']


def test_member_view_validates_against_member_schema():
    shown = view.member({'image_id': RECORD['id'], 'member_id': 'p2', 'can_share': False,
                         'status': 'pending', 'created_at': '2026-11-30T19:00:00.5Z',
                         'updated_at': '2026-11-30T19:00:00.5Z'})
    assert shown == {'image_id': RECORD['id'], 'member_id': 'p2', 'status': 'pending',
                     'created_at': '2026-11-30T19:00:00Z',
                     'updated_at': '2026-11-30T19:00:00Z',
                     'schema': '/v2/schemas/member'}
    assert jsonschema_rs.validator_for(schemas.member_schema()).is_valid(shown)
    assert jsonschema_rs.validator_for(schemas.members_schema()).is_valid(
        {'members': [shown], 'schema': '/v2/schemas/members'})
