"""The tokens_file filter: verified tokens, stripped client headers, reread on change."""

import json
import logging
import os

import pytest
import webob

from glance.common import exception
from glance.middleware import tokens_file

ALICE = 'alice-token-aaaaaaaaaaaa'
GLANCE = 'glance-api-token-ssssssss'
TOKENS = {ALICE: {'user': 'alice-user', 'project': 'alice', 'roles': ['member']},
          GLANCE: {'user': 'glance', 'project': 'service', 'roles': ['service']}}


def _no_app(environ, start_response):
    raise AssertionError('never called: the filter must not start')


def _write(path, data):
    """Write the tokens file so that its stamp changes (size or mtime)."""
    text = data if isinstance(data, str) else json.dumps(data)
    path.write_text(text)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


@pytest.fixture
def tokens(tmp_path):
    path = tmp_path / 'tokens.json'
    _write(path, TOKENS)
    return path


@pytest.fixture
def app(tokens):
    seen = []

    def downstream(environ, start_response):
        seen.append({key: value for key, value in environ.items()
                     if key.startswith('HTTP_X_') or key == 'glance.token_auth'})
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ok']

    filtered = tokens_file.filter_factory({}, tokens_file=str(tokens))(downstream)
    filtered.seen = seen
    return filtered


def _call(app, **headers):
    return webob.Request.blank('/', headers=headers).get_response(app)


def test_known_token_sets_the_confirmed_identity(app):
    assert _call(app, **{'X-Auth-Token': ALICE}).status_int == 200
    env = app.seen[-1]
    assert env['HTTP_X_IDENTITY_STATUS'] == 'Confirmed'
    assert (env['HTTP_X_PROJECT_ID'], env['HTTP_X_USER_ID'], env['HTTP_X_ROLES']) == (
        'alice', 'alice-user', 'member')
    assert env['glance.token_auth'] == 'tokens_file'
    assert 'HTTP_X_SERVICE_IDENTITY_STATUS' not in env


def test_service_token_is_verified_separately(app):
    _call(app, **{'X-Auth-Token': ALICE, 'X-Service-Token': GLANCE})
    env = app.seen[-1]
    assert env['HTTP_X_SERVICE_IDENTITY_STATUS'] == 'Confirmed'
    assert env['HTTP_X_SERVICE_ROLES'] == 'service'
    assert env['HTTP_X_ROLES'] == 'member'


@pytest.mark.parametrize('headers', [
    {'X-Auth-Token': 'bogus-token-0123456789', 'X-Roles': 'admin'},
    {'X-Auth-Token': ALICE, 'X-Service-Token': 'bogus-token-0123456789'},
    {'X-Auth-Token': ALICE[:-1]},
])
def test_unknown_tokens_are_401_and_reach_nothing(app, headers):
    response = _call(app, **headers)
    assert response.status_int == 401
    assert response.json['error']['code'] == 401
    assert 'bogus' not in response.text and ALICE not in response.text
    assert app.seen == []


def test_client_identity_headers_are_stripped(app):
    forged = {'X-Identity-Status': 'Confirmed', 'X-Project-Id': 'ops', 'X-Roles': 'admin',
              'X-Tenant-Id': 'ops', 'X-User-Id': 'root',
              'X-Service-Identity-Status': 'Confirmed', 'X-Service-Roles': 'service'}
    _call(app, **forged)
    assert set(app.seen[-1]) == {'glance.token_auth'}
    _call(app, **dict(forged, **{'X-Auth-Token': ALICE}))
    env = app.seen[-1]
    assert env['HTTP_X_ROLES'] == 'member' and env['HTTP_X_PROJECT_ID'] == 'alice'
    assert 'HTTP_X_SERVICE_ROLES' not in env and 'HTTP_X_TENANT_ID' not in env


def test_file_is_reread_when_it_changes(app, tokens):
    assert _call(app, **{'X-Auth-Token': ALICE}).status_int == 200
    bob = 'bob-token-bbbbbbbbbbbbbbbb'
    _write(tokens, {bob: {'user': 'bob-user', 'project': 'bob', 'roles': []}})
    assert _call(app, **{'X-Auth-Token': ALICE}).status_int == 401
    assert _call(app, **{'X-Auth-Token': bob}).status_int == 200
    assert app.seen[-1]['HTTP_X_PROJECT_ID'] == 'bob'


def test_a_broken_file_fails_closed_and_recovers(app, tokens, caplog):
    with caplog.at_level(logging.ERROR, 'glance.middleware.tokens_file'):
        _write(tokens, '{"not": json')
        response = _call(app, **{'X-Auth-Token': ALICE})
    assert response.status_int == 503 and response.headers['Retry-After']
    assert ALICE not in caplog.text
    assert _call(app).status_int == 200
    _write(tokens, TOKENS)
    assert _call(app, **{'X-Auth-Token': ALICE}).status_int == 200


def test_tokens_never_reach_the_log(tokens, caplog):
    with caplog.at_level(logging.DEBUG):
        app = tokens_file.filter_factory({}, tokens_file=str(tokens))(_no_app)
        _call(app, **{'X-Auth-Token': 'bogus-token-0123456789'})
    assert 'Loaded 2 tokens' in caplog.text
    assert ALICE not in caplog.text and GLANCE not in caplog.text
    assert 'bogus-token' not in caplog.text


@pytest.mark.parametrize('content, why', [
    ('[]', 'top level'),
    ('{"short": {"user": "u", "project": "p"}}', '16 or more'),
    ('{"%s": {"user": "u"}}' % ALICE, '"user" and "project"'),
    ('{"%s": {"user": "u", "project": "p", "roles": "admin"}}' % ALICE, '"roles"'),
])
def test_a_bad_file_stops_startup_with_a_reason(tmp_path, content, why):
    path = tmp_path / 'tokens.json'
    path.write_text(content)
    with pytest.raises(exception.ConfigError, match=why) as raised:
        tokens_file.filter_factory({}, tokens_file=str(path))(_no_app)
    assert ALICE not in str(raised.value)


def test_a_missing_path_stops_startup(tmp_path):
    with pytest.raises(exception.ConfigError, match='tokens_file'):
        tokens_file.filter_factory({})(_no_app)
    with pytest.raises(exception.ConfigError, match='cannot read'):
        tokens_file.filter_factory({}, tokens_file=str(tmp_path / 'absent.json'))(_no_app)
