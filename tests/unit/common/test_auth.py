"""Service credentials and client tokens (Keystone logins are in the functional tests)."""

import pytest

from glance.common import auth, config, exception


def test_static_service_token_is_sent_and_never_shown():
    credentials = auth.ServiceCredentials.from_conf(
        {'registry_service_token': 'svc-0123456789abcdef'})
    assert credentials.headers() == {'X-Service-Token': 'svc-0123456789abcdef'}
    assert 'svc-0123456789abcdef' not in repr(vars(credentials))


def test_trusted_gateway_sends_the_service_role_header():
    credentials = auth.ServiceCredentials.from_conf({'registry_trusted_gateway': 'true'})
    assert credentials.headers() == {'X-Service-Roles': 'service'}


def test_unconfigured_credentials_send_nothing():
    assert auth.ServiceCredentials.from_conf({}).headers() == {}


@pytest.mark.parametrize('conf, option', [
    ({'registry_service_token': 'x' * 20, 'registry_trusted_gateway': 'true'},
     'registry_service_token'),
    ({'registry_auth_url': 'http://127.0.0.1:5000/v3', 'registry_password': 'p'},
     'registry_username'),
    ({'registry_auth_url': 'http://127.0.0.1:5000/v3', 'registry_username': 'glance'},
     'registry_password'),
])
def test_bad_service_credentials_stop_startup_naming_the_option(conf, option):
    with pytest.raises(exception.ConfigError, match=option):
        auth.ServiceCredentials.from_conf(conf)


def test_keystone_password_body_and_repr_hide_the_password():
    credentials = auth.PasswordCredentials(
        'http://127.0.0.1:5000/v3', 'glance', config.Secret('pa55-w0rd'), 'service',
        ('id', 'default'), ('name', 'Default'))
    body = credentials.request_body()['auth']
    assert body['identity']['password']['user'] == {
        'name': 'glance', 'password': 'pa55-w0rd', 'domain': {'id': 'default'}}
    assert body['scope']['project'] == {'name': 'service', 'domain': {'name': 'Default'}}
    assert 'pa55-w0rd' not in repr(credentials)


def test_token_source_prefers_a_given_token_then_os_auth_token():
    environ = {'OS_AUTH_TOKEN': 'from-env', 'OS_AUTH_URL': 'http://127.0.0.1:1/v3',
               'OS_USERNAME': 'u', 'OS_PASSWORD': 'p'}
    assert auth.TokenSource.from_environ(environ, 'given')() == 'given'
    assert auth.TokenSource.from_environ(environ)() == 'from-env'


def test_token_source_is_none_without_complete_credentials():
    assert auth.TokenSource.from_environ({})() is None
    assert auth.TokenSource.from_environ({'OS_AUTH_URL': 'http://127.0.0.1:1/v3',
                                          'OS_USERNAME': 'u'})() is None


def test_unreachable_keystone_is_service_unavailable_without_the_password():
    environ = {'OS_AUTH_URL': 'http://127.0.0.1:9/v3', 'OS_USERNAME': 'u',
               'OS_PASSWORD': 'hunter2-secret', 'OS_PROJECT_NAME': 'p'}
    with pytest.raises(exception.ServiceUnavailable) as raised:
        auth.TokenSource.from_environ(environ, timeout=5)()
    assert 'hunter2-secret' not in str(raised.value)
