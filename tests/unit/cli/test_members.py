"""The sharing commands against a server speaking glance-api's v1 members format."""

import json

import pytest

from glance.cmd import shell
from tests.unit.client.members_app import MembersApp
from tests.unit.common.test_client import serve_wsgi

ENV = {'GLANCE_AUTH_TOKEN': 'tok'}


def _run(capsys, url, *argv):
    status = shell.main(list(argv) + ['--url', url], ENV)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_create_list_replace_and_delete(capsys):
    app = MembersApp('img1', 'img2')
    with serve_wsgi(app) as url:
        assert _run(capsys, url, 'member-create', 'img1', 'tenant2')[:2] == (
            0, 'Shared image img1 with tenant2.\n')
        assert _run(capsys, url, 'member-create', 'img1', 'tenant3', '--can-share')[0] == 0
        assert _run(capsys, url, 'member-create', 'img2', 'tenant2')[0] == 0
        status, out, _err = _run(capsys, url, '--json', 'member-list', '--image-id',
                                 'img1')
        assert status == 0 and json.loads(out) == {'members': [
            {'image_id': 'img1', 'member_id': 'tenant2', 'can_share': False},
            {'image_id': 'img1', 'member_id': 'tenant3', 'can_share': True}]}
        status, out, _err = _run(capsys, url, 'member-list', '--member-id', 'tenant2')
        assert status == 0 and 'img1' in out and 'img2' in out
        assert _run(capsys, url, 'member-delete', 'img1', 'tenant2')[:2] == (
            0, 'Image img1 is no longer shared with tenant2.\n')
        assert _run(capsys, url, 'members-replace', 'img2', 'tenant4', 'tenant5',
                    '--can-share')[0] == 0
        assert _run(capsys, url, 'members-replace', 'img1')[1] == \
            'Image img1 is now shared with no one.\n'
    assert app.images == {'img1': {}, 'img2': {'tenant4': True, 'tenant5': True}}
    replaced = json.loads(app.requests[-2][2])
    assert replaced == {'memberships': [{'member_id': 'tenant4', 'can_share': True},
                                        {'member_id': 'tenant5', 'can_share': True}]}


def test_an_empty_list_and_an_unknown_image(capsys):
    with serve_wsgi(MembersApp('img1')) as url:
        assert _run(capsys, url, 'member-list', '--image-id', 'img1')[1] == \
            'No members found.\n'
        status, _out, err = _run(capsys, url, 'member-delete', 'nope', 'tenant2')
    assert status == 1 and err == 'glance: error: No image found with id nope\n'


@pytest.mark.parametrize('argv', [['member-list'],
                                  ['member-list', '--image-id', 'a', '--member-id', 'b']])
def test_member_list_wants_exactly_one_of_image_and_member(capsys, argv):
    status, _out, err = _run(capsys, 'http://127.0.0.1:9', *argv)
    assert status == 2 and 'exactly one of --image-id and --member' in err


def test_certificate_options_come_from_flags_or_os_cert_and_os_key():
    args = shell.parse_args(['member-list', '--image-id', 'i'],
                            {'OS_CERT': '/c.pem', 'OS_KEY': '/k.pem'})
    assert (args.cert_file, args.key_file) == ('/c.pem', '/k.pem')
    args = shell.parse_args(['--cert-file', '/x.pem', 'index', '--key-file', '/y.pem'],
                            {'OS_CERT': '/c.pem'})
    assert (args.cert_file, args.key_file) == ('/x.pem', '/y.pem')
