"""Unit tests for the v2 list query: filters, sorting, paging links."""

import urllib.parse

import pytest
import webob

from glance.api.v2 import listing
from glance.common import exception


def _parse(query):
    return listing.parse(webob.Request.blank('/v2/images?' + query))


def test_filters_tags_properties_and_paging():
    query = _parse('name=cirros&visibility=all&member_status=all&tag=a&tag=b'
                   '&size_min=10&hw_disk_bus=scsi&limit=2&marker=m1&sort=name:asc')
    assert query.filters == {'name': 'cirros', 'visibility': 'all', 'tag': ['a', 'b'],
                             'size_min': '10', 'properties': {'hw_disk_bus': 'scsi'}}
    assert (query.sort_key, query.sort_dir, query.limit, query.marker,
            query.member_status, query.empty) == ('name', 'asc', 2, 'm1', 'all', False)


def test_links_keep_the_query_and_replace_the_marker():
    query = _parse('tag=a&tag=b&limit=2&marker=m1')
    links = query.page_links('m2')
    assert links['first'] == '/v2/images?tag=a&tag=b&limit=2'
    parsed = urllib.parse.urlsplit(links['next'])
    assert parsed.path == '/v2/images'
    assert urllib.parse.parse_qsl(parsed.query) == [('tag', 'a'), ('tag', 'b'),
                                                    ('limit', '2'), ('marker', 'm2')]
    assert query.page_links(None) == {'first': '/v2/images?tag=a&tag=b&limit=2'}
    assert _parse('').page_links(None) == {'first': '/v2/images'}


def test_classic_sort_syntax_and_defaults():
    query = _parse('sort_key=size&sort_dir=desc')
    assert (query.sort_key, query.sort_dir) == ('size', 'desc')
    query = _parse('')
    assert (query.sort_key, query.sort_dir, query.limit, query.marker) == (
        None, None, None, None)


@pytest.mark.parametrize('query', ['os_hidden=true', 'os_hidden=True', 'limit=0'])
def test_queries_known_to_be_empty(query):
    assert _parse(query).empty


@pytest.mark.parametrize('query', [
    'sort_key=owner', 'sort_dir=up', 'sort=name:up', 'sort=name,size',
    'sort_key=name&sort_key=size', 'sort=name&sort_key=name', 'limit=-1', 'limit=x',
    'visibility=everyone', 'member_status=maybe', 'os_hidden=maybe',
    'changes-since=2026-01-01', 'name=a&name=b', 'limit=1&limit=2', 'q=%ff'])
def test_bad_queries_are_400(query):
    with pytest.raises(exception.Invalid):
        _parse(query)
