"""Image format safety: inspect image data while it streams, with oslo's inspector.

A hypervisor or ``qemu-img`` that opens a crafted image can read the compute host's
files into the guest: a qcow2 whose backing file or external data file names a host
path, a VMDK whose descriptor names a host file as an extent, or data of one format
declared as another. Every image that reaches a store through glance-api is
therefore passed through :class:`oslo_utils.imageutils.format_inspector.InspectWrapper`
as it streams (no second read, no buffering: the inspectors keep only the few header
and footer bytes they need), and :meth:`Inspection.verdict` then accepts it only when

* the detected format is the declared ``disk_format`` (an image declared without one
  is held to ``raw``). ``raw`` (and ``ami``/``ari``/``aki``, raw bytes too) is
  accepted only when no other format is detected, or a GPT partition table (a raw
  disk, as qemu sees it); ``iso`` also when the inspector reports a hybrid ISO that
  is also a GPT disk; several formats at once are refused;
* the detected format passes the inspector's safety checks (no backing file, no data
  file, no unknown incompatible qcow2 feature, no VMDK extent outside the image...).

Otherwise :class:`FormatRefused` (a 400) names the reason. The caller kills the image
and deletes what it stored. The detected format and virtual size go into the image's
``detected_format`` and ``virtual_size``.

Options (``[DEFAULT]`` of glance-api.conf):

=========================== ================== ======================================
option                      default            meaning
=========================== ================== ======================================
disk_formats                raw,ami,ari,aki,   ``disk_format`` values accepted; others
                            qcow2,vhd,vhdx,    are refused before any data is read
                            vmdk,vdi,iso
enforce_format_inspection   true               false only records what is detected
                                               and logs a warning at start-up and per
                                               refusal it would have made
=========================== ================== ======================================
"""

import dataclasses
import logging

from oslo_utils.imageutils import format_inspector

from glance.common import config, exception

LOG = logging.getLogger(__name__)

#: Inspector names (what qemu-img calls the format) accepted for each disk_format.
ACCEPTED = {
    'raw': ('raw', 'gpt'), 'ami': ('raw', 'gpt'), 'ari': ('raw', 'gpt'),
    'aki': ('raw', 'gpt'), 'qcow2': ('qcow2',), 'vhd': ('vhd',), 'vhdx': ('vhdx',),
    'vmdk': ('vmdk',), 'vdi': ('vdi',), 'iso': ('iso',), 'qed': ('qed',),
    'luks': ('luks',),
}
#: The default of ``disk_formats``: everything but qed (banned by the inspector:
#: nothing checks it) and luks (needs a key to be checked).
DEFAULT_DISK_FORMATS = ('raw', 'ami', 'ari', 'aki', 'qcow2', 'vhd', 'vhdx', 'vmdk',
                        'vdi', 'iso')
# A bootable ("hybrid") ISO carries a GPT for USB boot; the inspector reports both.
_HYBRID_ISO = frozenset(('iso', 'gpt'))


