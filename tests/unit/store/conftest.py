"""Rewrite asserts in the shared store contract suite, which test_memory.py runs."""

import pytest

pytest.register_assert_rewrite('tests.functional.store_contract')
