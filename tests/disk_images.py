"""Real disk images for the format-safety tests, made with ``qemu-img`` and genisoimage.

``tools/test-setup.sh`` installs both (Debian's ``qemu-utils`` and ``genisoimage``).
:class:`DiskImages` builds each image once into a folder and returns its bytes;
:data:`UNSAFE` and :data:`VALID` list the cases every layer is tested with.
"""

import os
import shutil
import struct
import subprocess

import pytest

from tests.data import random_bytes

#: Bytes of guest data in every valid image (a few clusters, several upload chunks).
PAYLOAD_SIZE = 3 * 1024 * 1024 + 4096
#: The host file the hostile images point at.
HOST_FILE = '/etc/passwd'

#: ``(case, declared disk_format, words the 400 must contain)`` of refused images.
UNSAFE = (
    ('qcow2_backing_file', 'qcow2', 'backing_file'),
    ('qcow2_data_file', 'qcow2', 'data_file'),
    ('vmdk_flat_descriptor', 'vmdk', 'descriptor'),
    ('qcow2_declared_raw', 'raw', 'disk_format is raw but the data is qcow2'),
    ('raw_declared_qcow2', 'qcow2', 'disk_format is qcow2 but the data is raw'),
    ('qcow2_truncated_header', 'qcow2', 'disk_format is qcow2 but the data is raw'),
    ('mbr_bad_boot_flag', 'raw', 'the gpt image fails safety checks: mbr'),
    ('iso_hybrid_declared_raw', 'raw', 'the data matches several formats (gpt, iso)'),
)
#: ``(case, disk_format, detected format)`` of accepted images.
VALID = (
    ('qcow2', 'qcow2', 'qcow2'),
    ('raw', 'raw', 'raw'),
    ('vmdk', 'vmdk', 'vmdk'),
    ('vhdx', 'vhdx', 'vhdx'),
    ('iso', 'iso', 'iso'),
    ('raw_gpt', 'raw', 'gpt'),
    ('iso_hybrid', 'iso', 'iso'),
)
#: Valid cases whose virtual size is their file size (no header giving another).
SIZE_IS_VIRTUAL_SIZE = ('raw', 'iso', 'raw_gpt', 'iso_hybrid')


def require_tools():
    """Skip (or fail under CI) when qemu-img or genisoimage is missing."""
    missing = [tool for tool in ('qemu-img', 'genisoimage') if not shutil.which(tool)]
    if missing:
        message = '%s missing: run tools/test-setup.sh' % ', '.join(missing)
        if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
            pytest.fail(message)
        pytest.skip(message)


def qemu_img(*args):
    """Run ``qemu-img`` and return its stdout; fail the test on an error."""
    result = subprocess.run(('qemu-img',) + args, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


class DiskImages:
    """Builds the test images in ``folder`` on first use.

    :param folder: a scratch directory (a ``tmp_path``).
    """

    def __init__(self, folder):
        require_tools()
        self.folder = str(folder)
        self.payload = random_bytes(PAYLOAD_SIZE, seed=14)

    def path(self, case):
        """Return the path of the image for ``case`` (one of UNSAFE or VALID)."""
        path = os.path.join(self.folder, case)
        if not os.path.exists(path):
            getattr(self, '_make_' + case)(path)
        return path

    def data(self, case):
        """Return the bytes of the image for ``case``."""
        with open(self.path(case), 'rb') as image:
            return image.read()

    def _make_raw(self, path):
        with open(path, 'wb') as image:
            image.write(self.payload)

    def _convert(self, path, fmt, *options):
        qemu_img('convert', '-f', 'raw', '-O', fmt, *options, self.path('raw'), path)

    def _make_qcow2(self, path):
        self._convert(path, 'qcow2')

    def _make_vmdk(self, path):
        self._convert(path, 'vmdk', '-o', 'subformat=streamOptimized')

    def _make_vhdx(self, path):
        self._convert(path, 'vhdx')

    def _make_iso(self, path):
        tree = path + '.d'
        os.makedirs(tree)
        shutil.copy(self.path('raw'), os.path.join(tree, 'disk.img'))
        subprocess.run(['genisoimage', '-quiet', '-V', 'GLANCE', '-o', path, tree],
                       check=True)

    def _make_qcow2_backing_file(self, path):
        qemu_img('create', '-f', 'qcow2', '-b', HOST_FILE, '-F', 'raw', path, '1M')

    def _make_qcow2_data_file(self, path):
        # qemu-img creates (and so truncates) the data file: point it at a scratch
        # file, which is a host path all the same.
        qemu_img('create', '-f', 'qcow2', '-o', 'data_file=%s.data' % path, path, '1M')

    def _make_vmdk_flat_descriptor(self, path):
        qemu_img('create', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', path, '1M')
        with open(path, encoding='ascii') as descriptor:
            text = descriptor.read()
        extent = '"%s-flat"' % os.path.basename(path)
        assert extent in text
        with open(path, 'w', encoding='ascii') as descriptor:
            descriptor.write(text.replace(extent, '"%s"' % HOST_FILE))

    @staticmethod
    def _with_mbr(path, data, boot_flag):
        # A protective MBR (one 0xEE partition from LBA 1) and a GPT header: how
        # every GPT-partitioned raw disk starts, and what isohybrid puts in an ISO's
        # unused system area so that it also boots from a USB stick.
        entry = struct.pack('<B3BB3BII', boot_flag, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1,
                            len(data) // 512 - 1)
        mbr = bytes(446) + entry + bytes(48) + b'\x55\xaa'
        with open(path, 'wb') as image:
            image.write(mbr + b'EFI PART' + data[520:])

    def _make_raw_gpt(self, path):
        self._with_mbr(path, self.payload, 0x00)

    def _make_mbr_bad_boot_flag(self, path):
        self._with_mbr(path, self.payload, 0x42)

    def _make_iso_hybrid(self, path):
        self._with_mbr(path, self.data('iso'), 0x00)

    def _make_iso_hybrid_declared_raw(self, path):
        shutil.copy(self.path('iso_hybrid'), path)

    def _make_qcow2_huge_virtual(self, path):
        qemu_img('create', '-f', 'qcow2', path, '1G')

    def _make_qcow2_declared_raw(self, path):
        shutil.copy(self.path('qcow2'), path)

    def _make_raw_declared_qcow2(self, path):
        shutil.copy(self.path('raw'), path)

    def _make_qcow2_truncated_header(self, path):
        with open(path, 'wb') as image:
            image.write(self.data('qcow2')[:48])
