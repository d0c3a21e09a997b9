"""glance-api and glance-registry served by gunicorn (threads worker) instead of the
built-in eventlet server: a representative part of the functional API suite, run again.

The tests and fixtures are those of ``test_api_images.py``; only the ``server`` fixture
differs, so both daemons run as ``gunicorn -c etc/gunicorn.conf.py glance.wsgi:...``
with two workers each, on the shipped paste pipelines.
"""

import pytest

from tests.functional import test_api_images
# The fixtures and tests of test_api_images.py, collected again here under gunicorn.
from tests.functional.test_api_images import (  # noqa: F401
    api, api_daemon, datadir, image, registry,
    test_chunk_changed_behind_the_registry_is_502_and_no_body,
    test_chunked_upload_becomes_active,
    test_declared_size_mismatch_is_400_and_killed,
    test_delete_removes_data_then_record,
    test_download_concatenates_the_chunks_with_all_headers,
    test_head_returns_the_headers_and_no_body,
    test_if_none_match_gives_304,
    test_interrupted_upload_kills_the_image_and_leaves_no_objects,
    test_put_data_into_a_queued_image,
    test_range_across_chunk_boundaries_returns_206_exact_bytes,
    test_silent_corruption_is_a_short_read_caught_by_xxh3,
    test_unknown_and_invisible_images_are_404,
    test_upload_over_image_size_cap_is_413_killed_and_cleaned,
    test_upload_splits_into_chunks_and_records_checksums,
    test_wrong_method_is_405_with_allow,
)


@pytest.fixture(scope='module')
def server():
    """Both daemons under gunicorn."""
    return 'gunicorn'


def test_underscore_header_is_refused_with_400_not_dropped(api):
    """gunicorn cannot keep x-image-meta-disk_format apart from the dashed spelling;
    the shipped gunicorn.conf.py refuses it rather than dropping the field silently."""
    response = api.request('POST', '/images', dict(test_api_images.USER, **{
        'x-image-meta-name': 'u', 'x-image-meta-disk_format': 'raw'}))
    assert response.status == 400
