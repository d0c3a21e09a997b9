"""Each safety rule of the unbundler, one member at a time, with its exact reason.

``test_unbundle.py`` proves the rules against whole hostile archives; here the
extraction is driven member by member, so every rule, limit boundary and message is
pinned, and so are the modes and times given to what is unpacked.
"""

import io
import os
import stat
import zipfile

import pytest

from glance.agent import unbundle as ub
from tests.unit.agent.test_unbundle import _zip, _zip_special


@pytest.fixture
def extraction(tmp_path):
    work = ub._Extraction(str(tmp_path / 'dest'), ub.Limits(max_size=10, max_members=3))
    yield work
    work.abort()


@pytest.fixture
def roomy(tmp_path):
    work = ub._Extraction(str(tmp_path / 'dest'), ub.Limits())
    yield work
    work.abort()


def _refusal(call, *args):
    with pytest.raises(ub.UnsafeArchive) as info:
        call(*args)
    return info.value.member, info.value.reason


def test_the_refusal_message():
    error = ub.UnsafeArchive('a/b', 'device file')
    assert str(error) == "refused archive member 'a/b': device file; nothing was unpacked"
    assert str(ub.UnbundleError(reason='x')) == 'cannot unbundle: x'


@pytest.mark.parametrize('name,reason', [
    ('/abs', 'absolute path'),
    ('a\x00b', 'the name holds a NUL byte'),
    ('a/../../b', 'the path climbs out with ".."'),
    ('..', 'the path climbs out with ".."'),
    ('.', 'the name is empty'),
    ('./', 'the name is empty'),
])
def test_names(extraction, name, reason):
    assert _refusal(extraction.add_file, name, io.BytesIO(b'x'), 0o644) == (name, reason)


def test_the_member_limit_is_inclusive(extraction):
    for name in ('a', 'b', 'c'):
        extraction.add_dir(name, 0o755)
    assert _refusal(extraction.add_dir, 'd', 0o755) == (
        'd', 'the archive has more than 3 members (max_members)')


def test_the_size_limit_is_inclusive_declared_or_counted(extraction):
    extraction.add_file('a', io.BytesIO(b'x' * 6), 0o644, declared=6)
    extraction.add_file('b', io.BytesIO(b'x' * 4), 0o644)
    assert extraction.size == 10
    assert _refusal(extraction.add_file, 'c', io.BytesIO(b'x'), 0o644, 1) == (
        'c', 'it unpacks past 10 bytes (max_size)')


def test_counted_bytes_past_the_limit(tmp_path):
    work = ub._Extraction(str(tmp_path / 'dest'), ub.Limits(max_size=10))
    try:
        assert _refusal(work.add_file, 'a', io.BytesIO(b'x' * 11), 0o644) == (
            'a', 'it unpacks past 10 bytes (max_size)')
    finally:
        work.abort()


def test_a_member_holding_more_than_declared(extraction):
    assert _refusal(extraction.add_file, 'a', io.BytesIO(b'xyz'), 0o644, 2) == (
        'a', 'it holds more than its declared 2 bytes')


def test_declared_tables_of_contents(extraction):
    extraction.check_declared([('a', 4), ('b', 6)])
    assert _refusal(extraction.check_declared, [('a', 4), ('b', 7)]) == (
        'b', 'declared sizes unpack past 10 bytes (max_size)')
    assert _refusal(extraction.check_declared, [('a', 0)] * 3 + [('d', 0)]) == (
        'd', 'the archive has more than 3 members (max_members)')


@pytest.mark.parametrize('target,reason', [
    ('', 'symbolic link with an empty or NUL-holding target'),
    ('a\x00', 'symbolic link with an empty or NUL-holding target'),
    ('/etc', "symbolic link to the absolute path '/etc'"),
    ('../x', "symbolic link leads outside the destination (-> '../x')"),
    ('a/../../x', "symbolic link leads outside the destination (-> 'a/../../x')"),
])
def test_symbolic_links(extraction, target, reason):
    assert _refusal(extraction.add_symlink, 'l', target) == ('l', reason)


def test_a_link_to_the_root_itself_is_inside(extraction):
    extraction.add_symlink('here', '.')
    assert os.readlink(os.path.join(extraction.root, 'here')) == '.'


def test_hard_links(roomy):
    assert _refusal(roomy.add_hardlink, 'h', '/x') == (
        'h', "hard link target '/x': absolute path")
    assert _refusal(roomy.add_hardlink, 'h', 'missing') == (
        'h', "hard link to 'missing', which is not a file unpacked before it")
    roomy.add_symlink('x', 'z/..')
    roomy.add_symlink('z', '.')
    assert _refusal(roomy.add_hardlink, 'h', 'x/victim') == (
        'h', "hard link leads outside the destination (-> 'x/victim')")


