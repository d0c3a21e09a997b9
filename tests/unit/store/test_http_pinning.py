"""Unit tests: the HTTP store connects to the address it checked, named by its host.

A real ``http.server`` on 127.0.0.1 stands in for a web server; the resolver is
replaced so a made-up name can resolve to it once and then to something else.
"""

import socket
import threading
# Names are taken from sys.modules['http.server'], never through the package
# attribute ``http.server``: importing eventlet.wsgi (glance.common.server does)
# re-imports http.server over green socketserver/threading with
# eventlet.patcher.inject, which puts sys.modules back but leaves the ``http``
# package's ``server`` attribute on that green copy; a server of the green copy
# run in an OS thread then blocks its shutdown() forever on an eventlet lock.
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from glance.store import netpolicy
from glance.store.http import HTTPStore


class _Handler(BaseHTTPRequestHandler):
    seen_hosts = []

    def do_HEAD(self):
        self.seen_hosts.append(self.headers['Host'])
        self.send_response(200)
        self.send_header('Content-Length', '4')
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = HTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.seen_hosts = []
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_a_name_is_resolved_once_and_the_connection_pinned_to_it(server, monkeypatch):
    port = server.server_address[1]
    answers = [[(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('127.0.0.1', port))]]
    real_getaddrinfo = socket.getaddrinfo

    def resolve_once(host, *args, **kwargs):
        if host == 'images.test':
            # A second lookup would "rebind" to the metadata address.
            return answers.pop() if answers else [
                (socket.AF_INET, socket.SOCK_STREAM, 6, '', ('169.254.169.254', port))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, 'getaddrinfo', resolve_once)
    store = HTTPStore({'allowed_hosts': 'images.test'})
    assert store.head('http://images.test:%d/image' % port).size == 4
    assert _Handler.seen_hosts == ['images.test:%d' % port]
    assert answers == []


def test_the_same_name_is_refused_when_not_allow_listed(server, monkeypatch):
    port = server.server_address[1]
    monkeypatch.setattr(socket, 'getaddrinfo', lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, '', ('127.0.0.1', port))])
    with pytest.raises(netpolicy.AddressRefused):
        HTTPStore({}).head('http://images.test:%d/image' % port)
    assert _Handler.seen_hosts == []


def test_allowed_networks_let_a_numeric_spelling_through_to_the_same_server(server):
    port = server.server_address[1]
    store = HTTPStore({'allowed_networks': '127.0.0.0/8'})
    assert store.head('http://0x7f000001:%d/image' % port).size == 4
    assert _Handler.seen_hosts == ['0x7f000001:%d' % port]
