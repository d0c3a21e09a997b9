"""How the Swift and HTTP stores turn client errors and redirects into store errors."""

import pytest
from swiftclient.exceptions import ClientException

from glance.store.base import Location, ObjectNotFound, StoreError, StoreUnavailable
from glance.store.http import HTTPStore, _range_start
from glance.store.swift import SwiftStore

LOCATION = Location.parse('swift://glance/img-00000')


@pytest.fixture
def swift():
    return SwiftStore({'auth_url': 'http://127.0.0.1:1/auth/v1.0', 'user': 'a:b',
                       'key': 'swift-key-321'})


@pytest.mark.parametrize('status,error,reason', [
    (404, ObjectNotFound, None),
    (503, StoreUnavailable, 'HTTP 503 from Swift (transaction tx123)'),
    (429, StoreUnavailable, 'HTTP 429 from Swift'),
    (401, StoreError, 'HTTP 401 from Swift: authentication failed, check user and key'),
    (403, StoreError, 'HTTP 403 from Swift'),
    (None, StoreError, 'request failed'),
])
def test_swift_client_errors_are_translated(swift, status, error, reason):
    err = ClientException('GET http://127.0.0.1:1/v1/AUTH_x/glance/img key=swift-key-321',
                          http_status=status,
                          http_response_headers={'X-Trans-Id': 'tx123'})
    translated = swift._client_error(LOCATION, err)
    assert type(translated) is error
    assert 'swift-key-321' not in str(translated)
    assert 'glance/img-00000' in str(translated)
    if reason:
        assert reason in str(translated)


@pytest.fixture
def http():
    return HTTPStore({})


@pytest.mark.parametrize('current,header,why', [
    ('https://a/x', 'http://a/y', 'from https to http refused'),
    ('http://a/x', 'ftp://a/y', 'redirect to a ftp:// URI refused'),
    ('http://a/x', 'http://user:pw-999@a/y', 'credential-carrying URI refused'),
    ('http://a/x', '', 'redirect without a Location'),
])
def test_http_redirects_that_are_refused(http, current, header, why):
    loc = Location.parse(current)
    with pytest.raises(StoreError, match=why) as caught:
        http._redirect(loc, loc, header)
    assert 'pw-999' not in str(caught.value)


def test_http_relative_redirects_resolve_against_the_current_url(http):
    loc = Location.parse('http://a:8080/dir/x')
    assert str(http._redirect(loc, loc, '../y?v=1')) == 'http://a:8080/y?v=1'
    assert str(http._redirect(loc, loc, 'https://b/z')) == 'https://b/z'


@pytest.mark.parametrize('header,start', [
    ('bytes 10-19/100', 10), ('bytes 0-0/1', 0), ('bytes */100', None),
    ('items 1-2/3', None), (None, None),
])
def test_content_range_start(header, start):
    assert _range_start(header) == start
