"""Every refusal of the registry's input checks, with its exact message.

The 400 answers carry these reasons to clients, so they are pinned word for word, and
each limit is tried on both sides of its boundary.
"""

import datetime
import time

import pytest
import webob

from glance.common import exception
from glance.registry import image_rules, validation

IMAGE_ID = '3f2a7c1e-9b8d-4e6f-a1b2-c3d4e5f6a7b8'
STATUSES = ', '.join(image_rules.STATUSES)
UUID_HINT = 'must be a UUID such as 0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47'


def _refused(call, *args):
    with pytest.raises(exception.Invalid) as info:
        call(*args)
    prefix = 'Invalid input: '
    assert info.value.message.startswith(prefix)
    return info.value.message[len(prefix):]


def _body(**image):
    return {'image': image}


@pytest.mark.parametrize('image,message', [
    ({'name': 5}, 'name must be a string or null'),
    ({'name': 'x' * 256}, 'name is longer than 255 characters'),
    ({'name': 'a\x00'}, 'name contains control characters'),
    ({'name': 'a\x1f'}, 'name contains control characters'),
    ({'name': 'a\x7f'}, 'name contains control characters'),
    ({'name': 'a\x9f'}, 'name contains control characters'),
    ({'name': 'a\ud800'}, 'name contains control characters'),
    ({'name': 'a\udfff'}, 'name contains control characters'),
    ({'disk_format': 'x' * 65}, 'disk_format is longer than 64 characters'),
    ({'status': 'sleeping'}, 'status must be one of ' + STATUSES),
    ({'status': 'deleted'}, 'a new image cannot have status deleted'),
    ({'status': 'pending_delete'}, 'a new image cannot have status pending_delete'),
    ({'is_public': 1}, 'is_public must be true or false'),
    ({'size': True}, 'size must be a non-negative integer or null'),
    ({'size': -1}, 'size must be a non-negative integer or null'),
    ({'size': 2 ** 63}, 'size must be a non-negative integer or null'),
    ({'size': 1.0}, 'size must be a non-negative integer or null'),
    ({'checksum': 'a' * 31}, 'checksum must be 32 hexadecimal digits or null'),
    ({'checksum': 'g' * 32}, 'checksum must be 32 hexadecimal digits or null'),
    ({'checksum': 5}, 'checksum must be 32 hexadecimal digits or null'),
    ({'sha256': 'a' * 65}, 'sha256 must be 64 hexadecimal digits or null'),
    ({'blake3': 'a' * 63}, 'blake3 must be 64 hexadecimal digits or null'),
    ({'xxh3': 'a' * 32}, "unknown field 'xxh3'"),
    ({'location': 'x' * 2049}, 'location is longer than 2048 characters'),
    ({'chunks': {}}, 'chunks must be a list of {"location", "size", "checksum"}'),
    ({'chunks': [{'location': 'a'}] * 10001}, 'chunks has more than 10000 entries'),
    ({'chunks': [{'location': 'a'}, 'b']}, 'chunks[1] must be an object'),
    ({'chunks': [{'location': 'a', 'zz': 1, 'aa': 2}]}, "chunks[0] has unknown field 'aa'"),
    ({'chunks': [{'size': 1}]}, 'chunks[0] needs a location'),
    ({'chunks': [{'location': None}]}, 'chunks[0].location must be a string'),
    ({'chunks': [{'location': 'a', 'size': 'big'}]},
     'chunks[0].size must be a non-negative integer or null'),
    ({'chunks': [{'location': 'a', 'checksum': 7}]},
     'chunks[0].checksum must be a string or null'),
    ({'location': 'b', 'chunks': [{'location': 'a'}]},
     "location must equal the first chunk's location"),
    ({'location': 'b', 'chunks': []}, "location must equal the first chunk's location"),
    ({'properties': []}, 'properties must be an object of string values'),
    ({'properties': {'k': 5}}, "properties['k'] must be a string or null"),
    ({'properties': {'k': 'v' * 65536}}, "properties['k'] is longer than 65535 characters"),
    ({'properties': {' k': 'v'}},
     "property name ' k' must be non-empty without leading or trailing spaces"),
    ({'properties': {'': 'v'}},
     "property name '' must be non-empty without leading or trailing spaces"),
    ({'properties': {'k\t': 'v'}}, 'property name contains control characters'),
    ({'properties': {'k' * 256: 'v'}}, 'property name is longer than 255 characters'),
    ({'uri': 'x'}, 'uri is read-only'),
    ({'deleted': False}, 'deleted is read-only'),
    ({'id': 'nope'}, 'id ' + UUID_HINT),
    ({'y' * 70: 1}, "unknown field '%s...'" % ('y' * 64)),
])
def test_image_body_refusals(image, message):
    assert _refused(validation.image_body, _body(**image)) == message


