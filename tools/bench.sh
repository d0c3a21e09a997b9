#!/usr/bin/env bash
# Run every Glance benchmark and rewrite the result tables of bench/README.md.
#
#   tools/bench.sh           full run (1 GiB images, 4 GiB stream, 1k/10k/100k images)
#   tools/bench.sh --quick   small sizes, a few minutes
#
# Installs what it needs (the project's .venv with matplotlib, nginx and the Swift
# virtualenv through tools/test-setup.sh, MariaDB and PostgreSQL through
# tools/ensure-databases.sh), then runs bench/suite.py: loopback only, bounded loads,
# every process it starts stopped by PID. Extra arguments go to bench/suite.py.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
if ! .venv/bin/python -c 'import glance, swiftclient, boto3, matplotlib' 2>/dev/null; then
    .venv/bin/pip install -q --disable-pip-version-check -e '.[all,bench]' \
        -r tests/requirements.txt
fi
tools/test-setup.sh
tools/ensure-databases.sh
export GLANCE_TEST_SWIFT_VENV=${GLANCE_TEST_SWIFT_VENV:-$repo/.test-services/swift-venv}
exec .venv/bin/python bench/suite.py "$@"
