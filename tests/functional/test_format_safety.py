"""Image format safety end to end: real qemu-img images through real daemons and stores.

glance-registry (SQLite) and glance-api run from bin/ with the shipped paste ini, the
file store on a temp folder, and for one case each real Swift. Each hostile image
(:data:`tests.disk_images.UNSAFE`) is refused on upload with a readable 400 and leaves
the image ``killed`` with no object in the store; each valid one is accepted with its
detected format and virtual size. The same hostile bytes planted in the store with a
registry record made behind glance-api's back are refused by glance-fetch, which
leaves nothing in its folder.
"""

import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import uuid

import pytest

from glance.agent import fetch
from glance.api import inspection
from glance.common import context
from tests.disk_images import (PAYLOAD_SIZE, SIZE_IS_VIRTUAL_SIZE, UNSAFE, VALID,
                               DiskImages, qemu_img)
from tests.functional import daemons
from tests.functional.test_api_images import registry  # noqa: F401
from tests.functional.test_api_images import ADMIN, USER, Api, find_images, image_files
from tests.functional.test_api_stores import (SwiftObjects, http_api,  # noqa: F401
                                              nginx_folder, start_api)

CHUNK = 1024 * 1024
TENANT = context.RequestContext('tenant1', 'user1', ['member'])


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    return DiskImages(tmp_path_factory.mktemp('disk-images'))


@pytest.fixture(scope='module')
def datadir(tmp_path_factory):
    return str(tmp_path_factory.mktemp('images'))


@pytest.fixture(scope='module')
def api_daemon(tmp_path_factory, registry, datadir):  # noqa: F811
    daemon = daemons.api_daemon(
        tmp_path_factory.mktemp('api'), registry.url,
        sections={'store:file': {'filesystem_store_datadir': datadir}},
        store_chunk_size=CHUNK, read_block_size='64K')
    yield daemon.start()
    daemon.stop()


@pytest.fixture(scope='module')
def api(api_daemon):
    return Api(api_daemon.url)


def upload(api, data, disk_format, name):
    return api.upload(data, name=name, extra={'x-image-meta-disk-format': disk_format})


def assert_refused(resp, reason):
    assert resp.status == 400, resp.body
    error = resp.json()['error']
    assert error['code'] == 400 and 'Traceback' not in resp.body.decode()
    assert error['message'].startswith('Image refused: ')
    assert reason in error['message']


@pytest.mark.parametrize('case,disk_format,reason', UNSAFE)
def test_unsafe_upload_is_refused_and_nothing_is_stored(api, registry, datadir,  # noqa: F811
                                                        images, case, disk_format,
                                                        reason):
    name = 'unsafe-' + case
    assert_refused(upload(api, images.data(case), disk_format, name), reason)
    [record] = find_images(registry, name)
    assert record['status'] == 'killed'
    assert record['chunks'] == [] or all(
        not os.path.exists(chunk['location'][len('file://'):])
        for chunk in record['chunks'])
    assert image_files(datadir, record['id']) == []


@pytest.mark.parametrize('case,disk_format,detected', VALID)
def test_valid_upload_records_detected_format_and_virtual_size(
        api, images, case, disk_format, detected):
    data = images.data(case)
    resp = upload(api, data, disk_format, 'valid-' + case)
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    virtual = len(data) if case in SIZE_IS_VIRTUAL_SIZE else PAYLOAD_SIZE
    assert (image['status'], image['detected_format'], image['virtual_size']) == (
        'active', detected, virtual)
    head = api.request('HEAD', '/images/' + image['id'], USER)
    assert head.headers['x-image-meta-detected_format'] == detected
    assert head.headers['x-image-meta-virtual_size'] == str(virtual)
    assert api.request('GET', '/images/' + image['id'], USER).body == data


def test_a_disk_format_outside_disk_formats_is_refused_before_a_record_exists(
        api, registry):  # noqa: F811
    resp = upload(api, b'x' * 100, 'ploop', 'not-accepted')
    assert_refused(resp, 'disk_format ploop is not accepted')
    assert find_images(registry, 'not-accepted') == []


