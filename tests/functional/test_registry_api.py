"""The registry's REST API over HTTP: the real daemon on SQLite, MariaDB and PostgreSQL.

One ``glance-registry`` process per database kind serves the whole module (shipped
paste pipeline, generated conf); every test works under tenants of its own, so tests
do not see each other's images. Requests are raw ``http.client`` calls, so what is
checked is exactly what goes over the wire.
"""

import concurrent.futures
import http.client
import json
import urllib.parse
import uuid

import pytest

from tests.functional import daemons, databases


class Reply:
    """One HTTP response: ``status``, ``headers``, ``body`` (bytes), ``json``."""

    def __init__(self, response):
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()
        self.json = (json.loads(self.body)
                     if response.getheader('Content-Type', '').startswith(
                         'application/json') and self.body else None)

    def error(self, status):
        """Assert a JSON error with this status; return its message."""
        assert self.status == status, (self.status, self.body[:500])
        message = self.json['error']['message']
        assert message and 'Traceback' not in message
        return message


class Registry:
    """A running registry daemon and a way to call it as one identity.

    :param daemon: the started :class:`tests.functional.daemons.Daemon`.
    :param database: its :class:`tests.functional.databases.TestDatabase`.
    """

    def __init__(self, daemon, database):
        self.daemon = daemon
        self.database = database
        self.url = daemon.url
        parts = urllib.parse.urlsplit(daemon.url)
        self.host, self.port = parts.hostname, parts.port

    def call(self, method, path, body=None, raw=None, tenant=None, roles=(),
             headers=None):
        """Send one request; ``body`` goes as JSON, ``raw`` as given bytes.

        The registry runs in trusted_gateway mode: the role ``service`` goes as
        ``X-Service-Roles`` (what a gateway sets for a verified service token), the
        others as ``X-Roles``.
        """
        headers = dict(headers or {})
        if tenant:
            headers['X-Tenant-Id'] = tenant
        if [role for role in roles if role != 'service']:
            headers['X-Roles'] = ','.join(role for role in roles if role != 'service')
        if 'service' in roles:
            headers['X-Service-Roles'] = 'service'
        if body is not None:
            raw = json.dumps(body).encode('utf-8')
        if raw is not None:
            headers['Content-Type'] = 'application/json'
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=raw, headers=headers)
            return Reply(connection.getresponse())
        finally:
            connection.close()

    def create(self, tenant, roles=('member',), **fields):
        """Create an image as ``tenant`` (a member, who may publish here); returns the
        record (asserts 201)."""
        reply = self.call('POST', '/images', {'image': fields}, tenant=tenant, roles=roles)
        assert reply.status == 201, reply.body
        return reply.json['image']

    def walk(self, path, tenant, roles=(), max_pages=100):
        """Follow ``next`` links from ``path``; returns (images, pages)."""
        images, pages = [], 0
        while path and pages < max_pages:
            reply = self.call('GET', path, tenant=tenant, roles=roles)
            assert reply.status == 200, reply.body
            images += reply.json['images']
            pages += 1
            path = reply.json.get('next')
            if path:
                assert path.startswith(self.url + '/images')
                path = path[len(self.url):]
        return images, pages


@pytest.fixture(scope='module', params=databases.KINDS)
def registry(request, tmp_path_factory):
    """One registry daemon per database kind for the whole module."""
    folder = tmp_path_factory.mktemp('registry-' + request.param)
    database = databases.create_database(request.param, folder)
    daemon = daemons.registry_daemon(folder, database.url)
    try:
        daemon.start()
        yield Registry(daemon, database)
    finally:
        daemon.stop()
        database.drop()


@pytest.fixture
def tenants():
    """Two tenant names no other test uses."""
    suffix = uuid.uuid4().hex[:8]
    return 'alice-' + suffix, 'bob-' + suffix


ADMIN = ('admin',)
# Status, size and checksums are set only by the upload flow: glance-api's identity.
SERVICE = ('service',)
# glance-api acting for a member: making an image public takes a publish role too
# (publish_roles), which the service role is not.
MEMBER_SERVICE = ('member',) + SERVICE