@pytest.mark.parametrize('data', [{}, {'image': [], }, {'image': {}, 'extra': 1},
                                  {'images': {}}])
def test_the_body_shape_is_checked(data):
    assert _refused(validation.image_body, data) == 'the body must be {"image": {...}}'


def test_limits_are_inclusive():
    values = validation.image_body(_body(
        name='x' * 255, size=2 ** 63 - 1, disk_format='d' * 64, location='l' * 2048,
        properties={'k' * 255: 'v' * 65535, 'nbsp': 'a\xa0b'}))
    assert values['name'] == 'x' * 255 and values['size'] == 2 ** 63 - 1
    assert values['chunks'] == [{'location': 'l' * 2048, 'size': 2 ** 63 - 1,
                                 'checksum': None}]
    assert validation.image_body(_body(chunks=[{'location': 'a'}] * 10000))


def test_nulls_where_they_are_allowed():
    values = validation.image_body(_body(name=None, size=None, checksum=None,
                                         location=None, properties={'gone': None}))
    assert values == {'name': None, 'size': None, 'checksum': None, 'chunks': [],
                      'properties': {'gone': None}}


def test_location_equal_to_the_first_chunk_is_accepted():
    chunks = [{'location': 'a', 'size': 1, 'checksum': None},
              {'location': 'b', 'size': 2, 'checksum': 'C'}]
    values = validation.image_body(_body(location='a', chunks=chunks))
    assert values == {'chunks': chunks}


def test_an_update_may_set_any_status():
    assert validation.image_body(_body(status='deleted'), current_id=IMAGE_ID) == {
        'status': 'deleted'}


def test_an_update_may_repeat_the_id_in_any_case():
    assert validation.image_body(_body(id=IMAGE_ID.upper()), current_id=IMAGE_ID) == {}
    assert _refused(validation.image_body, _body(id=IMAGE_ID), 'x') == (
        'id cannot be changed')


@pytest.mark.parametrize('params,message', [
    ({'size_min': '-1'}, 'size_min must be a non-negative integer'),
    ({'size_max': '1' * 20}, 'size_max must be a non-negative integer'),
    ({'size_max': str(2 ** 63)}, 'size_max must be a non-negative integer'),
    ({'size_min': ' 1'}, 'size_min must be a non-negative integer'),
    ({'limit': '0'}, 'limit must be at least 1'),
    ({'limit': 'ten'}, 'limit must be a non-negative integer'),
    ({'sort_key': 'owner'}, 'sort_key must be one of ' + ', '.join(validation.SORT_KEYS)),
    ({'sort_dir': 'up'}, 'sort_dir must be asc or desc'),
    ({'marker': 'x'}, 'marker ' + UUID_HINT),
    ({'is_public': 'yes'}, 'is_public must be true or false'),
    ({'status': 'gone'}, 'status must be one of ' + STATUSES),
    ({'name': 'x' * 256}, 'name is longer than 255 characters'),
    ({'owner': 'a\x01'}, 'owner contains control characters'),
    ({'disk_format': 'x' * 65}, 'disk_format is longer than 64 characters'),
    ({'container_format': 'x' * 65}, 'container_format is longer than 64 characters'),
    ({'changes-since': 'yesterday'},
     'changes-since must be an ISO 8601 timestamp such as 2026-11-25T20:37:12Z'),
    ({'changes-since': '9999-12-31T23:59:59-01:00'},
     'changes-since must be an ISO 8601 timestamp such as 2026-11-25T20:37:12Z'),
    ({'property-': 'v'},
     "property filter '' must be non-empty without leading or trailing spaces"),
    ({'property-k': 'v' * 65536}, 'property-k is longer than 65535 characters'),
])
def test_list_query_refusals(params, message):
    assert _refused(validation.list_query, params, 25, 100) == message


