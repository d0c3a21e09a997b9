"""The file store's error paths on a real file system (a temporary folder): what each
failure becomes, with its exact message. The contract suite covers the rest."""

import datetime
import errno
import fcntl
import logging
import os

import pytest

from glance.common import offload
from glance.store import filesystem
from glance.store.base import BadLocation, Location, ObjectNotFound, StoreIOError
from glance.store.filesystem import FilesystemStore


@pytest.fixture
def datadir(tmp_path):
    path = tmp_path / 'images'
    path.mkdir()
    return path


@pytest.fixture
def store(datadir):
    return FilesystemStore({'filesystem_store_datadir': str(datadir), 'chunk_size': '4'})


def test_a_directory_is_not_an_object(store, datadir):
    (datadir / 'sub').mkdir()
    with pytest.raises(ObjectNotFound) as info:
        store.head('file://%s/sub' % datadir)
    assert type(info.value) is ObjectNotFound
    assert str(info.value) == 'Object %s/sub not found in store file' % datadir


def test_other_os_errors_are_store_io_errors_naming_the_error(store, datadir):
    name = 'n' * 300
    location = 'file://%s/%s' % (datadir, name)
    for call in (store.head, store.get):
        with pytest.raises(StoreIOError) as info:
            call(location)
        assert str(info.value) == ('I/O error in store file on %s/%s: File name too '
                                   'long' % (datadir, name))


def test_an_error_without_text_is_named_by_its_type(store, datadir):
    error = store._os_error(Location.parse('file://%s/x' % datadir), OSError())
    assert type(error) is StoreIOError
    assert str(error) == 'I/O error in store file on %s/x: OSError' % datadir


def test_a_read_failing_mid_file_is_a_store_io_error_and_closes_the_file(
        store, datadir, monkeypatch):
    (datadir / 'obj').write_bytes(b'abcdefgh')
    handles = []

    class Failing:
        """The real file, whose second read fails as a dying disk's would."""

        def __init__(self, fd, mode, buffering):
            self.file = real_fdopen(fd, mode, buffering=buffering)
            self.reads = 0
            handles.append(self)

        def __getattr__(self, name):
            return getattr(self.file, name)

        def read(self, size):
            self.reads += 1
            if self.reads == 2:
                raise OSError(5, 'Input/output error')
            return self.file.read(size)

    real_fdopen = os.fdopen
    monkeypatch.setattr(filesystem.os, 'fdopen', Failing)
    reader = store.get('file://%s/obj' % datadir)
    assert next(reader) == b'abcd'
    with pytest.raises(StoreIOError) as info:
        next(reader)
    assert str(info.value) == 'I/O error in store file on %s/obj: read failed: OSError' % (
        datadir)
    assert handles[0].file.closed


