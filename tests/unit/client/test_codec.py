"""The x-image-meta header codec: request form, response form, and their round trip."""

import pytest

from glance.api import headers as api_headers
from glance.client import codec
from glance.common import exception


def test_image_metadata_reads_fields_properties_and_types():
    image = codec.image_metadata([
        ('x-image-meta-id', 'abc'), ('X-Image-Meta-Size', '42'),
        ('x-image-meta-is_public', 'True'), ('x-image-meta-name', 'caf%C3%A9 100%'),
        ('x-image-meta-property-OS', 'linux'), ('x-image-meta-location', 'file:///a'),
        ('x-image-meta-location', 'file:///b'), ('Content-Type', 'x')])
    assert image == {'id': 'abc', 'size': 42, 'is_public': True, 'name': 'café 100%',
                     'properties': {'OS': 'linux'},
                     'locations': ['file:///a', 'file:///b']}


def test_plain_ascii_value_with_percent_is_kept_as_sent():
    assert codec.image_metadata([('x-image-meta-name', '50%25 off')])['name'] == \
        '50%25 off'


def test_image_headers_use_dashes_utf8_and_one_boolean_form():
    headers = codec.image_headers(
        {'name': 'café', 'is_public': True, 'disk_format': 'raw', 'owner': None,
         'location': ['s3://a', 's3://b']}, {'os_type': 'linux', 'kernel_id': None})
    assert headers == [('x-image-meta-name', 'café'.encode('utf-8')),
                       ('x-image-meta-is-public', b'True'),
                       ('x-image-meta-disk-format', b'raw'),
                       ('x-image-meta-location', b's3://a'),
                       ('x-image-meta-location', b's3://b'),
                       ('x-image-meta-property-os-type', b'linux')]


def test_header_values_with_line_breaks_are_refused():
    with pytest.raises(exception.Invalid, match='control characters'):
        codec.image_headers({'name': 'a\r\nX-Roles: admin'})


@pytest.mark.parametrize('key', ['OS', 'os-type', 'a b', ''])
def test_property_keys_that_would_not_arrive_as_sent_are_refused(key):
    with pytest.raises(exception.Invalid, match='cannot travel as a header'):
        codec.image_headers({}, {key: 'x'})


def test_split_record_leaves_out_what_glance_sets():
    fields, properties = codec.split_record({
        'name': 'n', 'disk_format': 'raw', 'is_public': False, 'size': None,
        'id': 'x', 'status': 'active', 'uri': 'u', 'detected_format': 'raw',
        'virtual_size': 5, 'location': 'file:///x', 'chunks': [],
        'properties': {'instance_id': '123'}})
    assert fields == {'name': 'n', 'disk_format': 'raw', 'is_public': False}
    assert properties == {'instance_id': '123'}


def test_split_record_names_a_field_that_cannot_travel_as_a_header():
    with pytest.raises(exception.Invalid, match="field 'tags' cannot be sent"):
        codec.split_record({'name': 'n', 'tags': ['a']})


def _through_the_server(fields, properties):
    """Send ``fields`` as a client would, parse them as glance-api does, answer them
    as glance-api does, and read the answer as the client does."""
    environ = {'HTTP_' + name.upper().replace('-', '_'): value.decode('latin-1')
               for name, value in codec.image_headers(fields, properties)}
    parsed = api_headers.parse_image_meta(environ)
    record = dict(parsed.fields, properties=parsed.properties)
    return codec.image_metadata(api_headers.image_meta_headers(record, False))


@pytest.mark.parametrize('is_public', [True, False])
def test_round_trip_through_glance_apis_own_codec(is_public):
    fields = {'name': 'Ubuntu 10.10 – café 日本', 'is_public': is_public,
              'protected': not is_public, 'disk_format': 'raw', 'size': 42,
              'min_disk': 2, 'min_ram': 512}
    properties = {'os_type': 'linux', 'note': 'ünïcode 100%', 'plain': '50%25 off'}
    assert _through_the_server(fields, properties) == dict(fields,
                                                           properties=properties)
