"""Unit tests for glance-api's factory and routes (no registry or store traffic)."""

import pytest
import webob

from glance.api import router
from glance.common import exception
from tests.unit.api.memory_store import memory_stores


def test_options_parse_sizes_once():
    options = router.ApiOptions.from_conf({'read_block_size': '256K',
                                           'store_chunk_size': '5G',
                                           'image_size_cap': '0'})
    assert options == router.ApiOptions(256 * 1024, 5 * 1024 ** 3, 0)


def test_defaults():
    assert router.ApiOptions.from_conf({}) == router.ApiOptions(1024 ** 2, 1024 ** 3,
                                                                1024 ** 4)


@pytest.mark.parametrize('option,value', [('read_block_size', '1K'),
                                          ('store_chunk_size', 'lots'),
                                          ('image_size_cap', '-5')])
def test_bad_option_fails_fast_naming_it(option, value):
    with pytest.raises(exception.ConfigError) as info:
        router.app_factory({}, **{option: value})
    assert info.value.option == option


def test_bad_registry_url_fails_fast():
    with pytest.raises(exception.ConfigError) as info:
        router.app_factory({'registry_urls': 'ftp://registry'})
    assert info.value.option == 'registry_urls'


def test_unconfigured_default_store_fails_fast():
    with pytest.raises(exception.ConfigError):
        router.app_factory({'enabled_stores': 'http', 'default_store': 'file'})


def test_file_store_factory_builds_an_app(tmp_path):
    conf = tmp_path / 'glance-api.conf'
    conf.write_text('[DEFAULT]\n[store:file]\nfilesystem_store_datadir = %s\n' % tmp_path)
    app = router.app_factory({'config_file': str(conf)})
    assert webob.Request.blank('/nowhere').get_response(app).status_int == 404


@pytest.mark.parametrize('method,path,status', [
    ('PATCH', '/images/x', 405), ('POST', '/images/x', 405), ('DELETE', '/images', 405),
    ('GET', '/other', 404)])
def test_unrouted_requests_get_json_404_or_405(method, path, status):
    app = router.build_app({}, stores=memory_stores())
    resp = webob.Request.blank(path, method=method).get_response(app)
    assert resp.status_int == status
    assert resp.json['error']['code'] == status


def test_images_without_uri_is_400():
    app = router.build_app({}, stores=memory_stores())
    resp = webob.Request.blank('/images').get_response(app)
    assert resp.status_int == 400
    assert '?uri=' in resp.json['error']['message']


@pytest.mark.parametrize('query', ['uri=%ff', 'uri=%c3%28', '%ff=1', 'uri=x&y=%fe'])
@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_images_query_that_is_not_utf8_is_400_not_500(query, method):
    app = router.build_app({}, stores=memory_stores())
    resp = webob.Request.blank('/images?' + query, method=method).get_response(app)
    assert resp.status_int == 400
    if method == 'GET':
        assert 'not percent-encoded UTF-8' in resp.json['error']['message']


@pytest.mark.parametrize('path', ['/images/%ff', '/images/%00', '/images/%c3%28'])
def test_image_paths_that_are_not_ids_are_400(path):
    app = router.build_app({}, stores=memory_stores())
    resp = webob.Request.blank(path).get_response(app)
    assert resp.status_int == 400