def test_a_whole_read_closes_the_file(store, datadir, monkeypatch):
    (datadir / 'obj').write_bytes(b'abcdef')
    opened = []

    real_fdopen = os.fdopen

    def tracking_fdopen(*args, **kwargs):
        opened.append(real_fdopen(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(filesystem.os, 'fdopen', tracking_fdopen)
    assert b''.join(store.get('file://%s/obj' % datadir)) == b'abcdef'
    assert opened[0].closed


def test_a_temporary_file_that_cannot_be_removed_is_logged(tmp_path, caplog):
    stuck = tmp_path / 'stuck'
    stuck.mkdir()
    caplog.set_level(logging.WARNING, logger='glance.store.filesystem')
    filesystem._unlink_quietly(str(stuck))
    [record] = caplog.records
    assert record.getMessage() == ('Could not remove temporary file %s: Is a directory'
                                   % stuck)
    filesystem._unlink_quietly(str(tmp_path / 'gone'))
    assert len(caplog.records) == 1


def test_head_reports_the_modification_time_in_utc(store, datadir):
    path = datadir / 'obj'
    path.write_bytes(b'abc')
    os.utime(path, ns=(1_700_000_000_250_000_000, 1_700_000_000_250_000_000))
    info = store.head('file://%s/obj' % datadir)
    assert info.last_modified == datetime.datetime(2023, 11, 14, 22, 13, 20, 250000,
                                                   tzinfo=datetime.timezone.utc)
    assert info.size == 3


def test_localhost_locations_are_local(store, datadir):
    (datadir / 'obj').write_bytes(b'abc')
    assert store.head('file://localhost%s/obj' % datadir).size == 3


@pytest.mark.parametrize('template,message', [
    ('file://elsewhere{d}/obj', 'file locations are local paths without a query'),
    ('file://{d}/obj?v=1', 'file locations are local paths without a query'),
    ('file://{d}/../obj', 'file location {d}/../obj is outside the data directory of '
                          'store file'),
])
def test_location_refusals(store, datadir, template, message):
    with pytest.raises(BadLocation) as info:
        store.head(template.format(d=datadir))
    assert str(info.value) == 'Invalid store location: ' + message.format(d=datadir)


def test_writes_go_through_a_hidden_temporary_file_beside_the_object(store, datadir):
    seen = []

    def chunks():
        yield b'first'
        seen.extend(os.listdir(datadir))
        yield b'second'

    store.add('file://%s/obj' % datadir, chunks())
    [temporary] = seen
    assert temporary.startswith('.') and temporary.endswith('.tmp')
    assert os.listdir(datadir) == ['obj']


def test_a_folder_that_cannot_be_made_is_a_store_io_error(store, datadir):
    (datadir / 'sub').write_bytes(b'a file, not a folder')
    with pytest.raises(StoreIOError) as info:
        store.add('file://%s/sub/obj' % datadir, iter([b'x']))
    assert str(info.value) == 'I/O error in store file on %s/sub/obj: File exists' % (
        datadir)


def test_a_failing_disk_write_is_a_store_io_error_and_leaves_nothing(store, datadir,
                                                                    monkeypatch):
    def full(fd):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(filesystem.os, 'fsync', full)
    with pytest.raises(StoreIOError) as info:
        store.add('file://%s/obj' % datadir, iter([b'x']))
    monkeypatch.undo()
    assert str(info.value) == ('I/O error in store file on %s/obj: No space left on '
                               'device' % datadir)
    assert os.listdir(datadir) == []


def _writer_threads():
    return [thread for thread in offload._os_threading.enumerate()
            if thread.name == 'write-file' and thread.is_alive()]


def _open_descriptors():
    return len(os.listdir('/proc/self/fd'))


def test_many_blocks_arrive_intact_and_in_order(store, datadir):
    blocks = [os.urandom(n) for n in (1, 4095, 4096, 4097, 65536, 1 << 20, 0, 3)]
    info = store.add('file://%s/obj' % datadir, iter(blocks))
    data = b''.join(blocks)
    assert (datadir / 'obj').read_bytes() == data
    assert info.size == len(data)
    assert _writer_threads() == []


@pytest.mark.parametrize('direct_io', ['true', 'false'])
def test_a_write_failing_mid_object_is_a_store_io_error_and_leaves_nothing(
        datadir, monkeypatch, direct_io):
    store = FilesystemStore({'filesystem_store_datadir': str(datadir),
                             'filesystem_store_direct_io': direct_io})
    real = filesystem._write_all
    calls = []

    def full_on_the_third_write(fd, data):
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError(28, 'No space left on device')
        real(fd, data)

    # Direct writes go out in buffers of two blocks, plain writes block by block.
    monkeypatch.setattr(filesystem, 'DIRECT_BUFFER', 2 * 4096)
    monkeypatch.setattr(filesystem, '_write_all', full_on_the_third_write)
    before = _open_descriptors()
    with pytest.raises(StoreIOError) as info:
        store.add('file://%s/obj' % datadir, iter([b'a' * 4096] * 20))
    assert str(info.value) == ('I/O error in store file on %s/obj: No space left on '
                               'device' % datadir)
    assert os.listdir(datadir) == []
    # The calls after the failing one were skipped, not run.
    assert calls == [4096 * (2 if direct_io == 'true' else 1)] * 3
    assert _writer_threads() == []
    assert _open_descriptors() == before


@pytest.mark.parametrize('sizes', [[], [1], [4095], [4096], [4097], [8192, 1],
                                   [3, 8190, 4096, 5000, 0, 12289]])
def test_direct_writes_keep_every_byte_whatever_the_alignment(datadir, monkeypatch,
                                                              sizes):
    monkeypatch.setattr(filesystem, 'DIRECT_BUFFER', 2 * 4096)
    store = FilesystemStore({'filesystem_store_datadir': str(datadir)})
    blocks = [os.urandom(n) for n in sizes]
    info = store.add('file://%s/obj' % datadir, iter(blocks))
    assert (datadir / 'obj').read_bytes() == b''.join(blocks)
    assert info.size == sum(sizes)


def test_direct_io_is_used_where_the_file_system_allows_it(tmp_path):
    fd = os.open(tmp_path / 'f', os.O_WRONLY | os.O_CREAT)
    try:
        output = filesystem._DirectOutput(fd)
        # ext4, xfs and (since Linux 6.6) tmpfs all accept O_DIRECT.
        assert output.direct
        assert os.O_DIRECT & fcntl.fcntl(fd, fcntl.F_GETFL)
        output.write(b'x' * 5000)
        output.finish()
        assert not os.O_DIRECT & fcntl.fcntl(fd, fcntl.F_GETFL)
    finally:
        os.close(fd)
    assert (tmp_path / 'f').read_bytes() == b'x' * 5000


def test_a_file_system_refusing_direct_io_gets_plain_writes(datadir, monkeypatch):
    real = fcntl.fcntl

    def no_direct(fd, command, flags=0):
        if command == fcntl.F_SETFL and flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, 'Invalid argument')
        return real(fd, command, flags)

    monkeypatch.setattr(filesystem.fcntl, 'fcntl', no_direct)
    store = FilesystemStore({'filesystem_store_datadir': str(datadir)})
    store.add('file://%s/obj' % datadir, iter([b'a' * 5000, b'b']))
    assert (datadir / 'obj').read_bytes() == b'a' * 5000 + b'b'


def test_a_direct_write_refused_midway_falls_back_to_plain_writes(datadir,
                                                                  monkeypatch):
    real, refused = filesystem._write_all, []

    def einval_when_direct(fd, data):
        if os.O_DIRECT & fcntl.fcntl(fd, fcntl.F_GETFL):
            refused.append(len(data))
            raise OSError(errno.EINVAL, 'Invalid argument')
        real(fd, data)

    monkeypatch.setattr(filesystem, 'DIRECT_BUFFER', 4096)
    monkeypatch.setattr(filesystem, '_write_all', einval_when_direct)
    store = FilesystemStore({'filesystem_store_datadir': str(datadir)})
    data = os.urandom(3 * 4096 + 10)
    store.add('file://%s/obj' % datadir, iter([data]))
    assert (datadir / 'obj').read_bytes() == data
    assert refused == [4096]


def test_a_source_failing_mid_object_leaves_nothing_and_raises_its_error(store,
                                                                         datadir):
    class ClientGone(Exception):
        pass

    def body():
        yield b'x' * 100
        yield b'y' * 100
        raise ClientGone('reset by peer')

    before = _open_descriptors()
    with pytest.raises(ClientGone):
        store.add('file://%s/obj' % datadir, body())
    assert os.listdir(datadir) == []
    assert _writer_threads() == []
    assert _open_descriptors() == before


def test_a_failing_rename_leaves_nothing(store, datadir, monkeypatch):
    def refused(source, target):
        raise PermissionError(13, 'Permission denied')

    monkeypatch.setattr(filesystem.os, 'replace', refused)
    with pytest.raises(StoreIOError, match='Permission denied'):
        store.add('file://%s/obj' % datadir, iter([b'data']))
    monkeypatch.undo()
    assert os.listdir(datadir) == []


def test_the_object_is_fsynced_before_it_is_renamed_into_place(store, datadir,
                                                                monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(('fsync', os.path.isdir('/proc/self/fd/%d' % fd)))
        real_fsync(fd)

    def replace(source, target):
        events.append(('replace', os.path.basename(target)))
        real_replace(source, target)

    monkeypatch.setattr(filesystem.os, 'fsync', fsync)
    monkeypatch.setattr(filesystem.os, 'replace', replace)
    store.add('file://%s/obj' % datadir, iter([b'data']))
    # The file, then the rename, then the folder holding it.
    assert events == [('fsync', False), ('replace', 'obj'), ('fsync', True)]


def test_a_writer_that_cannot_start_leaves_nothing(store, datadir, monkeypatch):
    def no_pipe():
        raise OSError(24, 'Too many open files')

    monkeypatch.setattr(offload.os, 'pipe', no_pipe)
    before = _open_descriptors()
    with pytest.raises(StoreIOError, match='Too many open files'):
        store.add('file://%s/obj' % datadir, iter([b'data']))
    monkeypatch.undo()
    assert os.listdir(datadir) == []
    assert _open_descriptors() == before
