"""Unit tests of the v1 wire format: request headers, list queries, answers."""

import pytest
import webob

from glance.api.v1 import codec, listing
from glance.common import exception


def _environ(*pairs):
    """A WSGI environ of ``(header name, value)`` pairs as a server builds it."""
    return {'HTTP_' + name.upper().replace('-', '_'): value for name, value in pairs}


def test_glanceclient_headers_are_percent_decoded_and_typed():
    # What python-glanceclient 2.17.1 sends for create(name='my image', ...).
    meta = codec.parse_request(_environ(
        ('x-image-meta-name', 'my%20image%2Fv1'), ('x-image-meta-is_public', 'True'),
        ('x-image-meta-min_disk', '2'), ('x-image-meta-min-ram', '512'),
        ('x-image-meta-protected', 'False'), ('x-image-meta-size', '42'),
        ('x-image-meta-disk_format', 'raw'),
        ('x-image-meta-property-OS%20Distro', 'caf%C3%A9')))
    assert meta.fields == {'name': 'my image/v1', 'is_public': True, 'min_disk': 2,
                           'min_ram': 512, 'protected': False, 'size': 42,
                           'disk_format': 'raw'}
    assert meta.properties == {'os distro': 'café'}
    assert meta.location is None and meta.image_id is None


def test_typed_none_is_not_given_and_deleted_is_ignored():
    # glanceclient's image-create without --is-public sends "None"; old clients
    # send x-image-meta-deleted on update.
    meta = codec.parse_request(_environ(('x-image-meta-is_public', 'None'),
                                        ('x-image-meta-deleted', 'False'),
                                        ('x-image-meta-name', 'None')))
    assert meta.fields == {'name': 'None'}


def test_location_is_one_url_and_id_is_kept_apart():
    meta = codec.parse_request(_environ(
        ('x-image-meta-location', 'http://127.0.0.1/a,b%3Fx%3D1'),
        ('x-image-meta-id', '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47')))
    assert meta.location == 'http://127.0.0.1/a,b?x=1'
    assert meta.image_id == '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47'
    assert meta.fields == {}


@pytest.mark.parametrize('pair,reason', [
    (('x-image-meta-status', 'active'), 'read-only'),
    (('x-image-meta-colour', 'blue'), 'unknown field'),
    (('x-image-meta-size', '-1'), 'x-image-meta-size'),
    (('x-image-meta-min_ram', 'lots'), 'x-image-meta-min_ram'),
    (('x-image-meta-is_public', 'maybe'), 'x-image-meta-is_public'),
    (('x-image-meta-name', 'a%0D%0AX-Evil:%201'), 'control characters'),
    (('x-image-meta-store', 'file'), 'x-image-meta-store'),
    (('x-glance-api-copy-from', 'http://127.0.0.1/x'), 'x-glance-api-copy-from'),
])
def test_bad_headers_are_400_with_a_reason(pair, reason):
    with pytest.raises(exception.Invalid) as raised:
        codec.parse_request(_environ(pair))
    assert reason in raised.value.message


def test_metadata_sends_properties_when_purging_even_none():
    meta = codec.parse_request(_environ(('x-image-meta-name', 'x')))
    assert meta.metadata() == {'name': 'x'}
    assert meta.metadata(purge_props=True) == {'name': 'x', 'properties': {}}


@pytest.mark.parametrize('header,purge', [(None, True), ('true', True), ('True', True),
                                          ('false', False), ('FALSE', False)])
def test_purge_props_is_the_v1_default(header, purge):
    req = webob.Request.blank('/v1/images/x', method='PUT')
    if header is not None:
        req.headers[codec.PURGE_PROPS_HEADER] = header
    assert codec.purge_props(req) is purge


def test_purge_props_refuses_other_values():
    req = webob.Request.blank('/', headers={codec.PURGE_PROPS_HEADER: 'sometimes'})
    with pytest.raises(exception.Invalid):
        codec.purge_props(req)


_RECORD = {'id': 'i', 'uri': 'http://registry/images/i', 'name': 'café',
           'status': 'active', 'is_public': False, 'visibility': 'shared',
           'owner': 'p', 'size': 3, 'checksum': 'c' * 32, 'min_disk': 0,
           'min_ram': 0, 'protected': True, 'created_at': '2026-11-30T19:00:00Z',
           'updated_at': None, 'chunks': [{'location': 'file:///secret'}],
           'properties': {'os_distro': 'cirros'}}


def test_response_headers_use_underscores_true_false_and_hide_locations():
    answered = dict(codec.response_headers(_RECORD))
    assert answered['x-image-meta-min_disk'] == '0'
    assert answered['x-image-meta-protected'] == 'True'
    assert answered['x-image-meta-is_public'] == 'False'
    assert answered['x-image-meta-name'] == 'café'
    assert dict(codec.response_headers(dict(_RECORD, name='Ωmega')))[
        'x-image-meta-name'] == '%CE%A9mega'
    assert answered['x-image-meta-property-os_distro'] == 'cirros'
    assert 'x-image-meta-updated_at' not in answered
    assert not any('secret' in value or 'registry' in value
                   for value in answered.values())


def test_json_bodies_full_and_brief():
    full = codec.image_body(_RECORD)
    assert set(full) == set(codec.FIELDS) | {'properties'}
    assert full['updated_at'] is None and full['properties'] == {'os_distro': 'cirros'}
    assert codec.image_body(_RECORD, codec.BRIEF_FIELDS) == {
        'id': 'i', 'name': 'café', 'disk_format': None, 'container_format': None,
        'checksum': 'c' * 32, 'size': 3}


def _query(qs):
    return listing.parse(webob.Request.blank('/v1/images/detail?' + qs))


def test_list_query_as_glanceclient_sends_it():
    query = _query('limit=20&sort_key=name&sort_dir=asc&marker=m&name=x&size_min=1'
                   '&property-os_distro=cirros&is_public=None')
    assert query.filters == {'name': 'x', 'size_min': '1',
                             'properties': {'os_distro': 'cirros'}}
    assert (query.sort_key, query.sort_dir, query.limit, query.marker) == (
        'name', 'asc', '20', 'm')


def test_list_query_is_public_filters_unless_none():
    assert _query('is_public=true').filters == {'is_public': 'true'}
    assert _query('is_public=none').filters == {}


@pytest.mark.parametrize('qs,reason', [('colour=blue', 'unknown query parameter'),
                                       ('name=a&name=b', 'more than once'),
                                       ('name=%FF', 'UTF-8')])
def test_list_query_refuses(qs, reason):
    with pytest.raises(exception.Invalid) as raised:
        _query(qs)
    assert reason in raised.value.message
