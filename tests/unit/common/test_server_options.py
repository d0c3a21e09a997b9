"""server_from_conf: the TLS options, checked at start-up."""

import pytest

from glance.common import exception, server


def _app(environ, start_response):
    start_response('200 OK', [])
    return [b'']


@pytest.mark.parametrize('conf, option', [
    ({'client_ca_file': '/etc/ca.pem'}, 'client_ca_file'),
    ({'cert_file': '/etc/c.pem'}, 'key_file'),
])
def test_tls_options_that_do_not_go_together_stop_startup(conf, option):
    with pytest.raises(exception.ConfigError) as raised:
        server.server_from_conf(_app, conf, 9191)
    assert raised.value.option == option


def test_client_ca_file_is_handed_to_the_server(tmp_path):
    conf = {'cert_file': str(tmp_path / 'c.pem'), 'key_file': str(tmp_path / 'k.pem'),
            'client_ca_file': str(tmp_path / 'ca.pem')}
    built = server.server_from_conf(_app, conf, 9191)
    assert built.client_ca_file == str(tmp_path / 'ca.pem') and built.scheme == 'https'
