"""tests/functional/openstack_clients.py itself: what a snippet returns and raises, and
that a client process connects to loopback addresses only."""

import socket

import pytest


@pytest.mark.parametrize('venv', ['glanceclient1', 'openstack_clients'])
def test_a_snippet_returns_json_bytes_and_generators(request, venv):
    clients = request.getfixturevalue(venv)
    answer = clients.run('''
import os
import glanceclient
result = {'version': glanceclient.__version__, 'data': bytes(range(256)),
          'squares': (n * n for n in params['numbers']),
          'auth': os.environ['OS_AUTH_URL'], 'reversed': params['data'][::-1]}
print('to stdout')
''', env={'OS_AUTH_URL': 'http://127.0.0.1:5000/v3'}, numbers=[1, 2, 3], data=b'\x00ab')
    assert answer.value == {
        'version': '2.17.1' if venv == 'glanceclient1' else '4.13.0',
        'data': bytes(range(256)), 'squares': [1, 4, 9], 'reversed': b'ba\x00',
        'auth': 'http://127.0.0.1:5000/v3'}
    assert answer.stdout == 'to stdout\n'


def test_a_snippet_error_names_the_client_exception_and_its_aliases(openstack_clients):
    failed = openstack_clients.run('''
import openstack.exceptions
raise openstack.exceptions.NotFoundException('no image ' + params['image'])
''', image='abc')
    assert failed.status == 1
    assert failed.error['type'] == 'openstack.exceptions.NotFoundException'
    assert failed.error['message'] == 'no image abc'
    assert failed.raised('openstack.exceptions.ResourceNotFound')
    assert failed.raised('openstack.exceptions.SDKException')
    assert not failed.raised('openstack.exceptions.ConflictException')
    assert 'Traceback' in failed.stderr
    with pytest.raises(AssertionError, match='NotFoundException'):
        failed.value


def test_client_processes_connect_to_loopback_only(glanceclient1):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    try:
        connect = '''
import socket
result = socket.create_connection((params['host'], params['port']), timeout=5).close()
'''
        port = listener.getsockname()[1]
        assert glanceclient1.run(connect, host='127.0.0.1', port=port).status == 0
        # 192.0.2.0/24 is TEST-NET-1: never routed, refused before any packet leaves.
        refused = glanceclient1.run(connect, host='192.0.2.1', port=80)
        assert refused.raised('builtins.ConnectionRefusedError'), refused
        assert 'loopback only' in refused.error['message']
        cli = glanceclient1.glance('--os-image-api-version', '1', '--os-image-url',
                                   'http://192.0.2.1:9292', '--os-auth-token', 'x',
                                   'image-list')
        assert cli.status == 1
        assert 'loopback only' in cli.stderr
    finally:
        listener.close()
