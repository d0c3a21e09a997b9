"""glance-fetch (the node agent) against real glance-registry and glance-api daemons.

Images are uploaded with ``bin/glance``, then fetched by their URI through glance-api
with ``bin/glance-fetch`` (and once through :func:`glance.agent.fetch.fetch_image`, as
Nova would). A :class:`~tests.functional.test_cli.CuttingProxy` between the two cuts
or corrupts the transfer.
"""

import gzip
import hashlib
import io
import os
import tarfile
import zipfile

import blake3
import pytest

from glance.agent import fetch, unbundle
from glance.common import context
from tests.functional import daemons, test_cli
from tests.functional.test_cli import (STORE_CHUNK, TENANT1, add_image, cli_env,
                                       random_bytes, run_cli, run_on_pty)

GLANCE_FETCH = os.path.join(daemons.REPO, 'bin', 'glance-fetch')
#: The daemons and the proxy fixtures of test_cli.py, for this module too.
services = test_cli.services
proxy = test_cli.proxy


def run_fetch(services, *args):
    """Run ``bin/glance-fetch`` with the module's glance-api and tenant1's identity."""
    return run_cli(services, *args, program=GLANCE_FETCH)


def _tar(members, mode='w:gz'):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_fetch_by_uri_writes_the_verified_image(services, tmp_path):
    data = random_bytes(3 * STORE_CHUNK + 7, seed=10)
    image = add_image(services, tmp_path, data)
    dest = tmp_path / 'images'
    result = run_fetch(services, image['uri'], '--dest', dest, '--json')
    assert result.status == 0, result.stderr
    summary = result.json()
    assert summary == {'image_id': image['id'], 'path': str(dest / image['id']),
                       'size': len(data), 'resumed_from': 0, 'format': None,
                       'members': None,
                       'verified': {'blake3': blake3.blake3(data).hexdigest(),
                                    'md5': hashlib.md5(data).hexdigest(),
                                    'sha256': hashlib.sha256(data).hexdigest()}}
    assert (dest / image['id']).read_bytes() == data
    assert os.listdir(dest) == [image['id']]
    again = run_fetch(services, image['uri'], '--dest', dest)
    again.assert_one_line_error(1, 'already exists')


def test_fetch_resumes_with_range_after_a_cut_connection(services, proxy, tmp_path):
    data = random_bytes(5 * STORE_CHUNK, seed=11)
    image = add_image(services, tmp_path, data)
    dest = tmp_path / 'images'
    proxy.cut_after = 2 * STORE_CHUNK + 12345
    cut = run_fetch(services, image['uri'], '--dest', dest, '--api-url', proxy.url)
    cut.assert_one_line_error(1, 'broke off after %d of %d bytes'
                              % (2 * STORE_CHUNK + 12345, len(data)))
    assert sorted(os.listdir(dest)) == [image['id'] + '.part', image['id'] + '.part.etag']
    assert os.path.getsize(dest / (image['id'] + '.part')) == 2 * STORE_CHUNK + 12345

    proxy.cut_after = None
    resumed = run_fetch(services, image['uri'], '--dest', dest, '--api-url', proxy.url)
    assert resumed.status == 0, resumed.stderr
    assert 'resumed at byte %d' % (2 * STORE_CHUNK + 12345) in resumed.out
    assert 'Verified blake3 %s, md5 %s' % (blake3.blake3(data).hexdigest(),
                                           hashlib.md5(data).hexdigest()) in resumed.out
    assert (dest / image['id']).read_bytes() == data
    assert os.listdir(dest) == [image['id']]
    request = proxy.exchanges[-1]['request'].decode('latin-1')
    assert request.startswith('GET /images?uri=')
    assert 'Range: bytes=%d-' % (2 * STORE_CHUNK + 12345) in request
    assert 'If-Range: "%s"' % image['checksum'] in request
    assert proxy.exchanges[-1]['status'].startswith('HTTP/1.1 206')


def test_partial_file_of_another_image_version_is_fetched_whole(services, proxy,
                                                                tmp_path):
    data = random_bytes(STORE_CHUNK + 5, seed=12)
    image = add_image(services, tmp_path, data)
    dest = tmp_path / 'images'
    dest.mkdir()
    (dest / (image['id'] + '.part')).write_bytes(b'bytes of an older upload')
    (dest / (image['id'] + '.part.etag')).write_text('"%s"' % ('0' * 32))
    result = run_fetch(services, image['uri'], '--dest', dest, '--api-url', proxy.url)
    assert result.status == 0, result.stderr
    assert 'resumed' not in result.out
    assert (dest / image['id']).read_bytes() == data
    assert 'If-Range: "%s"' % ('0' * 32) in proxy.exchanges[-1]['request'].decode()
    assert proxy.exchanges[-1]['status'].startswith('HTTP/1.1 200')


def test_corruption_in_transit_is_caught_and_nothing_is_kept(services, proxy, tmp_path):
    data = random_bytes(2 * STORE_CHUNK, seed=13)
    image = add_image(services, tmp_path, data)
    proxy.corrupt_at = STORE_CHUNK + 3
    dest = tmp_path / 'images'
    result = run_fetch(services, image['uri'], '--dest', dest, '--api-url', proxy.url,
                       '--unbundle')
    result.assert_one_line_error(1, 'Checksum mismatch for image %s' % image['id'])
    assert os.listdir(dest) == []


BUNDLE_MEMBERS = [('disk.img', b'D' * 70000), ('etc/info', b'i')]


