"""The Store base class's contract with its subclasses: what a writable store that
forgets a hook gets told, and the messages of the base's own checks."""

import pytest

from glance.store.base import ObjectInfo, ReadIterator, Store, StoreReadOnly


class Incomplete(Store):
    """A writable store implementing only the read side."""

    schemes = ('inc',)

    def head(self, location):
        return ObjectInfo(str(location), 0, None)

    def _open(self, location, offset, length):
        return ReadIterator(self, location, None, 0, None)


@pytest.mark.parametrize('call,hook', [
    (lambda store: store._write(store.parse_location('inc://c/a'), None, None),
     '_write'),
    (lambda store: store.delete('inc://c/a'), '_delete'),
    (lambda store: store.location_for('img', 0), '_object_location'),
])
def test_a_writable_store_without_a_hook_says_which(call, hook):
    store = Incomplete({})
    with pytest.raises(NotImplementedError) as info:
        call(store)
    assert str(info.value) == 'writable stores implement %s' % hook


def test_a_read_only_store_names_itself_and_the_object_it_cannot_write():
    class ReadOnly(Incomplete):
        writable = False

    with pytest.raises(StoreReadOnly) as info:
        ReadOnly({}, name='mirror').location_for('img', 7)
    assert str(info.value) == 'Store mirror is read-only: cannot write img-00007'