def test_crud_round_trip(registry, tenants):
    alice, _ = tenants
    image = registry.create(alice, roles=SERVICE, name='cirros', disk_format='qcow2',
                            container_format='bare', size=13, is_public=False,
                            checksum='0123456789abcdef0123456789abcdef',
                            properties={'os': 'linux', 'arch': 'x86_64'})
    assert image['uri'] == '%s/images/%s' % (registry.url, image['id'])
    assert (image['owner'], image['status'], image['deleted']) == (alice, 'queued', False)

    shown = registry.call('GET', '/images/' + image['id'], tenant=alice)
    assert shown.status == 200 and shown.json['image'] == {
        key: value for key, value in image.items() if key not in ('location', 'chunks')}

    updated = registry.call('PUT', '/images/' + image['id'], {'image': {
        'status': 'active', 'properties': {'os': 'bsd'}}}, tenant=alice,
        roles=SERVICE).json['image']
    assert updated['status'] == 'active'
    assert updated['properties'] == {'os': 'bsd', 'arch': 'x86_64'}
    purged = registry.call('PUT', '/images/%s?purge_props=true' % image['id'],
                           {'image': {'properties': {'new': '1'}}}, tenant=alice)
    assert purged.json['image']['properties'] == {'new': '1'}

    assert registry.call('DELETE', '/images/' + image['id'], tenant=alice).status == 204
    registry.call('GET', '/images/' + image['id'], tenant=alice).error(404)
    assert registry.call('GET', '/images?owner=' + alice, tenant=alice).json == {
        'images': []}
    deleted = registry.call('GET', '/images/' + image['id'], tenant='ops', roles=ADMIN)
    assert deleted.json['image']['deleted'] is True
    assert deleted.json['image']['status'] == 'deleted'


def test_client_supplied_id_and_duplicates(registry, tenants):
    alice, bob = tenants
    image_id = str(uuid.uuid4())
    assert registry.create(alice, id=image_id.upper())['id'] == image_id
    registry.call('POST', '/images', {'image': {'id': image_id}}, tenant=bob).error(409)


def test_locations_only_for_the_service(registry, tenants):
    alice, _ = tenants
    chunks = [{'location': 'file:///var/lib/glance/images/x.%d' % index, 'size': 4,
               'checksum': 'e2fc714c4727ee9395f324cd2e7f331f'} for index in range(3)]
    registry.call('POST', '/images', {'image': {'chunks': chunks}},
                  tenant=alice).error(403)
    registry.call('POST', '/images', {'image': {'chunks': chunks}},
                  tenant='ops', roles=ADMIN).error(403)
    registry.call('POST', '/images', {'image': {'chunks': chunks}}, tenant=alice,
                  headers={'X-Roles': 'service'}).error(403)
    image = registry.create(alice, roles=('service',), chunks=chunks, size=12)
    assert image['chunks'] == chunks and image['location'] == chunks[0]['location']
    for tenant, roles in ((alice, ()), ('ops', ADMIN)):
        assert 'chunks' not in registry.call('GET', '/images/' + image['id'],
                                             tenant=tenant, roles=roles).json['image']


def test_unicode_and_largest_values_round_trip(registry, tenants):
    alice, _ = tenants
    name = '\U0001F427' * 255
    huge_value = ('\u00e9t\u00e9 \U0001F30A ' * 10000)[:65535]
    long_value = 'v' * 254 + '\u00e9' * 46
    properties = {'K' * 255: huge_value, 'long': long_value, 'key': 'lower',
                  'Key': 'upper'}
    image = registry.create(alice, name=name, properties=properties)
    stored = registry.call('GET', '/images/' + image['id'], tenant=alice).json['image']
    assert stored['name'] == name
    assert stored['properties'] == properties

    def found(key, value):
        reply = registry.call('GET', '/images?' + urllib.parse.urlencode(
            {'owner': alice, 'property-' + key: value}), tenant=alice)
        assert reply.status == 200, reply.body
        return [item['id'] for item in reply.json['images']]

    # Values longer than the indexed prefix still match exactly, and only exactly.
    assert found('long', long_value) == [image['id']]
    assert found('long', long_value[:-1]) == []
    assert found('long', long_value[:255]) == []
    assert found('key', 'lower') == [image['id']]
    assert found('key', 'LOWER') == []
    assert found('KEY', 'lower') == []


def test_filters(registry, tenants):
    alice, bob = tenants
    first = registry.create(alice, roles=MEMBER_SERVICE, name='a', disk_format='raw',
                            container_format='bare', size=10, is_public=True,
                            properties={'os': 'linux'})
    registry.create(alice, roles=SERVICE, name='b', disk_format='qcow2',
                    container_format='ovf', size=100,
                    properties={'os': 'linux', 'arch': 'arm'})
    registry.create(alice, name='c', properties={'os': 'bsd'})
    registry.create(bob, roles=MEMBER_SERVICE, name='d', size=50, is_public=True)
    registry.call('PUT', '/images/' + first['id'], {'image': {'status': 'active'}},
                  tenant=alice, roles=SERVICE)
    owners = 'owner=%s' % alice

    def names(query, tenant=alice):
        reply = registry.call('GET', '/images?sort_key=name&sort_dir=asc&' + query,
                              tenant=tenant)
        assert reply.status == 200, reply.body
        return [image['name'] for image in reply.json['images']]

    assert names(owners) == ['a', 'b', 'c']
    assert names('owner=%s' % bob) == ['d']
    assert names(owners + '&name=b') == ['b']
    assert names(owners + '&status=active') == ['a']
    assert names(owners + '&disk_format=qcow2') == ['b']
    assert names(owners + '&container_format=bare') == ['a']
    assert names(owners + '&is_public=false') == ['b', 'c']
    assert names(owners + '&size_min=50') == ['b']
    assert names(owners + '&size_max=50') == ['a']
    assert names(owners + '&property-os=linux') == ['a', 'b']
    assert names(owners + '&property-os=linux&property-arch=arm') == ['b']
    assert names('owner=%s&property-os=linux' % alice, tenant=bob) == ['a']
    since = urllib.parse.quote(registry.call('GET', '/images/' + first['id'],
                                             tenant=alice).json['image']['updated_at'])
    assert names(owners + '&changes-since=' + since) == ['a']
    assert names(owners + '&changes-since=0001-01-01T00:00:00') == ['a', 'b', 'c']
    assert names(owners + '&changes-since=9999-12-31T23:59:59.999999Z') == []
    assert names(owners + '&size_max=9223372036854775807') == ['a', 'b']


