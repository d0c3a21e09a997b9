"""Resumable, verified downloads (glance.agent.fetch) against a small WSGI image server.

The server is WebOb's conditional response behind wsgiref on 127.0.0.1, so ``Range``,
``If-Range`` and 416 are answered by the same machinery glance-api uses; switches
make it misbehave in the ways the client must survive (a changed image, a server that
ignores ``If-Range``, a short body, a wrong checksum).
"""

import hashlib
import io
import os
import tarfile

import blake3
import pytest
import webob

from glance.agent import fetch, unbundle
from glance.client import images
from glance.common import exception
from tests.unit.common.test_client import serve_wsgi

IMAGE_ID = '6d2bfc86-2ee4-4c1c-8f3e-2a39b52a5f9c'


class ImageServer:
    """A WSGI app serving one image the way glance-api does, with switches.

    :ivar requests: ``(method, path_qs, Range, If-Range)`` of every request.
    """

    def __init__(self, data, container_format='bare'):
        self.data = data
        self.container_format = container_format
        self.etag = None
        self.weak = False
        self.ignore_if_range = False
        self.short_by = 0
        self.checksum = None
        self.sha256 = None
        self.blake3 = None
        self.requests = []

    def __call__(self, environ, start_response):
        self.requests.append((environ['REQUEST_METHOD'],
                              environ['PATH_INFO'] + '?' + environ.get('QUERY_STRING', ''),
                              environ.get('HTTP_RANGE'), environ.get('HTTP_IF_RANGE')))
        if self.ignore_if_range:
            environ.pop('HTTP_IF_RANGE', None)
        md5 = hashlib.md5(self.data).hexdigest()
        body = self.data[:len(self.data) - self.short_by]
        response = webob.Response(app_iter=[body], content_length=len(self.data),
                                  content_type='application/octet-stream',
                                  conditional_response=True)
        response.etag = self.etag or md5
        if self.weak:
            response.headers['ETag'] = 'W/' + response.headers['ETag']
        for name, value in (('id', IMAGE_ID), ('size', str(len(self.data))),
                            ('checksum', self.checksum or md5),
                            ('sha256', self.sha256 or hashlib.sha256(self.data).hexdigest()),
                            ('container_format', self.container_format),
                            ('disk_format', 'raw')):
            response.headers['x-image-meta-' + name] = value
        if self.blake3:
            response.headers['x-image-meta-blake3'] = self.blake3
        return response(environ, start_response)


@pytest.fixture
def server():
    image = ImageServer(os.urandom(300000))
    with serve_wsgi(image) as url:
        image.client = images.ImageClient(url, timeout=10)
        yield image


def _partial(path, data, etag):
    with open(path + '.part', 'wb') as part:
        part.write(data)
    if etag is not None:
        with open(path + '.part.etag', 'w') as note:
            note.write(etag)


def test_fresh_download_is_verified_and_leaves_no_partial_files(server, tmp_path):
    path = str(tmp_path / 'img')
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert open(path, 'rb').read() == server.data
    assert result.resumed_from == 0 and result.size == len(server.data)
    assert dict(result.verified) == {'md5': hashlib.md5(server.data).hexdigest(),
                                     'sha256': hashlib.sha256(server.data).hexdigest()}
    assert sorted(os.listdir(tmp_path)) == ['img']
    assert server.requests == [('GET', '/images/%s?' % IMAGE_ID, None, None)]


def test_resume_asks_for_the_rest_with_range_and_if_range(server, tmp_path):
    path = str(tmp_path / 'img')
    etag = '"%s"' % hashlib.md5(server.data).hexdigest()
    _partial(path, server.data[:100000], etag)
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 100000
    assert open(path, 'rb').read() == server.data
    assert server.requests[0][2:] == ('bytes=100000-', etag)
    assert len(server.requests) == 1


def test_changed_image_is_fetched_whole_again(server, tmp_path):
    path = str(tmp_path / 'img')
    _partial(path, b'old image bytes', '"%s"' % ('0' * 32))
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 0
    assert open(path, 'rb').read() == server.data
    assert len(server.requests) == 1


def test_206_with_another_etag_is_never_appended(server, tmp_path):
    server.ignore_if_range = True
    path = str(tmp_path / 'img')
    _partial(path, b'x' * 1000, '"%s"' % ('1' * 32))
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 0
    assert open(path, 'rb').read() == server.data
    assert [request[2] for request in server.requests] == ['bytes=1000-', None]


def test_partial_file_longer_than_the_image_gets_416_and_restarts(server, tmp_path):
    path = str(tmp_path / 'img')
    etag = '"%s"' % hashlib.md5(server.data).hexdigest()
    _partial(path, server.data + b'junk', etag)
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 0
    assert open(path, 'rb').read() == server.data


def test_short_body_keeps_the_partial_file_for_a_resume(server, tmp_path):
    server.short_by = 1000
    path = str(tmp_path / 'img')
    with pytest.raises(fetch.TransferInterrupted) as caught:
        fetch.download_to_file(server.client, IMAGE_ID, path)
    assert 'after 299000 of 300000 bytes' in str(caught.value)
    assert 'img.part is kept' in str(caught.value)
    assert os.path.getsize(path + '.part') == 299000
    assert not os.path.exists(path)
    server.short_by = 0
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 299000
    assert open(path, 'rb').read() == server.data


def test_blake3_is_verified_when_glance_api_sends_it(server, tmp_path):
    server.blake3 = blake3.blake3(server.data).hexdigest()
    result = fetch.download_to_file(server.client, IMAGE_ID, str(tmp_path / 'img'))
    assert dict(result.verified)['blake3'] == server.blake3


