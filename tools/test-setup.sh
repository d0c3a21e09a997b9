#!/usr/bin/env bash
# Install the real services that the functional store tests run against.
#
# Idempotent and quick when everything is already there:
#   - nginx (Debian's nginx-light) for the read-only HTTP store;
#   - Varnish and HAProxy (Debian's varnish, haproxy) in front of glance-api;
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

# Varnish and HAProxy, for the tests of etc/varnish/glance.vcl and
# etc/haproxy/glance-api.cfg (installing them starts nothing without systemd).
for pair in varnishd:varnish haproxy:haproxy; do
    binary=${pair%%:*} package=${pair##*:}
    if ! command -v "$binary" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$binary" ]; then
        apt-cache show "$package" >/dev/null 2>&1 || apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    fi
done

if [ ! -x "$swift_venv/bin/swift-proxy-server" ] \
        || ! "$swift_venv/bin/python" -c 'import swift, swiftclient, boto3' 2>/dev/null; then
    mkdir -p "$(dirname "$swift_venv")"
    "$python" -m venv "$swift_venv"
    "$swift_venv/bin/pip" install -q --disable-pip-version-check \
        swift python-swiftclient boto3
fi

echo "test services ready: nginx=$(command -v nginx || echo /usr/sbin/nginx) swift=$swift_venv"
