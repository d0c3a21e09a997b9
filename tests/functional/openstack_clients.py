"""The real OpenStack image clients, each run from its own virtualenv as a subprocess.

``tools/test-setup.sh`` installs two virtualenvs (test dependencies only):

* :data:`GLANCECLIENT1`: python-glanceclient 2.17.1, its ``glanceclient.v1`` client and
  ``glance --os-image-api-version 1`` (``.test-services/glanceclient1-venv``, or
  ``$GLANCE_TEST_GLANCECLIENT1_VENV``);
* :data:`OPENSTACK_CLIENTS`: python-glanceclient 4.x (v2), openstacksdk 4.x and
  python-openstackclient 10.x (``.test-services/openstack-clients-venv``, or
  ``$GLANCE_TEST_OPENSTACK_CLIENTS_VENV``).

A test runs a Python *snippet* in one of them (:meth:`ClientVenv.run`) or one of its
commands (:meth:`ClientVenv.glance`, :meth:`ClientVenv.openstack`). The child's
environment holds only what the test passes (the ``OS_*`` login of
:meth:`KeystoneService.os_environ`, say), a private ``HOME`` (no ``clouds.yaml`` is
read) and ``PATH``; an audit hook refuses every connection to an address that is not
loopback.

A snippet gets ``params`` (the keyword arguments of :meth:`ClientVenv.run`, through
JSON; bytes allowed) and sets ``result`` to a JSON-able value: bytes, mappings,
iterables (generators included), datetimes and objects with ``to_dict()``
(openstacksdk resources, glanceclient v1 images) are converted. An exception in the
snippet is reported with every name under which its class or a base class is
reachable in its module, so a test can check for
``openstack.exceptions.ResourceNotFound`` (an alias of ``NotFoundException``) the way
an ``except`` clause would.

Fixtures (session-scoped): ``glanceclient1`` and ``openstack_clients``, the two
:class:`ClientVenv` objects, and ``openstack_cli``, the second one checked to have
the ``openstack`` command (a missing virtualenv skips the test, or fails it under
``CI``). Example, with glance-api registered in the catalog
(``tests/functional/keystone.py``)::

    def test_x(glanceclient1, openstack_clients, keystone_service):
        alice = keystone_service.make_project_user('alice')
        created = openstack_clients.run('''
    import openstack
    conn = openstack.connect(**params['auth'])
    result = conn.image.create_image(name='x', data=params['data'],
                                     disk_format='raw', container_format='bare')
    ''', auth=keystone_service.client_auth(alice), data=b'bytes')
        image = created.value                 # a dict; AssertionError if it raised
        missing = openstack_clients.run('''
    import openstack
    openstack.connect(**params['auth']).image.get_image(params['id'])
    ''', auth=keystone_service.client_auth(alice), id='no-such-id')
        assert missing.raised('openstack.exceptions.ResourceNotFound'), missing
        listed = glanceclient1.glance('--os-image-api-version', '1', 'image-list',
                                      env=keystone_service.os_environ(alice))
        assert listed.status == 0, listed.stderr   # listed.out: the table
"""

import base64
import dataclasses
import json
import os
import subprocess
import tempfile
import textwrap

import pytest

from tests.functional.availability import service_unavailable
from tests.functional.services import REPO
from tests.functional.test_cli import Result

#: The key under which bytes travel through JSON, base64-encoded.
_BYTES = '$bytes'

