"""Configuration: read ``*.conf`` files and turn strings into typed values once.

Daemons read their ``.conf`` file with :func:`load_config_file`; its ``[DEFAULT]``
section becomes paste.deploy's ``global_conf`` (plus ``config_file``, the path), so each
factory merges ``global_conf`` with its ini ``local_conf`` and reads typed values through
an :class:`Options` view. Other sections (e.g. ``[store:swift]``) are read with
:func:`read_section`. A bad value stops startup with a :class:`ConfigError` naming the
option and section.
"""

import configparser
import os
import sys

from glance.common.exception import ConfigError

_TRUE = frozenset(('1', 'true', 'yes', 'on', 't', 'y'))
_FALSE = frozenset(('0', 'false', 'no', 'off', 'f', 'n', ''))
_SIZE_UNITS = {'': 1, 'b': 1, 'k': 1024, 'kb': 1024, 'kib': 1024,
               'm': 1024 ** 2, 'mb': 1024 ** 2, 'mib': 1024 ** 2,
               'g': 1024 ** 3, 'gb': 1024 ** 3, 'gib': 1024 ** 3,
               't': 1024 ** 4, 'tb': 1024 ** 4, 'tib': 1024 ** 4}


def _parser(path):
    # No section inherits [DEFAULT]: a store section holds only its own options.
    parser = configparser.ConfigParser(interpolation=None,
                                       default_section='glance:no-defaults')
    parser.optionxform = str
    if not os.path.isfile(path):
        raise ConfigError('config_file', 'DEFAULT', 'no such file: %s' % path)
    try:
        parser.read(path, encoding='utf-8')
    except (configparser.Error, UnicodeDecodeError) as err:
        raise ConfigError('config_file', 'DEFAULT',
                          'cannot parse %s: %s' % (path, type(err).__name__))
    return parser


def find_config_file(name):
    """Find a conf file by name when none is given on the command line.

    Looks in the current directory, the source tree's ``etc/``, ``<prefix>/etc/glance``
    and ``/etc/glance``, in that order.

    :returns: the first existing path, else ``name`` itself (so the error names it).
    """
    source_tree = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for folder in ('.', os.path.join(source_tree, 'etc'),
                   os.path.join(sys.prefix, 'etc', 'glance'), '/etc/glance'):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return os.path.abspath(path)
    return name


def load_config_file(path):
    """Read the ``[DEFAULT]`` section of a conf file.

    :param path: path of the ``.conf`` file.
    :returns: a dict of its ``[DEFAULT]`` options plus ``config_file`` (absolute path).
    :raises ConfigError: if the file is missing or unparsable.
    """
    path = os.path.abspath(path)
    parser = _parser(path)
    conf = dict(parser['DEFAULT']) if parser.has_section('DEFAULT') else {}
    conf['config_file'] = path
    return conf


def read_section(conf, section):
    """Return the options of one named section of the conf file behind ``conf``.

    ``[DEFAULT]`` values are not inherited: a section holds only its own options.

    :param conf: a merged conf dict carrying ``config_file`` (or None for no file).
    :param section: the section name, e.g. ``store:swift``.
    :returns: a dict, empty when the file or section is absent.
    """
    path = conf.get('config_file') if conf else None
    if not path:
        return {}
    parser = _parser(path)
    return dict(parser[section]) if parser.has_section(section) else {}


def merge(global_conf, local_conf):
    """Merge paste's ``global_conf`` and ``local_conf``; local (ini) values win."""
    conf = dict(global_conf or {})
    conf.update(local_conf or {})
    return conf


def as_bool(value):
    """Parse a boolean written as true/false, yes/no, on/off or 1/0.

    :raises ValueError: for anything else.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError('expected a boolean (true/false), got %r' % value)


def as_size(value):
    """Parse a byte size such as ``65536``, ``64K``, ``10MiB`` or ``5G``.

    :raises ValueError: when the text is not a non-negative size.
    """
    if isinstance(value, int):
        return value
    text = str(value).strip().lower().replace(' ', '')
    digits = text.rstrip('abcdefghijklmnopqrstuvwxyz')
    unit = text[len(digits):]
    if not digits.isdigit() or unit not in _SIZE_UNITS:
        raise ValueError('expected a size such as 65536, 64K or 10M, got %r' % value)
    return int(digits) * _SIZE_UNITS[unit]


def as_list(value):
    """Split a comma- or whitespace-separated list, dropping empty items."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [item for item in str(value or '').replace(',', ' ').split() if item]


class Secret:
    """A string that never shows itself in ``repr`` or ``str`` (store keys, passwords)."""

    __slots__ = ('_value',)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        """Return the secret value, for handing to a client library only."""
        return self._value

    def __bool__(self):
        return bool(self._value)

    def __repr__(self):
        return "Secret('***')"

    __str__ = __repr__


class Options:
    """A typed, read-only view of a conf dict for one section.

    Every getter takes the option name and a default and raises :class:`ConfigError`
    naming the option and section when the value does not parse.

    :param conf: dict of raw string values.
    :param section: section name used in error messages.
    """

    def __init__(self, conf, section='DEFAULT'):
        self.conf = dict(conf or {})
        self.section = section

    def _convert(self, name, default, parse):
        raw = self.conf.get(name)
        if raw is None or (isinstance(raw, str) and raw.strip() == '' and default is not None):
            return default
        try:
            return parse(raw)
        except (TypeError, ValueError) as err:
            raise ConfigError(name, self.section, str(err))

    def get_str(self, name, default=None):
        """Return the option as a stripped string."""
        return self._convert(name, default, lambda raw: str(raw).strip())

    def get_bool(self, name, default=False):
        """Return the option as a boolean."""
        return self._convert(name, default, as_bool)

    def get_int(self, name, default=None, minimum=None, maximum=None):
        """Return the option as an int, optionally bounded."""
        def parse(raw):
            value = int(str(raw).strip())
            if minimum is not None and value < minimum:
                raise ValueError('must be >= %d, got %d' % (minimum, value))
            if maximum is not None and value > maximum:
                raise ValueError('must be <= %d, got %d' % (maximum, value))
            return value
        return self._convert(name, default, parse)

    def get_float(self, name, default=None, minimum=None):
        """Return the option as a float, optionally bounded below."""
        def parse(raw):
            value = float(str(raw).strip())
            if minimum is not None and value < minimum:
                raise ValueError('must be >= %s, got %s' % (minimum, value))
            return value
        return self._convert(name, default, parse)

    def get_size(self, name, default=None, minimum=None):
        """Return the option as a byte count (accepts K/M/G suffixes)."""
        def parse(raw):
            value = as_size(raw)
            if minimum is not None and value < minimum:
                raise ValueError('must be at least %d bytes, got %d' % (minimum, value))
            return value
        return self._convert(name, default, parse)

    def get_list(self, name, default=()):
        """Return the option as a list of strings."""
        return self._convert(name, list(default), as_list)

    def get_secret(self, name, default=''):
        """Return the option wrapped in :class:`Secret`, so it cannot leak by repr."""
        return Secret(self.get_str(name, default))

    def get_path(self, name, default=None):
        """Return the option as a path, relative paths taken from the conf file's folder."""
        value = self.get_str(name, default)
        if value and not os.path.isabs(value) and self.conf.get('config_file'):
            value = os.path.join(os.path.dirname(self.conf['config_file']), value)
        return value
