"""Unit tests: a file:// location never reaches a file outside the data directory."""

import os

import pytest

from glance.store.base import BadLocation, ObjectNotFound
from glance.store.filesystem import FilesystemStore


@pytest.fixture
def datadir(tmp_path):
    path = tmp_path / 'images'
    path.mkdir()
    (path / 'inside').write_bytes(b'inside')
    return path


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / 'secret'
    path.write_bytes(b'top secret')
    return path


@pytest.fixture
def store(datadir):
    return FilesystemStore({'filesystem_store_datadir': str(datadir)})


def _refused(store, location):
    for call in (store.head, store.get, store.delete):
        with pytest.raises(BadLocation) as info:
            call(location)
        assert 'outside the data directory' in info.value.message or \
            'not an absolute path' in info.value.message
    with pytest.raises(BadLocation):
        store.add(location, iter([b'overwrite']))


@pytest.mark.parametrize('template', [
    'file://{datadir}/../secret',
    'file://{datadir}/%2e%2e/secret',
    'file://{datadir}/%2E%2E/secret',
    'file://{datadir}/.%2e/secret',
    'file://{datadir}/%2e%2e%2fsecret',
    'file://{datadir}/sub/../../secret',
    'file://{datadir}/./../secret',
    'file://{datadir}',
    'file://{datadir}/',
    'file://{datadir}/.',
    'file://{tmp}/images-evil/x',
    'file://{datadir}/inside%00',
])
def test_dot_dot_in_every_spelling_is_refused(store, datadir, secret, template):
    _refused(store, template.format(datadir=datadir, tmp=datadir.parent))
    assert secret.read_bytes() == b'top secret'


def test_a_symlink_to_a_file_outside_is_refused(store, datadir, secret):
    os.symlink(secret, datadir / 'link')
    _refused(store, 'file://%s/link' % datadir)
    assert secret.read_bytes() == b'top secret'


def test_a_symlinked_directory_leading_outside_is_refused(store, datadir, secret):
    os.symlink(secret.parent, datadir / 'up')
    _refused(store, 'file://%s/up/secret' % datadir)


def test_a_symlink_that_stays_inside_is_served(store, datadir):
    os.symlink(datadir / 'inside', datadir / 'alias')
    assert b''.join(store.get('file://%s/alias' % datadir)) == b'inside'


def test_a_symlinked_data_directory_itself_is_fine(tmp_path, datadir):
    os.symlink(datadir, tmp_path / 'via-link')
    store = FilesystemStore({'filesystem_store_datadir': str(tmp_path / 'via-link')})
    assert store.head('file://%s/via-link/inside' % tmp_path).size == 6


def test_a_link_planted_after_registration_is_caught_at_read_time(store, datadir,
                                                                  secret):
    location = 'file://%s/planted' % datadir
    (datadir / 'planted').write_bytes(b'harmless')
    assert store.head(location).size == 8
    os.unlink(datadir / 'planted')
    os.symlink(secret, datadir / 'planted')
    _refused(store, location)


def test_a_fifo_is_not_an_object_and_does_not_hang(store, datadir):
    os.mkfifo(datadir / 'pipe')
    with pytest.raises(ObjectNotFound):
        store.head('file://%s/pipe' % datadir)
    with pytest.raises(ObjectNotFound):
        store.get('file://%s/pipe' % datadir)


def test_the_opened_file_is_checked_too(store, datadir, secret, monkeypatch):
    # A directory swapped for a symlink between the path check and open(2): the
    # descriptor's real path is what counts.
    from glance.store import filesystem
    monkeypatch.setattr(filesystem, '_opened_path', lambda fd: str(secret))
    with pytest.raises(BadLocation):
        store.head('file://%s/inside' % datadir)
