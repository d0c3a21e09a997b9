"""app_factory: typed options, fail-fast start-up, the shipped paste pipeline."""

import json
import os

import pytest
import webob

from glance.common import exception, wsgi
from glance.registry import api

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _sqlite(tmp_path):
    return 'sqlite:///%s' % (tmp_path / 'g.sqlite')


@pytest.mark.parametrize('conf, endpoint', [
    ({}, 'http://127.0.0.1:9191'),
    ({'bind_host': '10.0.0.5', 'bind_port': '8080'}, 'http://10.0.0.5:8080'),
    ({'bind_host': '::1'}, 'http://[::1]:9191'),
    ({'cert_file': 'c.pem'}, 'https://127.0.0.1:9191'),
    ({'bind_host': '0.0.0.0'}, None),
    ({'bind_port': '0'}, None),
    ({'public_endpoint': 'https://images.example.com/registry/'},
     'https://images.example.com/registry'),
])
def test_public_endpoint(conf, endpoint):
    assert api.load_options(conf).public_endpoint == endpoint


@pytest.mark.parametrize('conf, option', [
    ({'public_endpoint': 'ftp://x'}, 'public_endpoint'),
    ({'public_endpoint': 'http://user:pw@x'}, 'public_endpoint'),
    ({'public_endpoint': 'http://x/?q=1'}, 'public_endpoint'),
    ({'api_limit_max': '0'}, 'api_limit_max'),
    ({'limit_param_default': '2000'}, 'limit_param_default'),
    ({'limit_param_default': 'ten'}, 'limit_param_default'),
    ({'db_auto_create': 'perhaps'}, 'db_auto_create'),
    ({'bind_port': '70000'}, 'bind_port'),
])
def test_bad_options_stop_startup_naming_the_option(conf, option):
    with pytest.raises(exception.ConfigError) as info:
        api.load_options(conf)
    assert info.value.option == option


def test_app_factory_local_conf_wins_and_creates_the_schema(tmp_path):
    app = api.app_factory({'sql_connection': 'mysql://never-used'},
                          sql_connection=_sqlite(tmp_path), limit_param_default='1')
    assert isinstance(app, wsgi.Router)
    response = webob.Request.blank('/images').get_response(app)
    assert response.status_int == 200 and response.json == {'images': []}


def test_app_factory_rejects_a_blocking_driver_before_connecting():
    with pytest.raises(exception.ConfigError, match='mysql\\+pymysql'):
        api.app_factory({'sql_connection': 'mysql://root@127.0.0.1/glance'})


def test_without_auto_create_the_schema_must_be_synced(tmp_path):
    conf = {'sql_connection': _sqlite(tmp_path), 'db_auto_create': 'false'}
    with pytest.raises(exception.ConfigError, match='glance-manage db sync'):
        api.app_factory(conf)
    api.app_factory(dict(conf, db_auto_create='true'))
    assert isinstance(api.app_factory(conf), wsgi.Router)


@pytest.mark.parametrize('pipeline', ['glance-registry', 'glance-registry-instance-aware'])
def test_shipped_default_pipelines_ignore_identity_headers(tmp_path, pipeline):
    app = wsgi.load_paste_app(os.path.join(REPO, 'etc', 'glance-registry-paste.ini'),
                              pipeline, {'sql_connection': _sqlite(tmp_path)})
    refused = webob.Request.blank('/images', method='POST', body=b'{"image": {}}',
                                  headers={'X-Tenant-Id': 'alice', 'X-Roles': 'admin'}
                                  ).get_response(app)
    # Reading the body closes it, as a server would (the metrics filter's in-flight
    # gauge is process-wide and counts a request until its body is closed).
    assert refused.status_int == 403 and refused.json['error']['code'] == 403
    assert webob.Request.blank('/healthcheck').get_response(app).body == b'OK\n'
    assert 'X-Request-Id' in refused.headers


def test_shipped_trusted_gateway_pipeline_believes_headers(tmp_path):
    app = wsgi.load_paste_app(os.path.join(REPO, 'etc', 'glance-registry-paste.ini'),
                              'glance-registry-trusted-gateway',
                              {'sql_connection': _sqlite(tmp_path)})
    created = webob.Request.blank('/images', method='POST', body=b'{"image": {}}',
                                  headers={'X-Tenant-Id': 'alice'}).get_response(app)
    assert created.status_int == 201
    assert created.json['image']['owner'] == 'alice'


def test_shipped_tokens_file_pipeline_needs_a_known_token(tmp_path):
    tokens = tmp_path / 'tokens.json'
    tokens.write_text(json.dumps({'alice-token-0123456789': {
        'user': 'alice-user', 'project': 'alice', 'roles': ['member']}}))
    app = wsgi.load_paste_app(os.path.join(REPO, 'etc', 'glance-registry-paste.ini'),
                              'glance-registry-tokens-file',
                              {'sql_connection': _sqlite(tmp_path),
                               'tokens_file': str(tokens)})

    def create(headers):
        return webob.Request.blank('/images', method='POST', body=b'{"image": {}}',
                                   headers=headers).get_response(app)
    assert create({'X-Auth-Token': 'alice-token-0123456789'}).json['image'][
        'owner'] == 'alice'
    assert create({'X-Auth-Token': 'bogus-token-0123456789',
                   'X-Roles': 'admin'}).json['error']['code'] == 401
    assert create({'X-Tenant-Id': 'bob', 'X-Roles': 'admin'}).json['error']['code'] == 403
