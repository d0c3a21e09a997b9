"""The real OpenStack image clients find glance-api through Keystone's catalog.

A glance-registry and a glance-api authenticating with a real Keystone; glance-api is
registered as the catalog's ``image`` service; each client then gets a token and the
image endpoint from nothing but a password login (``OS_AUTH_URL`` + user/password/
project). What the image API answers is the business of the v1 and v2 tests: these
tests check only what holds whatever it answers.
"""

import re
import uuid

import pytest

# Each client's own keystoneauth session, logged in with params['auth'].
_SESSION = '''
from keystoneauth1 import session
from keystoneauth1.identity import v3
sess = session.Session(auth=v3.Password(**params['auth']))
'''


@pytest.fixture(scope='module')
def glance_api(keystone_service, glance_in_catalog):
    """The glance-api of the catalog, registered a second time after a stale URL
    (so the tests also check that a registration replaces the one before)."""
    api = glance_in_catalog[1]
    keystone_service.register_image_endpoint('http://127.0.0.1:9/stale')
    keystone_service.register_image_endpoint(api.url)
    return api


@pytest.fixture(params=[('glanceclient1', '1'), ('openstack_clients', '2')],
                ids=['glanceclient-2.17.1-v1', 'glanceclient-4-v2'])
def glanceclient(request):
    """Each glanceclient and the image API version it speaks: ``(venv, version)``."""
    venv, version = request.param
    return request.getfixturevalue(venv), version


def test_keystoneauth_and_glanceclient_find_the_image_endpoint(
        glanceclient, glance_api, keystone_service):
    clients, version = glanceclient
    user = keystone_service.make_project_user('catalog')
    found = clients.run(_SESSION + '''
import glanceclient
result = {interface: sess.get_endpoint(service_type='image', interface=interface)
          for interface in ('public', 'internal', 'admin')}
result['project'] = sess.get_project_id()
result['glanceclient'] = glanceclient.Client(
    params['version'], session=sess).http_client.get_endpoint()
''', auth=keystone_service.client_auth(user), version=version).value
    assert found == {'public': glance_api.url, 'internal': glance_api.url,
                     'admin': glance_api.url, 'glanceclient': glance_api.url,
                     'project': user.project_id}


def test_openstacksdk_connects_with_a_password_and_finds_one_image_service(
        openstack_clients, glance_api, keystone_service):
    user = keystone_service.make_project_user('sdk')
    found = openstack_clients.run('''
import openstack
conn = openstack.connect(**params['auth'])
result = {'session': conn.session.get_endpoint(service_type='image', interface='public'),
          'endpoint_for': conn.endpoint_for('image'),
          'catalog': [(service['name'], endpoint['interface'], endpoint['region_id'],
                       endpoint['url'])
                      for service in conn.service_catalog if service['type'] == 'image'
                      for endpoint in service['endpoints']]}
''', auth=keystone_service.client_auth(user)).value
    assert found['session'] == found['endpoint_for'] == glance_api.url
    assert sorted(found['catalog']) == [
        ['glance', interface, 'RegionOne', glance_api.url]
        for interface in ('admin', 'internal', 'public')]


def test_the_os_variables_are_all_openstacksdk_needs(
        openstack_clients, glance_api, keystone_service):
    user = keystone_service.make_project_user('env')
    found = openstack_clients.run('''
import openstack
conn = openstack.connect()
result = [conn.current_project_id, conn.endpoint_for('image')]
''', env=keystone_service.os_environ(user)).value
    assert found == [user.project_id, glance_api.url]


def test_glance_v1_cli_sends_its_keystone_token_to_the_catalog_endpoint(
        glanceclient1, glance_api, keystone_service):
    """``glance --os-image-api-version 1`` logs in and calls the catalog's glance-api,
    which accepts the token (whatever the listing then answers)."""
    user = keystone_service.make_project_user('cli')
    listed = glanceclient1.glance('--debug', '--os-image-api-version', '1', 'image-list',
                                  env=keystone_service.os_environ(user))
    assert re.search(r'"POST /v3/auth/tokens HTTP/1.1" 201', listed.stderr), listed.stderr
    called = re.search(r'%s "GET /v1/images/detail\?\S* HTTP/1.1" (\d+)'
                       % re.escape(glance_api.url), listed.stderr)
    assert called, listed.stderr
    assert called.group(1) not in ('401', '403', '503'), listed.stderr
    assert user.password not in listed.stderr + listed.out


def test_a_missing_image_is_the_clients_typed_not_found(
        glanceclient, glance_api, keystone_service):
    clients, version = glanceclient
    user = keystone_service.make_project_user('missing')
    missing = clients.run(_SESSION + '''
import glanceclient
glanceclient.Client(params['version'], session=sess).images.get(params['image'])
''', auth=keystone_service.client_auth(user), version=version, image=str(uuid.uuid4()))
    assert missing.raised('glanceclient.exc.HTTPNotFound'), missing
    assert missing.raised('glanceclient.exc.HTTPException'), missing
    assert not missing.raised('glanceclient.exc.HTTPForbidden'), missing
    assert missing.error['status_code'] == 404
