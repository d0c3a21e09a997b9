"""RegistryClient: image reference resolution, options, paging and error mapping.

The HTTP tests run against a small registry-shaped WSGI app served for real on
127.0.0.1 (see :func:`tests.unit.common.test_client.serve_wsgi`); the real registry
daemon is exercised in ``tests/functional/test_registry_client.py``.
"""

import json
import urllib.parse
import uuid

import pytest
import webob
import webob.dec

from glance.common import auth, config, exception
from glance.common.context import RequestContext
from glance.registry.client import RegistryClient
from tests.unit.common.test_client import serve_wsgi

IMAGE_ID = '8a7e0c2c-0d0e-4c59-9b43-0b9d3f1c2a10'


class FakeRegistry:
    """A registry-shaped WSGI app: images in a dict, paging by marker, recorded requests.

    :param next_base: base URL written into "next" links (the server's own by default).
    """

    def __init__(self, next_base=None):
        self.images = {}
        self.requests = []
        self.next_base = next_base
        self.next_override = None

    def add(self, count, **fields):
        for index in range(count):
            image_id = str(uuid.UUID(int=len(self.images) + 1))
            self.images[image_id] = dict({'id': image_id, 'name': 'img-%03d' % index,
                                          'status': 'active'}, **fields)

    def _error(self, status, message):
        response = webob.Response(status=status, content_type='application/json',
                                  charset='UTF-8')
        body = {'error': {'code': status, 'message': message}}
        response.body = json.dumps(body).encode()
        return response

    def _list(self, req, detail):
        limit = int(req.params.get('limit', 25))
        ids = sorted(self.images)
        if 'marker' in req.params:
            ids = [image_id for image_id in ids if image_id > req.params['marker']]
        page = ids[:limit]
        images = [dict(self.images[image_id], detail=detail) for image_id in page]
        body = {'images': images}
        if self.next_override is not None:
            body['next'] = self.next_override
        elif len(ids) > limit:
            query = [(key, value) for key, value in req.params.items() if key != 'marker']
            query.append(('marker', page[-1]))
            body['next'] = '%s%s?%s' % (self.next_base or req.host_url, req.path,
                                        urllib.parse.urlencode(query))
        return webob.Response(json=body)

    def _image(self, req, image_id):
        if image_id not in self.images:
            return self._error(404, 'No image found with id %s' % image_id)
        if req.method == 'DELETE':
            del self.images[image_id]
            return webob.Response(status=204)
        if req.method == 'PUT':
            changes = req.json['image']
            if changes.get('status') == 'queued':
                return self._error(409, 'Cannot change status from active to queued')
            self.images[image_id].update(changes)
        return webob.Response(json={'image': self.images[image_id]})

    @webob.dec.wsgify
    def __call__(self, req):
        self.requests.append(req.copy())
        parts = req.path_info.strip('/').split('/')
        if parts[0] == 'broken':
            return webob.Response(json={'unexpected': True})
        if parts[0] != 'images':
            return self._error(404, 'No resource at %s' % req.path_info)
        if len(parts) == 1 and req.method == 'POST':
            image = dict(req.json['image'], id=IMAGE_ID)
            image['uri'] = '%s/images/%s' % (req.host_url, IMAGE_ID)
            self.images[IMAGE_ID] = image
            return webob.Response(status=201, json={'image': image})
        if len(parts) == 1 or parts[1:] == ['detail']:
            if req.params.get('sort_dir') not in (None, 'asc', 'desc'):
                return self._error(400, 'Invalid sort_dir: %r' % req.params['sort_dir'])
            return self._list(req, parts[1:] == ['detail'])
        return self._image(req, parts[1])


def _served_registry():
    """A :class:`FakeRegistry` served on loopback; ``url`` set while it runs."""
    app = FakeRegistry()
    with serve_wsgi(app) as url:
        app.url = url
        yield app


registry = pytest.fixture(_served_registry, name='registry')
second_registry = pytest.fixture(_served_registry, name='second_registry')


ALLOWED = ['http://127.0.0.1:9191', 'https://registry.example/glance/',
           'http://[::1]:9292']


