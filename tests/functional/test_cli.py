"""The ``glance`` command against real glance-registry and glance-api daemons.

Every command runs as a real process (``bin/glance``) against daemons started from
``bin/`` with the shipped paste ini. The helpers here (:func:`services`,
:func:`run_cli`, :func:`run_on_pty`, :class:`CuttingProxy`) are shared with
``test_fetch.py``.
"""

import hashlib
import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import blake3
import pytest

from tests.data import random_bytes
from tests.functional import daemons
from tests.tls import write_self_signed_certificate

REPO = daemons.REPO
GLANCE = os.path.join(REPO, 'bin', 'glance')
TENANT1 = {'GLANCE_TENANT': 'tenant1', 'GLANCE_USER': 'user1', 'GLANCE_ROLES': 'member'}
TENANT2 = {'GLANCE_TENANT': 'tenant2', 'GLANCE_USER': 'user2', 'GLANCE_ROLES': 'member'}
ADMIN = {'GLANCE_TENANT': 'ops', 'GLANCE_USER': 'root', 'GLANCE_ROLES': 'admin'}
#: glance-api's store objects are this big, so test images span several of them.
STORE_CHUNK = 256 * 1024


class Services:
    """URLs of the running daemons, plus their folder."""

    def __init__(self, registry_url, api_url, folder):
        self.registry_url = registry_url
        self.api_url = api_url
        self.folder = folder


def start_services(folder, **api_options):
    """Start a registry (SQLite) and a glance-api on it; returns the two Daemons."""
    registry = daemons.registry_daemon(str(folder / 'registry'), 'sqlite:///%s'
                                       % (folder / 'registry.sqlite')).start()
    try:
        api_options.setdefault('store_chunk_size', STORE_CHUNK)
        api_options.setdefault('read_block_size', '64K')
        api = daemons.api_daemon(str(folder / 'api'), registry.url, **api_options).start()
    except daemons.DaemonError:
        registry.stop()
        raise
    return registry, api


@pytest.fixture(scope='module')
def services(tmp_path_factory):
    """One registry and one glance-api for the whole module, stopped by PID after it."""
    folder = tmp_path_factory.mktemp('services')
    registry, api = start_services(folder)
    try:
        yield Services(registry.url, api.url, folder)
    finally:
        api.stop()
        registry.stop()


class Result:
    """Exit status, stdout (bytes) and stderr (text) of one command."""

    def __init__(self, status, stdout, stderr):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr

    @property
    def out(self):
        """stdout as text."""
        return self.stdout.decode('utf-8')

    def json(self):
        """stdout parsed as JSON."""
        return json.loads(self.stdout)

    def assert_one_line_error(self, status=1, text=None):
        """The command failed with exactly one readable line on stderr."""
        assert self.status == status, (self.status, self.stderr)
        assert 'Traceback' not in self.stderr
        assert len(self.stderr.splitlines()) == 1, self.stderr
        if text is not None:
            assert text in self.stderr, self.stderr


def cli_env(services, identity=None, **extra):
    """The environment of a CLI process: no inherited GLANCE_*, these URLs and identity."""
    env = {key: value for key, value in os.environ.items() if not key.startswith('GLANCE_')}
    env['PYTHONPATH'] = REPO + os.pathsep + os.environ.get('PYTHONPATH', '')
    env['GLANCE_URL'] = services.api_url
    env['GLANCE_REGISTRY_URL'] = services.registry_url
    env.update(identity if identity is not None else TENANT1)
    env.update(extra)
    return env


def run_cli(services, *args, identity=None, data=None, stdin=None, program=GLANCE,
            env=None, timeout=120):
    """Run ``bin/glance`` (or ``program``) with pipes; returns a :class:`Result`.

    :param data: bytes fed to stdin through a pipe; ``stdin`` a file object instead.
    """
    env = env or cli_env(services, identity)
    process = subprocess.run(
        [sys.executable, program] + [str(arg) for arg in args], input=data,
        stdin=stdin if stdin is not None else (None if data is not None
                                               else subprocess.DEVNULL),
        capture_output=True, env=env, timeout=timeout)
    return Result(process.returncode, process.stdout, process.stderr.decode('utf-8'))


