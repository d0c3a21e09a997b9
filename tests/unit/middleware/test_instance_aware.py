"""The instance_aware filter, built by its real filter_factory in front of the real
registry app (glance.registry.api.app_factory) over SQLite in a temporary folder.

At the end, the registry's own API unit tests run again through the filter, unchanged
(less the one case that checks the bare registry refuses the tuple query).
"""

import json
import uuid

import pytest
from alembic import command
import sqlalchemy as sa
import webob

from glance.common import exception
from glance.middleware import context as context_filter
from glance.middleware import instance_aware
from glance.middleware.instance_aware import db
from glance.registry import api as registry_api
from glance.registry.db import migration

NOVA_A = '5f1c2a8e-3b4d-4e6f-8a9b-0c1d2e3f4a5b'
NOVA_B = '0d7e9c1a-2b3c-4d5e-9f60-718293a4b5c6'
ENDPOINT = 'http://registry.test:9191'


def _conf(tmp_path, **extra):
    conf = {'sql_connection': 'sqlite:///%s' % (tmp_path / 'glance.sqlite'),
            'public_endpoint': ENDPOINT, 'trusted_gateway': 'true',
            'publish_roles': 'admin, member'}
    conf.update(extra)
    return conf


def _pipeline(conf, with_filter=True):
    app = registry_api.app_factory(conf)
    if with_filter:
        app = instance_aware.filter_factory(conf)(app)
    return context_filter.filter_factory(conf)(app)


class Client:
    """Drive a pipeline with webob requests as one tenant.

    :param roles: comma-separated role names; ``service`` is sent as the service
        identity's role.
    """

    def __init__(self, app, tenant='alice', roles='member'):
        self.app = app
        self.tenant = tenant
        self.roles = roles

    def request(self, method, path, body=None, raw=None):
        req = webob.Request.blank(path, method=method)
        if body is not None:
            raw = json.dumps(body).encode('utf-8')
        if raw is not None:
            req.body = raw
            req.content_type = 'application/json'
        if self.tenant:
            req.headers['X-Tenant-Id'] = self.tenant
        # The pipeline is in trusted_gateway mode: the service role is believed only
        # from X-Service-Roles (glance.middleware.context), the others from X-Roles.
        roles = [role for role in self.roles.split(',') if role]
        user_roles = [role for role in roles if role != 'service']
        if user_roles:
            req.headers['X-Roles'] = ','.join(user_roles)
        if 'service' in roles:
            req.headers['X-Service-Roles'] = 'service'
        return req.get_response(self.app)

    def create(self, name='image', **properties):
        response = self.request('POST', '/images', {'image': {'name': name,
                                                              'properties': properties}})
        assert response.status_int == 201, response.body
        return response.json['image']

    def related(self, installation=NOVA_A, instance='123', path='/images', **params):
        params.update(nova_installation_uuid=installation, instance_id=instance)
        query = '&'.join('%s=%s' % item for item in params.items())
        return self.request('GET', '%s?%s' % (path, query))

    def related_ids(self, installation=NOVA_A, instance='123', **params):
        response = self.related(installation, instance, **params)
        assert response.status_int == 200, response.body
        return [image['id'] for image in response.json['images']]


@pytest.fixture
def conf(tmp_path):
    return _conf(tmp_path)


@pytest.fixture
def pipeline(conf):
    return _pipeline(conf)


@pytest.fixture
def alice_client(pipeline):
    return Client(pipeline, 'alice')


@pytest.fixture
def bob_client(pipeline):
    return Client(pipeline, 'bob')


def _tuple(installation=NOVA_A, instance=123, relation=None):
    properties = {'nova_installation_uuid': installation, 'instance_id': instance}
    if relation is not None:
        properties['image_relation'] = relation
    return properties


# -- accepted forms -------------------------------------------------------------------

@pytest.mark.parametrize('value, stored', [
    (123, '123'), ('123', '123'), (' 0123 ', '123'), ('i-0000007b', '123'),
    ('I-0000007B', '123'), (2 ** 63 - 1, str(2 ** 63 - 1)),
    ('6A3D4E5F-0B1C-4D2E-8F3A-4B5C6D7E8F90', '6a3d4e5f-0b1c-4d2e-8f3a-4b5c6d7e8f90'),
])
def test_instance_id_forms_are_canonicalised(value, stored):
    assert instance_aware.canonical_instance_id(value) == stored


@pytest.mark.parametrize('value', [0, -1, 2 ** 63, True, 1.5, '', 'abc', 'i-', 'i-xyz',
                                   '12a', None, ['1'], 'i-00000000'])