def _plant(datadir, data):
    path = os.path.join(datadir, 'planted-%s' % uuid.uuid4())
    with open(path, 'wb') as planted:
        planted.write(data)
    return path


def test_registering_an_unsafe_location_kills_the_image_and_keeps_the_object(
        api, registry, datadir, images):  # noqa: F811
    data = images.data('qcow2_backing_file')
    path = _plant(datadir, data)
    resp = api.request('POST', '/images', dict(ADMIN, **{
        'x-image-meta-name': 'registered-unsafe', 'x-image-meta-disk-format': 'qcow2',
        'x-image-meta-location': 'file://' + path}))
    assert_refused(resp, 'backing_file')
    [record] = find_images(registry, 'registered-unsafe')
    assert record['status'] == 'killed'
    with open(path, 'rb') as kept:
        assert kept.read() == data


def test_registering_a_valid_location_records_what_was_detected(api, datadir, images):
    path = _plant(datadir, images.data('vmdk'))
    resp = api.request('POST', '/images', dict(ADMIN, **{
        'x-image-meta-name': 'registered-vmdk', 'x-image-meta-disk-format': 'vmdk',
        'x-image-meta-location': 'file://' + path}))
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert (image['status'], image['detected_format'], image['virtual_size']) == (
        'active', 'vmdk', PAYLOAD_SIZE)


def _record_behind_apis_back(registry, datadir, data, disk_format):  # noqa: F811
    """Plant ``data`` in the file store and make it an active image in the registry
    directly, as tampering or an image from before inspection would be."""
    path = _plant(datadir, data)
    registry_api = Api(registry.url)
    # The identity glance-api itself uses with the registry (trusted_gateway mode: the
    # service role comes only from X-Service-Roles, never from X-Roles).
    service = dict(ADMIN, **{'X-Service-Roles': 'service',
                             'Content-Type': 'application/json'})
    resp = registry_api.request('POST', '/images', service, body=json.dumps({'image': {
        'name': 'planted', 'disk_format': disk_format, 'owner': 'tenant1'}}).encode())
    assert resp.status == 201, resp.body
    resp = registry_api.request(
        'PUT', '/images/' + resp.json()['image']['id'], service, body=json.dumps({
            'image': {'status': 'active', 'size': len(data),
                      'checksum': hashlib.md5(data).hexdigest(),
                      'chunks': [{'location': 'file://' + path, 'size': len(data),
                                  'checksum': None}]}}).encode())
    assert resp.status == 200, resp.body
    return resp.json()['image']


@pytest.mark.parametrize('case,disk_format,reason', UNSAFE)
def test_glance_fetch_refuses_planted_bytes_and_leaves_nothing(api_daemon, api, registry,  # noqa: F811,E501
                                                               datadir, images, tmp_path,
                                                               case, disk_format, reason):
    data = images.data(case)
    image = _record_behind_apis_back(registry, datadir, data, disk_format)
    assert api.request('GET', '/images/' + image['id'], USER).body == data
    dest = tmp_path / 'fetched'
    with pytest.raises(inspection.FormatRefused, match=re.escape(reason)):
        fetch.fetch_image(image['id'], str(dest), api_url=api_daemon.url,
                          context=TENANT)
    assert os.listdir(dest) == []


def test_bin_glance_fetch_refuses_with_one_line_and_exit_status_1(
        api_daemon, registry, datadir, images, tmp_path):  # noqa: F811
    image = _record_behind_apis_back(registry, datadir,
                                     images.data('vmdk_flat_descriptor'), 'vmdk')
    dest = tmp_path / 'fetched'
    result = subprocess.run(
        [sys.executable, os.path.join(daemons.REPO, 'bin', 'glance-fetch'), image['id'],
         '--dest', str(dest), '--api-url', api_daemon.url, '--tenant', 'tenant1',
         '--user', 'user1', '--roles', 'member'],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        'glance-fetch: error: Image refused: the vmdk image fails safety checks: '
        'descriptor')
    assert os.listdir(dest) == []


