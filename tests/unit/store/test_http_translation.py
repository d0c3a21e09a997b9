"""The HTTP store's answers to statuses and redirects, with their exact messages
(the real exchanges are tested against nginx in tests/functional/test_store_http.py)."""

import http.client
import ssl
import types

import pytest

from glance.store.base import (BadStoreConfiguration, Location, ObjectNotFound, StoreError,
                               StoreUnavailable)
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


def _answer(content_length):
    return types.SimpleNamespace(getheader=lambda name: content_length)


@pytest.mark.parametrize('value', [None, 'abc', ''])
def test_an_answer_without_a_valid_content_length(store, value):
    with pytest.raises(StoreError) as info:
        store._content_length(LOC, _answer(value))
    assert type(info.value) is StoreError
    assert str(info.value) == ('Store http failed on a/x: the server sent no valid '
                               'Content-Length')


def test_a_valid_content_length(store):
    assert store._content_length(LOC, _answer('12')) == 12


def test_option_defaults_and_tls_settings(tmp_path):
    store = HTTPStore({})
    assert (store.timeout, store.max_redirects) == (60.0, 5)
    assert store._ssl_context.check_hostname is True
    assert store._ssl_context.verify_mode == ssl.CERT_REQUIRED
    insecure = HTTPStore({'insecure': 'true', 'timeout': '0.001', 'max_redirects': '0'})
    assert (insecure.timeout, insecure.max_redirects) == (0.001, 0)
    assert insecure._ssl_context.check_hostname is False
    assert insecure._ssl_context.verify_mode == ssl.CERT_NONE
    assert HTTPStore({'max_redirects': '20'}).max_redirects == 20


@pytest.mark.parametrize('options,option,why', [
    ({'ca_file': '/nonexistent/ca.pem'}, 'ca_file', 'no such file: /nonexistent/ca.pem'),
    ({'max_redirects': '21'}, 'max_redirects', None),
    ({'max_redirects': '-1'}, 'max_redirects', None),
    ({'timeout': '0'}, 'timeout', None),
])
def test_option_refusals(options, option, why):
    with pytest.raises(BadStoreConfiguration) as info:
        HTTPStore(options)
    assert info.value.option == option
    if why:
        assert str(info.value) == ("Invalid configuration: option '%s' in [store:http]: %s"
                                   % (option, why))


def test_connections_match_the_scheme():
    store = HTTPStore({'allowed_networks': '127.0.0.0/8'})
    plain = store._connection(Location.parse('http://127.0.0.1:8/x'))
    secure = store._connection(Location.parse('https://127.0.0.1:9/x'))
    assert isinstance(plain, http.client.HTTPConnection)
    assert not isinstance(plain, http.client.HTTPSConnection)
    assert isinstance(secure, http.client.HTTPSConnection)
    assert (plain.host, plain.port, plain.timeout) == ('127.0.0.1', 8, 60.0)
    assert (secure.host, secure.port, secure.timeout) == ('127.0.0.1', 9, 60.0)
    assert secure._context is store._ssl_context
