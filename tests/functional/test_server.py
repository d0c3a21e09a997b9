"""The eventlet server both daemons run: any WSGI app, TLS, graceful SIGTERM."""

import datetime
import http.client
import ssl
import threading
import time

import pytest

from tests.functional.daemons import Daemon


def _paste_ini(tmp_path, blocks=10, delay=0.1):
    ini = tmp_path / 'slow-paste.ini'
    ini.write_text('[app:slow]\nuse = call:tests.functional.wsgi_apps:slow_app_factory\n'
                   'blocks = %d\ndelay = %s\n' % (blocks, delay))
    return str(ini)


def _self_signed_cert(tmp_path):
    crypto = pytest.importorskip('cryptography')
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def _port(daemon):
    return int(daemon.url.rsplit(':', 1)[1])


def test_daemon_serves_any_wsgi_app_from_paste(tmp_path):
    daemon = Daemon('glance-registry', tmp_path, {'paste_file': _paste_ini(tmp_path, 3, 0)},
                    pipeline='slow').start()
    try:
        conn = http.client.HTTPConnection('127.0.0.1', _port(daemon), timeout=10)
        conn.request('GET', '/')
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b'x' * 3072
    finally:
        daemon.stop()


def test_sigterm_finishes_in_flight_request_and_stops_accepting(tmp_path):
    daemon = Daemon('glance-registry', tmp_path,
                    {'paste_file': _paste_ini(tmp_path, 10, 0.1)}, pipeline='slow').start()
    result = {}

    def download():
        conn = http.client.HTTPConnection('127.0.0.1', _port(daemon), timeout=20)
        conn.request('GET', '/')
        response = conn.getresponse()
        result['body'] = response.read()

    worker = threading.Thread(target=download)
    worker.start()
    time.sleep(0.3)
    daemon.process.terminate()
    worker.join(20)
    assert result.get('body') == b'x' * 10240
    assert daemon.process.wait(20) == 0
    with pytest.raises(OSError):
        http.client.HTTPConnection('127.0.0.1', _port(daemon), timeout=2).request('GET', '/')


def test_tls_when_cert_and_key_are_set(tmp_path):
    cert_file, key_file = _self_signed_cert(tmp_path)
    daemon = Daemon('glance-registry', tmp_path,
                    {'paste_file': _paste_ini(tmp_path, 1, 0), 'cert_file': cert_file,
                     'key_file': key_file}, pipeline='slow').start()
    try:
        assert daemon.url.startswith('https://')
        context = ssl.create_default_context(cafile=cert_file)
        conn = http.client.HTTPSConnection('127.0.0.1', _port(daemon), timeout=10,
                                           context=context)
        conn.request('GET', '/')
        assert conn.getresponse().read() == b'x' * 1024
        untrusted = http.client.HTTPSConnection('127.0.0.1', _port(daemon), timeout=10,
                                                context=ssl.create_default_context())
        with pytest.raises(ssl.SSLError):
            untrusted.request('GET', '/')
    finally:
        daemon.stop()


def test_half_tls_configuration_is_refused_at_startup(tmp_path):
    cert_file, _ = _self_signed_cert(tmp_path)
    daemon = Daemon('glance-registry', tmp_path,
                    {'paste_file': _paste_ini(tmp_path), 'cert_file': cert_file},
                    pipeline='slow')
    with pytest.raises(RuntimeError, match='cert_file and key_file'):
        daemon.start(timeout=15)