# Runs in the child: argv = [params.json, result.json, snippet]. Exit 0 and
# {"value": ...}, or exit 1 and {"error": {...}} (its traceback goes to stderr).
_RUNNER = textwrap.dedent('''
    import base64, collections.abc, datetime, json, sys, traceback

    def _jsonable(value):
        if isinstance(value, (bytes, bytearray)):
            return {%(bytes)r: base64.b64encode(value).decode('ascii')}
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if hasattr(value, 'to_dict'):
            return value.to_dict()
        if isinstance(value, collections.abc.Mapping):
            return dict(value)
        if isinstance(value, collections.abc.Iterable) and not isinstance(value, str):
            return list(value)
        raise TypeError('result holds a %%s, not JSON-able' %% type(value).__name__)

    def _names(cls):
        """Every module.name under which cls or a base class is reachable."""
        names = []
        for klass in cls.__mro__:
            module = sys.modules.get(klass.__module__)
            names.append('%%s.%%s' %% (klass.__module__, klass.__qualname__))
            names += ['%%s.%%s' %% (klass.__module__, name)
                      for name, value in sorted(getattr(module, '__dict__', {}).items())
                      if value is klass and name != klass.__qualname__]
        return names

    def _decode(value):
        if isinstance(value, dict) and set(value) == {%(bytes)r}:
            return base64.b64decode(value[%(bytes)r])
        return value

    with open(sys.argv[1]) as params_file:
        namespace = {'params': json.load(params_file, object_hook=_decode),
                     '__name__': '__snippet__'}
    try:
        exec(compile(sys.argv[3], '<snippet>', 'exec'), namespace)
        answer, status = {'value': namespace.get('result')}, 0
    except BaseException as error:
        traceback.print_exc()
        answer, status = {'error': {
            'type': _names(type(error))[0], 'names': _names(type(error)),
            'message': str(error),
            'status_code': getattr(error, 'status_code', None)
                           or getattr(error, 'code', None)}}, 1
    with open(sys.argv[2], 'w') as result_file:
        json.dump(answer, result_file, default=_jsonable)
    sys.exit(status)
''' % {'bytes': _BYTES})

# sitecustomize of every child: connections go to loopback addresses only (tests
# must never reach another host, whatever a catalog or redirect says).
_LOOPBACK_ONLY = textwrap.dedent('''
    import ipaddress, socket, sys

    def _loopback_only(event, args):
        if event == 'socket.connect' and args[0].family in (socket.AF_INET,
                                                            socket.AF_INET6):
            host = args[1][0].split('%')[0]
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
            if not all(ipaddress.ip_address(address.split('%')[0]).is_loopback
                       for address in addresses):
                raise ConnectionRefusedError('tests connect to loopback only, not %s'
                                             % host)

    sys.addaudithook(_loopback_only)
''')


def _decode(value):
    if isinstance(value, dict) and set(value) == {_BYTES}:
        return base64.b64decode(value[_BYTES])
    return value


def _encode(value):
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(value).decode('ascii')}
    raise TypeError('a %s is not JSON-able' % type(value).__name__)


@dataclasses.dataclass
class SnippetResult:
    """What a snippet did: its exit ``status``, ``stdout``, ``stderr`` (text) and either
    its ``result`` (``value``) or the ``error`` it raised.

    ``error`` is ``None`` or ``{'type': 'glanceclient.exc.HTTPNotFound', 'names': [...],
    'message': ..., 'status_code': 404}``.
    """

    status: int
    stdout: str
    stderr: str
    answer: dict

    @property
    def error(self):
        """The snippet's exception as a dict, or ``None`` when it succeeded."""
        return self.answer.get('error')

    @property
    def value(self):
        """The snippet's ``result`` (bytes decoded back).

        :raises AssertionError: (with the error and stderr) when the snippet failed.
        """
        assert self.status == 0 and 'value' in self.answer, str(self)
        return self.answer['value']

    def raised(self, name):
        """True when the snippet raised an exception that ``except <name>`` catches,
        ``name`` being dotted, e.g. ``'glanceclient.exc.HTTPForbidden'``."""
        return self.error is not None and name in self.error['names']

    def __str__(self):
        return 'snippet exit %d, error %s\nstderr:\n%s' % (
            self.status, self.error, self.stderr[-3000:])


