"""Every option the code reads is documented: in README.rst and in an ``etc/`` sample.

The options are collected from the source, not from a list kept by hand: every call
of a :class:`glance.common.config.Options` getter (``get_str``, ``get_size``...) or
of a store's ``_required`` with a literal option name. Samples are read line by
line, commented-out options included (they are written ``# name = default``).
"""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
_GETTERS = frozenset(('get_str', 'get_bool', 'get_int', 'get_float', 'get_size',
                      'get_list', 'get_secret', 'get_path', '_required'))
# Nova reads these from its own flag file (README: "Nova"), not from a Glance sample.
_NOVA_FLAGS = 'glance/nova/'
# keystonemiddleware reads [filter:authtoken]; paste.deploy reads these keys.
_NOT_GLANCE_SECTIONS = frozenset(('filter:authtoken',))
_PASTE_KEYS = frozenset(('use', 'pipeline'))
_SAMPLE_LINE = re.compile(r'^#? ?([a-z][a-z0-9_]*) *=')


def options_read():
    """``{option: set of source files reading it}`` over ``glance/``."""
    found = {}
    for path in sorted((ROOT / 'glance').rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in _GETTERS):
                continue
            args = node.args[1:] if node.func.attr == '_required' else node.args
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value,
                                                                         str):
                found.setdefault(args[0].value, set()).add(
                    path.relative_to(ROOT).as_posix())
    return found


def sample_options():
    """``{(sample file, section): set of options}`` of ``etc/*.conf`` and ``*.ini``."""
    options = {}
    for path in sorted((ROOT / 'etc').glob('*')):
        if path.suffix not in ('.conf', '.ini'):
            continue
        section = 'DEFAULT'
        for line in path.read_text().splitlines():
            header = re.match(r'^\[([^\]]+)\]', line)
            if header:
                section = header.group(1)
                continue
            match = _SAMPLE_LINE.match(line)
            if match:
                options.setdefault((path.name, section), set()).add(match.group(1))
    return options


def documented_in_readme(name, readme):
    """True when README.rst names the option as ````name```` or as a table row."""
    return bool(re.search(r'``%s``|^ *(?:[a-z0-9_]+, )*%s(?:,| |$)'
                          % (re.escape(name), re.escape(name)), readme, re.M))


READ = options_read()


def test_the_collector_finds_options_of_every_kind():
    for name, where in (('sql_connection', 'glance/registry/db/session.py'),
                        ('chunk_size', 'glance/store/base.py'),
                        ('filesystem_store_datadir', 'glance/store/filesystem.py'),
                        ('disable_path', 'glance/middleware/healthcheck.py'),
                        ('bind_port', 'glance/common/server.py')):
        assert where in READ.get(name, ()), name
    assert len(READ) > 80


@pytest.mark.parametrize('name', sorted(READ))
def test_every_option_read_is_in_the_readme(name):
    readme = (ROOT / 'README.rst').read_text()
    assert documented_in_readme(name, readme), (
        '%s (read in %s) is not documented in README.rst'
        % (name, ', '.join(sorted(READ[name]))))


@pytest.mark.parametrize('name', sorted(
    name for name, paths in READ.items()
    if not all(path.startswith(_NOVA_FLAGS) for path in paths)))
def test_every_option_read_is_in_a_sample(name):
    samples = sample_options()
    assert any(name in options for options in samples.values()), (
        '%s (read in %s) is in no etc/*.conf or etc/*.ini sample'
        % (name, ', '.join(sorted(READ[name]))))


def test_samples_show_no_option_the_code_does_not_read():
    stale = sorted('%s [%s] %s' % (sample, section, name)
                   for (sample, section), names in sample_options().items()
                   if section not in _NOT_GLANCE_SECTIONS
                   for name in names - _PASTE_KEYS if name not in READ)
    assert stale == []