def test_paths(roomy):
    roomy.add_file('f', io.BytesIO(b'x'), 0o644)
    assert _refusal(roomy.add_file, 'f/g', io.BytesIO(b'x'), 0o644) == (
        'f/g', 'a component of its path is not a directory')
    roomy.add_dir('d', 0o755)
    assert _refusal(roomy.add_file, 'd', io.BytesIO(b'x'), 0o644) == (
        'd', 'it would replace a directory')


def test_a_path_through_a_link_made_to_escape(tmp_path):
    work = ub._Extraction(str(tmp_path / 'dest'), ub.Limits())
    try:
        work.add_symlink('x', 'z/..')
        work.add_symlink('z', '.')
        assert _refusal(work.add_file, 'x/evil', io.BytesIO(b'x'), 0o644) == (
            'x/evil', 'a symbolic link in its path leads outside the destination')
        assert _refusal(work.finish) == (
            'x', 'symbolic link leads outside the destination (through a later member)')
    finally:
        work.abort()


def test_later_members_replace_earlier_files_and_links(roomy):
    roomy.add_file('a', io.BytesIO(b'old'), 0o644)
    roomy.add_file('a', io.BytesIO(b'new'), 0o644)
    roomy.add_symlink('b', 'a')
    roomy.add_dir('b', 0o755)
    assert open(os.path.join(roomy.root, 'a'), 'rb').read() == b'new'
    assert os.path.isdir(os.path.join(roomy.root, 'b'))
    assert not os.path.islink(os.path.join(roomy.root, 'b'))


def test_modes_and_times_of_what_is_unpacked(tmp_path):
    dest = str(tmp_path / 'dest')
    work = ub._Extraction(dest, ub.Limits())
    work.add_dir('open', 0o1777)
    work.add_dir('closed', 0o000)
    work.add_file('open/setuid', io.BytesIO(b'x'), 0o4755, mtime=1700000000)
    work.add_file('open/plain', io.BytesIO(b'y'), 0o600)
    work.finish()
    mode = lambda path: stat.S_IMODE(os.lstat(os.path.join(dest, path)).st_mode)
    assert (mode('.'), mode('open'), mode('closed')) == (0o755, 0o777, 0o700)
    assert (mode('open/setuid'), mode('open/plain')) == (0o755, 0o600)
    assert os.stat(os.path.join(dest, 'open/setuid')).st_mtime == 1700000000
    assert sorted(os.listdir(tmp_path)) == ['dest']


def test_a_single_member_becomes_the_destination(tmp_path):
    dest = str(tmp_path / 'image.raw')
    work = ub._Extraction(dest, ub.Limits())
    work.add_file('image.raw', io.BytesIO(b'data'), 0o644)
    work.finish(single='image.raw')
    assert sorted(os.listdir(tmp_path)) == ['image.raw']
    assert open(dest, 'rb').read() == b'data'


def test_the_temporary_directory_is_beside_the_destination(tmp_path):
    work = ub._Extraction(str(tmp_path / 'dest'), ub.Limits())
    try:
        name = os.path.basename(work.root)
        assert os.path.dirname(work.root) == os.path.realpath(tmp_path)
        assert name.startswith('.dest.') and name.endswith('.unbundle')
        assert (work.members, work.size, work.current) == (0, 0, None)
    finally:
        work.abort()
    assert os.listdir(tmp_path) == []


def test_unbundle_errors_and_results(tmp_path):
    source = tmp_path / 'bundle'
    source.write_bytes(b'not an archive at all')
    with pytest.raises(ub.UnbundleError) as info:
        ub.unbundle(str(source), str(tmp_path / 'out'), fmt='rar')
    assert str(info.value) == ("cannot unbundle: unknown format 'rar'; use one of tar, "
                               "tgz, gzip, zip, raw")
    assert ub.unbundle(str(source), str(tmp_path / 'out')) == ub.UnbundleResult(
        str(source), 'raw', 1, 21)
    with pytest.raises(ub.UnbundleError) as info:
        ub.unbundle(str(source), str(tmp_path / 'out'), fmt='tar')
    assert str(info.value).startswith('cannot unbundle: not a valid tar archive (')
    (tmp_path / 'taken').mkdir()
    with pytest.raises(ub.UnbundleError) as info:
        ub.unbundle(str(source), str(tmp_path / 'taken'), fmt='zip')
    assert str(info.value) == 'cannot unbundle: %s already exists' % (tmp_path / 'taken')
    assert sorted(os.listdir(tmp_path)) == ['bundle', 'taken']


@pytest.mark.parametrize('container,disk,expected', [
    ('OVA', None, 'tar'), (None, 'TAR.GZ', 'tgz'), ('Gz', None, 'gzip'),
    ('AKI', 'zip', 'zip'), ('AKI', None, 'raw'), ('bare', None, 'raw'),
    ('ovf', 'qcow2', 'gzip'),
])
def test_declared_formats(tmp_path, container, disk, expected):
    source = tmp_path / 'bundle'
    source.write_bytes(b'\x1f\x8b' + b'\0' * 600)
    assert ub.detect_format(str(source), container, disk) == expected


