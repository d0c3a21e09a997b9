"""Conversion options and workspace, with the real qemu-img (tests/disk_images.py)."""

import io
import os

import pytest

from glance.api import conversion, inspection
from glance.common import exception
from tests.disk_images import PAYLOAD_SIZE, DiskImages, qemu_img


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    return DiskImages(tmp_path_factory.mktemp('disk-images'))


def test_conversion_is_off_by_default():
    options = conversion.ConversionOptions.from_conf({})
    assert options.convert_to is None and not options.wants('qcow2')


def test_only_the_listed_source_formats_are_converted(tmp_path):
    options = conversion.ConversionOptions.from_conf(
        {'convert_to': 'RAW', 'convert_from': 'qcow2, vmdk',
         'conversion_work_dir': str(tmp_path)})
    assert options.wants('qcow2') and options.wants('vmdk')
    assert not options.wants('raw') and not options.wants('vhdx')


@pytest.mark.parametrize('conf,option', [
    ({'convert_to': 'ploop'}, 'convert_to'),
    ({'convert_to': 'raw', 'convert_from': 'qcow2, iso'}, 'convert_from'),
    ({'convert_to': 'raw', 'conversion_work_dir': '/nonexistent/glance'},
     'conversion_work_dir'),
    ({'convert_to': 'raw', 'qemu_img': 'no-such-qemu-img'}, 'qemu_img'),
    ({'convert_to': 'raw', 'conversion_memory': '1M'}, 'conversion_memory'),
])
def test_bad_conversion_options_stop_startup(conf, option):
    with pytest.raises(exception.ConfigError) as failed:
        conversion.ConversionOptions.from_conf(conf)
    assert failed.value.option == option


def _stage(images, folder, case, disk_format, enforce=True, **conf):
    """Stage image ``case`` (declared ``disk_format``) in a workspace under
    ``folder``; yield (work, staged, verdict) while the workspace exists."""
    options = conversion.ConversionOptions.from_conf(
        dict(conf, convert_to='raw', conversion_work_dir=str(folder)))
    source = images.data(case)
    with options.workspace('img') as work:
        staged, verdict = work.stage(io.BytesIO(source), len(source),
                                     inspection.Inspection(disk_format, enforce), 65536)
        yield work, staged, verdict


def test_workspace_converts_and_is_removed(images, tmp_path):
    for work, staged, verdict in _stage(images, tmp_path, 'vhdx', 'vhdx'):
        assert (staged.size, verdict.format, verdict.virtual_size) == (
            len(images.data('vhdx')), 'vhdx', PAYLOAD_SIZE)
        output = work.convert(staged, verdict)
        qemu_img('compare', '-f', 'vhdx', '-F', 'raw', images.path('vhdx'), output)
    assert os.listdir(tmp_path) == []


def test_a_memory_limit_reached_is_reported_without_paths(images, tmp_path):
    for work, staged, verdict in _stage(images, tmp_path, 'qcow2', 'qcow2',
                                        conversion_memory='16M'):
        with pytest.raises(conversion.ConversionFailed) as failed:
            work.convert(staged, verdict)
    assert 'qemu-img could not convert the qcow2 image to raw' in failed.value.message
    assert str(tmp_path) not in failed.value.message
    assert os.listdir(tmp_path) == []


def test_a_source_over_the_cap_is_refused_before_staging(images, tmp_path):
    with pytest.raises(exception.RequestTooLarge, match='conversion_size_cap'):
        list(_stage(images, tmp_path, 'qcow2', 'qcow2', conversion_size_cap='1M'))
    assert os.listdir(tmp_path) == []


def test_an_unsafe_source_is_never_converted_even_without_enforcement(images, tmp_path):
    with pytest.raises(conversion.ConversionFailed, match='never run .*backing_file'):
        list(_stage(images, tmp_path, 'qcow2_backing_file', 'qcow2', enforce=False))
    assert os.listdir(tmp_path) == []
