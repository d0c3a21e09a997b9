"""glance-api and glance-registry served by gunicorn (threads worker) instead of the
built-in eventlet server: a representative part of the functional API suite, run again.

The tests and fixtures are those of ``test_api_images.py``; only the ``server`` fixture
differs, so both daemons run as ``gunicorn -c etc/gunicorn.conf.py glance.wsgi:...``
with two workers each, on the shipped paste pipelines.
"""

import pytest

from tests.functional import reuse, test_api_images
from tests.functional.test_api_images import (  # noqa: F401  (module fixtures)
    api, api_daemon, datadir, image, registry)

#: The tests run again under gunicorn, by a part of their names (so a renamed test
#: stays in; select_tests notices one that left).
SUBSET = ('upload_splits_into_chunks', 'download_concatenates', 'head_returns',
          'range_across_chunk_boundaries', 'if_none_match', 'chunked_upload',
          'over_image_size_cap', 'interrupted_upload', 'declared_size_mismatch',
          'chunk_changed_behind', 'silent_corruption', 'put_data_into_a_queued',
          'delete_removes_data', 'unknown_and_invisible', 'wrong_method_is_405')
globals().update(reuse.select_tests(test_api_images, SUBSET))


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