def test_instance_id_rejects_other_forms(value):
    with pytest.raises(exception.Invalid):
        instance_aware.canonical_instance_id(value)


def test_ec2_and_integer_spellings_find_the_same_images(alice_client):
    snap = alice_client.create('snap', **_tuple(instance='i-0000007b'))
    assert alice_client.related_ids(instance='123') == [snap['id']]
    assert alice_client.related_ids(instance='i-0000007B') == [snap['id']]


# -- writes ---------------------------------------------------------------------------

def test_tuple_is_stripped_before_the_registry_and_other_properties_kept(alice_client):
    image = alice_client.create('snap', os='linux', **_tuple(relation='backup'))
    assert image['properties'] == {'os': 'linux'}
    shown = alice_client.request('GET', '/images/' + image['id']).json['image']
    assert shown['properties'] == {'os': 'linux'}


def test_registry_without_filter_never_stored_the_tuple(conf, alice_client):
    image = alice_client.create('snap', **_tuple())
    plain = Client(_pipeline(conf, with_filter=False))
    shown = plain.request('GET', '/images/' + image['id']).json['image']
    assert shown['properties'] == {}
    assert plain.related().status_int == 400


@pytest.mark.parametrize('properties, reason', [
    ({'instance_id': 123}, 'must be given together'),
    ({'nova_installation_uuid': NOVA_A}, 'must be given together'),
    ({'image_relation': 'backup'}, 'must be given together'),
    (_tuple(installation='not-a-uuid'), 'nova_installation_uuid must be a UUID'),
    (_tuple(installation=NOVA_A.replace('-', '')), 'nova_installation_uuid must be'),
    (_tuple(instance='i-zz'), 'instance_id must be a Nova instance id'),
    (_tuple(relation='9lives'), 'image_relation must be'),
    (_tuple(relation=''), 'image_relation must be'),
    (_tuple(relation='x' * 33), 'image_relation must be'),
])
def test_malformed_tuple_is_rejected_with_a_reason_and_nothing_is_created(
        alice_client, properties, reason):
    response = alice_client.request(
        'POST', '/images', {'image': {'name': 'x', 'properties': properties}})
    assert response.status_int == 400
    assert reason in response.json['error']['message']
    assert alice_client.request('GET', '/images').json['images'] == []


def test_malformed_json_reaches_the_registry_unchanged(alice_client):
    response = alice_client.request('POST', '/images', raw=b'{"image": {"name": ')
    assert response.status_int == 400
    assert 'malformed JSON' in response.json['error']['message']


def test_registry_validation_still_answers_for_bodies_with_the_tuple(alice_client):
    response = alice_client.request(
        'POST', '/images', {'image': {'name': 'x', 'bogus': 1, 'properties': _tuple()}})
    assert response.status_int == 400
    assert 'bogus' in response.json['error']['message']
    assert alice_client.related_ids() == []


def test_put_relates_an_existing_image_and_replaces_its_relation(alice_client):
    image = alice_client.create('later')
    response = alice_client.request(
        'PUT', '/images/' + image['id'],
        {'image': {'properties': _tuple(relation='backup')}})
    assert response.status_int == 200
    assert alice_client.related_ids(relation='backup') == [image['id']]
    alice_client.request('PUT', '/images/' + image['id'],
                         {'image': {'properties': _tuple(instance=456)}})
    assert alice_client.related_ids(relation='backup') == []
    assert alice_client.related_ids(instance='456', relation='snapshot') == [image['id']]


def test_put_with_null_tuple_removes_the_relation(alice_client):
    image = alice_client.create('snap', **_tuple())
    response = alice_client.request('PUT', '/images/' + image['id'], {'image': {
        'properties': {'nova_installation_uuid': None, 'instance_id': None}}})
    assert response.status_int == 200
    assert alice_client.related_ids() == []


def test_put_by_someone_who_may_not_modify_records_nothing(alice_client, bob_client):
    image = alice_client.create('public-ish')
    alice_client.request('PUT', '/images/' + image['id'], {'image': {'is_public': True}})
    response = bob_client.request('PUT', '/images/' + image['id'],
                                  {'image': {'properties': _tuple()}})
    assert response.status_int == 403
    assert bob_client.related_ids() == []


def test_delete_removes_the_relation_row(conf, alice_client):
    image = alice_client.create('snap', **_tuple())
    assert alice_client.request('DELETE', '/images/' + image['id']).status_int == 204
    engine = sa.create_engine(conf['sql_connection'])
    with engine.connect() as connection:
        assert connection.execute(sa.select(db.relations)).all() == []
    engine.dispose()


