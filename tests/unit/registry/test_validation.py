"""Input checking of the registry: bodies, ids, list queries."""

import datetime

import pytest
import webob

from glance.common import exception
from glance.registry import validation

IMAGE_ID = '3f2a7c1e-9b8d-4e6f-a1b2-c3d4e5f6a7b8'


def test_image_body_normalises_values():
    values = validation.image_body({'image': {
        'id': IMAGE_ID.upper(), 'name': 'n', 'checksum': 'A' * 32, 'sha256': 'B' * 64,
        'blake3': 'C' * 64, 'size': 0, 'is_public': True,
        'properties': {'k': 'v', 'gone': None}}})
    assert values == {'id': IMAGE_ID, 'name': 'n', 'checksum': 'a' * 32,
                      'sha256': 'b' * 64, 'blake3': 'c' * 64, 'size': 0, 'visibility': 'public',
                      'properties': {'k': 'v', 'gone': None}}


def test_update_body_drops_an_unchanged_id_and_rejects_another():
    assert validation.image_body({'image': {'id': IMAGE_ID}}, current_id=IMAGE_ID) == {}
    with pytest.raises(exception.Invalid, match='cannot be changed'):
        validation.image_body({'image': {'id': '0' * 8 + IMAGE_ID[8:]}},
                              current_id=IMAGE_ID)


def test_location_becomes_a_one_chunk_list():
    values = validation.image_body({'image': {'location': 's3://b/k', 'size': 4}})
    assert values['chunks'] == [{'location': 's3://b/k', 'size': 4, 'checksum': None}]
    assert 'location' not in values


def test_chunks_are_normalised_with_missing_fields_as_null():
    values = validation.image_body({'image': {'chunks': [{'location': 'file:///a'}]}})
    assert values['chunks'] == [{'location': 'file:///a', 'size': None, 'checksum': None}]


@pytest.mark.parametrize('fields, field', [
    ({'size': 'abc'}, 'size'), ({'is_public': 'maybe'}, 'is_public'),
    ({'name': 'x' * 256}, 'name'), ({'properties': {'k': 'a\x1bb'}}, "properties['k']"),
    ({'chunks': [{'location': 'a', 'size': -1}]}, 'chunks[0].size'),
    ({'created_at': 'x'}, 'created_at'), ({'bogus': 1}, "'bogus'"),
])
def test_messages_name_the_field(fields, field):
    with pytest.raises(exception.Invalid) as info:
        validation.image_body({'image': fields})
    assert field in info.value.message


def test_long_unknown_field_names_are_cut_in_messages():
    with pytest.raises(exception.Invalid) as info:
        validation.image_body({'image': {'x' * 10000: 1}})
    assert len(info.value.message) < 200


@pytest.mark.parametrize('value', [IMAGE_ID, IMAGE_ID.upper()])
def test_image_id_accepts_hyphenated_uuids(value):
    assert validation.image_id(value) == IMAGE_ID


@pytest.mark.parametrize('value', [IMAGE_ID.replace('-', ''), '{%s}' % IMAGE_ID,
                                   'urn:uuid:' + IMAGE_ID, IMAGE_ID + '\n', '', None, 5])
def test_image_id_rejects_other_spellings(value):
    with pytest.raises(exception.Invalid):
        validation.image_id(value)


def test_list_query_defaults():
    query = validation.list_query({}, 25, 1000)
    assert (query.filters, query.properties, query.sort_key, query.sort_dir,
            query.limit, query.marker) == ({}, {}, 'created_at', 'desc', 25, None)


def test_list_query_parses_every_filter():
    query = validation.list_query({
        'name': 'n', 'status': 'active', 'disk_format': 'raw', 'container_format': 'bare',
        'is_public': 'False', 'owner': 'o', 'size_min': '1', 'size_max': '2',
        'changes-since': '2026-11-25T21:00:00.5+01:00', 'property-os': 'linux',
        'sort_key': 'size', 'sort_dir': 'asc', 'limit': '5000', 'marker': IMAGE_ID},
        25, 1000)
    assert query.filters == {
        'name': 'n', 'status': 'active', 'disk_format': 'raw', 'container_format': 'bare',
        'is_public': False, 'owner': 'o', 'size_min': 1, 'size_max': 2,
        'changes-since': datetime.datetime(2026, 11, 25, 20, 0, 0, 500000)}
    assert query.properties == {'os': 'linux'}
    assert (query.sort_key, query.sort_dir, query.limit, query.marker) == (
        'size', 'asc', 1000, IMAGE_ID)


def test_next_params_replace_the_marker():
    query = validation.list_query({'marker': IMAGE_ID, 'limit': '2', 'name': 'x'}, 25, 50)
    assert query.next_params('m') == {'limit': '2', 'name': 'x', 'marker': 'm'}


def test_query_params_reject_repeats_unknown_names_and_bad_utf8():
    assert validation.query_params(webob.Request.blank('/?a=1&b=%C3%A9'),
                                   ('a', 'b')) == {'a': '1', 'b': '\u00e9'}
    for query, message in (('a=1&a=2', 'more than once'), ('c=1', 'unknown'),
                           ('a=%FF', 'UTF-8')):
        with pytest.raises(exception.Invalid, match=message):
            validation.query_params(webob.Request.blank('/?' + query), ('a',))


@pytest.mark.parametrize('value, expected', [(None, False), ('true', True),
                                             (' False ', False), ('TRUE', True)])
def test_flag(value, expected):
    assert validation.flag(value, 'f') is expected


def test_is_list_param():
    assert validation.is_list_param('property-x')
    assert validation.is_list_param('changes-since')
    assert not validation.is_list_param('propertyx')
