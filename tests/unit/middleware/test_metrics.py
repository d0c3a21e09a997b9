"""The metrics filter over a real Router: series by route template, bytes both ways,
cut-short bodies, in-flight gauges, and the /metrics exposition.

The metric objects are process-wide (prometheus_client's design), so every test reads
the change of a value across what it does.
"""

import io

import pytest
import routes
import webob
from prometheus_client import parser

from glance.common import metrics, wsgi
from glance.middleware import metrics as metrics_filter

ROUTE = '/things/{thing_id}'


class Things(wsgi.Controller):
    """Echo the body length; stream 10 bytes; or fail mid-body."""

    def show(self, req, thing_id):
        if thing_id == 'broken':
            def body():
                yield b'12345'
                raise IOError('store went away')
            return webob.Response(app_iter=body(), content_length=10,
                                  content_type='application/octet-stream')
        return webob.Response(body=b'x' * 10, content_type='application/octet-stream')

    def update(self, req, thing_id):
        return {'received': len(req.body_file.read())}


def _app():
    mapper = routes.Mapper()
    things = Things()
    mapper.connect(ROUTE, controller=things, action='show', conditions={'method': ['GET']})
    mapper.connect(ROUTE, controller=things, action='update',
                   conditions={'method': ['PUT']})
    return metrics_filter.filter_factory({})(wsgi.Router(mapper))


# Read every response body: the filter reports a request once its body is closed.
def _value(name, **labels):
    return metrics.REGISTRY.get_sample_value(name, labels) or 0


def test_requests_are_counted_by_route_template_method_and_status():
    app = _app()
    before = _value('glance_http_requests_total', route=ROUTE, method='GET', status='200')
    unmatched = _value('glance_http_requests_total', route='unmatched', method='GET',
                       status='404')
    for thing in ('a', 'b', 'c'):
        assert webob.Request.blank('/things/' + thing).get_response(app).body == b'x' * 10
    assert webob.Request.blank('/nowhere').get_response(app).json['error']['code'] == 404
    assert _value('glance_http_requests_total', route=ROUTE, method='GET',
                  status='200') == before + 3
    assert _value('glance_http_requests_total', route='unmatched', method='GET',
                  status='404') == unmatched + 1


def test_bytes_in_and_out_and_latency_are_recorded():
    app = _app()
    sent = _value('glance_http_response_bytes_total', route=ROUTE, method='GET')
    received = _value('glance_http_request_bytes_total', route=ROUTE, method='PUT')
    timed = _value('glance_http_request_duration_seconds_count', route=ROUTE,
                   method='PUT')
    assert webob.Request.blank('/things/a').get_response(app).body == b'x' * 10
    put = webob.Request.blank('/things/a', method='PUT', body=b'y' * 1234)
    assert put.get_response(app).json == {'received': 1234}
    assert _value('glance_http_response_bytes_total', route=ROUTE,
                  method='GET') == sent + 10
    assert _value('glance_http_request_bytes_total', route=ROUTE,
                  method='PUT') == received + 1234
    assert _value('glance_http_request_duration_seconds_count', route=ROUTE,
                  method='PUT') == timed + 1


def test_cut_short_body_counts_as_incomplete_and_gauges_return_to_zero():
    app = _app()
    incomplete = _value('glance_http_responses_incomplete_total', route=ROUTE,
                        method='GET')
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen['out'] = _value('glance_streams_in_flight', direction='out')

    body = app({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/things/broken',
                'wsgi.input': io.BytesIO(), 'SERVER_NAME': 'h', 'SERVER_PORT': '80',
                'wsgi.url_scheme': 'http'}, start_response)
    assert _value('glance_http_requests_in_flight') >= 1 and seen['out'] >= 1
    with pytest.raises(IOError):
        list(body)
    body.close()
    assert _value('glance_http_responses_incomplete_total', route=ROUTE,
                  method='GET') == incomplete + 1
    assert _value('glance_http_requests_in_flight') == 0
    assert _value('glance_streams_in_flight', direction='out') == 0


def test_an_exception_from_the_app_is_counted_as_500():
    def failing(environ, start_response):
        raise RuntimeError('boom')

    app = metrics_filter.filter_factory({})(failing)
    before = _value('glance_http_requests_total', route='unmatched', method='POST',
                    status='500')
    with pytest.raises(RuntimeError):
        webob.Request.blank('/x', method='POST', body=b'z').get_response(app)
    assert _value('glance_http_requests_total', route='unmatched', method='POST',
                  status='500') == before + 1
    assert _value('glance_http_requests_in_flight') == 0
    assert _value('glance_streams_in_flight', direction='in') == 0


def test_metrics_path_serves_every_glance_metric_in_the_text_format():
    app = metrics_filter.filter_factory({}, path='/m')(_app().app)
    response = webob.Request.blank('/m').get_response(app)
    assert response.content_type == 'text/plain'
    names = {family.name for family in parser.text_string_to_metric_families(
        response.text)}
    assert {'glance_http_requests', 'glance_http_request_duration_seconds',
            'glance_store_errors', 'glance_cache_hits', 'glance_cache_evictions',
            'glance_db_pool_checked_out', 'glance_streams_in_flight'} <= names