class FormatRefused(exception.Invalid):
    """The image data is not what was declared, or is unsafe to open (400)."""

    template = 'Image refused: %(reason)s'


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What the inspector found in an accepted image.

    :param format: the detected format (inspector name: raw, qcow2, gpt, iso...).
    :param virtual_size: the disk size a guest sees, in bytes.
    :param refused: with enforcement off, the reason the image would have been
        refused (None: it passed); nothing may open such an image.
    """

    format: str
    virtual_size: int
    refused: str | None = None

    def record(self):
        """The registry fields of the verdict."""
        return {'detected_format': self.format, 'virtual_size': self.virtual_size}


@dataclasses.dataclass(frozen=True)
class InspectionOptions:
    """The typed format-safety options (see the module table)."""

    disk_formats: tuple = DEFAULT_DISK_FORMATS
    enforce: bool = True

    @classmethod
    def from_conf(cls, conf):
        """Parse the options; warn loudly when enforcement is off.

        :raises ConfigError: for a disk format no inspector knows.
        """
        opts = config.Options(conf, 'DEFAULT')
        formats = tuple(item.lower() for item in opts.get_list(
            'disk_formats', DEFAULT_DISK_FORMATS))
        unknown = sorted(set(formats) - set(ACCEPTED))
        if unknown or not formats:
            raise exception.ConfigError(
                'disk_formats', 'DEFAULT', 'no inspector for %s; choose from %s'
                % (', '.join(unknown) or 'an empty list', ', '.join(sorted(ACCEPTED))))
        options = cls(disk_formats=formats,
                      enforce=opts.get_bool('enforce_format_inspection', True))
        if not options.enforce:
            LOG.warning('enforce_format_inspection is OFF: images whose data does not '
                        'match their disk_format, or that name host files (backing '
                        'file, data file, VMDK extent), WILL BE STORED and served. '
                        'Only do this on a deployment no hypervisor reads from.')
        return options

    def begin(self, disk_format):
        """Start inspecting one image declared as ``disk_format``.

        :param disk_format: the declared format, or None (held to raw).
        :returns: an :class:`Inspection`.
        :raises FormatRefused: for a format not in ``disk_formats``.
        """
        declared = (disk_format or 'raw').lower()
        if declared not in self.disk_formats:
            raise FormatRefused(reason='disk_format %s is not accepted here; use one '
                                       'of %s' % (declared, ', '.join(self.disk_formats)))
        return Inspection(declared, self.enforce)


class Inspection:
    """The inspection of one image's data, fed by the stream it wraps.

    :param declared: the declared disk format (lower case, in :data:`ACCEPTED`).
    :param enforce: refuse on a mismatch or failed check (else only log it).
    """

    def __init__(self, declared, enforce=True):
        self.declared = declared
        self.enforce = enforce
        self._wrapper = None

    def wrap(self, source):
        """Return ``source`` seen through the inspectors.

        :param source: a ``read(n)`` reader, or an iterator of bytes blocks.
        :returns: an object with the same ``read(n)`` and iterator interface.
        """
        # No expected_format: the wrapper then never raises while the bytes flow
        # (an inspector that chokes is only dropped), and every refusal is made at
        # the end, in verdict(), with one readable reason.
        self._wrapper = format_inspector.InspectWrapper(source)
        return self._wrapper

    def verdict(self):
        """Judge the data once the whole stream has passed through :meth:`wrap`.

        :returns: a :class:`Verdict` (with enforcement off, also for refused data).
        :raises FormatRefused: naming the mismatch or the failed safety checks.
        """
        # close() marks the end of the stream for the inspectors that keep the last
        # bytes (footers); it also closes the source, which is spent by now.
        self._wrapper.close()
        matches = self._wrapper.formats
        names = frozenset(str(match) for match in matches)
        if names == _HYBRID_ISO and self.declared == 'iso':
            matches = [match for match in matches if str(match) == 'iso']
        found = matches[0]
        try:
            self._check(matches, found)
        except FormatRefused as refusal:
            if self.enforce:
                raise
            LOG.warning('enforce_format_inspection is off; accepting an image that '
                        'would be refused: %s', refusal.message)
            return Verdict(str(found), found.virtual_size, refusal.message)
        return Verdict(str(found), found.virtual_size)

    def _check(self, matches, found):
        if len(matches) > 1:
            raise FormatRefused(reason='the data matches several formats (%s); '
                                       'disk_format is %s'
                                % (', '.join(sorted(map(str, matches))), self.declared))
        if str(found) not in ACCEPTED[self.declared]:
            raise FormatRefused(reason='disk_format is %s but the data is %s'
                                % (self.declared, found))
        try:
            found.safety_check()
        except format_inspector.SafetyCheckFailed as failed:
            raise FormatRefused(reason='the %s image fails safety checks: %s' % (
                found, '; '.join('%s (%s)' % (name, failure)
                                 for name, failure in sorted(failed.failures.items()))))
        except format_inspector.ImageFormatError as err:
            raise FormatRefused(reason='the %s image cannot be checked: %s'
                                % (found, err))


def inspect_file(path, disk_format, block_size=1024 * 1024):
    """Inspect a whole file on disk and judge it, always enforcing.

    The node agent uses this on a downloaded image before it becomes the final file
    (a store may have been tampered with behind the registry's back).

    :param path: the file.
    :param disk_format: the image's ``disk_format``, or None (held to raw).
    :param block_size: bytes read at a time.
    :returns: a :class:`Verdict`.
    :raises FormatRefused: for a refused image, or a disk format with no inspector.
    """
    declared = (disk_format or 'raw').lower()
    if declared not in ACCEPTED:
        raise FormatRefused(reason='disk_format %s cannot be checked: no inspector '
                                   'knows it' % declared)
    inspected = Inspection(declared)
    with open(path, 'rb') as source:
        reader = inspected.wrap(source)
        while reader.read(block_size):
            pass
    return inspected.verdict()
