"""The in-memory test store passes the same contract suite as the real stores."""

import pytest

from tests.functional.store_contract import CHUNK, WritableStoreContract
from tests.unit.store.memory import MemoryStore


class TestMemoryStore(WritableStoreContract):

    @pytest.fixture
    def store(self):
        return MemoryStore({'chunk_size': str(CHUNK)})

    @pytest.fixture
    def listing(self, store):
        return lambda: sorted(store.objects)
