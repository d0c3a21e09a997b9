"""Property-based tests of the unbundler's member path and link checks.

Hypothesis builds member names and link targets from the pieces that make paths
dangerous (``..``, ``.``, empty components, a leading ``/``, NUL) and checks that a
name is refused exactly when it would leave the destination, and that whatever an
archive holds, nothing is ever written outside the destination.
"""

import os
import tarfile
import tempfile

from hypothesis import given, settings, strategies as st

from glance.agent import unbundle as ub
from tests.unit.agent.test_unbundle import _file, _member, _tar

components = st.sampled_from(['a', 'b', '..', '.', '', 'c.d', '...', '..a', ' '])
names = st.builds('/'.join, st.lists(components, min_size=1, max_size=5)) | st.builds(
    lambda prefix, rest: prefix + rest, st.sampled_from(['/', '\x00', 'a\x00']),
    st.builds('/'.join, st.lists(components, max_size=3)))


@given(names)
def test_a_name_is_refused_exactly_when_it_could_leave_the_destination(name):
    raw_parts = name.split('/')
    unsafe = '\x00' in name or name.startswith('/') or '..' in raw_parts
    try:
        parts = ub._split(name)
    except ValueError:
        assert unsafe
        return
    assert not unsafe
    assert all(part not in ('', '.', '..') for part in parts)
    root = '/dest'
    assert os.path.normpath(os.path.join(root, *parts)).startswith(root)


def _outside_is_untouched(folder):
    return sorted(os.listdir(folder)) == ['archive.tar']


kinds = st.sampled_from(['file', 'dir', 'symlink', 'hardlink'])
members = st.lists(st.tuples(kinds, names, names), min_size=1, max_size=4)


@settings(max_examples=60)
@given(members)
def test_whatever_an_archive_holds_nothing_lands_outside(entries):
    with tempfile.TemporaryDirectory() as top:
        folder = os.path.join(top, 'work')
        os.mkdir(folder)
        archive = []
        for kind, name, target in entries:
            if kind == 'file':
                archive.append(_file(name, b'data'))
            elif kind == 'dir':
                archive.append((_member(name, tarfile.DIRTYPE, mode=0o755), None))
            elif kind == 'symlink':
                archive.append((_member(name, tarfile.SYMTYPE, linkname=target), None))
            else:
                archive.append((_member(name, tarfile.LNKTYPE, linkname=target), None))
        try:
            source = _tar(os.path.join(folder, 'archive.tar'), archive)
        except (ValueError, tarfile.TarError):
            return  # a name tarfile itself cannot write (e.g. NUL): nothing to test
        dest = os.path.join(folder, 'out')
        try:
            ub.unbundle(source, dest, fmt='tar')
        except ub.UnbundleError:
            assert _outside_is_untouched(folder)
        else:
            assert sorted(os.listdir(folder)) == ['archive.tar', 'out']
            real_dest = os.path.realpath(dest)
            for path, dirs, files in os.walk(dest):
                for entry in dirs + files:
                    resolved = os.path.realpath(os.path.join(path, entry))
                    assert resolved == real_dest or resolved.startswith(real_dest + os.sep)
        assert sorted(os.listdir(top)) == ['work']