@pytest.mark.parametrize('container_format, bundle', [
    ('tgz', _tar(BUNDLE_MEMBERS)), ('tar', _tar(BUNDLE_MEMBERS, 'w')),
    ('zip', _zip(BUNDLE_MEMBERS))])
def test_unbundle_by_declared_container_format(services, tmp_path, container_format,
                                               bundle):
    image = add_image(services, tmp_path, bundle, [
        'name=bundle', 'disk_format=raw', 'container_format=%s' % container_format])
    dest = tmp_path / 'images'
    result = run_fetch(services, image['uri'], '--dest', dest, '--unbundle', '--json')
    assert result.status == 0, result.stderr
    assert (result.json()['format'], result.json()['members']) == (container_format, 2)
    unpacked = dest / image['id']
    assert sorted(os.listdir(unpacked)) == ['disk.img', 'etc']
    assert (unpacked / 'disk.img').read_bytes() == b'D' * 70000
    assert (unpacked / 'etc' / 'info').read_bytes() == b'i'
    assert os.listdir(dest) == [image['id']]


def test_unbundle_sniffs_gzip_and_leaves_raw_alone(services, tmp_path):
    payload = random_bytes(100000, seed=14) + bytes(200000)
    gz = add_image(services, tmp_path, gzip.compress(payload),
                   ['name=gz', 'disk_format=raw'])
    raw = add_image(services, tmp_path, payload, ['name=raw', 'disk_format=raw',
                                                  'container_format=bare'])
    dest = tmp_path / 'images'
    for image, expected in ((gz, 'gzip'), (raw, 'raw')):
        result = run_fetch(services, image['uri'], '--dest', dest, '--unbundle')
        assert result.status == 0, result.stderr
        assert 'Unbundled as %s: 1 member(s).' % expected in result.out
        assert (dest / image['id']).read_bytes() == payload
    assert sorted(os.listdir(dest)) == sorted([gz['id'], raw['id']])


@pytest.mark.parametrize('members, offender', [
    ([('ok.txt', b'1'), ('../../escape', b'2')], '../../escape'),
    ([('/etc/cron.d/evil', b'2')], '/etc/cron.d/evil'),
])
def test_hostile_archive_is_refused_naming_the_member(services, tmp_path, members,
                                                      offender):
    image = add_image(services, tmp_path, _tar(members), ['name=hostile',
                                                          'container_format=tgz'])
    dest = tmp_path / 'deep' / 'images'
    result = run_fetch(services, image['uri'], '--dest', dest, '--unbundle')
    result.assert_one_line_error(1, 'refused archive member %r' % offender)
    assert 'nothing was unpacked' in result.stderr
    assert os.listdir(dest) == []
    assert sorted(os.listdir(tmp_path / 'deep')) == ['images']


def test_archive_bomb_is_refused_by_max_size_and_max_members(services, tmp_path):
    bomb = add_image(services, tmp_path, _tar([('zeros', bytes(3 * 1024 * 1024))]),
                     ['name=bomb', 'container_format=tgz'])
    many = add_image(services, tmp_path, _zip([('f%d' % i, b'') for i in range(30)]),
                     ['name=many', 'container_format=zip'])
    dest = tmp_path / 'images'
    by_size = run_fetch(services, bomb['uri'], '--dest', dest, '--unbundle',
                        '--max-size', '1M')
    by_size.assert_one_line_error(1, "refused archive member 'zeros'")
    assert 'max_size' in by_size.stderr
    by_count = run_fetch(services, many['uri'], '--dest', dest, '--unbundle',
                         '--max-members', '20')
    by_count.assert_one_line_error(1, "refused archive member 'f20'")
    assert os.listdir(dest) == []


def test_missing_image_is_one_line_and_leaves_nothing(services, tmp_path):
    uri = services.registry_url + '/images/00000000-0000-0000-0000-000000000000'
    result = run_fetch(services, uri, '--dest', tmp_path)
    result.assert_one_line_error(1, 'No image found')
    assert os.listdir(tmp_path) == []
    run_fetch(services, 'http://elsewhere:9191/images/00000000-0000-0000-0000-0000000000'
              '00', '--dest', tmp_path).assert_one_line_error(1, 'unknown registry')


def test_fetch_image_is_importable_for_nova(services, tmp_path):
    data = _tar([('kernel', b'K' * 1000)])
    image = add_image(services, tmp_path, data, ['name=py', 'container_format=tgz'])
    progress = []
    result = fetch.fetch_image(
        image['uri'], str(tmp_path / 'images'), api_url=services.api_url,
        context=context.RequestContext('tenant1', 'user1', ['member']), unbundle=True,
        limits=unbundle.Limits(max_size=10000, max_members=5),
        progress=lambda done, total: progress.append((done, total)))
    assert result.format == 'tgz' and result.image_id == image['id']
    assert (tmp_path / 'images' / image['id'] / 'kernel').read_bytes() == b'K' * 1000
    assert progress[-1] == (len(data), len(data))


def test_progress_on_a_terminal_only(services, tmp_path):
    image = add_image(services, tmp_path, random_bytes(2 * STORE_CHUNK, seed=15))
    status, terminal = run_on_pty([GLANCE_FETCH, image['uri'], '--dest',
                                   tmp_path / 'tty'], cli_env(services, TENANT1),
                                  tmp_path / 'out.txt')
    assert status == 0, terminal
    assert '\r' in terminal and 'Fetching' in terminal and '100%' in terminal
    assert '512.0 KiB / 512.0 KiB' in terminal
    piped = run_fetch(services, image['uri'], '--dest', tmp_path / 'pipe')
    assert piped.status == 0 and piped.stderr == ''
    assert '\r' not in piped.out and '%' not in piped.out
