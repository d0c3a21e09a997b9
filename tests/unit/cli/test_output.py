"""Tables, detail blocks and sizes printed by the glance command."""

import json

import pytest

from glance.cli import output


@pytest.mark.parametrize('size, text', [(None, '-'), (0, '0 B'), (1023, '1023 B'),
                                        (1024, '1.0 KiB'), (1536 * 1024, '1.5 MiB'),
                                        (5 * 1024 ** 3, '5.0 GiB'),
                                        (3 * 1024 ** 6, '3072.0 PiB')])
def test_human_size(size, text):
    assert output.human_size(size) == text


def test_image_table_aligns_columns_and_right_aligns_sizes():
    table = output.image_table([
        {'id': 'a1', 'name': 'long name', 'disk_format': 'raw',
         'container_format': 'bare', 'size': 5, 'status': 'active'},
        {'id': 'b2', 'name': None, 'disk_format': None, 'container_format': None,
         'size': 12345, 'status': 'queued'}]).splitlines()
    assert table[0] == 'ID Name      Disk Format Container Format  Size Status'
    assert table[1].split() == ['--', '---------', '-----------', '----------------',
                                '-----', '------']
    assert table[2] == 'a1 long name raw         bare                 5 active'
    assert table[3] == 'b2' + ' ' * 40 + '12345 queued'
    assert table[2].index('5 active') == table[3].index('5 queued')


def test_image_details_lists_set_fields_then_properties():
    text = output.image_details({'id': 'a1', 'name': 'n', 'is_public': False,
                                 'size': 2048, 'checksum': None,
                                 'properties': {'os': 'linux', 'arch': 'x86'}})
    assert text.splitlines() == ['Id: a1', 'Name: n', 'Public: No', 'Size: 2048 (2.0 KiB)',
                                 "Property 'arch': x86", "Property 'os': linux"]


def test_image_details_show_every_digest_the_record_holds():
    text = output.image_details({'id': 'a1', 'checksum': 'a' * 32, 'sha256': 'b' * 64,
                                 'xxh3': 'c' * 32, 'blake3': 'd' * 64,
                                 'owner': 'tenant1', 'properties': {'k': 'e' * 32}})
    assert text.splitlines() == [
        'Id: a1', 'Owner: tenant1', 'Checksum (md5): ' + 'a' * 32,
        'Checksum (blake3): ' + 'd' * 64, 'Checksum (sha256): ' + 'b' * 64,
        'Checksum (xxh3): ' + 'c' * 32, "Property 'k': " + 'e' * 32]


def test_details_list_separates_images_with_rules():
    text = output.details_list([{'id': 'a'}, {'id': 'b'}])
    assert text.count('=' * 78) == 3 and 'Id: a' in text and 'Id: b' in text
    assert output.details_list([]) == ''


def test_json_is_sorted_and_keeps_unicode():
    text = output.to_json({'b': 'café', 'a': 1})
    assert text.index('"a"') < text.index('"b"') and 'café' in text
    assert json.loads(text) == {'a': 1, 'b': 'café'}
