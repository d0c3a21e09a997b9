"""Format inspection of uploads with oslo's real inspector and real qemu-img images."""

import io
import logging

import pytest

from glance.api import inspection, upload
from glance.common import exception
from tests.disk_images import (PAYLOAD_SIZE, SIZE_IS_VIRTUAL_SIZE, UNSAFE, VALID,
                               DiskImages)
from tests.unit.api.memory_store import memory_stores


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    return DiskImages(tmp_path_factory.mktemp('disk-images'))


def _upload(data, disk_format, options=inspection.InspectionOptions(), block_size=4096):
    store = memory_stores().default_store
    inspected = options.begin(disk_format)
    writer = upload.ImageUpload(store, 'img', 1024 * 1024, block_size,
                                inspection=inspected)
    writer.write(io.BytesIO(data), len(data))
    return writer, inspected


@pytest.mark.parametrize('case,disk_format,detected', VALID)
def test_valid_images_pass_with_their_format_and_virtual_size(images, case, disk_format,
                                                              detected):
    data = images.data(case)
    writer, inspected = _upload(data, disk_format)
    verdict = inspected.verdict()
    assert verdict.format == detected
    assert writer.size == len(data)
    expected_virtual = len(data) if case in SIZE_IS_VIRTUAL_SIZE else PAYLOAD_SIZE
    assert verdict.virtual_size == expected_virtual
    assert verdict.refused is None
    assert verdict.record() == {'detected_format': detected,
                                'virtual_size': expected_virtual}


@pytest.mark.parametrize('case,disk_format,reason', UNSAFE)
def test_unsafe_images_are_refused_with_the_reason(images, case, disk_format, reason):
    _writer, inspected = _upload(images.data(case), disk_format)
    with pytest.raises(inspection.FormatRefused) as refused:
        inspected.verdict()
    assert reason in refused.value.message
    assert isinstance(refused.value, exception.Invalid)


def test_one_byte_blocks_see_the_same_header(images):
    _writer, inspected = _upload(images.data('qcow2_backing_file')[:4096], 'qcow2',
                                 block_size=1)
    with pytest.raises(inspection.FormatRefused, match='backing_file'):
        inspected.verdict()


def test_no_disk_format_is_held_to_raw(images):
    _writer, inspected = _upload(images.data('qcow2'), None)
    with pytest.raises(inspection.FormatRefused, match='disk_format is raw'):
        inspected.verdict()


def test_a_disk_format_not_configured_is_refused_before_reading():
    options = inspection.InspectionOptions.from_conf({'disk_formats': 'raw, qcow2'})
    with pytest.raises(inspection.FormatRefused, match='disk_format vmdk is not accepted'):
        options.begin('vmdk')


def test_unknown_disk_formats_option_stops_startup():
    with pytest.raises(exception.ConfigError, match='disk_formats'):
        inspection.InspectionOptions.from_conf({'disk_formats': 'raw, ploop'})


def test_enforcement_off_warns_at_startup_and_only_records(images, caplog):
    with caplog.at_level(logging.WARNING, logger='glance.api.inspection'):
        options = inspection.InspectionOptions.from_conf(
            {'enforce_format_inspection': 'false'})
        assert 'enforce_format_inspection is OFF' in caplog.text
        _writer, inspected = _upload(images.data('qcow2_declared_raw'), 'raw', options)
        verdict = inspected.verdict()
    assert verdict.format == 'qcow2'
    assert verdict.refused == 'Image refused: disk_format is raw but the data is qcow2'
    assert 'would be refused: Image refused: disk_format is raw' in caplog.text


def test_inspect_file_checks_a_file_on_disk(images):
    verdict = inspection.inspect_file(images.path('vhdx'), 'vhdx')
    assert (verdict.format, verdict.virtual_size) == ('vhdx', PAYLOAD_SIZE)
    with pytest.raises(inspection.FormatRefused, match='data_file'):
        inspection.inspect_file(images.path('qcow2_data_file'), 'qcow2')
    with pytest.raises(inspection.FormatRefused, match='cannot be checked'):
        inspection.inspect_file(images.path('raw'), 'ploop')
