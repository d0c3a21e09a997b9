"""The HTTP store's answers to statuses and redirects, with their exact messages
(the real exchanges are tested against nginx in tests/functional/test_store_http.py)."""

import types

import pytest

from glance.store.base import Location, ObjectNotFound, StoreError, StoreUnavailable
from glance.store.http import HTTPStore

LOC = Location.parse('https://a/x')


@pytest.fixture
def store():
    return HTTPStore({})


@pytest.mark.parametrize('header,message', [
    ('', 'redirect without a Location'),
    ('http://u:p@a/y', 'redirect to an invalid or credential-carrying URI refused'),
    ('ftp://a/y', 'redirect to a ftp:// URI refused'),
    ('http://a/y', 'redirect from https to http refused'),
])
def test_refused_redirects(store, header, message):
    with pytest.raises(StoreError) as info:
        store._redirect(LOC, LOC, header)
    assert type(info.value) is StoreError
    assert str(info.value) == 'Store http failed on a/x: ' + message


@pytest.mark.parametrize('status,cls', [(404, ObjectNotFound), (410, ObjectNotFound),
                                        (503, StoreUnavailable), (429, StoreUnavailable),
                                        (500, StoreError), (403, StoreError)])
def test_statuses(store, status, cls):
    with pytest.raises(StoreError) as info:
        store._check_status(LOC, types.SimpleNamespace(status=status), 200)
    assert type(info.value) is cls
    if cls is not ObjectNotFound:
        prefix = ('Store http unavailable for a/x: ' if cls is StoreUnavailable
                  else 'Store http failed on a/x: ')
        assert str(info.value) == prefix + 'HTTP %d from the server' % status


def test_the_expected_status_passes(store):
    assert store._check_status(LOC, types.SimpleNamespace(status=206), 206) is None
