"""Schemathesis against the live daemons: every response conforms to the OpenAPI
description in doc/openapi/, and none is a server error (>= 500).

glance-registry (SQLite) and glance-api (file store) run as real processes with the
shipped paste pipelines; schemathesis generates a bounded number of examples per
operation (coverage, fuzzing and stateful phases, following the documented links from
``POST /images`` to the image's other operations).
"""

import os
import subprocess
import sys

import pytest

from tests.functional import daemons
from tests.functional.test_api_images import registry  # noqa: F401

OPENAPI = os.path.join(daemons.REPO, 'doc', 'openapi')
CHECKS = ('not_a_server_error,status_code_conformance,content_type_conformance,'
          'response_schema_conformance,response_headers_conformance,'
          'unsupported_method,allow_header_conformance')
EXAMPLES = 15


def _schemathesis(spec, url, folder):
    pytest.importorskip('schemathesis')
    command = [sys.executable, '-m', 'schemathesis.cli', 'run',
               os.path.join(OPENAPI, spec), '--url', url, '--checks', CHECKS,
               '--max-examples', str(EXAMPLES), '--workers', '1',
               '--phases', 'examples,coverage,fuzzing,stateful',
               '--request-timeout', '30', '-H', 'X-Tenant-Id: fuzz',
               '--report', 'junit', '--report-dir', str(folder)]
    env = dict(os.environ, SCHEMATHESIS_HOOKS='tests.functional.openapi_hooks',
               PYTHONPATH=daemons.REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            cwd=str(folder), env=env)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert 'passed' in result.stdout


def test_registry_conforms_to_its_openapi_description(registry, tmp_path):  # noqa: F811
    _schemathesis('registry.yaml', registry.url, tmp_path)
    assert 'Traceback' not in registry.read_log()


@pytest.mark.parametrize('spec', ['api.yaml', 'api-v1.yaml'])
def test_api_conforms_to_its_openapi_description(registry, tmp_path, spec):  # noqa: F811
    datadir = str(tmp_path / 'images')
    os.makedirs(datadir)
    api = daemons.api_daemon(tmp_path / 'api', registry.url, image_size_cap='1M',
                             filesystem_store_datadir=datadir,
                             sections={'store:file': {'filesystem_store_datadir':
                                                      datadir}})
    api.start()
    try:
        _schemathesis(spec, api.url, tmp_path)
        assert 'Traceback' not in api.read_log()
    finally:
        api.stop()
