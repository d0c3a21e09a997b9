"""Convert uploaded images to the deployment's preferred format with ``qemu-img``.

Most Ceph- and raw-backed clouds want every image ``raw``. With ``convert_to`` set,
an upload whose ``disk_format`` is one of ``convert_from`` is not written to the store
as it arrives. Instead:

1. the body is staged, through the format inspector and the hashers, as one file in
   a private folder under ``conversion_work_dir`` (at most ``conversion_size_cap``
   bytes), and the inspector's verdict must pass (see :mod:`glance.api.inspection`),
   so ``qemu-img`` never opens an image that names a host file;
2. the virtual size must fit ``conversion_size_cap`` (the output is that large);
3. ``qemu-img convert -f <detected> -O <convert_to>`` runs under ``prlimit`` with a
   CPU-time limit, an address-space limit and a file-size limit (crafted images have
   exhausted qemu-img: CVE-2015-5162);
4. the output is streamed into the store in ``store_chunk_size`` objects by the
   ordinary upload path, inspected and hashed again on the way.

The folder is removed whatever happens. The image records the converted data
(``disk_format``, size and digests) and, as properties, the source's
``source_disk_format``, ``source_size``, ``source_checksum`` (md5) and
``source_sha256``. A failure kills the image like any failed upload.

Options (``[DEFAULT]`` of glance-api.conf):

======================== ============== ==============================================
option                   default        meaning
======================== ============== ==============================================
convert_to               (empty)        target format (``raw``, ``qcow2``...); empty
                                        disables conversion
convert_from             qcow2,vmdk,    source disk formats converted; others are
                         vhd,vhdx,vdi   stored as uploaded
conversion_work_dir      system temp    folder for the staged source and the output
conversion_size_cap      20G            largest source, and largest virtual size
conversion_cpu_seconds   300            CPU seconds allowed to one ``qemu-img``
conversion_memory        1G             address space allowed to one ``qemu-img``
qemu_img                 qemu-img       the ``qemu-img`` program (Debian qemu-utils)
======================== ============== ==============================================
"""

import contextlib
import dataclasses
import logging
import os
import shutil
import subprocess
import tempfile
import urllib.parse

from glance.api import upload
from glance.common import config, exception
from glance.store.filesystem import FilesystemStore

LOG = logging.getLogger(__name__)

#: qemu-img's name of each disk_format it writes or reads.
QEMU_FORMATS = {'raw': 'raw', 'qcow2': 'qcow2', 'vmdk': 'vmdk', 'vhd': 'vpc',
                'vhdx': 'vhdx', 'vdi': 'vdi'}


class ConversionFailed(exception.Invalid):
    """qemu-img could not convert the image within its limits (400)."""

    template = 'Image conversion failed: %(reason)s'


