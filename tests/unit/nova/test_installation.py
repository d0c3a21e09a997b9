"""The installation UUID in a Nova flag file, and the glance-nova-manage command."""

import os
import stat
import uuid

import pytest

from glance.cmd import nova_manage
from glance.nova import installation


def test_generate_appends_the_flag_and_keeps_every_other_line(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    original = '# Nova flags\n--verbose\n\n--sql_connection=mysql://nova@db/nova\n'
    flagfile.write_text(original)
    os.chmod(flagfile, 0o600)
    new_uuid = installation.generate_installation_uuid(str(flagfile))
    assert str(uuid.UUID(new_uuid)) == new_uuid
    assert flagfile.read_text() == original + '--nova_installation_uuid=%s\n' % new_uuid
    assert stat.S_IMODE(os.stat(flagfile).st_mode) == 0o600
    assert installation.read_installation_uuid(str(flagfile)) == new_uuid


def test_generate_creates_a_missing_file_not_world_readable(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    new_uuid = installation.generate_installation_uuid(str(flagfile))
    assert flagfile.read_text() == '--nova_installation_uuid=%s\n' % new_uuid
    assert stat.S_IMODE(os.stat(flagfile).st_mode) == 0o640


def test_generate_refuses_to_overwrite_without_force(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    first = installation.generate_installation_uuid(str(flagfile))
    with pytest.raises(installation.InstallationUUIDError) as raised:
        installation.generate_installation_uuid(str(flagfile))
    assert '--force' in str(raised.value)
    assert installation.read_installation_uuid(str(flagfile)) == first


def test_force_replaces_in_place_and_drops_duplicates(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    flagfile.write_text('--a=1\n--nova_installation_uuid=%s\n--b=2\n'
                        '--nova_installation_uuid=%s\n' % (uuid.uuid4(), uuid.uuid4()))
    new_uuid = installation.generate_installation_uuid(str(flagfile), force=True)
    expected = '--a=1\n--nova_installation_uuid=%s\n--b=2\n' % new_uuid
    assert flagfile.read_text() == expected


def test_read_flags_last_one_wins_and_bare_flags_are_true(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    flagfile.write_text('--x=1\n// comment\n  --x=2\n--debug\n#--y=3\n')
    assert installation.read_flags(str(flagfile)) == {'x': '2', 'debug': 'true'}


def test_read_reports_missing_flag_with_the_command_to_run(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    flagfile.write_text('--verbose\n')
    with pytest.raises(installation.InstallationUUIDError) as raised:
        installation.read_installation_uuid(str(flagfile))
    assert 'glance-nova-manage generate-installation-uuid' in str(raised.value)


@pytest.mark.parametrize('content, reason', [
    (None, 'does not exist'),
    ('--nova_installation_uuid=not-a-uuid\n', 'is not a UUID'),
])
def test_read_reports_a_missing_file_or_a_malformed_uuid(tmp_path, content, reason):
    flagfile = tmp_path / 'nova.conf'
    if content is not None:
        flagfile.write_text(content)
    with pytest.raises(installation.InstallationUUIDError) as raised:
        installation.read_installation_uuid(str(flagfile))
    assert reason in str(raised.value)


def test_read_canonicalises_case(tmp_path):
    flagfile = tmp_path / 'nova.conf'
    value = str(uuid.uuid4())
    flagfile.write_text('--nova_installation_uuid=%s\n' % value.upper())
    assert installation.read_installation_uuid(str(flagfile)) == value


def test_command_prints_the_uuid_and_exits_zero(tmp_path, capsys):
    flagfile = tmp_path / 'nova.conf'
    assert nova_manage.main(['generate-installation-uuid', '--flagfile',
                             str(flagfile)]) == 0
    printed = capsys.readouterr().out.strip()
    assert installation.read_installation_uuid(str(flagfile)) == printed


def test_command_refuses_to_overwrite_with_one_clear_line(tmp_path, capsys):
    flagfile = tmp_path / 'nova.conf'
    nova_manage.main(['generate-installation-uuid', '--flagfile', str(flagfile)])
    before = flagfile.read_text()
    capsys.readouterr()
    assert nova_manage.main(['generate-installation-uuid', '--flagfile',
                             str(flagfile)]) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('glance-nova-manage: ')
    assert 'already sets --nova_installation_uuid' in err
    assert flagfile.read_text() == before
    assert nova_manage.main(['generate-installation-uuid', '--flagfile', str(flagfile),
                             '--force']) == 0
    assert flagfile.read_text() != before


def test_command_needs_a_flagfile(capsys):
    with pytest.raises(SystemExit) as raised:
        nova_manage.main(['generate-installation-uuid'])
    assert raised.value.code == 2
    assert '--flagfile' in capsys.readouterr().err


def test_command_reports_a_folder_that_does_not_exist(tmp_path, capsys):
    flagfile = tmp_path / 'missing' / 'nova.conf'
    assert nova_manage.main(['generate-installation-uuid', '--flagfile',
                             str(flagfile)]) == 1
    assert 'cannot write in' in capsys.readouterr().err