@pytest.mark.parametrize('sort_key', ['name', 'status', 'container_format',
                                      'disk_format', 'size', 'id', 'created_at',
                                      'updated_at'])
def test_every_sort_key_walks_all_pages_without_duplicates(registry, tenants, sort_key):
    alice, _ = tenants
    values = [None, 'b', 'a', 'b', None, 'a', 'c']
    for index, value in enumerate(values):
        size = None if value is None else ord(value)
        registry.create(alice, roles=SERVICE, name=value, disk_format=value,
                        container_format=value,
                        size=size, status='active' if index % 3 else 'queued')
    for sort_dir in ('asc', 'desc'):
        query = '/images/detail?owner=%s&sort_key=%s&sort_dir=%s' % (alice, sort_key,
                                                                     sort_dir)
        walked, pages = registry.walk(query + '&limit=2', alice)
        one_page, _ = registry.walk(query + '&limit=100', alice)
        ids = [image['id'] for image in walked]
        assert pages == 4 and len(set(ids)) == len(values)
        assert ids == [image['id'] for image in one_page]
        keys = [image[sort_key] for image in walked]
        # NULLs gather at one end (which end is the database's choice) ...
        nulls = [index for index, key in enumerate(keys) if key is None]
        assert nulls in ([], list(range(len(nulls))),
                         list(range(len(keys) - len(nulls), len(keys))))
        # ... and the rest is ordered, ties broken by id in the same direction.
        ordered = [(key, image['id']) for key, image in zip(keys, walked)
                   if key is not None]
        assert ordered == sorted(ordered, reverse=sort_dir == 'desc')


def test_visibility_for_two_tenants_admin_and_anonymous(registry, tenants):
    alice, bob = tenants
    private = registry.create(alice, name='private')
    public = registry.create(alice, name='public', is_public=True)
    theirs = registry.create(bob, name='theirs')

    def names(tenant, roles=()):
        query = '/images?sort_key=name&sort_dir=asc&limit=1000&name=%s'
        found = []
        for name in ('private', 'public', 'theirs'):
            reply = registry.call('GET', query % name, tenant=tenant, roles=roles)
            found += [image['name'] for image in reply.json['images']
                      if image['id'] in (private['id'], public['id'], theirs['id'])]
        return found

    assert names(alice) == ['private', 'public']
    assert names(bob) == ['public', 'theirs']
    assert names('ops', ADMIN) == ['private', 'public', 'theirs']
    assert names(None) == ['public']
    registry.call('GET', '/images/' + private['id'], tenant=bob).error(404)
    registry.call('PUT', '/images/' + private['id'], {'image': {'name': 'x'}},
                  tenant=bob).error(404)
    registry.call('PUT', '/images/' + public['id'], {'image': {'name': 'x'}},
                  tenant=bob).error(403)
    registry.call('DELETE', '/images/' + public['id'], tenant=bob).error(403)
    registry.call('POST', '/images', {'image': {}}).error(403)
    registry.call('POST', '/images', {'image': {'owner': bob}}, tenant=alice).error(403)
    moved = registry.call('PUT', '/images/' + private['id'], {'image': {'owner': bob}},
                          tenant='ops', roles=ADMIN)
    assert moved.json['image']['owner'] == bob
    assert registry.call('GET', '/images/' + private['id'], tenant=bob).status == 200


