"""Download verification: size and every digest glance-api announces."""

import hashlib
import io

import blake3
import pytest

from glance.client import streams, verify
from glance.common import exception

DATA = b'0123456789' * 1000


def _record(**overrides):
    record = {'id': 'i1', 'size': len(DATA), 'checksum': hashlib.md5(DATA).hexdigest(),
              'sha256': hashlib.sha256(DATA).hexdigest(),
              'blake3': blake3.blake3(DATA).hexdigest()}
    record.update(overrides)
    return {key: value for key, value in record.items() if value is not None}


def _verify(record, data=DATA, etag=None, server_verified=None):
    verifier = verify.Verifier(record, etag, server_verified)
    size = streams.copy_body(io.BytesIO(data), lambda block: None, verifier, 0,
                             len(data), 'i1', None, 4096)
    return verifier.check('i1', size)


def test_every_announced_digest_is_verified():
    assert dict(_verify(_record())) == {'md5': hashlib.md5(DATA).hexdigest(),
                                        'sha256': hashlib.sha256(DATA).hexdigest(),
                                        'blake3': blake3.blake3(DATA).hexdigest()}


def test_only_announced_digests_are_computed():
    verifier = verify.Verifier(_record(checksum=None, sha256=None))
    assert set(verifier.hashers) == {'blake3'}


@pytest.mark.parametrize('field, algorithm', [('checksum', 'md5'), ('sha256', 'sha256'),
                                              ('blake3', 'blake3')])
def test_a_changed_byte_fails_on_each_digest(field, algorithm):
    others = {other: None for other in ('checksum', 'sha256', 'blake3') if other != field}
    with pytest.raises(exception.ChecksumMismatch) as caught:
        _verify(_record(**others), DATA[:-1] + b'x')
    assert 'the %s of the data is' % algorithm in str(caught.value)
    assert 'x-image-meta-%s says' % field in str(caught.value)


def test_the_etag_is_an_md5_too():
    with pytest.raises(exception.ChecksumMismatch, match='the ETag says'):
        _verify(_record(checksum=None), etag='"%s"' % ('0' * 32))
    assert _verify(_record(), etag='W/"weak"')


def test_a_size_other_than_the_record_is_an_upstream_error():
    with pytest.raises(exception.UpstreamError, match='received 9999 bytes, its record '
                                                      'says 10000'):
        verify.Verifier(_record()).check('i1', 9999)


def test_a_short_body_is_interrupted():
    with pytest.raises(streams.TransferInterrupted, match='broke off after 10 of 11'):
        streams.copy_body(io.BytesIO(b'x' * 10), lambda block: None,
                          verify.Verifier({}), 0, 11, 'i1', None, 4)


@pytest.mark.parametrize('server_verified', ['blake3', 'sha256', 'md5', 'none', None])
def test_what_glance_api_verified_is_verified_here_too(server_verified):
    assert _verify(_record(), server_verified=server_verified)


def test_a_digest_glance_api_verified_but_did_not_announce_is_refused():
    with pytest.raises(exception.UpstreamError, match='verified it with blake3 but '
                                                      'announced no blake3'):
        _verify(_record(blake3=None), server_verified='blake3')


def test_nothing_announced_verifies_nothing():
    assert _verify({'id': 'i1'}) == ()


@pytest.mark.parametrize('source, blocks', [
    (DATA, [4096, 4096, 1808]), (io.BytesIO(DATA), [4096, 4096, 1808]),
    # An iterator's pieces are cut to the block size, never joined (no buffering).
    (iter([DATA[:5000], DATA[5000:]]), [4096, 904, 4096, 904])])
def test_upload_body_blocks_every_source_kind(source, blocks):
    seen = []
    body = streams.UploadBody(source, len(DATA), lambda sent, size: seen.append(sent),
                              4096)
    sent = list(body)
    assert [len(block) for block in sent] == blocks and b''.join(sent) == DATA
    assert seen[-1] == body.sent == len(DATA)
    body.check_record({'checksum': hashlib.md5(DATA).hexdigest(),
                       'sha256': hashlib.sha256(DATA).hexdigest()})
    with pytest.raises(exception.ChecksumMismatch, match='recorded sha256 00'):
        body.check_record({'id': 'i1', 'sha256': '0' * 64})


def test_body_length_is_known_for_bytes_and_seekable_streams_only(tmp_path):
    assert streams.body_length(iter([b'a'])) is None
    assert streams.body_length(b'abc') == 3
    stream = io.BytesIO(b'0123456789')
    stream.read(4)
    assert streams.body_length(stream) == 6 and stream.tell() == 4
    path = tmp_path / 'image'
    path.write_bytes(b'x' * 100)
    with open(path, 'rb') as handle:
        assert streams.body_length(handle) == 100
