#!/usr/bin/env bash
# The one command that installs and runs the whole test suite on a fresh Debian machine:
# it installs tox into a private virtualenv (.tox-bootstrap) and runs `tox`, whose
# commands_pre install and start every service the tests need. Arguments go to pytest,
# e.g. `tools/run-tests.sh tests/unit`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
if ! .tox-bootstrap/bin/python -c 'import tox' 2>/dev/null; then
    python3 -m venv .tox-bootstrap
    .tox-bootstrap/bin/pip install --quiet --disable-pip-version-check 'tox>=4'
fi
exec .tox-bootstrap/bin/tox -e py311 -- "$@"
