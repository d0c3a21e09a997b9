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


def test_workspace_converts_and_is_removed(images, tmp_path):
    options = conversion.ConversionOptions.from_conf(
        {'convert_to': 'raw', 'conversion_work_dir': str(tmp_path)})
    source = images.data('vhdx')
    with options.workspace('img') as work:
        staged, verdict = work.stage(io.BytesIO(source), len(source),
                                     inspection.Inspection('vhdx'), 65536)
        assert (staged.size, verdict.format, verdict.virtual_size) == (
            len(source), 'vhdx', PAYLOAD_SIZE)
        output = work.convert(staged, verdict)
        qemu_img('compare', '-f', 'vhdx', '-F', 'raw', images.path('vhdx'), output)
    assert os.listdir(tmp_path) == []


def test_a_memory_limit_reached_is_reported_without_paths(images, tmp_path):
    options = conversion.ConversionOptions.from_conf(
        {'convert_to': 'raw', 'conversion_work_dir': str(tmp_path),
         'conversion_memory': '16M'})
    source = images.data('qcow2')
    with options.workspace('img') as work:
        staged, verdict = work.stage(io.BytesIO(source), None,
                                     inspection.Inspection('qcow2'), 65536)
        with pytest.raises(conversion.ConversionFailed) as failed:
            work.convert(staged, verdict)
    assert 'qemu-img could not convert the qcow2 image to raw' in failed.value.message
    assert str(tmp_path) not in failed.value.message
    assert os.listdir(tmp_path) == []


def test_a_source_over_the_cap_is_refused_before_staging(images, tmp_path):
    options = conversion.ConversionOptions.from_conf(
        {'convert_to': 'raw', 'conversion_work_dir': str(tmp_path),
         'conversion_size_cap': '1M'})
    source = images.data('qcow2')
    with options.workspace('img') as work:
        with pytest.raises(exception.RequestTooLarge, match='conversion_size_cap'):
            work.stage(io.BytesIO(source), len(source), inspection.Inspection('qcow2'),
                       65536)
    assert os.listdir(tmp_path) == []


def test_an_unsafe_source_is_never_converted_even_without_enforcement(images, tmp_path):
    options = conversion.ConversionOptions.from_conf(
        {'convert_to': 'raw', 'conversion_work_dir': str(tmp_path)})
    source = images.data('qcow2_backing_file')
    with options.workspace('img') as work:
        with pytest.raises(conversion.ConversionFailed, match='never run .*backing_file'):
            work.stage(io.BytesIO(source), len(source),
                       inspection.Inspection('qcow2', enforce=False), 65536)
    assert os.listdir(tmp_path) == []
