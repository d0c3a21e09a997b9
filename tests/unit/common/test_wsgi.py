"""The shared router and error helpers: JSON errors, 404 vs 405 with Allow."""

import io
import json

import pytest
import routes
import webob

from glance.common import exception, wsgi


class _Images(wsgi.Controller):
    def index(self, req):
        return {'images': []}

    def show(self, req, image_id):
        raise exception.ImageNotFound(image_id=image_id)

    def update(self, req, image_id):
        raise exception.Conflict(reason='bad transition')

    def fail(self, req):
        raise exception.RegistryUnavailable(reason='down')


def _router():
    mapper = routes.Mapper()
    images = _Images()
    mapper.connect('/images', controller=images, action='index',
                   conditions={'method': ['GET']})
    mapper.connect('/images/{image_id}', controller=images, action='show',
                   conditions={'method': ['GET']})
    mapper.connect('/images/{image_id}', controller=images, action='update',
                   conditions={'method': ['PUT']})
    mapper.connect('/fail', controller=images, action='fail',
                   conditions={'method': ['GET']})
    return wsgi.Router(mapper)


def _call(method, path, **kwargs):
    return webob.Request.blank(path, method=method, **kwargs).get_response(_router())


def test_action_result_is_json():
    response = _call('GET', '/images')
    assert response.status_int == 200
    assert response.json == {'images': []}


def test_domain_exceptions_map_to_json_errors():
    assert _call('GET', '/images/abc').json['error'] == {
        'code': 404, 'title': 'Not Found', 'message': 'No image found with id abc'}
    assert _call('PUT', '/images/abc').status_int == 409
    assert _call('GET', '/fail').status_int == 503


def test_unknown_path_is_404_json():
    response = _call('GET', '/nowhere')
    assert response.status_int == 404
    assert response.content_type == 'application/json'


def test_wrong_method_is_405_with_allow():
    response = _call('DELETE', '/images/abc')
    assert response.status_int == 405
    assert response.headers['Allow'] == 'GET, PUT'
    assert 'DELETE' in response.json['error']['message']


def test_errors_are_json_even_when_html_is_accepted():
    response = _call('GET', '/nowhere', headers={'Accept': 'text/html'})
    assert json.loads(response.body)['error']['code'] == 404


def test_parse_json_body_rejects_bad_input():
    def parse(body, **kwargs):
        req = webob.Request.blank('/', method='POST', body=body)
        return wsgi.parse_json_body(req, **kwargs)

    assert parse(b'{"a": 1}') == {'a': 1}
    for body, reason in [(b'', 'empty'), (b'\xff\xfe', 'UTF-8'), (b'{bad', 'malformed'),
                         (b'[1]', 'object')]:
        try:
            parse(body)
        except exception.Invalid as err:
            assert reason in err.message
        else:
            raise AssertionError('accepted %r' % body)
    try:
        parse(b'{"a": "' + b'x' * 100 + b'"}', max_bytes=50)
    except exception.RequestTooLarge:
        pass
    else:
        raise AssertionError('accepted an over-long body')


def test_status_table_uses_the_most_specific_listed_class():
    from glance.store import base as store_base

    class NarrowBadLocation(store_base.BadLocation):
        pass
    assert wsgi.status_for(NarrowBadLocation(reason='x')) == 400
    assert wsgi.status_for(store_base.StoreUnavailable(store='s', path='p',
                                                       reason='r')) == 503
    assert wsgi.status_for(exception.ChecksumMismatch(image_id='i', reason='r')) == 502
    assert wsgi.status_for(exception.RegistryUnavailable(reason='r')) == 503


def test_status_table_orders_narrow_categories_first():
    class Both(exception.Invalid, exception.UpstreamError):
        pass
    assert wsgi.status_for(Both(reason='x')) == 400
    assert wsgi.status_for(ValueError()) == 500


@pytest.mark.parametrize('path, query', [
    ('/x\xff', ''), ('/x\x00', ''), ('/x', 'a=%'), ('/x', 'a=%zz'), ('/x', 'a=%ff'),
    ('/x', '%e2%82=1'), ('/x', 'a=%e2%8'),
])
def test_malformed_request_targets_are_invalid(path, query):
    with pytest.raises(exception.Invalid):
        wsgi.check_request_target({'PATH_INFO': path, 'QUERY_STRING': query})


@pytest.mark.parametrize('path, query', [
    ('/images', ''), ('/x\xe2\x82\xac', 'a=%E2%82%AC&b=c+d&e'), ('/x', 'a=%25&b=%2B'),
])
def test_well_formed_request_targets_pass(path, query):
    wsgi.check_request_target({'PATH_INFO': path, 'QUERY_STRING': query})


@pytest.mark.parametrize('headers, expected', [
    ({}, False),
    ({'Content-Length': '0'}, False),
    ({'Content-Length': '5'}, True),
    ({'Transfer-Encoding': 'chunked'}, True),
    ({'Transfer-Encoding': 'Chunked'}, True),
])
def test_declares_body_and_has_body_agree_on_what_carries_data(headers, expected):
    req = webob.Request.blank('/images', method='POST', headers=headers)
    if 'Content-Length' not in headers:
        req.environ.pop('CONTENT_LENGTH', None)
    assert wsgi.declares_body(req.environ) is expected
    assert bool(wsgi.has_body(req)) is expected


def test_has_body_makes_a_chunked_body_readable():
    req = webob.Request.blank('/images', method='PUT',
                              headers={'Transfer-Encoding': 'chunked'})
    req.environ.pop('CONTENT_LENGTH', None)
    req.environ['wsgi.input'] = io.BytesIO(b'data')
    assert wsgi.has_body(req)
    assert req.body_file.read() == b'data'
