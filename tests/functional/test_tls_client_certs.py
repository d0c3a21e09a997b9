"""TLS with a CA of the test's own: both daemons on https, the registry requiring
client certificates, and every client verifying by default."""

import http.client
import ssl
import urllib.parse

import pytest

from glance.common import exception
from glance.registry.client import RegistryClient
from tests.data import random_bytes
from tests.functional import daemons, test_cli
from tests.functional.test_fetch import GLANCE_FETCH
from tests.tls import CertificateAuthority

USER = {'X-Tenant-Id': 'tenant1', 'X-User-Id': 'user1', 'X-Roles': 'member'}


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A CA, its server certificate, a client certificate, and an unrelated CA."""
    folder = tmp_path_factory.mktemp('pki')
    ca = CertificateAuthority(folder)
    return {'ca': ca.cert_path, 'server': ca.issue('server'),
            'client': ca.issue('glance-api', client=True),
            'stranger': CertificateAuthority(folder, 'stranger-ca').issue(
                'stranger', client=True),
            'other_ca': CertificateAuthority(folder, 'other-ca').cert_path}


def _start(folder, pki, **api_options):
    """Start a registry that requires client certificates and an https glance-api on
    it (with ``api_options``, e.g. ``client_ca_file``); returns both daemons."""
    server_cert, server_key = pki['server']
    client_cert, client_key = pki['client']
    return daemons.start_deployment(
        daemons.registry_daemon(folder / 'registry',
                                'sqlite:///%s' % (folder / 'registry.db'),
                                cert_file=server_cert, key_file=server_key,
                                client_ca_file=pki['ca']),
        lambda registry_url: daemons.api_daemon(
            folder / 'api', registry_url, cert_file=server_cert, key_file=server_key,
            registry_ca_file=pki['ca'], registry_cert_file=client_cert,
            registry_key_file=client_key, **api_options))


@pytest.fixture(scope='module')
def deployment(tmp_path_factory, pki):
    """A registry that requires client certificates and an https glance-api on it."""
    registry, api = _start(tmp_path_factory.mktemp('tls'), pki)
    yield registry, api
    api.stop()
    registry.stop()


def _https(url, ca_file, cert=None):
    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file)
    if cert:
        context.load_cert_chain(*cert)
    return http.client.HTTPSConnection(parts.hostname, parts.port, context=context,
                                       timeout=60)


def _request(connection, method, path, headers=None, body=None):
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_upload_and_download_over_https_with_a_client_certificate_to_the_registry(
        deployment, pki):
    registry, api = deployment
    assert api.url.startswith('https://') and registry.url.startswith('https://')
    data = random_bytes(100 * 1024)
    status, headers, body = _request(_https(api.url, pki['ca']), 'POST', '/images',
                                     dict(USER, **{'x-image-meta-name': 'tls'}), data)
    assert status == 201, body
    location = headers['Location']
    image_id = location.rsplit('/', 1)[1]
    status, _, body = _request(_https(api.url, pki['ca']), 'GET', '/images/' + image_id,
                               USER)
    assert status == 200 and body == data


@pytest.mark.parametrize('cert', [None, 'stranger'])
def test_the_registry_refuses_clients_without_a_certificate_from_its_ca(
        deployment, pki, cert):
    registry, _ = deployment
    connection = _https(registry.url, pki['ca'], pki[cert] if cert else None)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        _request(connection, 'GET', '/images', USER)
    status, _, _ = _request(_https(registry.url, pki['ca'], pki['client']), 'GET',
                            '/images', USER)
    assert status == 200


def test_registry_client_verifies_by_default_and_takes_a_ca_file(deployment, pki):
    registry, _ = deployment
    cert, key = pki['client']
    unverified = RegistryClient(registry.url, timeout=10, cert_file=cert, key_file=key)
    with pytest.raises(exception.RegistryUnavailable, match='could not be verified'):
        unverified.list_images()
    wrong_ca = RegistryClient(registry.url, timeout=10, ca_file=pki['other_ca'],
                              cert_file=cert, key_file=key)
    with pytest.raises(exception.RegistryUnavailable, match='could not be verified'):
        wrong_ca.list_images()
    right = RegistryClient(registry.url, timeout=10, ca_file=pki['ca'], cert_file=cert,
                           key_file=key)
    assert right.list_images()['images'] == []
    insecure = RegistryClient(registry.url, timeout=10, insecure=True, cert_file=cert,
                              key_file=key)
    assert insecure.list_images()['images'] == []
    for made in (unverified, wrong_ca, right, insecure):
        made.close()


def test_glance_api_without_its_client_certificate_answers_503(tmp_path, deployment,
                                                               pki):
    registry, _ = deployment
    api = daemons.api_daemon(tmp_path / 'api', registry.url,
                             registry_ca_file=pki['ca']).start()
    try:
        status, headers, body = _request(
            http.client.HTTPConnection(*urllib.parse.urlsplit(api.url).netloc.split(':'),
                                       timeout=60),
            'GET', '/images/%s' % ('0' * 8 + '-0000-0000-0000-' + '0' * 12), USER)
        assert status == 503, body
        assert headers['Retry-After']
    finally:
        api.stop()


@pytest.fixture(scope='module')
def strict_deployment(tmp_path_factory, pki):
    """Both daemons on https and both requiring client certificates from the CA."""
    folder = tmp_path_factory.mktemp('strict')
    registry, api = _start(folder, pki, client_ca_file=pki['ca'])
    yield test_cli.Services(registry.url, api.url, folder)
    api.stop()
    registry.stop()


def test_cli_and_glance_fetch_present_client_certificates(strict_deployment, pki,
                                                          tmp_path):
    services = strict_deployment
    cert, key = pki['client']
    data = random_bytes(300 * 1024)
    (tmp_path / 'disk.img').write_bytes(data)
    tls = ['--ca-file', pki['ca'], '--cert-file', cert, '--key-file', key]
    added = test_cli.run_cli(services, '--json', *tls, 'add', 'name=mtls',
                             'disk_format=raw', 'container_format=bare', '--file',
                             tmp_path / 'disk.img')
    assert added.status == 0, added.stderr
    image_id = added.json()['id']
    # The certificate from OS_CERT/OS_KEY reaches both glance-api and the registry.
    env = test_cli.cli_env(services, GLANCE_CA_FILE=pki['ca'], OS_CERT=cert, OS_KEY=key)
    shown = test_cli.run_cli(services, '--json', 'show', image_id, env=env)
    assert shown.status == 0 and shown.json()['size'] == len(data), shown.stderr
    downloaded = test_cli.run_cli(services, 'download', image_id, '--file',
                                  tmp_path / 'out.img', env=env)
    assert downloaded.status == 0, downloaded.stderr
    assert (tmp_path / 'out.img').read_bytes() == data
    fetched = test_cli.run_cli(services, '--json', image_id, '--dest', tmp_path / 'node',
                               program=GLANCE_FETCH, env=env)
    assert fetched.status == 0, fetched.stderr
    assert (tmp_path / 'node' / image_id).read_bytes() == data
    assert set(fetched.json()['verified']) == {'md5', 'sha256', 'blake3'}


@pytest.mark.parametrize('program', ['glance', 'glance-fetch'])
def test_without_a_client_certificate_glance_api_refuses_in_one_line(
        strict_deployment, pki, tmp_path, program):
    env = test_cli.cli_env(strict_deployment, GLANCE_CA_FILE=pki['ca'])
    if program == 'glance':
        result = test_cli.run_cli(strict_deployment, 'download', 'some-id', '--file',
                                  tmp_path / 'x', env=env)
    else:
        result = test_cli.run_cli(strict_deployment, 'some-id', '--dest', tmp_path,
                                  program=GLANCE_FETCH, env=env)
    result.assert_one_line_error(1, 'glance-api at %s' % strict_deployment.api_url)
