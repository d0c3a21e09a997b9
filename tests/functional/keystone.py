"""A real OpenStack Keystone on loopback, for the token authentication tests.

Keystone runs from its own virtualenv (``.test-services/keystone-venv``, or
``$GLANCE_TEST_KEYSTONE_VENV``; ``tools/test-setup.sh`` installs it) on SQLite with
fernet tokens, every file under a private folder, served by ``wsgiref`` on
``127.0.0.1`` and stopped by PID. It is bootstrapped with ``admin`` / a generated
password; :class:`KeystoneService` then creates projects, users, role assignments and
catalog entries through the ordinary v3 API.

Fixtures: ``keystone_service`` (session-scoped) and ``glance_in_catalog``
(module-scoped: a keystone-mode glance deployment registered as the catalog's image
service; a module changes glance-api's options by overriding the module-scoped
fixture ``glance_api_options``). Example::

    def test_x(keystone_service):
        alice = keystone_service.make_user('alice', 'p-alice', ['member'])
        token = keystone_service.token(alice)

The Keystone is shared by the whole session, so user names must be unique across
modules: :meth:`KeystoneService.make_project_user` makes uniquely named users, each in a
project of its own. For the real OpenStack clients, a glance deployment that
authenticates with this Keystone (:func:`start_glance`) is registered as the ``image``
service of the catalog; a client then needs only the user's password login
(:meth:`KeystoneService.client_auth` or the ``OS_*`` variables of
:meth:`KeystoneService.os_environ`)::

    def test_y(glance_in_catalog, keystone_service):
        registry, api = glance_in_catalog     # api.url is in the catalog
        alice = keystone_service.make_project_user('alice')
        env = keystone_service.os_environ(alice)   # OS_AUTH_URL, OS_USERNAME, ...
"""

import dataclasses
import json
import os
import secrets
import subprocess
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from tests.functional import daemons
from tests.functional.services import (REPO, ServiceError, _stop, _tail, free_ports,
                                       start_or_give_up)

KEYSTONE_VENV = os.environ.get('GLANCE_TEST_KEYSTONE_VENV') or os.path.join(
    REPO, '.test-services', 'keystone-venv')

_SERVE = textwrap.dedent('''
    import os, socketserver, sys, wsgiref.simple_server
    port = int(sys.argv[1])
    del sys.argv[1:]  # keystone parses the command line as its own options
    from keystone.server import wsgi
    app = wsgi.initialize_public_application()

    class Server(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
        daemon_threads = True

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    httpd = wsgiref.simple_server.make_server('127.0.0.1', port, app,
                                              server_class=Server, handler_class=Quiet)
    print('listening', flush=True)
    httpd.serve_forever()
''')


@dataclasses.dataclass(frozen=True)
class User:
    """A Keystone user made for a test: names, ids and its password."""

    name: str
    password: str
    user_id: str
    project: str
    project_id: str