@pytest.mark.parametrize('ref, expected', [
    (IMAGE_ID, ('http://127.0.0.1:9191', IMAGE_ID)),
    (IMAGE_ID.upper(), ('http://127.0.0.1:9191', IMAGE_ID.upper())),
    ('http://127.0.0.1:9191/images/' + IMAGE_ID, ('http://127.0.0.1:9191', IMAGE_ID)),
    ('HTTP://127.0.0.1:9191/images/' + IMAGE_ID, ('http://127.0.0.1:9191', IMAGE_ID)),
    ('https://registry.example/glance/images/' + IMAGE_ID,
     ('https://registry.example:443/glance', IMAGE_ID)),
    ('https://REGISTRY.example:443/glance/images/' + IMAGE_ID,
     ('https://registry.example:443/glance', IMAGE_ID)),
    ('http://[::1]:9292/images/' + IMAGE_ID, ('http://[::1]:9292', IMAGE_ID)),
])
def test_resolve_accepts_bare_ids_and_allow_listed_uris(ref, expected):
    assert RegistryClient(ALLOWED).resolve(ref) == expected


@pytest.mark.parametrize('ref', [
    'http://127.0.0.2:9191/images/' + IMAGE_ID,
    'http://localhost:9191/images/' + IMAGE_ID,
    'http://127.0.0.1:9192/images/' + IMAGE_ID,
    'https://127.0.0.1:9191/images/' + IMAGE_ID,
    'http://127.0.0.1:9191/prefix/images/' + IMAGE_ID,
    'https://registry.example/images/' + IMAGE_ID,
    'https://registry.example/glancex/images/' + IMAGE_ID,
    'https://registry.example/other/glance/images/' + IMAGE_ID,
    'https://registry.example/glance/../glance/images/' + IMAGE_ID,
    'https://registry.example:8443/glance/images/' + IMAGE_ID,
    'http://registry.example/glance/images/' + IMAGE_ID,
    'ftp://127.0.0.1:9191/images/' + IMAGE_ID,
])
def test_resolve_rejects_uris_of_other_registries(ref):
    with pytest.raises(exception.Invalid) as info:
        RegistryClient(ALLOWED).resolve(ref)
    assert 'unknown registry' in info.value.message


def test_resolve_never_echoes_credentials_in_a_uri():
    ref = 'http://admin:pa55word@127.0.0.1:9191/images/' + IMAGE_ID
    with pytest.raises(exception.Invalid) as info:
        RegistryClient(ALLOWED).resolve(ref)
    assert info.value.message == 'Invalid input: unknown registry'


@pytest.mark.parametrize('ref', [
    '', None, 42, 'not-a-uuid', IMAGE_ID + '/x', '../' + IMAGE_ID,
    'http://127.0.0.1:9191/images/not-a-uuid',
    'http://127.0.0.1:9191/images/%s?x=1' % IMAGE_ID,
    'http://127.0.0.1:9191/images/%s#f' % IMAGE_ID,
    'http://127.0.0.1:9191/images/%s/' % IMAGE_ID,
    'http://127.0.0.1:9191/' + IMAGE_ID,
    '//127.0.0.1:9191/images/' + IMAGE_ID,
])
def test_resolve_rejects_malformed_references(ref):
    with pytest.raises(exception.Invalid):
        RegistryClient(ALLOWED).resolve(ref)


def test_constructor_normalises_and_deduplicates_the_allow_list():
    registry_client = RegistryClient(['http://127.0.0.1:9191/', 'HTTP://127.0.0.1:9191',
                                      'http://127.0.0.1:9292'])
    assert registry_client.registries == ['http://127.0.0.1:9191',
                                          'http://127.0.0.1:9292']
    assert registry_client.default_registry == 'http://127.0.0.1:9191'
    assert RegistryClient('http://h').registries == ['http://h:80']


@pytest.mark.parametrize('registries', [[], None, ['http://u:p@h:1'], ['file:///x']])
def test_constructor_rejects_unusable_allow_lists(registries):
    with pytest.raises(exception.Invalid):
        RegistryClient(registries)