class ClientVenv:
    """One virtualenv of real clients.

    :param name: a short label for messages.
    :param path: the virtualenv's folder.
    """

    def __init__(self, name, path):
        self.name = name
        self.path = path

    @property
    def python(self):
        """The virtualenv's Python."""
        return os.path.join(self.path, 'bin', 'python')

    def check(self, *commands):
        """Skip (fail under ``CI``) unless ``tools/test-setup.sh`` made this venv.

        :param commands: the commands the test runs (default: ``glance``).
        """
        for program in [self.python] + [os.path.join(self.path, 'bin', command)
                                        for command in commands or ('glance',)]:
            if not os.access(program, os.X_OK):
                service_unavailable('%s: no %s; run tools/test-setup.sh'
                                    % (self.name, program))
        return self

    def _environ(self, folder, env):
        for name, value in (env or {}).items():
            if not isinstance(value, str):
                raise TypeError('environment variable %s is not a string' % name)
        hook = os.path.join(folder, 'hook')
        os.makedirs(hook)
        with open(os.path.join(hook, 'sitecustomize.py'), 'w') as sitecustomize:
            sitecustomize.write(_LOOPBACK_ONLY)
        return dict(env or {}, HOME=folder, PYTHONPATH=hook, LANG='C.UTF-8',
                    PATH=os.path.join(self.path, 'bin') + os.pathsep + os.defpath,
                    NO_PROXY='*', no_proxy='*')

    def run(self, code, env=None, timeout=120, **params):
        """Run the Python ``code`` in this virtualenv; returns a :class:`SnippetResult`.

        :param code: the snippet; it reads ``params`` and sets ``result``.
        :param env: the child's environment variables (e.g. ``OS_*``); nothing else of
            the test process's environment is inherited.
        :param params: JSON-able values (or bytes) the snippet finds in ``params``
            (so no parameter can be called ``code``, ``env`` or ``timeout``).
        """
        with tempfile.TemporaryDirectory(prefix='client-') as folder:
            params_path = os.path.join(folder, 'params.json')
            result_path = os.path.join(folder, 'result.json')
            with open(params_path, 'w') as params_file:
                json.dump(params, params_file, default=_encode)
            process = subprocess.run(
                [self.python, '-c', _RUNNER, params_path, result_path, code],
                env=self._environ(folder, env), cwd=folder, capture_output=True,
                stdin=subprocess.DEVNULL, timeout=timeout)
            try:
                with open(result_path) as result_file:
                    answer = json.load(result_file, object_hook=_decode)
            except FileNotFoundError:
                answer = {}
        return SnippetResult(process.returncode,
                             process.stdout.decode('utf-8', 'replace'),
                             process.stderr.decode('utf-8', 'replace'), answer)

    def command(self, program, *args, env=None, data=None, timeout=120):
        """Run this virtualenv's command ``program`` (``glance``, ``openstack``);
        returns a ``test_cli.Result`` (``status``, ``stdout`` bytes, ``stderr`` text,
        ``json()``).

        :param data: bytes fed to its stdin (``glance image-create`` reads image data
            there).
        """
        with tempfile.TemporaryDirectory(prefix=program + '-cli-') as folder:
            process = subprocess.run(
                [os.path.join(self.path, 'bin', program)] + [str(arg) for arg in args],
                env=self._environ(folder, env), cwd=folder, capture_output=True,
                input=data, stdin=None if data is not None else subprocess.DEVNULL,
                timeout=timeout)
        return Result(process.returncode, process.stdout,
                      process.stderr.decode('utf-8', 'replace'))

    def glance(self, *args, **kwargs):
        """Run this virtualenv's ``glance`` command (see :meth:`command`)."""
        return self.command('glance', *args, **kwargs)

    def openstack(self, *args, **kwargs):
        """Run this virtualenv's ``openstack`` command (python-openstackclient; see
        :meth:`command`)."""
        return self.command('openstack', *args, **kwargs)


def _venv(variable, name):
    return os.environ.get(variable) or os.path.join(REPO, '.test-services', name)


#: python-glanceclient 2.17.1: ``glanceclient.v1``, ``glance --os-image-api-version 1``.
GLANCECLIENT1 = ClientVenv('python-glanceclient 2.17.1', _venv(
    'GLANCE_TEST_GLANCECLIENT1_VENV', 'glanceclient1-venv'))
#: python-glanceclient 4.x (``glanceclient.v2``, ``glance``), openstacksdk 4.x and
#: python-openstackclient (``openstack``).
OPENSTACK_CLIENTS = ClientVenv('python-glanceclient 4 + openstacksdk 4', _venv(
    'GLANCE_TEST_OPENSTACK_CLIENTS_VENV', 'openstack-clients-venv'))


@pytest.fixture(scope='session')
def glanceclient1():
    """:data:`GLANCECLIENT1`, checked to be installed."""
    return GLANCECLIENT1.check()


@pytest.fixture(scope='session')
def openstack_clients():
    """:data:`OPENSTACK_CLIENTS`, checked to be installed."""
    return OPENSTACK_CLIENTS.check()


@pytest.fixture(scope='session')
def openstack_cli():
    """:data:`OPENSTACK_CLIENTS`, checked to hold the ``openstack`` command too."""
    return OPENSTACK_CLIENTS.check('glance', 'openstack')