class KeystoneService:
    """Keystone (public API only) on a free loopback port, private to one folder.

    :param base: a fresh folder for the config, database, keys and log.
    :param venv: the virtualenv holding Keystone (default :data:`KEYSTONE_VENV`).
    """

    def __init__(self, base, venv=KEYSTONE_VENV):
        self.base = str(base)
        self.venv = venv
        self.port = None
        self.process = None
        self.admin_password = secrets.token_urlsafe(12)
        self._admin_token = None
        self._roles = {}

    @property
    def url(self):
        """The identity endpoint, ``http://127.0.0.1:<port>/v3``."""
        return 'http://127.0.0.1:%d/v3' % self.port

    @property
    def log_path(self):
        """Keystone's log file."""
        return os.path.join(self.base, 'keystone.log')

    def _manage(self, *args):
        command = [os.path.join(self.venv, 'bin', 'keystone-manage'), '--config-file',
                   os.path.join(self.base, 'keystone.conf')] + list(args)
        result = subprocess.run(command, capture_output=True, cwd=self.base, timeout=300)
        if result.returncode:
            raise ServiceError('keystone-manage %s failed: %s' % (
                args[0], result.stderr.decode('utf-8', 'replace')[-2000:]))

    def start(self, timeout=120):
        """Configure, bootstrap and serve Keystone; wait until it answers.

        :raises ServiceError: when the virtualenv is missing or Keystone does not start.
        """
        if not os.path.exists(os.path.join(self.venv, 'bin', 'keystone-manage')):
            raise ServiceError('no Keystone in %s; run tools/test-setup.sh' % self.venv)
        self.port = free_ports(1)[0]
        for folder in ('fernet', 'fernet-r'):
            os.makedirs(os.path.join(self.base, folder), exist_ok=True)
        with open(os.path.join(self.base, 'keystone.conf'), 'w') as conf:
            conf.write(textwrap.dedent('''\
                [DEFAULT]
                log_file = {base}/keystone.log
                [database]
                connection = sqlite:///{base}/keystone.db
                [token]
                provider = fernet
                [fernet_tokens]
                key_repository = {base}/fernet
                [fernet_receipts]
                key_repository = {base}/fernet-r
                ''').format(base=self.base))
        user = ['--keystone-user', str(os.getuid()), '--keystone-group', str(os.getgid())]
        self._manage('db_sync')
        self._manage('fernet_setup', *user)
        self._manage('credential_setup', *user)
        # One argument: a random password may start with '-', which argparse would
        # take for an option.
        self._manage('bootstrap', '--bootstrap-password=' + self.admin_password,
                     '--bootstrap-public-url', self.url)
        with open(os.path.join(self.base, 'serve.stderr'), 'wb') as stderr:
            self.process = subprocess.Popen(
                [os.path.join(self.venv, 'bin', 'python'), '-c', _SERVE, str(self.port)],
                stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL,
                cwd=self.base, env=dict(os.environ, OS_KEYSTONE_CONFIG_FILES=os.path.join(
                    self.base, 'keystone.conf')))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url, timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise ServiceError('Keystone did not start: %s'
                           % _tail(os.path.join(self.base, 'serve.stderr')))

    def stop(self):
        """Stop Keystone by PID and reap it."""
        _stop(self.process)

    def call(self, method, path, body=None, token=None):
        """One v3 API call; returns ``(status, headers, decoded JSON or None)``."""
        request = urllib.request.Request(
            self.url + path, method=method,
            data=None if body is None else json.dumps(body).encode('utf-8'),
            headers={'Content-Type': 'application/json',
                     'X-Auth-Token': token or self.admin_token()})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
                return answer.status, answer.headers, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            return err.code, err.headers, None

    def password_token(self, name, password, project):
        """Log in with a password, scoped to a project; returns the token."""
        request = urllib.request.Request(
            self.url + '/auth/tokens', method='POST',
            data=json.dumps({'auth': {
                'identity': {'methods': ['password'], 'password': {'user': {
                    'name': name, 'domain': {'id': 'default'}, 'password': password}}},
                'scope': {'project': {'name': project, 'domain': {'id': 'default'}}}}}
            ).encode('utf-8'), headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.headers['X-Subject-Token']

    def admin_token(self):
        """A token of the bootstrap admin (cached)."""
        if self._admin_token is None:
            self._admin_token = self.password_token('admin', self.admin_password, 'admin')
        return self._admin_token

    def _role_id(self, name):
        if name not in self._roles:
            status, _, found = self.call('GET', '/roles?name=' + name)
            if found and found['roles']:
                self._roles[name] = found['roles'][0]['id']
            else:
                status, _, made = self.call('POST', '/roles', {'role': {'name': name}})
                assert status == 201, status
                self._roles[name] = made['role']['id']
        return self._roles[name]

    def _project_id(self, name):
        status, _, found = self.call('GET', '/projects?name=' + name)
        if found and found['projects']:
            return found['projects'][0]['id']
        status, _, made = self.call('POST', '/projects', {'project': {
            'name': name, 'domain_id': 'default'}})
        assert status == 201, status
        return made['project']['id']

    def make_user(self, name, project, roles):
        """Create a user with a random password and roles on a (new) project.

        :returns: a :class:`User`.
        """
        project_id = self._project_id(project)
        password = secrets.token_urlsafe(12)
        status, _, made = self.call('POST', '/users', {'user': {
            'name': name, 'password': password, 'domain_id': 'default',
            'default_project_id': project_id}})
        assert status == 201, status
        user_id = made['user']['id']
        for role in roles:
            status, _, _ = self.call('PUT', '/projects/%s/users/%s/roles/%s' % (
                project_id, user_id, self._role_id(role)))
            assert status == 204, status
        return User(name, password, user_id, project, project_id)

    def make_project_user(self, prefix, roles=('member',)):
        """A new user with ``roles`` in a new project of its own, both uniquely named
        ``<prefix>-<random>`` and ``<prefix>-<random>-project`` (the session's Keystone is
        shared, so fixed names would collide between modules).

        :returns: a :class:`User`; its ``project_id`` is what image sharing calls the
            member (tenant) id.
        """
        name = '%s-%s' % (prefix, secrets.token_hex(4))
        return self.make_user(name, name + '-project', list(roles))

    def token(self, user):
        """A fresh project-scoped token of a :class:`User`."""
        return self.password_token(user.name, user.password, user.project)

    def client_auth(self, user):
        """Password login of ``user`` as keyword arguments: ``openstack.connect(**auth)``
        and keystoneauth1's ``identity.v3.Password(**auth)`` both take them."""
        return {'auth_url': self.url, 'username': user.name, 'password': user.password,
                'project_name': user.project, 'user_domain_name': 'Default',
                'project_domain_name': 'Default'}

    def os_environ(self, user):
        """The same login as the ``OS_*`` environment variables every OpenStack client
        reads (``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD``, ``OS_PROJECT_NAME``,
        ``OS_USER_DOMAIN_NAME``, ``OS_PROJECT_DOMAIN_NAME``,
        ``OS_IDENTITY_API_VERSION``)."""
        env = {'OS_' + name.upper(): value
               for name, value in self.client_auth(user).items()}
        env['OS_IDENTITY_API_VERSION'] = '3'
        return env

    def register_image_endpoint(self, url, region='RegionOne'):
        """Make ``url`` (a glance-api base URL, without ``/v1`` or ``/v2``: clients
        append the version or discover it) the catalog's ``image`` service.

        Creates the service (type ``image``, name ``glance``) and the region when
        missing, deletes every image endpoint registered before (so each test module
        can register its own glance-api, and clients never pick a stale one), then
        creates the ``public``, ``internal`` and ``admin`` endpoints, all at ``url``.

        :returns: ``{interface: endpoint id}``.
        """
        service_id = self._image_service_id()
        status, _, _ = self.call('GET', '/regions/' + region)
        if status == 404:
            status, _, _ = self.call('POST', '/regions', {'region': {'id': region}})
            assert status == 201, status
        status, _, found = self.call('GET', '/endpoints?service_id=' + service_id)
        assert status == 200, status
        for endpoint in found['endpoints']:
            status, _, _ = self.call('DELETE', '/endpoints/' + endpoint['id'])
            assert status == 204, status
        made = {}
        for interface in ('public', 'internal', 'admin'):
            status, _, endpoint = self.call('POST', '/endpoints', {'endpoint': {
                'service_id': service_id, 'interface': interface, 'url': url,
                'region_id': region, 'enabled': True}})
            assert status == 201, status
            made[interface] = endpoint['endpoint']['id']
        return made

    def _image_service_id(self):
        status, _, found = self.call('GET', '/services?type=image')
        assert status == 200, status
        if found['services']:
            return found['services'][0]['id']
        status, _, made = self.call('POST', '/services', {'service': {
            'type': 'image', 'name': 'glance', 'enabled': True,
            'description': 'Glance image service'}})
        assert status == 201, status
        return made['service']['id']

    def auth_token_options(self, user):
        """keystonemiddleware auth_token options for a daemon logging in as ``user``."""
        return {'auth_type': 'password', 'auth_url': self.url,
                'www_authenticate_uri': self.url, 'username': user.name,
                'password': user.password, 'project_name': user.project,
                'user_domain_id': 'default', 'project_domain_id': 'default',
                'interface': 'public'}


def start_glance(folder, keystone, service_user, **api_options):
    """Start a glance-registry (SQLite) and a glance-api that authenticate with Keystone.

    Both run the keystone pipelines (keystonemiddleware's auth_token, no trusted
    gateway); glance-api logs in to Keystone as ``service_user`` (a :class:`User` with
    the ``service`` role) and sends that token to the registry as ``X-Service-Token``.

    :param folder: a fresh folder (a ``pathlib.Path``) for both daemons.
    :param keystone: the running :class:`KeystoneService`.
    :param api_options: more glance-api conf options.
    :returns: the started daemons ``(registry, api)``; the caller stops both.
    """
    auth = dict(daemons.NO_TRUSTED_GATEWAY, **keystone.auth_token_options(service_user))
    return daemons.start_deployment(
        daemons.registry_daemon(folder / 'registry',
                                'sqlite:///%s' % (folder / 'registry.db'),
                                pipeline='glance-registry-keystone', **auth),
        lambda registry_url: daemons.api_daemon(
            folder / 'api', registry_url, pipeline='glance-api-keystone',
            registry_auth_url=keystone.url, registry_username=service_user.name,
            registry_password=service_user.password,
            registry_project_name=service_user.project, **dict(auth, **api_options)))


@pytest.fixture(scope='session')
def keystone_service(tmp_path_factory):
    """A running :class:`KeystoneService` shared by the session (stopped at its end)."""
    service = KeystoneService(tmp_path_factory.mktemp('keystone'))
    yield start_or_give_up(service)
    service.stop()


@pytest.fixture(scope='module')
def glance_api_options():
    """More glance-api options for ``glance_in_catalog``; a module overrides this."""
    return {}


@pytest.fixture(scope='module')
def glance_in_catalog(tmp_path_factory, keystone_service, glance_api_options):
    """:func:`start_glance` with a new service user, glance-api registered as the
    catalog's image service (replacing any earlier one); yields ``(registry, api)``
    and stops both after the module."""
    service_user = keystone_service.make_project_user('glance', roles=('service',))
    registry, api = start_glance(tmp_path_factory.mktemp('glance-in-catalog'),
                                 keystone_service, service_user, **glance_api_options)
    try:
        keystone_service.register_image_endpoint(api.url)
        yield registry, api
    finally:
        api.stop()
        registry.stop()
