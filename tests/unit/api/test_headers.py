"""Unit tests for the x-image-meta-* header mapping."""

import pytest

from glance.api import headers
from glance.common import exception


def _environ(**meta):
    return {'HTTP_X_IMAGE_META_' + key.upper(): value for key, value in meta.items()}


def test_fields_are_typed_and_properties_lower_cased():
    meta = headers.parse_image_meta(dict(_environ(
        name='cirros', is_public='true', size='42', disk_format='qcow2',
        property_OS_TYPE='linux'), HTTP_HOST='x'))
    assert meta.fields == {'name': 'cirros', 'is_public': True, 'size': 42,
                           'disk_format': 'qcow2'}
    assert meta.properties == {'os_type': 'linux'}
    assert meta.registry_metadata()['properties'] == {'os_type': 'linux'}


def test_digests_are_lower_cased_hex_of_their_length():
    meta = headers.parse_image_meta(_environ(checksum='A' * 32, sha256='B' * 64,
                                             blake3='C' * 64))
    assert meta.fields == {'checksum': 'a' * 32, 'sha256': 'b' * 64, 'blake3': 'c' * 64}


def test_locations_come_comma_separated_or_repeated():
    meta = headers.parse_image_meta(_environ(location='swift://c/a, swift://c/b,'))
    assert meta.locations == ['swift://c/a', 'swift://c/b']


def test_utf8_values_survive_the_latin1_environ():
    raw = 'café'.encode('utf-8').decode('latin-1')
    assert headers.parse_image_meta(_environ(name=raw)).fields['name'] == 'café'


@pytest.mark.parametrize('meta,reason', [
    ({'status': 'active'}, 'read-only'),
    ({'colour': 'red'}, 'unknown field'),
    ({'size': '-1'}, 'x-image-meta-size'),
    ({'size': 'big'}, 'x-image-meta-size'),
    ({'is_public': 'maybe'}, 'x-image-meta-is_public'),
    ({'checksum': 'abc'}, 'x-image-meta-checksum'),
    ({'blake3': 'a' * 63}, 'x-image-meta-blake3'),
    ({'blake3': 'a' * 32}, 'x-image-meta-blake3'),
    ({'blake3': 'z' * 64}, 'x-image-meta-blake3'),
    ({'property_': 'x'}, 'empty property name'),
])
def test_bad_headers_are_invalid_with_a_reason(meta, reason):
    with pytest.raises(exception.Invalid) as info:
        headers.parse_image_meta(_environ(**meta))
    assert reason in info.value.message


IMAGE = {'id': 'i1', 'name': 'n', 'status': 'active', 'is_public': False, 'size': 3,
         'owner': None, 'properties': {'b': '2', 'a': 'ü'},
         'location': 'swift://c/i1-00000',
         'chunks': [{'location': 'swift://c/i1-00000', 'size': 2, 'checksum': 'x'},
                    {'location': 'swift://c/i1-00001', 'size': 1, 'checksum': 'y'}]}


def test_response_headers_hide_locations_from_non_admins():
    rendered = headers.image_meta_headers(IMAGE, show_locations=False)
    names = [name for name, _ in rendered]
    assert 'x-image-meta-location' not in names and 'x-image-meta-owner' not in names
    assert ('x-image-meta-is_public', 'False') in rendered
    assert ('x-image-meta-property-a', '%C3%BC') in rendered
    assert names.index('x-image-meta-property-a') < names.index('x-image-meta-property-b')


def test_response_headers_carry_the_digests():
    rendered = headers.image_meta_headers(dict(IMAGE, checksum='1' * 32,
                                               sha256='2' * 64, blake3='3' * 64), False)
    assert [item for item in rendered if item[0] in (
        'x-image-meta-checksum', 'x-image-meta-sha256', 'x-image-meta-blake3')] == [
        ('x-image-meta-checksum', '1' * 32), ('x-image-meta-sha256', '2' * 64),
        ('x-image-meta-blake3', '3' * 64)]


def test_admins_get_one_location_header_per_chunk():
    rendered = headers.image_meta_headers(IMAGE, show_locations=True)
    assert [value for name, value in rendered if name == 'x-image-meta-location'] == [
        'swift://c/i1-00000', 'swift://c/i1-00001']


def test_visible_record_drops_locations_and_chunks_for_non_admins():
    assert 'chunks' not in headers.visible_record(IMAGE, False)
    assert 'location' not in headers.visible_record(IMAGE, False)
    assert headers.visible_record(IMAGE, True) is IMAGE


def test_protected_and_minimums_go_both_ways():
    # WSGI folds x-image-meta-min-disk and x-image-meta-min_disk alike.
    meta = headers.parse_image_meta({'HTTP_X_IMAGE_META_PROTECTED': 'True',
                                     'HTTP_X_IMAGE_META_MIN_DISK': '20',
                                     'HTTP_X_IMAGE_META_MIN_RAM': '1024'})
    assert meta.fields == {'protected': True, 'min_disk': 20, 'min_ram': 1024}
    rendered = headers.image_meta_headers(dict(IMAGE, visibility='community',
                                               protected=True, min_disk=20, min_ram=0),
                                          False)
    assert [item for item in rendered if item[0] in (
        'x-image-meta-is_public', 'x-image-meta-protected', 'x-image-meta-min_disk',
        'x-image-meta-min_ram')] == [
        ('x-image-meta-is_public', 'False'), ('x-image-meta-protected', 'True'),
        ('x-image-meta-min_disk', '20'), ('x-image-meta-min_ram', '0')]
    with pytest.raises(exception.Invalid, match='x-image-meta-min_ram'):
        headers.parse_image_meta({'HTTP_X_IMAGE_META_MIN_RAM': '-1'})