def test_resumed_download_is_verified_with_blake3_over_the_whole_file(server, tmp_path):
    server.blake3 = blake3.blake3(server.data).hexdigest()
    path = str(tmp_path / 'img')
    _partial(path, server.data[:1000], '"%s"' % hashlib.md5(server.data).hexdigest())
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 1000
    assert dict(result.verified)['blake3'] == server.blake3


@pytest.mark.parametrize('field', ['checksum', 'sha256', 'blake3'])
def test_checksum_mismatch_removes_the_partial_file(server, tmp_path, field):
    setattr(server, field, 'a' * (32 if field == 'checksum' else 64))
    path = str(tmp_path / 'img')
    with pytest.raises(exception.ChecksumMismatch, match='x-image-meta-' + field):
        fetch.download_to_file(server.client, IMAGE_ID, path)
    assert os.listdir(tmp_path) == []


def test_etag_that_is_not_the_md5_is_checked_too(server, tmp_path):
    server.etag = 'b' * 32
    with pytest.raises(exception.ChecksumMismatch, match='the ETag'):
        fetch.download_to_file(server.client, IMAGE_ID, str(tmp_path / 'img'))


def test_weak_etag_is_not_noted_so_no_resume_is_attempted(server, tmp_path):
    server.short_by = 10
    server.weak = True
    path = str(tmp_path / 'img')
    with pytest.raises(fetch.TransferInterrupted):
        fetch.download_to_file(server.client, IMAGE_ID, path)
    assert sorted(os.listdir(tmp_path)) == ['img.part']
    server.short_by = 0
    result = fetch.download_to_file(server.client, IMAGE_ID, path)
    assert result.resumed_from == 0
    assert server.requests[-1][2] is None
    assert open(path, 'rb').read() == server.data


def test_a_second_fetch_of_the_same_file_is_refused_while_one_runs(server, tmp_path):
    path = str(tmp_path / 'img')
    with fetch._PartFile(path + '.part'):
        with pytest.raises(exception.Conflict, match='another fetch'):
            fetch.download_to_file(server.client, IMAGE_ID, path)


def test_image_uri_is_fetched_with_the_uri_query(server, tmp_path):
    uri = 'http://registry.example:9191/images/' + IMAGE_ID
    result = fetch.download_to_file(server.client, uri, str(tmp_path / 'img'))
    assert result.image_id == IMAGE_ID
    assert server.requests[0][1] == '/images?uri=' + uri.replace(':', '%3A').replace(
        '/', '%2F')


def test_stream_image_writes_then_verifies(server):
    out = io.BytesIO()
    seen = []
    result = fetch.stream_image(server.client, IMAGE_ID, out,
                                lambda done, total: seen.append((done, total)))
    assert out.getvalue() == server.data
    assert seen[0] == (0, 300000) and seen[-1] == (300000, 300000)
    assert result.path is None and len(result.verified) == 2


def test_stream_image_reports_a_mismatch_after_writing(server):
    server.checksum = 'c' * 32
    with pytest.raises(exception.ChecksumMismatch):
        fetch.stream_image(server.client, IMAGE_ID, io.BytesIO())


@pytest.mark.parametrize('ref, name', [
    (IMAGE_ID, IMAGE_ID), ('http://r:9191/images/' + IMAGE_ID, IMAGE_ID)])
def test_image_file_name_is_the_id(ref, name):
    assert fetch.image_file_name(ref) == name


@pytest.mark.parametrize('ref', ['..', 'http://r/images/../x', 'a/b', '', '.hidden'])
def test_image_file_name_refuses_unsafe_names(ref):
    with pytest.raises(exception.Invalid):
        fetch.image_file_name(ref)


def _tgz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_image_unbundles_into_a_directory_named_by_id(tmp_path):
    image = ImageServer(_tgz([('disk.img', b'D' * 5000), ('meta/info', b'i')]), 'tgz')
    with serve_wsgi(image) as url:
        result = fetch.fetch_image(IMAGE_ID, str(tmp_path / 'images'), api_url=url,
                                   unbundle=True)
    dest = tmp_path / 'images' / IMAGE_ID
    assert result.path == str(dest) and result.format == 'tgz' and result.members == 2
    assert (dest / 'disk.img').read_bytes() == b'D' * 5000
    assert os.listdir(tmp_path / 'images') == [IMAGE_ID]


def test_fetch_image_leaves_raw_as_the_downloaded_file(tmp_path):
    image = ImageServer(b'\xeb\x63' + os.urandom(2000), 'bare')
    with serve_wsgi(image) as url:
        result = fetch.fetch_image(IMAGE_ID, str(tmp_path), api_url=url, unbundle=True)
    assert result.format == 'raw'
    assert (tmp_path / IMAGE_ID).read_bytes() == image.data
    assert os.listdir(tmp_path) == [IMAGE_ID]


def test_fetch_image_refusing_an_archive_leaves_nothing(tmp_path):
    image = ImageServer(_tgz([('ok', b'1'), ('../escape', b'2')]), 'tgz')
    with serve_wsgi(image) as url:
        with pytest.raises(unbundle.UnsafeArchive, match="'../escape'"):
            fetch.fetch_image(IMAGE_ID, str(tmp_path / 'd'), api_url=url, unbundle=True)
    assert os.listdir(tmp_path / 'd') == []
    assert not os.path.exists(tmp_path / 'escape')


def test_fetch_image_will_not_overwrite_an_existing_result(server, tmp_path):
    (tmp_path / IMAGE_ID).write_bytes(b'mine')
    with pytest.raises(exception.Duplicate, match='already exists'):
        fetch.fetch_image(IMAGE_ID, str(tmp_path), api_url=server.client.url)
    assert (tmp_path / IMAGE_ID).read_bytes() == b'mine'
