"""The one status → exception table, shared by the streaming and the JSON clients."""

import json

import pytest

from glance.client import errors
from glance.common import client as json_client, exception


def _body(message):
    return json.dumps({'error': {'message': message}}).encode('utf-8')


@pytest.mark.parametrize('status, cls', [
    (400, exception.Invalid), (401, exception.Unauthorized), (403, exception.Forbidden),
    (404, exception.NotFound), (409, exception.Conflict),
    (413, exception.RequestTooLarge), (416, exception.RangeNotSatisfiable),
    (422, exception.Invalid)])
def test_client_errors_carry_the_servers_message(status, cls):
    err = errors.for_status(status, _body('because'), 'glance-api at http://h:1')
    assert type(err) is cls and str(err) == 'because'


def test_not_found_class_of_the_caller_and_a_default_message():
    err = errors.for_status(404, b'<html/>', 'glance-api at http://h:1',
                            not_found=exception.ImageNotFound)
    assert type(err) is exception.ImageNotFound
    assert str(err) == 'HTTP 404 from glance-api at http://h:1'


@pytest.mark.parametrize('status', [500, 502, 503, 302])
def test_server_errors_and_redirects_are_unavailable(status):
    err = errors.for_status(status, _body('db down'), 'registry',
                            unavailable=exception.RegistryUnavailable)
    assert type(err) is exception.RegistryUnavailable
    assert str(err) == 'Registry unavailable: registry answered %d: db down' % status


def test_json_client_uses_the_same_table():
    assert json_client.server_message is errors.server_message
    client = json_client.BaseJSONClient('http://127.0.0.1:9')
    assert type(client._error(416, b'', None)) is exception.RangeNotSatisfiable
    assert type(client._error(409, _body('x'), None)) is exception.Conflict


def test_untrusted_bodies_are_not_repeated():
    assert errors.server_message(b'<html>secret proxy page</html>') is None
    assert errors.server_message(_body('  ')) is None
    assert errors.server_message(_body('x' * 5000)) == 'x' * 1000


@pytest.mark.parametrize('err, phrase', [
    (TimeoutError(), 'did not answer within 3 s'),
    (ConnectionRefusedError(), 'refused the connection'),
    (OSError(113, 'No route to host'), 'cannot be reached (No route to host)')])
def test_transport_failures_read_as_one_phrase(err, phrase):
    assert errors.describe_failure(err, 3) == phrase
