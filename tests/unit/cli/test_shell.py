"""The glance command line: options from flags or environment, pairs, one-line errors."""

import io
import os
import socket

import pytest

from glance.cli import commands
from glance.cmd import fetch as fetch_cmd
from glance.cmd import shell


def _free_url():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return 'http://127.0.0.1:%d' % sock.getsockname()[1]


def test_defaults_when_neither_flags_nor_environment_say_otherwise():
    args = shell.parse_args(['index'], {})
    assert (args.url, args.registry_url, args.timeout, args.insecure, args.json) == (
        'http://127.0.0.1:9292', 'http://127.0.0.1:9191', 60.0, False, False)
    assert (args.tenant, args.user, args.roles, args.auth_token, args.ca_file) == (
        None, None, None, None, None)


def test_environment_fills_what_flags_do_not_give():
    env = {'GLANCE_URL': 'http://api:1', 'GLANCE_REGISTRY_URL': 'http://reg:2',
           'GLANCE_TENANT': 't1', 'GLANCE_USER': 'u1', 'GLANCE_ROLES': 'admin',
           'GLANCE_AUTH_TOKEN': 'tok', 'GLANCE_INSECURE': '1', 'GLANCE_TIMEOUT': '5',
           'GLANCE_CA_FILE': '/ca.pem'}
    args = shell.parse_args(['--tenant', 't9', 'show', 'x', '--url', 'http://api:9'], env)
    assert (args.url, args.registry_url, args.tenant, args.user, args.roles) == (
        'http://api:9', 'http://reg:2', 't9', 'u1', 'admin')
    assert (args.auth_token, args.insecure, args.timeout, args.ca_file) == (
        'tok', True, 5.0, '/ca.pem')


def test_connection_options_work_before_and_after_the_command():
    before = shell.parse_args(['--json', '--roles', 'admin', 'index'], {})
    after = shell.parse_args(['index', '--json', '--roles', 'admin'], {})
    assert (before.json, before.roles) == (after.json, after.roles) == (True, 'admin')


def test_pairs_may_follow_flags():
    args = shell.parse_args(['update', 'ID', 'a=1', '--purge-props', 'b=2=3', 'c='], {})
    assert args.metadata == [('a', '1'), ('b', '2=3'), ('c', '')]
    assert args.purge_props is True
    args = shell.parse_args(['index', '--sort-key', 'name', 'os=linux'], {})
    assert args.filters == [('os', 'linux')]


@pytest.mark.parametrize('argv, message', [
    (['bogus'], "invalid choice: 'bogus'"),
    (['add', 'novalue'], "expected KEY=VALUE, got 'novalue'"),
    (['update', 'ID', '--purge-props', 'novalue'], "expected KEY=VALUE, got 'novalue'"),
    (['show', 'ID', 'x=y'], 'unrecognized arguments: x=y'),
    (['index', '--limit', '0'], "expected a positive integer, got '0'"),
    (['index', '--sort-key', 'colour'], "invalid choice: 'colour'"),
    (['index', '--timeout', '-1'], '--timeout must be positive'),
    ([], 'the following arguments are required: COMMAND')])
def test_bad_command_lines_exit_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        shell.main(argv, {})
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err and err.startswith('glance')


def test_bad_timeout_from_environment_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        shell.main(['index'], {'GLANCE_TIMEOUT': 'soon'})
    assert caught.value.code == 2
    assert "GLANCE_TIMEOUT must be a number of seconds, got 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize('argv, where', [(['index'], 'Registry unavailable'),
                                         (['delete', 'i1'], 'glance-api at'),
                                         (['download', 'i1', '--file', 'x'],
                                          'glance-api at')])
def test_unreachable_servers_are_one_line_and_exit_1(capsys, tmp_path, monkeypatch,
                                                     argv, where):
    monkeypatch.chdir(tmp_path)
    url = _free_url()
    status = shell.main(argv, {'GLANCE_URL': url, 'GLANCE_REGISTRY_URL': url})
    err = capsys.readouterr().err
    assert status == 1
    assert where in err and 'refused the connection' in err
    assert len(err.splitlines()) == 1 and 'Traceback' not in err


def test_missing_upload_file_is_one_line(capsys, tmp_path):
    status = shell.main(['add', 'name=x', '--file', str(tmp_path / 'nope')],
                        {'GLANCE_URL': _free_url()})
    err = capsys.readouterr().err
    assert status == 1
    assert err == 'glance: error: No such file or directory: %s\n' % (tmp_path / 'nope')


def test_update_without_changes_is_a_usage_error(capsys):
    assert shell.main(['update', 'ID'], {}) == 2
    assert 'nothing to update' in capsys.readouterr().err


def test_read_only_fields_are_refused(capsys):
    assert shell.main(['add', 'status=active'], {}) == 2
    assert 'status is set by Glance' in capsys.readouterr().err


def test_download_refuses_to_write_binary_to_a_terminal(capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr('sys.stdout', Terminal())
    assert shell.main(['download', 'ID'], {}) == 2
    assert 'refusing to write image data to a terminal' in capsys.readouterr().err


def test_split_metadata_sorts_fields_and_properties():
    fields, properties = commands.split_metadata(
        [('name', 'n'), ('is_public', 'true'), ('location', 'a'), ('location', 'b'),
         ('os', 'linux'), ('property-name', 'also a property')])
    assert fields == {'name': 'n', 'is_public': 'true', 'location': ['a', 'b']}
    assert properties == {'os': 'linux', 'name': 'also a property'}
    with pytest.raises(commands.UsageError, match='empty property name'):
        commands.split_metadata([('property-', 'x')])


def test_split_filters_maps_fields_and_properties():
    assert commands.split_filters([('name', 'n'), ('changes_since', '2026-01-01'),
                                   ('size_min', '5'), ('os', 'linux'),
                                   ('property-status', 'beta')]) == {
        'name': 'n', 'changes-since': '2026-01-01', 'size_min': '5',
        'properties': {'os': 'linux', 'status': 'beta'}}
    assert commands.split_filters([]) == {}


def test_glance_fetch_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as caught:
        fetch_cmd.main(['IMAGE', '--dest', 'd', '--max-size', 'lots'])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('glance-fetch: error: argument --max-size') and len(
        err.splitlines()) == 1


def test_glance_fetch_unreachable_api_is_one_line(capsys, tmp_path):
    url = _free_url()
    status = fetch_cmd.main(['http://r/images/abc', '--dest', str(tmp_path)],
                            {'GLANCE_URL': url})
    err = capsys.readouterr().err
    assert status == 1 and err == ('glance-fetch: error: Service unavailable: glance-api '
                                   'at %s refused the connection\n' % url)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('argv, env', [
    (['--cert-file', '/nonexistent-cert.pem'], {}),
    ([], {'OS_CERT': '/nonexistent-cert.pem'})])
def test_fetch_takes_a_client_certificate_from_the_flag_or_os_cert(tmp_path, capsys, argv,
                                                                   env):
    status = fetch_cmd.main(['i1', '--dest', str(tmp_path), '--api-url',
                             'https://127.0.0.1:9'] + argv, env)
    assert status == 1
    assert capsys.readouterr().err == ('glance-fetch: error: Invalid input: certificate '
                                       'file /nonexistent-cert.pem does not exist\n')