@pytest.fixture(scope='module')
def swift_api(tmp_path_factory, registry, swift_service):  # noqa: F811
    daemon = start_api(tmp_path_factory.mktemp('api-swift'), registry.url,
                       swift_service, 'swift')
    yield Api(daemon.url), SwiftObjects(swift_service)
    daemon.stop()


@pytest.mark.parametrize('case,disk_format,reason', [UNSAFE[0], UNSAFE[3]])
def test_unsafe_upload_to_swift_leaves_no_object(swift_api, registry, images,  # noqa: F811
                                                 case, disk_format, reason):
    api, objects = swift_api
    name = 'swift-unsafe-' + case
    assert_refused(upload(api, images.data(case), disk_format, name), reason)
    [record] = find_images(registry, name)
    assert record['status'] == 'killed'
    assert objects.names(record['id']) == []


def test_valid_qcow2_upload_to_swift_is_accepted(swift_api, images):
    api, objects = swift_api
    data = images.data('qcow2')
    resp = upload(api, data, 'qcow2', 'swift-qcow2')
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert (image['detected_format'], image['virtual_size']) == ('qcow2', PAYLOAD_SIZE)
    assert objects.names(image['id'])
    assert api.request('GET', '/images/' + image['id'], USER).body == data


@pytest.fixture(scope='module')
def converting(tmp_path_factory, registry):  # noqa: F811
    """(Api, work folder, datadir) of a glance-api converting uploads to raw."""
    work = tmp_path_factory.mktemp('conversion')
    datadir = str(tmp_path_factory.mktemp('converted-images'))
    daemon = daemons.api_daemon(
        tmp_path_factory.mktemp('api-convert'), registry.url,
        sections={'store:file': {'filesystem_store_datadir': datadir}},
        store_chunk_size=CHUNK, read_block_size='64K', convert_to='raw',
        conversion_work_dir=str(work), conversion_size_cap='32M')
    daemon.start()
    yield Api(daemon.url), work, datadir
    daemon.stop()


@pytest.mark.parametrize('case', ['qcow2', 'vmdk', 'vhdx'])
def test_conversion_to_raw_is_identical_to_the_source(converting, images, tmp_path,
                                                      case):
    api, work, _datadir = converting
    source = images.data(case)
    resp = upload(api, source, case, 'convert-' + case)
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert (image['disk_format'], image['detected_format']) == ('raw', 'raw')
    assert image['virtual_size'] == image['size'] == PAYLOAD_SIZE
    assert image['properties'] == {
        'source_disk_format': case, 'source_size': str(len(source)),
        'source_checksum': hashlib.md5(source).hexdigest(),
        'source_sha256': hashlib.sha256(source).hexdigest()}
    converted = api.request('GET', '/images/' + image['id'], USER).body
    assert hashlib.sha256(converted).hexdigest() == image['sha256']
    (tmp_path / 'converted.raw').write_bytes(converted)
    qemu_img('compare', '-f', case, '-F', 'raw', images.path(case),
             str(tmp_path / 'converted.raw'))
    assert os.listdir(work) == []


def test_raw_uploads_are_not_converted(converting, images):
    api, _work, _datadir = converting
    resp = upload(api, images.data('raw'), 'raw', 'convert-raw')
    assert resp.status == 201, resp.body
    assert resp.json()['image']['properties'] == {}


def test_conversion_refuses_an_unsafe_source_before_qemu_img(
        converting, registry, images):  # noqa: F811
    api, work, datadir = converting
    assert_refused(upload(api, images.data('qcow2_backing_file'), 'qcow2',
                          'convert-unsafe'), 'backing_file')
    [record] = find_images(registry, 'convert-unsafe')
    assert record['status'] == 'killed'
    assert os.listdir(work) == [] and image_files(datadir, record['id']) == []


