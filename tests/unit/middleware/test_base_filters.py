"""The base filters, each built through its real filter_factory over a tiny app."""

import logging

import pytest
import webob

from glance.common import context
from glance.middleware import access_log, catch_errors, healthcheck, request_id


def _app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello ', b'world']


def _failing_app(environ, start_response):
    raise RuntimeError('secret detail /etc/passwd')


def _failing_body_app(environ, start_response):
    start_response('200 OK', [('Content-Length', '10')])

    def body():
        yield b'12345'
        raise IOError('store went away')
    return body()


def _build(module, app, **local_conf):
    return module.filter_factory({}, **local_conf)(app)


def test_healthcheck_answers_ok_and_passes_other_paths():
    app = _build(healthcheck, _app)
    assert webob.Request.blank('/healthcheck').get_response(app).body == b'OK\n'
    assert webob.Request.blank('/images').get_response(app).body == b'hello world'


def test_healthcheck_answers_other_methods_with_405_and_allow():
    app = _build(healthcheck, _app)
    response = webob.Request.blank('/healthcheck', method='TRACE').get_response(app)
    assert response.status_int == 405 and response.headers['Allow'] == 'GET, HEAD'
    assert response.json['error']['code'] == 405
    assert webob.Request.blank('/healthcheck', method='HEAD').get_response(
        app).status_int == 200


def test_healthcheck_detail_goes_on_to_the_app():
    app = _build(healthcheck, _app)
    for query in ('detail', 'detail=1', 'x=1&detail'):
        response = webob.Request.blank('/healthcheck?' + query).get_response(app)
        assert response.body == b'hello world'
    assert webob.Request.blank('/healthcheck?x').get_response(app).body == b'OK\n'


def test_healthcheck_disabled_by_file(tmp_path):
    flag = tmp_path / 'disable'
    app = _build(healthcheck, _app, disable_path=str(flag))
    assert webob.Request.blank('/healthcheck').get_response(app).status_int == 200
    flag.write_text('')
    assert webob.Request.blank('/healthcheck').get_response(app).status_int == 503


def test_catch_errors_turns_exceptions_into_json_500_without_details(caplog):
    app = _build(catch_errors, _failing_app)
    with caplog.at_level(logging.ERROR):
        response = webob.Request.blank('/x').get_response(app)
    assert response.status_int == 500
    assert response.json['error']['code'] == 500
    assert b'secret detail' not in response.body and b'Traceback' not in response.body
    assert 'secret detail' in caplog.text


def test_catch_errors_adds_retry_after_to_a_bare_503_only():
    def unavailable(retry_after):
        def app(environ, start_response):
            headers = [('Content-Type', 'text/plain')]
            if retry_after:
                headers.append(('Retry-After', retry_after))
            start_response('503 Service Unavailable', headers)
            return [b'keystone is down']
        return app

    bare = webob.Request.blank('/x').get_response(_build(catch_errors, unavailable(None)))
    assert bare.status_int == 503 and bare.headers['Retry-After'] == '5'
    assert bare.body == b'keystone is down'
    told = webob.Request.blank('/x').get_response(_build(catch_errors, unavailable('30')))
    assert told.headers.getall('Retry-After') == ['30']
    ok = webob.Request.blank('/x').get_response(_build(catch_errors, _app))
    assert 'Retry-After' not in ok.headers


def test_catch_errors_lets_mid_body_failures_drop_the_connection():
    app = _build(catch_errors, _failing_body_app)
    body = app({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/'}, lambda *a: None)
    iterator = iter(body)
    assert next(iterator) == b'12345'
    with pytest.raises(IOError):
        next(iterator)


def test_request_id_is_generated_or_kept_when_safe():
    app = _build(request_id, _app)
    generated = webob.Request.blank('/').get_response(app).headers['X-Request-Id']
    assert generated.startswith('req-')
    kept = webob.Request.blank('/', headers={'X-Request-Id': 'abc-123'}).get_response(app)
    assert kept.headers['X-Request-Id'] == 'abc-123'
    unsafe = webob.Request.blank('/', headers={'X-Request-Id': 'a b\r\n'}).get_response(app)
    assert unsafe.headers['X-Request-Id'].startswith('req-')


def test_access_log_writes_one_line_with_bytes_and_status(caplog):
    app = _build(access_log, _app)
    with caplog.at_level(logging.INFO, logger='glance.access'):
        response = webob.Request.blank('/images?limit=2',
                                       headers={'X-Auth-Token': 'tok'}).get_response(app)
        assert response.body == b'hello world'
    lines = [r.getMessage() for r in caplog.records if r.name == 'glance.access']
    assert len(lines) == 1
    assert '"GET /images?limit=2" 200 11 ' in lines[0]
    assert 'tok' not in lines[0] and ' - "' in lines[0]


def test_access_log_names_tenant_and_user_and_gives_fields_for_json(caplog):
    def app(environ, start_response):
        environ[context.WSGI_KEY] = context.RequestContext('t1', 'u1', auth_token='tok')
        return _app(environ, start_response)

    with caplog.at_level(logging.INFO, logger='glance.access'):
        assert webob.Request.blank('/x', headers={'X-Auth-Token': 'tok'}).get_response(
            _build(access_log, app)).body == b'hello world'
    record, = [r for r in caplog.records if r.name == 'glance.access']
    assert ' t1/u1 ' in record.getMessage() and 'tok' not in record.getMessage()
    assert record.fields['identity'] == 't1/u1'
    assert (record.fields['status'], record.fields['bytes']) == ('200', 11)
    assert 'tok' not in repr(record.fields)