def test_status_transitions(registry, tenants):
    alice, _ = tenants
    image = registry.create(alice)
    path = '/images/' + image['id']
    for status in ('saving', 'saving', 'active'):
        assert registry.call('PUT', path, {'image': {'status': status}},
                             tenant=alice, roles=SERVICE).status == 200
    for status in ('queued', 'saving', 'killed'):
        message = registry.call('PUT', path, {'image': {'status': status}},
                                tenant=alice, roles=SERVICE).error(409)
        assert 'active' in message and status in message
    for status in ('pending_delete', 'deleted'):
        assert registry.call('PUT', path, {'image': {'status': status}},
                             tenant=alice, roles=SERVICE).status == 200
    registry.call('PUT', path, {'image': {'status': 'active'}}, tenant='ops',
                  roles=ADMIN + SERVICE).error(409)
    registry.call('PUT', path, {'image': {'status': 'active'}}, tenant='ops',
                  roles=ADMIN).error(403)


BAD_BODIES = [
    b'', b'{', b'not json', b'[1]', b'{"image": 5}', b'{"image": {}, "x": 1}',
    b'\xff\xfe\x00', b'{"image": {"name": "\xc3"}}',
    json.dumps({'image': {'size': 'abc'}}).encode(),
    json.dumps({'image': {'is_public': 'maybe'}}).encode(),
    json.dumps({'image': {'name': 'n' * 256}}).encode(),
    json.dumps({'image': {'name': 'bell\u0007'}}).encode(),
    json.dumps({'image': {'name': '\ud83d'}}).encode(),
    json.dumps({'image': {'status': 'bogus'}}).encode(),
    json.dumps({'image': {'id': 'not-a-uuid'}}).encode(),
    json.dumps({'image': {'unknown_field': 1}}).encode(),
    json.dumps({'image': {'created_at': '2026-01-01'}}).encode(),
    json.dumps({'image': {'properties': {'k' * 256: 'v'}}}).encode(),
    json.dumps({'image': {'properties': {'k': 'v' * 65536}}}).encode(),
    json.dumps({'image': {'properties': {'k\u0000': 'v'}}}).encode(),
    json.dumps({'image': {'properties': {'k': 'v\u0000'}}}).encode(),
    json.dumps({'image': {'properties': {'k': 1}}}).encode(),
    json.dumps({'image': {'size': 2 ** 64}}).encode(),
]
BAD_QUERIES = [
    'sort_key=owner', 'sort_dir=sideways', 'limit=0', 'limit=-1', 'limit=abc',
    'marker=nope', 'marker=%s' % uuid.uuid4(), 'is_public=maybe', 'size_min=x',
    'size_max=-1', 'changes-since=soon', 'status=bogus', 'name=%00', 'name=%FF',
    'property-k=%FF%FE', 'bogus=1', 'name=a&name=b', 'name=' + 'n' * 256,
]


def test_bad_input_is_400_never_500(registry, tenants):
    alice, _ = tenants
    image = registry.create(alice)
    for raw in BAD_BODIES:
        registry.call('POST', '/images', raw=raw, tenant=alice).error(400)
        registry.call('PUT', '/images/' + image['id'], raw=raw, tenant=alice).error(400)
    for query in BAD_QUERIES:
        for path in ('/images?', '/images/detail?'):
            registry.call('GET', path + query, tenant=alice).error(400)
    registry.call('PUT', '/images/%s?purge_props=perhaps' % image['id'],
                  {'image': {}}, tenant=alice).error(400)
    stored = registry.call('GET', '/images/' + image['id'], tenant=alice).json['image']
    assert stored == image


def test_unknown_routes_are_404_and_wrong_methods_405(registry, tenants):
    alice, _ = tenants
    for path in ('/', '/nope', '/images/not-a-uuid', '/images/%s' % uuid.uuid4(),
                 '/images/detail/more'):
        registry.call('GET', path, tenant=alice).error(404)
    for method, path, allow in (('DELETE', '/images', 'GET, HEAD, POST'),
                                ('POST', '/images/detail', 'GET, HEAD'),
                                ('POST', '/images/%s' % uuid.uuid4(),
                                 'DELETE, GET, HEAD, PUT')):
        reply = registry.call(method, path, tenant=alice)
        reply.error(405)
        assert reply.headers['Allow'] == allow
    assert registry.call('GET', '/healthcheck').body == b'OK\n'
    versions = registry.call('GET', '/versions').json['versions']
    assert versions[0]['status'] == 'CURRENT'


def test_concurrent_writes_and_reads_all_succeed(registry, tenants):
    alice, _ = tenants

    def work(index):
        created = registry.call('POST', '/images', {'image': {
            'name': 'c%02d' % index, 'properties': {'n': str(index)}}}, tenant=alice)
        updated = registry.call('PUT', '/images/' + created.json['image']['id'],
                                {'image': {'status': 'active'}}, tenant=alice,
                                roles=SERVICE)
        listed = registry.call('GET', '/images/detail?owner=' + alice, tenant=alice)
        return created.status, updated.status, listed.status

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(40)))
    assert set(results) == {(201, 200, 200)}
    walked, _ = registry.walk('/images?limit=7&owner=' + alice, alice)
    assert len({image['id'] for image in walked}) == len(walked) == 40