def test_status_deleted_by_put_removes_the_relation_too(pipeline, alice_client):
    image = alice_client.create('snap', **_tuple())
    # Only the service identity may set a status (glance.registry.image_rules).
    service = Client(pipeline, roles='service')
    response = service.request('PUT', '/images/' + image['id'],
                               {'image': {'status': 'deleted'}})
    assert response.status_int == 200
    assert alice_client.related_ids() == []


def test_failed_relation_write_deletes_the_new_image_and_answers_503(
        pipeline, alice_client, monkeypatch):
    def broken(*args):
        raise exception.ServiceUnavailable(reason='database unavailable (x)')
    filter_app = pipeline.app
    monkeypatch.setattr(filter_app.store, 'relate', broken)
    response = alice_client.request(
        'POST', '/images', {'image': {'name': 'snap', 'properties': _tuple()}})
    assert response.status_int == 503
    assert alice_client.request('GET', '/images').json['images'] == []


# -- queries --------------------------------------------------------------------------

def test_two_installations_with_the_same_instance_id_stay_apart(alice_client):
    mine = alice_client.create('a', **_tuple(NOVA_A, 123))
    theirs = alice_client.create('b', **_tuple(NOVA_B, 123))
    assert alice_client.related_ids(NOVA_A, '123') == [mine['id']]
    assert alice_client.related_ids(NOVA_B, '123') == [theirs['id']]


def test_relation_filter_returns_exactly_the_backups(alice_client):
    backups = [alice_client.create('b%d' % n, **_tuple(relation='backup'))['id']
               for n in range(3)]
    alice_client.create('snap', **_tuple())
    alice_client.create('other instance', **_tuple(instance=124, relation='backup'))
    assert sorted(alice_client.related_ids(relation='backup')) == sorted(backups)
    assert len(alice_client.related_ids()) == 4


def test_a_customer_sees_only_own_and_public_related_images(alice_client, bob_client):
    private = alice_client.create('alice private', **_tuple())
    public = alice_client.create('alice public', **_tuple())
    alice_client.request('PUT', '/images/' + public['id'], {'image': {'is_public': True}})
    bobs = bob_client.create('bob private', **_tuple())
    assert sorted(alice_client.related_ids()) == sorted([private['id'], public['id']])
    assert sorted(bob_client.related_ids()) == sorted([public['id'], bobs['id']])
    admin = Client(alice_client.app, 'ops', 'admin')
    assert len(admin.related_ids()) == 3
    anonymous = Client(alice_client.app, None)
    assert anonymous.related_ids() == [public['id']]


def test_related_images_follow_visibility_and_membership(alice_client, bob_client):
    shared = alice_client.create('shared with bob', **_tuple())
    pending = alice_client.create('offered to bob', **_tuple())
    community = alice_client.create('community', **_tuple())
    private = alice_client.create('private', **_tuple())
    alice_client.request('PUT', '/images/' + community['id'],
                         {'image': {'visibility': 'community'}})
    alice_client.request('PUT', '/images/' + private['id'],
                         {'image': {'visibility': 'private'}})
    for image in (shared, pending):
        added = alice_client.request('PUT', '/images/%s/members/bob' % image['id'])
        assert added.status_int == 200, added.body
    accepted = bob_client.request('PUT', '/images/%s/members/bob' % shared['id'],
                                  {'member': {'status': 'accepted'}})
    assert accepted.status_int == 200, accepted.body
    # Bob's list is the registry's: accepted shares only, no community images.
    assert bob_client.related_ids() == [shared['id']]
    assert sorted(alice_client.related_ids()) == sorted(
        image['id'] for image in (shared, pending, community, private))


def test_brief_and_detail_records_match_the_registry(alice_client):
    image = alice_client.create('snap', os='linux', **_tuple())
    brief = alice_client.related().json['images'][0]
    listed = alice_client.request('GET', '/images').json['images'][0]
    assert brief == listed
    detail = alice_client.related(path='/images/detail').json['images'][0]
    assert detail == alice_client.request('GET', '/images/' + image['id']).json['image']


