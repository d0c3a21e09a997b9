"""Property-based tests of the registry's query-string validation.

Any query string a client can send to ``GET /images`` either becomes a checked
:class:`~glance.registry.validation.ListQuery` or is refused with ``Invalid`` (a 400
naming the parameter): never another exception, which would be a 500.
"""

import urllib.parse

import pytest
import webob
from hypothesis import given, strategies as st

from glance.common import exception
from glance.registry import validation

PARAMS = sorted(validation._FILTERS) + list(validation.LIST_PARAMS) + [
    'property-os_type', 'property-', 'property- x', 'unknown']
names = st.sampled_from(PARAMS) | st.text(max_size=12)
values = (st.text(max_size=30) | st.from_regex(r'-?[0-9]{0,22}', fullmatch=True)
          | st.sampled_from(['true', 'FALSE', 'asc', 'desc', 'name', 'size', 'active',
                             '2026-11-25T20:37:12Z', '2026-11-25T20:37:12+05:00',
                             '3f2a7c1e-9b8d-4e6f-a1b2-c3d4e5f6a7b8']))


def _request(pairs):
    return webob.Request.blank('/images?' + urllib.parse.urlencode(pairs))


@given(st.lists(st.tuples(names, values), max_size=6))
def test_any_query_is_a_list_query_or_invalid(pairs):
    try:
        params = validation.query_params(_request(pairs), validation.is_list_param)
        query = validation.list_query(params, limit_default=25, limit_max=100)
    except exception.Invalid as err:
        assert err.message
        return
    assert len(set(name for name, _ in pairs)) == len(pairs)
    assert all(validation.is_list_param(name) for name, _ in pairs)
    assert 1 <= query.limit <= 100
    assert query.sort_key in validation.SORT_KEYS
    assert query.sort_dir in validation.SORT_DIRS
    assert query.params == dict(pairs)


@given(st.dictionaries(st.sampled_from(PARAMS[:-1]), st.text(max_size=20), min_size=1))
def test_distinct_known_names_come_back_unchanged(params):
    decoded = validation.query_params(_request(list(params.items())),
                                      validation.is_list_param)
    assert decoded == params


@given(st.sampled_from(PARAMS), st.text(max_size=10), st.text(max_size=10))
def test_a_repeated_name_is_refused(name, first, second):
    with pytest.raises(exception.Invalid, match='more than once'):
        validation.query_params(_request([(name, first), (name, second)]),
                                lambda _: True)


@given(st.integers(min_value=0, max_value=validation.MAX_BIGINT),
       st.integers(min_value=1, max_value=1000))
def test_counts_parse_exactly_and_limit_is_capped(number, limit_max):
    query = validation.list_query({'size_min': str(number), 'limit': str(number or 1)},
                                  limit_default=10, limit_max=limit_max)
    assert query.filters == {'size_min': number}
    assert query.limit == min(number or 1, limit_max)


@given(st.integers(min_value=validation.MAX_BIGINT + 1))
def test_counts_past_the_database_range_are_refused(number):
    with pytest.raises(exception.Invalid, match='size_max must be a non-negative'):
        validation.list_query({'size_max': str(number)}, 10, 100)


@given(st.text(max_size=12).filter(lambda text: text.strip().lower()
                                   not in ('true', 'false')))
def test_flags_accept_only_true_or_false(text):
    with pytest.raises(exception.Invalid, match='is_public must be true or false'):
        validation.flag(text, 'is_public')