def test_a_virtual_size_over_the_cap_is_413_and_cleaned(converting, registry, images):  # noqa: F811,E501
    api, work, datadir = converting
    resp = upload(api, images.data('qcow2_huge_virtual'), 'qcow2', 'convert-huge')
    assert resp.status == 413, resp.body
    assert 'conversion_size_cap' in resp.json()['error']['message']
    [record] = find_images(registry, 'convert-huge')
    assert record['status'] == 'killed'
    assert os.listdir(work) == [] and image_files(datadir, record['id']) == []


def test_qemu_img_over_its_memory_limit_kills_the_image(tmp_path, registry, images):  # noqa: F811,E501
    work = tmp_path / 'work'
    work.mkdir()
    datadir = str(tmp_path / 'images')
    os.mkdir(datadir)
    daemon = daemons.api_daemon(
        tmp_path / 'api', registry.url,
        sections={'store:file': {'filesystem_store_datadir': datadir}},
        convert_to='raw', conversion_work_dir=str(work), conversion_memory='16M')
    daemon.start()
    try:
        resp = upload(Api(daemon.url), images.data('qcow2'), 'qcow2', 'convert-oom')
    finally:
        daemon.stop()
    assert resp.status == 400, resp.body
    message = resp.json()['error']['message']
    assert message.startswith('Image conversion failed: qemu-img could not convert')
    assert str(work) not in message
    [record] = find_images(registry, 'convert-oom')
    assert record['status'] == 'killed'
    assert os.listdir(work) == [] and os.listdir(datadir) == []


def test_enforcement_off_warns_at_startup_and_stores_what_it_detected(
        tmp_path, registry, images):  # noqa: F811
    daemon = daemons.api_daemon(tmp_path / 'api', registry.url,
                                enforce_format_inspection='false')
    daemon.start()
    try:
        resp = upload(Api(daemon.url), images.data('qcow2_declared_raw'), 'raw',
                      'not-enforced')
        log = daemon.read_log() + daemon.read_stderr()
    finally:
        daemon.stop()
    assert 'enforce_format_inspection is OFF' in log
    assert 'would be refused: Image refused: disk_format is raw but the data is qcow2' in log
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert (image['disk_format'], image['detected_format']) == ('raw', 'qcow2')


def _register_over_http(api, folder, data, disk_format, name, parts=3):
    """Serve ``data`` from nginx as ``parts`` files and register them as one image."""
    step = len(data) // parts + 1
    locations = []
    for number in range(parts):
        with open(os.path.join(folder.root, '%s-%d' % (name, number)), 'wb') as out:
            out.write(data[number * step:(number + 1) * step])
        locations.append('%s/%s-%d' % (folder.url, name, number))
    return api.request('POST', '/images', dict(USER, **{
        'x-image-meta-name': name, 'x-image-meta-disk-format': disk_format,
        'x-image-meta-location': ', '.join(locations)}))


def test_http_registration_is_inspected_across_its_chunks(http_api, nginx_folder,  # noqa: F811,E501
                                                          images):
    resp = _register_over_http(http_api, nginx_folder, images.data('vmdk'), 'vmdk',
                               'http-vmdk')
    assert resp.status == 201, resp.body
    image = resp.json()['image']
    assert (image['status'], image['detected_format'], image['virtual_size']) == (
        'active', 'vmdk', PAYLOAD_SIZE)


def test_unsafe_http_registration_is_refused_and_its_objects_kept(
        http_api, nginx_folder, registry, images):  # noqa: F811
    data = images.data('qcow2_data_file')
    resp = _register_over_http(http_api, nginx_folder, data, 'qcow2', 'http-unsafe')
    assert_refused(resp, 'data_file')
    [record] = find_images(registry, 'http-unsafe')
    assert record['status'] == 'killed'
    kept = b''.join(pathlib.Path(nginx_folder.root, 'http-unsafe-%d' % n).read_bytes()
                    for n in range(3))
    assert kept == data
