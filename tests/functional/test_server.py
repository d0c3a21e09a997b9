"""The eventlet server both daemons run: any WSGI app, TLS, graceful SIGTERM."""

import http.client
import ssl
import threading

import pytest
from prometheus_client import parser

from tests.functional.daemons import Daemon
from tests.tls import write_self_signed_certificate


def _paste_ini(tmp_path, blocks=10, delay=0.1):
    ini = tmp_path / 'slow-paste.ini'
    ini.write_text('[app:slow]\nuse = call:tests.functional.wsgi_apps:slow_app_factory\n'
                   'blocks = %d\ndelay = %s\n' % (blocks, delay))
    return str(ini)


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
    in_flight = threading.Event()

    def download():
        conn = http.client.HTTPConnection('127.0.0.1', _port(daemon), timeout=20)
        conn.request('GET', '/')
        response = conn.getresponse()
        in_flight.set()
        result['body'] = response.read()

    worker = threading.Thread(target=download)
    worker.start()
    # The headers are in: the request is being served, its 10 slow blocks still to come.
    assert in_flight.wait(20)
    daemon.process.terminate()
    worker.join(20)
    assert result.get('body') == b'x' * 10240
    assert daemon.process.wait(20) == 0
    with pytest.raises(OSError):
        http.client.HTTPConnection('127.0.0.1', _port(daemon), timeout=2).request('GET', '/')


def test_tls_when_cert_and_key_are_set(tmp_path):
    cert_file, key_file = write_self_signed_certificate(tmp_path)
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
    cert_file, _ = write_self_signed_certificate(tmp_path)
    daemon = Daemon('glance-registry', tmp_path,
                    {'paste_file': _paste_ini(tmp_path), 'cert_file': cert_file},
                    pipeline='slow')
    with pytest.raises(RuntimeError, match='cert_file and key_file'):
        daemon.start(timeout=15)


def test_shipped_pipelines_answer_healthcheck_and_metrics(make_registry, make_api):
    registry = make_registry()
    api = make_api(registry.url)
    for daemon in (registry, api):
        conn = http.client.HTTPConnection('127.0.0.1', _port(daemon), timeout=10)
        conn.request('GET', '/healthcheck')
        assert conn.getresponse().read() == b'OK\n'
        conn.request('GET', '/no-such-path')
        assert conn.getresponse().read()
        conn.request('GET', '/metrics')
        samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                   for family in parser.text_string_to_metric_families(
                       conn.getresponse().read().decode())
                   for sample in family.samples}
        assert samples[('glance_http_requests_total', (
            ('method', 'GET'), ('route', 'unmatched'), ('status', '404')))] == 1
        assert samples[('glance_http_requests_in_flight', ())] == 0