def test_sort_limit_and_marker_page_like_the_registry(alice_client):
    names = ['delta', 'alpha', 'charlie', 'bravo', 'echo']
    ids = {name: alice_client.create(name, **_tuple())['id'] for name in names}
    alice_client.create('zulu unrelated')
    pages, marker = [], None
    for _ in range(5):
        params = {'sort_key': 'name', 'sort_dir': 'asc', 'limit': 2}
        if marker:
            params['marker'] = marker
        body = alice_client.related(**params).json
        pages.append([image['name'] for image in body['images']])
        if 'next' not in body:
            break
        assert body['next'].startswith(ENDPOINT + '/images?')
        assert 'nova_installation_uuid=' + NOVA_A in body['next']
        marker = body['images'][-1]['id']
    assert pages == [['alpha', 'bravo'], ['charlie', 'delta'], ['echo']]
    default_order = alice_client.related_ids()
    assert default_order == [ids[name] for name in reversed(names)]


@pytest.mark.parametrize('path', ['/images', '/images/detail'])
def test_a_page_of_related_images_is_one_statement(alice_client, path):
    for index in range(6):
        alice_client.create('n%d' % index, **_tuple(), os='linux')
    statements = []

    def record(*args):
        statements.append(args[2])

    # Every engine: the registry's own runs the statement, not the filter's.
    sa.event.listen(sa.engine.Engine, 'before_cursor_execute', record)
    try:
        body = alice_client.related(path=path, limit=4).json
    finally:
        sa.event.remove(sa.engine.Engine, 'before_cursor_execute', record)
    assert len(body['images']) == 4 and 'next' in body
    if path == '/images/detail':
        assert all(image['properties'] == {'os': 'linux'} for image in body['images'])
    assert len(statements) == 1 and 'instance_aware_relations' in statements[0]


def test_deleted_images_are_skipped_and_a_deleted_marker_still_works(alice_client):
    ids = [alice_client.create('n%d' % n, **_tuple())['id'] for n in range(4)]
    newest_first = list(reversed(ids))
    alice_client.request('DELETE', '/images/' + newest_first[1])
    assert alice_client.related_ids() == [newest_first[0]] + newest_first[2:]
    after = alice_client.related_ids(marker=newest_first[1])
    assert after == newest_first[2:]


def test_unknown_or_invisible_marker_is_a_400(alice_client, bob_client):
    alice_client.create('snap', **_tuple())
    secret = alice_client.create('secret')
    assert alice_client.related(marker=str(uuid.uuid4())).status_int == 400
    response = bob_client.related(marker=secret['id'])
    assert response.status_int == 400
    assert 'marker' in response.json['error']['message']


@pytest.mark.parametrize('query, reason', [
    ('instance_id=123', 'must be given together'),
    ('nova_installation_uuid=%s' % NOVA_A, 'must be given together'),
    ('nova_installation_uuid=x&instance_id=1', 'must be a UUID'),
    ('nova_installation_uuid=%s&instance_id=-4' % NOVA_A, 'Nova instance id'),
    ('nova_installation_uuid=%s&instance_id=1&relation=B@d' % NOVA_A, 'relation must'),
    ('nova_installation_uuid=%s&instance_id=1&name=x' % NOVA_A, 'cannot be combined'),
    ('nova_installation_uuid=%s&instance_id=1&sort_key=owner' % NOVA_A, 'sort_key'),
    ('nova_installation_uuid=%s&instance_id=1&limit=0' % NOVA_A, 'limit'),
    ('nova_installation_uuid=%s&instance_id=1&instance_id=2' % NOVA_A, 'more than once'),
])
def test_bad_queries_are_rejected_with_a_reason(alice_client, query, reason):
    response = alice_client.request('GET', '/images?' + query)
    assert response.status_int == 400
    assert reason in response.json['error']['message']


def test_head_of_a_query_has_no_body(alice_client):
    alice_client.create('snap', **_tuple())
    req = webob.Request.blank('/images?nova_installation_uuid=%s&instance_id=123'
                              % NOVA_A, method='HEAD')
    req.headers['X-Tenant-Id'] = 'alice'
    response = req.get_response(alice_client.app)
    assert response.status_int == 200 and response.body == b''


# -- pass-through ---------------------------------------------------------------------

def _recorder():
    seen = []

    def app(environ, start_response):
        seen.append((environ['REQUEST_METHOD'], environ['PATH_INFO'],
                     environ.get('CONTENT_LENGTH'), environ['wsgi.input'].read()))
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'downstream']
    return app, seen


