"""The import staging area (:mod:`glance.api.v2.staging`) on a real folder."""

import io
import os

import pytest

from glance.api.v2 import staging
from glance.common import exception

IMAGE = '0f9d6a3c-1b7e-4c51-9a38-2f6d1c0b8e47'


@pytest.fixture
def area(tmp_path):
    return staging.StagingArea(str(tmp_path), block_size=3, size_cap=10)


def test_staged_data_is_taken_once_and_leaves_the_folder_empty(area, tmp_path):
    assert area.stage(IMAGE, io.BytesIO(b'0123456789'), declared_size=10) == 10
    assert area.has(IMAGE) and os.listdir(tmp_path) == [IMAGE]
    staged, size = area.take(IMAGE)
    with staged:
        assert size == 10 and staged.read() == b'0123456789'
    assert os.listdir(tmp_path) == [] and not area.has(IMAGE)
    with pytest.raises(exception.Conflict, match='no data is staged'):
        area.take(IMAGE)
    assert os.listdir(tmp_path) == []


def test_a_second_stage_replaces_the_first(area, tmp_path):
    area.stage(IMAGE, io.BytesIO(b'first'))
    area.stage(IMAGE, io.BytesIO(b'second'))
    assert os.listdir(tmp_path) == [IMAGE]
    staged, size = area.take(IMAGE)
    with staged:
        assert size == 6 and staged.read() == b'second'


@pytest.mark.parametrize('data, declared, error', [
    (b'0123456789A', None, exception.RequestTooLarge),
    (b'0123', 5, exception.Invalid)])
def test_a_refused_stage_leaves_nothing(area, tmp_path, data, declared, error):
    with pytest.raises(error):
        area.stage(IMAGE, io.BytesIO(data), declared_size=declared)
    assert os.listdir(tmp_path) == []


def test_discard_removes_staged_data_and_ignores_none(area, tmp_path):
    area.discard(IMAGE)
    area.stage(IMAGE, io.BytesIO(b'x'))
    area.discard(IMAGE)
    assert os.listdir(tmp_path) == []


def test_a_missing_folder_is_a_startup_error(tmp_path):
    with pytest.raises(exception.ConfigError, match='import_staging_dir'):
        staging.StagingArea(str(tmp_path / 'nope'), 3, 10)
