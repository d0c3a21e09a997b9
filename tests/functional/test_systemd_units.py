"""The shipped systemd units (etc/systemd/) pass ``systemd-analyze verify``.

systemd-analyze is required, never skipped: tools/test-setup.sh installs Debian's
``systemd`` package when the tool is missing. The units expect Glance in a
virtualenv at /opt/glance; the check points them at this environment's scripts,
which verify needs to exist.
"""

import glob
import os
import shutil
import subprocess
import sysconfig

import pytest

from tests.functional.daemons import ETC

UNITS = sorted(glob.glob(os.path.join(ETC, 'systemd', '*.service')))


def _verify(path):
    tool = shutil.which('systemd-analyze')
    if tool is None:
        pytest.fail('systemd-analyze is missing: run tools/test-setup.sh')
    return subprocess.run([tool, 'verify', path], capture_output=True, text=True,
                          timeout=60)


def test_both_daemons_have_a_unit():
    assert [os.path.basename(path) for path in UNITS] == [
        'glance-api.service', 'glance-registry.service']


@pytest.mark.parametrize('unit', UNITS, ids=os.path.basename)
def test_unit_passes_systemd_analyze_verify_without_warnings(unit, tmp_path):
    with open(unit) as source:
        text = source.read()
    assert 'ExecStart=/opt/glance/bin/' in text
    local = tmp_path / os.path.basename(unit)
    local.write_text(text.replace('/opt/glance/bin/',
                                  sysconfig.get_path('scripts') + os.sep))
    result = _verify(str(local))
    assert (result.returncode, result.stdout + result.stderr) == (0, '')


def test_verify_reports_a_misspelt_directive(tmp_path):
    """The check above can fail: an unknown key is reported."""
    broken = tmp_path / 'broken.service'
    broken.write_text('[Service]\nExecStart=/bin/true\nRestrat=always\n')
    assert 'Restrat' in _verify(str(broken)).stderr