def test_sniffing_edges(tmp_path):
    cases = {b'PK\x05\x06' + b'\0' * 18: 'zip', b'PK\x03\x04': 'zip',
             b'\x1f\x8b' + b'garbage': 'gzip', b'x' * 257 + b'ustar': 'tar',
             b'x' * 257 + b'usta': 'raw', b'': 'raw'}
    for number, (head, expected) in enumerate(cases.items()):
        path = tmp_path / str(number)
        path.write_bytes(head)
        assert ub.sniff(str(path)) == expected, head


# --- zip members, as the zip table of contents describes them ---------------------

def _unpack_zip(tmp_path, entries):
    source = _zip(tmp_path / 'a.zip', entries)
    return ub.unbundle(source, str(tmp_path / 'dest'), fmt='zip')


def _zip_refusal(tmp_path, entries):
    with pytest.raises(ub.UnsafeArchive) as info:
        _unpack_zip(tmp_path, entries)
    assert sorted(os.listdir(tmp_path)) == ['a.zip']
    return info.value.member, info.value.reason


@pytest.mark.parametrize('mode,reason', [
    (stat.S_IFCHR | 0o666, 'device file'), (stat.S_IFBLK | 0o666, 'device file'),
    (stat.S_IFIFO | 0o644, 'fifo'), (stat.S_IFSOCK | 0o644, 'socket')])
def test_zip_special_members(tmp_path, mode, reason):
    assert _zip_refusal(tmp_path, [('ok', b'x'), _zip_special('dev/x', mode)]) == (
        'dev/x', reason)


def test_zip_encrypted_members(tmp_path):
    source = tmp_path / 'a.zip'
    _zip(source, [('secret', b'data')])
    raw = bytearray(source.read_bytes())
    # zipfile writes no encrypted members: set the "encrypted" flag bit by hand, in the
    # local header (offset 6) and the central directory entry (offset 8).
    raw[6] |= 0x1
    raw[raw.rindex(b'PK\x01\x02') + 8] |= 0x1
    source.write_bytes(bytes(raw))
    with pytest.raises(ub.UnsafeArchive) as info:
        ub.unbundle(str(source), str(tmp_path / 'dest'), fmt='zip')
    assert (info.value.member, info.value.reason) == ('secret', 'encrypted member')


def test_zip_symbolic_link_targets(tmp_path):
    long_target = _zip_special('l', stat.S_IFLNK | 0o777, b'a/' * 2048 + b'a')
    assert _zip_refusal(tmp_path, [long_target]) == (
        'l', 'symbolic link target longer than 4096 bytes')
    # 4096 bytes pass the rule; the file system refuses them (PATH_MAX): not unsafe.
    with pytest.raises(ub.UnbundleError) as info:
        _unpack_zip(tmp_path, [_zip_special('l', stat.S_IFLNK | 0o777, b'a' * 4096)])
    assert type(info.value) is ub.UnbundleError
    assert str(info.value) == ("cannot unbundle: cannot write member 'l': "
                               "File name too long")


def test_zip_symbolic_link_targets_keep_their_bytes(tmp_path):
    _unpack_zip(tmp_path, [('t\xe9', b'x'),
                           _zip_special('l', stat.S_IFLNK | 0o777, b'\xffname')])
    assert os.readlink(os.fsencode(tmp_path / 'dest' / 'l')) == b'\xffname'


def test_zip_members_from_other_systems_get_default_modes(tmp_path):
    dos_file = zipfile.ZipInfo('file')
    dos_file.create_system = 0
    dos_file.external_attr = (stat.S_IFIFO | 0o600) << 16 | 0x20
    dos_dir = zipfile.ZipInfo('dir/')
    dos_dir.create_system = 0
    dos_dir.external_attr = 0x10
    unix_file = _zip_special('exec', stat.S_IFREG | 0o750, b'#!')
    result = _unpack_zip(tmp_path, [(dos_file, b'x'), (dos_dir, b''), unix_file])
    mode = lambda name: stat.S_IMODE(os.lstat(tmp_path / 'dest' / name).st_mode)
    assert (mode('file'), mode('dir'), mode('exec')) == (0o644, 0o755, 0o750)
    assert result == ub.UnbundleResult(str(tmp_path / 'dest'), 'zip', 3, 3)


def test_not_a_zip(tmp_path):
    source = tmp_path / 'a.zip'
    source.write_bytes(b'PK\x03\x04 but not really')
    with pytest.raises(ub.UnbundleError) as info:
        ub.unbundle(str(source), str(tmp_path / 'dest'), fmt='zip')
    assert str(info.value) == ('cannot unbundle: not a valid zip archive (File is not '
                               'a zip file)')