def test_from_conf_defaults():
    registry_client = RegistryClient.from_conf({})
    assert registry_client.registries == ['http://127.0.0.1:9191']
    pool = registry_client._clients['http://127.0.0.1:9191'].pool
    assert (pool.timeout, pool.ca_file, pool.insecure) == (30, None, False)


def test_from_conf_reads_every_option(tmp_path):
    ca_file = tmp_path / 'ca.pem'
    ca_file.write_text('x')
    conf = {'registry_urls': 'http://127.0.0.1:1, https://127.0.0.1:2/r',
            'registry_timeout': '2.5', 'registry_ca_file': 'ca.pem',
            'registry_insecure': 'yes', 'config_file': str(tmp_path / 'glance-api.conf')}
    registry_client = RegistryClient.from_conf(conf)
    assert registry_client.registries == ['http://127.0.0.1:1', 'https://127.0.0.1:2/r']
    pool = registry_client._clients['http://127.0.0.1:1'].pool
    assert (pool.timeout, pool.ca_file, pool.insecure) == (2.5, str(ca_file), True)
    assert all(json_client.pool is pool
               for json_client in registry_client._clients.values())


def test_from_conf_reads_the_client_certificate_and_service_token(tmp_path):
    for name in ('cert.pem', 'key.pem'):
        (tmp_path / name).write_text('x')
    registry_client = RegistryClient.from_conf({
        'registry_cert_file': 'cert.pem', 'registry_key_file': 'key.pem',
        'registry_service_token': 'svc-token-0123456789',
        'config_file': str(tmp_path / 'glance-api.conf')})
    json_client = registry_client._clients['http://127.0.0.1:9191']
    assert json_client.pool.client_cert == (str(tmp_path / 'key.pem'),
                                            str(tmp_path / 'cert.pem'))
    assert json_client.credentials.headers() == {
        'X-Service-Token': 'svc-token-0123456789'}


@pytest.mark.parametrize('conf, option', [
    ({'registry_urls': 'http://ok:1 http://user:pw@bad:2'}, 'registry_urls'),
    ({'registry_urls': 'gopher://x'}, 'registry_urls'),
    ({'registry_urls': ' , '}, 'registry_urls'),
    ({'registry_timeout': '0'}, 'registry_timeout'),
    ({'registry_timeout': 'soon'}, 'registry_timeout'),
    ({'registry_insecure': 'maybe'}, 'registry_insecure'),
    ({'registry_ca_file': '/nonexistent/ca.pem'}, 'registry_ca_file'),
    ({'registry_cert_file': '/nonexistent/c.pem'}, 'registry_cert_file'),
    ({'registry_cert_file': '/nonexistent/c.pem', 'registry_key_file': '/nonexistent/k'},
     'registry_cert_file'),
    ({'registry_service_token': 's' * 20, 'registry_trusted_gateway': 'true'},
     'registry_service_token'),
])
def test_from_conf_names_the_bad_option(conf, option):
    with pytest.raises(exception.ConfigError) as info:
        RegistryClient.from_conf(conf, section='app:api')
    assert info.value.option == option
    assert info.value.section == 'app:api'
    assert 'pw' not in str(info.value)


def test_with_context_sends_the_identity_and_keeps_the_original(registry):
    registry.add(1)
    anonymous = RegistryClient([registry.url])
    context = RequestContext(tenant='t1', user='u1', roles=['member', 'service'],
                             auth_token='tok')
    acting = anonymous.with_context(context)
    acting.list_images()
    anonymous.list_images()
    first, second = registry.requests
    assert first.headers['X-Tenant-Id'] == 't1'
    assert first.headers['X-Roles'] == 'member'
    assert first.headers['X-Auth-Token'] == 'tok'
    assert 'X-Service-Token' not in first.headers
    assert 'X-Tenant-Id' not in second.headers
    assert acting.context is context and anonymous.context is None
    assert acting.registries == anonymous.registries