def run_on_pty(argv, env, stdout_path, timeout=120):
    """Run a command whose stderr is a pseudo-terminal; returns (status, stderr text)."""
    master, slave = pty.openpty()
    with open(stdout_path, 'wb') as out:
        process = subprocess.Popen([sys.executable] + [str(arg) for arg in argv],
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=slave,
                                   env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        process.wait(timeout=30)
    return process.returncode, b''.join(chunks).decode('utf-8', 'replace')


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of glance-api that can cut or corrupt bodies.

    :param upstream: glance-api's base URL.
    :ivar cut_after: close the client connection after this many response body bytes
        (None: never).
    :ivar corrupt_at: flip the response body byte at this offset (None: never).
    :ivar exchanges: one dict per connection: ``request`` (the head sent) and
        ``status`` (the response's status line).
    """

    def __init__(self, upstream):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.cut_after = None
        self.corrupt_at = None
        self.exchanges = []
        self._listener = socket.create_server(('127.0.0.1', 0))
        self.url = 'http://127.0.0.1:%d' % self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self):
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._relay, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    @staticmethod
    def _forward_request(client, upstream, exchange):
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)  # so the server closes its side
                    return
                if len(exchange['request']) < 8192:
                    exchange['request'] += data
                upstream.sendall(data)
        except OSError:
            return

    def _tamper(self, data, offset):
        """Apply corruption and the cut to body bytes starting at ``offset``."""
        if self.corrupt_at is not None and offset <= self.corrupt_at < offset + len(data):
            index = self.corrupt_at - offset
            data = data[:index] + bytes([data[index] ^ 0xff]) + data[index + 1:]
        if self.cut_after is not None and offset + len(data) >= self.cut_after:
            return data[:self.cut_after - offset], True
        return data, False

    def _relay(self, client):
        exchange = {'request': b'', 'status': None}
        self.exchanges.append(exchange)
        upstream = socket.create_connection(self.upstream, timeout=30)
        threading.Thread(target=self._forward_request, args=(client, upstream, exchange),
                         daemon=True).start()
        head, offset = b'', None
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    return
                if offset is None:
                    head += data
                    if b'\r\n\r\n' not in head:
                        continue
                    head, _sep, data = head.partition(b'\r\n\r\n')
                    exchange['status'] = head.split(b'\r\n', 1)[0].decode('latin-1')
                    client.sendall(head + b'\r\n\r\n')
                    offset = 0
                data, cut = self._tamper(data, offset)
                client.sendall(data)
                offset += len(data)
                if cut:
                    return
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self):
        """Stop accepting and wait for the relays to end."""
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for thread in self._threads:
            thread.join(10)


@pytest.fixture
def proxy(services):
    """A :class:`CuttingProxy` in front of the module's glance-api."""
    relay = CuttingProxy(services.api_url)
    yield relay
    relay.close()


def add_image(services, tmp_path, data=None, metadata=None, identity=None):
    """Add an image with ``bin/glance add --json``; returns its record.

    :param metadata: FIELD=VALUE strings (default: a raw, bare image named ``img``).
    """
    args = ['add', '--json'] + list(metadata or ('name=img', 'disk_format=raw',
                                                 'container_format=bare'))
    if data is not None:
        path = os.path.join(str(tmp_path), 'upload-%s' % uuid.uuid4().hex)
        with open(path, 'wb') as upload:
            upload.write(data)
        args += ['--file', path]
        result = run_cli(services, *args, identity=identity)
        os.unlink(path)
    else:
        result = run_cli(services, *args, identity=identity)
    assert result.status == 0, result.stderr
    return result.json()


# -- add, show, index, details, download -----------------------------------------------

def test_add_from_file_is_verified_and_shown_everywhere(services, tmp_path):
    data = random_bytes(3 * STORE_CHUNK + 1234, seed=1)
    (tmp_path / 'disk.img').write_bytes(data)
    batch = uuid.uuid4().hex
    added = run_cli(services, 'add', 'name=roundtrip', 'disk_format=raw',
                    'container_format=bare', 'os=linux', 'batch=%s' % batch,
                    '--file', tmp_path / 'disk.img')
    assert added.status == 0, added.stderr
    assert added.out.startswith('Added image ')
    assert 'Status: active' in added.out and "Property 'os': linux" in added.out
    assert 'Upload verified: glance-api recorded the md5 and sha256' in added.out
    image_id = added.out.split()[2].rstrip('.')

    shown = run_cli(services, 'show', image_id)
    assert shown.status == 0
    assert 'Checksum (md5): %s' % hashlib.md5(data).hexdigest() in shown.out
    assert 'Size: 787666 (769.2 KiB)' in shown.out
    record = run_cli(services, '--json', 'show', image_id).json()
    by_uri = run_cli(services, 'show', record['uri'], '--json').json()
    assert by_uri == record and record['properties'] == {'os': 'linux', 'batch': batch}
    verified_with = [field for field in ('xxh3', 'blake3') if record.get(field)]
    assert verified_with and 'Checksum (sha256): %s' % record['sha256'] in shown.out
    assert all('Checksum (%s): %s' % (field, record[field]) in shown.out
               for field in verified_with)

    index = run_cli(services, 'index', 'batch=%s' % batch)
    assert index.status == 0
    lines = index.out.splitlines()
    assert lines[0].split() == ['ID', 'Name', 'Disk', 'Format', 'Container', 'Format',
                                'Size', 'Status']
    assert lines[2].split() == [image_id, 'roundtrip', 'raw', 'bare', str(len(data)),
                                'active']
    details = run_cli(services, 'details', 'batch=%s' % batch)
    assert "Property 'batch': %s" % batch in details.out and details.out.count('=' * 78) == 2

    saved = run_cli(services, 'download', image_id, '--file', tmp_path / 'copy.img')
    assert saved.status == 0, saved.stderr
    assert (tmp_path / 'copy.img').read_bytes() == data
    assert 'Verified blake3 %s, md5 %s, sha256 %s.' % (
        blake3.blake3(data).hexdigest(), hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest()) in saved.out
    assert sorted(os.listdir(tmp_path)) == ['copy.img', 'disk.img']

    streamed = run_cli(services, 'download', record['uri'])
    assert streamed.status == 0 and streamed.stdout == data
    assert streamed.stderr.startswith('Verified blake3 ')


def test_add_from_a_pipe_is_sent_chunked(services):
    data = random_bytes(2 * STORE_CHUNK + 99, seed=2)
    result = run_cli(services, 'add', '--json', 'name=piped', 'disk_format=raw',
                     'container_format=bare', '--file', '-', data=data)
    assert result.status == 0, result.stderr
    image = result.json()
    assert (image['status'], image['size']) == ('active', len(data))
    assert image['checksum'] == hashlib.md5(data).hexdigest()


def test_add_from_redirected_stdin_sends_its_length(services, tmp_path):
    data = random_bytes(100000, seed=3)
    (tmp_path / 'in.img').write_bytes(data)
    with open(tmp_path / 'in.img', 'rb') as stdin:
        result = run_cli(services, 'add', '--json', 'name=redirected', '--file', '-',
                         stdin=stdin)
    assert result.status == 0, result.stderr
    assert result.json()['size'] == len(data)


def test_queued_image_gets_its_data_with_update(services, tmp_path):
    queued = add_image(services, tmp_path, metadata=['name=later', 'disk_format=raw',
                                                     'container_format=bare'])
    assert queued['status'] == 'queued'
    data = random_bytes(50000, seed=4)
    (tmp_path / 'later.img').write_bytes(data)
    updated = run_cli(services, 'update', queued['id'], '--file', tmp_path / 'later.img')
    assert updated.status == 0, updated.stderr
    assert 'Updated image %s.' % queued['id'] in updated.out
    assert 'Status: active' in updated.out and 'Upload verified' in updated.out
    again = run_cli(services, 'update', queued['id'], '--file', tmp_path / 'later.img')
    again.assert_one_line_error(1, 'data can only be added to a queued image')


def test_update_merges_properties_and_purge_replaces_them(services, tmp_path):
    image = add_image(services, tmp_path, b'x', ['name=props', 'os=linux', 'arch=x86'])
    merged = run_cli(services, '--json', 'update', image['id'], 'name=renamed', 'ver=2')
    assert merged.status == 0, merged.stderr
    assert merged.json()['name'] == 'renamed'
    assert merged.json()['properties'] == {'os': 'linux', 'arch': 'x86', 'ver': '2'}
    purged = run_cli(services, 'update', image['id'], '--purge-props', 'os=bsd', '--json')
    assert purged.json()['properties'] == {'os': 'bsd'}


def test_delete_goes_on_after_a_failure_and_exits_1(services, tmp_path):
    first = add_image(services, tmp_path, b'one')
    second = add_image(services, tmp_path, b'two')
    missing = str(uuid.uuid4())
    result = run_cli(services, 'delete', first['id'], missing, second['id'])
    assert result.status == 1
    assert result.out.splitlines() == ['Deleted image %s.' % first['id'],
                                       'Deleted image %s.' % second['id']]
    assert result.stderr.startswith('glance: error: %s: ' % missing)
    assert len(result.stderr.splitlines()) == 1
    for image in (first, second):
        run_cli(services, 'show', image['id']).assert_one_line_error(1, 'No image found')
    third = add_image(services, tmp_path, b'3')
    as_json = run_cli(services, 'delete', '--json', third['id'])
    assert as_json.status == 0 and len(as_json.json()['deleted']) == 1


def test_index_filters_sorts_and_pages(services, tmp_path):
    batch = uuid.uuid4().hex
    names = ['delta', 'alpha', 'echo', 'charlie', 'bravo']
    ids = {}
    for number, name in enumerate(names):
        disk_format = 'ami' if name == 'echo' else 'raw'
        ids[name] = add_image(services, tmp_path, b'x' * (number + 1), [
            'name=%s' % name, 'disk_format=%s' % disk_format, 'container_format=bare',
            'batch=%s' % batch])['id']

    def listed(*args):
        result = run_cli(services, '--json', 'index', 'batch=%s' % batch, *args)
        assert result.status == 0, result.stderr
        return result.json()

    ordered = listed('--sort-key', 'name', '--sort-dir', 'asc')
    assert [image['name'] for image in ordered['images']] == sorted(names)
    assert ordered['next_marker'] is None
    assert [image['name'] for image in listed('disk_format=ami')['images']] == ['echo']
    assert [image['name'] for image in listed('size_min=4')['images']] == ['bravo',
                                                                           'charlie']
    first = listed('--sort-key', 'name', '--sort-dir', 'asc', '--limit', '2')
    assert [image['name'] for image in first['images']] == ['alpha', 'bravo']
    assert first['next_marker'] == ids['bravo']
    second = listed('--sort-key', 'name', '--sort-dir', 'asc', '--limit', '2',
                    '--marker', first['next_marker'])
    assert [image['name'] for image in second['images']] == ['charlie', 'delta']
    paged = listed('--sort-key', 'name', '--page-size', '2')
    assert [image['name'] for image in paged['images']] == sorted(names, reverse=True)

    human = run_cli(services, 'index', 'batch=%s' % batch, '--limit', '1',
                    '--sort-key', 'name')
    assert human.stderr == ('More images follow: add --marker %s for the next page.\n'
                            % ids['echo'])
    detailed = run_cli(services, 'details', '--json', 'batch=%s' % batch, 'name=alpha')
    assert [image['properties']['batch'] for image in detailed.json()['images']] == [batch]
    assert run_cli(services, 'index', 'batch=none-such').out == 'No images found.\n'


def test_identity_comes_from_flags_or_environment(services, tmp_path):
    image = add_image(services, tmp_path, b'private')
    other = run_cli(services, 'show', image['id'], identity=TENANT2)
    other.assert_one_line_error(1, 'No image found with id %s' % image['id'])
    assert run_cli(services, 'show', image['id'], '--tenant', 'tenant1',
                   identity=TENANT2).status == 0
    assert run_cli(services, 'show', image['id'], identity=ADMIN).status == 0
    forbidden = run_cli(services, 'update', image['id'], 'name=mine', identity=TENANT2)
    forbidden.assert_one_line_error(1)
    assert run_cli(services, 'update', image['id'], 'is_public=true').status == 0
    forbidden = run_cli(services, 'update', image['id'], 'name=mine', identity=TENANT2)
    forbidden.assert_one_line_error(1)
    assert 'glance: error: ' in forbidden.stderr
    assert run_cli(services, 'show', image['id'], identity=TENANT2).status == 0
    anonymous = run_cli(services, 'add', 'name=anon', identity={})
    anonymous.assert_one_line_error(1)
    assert run_cli(services, 'delete', image['id']).status == 0


def test_server_reasons_and_local_failures_are_one_line(services, tmp_path):
    run_cli(services, 'show', str(uuid.uuid4())).assert_one_line_error(1, 'No image found')
    run_cli(services, 'download', str(uuid.uuid4())).assert_one_line_error(1)
    run_cli(services, 'add', 'is_public=maybe').assert_one_line_error(
        1, 'x-image-meta-is_public: expected a boolean')
    run_cli(services, 'index', 'size_min=many').assert_one_line_error(1)
    run_cli(services, 'show', 'not-an-id').assert_one_line_error(
        1, 'not an image id or image URI')
    run_cli(services, 'add', '--file', tmp_path / 'missing').assert_one_line_error(
        1, 'No such file or directory')
    run_cli(services, 'index', '--limit', 'x').assert_one_line_error(2, 'positive integer')
    run_cli(services, 'frobnicate').assert_one_line_error(2, 'invalid choice')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        dead = 'http://127.0.0.1:%d' % sock.getsockname()[1]
    run_cli(services, 'index', '--registry-url', dead).assert_one_line_error(
        1, 'refused the connection')
    run_cli(services, 'download', 'x', '--url', dead, '--file',
            tmp_path / 'x').assert_one_line_error(1, 'refused the connection')
    assert os.listdir(tmp_path) == []


def test_download_resumes_after_a_cut_connection(services, proxy, tmp_path):
    data = random_bytes(4 * STORE_CHUNK, seed=5)
    image = add_image(services, tmp_path, data)
    target = tmp_path / 'resumed.img'
    proxy.cut_after = STORE_CHUNK + 1000
    cut = run_cli(services, 'download', image['id'], '--file', target, '--url', proxy.url)
    cut.assert_one_line_error(1, 'broke off after %d of %d bytes' % (STORE_CHUNK + 1000,
                                                                     len(data)))
    assert 'resumed.img.part is kept' in cut.stderr
    assert os.path.getsize(str(target) + '.part') == STORE_CHUNK + 1000
    proxy.cut_after = None
    resumed = run_cli(services, 'download', image['id'], '--file', target, '--url',
                      proxy.url)
    assert resumed.status == 0, resumed.stderr
    assert 'resumed at byte %d' % (STORE_CHUNK + 1000) in resumed.out
    assert target.read_bytes() == data
    request = proxy.exchanges[-1]['request'].decode('latin-1')
    assert 'Range: bytes=%d-' % (STORE_CHUNK + 1000) in request
    assert 'If-Range: "%s"' % image['checksum'] in request
    assert proxy.exchanges[-1]['status'].startswith('HTTP/1.1 206')
    assert not os.path.exists(str(target) + '.part')


def test_download_into_a_closed_pipe_is_quiet(services, tmp_path):
    image = add_image(services, tmp_path, random_bytes(8 * STORE_CHUNK, seed=6))
    shell = subprocess.run(
        ['bash', '-c', '"$0" "$1" download "$2" | head -c 10 >/dev/null; '
         'echo "${PIPESTATUS[0]}"', sys.executable, GLANCE, image['id']],
        capture_output=True, env=cli_env(services), timeout=60)
    assert (shell.stdout, shell.stderr) == (b'141\n', b'')


def test_progress_is_drawn_on_a_terminal_and_not_on_a_pipe(services, tmp_path):
    data = random_bytes(2 * STORE_CHUNK, seed=7)
    (tmp_path / 'p.img').write_bytes(data)
    env = cli_env(services)
    status, terminal = run_on_pty([GLANCE, 'add', 'name=progress', '--file',
                                   tmp_path / 'p.img'], env, tmp_path / 'add.out')
    assert status == 0, terminal
    assert '\r' in terminal and 'Uploading' in terminal and '100%' in terminal
    assert 'B/s' in terminal and '512.0 KiB / 512.0 KiB' in terminal
    image_id = (tmp_path / 'add.out').read_text().split()[2].rstrip('.')
    status, terminal = run_on_pty([GLANCE, 'download', image_id, '--file',
                                   tmp_path / 'd.img'], env, tmp_path / 'download.out')
    assert status == 0, terminal
    assert '\r' in terminal and 'Downloading' in terminal and '100%' in terminal
    assert (tmp_path / 'd.img').read_bytes() == data

    piped = run_cli(services, 'download', image_id, '--file', tmp_path / 'e.img')
    uploaded = run_cli(services, 'add', 'name=quiet', '--file', tmp_path / 'p.img')
    for result in (piped, uploaded):
        assert result.status == 0 and result.stderr == ''
        assert '\r' not in result.out and '%' not in result.out


def test_tls_api_needs_its_ca_or_insecure(tmp_path_factory, tmp_path):
    folder = tmp_path_factory.mktemp('tls')
    cert, key = write_self_signed_certificate(folder)
    registry, api = start_services(folder, cert_file=cert, key_file=key)
    try:
        services = Services(registry.url, api.url, folder)
        assert api.url.startswith('https://')
        data = random_bytes(70000, seed=8)
        (tmp_path / 'tls.img').write_bytes(data)
        untrusted = run_cli(services, 'add', 'name=tls', '--file', tmp_path / 'tls.img')
        untrusted.assert_one_line_error(1, 'could not be verified')
        added = run_cli(services, '--json', '--ca-file', cert, 'add', 'name=tls', '--file',
                        tmp_path / 'tls.img')
        assert added.status == 0, added.stderr
        fetched = run_cli(services, 'download', added.json()['id'], '--insecure')
        assert fetched.status == 0 and fetched.stdout == data
        env = cli_env(services, GLANCE_CA_FILE=cert)
        assert run_cli(services, 'download', added.json()['id'], env=env).stdout == data
    finally:
        api.stop()
        registry.stop()


def test_member_commands_share_an_image_through_glance_apis_v1_api(services, tmp_path):
    data = random_bytes(10 * 1024)
    image = add_image(services, tmp_path, data)
    assert run_cli(services, 'show', image['id'], identity=TENANT2).status == 1
    created = run_cli(services, 'member-create', image['id'], 'tenant2')
    assert created.status == 0, created.stderr
    listed = run_cli(services, '--json', 'member-list', '--image-id', image['id'])
    assert listed.json()['members'] == [
        {'image_id': image['id'], 'member_id': 'tenant2', 'can_share': False}]
    shared = run_cli(services, '--json', 'member-list', '--member-id', 'tenant2',
                     identity=TENANT2)
    assert {'image_id': image['id'], 'member_id': 'tenant2', 'can_share': False} in \
        shared.json()['members']
    # The member sees and downloads the image, verified, through the same library.
    assert run_cli(services, 'show', image['id'], identity=TENANT2).status == 0
    downloaded = run_cli(services, 'download', image['id'], '--file',
                         tmp_path / 'shared.img', identity=TENANT2)
    assert downloaded.status == 0, downloaded.stderr
    assert (tmp_path / 'shared.img').read_bytes() == data
    assert run_cli(services, 'members-replace', image['id'], 'tenant3',
                   '--can-share').status == 0
    listed = run_cli(services, '--json', 'member-list', '--image-id', image['id'])
    assert listed.json()['members'] == [
        {'image_id': image['id'], 'member_id': 'tenant3', 'can_share': True}]
    assert run_cli(services, 'member-delete', image['id'], 'tenant3').status == 0
    assert run_cli(services, '--json', 'member-list', '--image-id',
                   image['id']).json()['members'] == []
    assert run_cli(services, 'show', image['id'], identity=TENANT2).status == 1
    run_cli(services, 'member-create', image['id'], 'tenant2',
            identity=TENANT2).assert_one_line_error(1)