@dataclasses.dataclass(frozen=True)
class ConversionOptions:
    """The typed conversion options (see the module table)."""

    convert_to: str | None = None
    convert_from: tuple = ('qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi')
    work_dir: str | None = None
    size_cap: int = 20 * 1024 ** 3
    cpu_seconds: int = 300
    memory: int = 1024 ** 3
    qemu_img: str = 'qemu-img'

    @classmethod
    def from_conf(cls, conf):
        """Parse the options.

        :raises ConfigError: for a format qemu-img cannot write or read here, a
            missing work folder or a ``qemu_img`` that is not installed.
        """
        opts = config.Options(conf, 'DEFAULT')
        defaults = cls()
        options = cls(
            convert_to=(opts.get_str('convert_to', '') or '').lower() or None,
            convert_from=tuple(item.lower() for item in opts.get_list(
                'convert_from', defaults.convert_from)),
            work_dir=opts.get_path('conversion_work_dir', '') or None,
            size_cap=opts.get_size('conversion_size_cap', defaults.size_cap, minimum=1),
            cpu_seconds=opts.get_int('conversion_cpu_seconds', defaults.cpu_seconds,
                                     minimum=1),
            memory=opts.get_size('conversion_memory', defaults.memory,
                                 minimum=16 * 1024 ** 2),
            qemu_img=opts.get_str('qemu_img', defaults.qemu_img))
        if options.convert_to is None:
            return options
        for option, formats in (('convert_to', (options.convert_to,)),
                                ('convert_from', options.convert_from)):
            unknown = sorted(set(formats) - set(QEMU_FORMATS))
            if unknown:
                raise exception.ConfigError(option, 'DEFAULT', 'cannot convert %s; '
                                            'choose from %s' % (', '.join(unknown),
                                                                ', '.join(QEMU_FORMATS)))
        if options.work_dir and not os.path.isdir(options.work_dir):
            raise exception.ConfigError('conversion_work_dir', 'DEFAULT',
                                        'no such folder: %s' % options.work_dir)
        if not shutil.which(options.qemu_img):
            raise exception.ConfigError('qemu_img', 'DEFAULT', '%s is not installed '
                                        '(Debian: qemu-utils)' % options.qemu_img)
        return options

    def wants(self, disk_format):
        """True when uploads declared ``disk_format`` are converted."""
        return (self.convert_to is not None and disk_format != self.convert_to
                and disk_format in self.convert_from)

    @contextlib.contextmanager
    def workspace(self, image_id):
        """A private folder for one conversion, removed on exit whatever happens.

        :returns: (as a context manager) a :class:`Workspace`.
        """
        folder = tempfile.mkdtemp(prefix='glance-convert-%s-' % image_id,
                                  dir=self.work_dir)
        try:
            yield Workspace(self, folder, image_id)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class Workspace:
    """One conversion's folder: the staged source, then ``qemu-img``'s output.

    :param options: the :class:`ConversionOptions`.
    :param folder: the private folder.
    :param image_id: the image id, for object and log names.
    """

    def __init__(self, options, folder, image_id):
        self.options = options
        self.folder = folder
        self.image_id = image_id

    def stage(self, body, content_length, inspected, block_size):
        """Write the request body to one file here, inspecting and hashing it.

        :param body: the request body (``read(n)``).
        :param content_length: the declared length, or None.
        :param inspected: the source's :class:`~glance.api.inspection.Inspection`.
        :param block_size: bytes read at a time.
        :returns: ``(staged, verdict)``: the :class:`~glance.api.upload.ImageUpload`
            that wrote the file (size and digests) and the inspector's verdict.
        :raises RequestTooLarge: for a source or a virtual size over the cap.
        :raises FormatRefused: when the inspector refuses the source.
        :raises ConversionFailed: when it would refuse it but enforcement is off.
        """
        staging = FilesystemStore({'filesystem_store_datadir': self.folder},
                                  name='conversion')
        cap = self.options.size_cap
        if content_length is not None and content_length > cap:
            raise exception.RequestTooLarge(
                reason='Content-Length %d is over conversion_size_cap (%d bytes)'
                       % (content_length, cap))
        staged = upload.ImageUpload(staging, self.image_id, cap, block_size, cap,
                                    'conversion_size_cap', inspection=inspected)
        staged.write(body, content_length)
        verdict = inspected.verdict()
        if verdict.refused:
            # Even with enforce_format_inspection off: qemu-img would open the host
            # files such an image names.
            raise ConversionFailed(reason='qemu-img is never run on an image that '
                                          'fails inspection (%s)' % verdict.refused)
        if verdict.virtual_size > cap:
            raise exception.RequestTooLarge(
                reason='the virtual size (%d bytes) is over conversion_size_cap (%d '
                       'bytes)' % (verdict.virtual_size, cap))
        return staged, verdict

    def convert(self, staged, verdict):
        """Run ``qemu-img convert`` on the staged file under its limits.

        :param staged: the :class:`~glance.api.upload.ImageUpload` of :meth:`stage`.
        :param verdict: the source's verdict (its detected format is the input
            format given to qemu-img, which then never probes).
        :returns: the path of the converted file.
        :raises ConversionFailed: when qemu-img fails or exceeds a limit.
        """
        source = urllib.parse.urlsplit(staged.chunks[0]['location']).path
        output = os.path.join(self.folder, 'converted')
        opts = self.options
        command = ['prlimit', '--cpu=%d' % opts.cpu_seconds, '--as=%d' % opts.memory,
                   '--fsize=%d' % opts.size_cap, '--', opts.qemu_img, 'convert',
                   '-f', QEMU_FORMATS.get(verdict.format, verdict.format),
                   '-O', QEMU_FORMATS[opts.convert_to], source, output]
        # stderr names local paths: it is logged, never sent to the client.
        result = subprocess.run(command, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                check=False)
        if result.returncode != 0:
            why = ('killed by signal %d (a CPU-time or memory limit)' % -result.returncode
                   if result.returncode < 0 else 'exit status %d' % result.returncode)
            LOG.warning('Image %s: qemu-img convert %s -> %s failed, %s: %s',
                        self.image_id, verdict.format, opts.convert_to, why,
                        result.stderr.decode('utf-8', 'replace').strip()[-500:])
            raise ConversionFailed(reason='qemu-img could not convert the %s image to '
                                          '%s (%s)' % (verdict.format, opts.convert_to,
                                                       why))
        return output
