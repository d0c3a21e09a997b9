"""Locations cannot make glance-api reach what the operator did not allow (SSRF).

Everything here runs inside a network namespace with loopback only (see
:mod:`tests.functional.netns`): the registry, two glance-api daemons (one with the
default policy, one allow-listing loopback), a real nginx and two bare listeners are
all started inside it, so even a regression cannot send a packet off the machine.

The bare listeners (127.0.0.1 and ::1, same port) prove that a refused location
opens no connection at all: the API answers first, then a non-blocking ``accept``
finds nothing queued (the kernel would have completed any handshake already).
"""

import os
import socket

import pytest

from tests.functional import daemons, netns
from tests.functional.services import NginxService, start_or_give_up
from tests.functional.test_api_images import ADMIN, USER, Api

DATA = os.urandom(3000)


class Listener:
    """Bare TCP listeners on 127.0.0.1 and ::1 sharing one port; they never accept
    until :meth:`connections` asks."""

    def __init__(self):
        self.v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.v4.bind(('127.0.0.1', 0))
        self.port = self.v4.getsockname()[1]
        self.v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        self.v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.v6.bind(('::1', self.port))
        for sock in (self.v4, self.v6):
            sock.listen(16)
            sock.setblocking(False)

    def connections(self):
        """Accept and count every connection queued so far."""
        count = 0
        for sock in (self.v4, self.v6):
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                count += 1
        return count

    def close(self):
        self.v4.close()
        self.v6.close()


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """The daemons, nginx and listeners, all inside one loopback-only namespace."""
    with netns.loopback_only():
        assert netns.interfaces() == ['lo']
        started = []
        try:
            folder = tmp_path_factory.mktemp('ssrf')
            registry = daemons.registry_daemon(
                folder / 'registry', 'sqlite:///%s' % (folder / 'registry.db')).start()
            started.append(registry)
            guarded = daemons.api_daemon(folder / 'api', registry.url).start()
            started.append(guarded)
            allowing = daemons.api_daemon(
                folder / 'api-allowing', registry.url,
                sections={'store:http': {'allowed_networks': '127.0.0.0/8, ::1/128'}},
                filesystem_store_datadir=str(folder / 'api' / 'images')).start()
            started.append(allowing)
            nginx = start_or_give_up(NginxService(folder / 'nginx'))
            started.append(nginx)
            listener = Listener()
            with open(os.path.join(nginx.root, 'image'), 'wb') as handle:
                handle.write(DATA)
            yield {'guarded': Api(guarded.url), 'registry': Api(registry.url),
                   'allowing': Api(allowing.url), 'nginx': nginx, 'listener': listener,
                   'datadir': folder / 'api' / 'images', 'folder': folder}
            listener.close()
        finally:
            for process in reversed(started):
                process.stop()


def register(api, location, headers=USER):
    return api.request('POST', '/images', dict(headers, **{
        'x-image-meta-name': 'ssrf', 'x-image-meta-location': location}))


LOOPBACK_SPELLINGS = ['127.0.0.1', '2130706433', '0x7f000001', '0X7F000001',
                      '0177.0.0.1', '017700000001', '127.1', '127.0.1', '0x7f.1',
                      '[::1]', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]',
                      '[::ffff:7f00:1]', '[::127.0.0.1]', 'localhost', '0', '0.0.0.0',
                      '[::]']


@pytest.mark.parametrize('scheme', ['http', 'https'])
@pytest.mark.parametrize('host', LOOPBACK_SPELLINGS)
def test_loopback_in_any_spelling_is_refused_before_connecting(world, host, scheme):
    listener = world['listener']
    resp = register(world['guarded'], '%s://%s:%d/image' % (scheme, host,
                                                            listener.port))
    assert resp.status == 400, resp.body
    assert 'Location refused' in resp.json()['error']['message']
    assert 'allowed_networks' in resp.json()['error']['message']
    assert listener.connections() == 0


