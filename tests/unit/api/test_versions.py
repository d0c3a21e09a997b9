"""Unit tests for glance-api's version discovery document."""

import routes
import webob

from glance.api import versions
from glance.common import wsgi


def _app():
    mapper = routes.Mapper()
    versions.connect_routes(mapper)
    return wsgi.Router(mapper)


def test_root_is_300_with_every_version_and_self_links():
    response = webob.Request.blank('/', base_url='http://glance.example:9292').get_response(
        _app())
    assert response.status_int == 300
    listed = response.json['versions']
    assert listed[0] == {'id': 'v2.5', 'status': 'CURRENT', 'links': [
        {'rel': 'self', 'href': 'http://glance.example:9292/v2/'}]}
    assert [entry['id'] for entry in listed] == [
        'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0', 'v1.1', 'v1.0']
    assert {entry['status'] for entry in listed[1:]} == {'SUPPORTED'}
    assert listed[-1]['links'][0]['href'] == 'http://glance.example:9292/v1/'


def test_versions_asked_for_explicitly_is_200_with_the_same_document():
    app = _app()
    explicit = webob.Request.blank('/versions').get_response(app)
    root = webob.Request.blank('/').get_response(app)
    assert explicit.status_int == 200
    assert explicit.json == root.json
