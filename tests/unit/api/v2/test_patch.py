"""Unit tests for the v2 JSON-patch parser and its application to an image view."""

import pytest

from glance.api.v2 import patch, view
from glance.common import exception

V21 = 'application/openstack-images-v2.1-json-patch'
V20 = 'application/openstack-images-v2.0-json-patch'


def _image(**properties):
    record = {'id': '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47', 'name': 'cirros',
              'status': 'active', 'visibility': 'shared', 'protected': False,
              'min_disk': 0, 'min_ram': 0, 'tags': ['a'], 'owner': 'p1',
              'created_at': '2026-11-30T19:00:00.123456Z',
              'updated_at': '2026-11-30T19:00:01.000000Z', 'properties': properties}
    return view.image(record)


def _apply(ops, image=None, media=V21):
    return patch.apply(image or _image(), patch.parse(ops, patch.draft_of(media)))


def test_replace_and_add_base_properties_become_registry_fields():
    update = _apply([{'op': 'replace', 'path': '/name', 'value': 'new'},
                     {'op': 'add', 'path': '/min_ram', 'value': 512},
                     {'op': 'replace', 'path': '/tags', 'value': ['a', 'b']},
                     {'op': 'replace', 'path': '/visibility', 'value': 'private'},
                     {'op': 'replace', 'path': '/protected', 'value': True}])
    assert update == {'name': 'new', 'min_ram': 512, 'tags': ['a', 'b'],
                      'visibility': 'private', 'protected': True}


def test_extra_properties_are_added_replaced_and_removed():
    image = _image(os_distro='cirros', hw_disk_bus='ide', gone='x')
    update = _apply([{'op': 'add', 'path': '/new', 'value': 'v'},
                     {'op': 'replace', 'path': '/hw_disk_bus', 'value': 'scsi'},
                     {'op': 'add', 'path': '/os_distro', 'value': 'cirros'},
                     {'op': 'remove', 'path': '/gone'}], image)
    assert update == {'properties': {'new': 'v', 'hw_disk_bus': 'scsi', 'gone': None}}


def test_operations_apply_in_order_and_nothing_changed_is_empty():
    assert _apply([{'op': 'add', 'path': '/x', 'value': '1'},
                   {'op': 'remove', 'path': '/x'},
                   {'op': 'replace', 'path': '/name', 'value': 'cirros'}]) == {}


def test_json_pointer_escapes_name_properties_with_slash_and_tilde():
    update = _apply([{'op': 'add', 'path': '/a~1b~0c', 'value': 'v'}])
    assert update == {'properties': {'a/b~c': 'v'}}


@pytest.mark.parametrize('path', ['/status', '/size', '/checksum', '/os_hash_value',
                                  '/os_hash_algo', '/id', '/created_at', '/self',
                                  '/file', '/schema', '/virtual_size', '/locations',
                                  '/direct_url', '/location', '/deleted', '/os_hidden'])
@pytest.mark.parametrize('op', ['add', 'replace', 'remove'])
def test_read_only_and_reserved_properties_are_403(op, path):
    with pytest.raises(exception.Forbidden):
        patch.parse([{'op': op, 'path': path, 'value': 'x'}], 10)


def test_removing_a_base_property_is_403():
    with pytest.raises(exception.Forbidden, match='may not be removed'):
        _apply([{'op': 'remove', 'path': '/name'}])


@pytest.mark.parametrize('op', ['replace', 'remove'])
def test_replacing_or_removing_a_missing_extra_property_is_409(op):
    with pytest.raises(exception.Conflict, match='does not exist'):
        _apply([{'op': op, 'path': '/missing', 'value': 'x'}])


def test_v20_media_type_names_the_op_as_the_key_and_refuses_adding_twice():
    image = _image(kept='1')
    assert _apply([{'replace': '/name', 'value': 'n'}, {'add': '/new', 'value': 'v'}],
                  image, V20) == {'name': 'n', 'properties': {'new': 'v'}}
    for ops in ([{'add': '/kept', 'value': '2'}], [{'add': '/name', 'value': 'n'}]):
        with pytest.raises(exception.Conflict, match='already present'):
            _apply(ops, image, V20)


@pytest.mark.parametrize('ops', [
    {'op': 'add', 'path': '/x', 'value': '1'},          # not an array
    [['op', 'add']],                                    # not an object
    [{'op': 'move', 'path': '/x', 'from': '/y'}],       # unsupported op
    [{'op': 'add', 'value': '1'}],                      # no path
    [{'op': 'add', 'path': '/x'}],                      # no value
    [{'op': 'add', 'path': 'x', 'value': '1'}],         # no leading slash
    [{'op': 'add', 'path': '/a/b', 'value': '1'}],      # two levels
    [{'op': 'add', 'path': '/tags/-', 'value': 't'}],   # element of a list
    [{'op': 'add', 'path': '/', 'value': '1'}],         # no name
    [{'op': 'add', 'path': '/a~2', 'value': '1'}],      # bad escape
    [{'op': 'add', 'path': '/x', 'value': 1}],          # extra properties are strings
    [{'op': 'replace', 'path': '/min_disk', 'value': -1}],
    [{'op': 'replace', 'path': '/min_ram', 'value': '512'}],
    [{'op': 'replace', 'path': '/protected', 'value': 'yes'}],
    [{'op': 'replace', 'path': '/visibility', 'value': 'everyone'}],
    [{'op': 'replace', 'path': '/tags', 'value': 'a,b'}],
    [{'op': 'replace', 'path': '/tags', 'value': ['x' * 256]}],
    [{'op': 'replace', 'path': '/name', 'value': 'x' * 256}],
    [{'op': 'add', 'path': '/' + 'k' * 256, 'value': 'v'}],
])
def test_malformed_operations_are_400(ops):
    with pytest.raises(exception.Invalid):
        patch.parse(ops, 10)


@pytest.mark.parametrize('content_type', [None, 'application/json',
                                          'application/json-patch+json'])
def test_other_media_types_are_415_with_accept_patch(content_type):
    with pytest.raises(exception.UnsupportedMediaType) as info:
        patch.draft_of(content_type)
    assert info.value.headers['Accept-Patch'] == ', '.join(sorted(patch.MEDIA_TYPES))
