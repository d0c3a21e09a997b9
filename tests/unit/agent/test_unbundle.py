"""Safe unbundling: good archives unpack exactly, hostile ones are refused cleanly.

Every hostile archive is built here, in the test, with tarfile/zipfile/gzip. Each
refusal must name the offending member, leave nothing in the destination's folder
(no result, no temporary directory) and write nothing outside it.
"""

import gzip
import io
import os
import stat
import tarfile
import zipfile

import pytest

from glance.agent import unbundle as ub


def _tar(path, members, compression=''):
    """Write a tar; ``members`` are (TarInfo, bytes or None)."""
    with tarfile.open(path, 'w:' + compression) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return str(path)


def _member(name, kind=tarfile.REGTYPE, linkname='', mode=0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = mode
    info.mtime = 1700000000
    return info


def _file(name, data=b'x', mode=0o644):
    return (_member(name, mode=mode), data)


def _zip(path, entries):
    """Write a zip; ``entries`` are (ZipInfo or name, bytes)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries:
            archive.writestr(entry, data)
    return str(path)


def _zip_special(name, mode, data=b''):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return (info, data)


@pytest.fixture
def work(tmp_path):
    """A folder holding the bundles and the destination, plus an "outside" folder."""
    inner = tmp_path / 'work'
    inner.mkdir()
    (tmp_path / 'outside').mkdir()
    return inner


def _assert_refused(work, source, member, limits=None, fmt=None, reason=None):
    before = sorted(os.listdir(work))
    outside_before = sorted(os.listdir(work.parent / 'outside'))
    with pytest.raises(ub.UnsafeArchive) as caught:
        ub.unbundle(source, str(work / 'dest'), limits=limits, fmt=fmt)
    assert caught.value.member == member
    assert repr(member) in str(caught.value)
    if reason:
        assert reason in caught.value.reason
    assert sorted(os.listdir(work)) == before, 'something was left behind'
    assert sorted(os.listdir(work.parent / 'outside')) == outside_before
    assert not os.path.lexists(work.parent / 'evil')
    return caught.value


# --- hostile tar archives -------------------------------------------------------

def test_tar_member_with_dotdot_is_refused_and_nothing_left(work):
    source = _tar(work / 'a.tar', [_file('ok.txt'), _file('sub/../../evil')])
    _assert_refused(work, source, 'sub/../../evil', reason='..')


def test_tar_member_with_absolute_path_is_refused(work):
    name = str(work.parent / 'evil')
    source = _tar(work / 'a.tar', [_file(name)])
    _assert_refused(work, source, name, reason='absolute')


def test_tar_symlink_to_parent_is_refused(work):
    source = _tar(work / 'a.tar', [(_member('up', tarfile.SYMTYPE, '../outside'), None),
                                   _file('up/planted')])
    _assert_refused(work, source, 'up', reason='outside')


def test_tar_symlink_to_absolute_path_is_refused(work):
    target = str(work.parent / 'outside')
    source = _tar(work / 'a.tar', [(_member('abs', tarfile.SYMTYPE, target), None)])
    _assert_refused(work, source, 'abs', reason='absolute')


def test_tar_symlink_made_to_escape_by_a_later_member_is_refused(work):
    # "x" -> "z/.." is inside while z does not exist; "z" -> "." then makes x -> "..".
    source = _tar(work / 'a.tar', [(_member('x', tarfile.SYMTYPE, 'z/..'), None),
                                   (_member('z', tarfile.SYMTYPE, '.'), None)])
    _assert_refused(work, source, 'x', reason='later member')


def test_tar_write_through_late_escaping_symlink_is_refused(work):
    source = _tar(work / 'a.tar', [(_member('x', tarfile.SYMTYPE, 'z/..'), None),
                                   (_member('z', tarfile.SYMTYPE, '.'), None),
                                   _file('x/evil')])
    _assert_refused(work, source, 'x/evil', reason='outside')


def test_tar_hardlink_outside_is_refused(work):
    victim = work.parent / 'outside' / 'victim'
    victim.write_bytes(b'secret')
    source = _tar(work / 'a.tar', [(_member('h', tarfile.LNKTYPE, '../outside/victim'),
                                    None)])
    _assert_refused(work, source, 'h', reason='hard link')
    assert victim.read_bytes() == b'secret' and os.stat(victim).st_nlink == 1


def test_tar_hardlink_to_absolute_path_is_refused(work):
    source = _tar(work / 'a.tar', [(_member('h', tarfile.LNKTYPE, '/etc/passwd'), None)])
    _assert_refused(work, source, 'h', reason='absolute')


def test_tar_hardlink_through_escaping_symlink_is_refused(work):
    (work.parent / 'outside' / 'victim').write_bytes(b'secret')
    source = _tar(work / 'a.tar', [(_member('x', tarfile.SYMTYPE, 'z/..'), None),
                                   (_member('z', tarfile.SYMTYPE, '.'), None),
                                   (_member('h', tarfile.LNKTYPE, 'x/outside/victim'),
                                    None)])
    _assert_refused(work, source, 'h', reason='hard link leads outside')


def test_tar_hardlink_to_a_missing_member_is_refused(work):
    source = _tar(work / 'a.tar', [(_member('h', tarfile.LNKTYPE, 'missing'), None)])
    _assert_refused(work, source, 'h', reason='not a file unpacked before it')


@pytest.mark.parametrize('kind, reason', [(tarfile.CHRTYPE, 'device'),
                                          (tarfile.BLKTYPE, 'device'),
                                          (tarfile.FIFOTYPE, 'fifo')])
def test_tar_special_files_are_refused(work, kind, reason):
    info = _member('dev/special', kind)
    info.devmajor, info.devminor = 1, 3
    source = _tar(work / 'a.tar', [_file('first'), (info, None)])
    _assert_refused(work, source, 'dev/special', reason=reason)


def test_tgz_bomb_by_size_is_refused_while_streaming(work):
    source = _tar(work / 'a.tgz', [_file('small', b'a' * 100),
                                   _file('bomb', b'\0' * 300000)], 'gz')
    assert os.path.getsize(source) < 2000
    _assert_refused(work, source, 'bomb', limits=ub.Limits(max_size=200000),
                    reason='max_size')


def test_tar_bomb_by_member_count_is_refused(work):
    source = _tar(work / 'a.tar', [_file('f%02d' % i, b'') for i in range(12)])
    _assert_refused(work, source, 'f10', limits=ub.Limits(max_members=10),
                    reason='max_members')


def test_tar_file_replacing_a_directory_is_refused(work):
    source = _tar(work / 'a.tar', [(_member('d', tarfile.DIRTYPE, mode=0o755), None),
                                   _file('d')])
    _assert_refused(work, source, 'd', reason='directory')


# --- hostile zip archives -------------------------------------------------------

@pytest.mark.parametrize('name', ['../../evil', 'a/../../evil', '..\\..\\evil'])
def test_zip_slip_is_refused(work, name):
    source = _zip(work / 'a.zip', [('ok.txt', b'ok'), (name, b'payload')])
    _assert_refused(work, source, name.replace('\\', '/'), reason='..')


def test_zip_absolute_member_is_refused(work):
    source = _zip(work / 'a.zip', [('/tmp/evil', b'payload')])
    _assert_refused(work, source, '/tmp/evil', reason='absolute')


def test_zip_symlink_escape_is_refused(work):
    source = _zip(work / 'a.zip', [_zip_special('ln', stat.S_IFLNK | 0o777, b'../outside'),
                                   ('ln/planted', b'x')])
    _assert_refused(work, source, 'ln', reason='outside')


def test_zip_device_member_is_refused(work):
    source = _zip(work / 'a.zip', [_zip_special('null', stat.S_IFCHR | 0o666)])
    _assert_refused(work, source, 'null', reason='device')


def test_zip_bomb_by_declared_size_is_refused_before_writing(work):
    source = _zip(work / 'a.zip', [('a', b'\0' * 150000), ('b', b'\0' * 150000)])
    _assert_refused(work, source, 'b', limits=ub.Limits(max_size=200000),
                    reason='declared')


def test_zip_bomb_by_member_count_is_refused(work):
    source = _zip(work / 'a.zip', [('f%02d' % i, b'') for i in range(12)])
    _assert_refused(work, source, 'f10', limits=ub.Limits(max_members=10),
                    reason='max_members')


def test_zip_lying_about_its_size_is_refused_and_nothing_left(work):
    source = work / 'a.zip'
    with zipfile.ZipFile(source, 'w', zipfile.ZIP_STORED) as archive:
        archive.writestr('liar', b'A' * 5000)
    raw = bytearray(source.read_bytes())
    # Shrink the uncompressed size in the central directory entry (offset 24).
    central = raw.rindex(b'PK\x01\x02')
    raw[central + 24:central + 28] = (10).to_bytes(4, 'little')
    source.write_bytes(bytes(raw))
    before = sorted(os.listdir(work))
    with pytest.raises(ub.UnbundleError):
        ub.unbundle(str(source), str(work / 'dest'))
    assert sorted(os.listdir(work)) == before


# --- gzip -------------------------------------------------------------------------

def test_gzip_bomb_is_refused_while_streaming(work):
    source = work / 'disk.gz'
    source.write_bytes(gzip.compress(b'\0' * 2000000))
    _assert_refused(work, str(source), 'dest', limits=ub.Limits(max_size=1000000),
                    reason='max_size')


def test_truncated_tgz_is_an_error_and_leaves_nothing(work):
    source = _tar(work / 'a.tgz', [_file('f', os.urandom(50000))], 'gz')
    with open(source, 'r+b') as data:
        data.truncate(os.path.getsize(source) // 2)
    before = sorted(os.listdir(work))
    with pytest.raises(ub.UnbundleError, match='not a valid tgz archive'):
        ub.unbundle(source, str(work / 'dest'))
    assert sorted(os.listdir(work)) == before


# --- good archives ----------------------------------------------------------------

def _good_tar_members():
    return [(_member('top', tarfile.DIRTYPE, mode=0o750), None),
            _file('top/readme.txt', b'hello\n', mode=0o640),
            _file('top/bin/run.sh', b'#!/bin/sh\necho hi\n', mode=0o4755),
            (_member('top/current', tarfile.SYMTYPE, 'readme.txt'), None),
            (_member('top/again.txt', tarfile.LNKTYPE, 'top/readme.txt'), None),
            _file('./disk.img', bytes(range(256)) * 1000)]


def _assert_good_tree(dest):
    top = os.path.join(dest, 'top')
    assert sorted(os.listdir(dest)) == ['disk.img', 'top']
    assert sorted(os.listdir(top)) == ['again.txt', 'bin', 'current', 'readme.txt']
    with open(os.path.join(top, 'readme.txt'), 'rb') as data:
        assert data.read() == b'hello\n'
    with open(os.path.join(dest, 'disk.img'), 'rb') as data:
        assert data.read() == bytes(range(256)) * 1000
    assert os.readlink(os.path.join(top, 'current')) == 'readme.txt'
    assert os.path.samefile(os.path.join(top, 'again.txt'), os.path.join(top, 'readme.txt'))
    assert stat.S_IMODE(os.stat(os.path.join(top, 'readme.txt')).st_mode) == 0o640
    # set-user-id is dropped; the permission bits are kept.
    assert stat.S_IMODE(os.stat(os.path.join(top, 'bin', 'run.sh')).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(top).st_mode) == 0o750
    assert os.stat(os.path.join(top, 'readme.txt')).st_mtime == 1700000000


@pytest.mark.parametrize('suffix, compression, fmt', [('tar', '', 'tar'),
                                                      ('tgz', 'gz', 'tgz')])
def test_good_tar_unpacks_exactly(work, suffix, compression, fmt):
    source = _tar(work / ('good.' + suffix), _good_tar_members(), compression)
    result = ub.unbundle(source, str(work / 'dest'))
    assert result == ub.UnbundleResult(str(work / 'dest'), fmt, 6, 6 + 18 + 256000)
    _assert_good_tree(result.path)
    assert sorted(os.listdir(work)) == ['dest', 'good.' + suffix]


def test_good_zip_unpacks_exactly(work):
    source = _zip(work / 'good.zip', [
        ('dir/', b''), ('dir/a.txt', b'alpha'),
        _zip_special('dir/link', stat.S_IFLNK | 0o777, b'a.txt'),
        _zip_special('tool', stat.S_IFREG | 0o750, b'#!/bin/sh\n'),
        ('disk.img', os.urandom(70000) * 2)])
    with zipfile.ZipFile(source) as archive:
        expected = archive.read('disk.img')
    result = ub.unbundle(source, str(work / 'dest'))
    assert (result.format, result.members) == ('zip', 5)
    dest = work / 'dest'
    assert (dest / 'dir' / 'a.txt').read_bytes() == b'alpha'
    assert os.readlink(dest / 'dir' / 'link') == 'a.txt'
    assert (dest / 'disk.img').read_bytes() == expected
    assert stat.S_IMODE(os.stat(dest / 'tool').st_mode) == 0o750
    assert sorted(os.listdir(work)) == ['dest', 'good.zip']


def test_good_gzip_becomes_the_decompressed_file(work):
    payload = os.urandom(100000) + b'\0' * 300000
    source = work / 'disk.gz'
    source.write_bytes(gzip.compress(payload))
    result = ub.unbundle(str(source), str(work / 'disk.raw'))
    assert result == ub.UnbundleResult(str(work / 'disk.raw'), 'gzip', 1, len(payload))
    assert (work / 'disk.raw').read_bytes() == payload
    assert sorted(os.listdir(work)) == ['disk.gz', 'disk.raw']


def test_raw_is_left_as_it_is(work):
    source = work / 'disk.img'
    source.write_bytes(b'\xeb\x63\x90' + os.urandom(4000))
    result = ub.unbundle(str(source), str(work / 'dest'))
    assert result == ub.UnbundleResult(str(source), 'raw', 1, 4003)
    assert sorted(os.listdir(work)) == ['disk.img']


def test_existing_destination_is_an_error(work):
    source = _tar(work / 'a.tar', [_file('f')])
    (work / 'dest').mkdir()
    with pytest.raises(ub.UnbundleError, match='already exists'):
        ub.unbundle(source, str(work / 'dest'))


def test_archive_rooted_at_dot_unpacks(work):
    source = _tar(work / 'a.tar', [(_member('.', tarfile.DIRTYPE, mode=0o755), None),
                                   _file('./f', b'data')])
    ub.unbundle(source, str(work / 'dest'))
    assert (work / 'dest' / 'f').read_bytes() == b'data'


# --- format detection -------------------------------------------------------------

def test_sniff_recognises_each_format(work):
    _tar(work / 't', [_file('f')])
    _tar(work / 'tg', [_file('f')], 'gz')
    _zip(work / 'z', [('f', b'x')])
    (work / 'g').write_bytes(gzip.compress(b'plain data'))
    (work / 'r').write_bytes(b'QFI\xfb' + b'\0' * 600)
    found = {name: ub.sniff(str(work / name)) for name in ('t', 'tg', 'z', 'g', 'r')}
    assert found == {'t': 'tar', 'tg': 'tgz', 'z': 'zip', 'g': 'gzip', 'r': 'raw'}


@pytest.mark.parametrize('container, disk, expected', [
    ('tgz', 'raw', 'tgz'), ('ova', None, 'tar'), ('bare', 'tar.gz', 'tgz'),
    ('bare', 'raw', 'raw'), ('ari', None, 'raw'), (None, 'qcow2', 'gzip'),
    (None, None, 'gzip'), ('ovf', None, 'gzip')])
def test_declared_formats_win_over_magic(work, container, disk, expected):
    (work / 'g').write_bytes(gzip.compress(b'ramdisk'))
    assert ub.detect_format(str(work / 'g'), container, disk) == expected


def test_unknown_forced_format_is_an_error(work):
    (work / 'r').write_bytes(b'x')
    with pytest.raises(ub.UnbundleError, match='unknown format'):
        ub.unbundle(str(work / 'r'), str(work / 'dest'), fmt='rar')