@pytest.mark.parametrize('location,reason', [
    ('http://169.254.169.254/latest/meta-data/', 'link-local'),
    ('http://2852039166/latest/meta-data/', 'link-local'),
    ('http://[fe80::a9fe:a9fe]/', 'link-local'),
    ('http://10.0.0.1/image', 'private'),
    ('http://172.16.5.4:8080/image', 'private'),
    ('http://192.168.0.1/image', 'private'),
    ('http://100.64.0.1/image', 'shared'),
    ('http://224.0.0.251/image', 'multicast'),
    ('http://240.0.0.1/image', 'reserved'),
    ('http://[fd00::1]/image', 'private'),
    ('http://[::ffff:169.254.169.254]/', 'IPv4-mapped'),
    ('http://[2002:a9fe:a9fe::1]/', '6to4'),
    ('http://[64:ff9b::a9fe:a9fe]/', 'NAT64'),
    ('https://169.254.169.254/image', 'link-local'),
])
def test_non_global_addresses_are_refused_with_a_reason(world, location, reason):
    resp = register(world['guarded'], location)
    assert resp.status == 400, resp.body
    message = resp.json()['error']['message']
    assert 'Location refused' in message and reason in message


def test_a_refused_registration_leaves_no_image_behind(world):
    resp = world['guarded'].request('POST', '/images', dict(USER, **{
        'x-image-meta-name': 'refused-probe',
        'x-image-meta-location': 'http://127.1:%d/image' % world['listener'].port}))
    assert resp.status == 400
    listing = world['registry'].request('GET', '/images/detail?name=refused-probe', USER)
    assert listing.status == 200 and listing.json()['images'] == []


@pytest.mark.parametrize('location', ['gopher://127.0.0.1:70/_x', 'ftp://127.0.0.1/x',
                                      'dict://127.0.0.1:11211/stat', 'ldap://127.0.0.1/',
                                      'jar:http://127.0.0.1/x!/', 'netdoc:///etc/passwd'])
def test_unknown_schemes_are_refused(world, location):
    resp = register(world['guarded'], location, ADMIN)
    assert resp.status == 400, resp.body
    assert 'no enabled store serves' in resp.json()['error']['message']
    assert world['listener'].connections() == 0


def test_file_locations_are_for_admins_only(world):
    datadir = world['datadir']
    datadir.mkdir(exist_ok=True)
    (datadir / 'registered').write_bytes(DATA)
    resp = register(world['guarded'], 'file://%s/registered' % datadir)
    assert resp.status == 403, resp.body
    resp = register(world['guarded'], 'file://%s/registered' % datadir, ADMIN)
    assert resp.status == 201, resp.body


@pytest.mark.parametrize('template', ['file:///etc/passwd', 'file://{d}/../registry.db',
                                      'file://{d}/%2e%2e/registry.db',
                                      'file://{d}/link-out'])
def test_file_locations_outside_the_store_are_refused_even_for_admins(world, template):
    datadir = world['datadir']
    datadir.mkdir(exist_ok=True)
    if not os.path.lexists(datadir / 'link-out'):
        os.symlink(world['folder'] / 'registry.db', datadir / 'link-out')
    resp = register(world['guarded'], template.format(d=datadir), ADMIN)
    assert resp.status == 400, resp.body
    assert 'outside the data directory' in resp.json()['error']['message']


def test_allow_listed_loopback_is_served_through_nginx(world):
    api, nginx = world['allowing'], world['nginx']
    for location in ('%s/image' % nginx.url,
                     'http://2130706433:%d/image' % nginx.port,
                     'http://[::ffff:127.0.0.1]:%d/image' % nginx.port):
        resp = register(api, location)
        if 'ffff' in location:
            # Mapped addresses are refused whatever the allow-list says about 127/8.
            assert resp.status == 400, resp.body
            continue
        assert resp.status == 201, resp.body
        image = resp.json()['image']
        got = api.request('GET', '/images/' + image['id'], USER)
        assert got.status == 200 and got.body == DATA


def test_a_redirect_is_checked_again_before_it_is_followed(world):
    api, nginx = world['allowing'], world['nginx']
    resp = register(api, '%s/_test/to-metadata' % nginx.url)
    assert resp.status == 400, resp.body
    assert 'host 169.254.169.254 is a link-local address' in \
        resp.json()['error']['message']
    resp = register(api, '%s/_test/to-decimal/image' % nginx.url)
    assert resp.status == 201, resp.body


def test_the_guarded_api_does_not_follow_redirects_into_loopback(world):
    # The first hop is already refused: the default policy never reaches nginx.
    resp = register(world['guarded'], '%s/_test/to-decimal/image' % world['nginx'].url)
    assert resp.status == 400


def test_bad_percent_encodings_in_the_query_are_400(world):
    for query in ('uri=%ff', 'uri=%c3%28', '%ff=1', 'uri=x&y=%fe'):
        resp = world['guarded'].request('GET', '/images?' + query, USER)
        assert resp.status == 400, (query, resp.body)
        assert 'not percent-encoded UTF-8' in resp.json()['error']['message']
