"""The in-memory test store (tests/unit/api/memory_store.py) passes the contract
suite that the real stores pass, so unit tests built on it test real behaviour."""

import pytest

from tests.functional.store_contract import BREAK_AFTER, CHUNK, WritableStoreContract
from tests.unit.api.memory_store import MemoryStore


class TestMemoryStore(WritableStoreContract):

    @pytest.fixture
    def store(self):
        return MemoryStore({'chunk_size': str(CHUNK)})

    @pytest.fixture
    def listing(self, store):
        return lambda: sorted(store.objects)

    @pytest.fixture
    def broken_reader(self, store):
        def open_broken(location):
            store.fail_read_after = BREAK_AFTER
            return store.get(location)
        return open_broken
