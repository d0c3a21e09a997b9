"""The Nova installation UUID, kept as a flag in a gflags-style flag file.

Nova instance ids are only unique within one Nova installation, so the related-images
feature names an instance by the tuple ``(nova_installation_uuid, instance_id)``. The
installation UUID is generated once, when Nova is deployed, and stored as the line
``--nova_installation_uuid=<uuid>`` in Nova's flag file, where
:class:`~glance.nova.image_service.InstanceAwareGlanceImageService` reads it.

A flag file holds one ``--flag=value`` per line; blank lines and lines starting with
``#`` or ``//`` are comments. When a flag appears more than once the last one wins,
as in gflags. :func:`generate_installation_uuid` rewrites the file atomically and
keeps every other line as it was.
"""

import os
import re
import tempfile
import uuid

from glance.common import exception

FLAG_NAME = 'nova_installation_uuid'
_FLAG_LINE = re.compile(r'^\s*--?(?P<name>[A-Za-z0-9_]+)(?:=(?P<value>.*))?\s*$')
_CANONICAL_UUID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                             r'[0-9a-f]{12}$')


class InstallationUUIDError(exception.GlanceException):
    """The installation UUID is missing, malformed or already set (message says which)."""

    template = 'Nova installation UUID error: %(reason)s'


def canonical_uuid(value):
    """Return ``value`` as a lower-case, hyphenated UUID, or None if it is not one.

    Only the 36-character ``8-4-4-4-12`` hex form is accepted (any case), so that one
    installation cannot be spelt in two ways.

    :param value: the candidate (any type).
    """
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    return value if _CANONICAL_UUID.match(value) else None


def _read_lines(flagfile):
    try:
        with open(flagfile, encoding='utf-8') as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        raise InstallationUUIDError(reason='flag file %s does not exist' % flagfile)
    except (OSError, UnicodeDecodeError) as err:
        raise InstallationUUIDError(reason='cannot read flag file %s (%s)'
                                    % (flagfile, type(err).__name__))


def _flag(line):
    """Return ``(name, value)`` for a flag line (value None for a bare ``--name``)."""
    match = _FLAG_LINE.match(line)
    if match is None:
        return None, None
    value = match.group('value')
    return match.group('name'), None if value is None else value.strip()


def read_flags(flagfile):
    """Parse a gflags-style flag file into a dict (the last occurrence of a flag wins).

    A bare ``--flag`` (no ``=``) maps to ``'true'``, as a boolean gflag does.

    :param flagfile: path of the flag file.
    :returns: ``{flag name: value string}``.
    :raises InstallationUUIDError: when the file does not exist or cannot be read.
    """
    flags = {}
    for line in _read_lines(flagfile):
        name, value = _flag(line)
        if name is not None:
            flags[name] = 'true' if value is None else value
    return flags


def read_installation_uuid(flagfile):
    """Return the installation UUID stored in a flag file.

    :param flagfile: path of Nova's flag file.
    :returns: the UUID, lower-case and hyphenated.
    :raises InstallationUUIDError: when the file is missing, has no
        ``--nova_installation_uuid`` flag, or the flag is not a UUID.
    """
    value = read_flags(flagfile).get(FLAG_NAME)
    if value is None:
        raise InstallationUUIDError(
            reason='no --%s in %s; run: glance-nova-manage generate-installation-uuid '
            '--flagfile %s' % (FLAG_NAME, flagfile, flagfile))
    canonical = canonical_uuid(value)
    if canonical is None:
        raise InstallationUUIDError(reason='--%s in %s is not a UUID'
                                    % (FLAG_NAME, flagfile))
    return canonical


def generate_installation_uuid(flagfile, force=False):
    """Generate an installation UUID and store it in a flag file.

    The file is created when it does not exist. An existing ``--nova_installation_uuid``
    line is replaced in place only with ``force`` (every further copy of the flag is
    dropped); otherwise the new line is appended. All other lines are kept as they
    were. The file is replaced atomically and keeps its permission bits (a new file
    gets ``0640``).

    :param flagfile: path of Nova's flag file.
    :param force: replace an existing UUID. Changing it detaches every image already
        related to this installation's instances, so it is refused by default.
    :returns: the new UUID.
    :raises InstallationUUIDError: when a UUID is already set and ``force`` is false,
        or the file cannot be read or written.
    """
    if os.path.exists(flagfile):
        lines = _read_lines(flagfile)
        mode = os.stat(flagfile).st_mode & 0o7777
    else:
        # Flag files usually hold database passwords too: not world-readable.
        lines, mode = [], 0o640
    existing = [index for index, line in enumerate(lines) if _flag(line)[0] == FLAG_NAME]
    if existing and not force:
        raise InstallationUUIDError(
            reason='%s already sets --%s; use --force to replace it (images related to '
            'the old UUID stay with it)' % (flagfile, FLAG_NAME))
    new_uuid = str(uuid.uuid4())
    new_line = '--%s=%s' % (FLAG_NAME, new_uuid)
    if existing:
        lines[existing[0]] = new_line
        lines = [line for index, line in enumerate(lines) if index not in existing[1:]]
    else:
        lines.append(new_line)
    _write_atomically(flagfile, '\n'.join(lines) + '\n', mode)
    return new_uuid


def _write_atomically(path, text, mode):
    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle, temp_path = tempfile.mkstemp(dir=folder, prefix='.flagfile-')
    except OSError as err:
        raise InstallationUUIDError(reason='cannot write in %s (%s)'
                                    % (folder, err.strerror or type(err).__name__))
    try:
        with os.fdopen(handle, 'w', encoding='utf-8') as out:
            out.write(text)
        os.chmod(temp_path, mode)
        os.replace(temp_path, path)
    except OSError as err:
        # Deliberate cleanup: leave no temporary file behind, then report.
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise InstallationUUIDError(reason='cannot write %s (%s)'
                                    % (path, err.strerror or type(err).__name__))
