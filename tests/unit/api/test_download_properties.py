"""Property-based tests of range planning and ranged bodies over any chunk layout.

The hand-written cases in ``test_download.py`` pin the known boundaries; here
hypothesis draws the layouts (empty chunks, one-byte chunks, many chunks), the range
and the block sizes, so every combination of a range edge with a chunk edge is met.
"""

from hypothesis import given, strategies as st

from glance.api import download
from tests.unit.api.memory_store import memory_stores
from tests.unit.api.test_download import _image

chunk_sizes = st.lists(st.integers(min_value=0, max_value=12), max_size=8)


@st.composite
def layouts(draw):
    """``(chunk sizes, start, stop)`` with ``0 <= start <= stop <= image size``."""
    sizes = draw(chunk_sizes)
    total = sum(sizes)
    start = draw(st.integers(min_value=0, max_value=total))
    stop = draw(st.integers(min_value=start, max_value=total))
    return sizes, start, stop


def _chunks(sizes):
    return download.image_chunks({'id': 'i', 'chunks': [
        {'location': 'memory://images/%d' % n, 'size': size}
        for n, size in enumerate(sizes)]})


@given(layouts())
def test_a_plan_covers_exactly_the_range_in_order(layout):
    sizes, start, stop = layout
    plan = download.plan_range(_chunks(sizes), start, stop)
    covered = [position for chunk, offset, length in plan
               for position in range(chunk.offset + offset,
                                     chunk.offset + offset + length)]
    assert covered == list(range(start, stop))
    for chunk, offset, length in plan:
        assert length > 0 and 0 <= offset and offset + length <= chunk.size
    indexes = [chunk.index for chunk, _, _ in plan]
    assert indexes == sorted(set(indexes))


@given(layouts(), st.integers(min_value=1, max_value=9),
       st.integers(min_value=1, max_value=9))
def test_a_ranged_body_is_byte_exact_for_any_layout(layout, read_size, block_size):
    sizes, start, stop = layout
    stores = memory_stores(chunk_size=read_size)
    data = bytes(n % 251 for n in range(sum(sizes)))
    image = _image(stores, sizes, data)
    whole = download.ChunkedImageIterable(stores, 'img', download.image_chunks(image),
                                          block_size, download.expected_digest(image))
    assert b''.join(whole.app_iter_range(start, stop)) == data[start:stop]
    # Only the bytes of the range were read from the store.
    assert sum(length for _, _, length in stores.default_store.reads) == stop - start
    assert b''.join(whole) == data
