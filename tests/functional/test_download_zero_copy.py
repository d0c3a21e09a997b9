"""The zero-copy download path through the real glance-api daemon (eventlet server).

An image uploaded into the file store is downloaded with curl: its chunks go out
with ``sendfile`` (seen in ``glance_zero_copy_bytes_total`` on ``/metrics``) while a
thread hashes them, and the bytes arrive intact. A chunk rotted on disk (its file
store ETag unchanged) makes the same path end the body short of ``Content-Length``,
which curl reports as a partial transfer, and glance-api logs the stop once. A
second download of an unchanged image is not hashed again (the verified-files memo,
seen in ``glance_downloads_verified_by_memo_total``), and a chunk rotted after that
is still a short read: rotting it changes its ctime.
"""

import hashlib
import os
import subprocess

import pytest
from prometheus_client import parser

from tests.data import random_bytes, rot_silently
from tests.functional import daemons
from tests.functional.test_api_images import USER, Api, image_files, stop_reason

CHUNK = 256 * 1024
DATA = random_bytes(4 * CHUNK + 4321, seed=21)
#: curl's exit code for a body that ended before its Content-Length.
CURL_PARTIAL_FILE = 18


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    folder = tmp_path_factory.mktemp('zero-copy')
    datadir = str(folder / 'images')
    registry = daemons.registry_daemon(folder / 'registry',
                                       'sqlite:///%s' % (folder / 'registry.db'))
    registry.start()
    try:
        api = daemons.api_daemon(folder / 'api', registry.url, store_chunk_size=CHUNK,
                                 filesystem_store_datadir=datadir).start()
    except BaseException:
        registry.stop()
        raise
    yield api, datadir
    api.stop()
    registry.stop()


def _metric(api, name):
    text = api.request('GET', '/metrics').body.decode()
    return sum(sample.value for family in parser.text_string_to_metric_families(text)
               for sample in family.samples if sample.name == name)


def _zero_copy_bytes(api):
    return _metric(api, 'glance_zero_copy_bytes_total')


def _curl(url, path):
    command = ['curl', '-s', '-o', str(path), '-w', '%{http_code}', url]
    for name, value in USER.items():
        command += ['-H', '%s: %s' % (name, value)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout


def _upload(api):
    resp = api.upload(DATA)
    assert resp.status == 201, resp.body
    return resp.json()['image']


def test_a_file_store_image_downloads_intact_with_sendfile(deployment, tmp_path):
    daemon, _ = deployment
    api = Api(daemon.url, daemon)
    image = _upload(api)
    before = _zero_copy_bytes(api)
    code, status = _curl(daemon.url + '/images/' + image['id'], tmp_path / 'out')
    assert (code, status) == (0, '200')
    received = (tmp_path / 'out').read_bytes()
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(DATA).hexdigest()
    # All but the first block (it carries the headers) and the held-back end.
    assert _zero_copy_bytes(api) - before >= len(DATA) - 2 * 64 * 1024


def test_a_rotted_chunk_is_a_short_read_on_the_sendfile_path(deployment, tmp_path):
    daemon, datadir = deployment
    api = Api(daemon.url, daemon)
    image = _upload(api)
    rot_silently(os.path.join(datadir, image_files(datadir, image['id'])[2]))
    before = _zero_copy_bytes(api)
    code, status = _curl(daemon.url + '/images/' + image['id'], tmp_path / 'out')
    assert (code, status) == (CURL_PARTIAL_FILE, '200')
    received = (tmp_path / 'out').read_bytes()
    assert 0 < len(received) < len(DATA)
    assert _zero_copy_bytes(api) - before > 0
    assert 'blake3 of the streamed data' in stop_reason(daemon, image['id'])


def test_a_verified_image_is_not_hashed_again_until_a_chunk_rots(deployment,
                                                                 tmp_path):
    daemon, datadir = deployment
    api = Api(daemon.url, daemon)
    image = _upload(api)
    url = daemon.url + '/images/' + image['id']
    assert _curl(url, tmp_path / 'first') == (0, '200')
    hits = _metric(api, 'glance_downloads_verified_by_memo_total')
    assert _curl(url, tmp_path / 'second') == (0, '200')
    assert (tmp_path / 'second').read_bytes() == DATA
    assert _metric(api, 'glance_downloads_verified_by_memo_total') == hits + 1
    rot_silently(os.path.join(datadir, image_files(datadir, image['id'])[1]))
    code, status = _curl(url, tmp_path / 'third')
    assert (code, status) == (CURL_PARTIAL_FILE, '200')
    assert 0 < len((tmp_path / 'third').read_bytes()) < len(DATA)
    assert _metric(api, 'glance_downloads_verified_by_memo_total') == hits + 1
    assert 'blake3 of the streamed data' in stop_reason(daemon, image['id'])