def test_service_credentials_go_with_every_request_of_every_context(registry):
    registry.add(1)
    service = RegistryClient([registry.url], credentials=auth.ServiceCredentials(
        token=config.Secret('svc-token-0123456789')))
    service.list_images()
    service.with_context(RequestContext(tenant='t1', auth_token='tok')).list_images()
    first, second = registry.requests
    assert first.headers['X-Service-Token'] == 'svc-token-0123456789'
    assert second.headers['X-Service-Token'] == 'svc-token-0123456789'
    assert second.headers['X-Auth-Token'] == 'tok'
    assert 'service' not in second.headers.get('X-Roles', '')


def test_close_drops_idle_connections_and_the_client_still_works(registry):
    registry_client = RegistryClient([registry.url])
    acting = registry_client.with_context(RequestContext(tenant='t1'))
    acting.list_images()
    assert len(registry_client._pool._idle) == 1
    registry_client.close()
    assert len(registry_client._pool._idle) == 0
    assert acting.list_images() == {'images': [], 'next': None}


def test_list_images_sends_filters_sort_and_paging(registry):
    registry.add(3)
    registry_client = RegistryClient([registry.url])
    page = registry_client.list_images(
        detail=True, filters={'is_public': True, 'name': 'a b', 'status': None,
                              'properties': {'os': 'linux'}, 'size_min': 10},
        sort_key='name', sort_dir='asc', limit=2, marker=None)
    query = urllib.parse.parse_qs(registry.requests[-1].query_string)
    assert registry.requests[-1].path == '/images/detail'
    assert query == {'is_public': ['true'], 'name': ['a b'], 'property-os': ['linux'],
                     'size_min': ['10'], 'sort_key': ['name'], 'sort_dir': ['asc'],
                     'limit': ['2']}
    assert [image['detail'] for image in page['images']] == [True, True]
    assert page['next'].startswith(registry.url + '/images/detail?')
    last = registry_client.list_images(limit=2, marker=page['images'][-1]['id'])
    assert registry.requests[-1].path == '/images'
    assert len(last['images']) == 1 and last['next'] is None


def test_iter_images_follows_next_links_over_many_pages(registry):
    registry.add(11)
    images = list(RegistryClient([registry.url]).iter_images(page_size=3,
                                                             sort_key='name'))
    assert [image['id'] for image in images] == sorted(registry.images)
    assert len(registry.requests) == 4
    assert all('sort_key=name' in req.query_string for req in registry.requests)


def test_iter_images_of_an_empty_registry(registry):
    assert list(RegistryClient([registry.url]).iter_images()) == []


def test_iter_images_rejects_an_unknown_registry_before_iterating(registry):
    with pytest.raises(exception.Invalid):
        RegistryClient([registry.url]).iter_images(registry='http://127.0.0.1:1')
    assert registry.requests == []


@pytest.mark.parametrize('next_link', [
    'http://127.0.0.2:{port}/images?marker=x',
    'http://evil.example/images?marker=x',
    'http://127.0.0.1:{port}/images/00000000-0000-0000-0000-000000000001',
    'http://127.0.0.1:{port}/other/images?marker=x',
    'http://u:p@127.0.0.1:{port}/images?marker=x',
    '/images?marker=x',
    '{{"not": "a url"}}',
])
def test_next_links_leaving_the_registry_listing_are_refused(registry, next_link):
    registry.add(3)
    port = urllib.parse.urlsplit(registry.url).port
    registry.next_override = next_link.format(port=port)
    registry_client = RegistryClient([registry.url, 'http://127.0.0.2:%d' % port])
    with pytest.raises(exception.RegistryUnavailable) as info:
        list(registry_client.iter_images(page_size=1))
    assert 'next' in info.value.message
    assert len(registry.requests) == 1


def test_a_next_link_to_itself_stops_with_an_error(registry):
    registry.add(3)
    registry.next_override = registry.url + '/images/detail?limit=1'
    with pytest.raises(exception.RegistryUnavailable) as info:
        list(RegistryClient([registry.url]).iter_images(page_size=1))
    assert 'same "next" link twice' in info.value.message
    assert len(registry.requests) == 2


