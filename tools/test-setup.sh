#!/usr/bin/env bash
# Install the real services that the functional store tests run against.
#
# Idempotent and quick when everything is already there:
#   - nginx (Debian's nginx-light) for the read-only HTTP store;
#   - a separate virtualenv holding OpenStack Swift (with s3api) for the swift and s3
#     stores, at $REPO/.test-services/swift-venv (override with GLANCE_TEST_SWIFT_VENV).
# Swift lives in its own virtualenv so its pinned dependencies never touch the
# project's .venv; tests/functional/services.py finds its servers there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
swift_venv=${GLANCE_TEST_SWIFT_VENV:-$repo/.test-services/swift-venv}
python=${PYTHON:-python3}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    # Refresh the package lists only when apt cannot see the package yet.
    if ! apt-cache show nginx-light >/dev/null 2>&1; then
        apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi

if [ ! -x "$swift_venv/bin/swift-proxy-server" ] \
        || ! "$swift_venv/bin/python" -c 'import swift, swiftclient, boto3' 2>/dev/null; then
    mkdir -p "$(dirname "$swift_venv")"
    "$python" -m venv "$swift_venv"
    "$swift_venv/bin/pip" install -q --disable-pip-version-check \
        swift python-swiftclient boto3
fi

# Prometheus (Debian's package) scrapes the daemons' /metrics in the observability test;
# systemd-analyze verifies the unit files in etc/systemd/. The package's own service is
# never started here (the test fixture runs prometheus on loopback itself).
for tool in prometheus:prometheus systemd-analyze:systemd; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
        if ! apt-cache show "${tool#*:}" >/dev/null 2>&1; then
            apt-get update -qq
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${tool#*:}" >/dev/null
    fi
done

echo "test services ready: nginx=$(command -v nginx || echo /usr/sbin/nginx) swift=$swift_venv prometheus=$(command -v prometheus)"
