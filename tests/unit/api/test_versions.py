"""Unit tests for glance-api's version discovery filter."""

import webob

from glance.api import versions


@webob.dec.wsgify
def _app(req):
    return webob.Response('the app: %s' % req.path_info)


_FILTER = versions.filter_factory({})(_app)


def test_root_is_300_with_every_version_and_self_links():
    response = webob.Request.blank(
        '/', base_url='http://glance.example:9292').get_response(_FILTER)
    assert response.status_int == 300
    assert response.content_type == 'application/json'
    listed = response.json['versions']
    assert listed[0] == {'id': 'v2.5', 'status': 'CURRENT', 'links': [
        {'rel': 'self', 'href': 'http://glance.example:9292/v2/'}]}
    assert [entry['id'] for entry in listed] == [
        'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0', 'v1.1', 'v1.0']
    assert {entry['status'] for entry in listed[1:]} == {'SUPPORTED'}
    assert listed[-1]['links'][0]['href'] == 'http://glance.example:9292/v1/'


def test_versions_asked_for_explicitly_is_200_with_the_same_document():
    explicit = webob.Request.blank('/versions').get_response(_FILTER)
    root = webob.Request.blank('/').get_response(_FILTER)
    assert explicit.status_int == 200
    assert explicit.json == root.json


def test_links_follow_a_mount_point():
    response = webob.Request.blank('/versions', base_url='https://h/image').get_response(
        _FILTER)
    assert response.json['versions'][0]['links'][0]['href'] == 'https://h/image/v2/'


def test_other_paths_and_methods():
    assert webob.Request.blank('/v2/images').get_response(_FILTER).text == (
        'the app: /v2/images')
    posted = webob.Request.blank('/', method='POST').get_response(_FILTER)
    assert posted.status_int == 405 and posted.headers['Allow'] == 'GET, HEAD'