def test_get_create_update_delete_round_trip(registry):
    registry_client = RegistryClient([registry.url]).with_context(
        RequestContext(tenant='t1'))
    created = registry_client.create_image({'name': 'cirros', 'properties': {'a': '1'}},
                                           extra_headers={'X-Extra': 'yes'})
    assert created['uri'] == '%s/images/%s' % (registry.url, IMAGE_ID)
    assert registry.requests[-1].headers['X-Extra'] == 'yes'
    assert registry_client.get_image(created['uri'])['name'] == 'cirros'
    updated = registry_client.update_image(IMAGE_ID, {'name': 'new'}, purge_props=True,
                                           extra_headers={'X-Extra': 'again'})
    put = registry.requests[-1]
    assert (put.method, put.path, put.query_string) == ('PUT', '/images/' + IMAGE_ID,
                                                        'purge_props=true')
    assert put.json == {'image': {'name': 'new'}}
    assert put.headers['X-Extra'] == 'again'
    assert updated['name'] == 'new'
    assert registry_client.delete_image(created['uri']) is None
    assert registry.requests[-1].method == 'DELETE'
    assert registry.images == {}


def test_missing_image_is_image_not_found_with_the_server_message(registry):
    with pytest.raises(exception.ImageNotFound) as info:
        RegistryClient([registry.url]).get_image(IMAGE_ID)
    assert info.value.message == 'No image found with id %s' % IMAGE_ID
    assert info.value.kwargs == {'image_id': IMAGE_ID}


def test_registry_errors_map_to_typed_exceptions(registry):
    registry.add(1)
    image_id = next(iter(registry.images))
    registry_client = RegistryClient([registry.url])
    with pytest.raises(exception.Conflict) as info:
        registry_client.update_image(image_id, {'status': 'queued'})
    assert info.value.message == 'Cannot change status from active to queued'
    with pytest.raises(exception.Invalid) as info:
        registry_client.list_images(sort_dir='sideways')
    assert info.value.message == "Invalid sort_dir: 'sideways'"
    with pytest.raises(exception.ImageNotFound):
        registry_client.delete_image(IMAGE_ID)


def test_unreachable_registry_is_registry_unavailable():
    registry_client = RegistryClient(['http://127.0.0.1:1'], timeout=2)
    with pytest.raises(exception.RegistryUnavailable) as info:
        registry_client.get_image(IMAGE_ID)
    assert info.value.message == ('Registry unavailable: http://127.0.0.1:1 '
                                  'refused the connection')


def test_answers_without_the_expected_shape_are_registry_unavailable(registry):
    registry_client = RegistryClient([registry.url + '/broken'])
    with pytest.raises(exception.RegistryUnavailable) as info:
        registry_client.list_images()
    assert 'without an "images" list' in info.value.message


def test_images_of_several_registries_are_reached_by_uri(registry, second_registry):
    registry.add(1)
    second_registry.add(2, name='second')
    registry_client = RegistryClient([registry.url, second_registry.url])
    for app in (registry, second_registry):
        for image_id in app.images:
            uri = '%s/images/%s' % (app.url, image_id)
            assert registry_client.get_image(uri) == app.images[image_id]
    created = registry_client.create_image({'name': 'x'},
                                           registry=second_registry.url + '/')
    assert created['uri'].startswith(second_registry.url)
    assert IMAGE_ID in second_registry.images and IMAGE_ID not in registry.images
    names = [image['name'] for image in
             registry_client.iter_images(registry=second_registry.url, page_size=1)]
    assert names == ['second', 'second', 'x']


def test_unknown_registry_argument_is_refused(registry):
    registry_client = RegistryClient([registry.url])
    for call in (lambda: registry_client.list_images(registry='http://127.0.0.1:1'),
                 lambda: registry_client.create_image({}, registry='http://127.0.0.1:1'),
                 lambda: registry_client.list_images(registry='http://u:p@127.0.0.1:1')):
        with pytest.raises(exception.Invalid) as info:
            call()
        assert 'unknown registry' in info.value.message
        assert 'p@' not in info.value.message
    assert registry.requests == []