@pytest.mark.parametrize('method, path, body', [
    ('POST', '/images', b'{"image": {"name": "x", "properties": {"os": "linux"}}}'),
    ('PUT', '/images/%s' % uuid.uuid4(), b'{"image": {"name": "y"}}'),
    ('POST', '/images', b'not json at all'),
    ('POST', '/images', b'{"image": ["a list"]}'),
    ('GET', '/images?name=x', b''),
    ('GET', '/images/%s' % uuid.uuid4(), b''),
    ('POST', '/other', b'{"image": {"properties": {"instance_id": 1}}}'),
])
def test_unrelated_requests_pass_through_with_the_body_untouched(conf, method, path,
                                                                 body):
    app, seen = _recorder()
    filtered = instance_aware.filter_factory(conf)(app)
    req = webob.Request.blank(path, method=method)
    if body:
        req.body = body
    response = req.get_response(filtered)
    assert response.body == b'downstream'
    assert seen[0][3] == body
    assert seen[0][2] == (str(len(body)) if body else seen[0][2])


def test_stripped_body_gets_a_matching_content_length(conf):
    app, seen = _recorder()
    filtered = instance_aware.filter_factory(conf)(app)
    req = webob.Request.blank('/images/%s' % uuid.uuid4(), method='PUT')
    req.body = json.dumps({'image': {'properties': dict(_tuple(), os='x')}}).encode()
    req.get_response(filtered)
    method, path, length, body = seen[0]
    assert json.loads(body) == {'image': {'properties': {'os': 'x'}}}
    assert int(length) == len(body)


def test_body_declared_larger_than_the_cap_is_not_read(conf):
    app, seen = _recorder()
    filtered = instance_aware.filter_factory(conf)(app)
    big = b'{"image": {"name": "' + b'x' * instance_aware.MAX_BODY + b'"}}'
    req = webob.Request.blank('/images', method='POST')
    req.body = big
    req.get_response(filtered)
    assert seen[0][3] == big


# -- the table and its migrations --------------------------------------------------------

def test_table_has_its_own_history_beside_the_registrys(conf, pipeline):
    engine = sa.create_engine(conf['sql_connection'])
    tables = set(sa.inspect(engine).get_table_names())
    assert {'images', 'glance_registry_version', db.TABLE, db.VERSION_TABLE} <= tables
    assert db.HISTORY.current(engine) == db.HISTORY.head()
    assert migration.REGISTRY.current(engine) == migration.REGISTRY.head()
    engine.dispose()


def test_downgrade_drops_only_the_filters_table(conf, pipeline):
    engine = sa.create_engine(conf['sql_connection'])
    with engine.begin() as connection:
        command.downgrade(db.HISTORY.config(connection), 'base')
    tables = set(sa.inspect(engine).get_table_names())
    assert db.TABLE not in tables and 'images' in tables
    engine.dispose()


def test_without_auto_create_a_missing_table_stops_startup(tmp_path):
    conf = _conf(tmp_path)
    registry_api.app_factory(conf)
    with pytest.raises(exception.ConfigError) as raised:
        instance_aware.filter_factory(conf, db_auto_create='false')
    assert raised.value.option == 'db_auto_create'
    assert '[filter:instance_aware]' in str(raised.value)


def test_bad_sql_connection_stops_startup(tmp_path):
    with pytest.raises(exception.ConfigError) as raised:
        instance_aware.filter_factory({'sql_connection': 'mysql://root@localhost/x'})
    assert raised.value.option == 'sql_connection'


# -- the registry's own API tests, unchanged, through the filter ------------------------

from tests.unit.registry import conftest as registry_fixtures  # noqa: E402
from tests.unit.registry import test_api as registry_tests  # noqa: E402

globals().update({name: value for name, value in vars(registry_fixtures).items()
                  if name in ('database', 'alice', 'bob', 'admin', 'service',
                              'anonymous')})
globals().update({name: value for name, value in vars(registry_tests).items()
                  if name.startswith('test_')})
# One case there checks that the bare registry refuses the tuple query; with the filter
# that query is the feature (covered above), so it is the one case left out.
_bad_queries = registry_tests.test_bad_list_queries_are_400


@pytest.mark.parametrize('query', [
    query for query in _bad_queries.pytestmark[0].args[1]
    if not query.startswith(instance_aware.INSTALLATION_KEY)])
def test_bad_list_queries_are_400(alice, query):
    """The registry's ``test_bad_list_queries_are_400``, less the tuple query."""
    _bad_queries(alice, query)


@pytest.fixture
def registry_app(database):
    """The registry tests' app (in-memory SQLite) with this filter in front of it."""
    options = registry_api.RegistryOptions(public_endpoint=registry_fixtures.ENDPOINT,
                                           api_limit_max=50, limit_param_default=5)
    db.HISTORY.upgrade(database.engine)
    return instance_aware.InstanceAwareFilter(
        registry_api.build_app(database, options), db.RelationStore(database.engine))
