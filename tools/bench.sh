#!/usr/bin/env bash
# Run every Glance benchmark and rewrite the result tables of bench/README.md.
#
#   tools/bench.sh           full run, under 13 minutes on 2 cores (bench/README.md)
#   tools/bench.sh --quick   small sizes, under 2.5 minutes
#
# Installs what it needs (the project's .venv with matplotlib, nginx and the Swift
# virtualenv through tools/test-setup.sh, MariaDB and PostgreSQL through
# tools/ensure-databases.sh), then runs bench/suite.py: loopback only, bounded loads,
# every process it starts stopped by PID. Extra arguments go to bench/suite.py.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
python=${PYTHON:-python3}

# VENV picks another virtualenv (created and filled here when missing).
venv=${VENV:-.venv}
if [ -e "$venv" ] && [ ! -d "$venv" ]; then
    echo "$venv is not a directory; set VENV to the virtualenv to use" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
modules=glance,swiftclient,boto3,matplotlib,psycopg,pymysql,pg8000,pytest
if ! "$venv/bin/python" -c "import $modules" 2>/dev/null; then
    "$venv/bin/pip" install -q --disable-pip-version-check -e '.[all,bench]' \
        -r tests/requirements.txt
fi
tools/test-setup.sh
tools/ensure-databases.sh
export GLANCE_TEST_SWIFT_VENV=${GLANCE_TEST_SWIFT_VENV:-$repo/.test-services/swift-venv}
exec "$venv/bin/python" bench/suite.py "$@"