def test_list_query_boundaries():
    query = validation.list_query({'size_min': '0', 'size_max': str(2 ** 63 - 1),
                                   'limit': '1', 'changes-since': '2026-11-25T20:37:12'},
                                  25, 100)
    assert query.filters == {'size_min': 0, 'size_max': 2 ** 63 - 1,
                             'changes-since': datetime.datetime(2026, 11, 25, 20, 37, 12)}
    assert query.limit == 1
    assert validation.list_query({'limit': '100'}, 25, 100).limit == 100
    assert validation.list_query({'limit': '101'}, 25, 100).limit == 100
    assert validation.list_query({'sort_key': 'id', 'sort_dir': 'desc'}, 25, 100).sort_key == 'id'


def test_list_query_keeps_its_parameters_for_the_next_page():
    params = {'name': 'x', 'marker': IMAGE_ID, 'property-a': 'b'}
    query = validation.list_query(params, 25, 100)
    assert query.params == params and query.params is not params
    assert query.marker == IMAGE_ID and query.properties == {'a': 'b'}


def test_query_param_messages():
    assert _refused(validation.query_params, webob.Request.blank('/?a=1&a=2'),
                    ('a',)) == "query parameter 'a' is given more than once"
    assert _refused(validation.query_params, webob.Request.blank('/?b=1'),
                    ('a',)) == "unknown query parameter 'b'"
    assert _refused(validation.query_params, webob.Request.blank('/?a=%FF'),
                    ('a',)) == 'the query string is not valid UTF-8'
    assert validation.query_params(webob.Request.blank('/?b=1'),
                                   lambda name: name == 'b') == {'b': '1'}


def test_flag_message_names_the_field():
    assert _refused(validation.flag, 'maybe', 'is_public') == (
        'is_public must be true or false')
    assert validation.flag('\ttrue\n', 'f') is True


def test_the_checker_factories_build_what_they_say():
    # The module builds its checkers at import; built here again, the factories
    # themselves are under test.
    parse = validation._hex_digest(8)
    assert parse('ABCDEF01', 'f') == 'abcdef01'
    assert parse(None, 'f') is None
    for bad in ('abcdef0', 'abcdef012', 'ghijklmn', 5):
        assert _refused(parse, bad, 'f') == 'f must be 8 hexadecimal digits or null'
    nullable, required = validation._text_of(3, True), validation._text_of(3, False)
    assert nullable(None, 'f') is None and nullable('abc', 'f') == 'abc'
    assert _refused(nullable, 'abcd', 'f') == 'f is longer than 3 characters'
    assert _refused(nullable, 5, 'f') == 'f must be a string or null'
    assert _refused(required, None, 'f') == 'f must be a string'


def test_long_names_are_cut_after_64_characters_in_messages():
    assert _refused(validation.image_body, _body(**{'y' * 64: 1})) == (
        "unknown field '%s'" % ('y' * 64))
    assert _refused(validation.image_body, _body(**{'y' * 65: 1})) == (
        "unknown field '%s...'" % ('y' * 64))


def test_a_property_name_must_be_a_string():
    assert _refused(validation.property_key, None) == 'property name must be a string'


def test_timestamps_are_converted_to_utc_whatever_the_local_zone(monkeypatch):
    monkeypatch.setenv('TZ', 'Asia/Kolkata')
    time.tzset()
    try:
        query = validation.list_query({'changes-since': '2026-11-25T20:37:12-01:00'},
                                      25, 100)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert query.filters['changes-since'] == datetime.datetime(2026, 11, 25, 21, 37, 12)
