"""Store calls are timed and their errors counted by store; the health probe."""

import pytest

from glance.common import metrics
from glance.store.base import ObjectNotFound, StoreIOError
from tests.unit.api.memory_store import memory_stores


def _value(name, **labels):
    return metrics.REGISTRY.get_sample_value(name, labels) or 0


def _calls(operation):
    return _value('glance_store_request_duration_seconds_count', store='memory',
                  operation=operation)


def _errors(operation, error):
    return _value('glance_store_errors_total', store='memory', operation=operation,
                  error=error)


def test_each_call_is_timed_by_store_and_operation():
    store = memory_stores().default_store
    before = {op: _calls(op) for op in ('add', 'head', 'get', 'delete')}
    info = store.add(store.location_for('img', 0), [b'abc', b'def'])
    assert store.head(info.location).size == 6
    assert b''.join(store.get(info.location)) == b'abcdef'
    store.delete(info.location)
    assert {op: _calls(op) - before[op] for op in before} == {
        'add': 1, 'head': 1, 'get': 1, 'delete': 1}


def test_errors_are_counted_by_class_mid_stream_included():
    store = memory_stores().default_store
    missing, broken = _errors('head', 'ObjectNotFound'), _errors('get', 'StoreIOError')
    with pytest.raises(ObjectNotFound):
        store.head('memory://images/nothing')
    location = store.put('images/x', b'0123456789')
    store.fail_read_after = 6
    reader = store.get(location)
    with pytest.raises(StoreIOError):
        list(reader)
    reader.close()
    assert _errors('head', 'ObjectNotFound') == missing + 1
    assert _errors('get', 'StoreIOError') == broken + 1


def test_the_measured_store_is_the_store_for_everything_else():
    stores = memory_stores(chunk_size=5)
    assert stores.default_store.store.chunk_size == 5
    assert stores.default_store.name == 'memory' and stores.default_store.writable


def test_probe_heads_an_object_never_written_and_counts_nothing():
    stores = memory_stores()
    before = _errors('head', 'ObjectNotFound')
    assert stores.probe('memory') == {'probed': True}
    assert _errors('head', 'ObjectNotFound') == before
