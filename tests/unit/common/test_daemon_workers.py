"""The daemons' ``workers`` option and what may not be shared by forked workers."""

import pytest

from glance.cmd import daemon
from glance.common import exception


def test_workers_is_read_as_configured():
    assert daemon._workers({'workers': '3'}) == 3
    assert daemon._workers({'workers': '1', 'image_cache_dir': '/srv/cache'}) == 1


def test_an_image_cache_with_several_workers_is_refused():
    with pytest.raises(exception.ConfigError) as info:
        daemon._workers({'workers': '2', 'image_cache_dir': '/srv/cache'})
    assert 'workers = 1' in str(info.value) and 'image_cache_dir' in str(info.value)
