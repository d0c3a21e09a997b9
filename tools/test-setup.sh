#!/usr/bin/env bash
# Install the real services that the functional store tests run against.
#
# Idempotent and quick when everything is already there:
#   - nginx (Debian's nginx-light) for the read-only HTTP store;
#   - iproute2's ip, which brings up lo in the loopback-only network namespace of
#     the SSRF tests;
#   - Varnish and HAProxy (Debian's varnish, haproxy) in front of glance-api;
#   - a separate virtualenv holding OpenStack Swift (with s3api) for the swift and s3
#     stores, at $REPO/.test-services/swift-venv (override with GLANCE_TEST_SWIFT_VENV);
#   - a separate virtualenv holding OpenStack Keystone for the token authentication
#     tests, at $REPO/.test-services/keystone-venv (override with
#     GLANCE_TEST_KEYSTONE_VENV); tests/functional/keystone.py starts it on loopback.
# Swift lives in its own virtualenv so its pinned dependencies never touch the
# project's .venv; tests/functional/services.py finds its servers there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
swift_venv=${GLANCE_TEST_SWIFT_VENV:-$repo/.test-services/swift-venv}
keystone_venv=${GLANCE_TEST_KEYSTONE_VENV:-$repo/.test-services/keystone-venv}
python=${PYTHON:-python3}

# apt_install COMMAND PACKAGE: install PACKAGE unless COMMAND is already there.
apt_install() {
    if ! command -v "$1" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$1" ]; then
        # Refresh the package lists only when apt cannot see the package yet.
        if ! apt-cache show "$2" >/dev/null 2>&1; then
            apt-get update -qq
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" \
            >/dev/null
    fi
}

apt_install nginx nginx-light
apt_install ip iproute2

# qemu-img (Debian's qemu-utils) converts images and makes the format-safety test
# images; genisoimage makes the ISO one.
apt_install qemu-img qemu-utils
apt_install genisoimage genisoimage

# Varnish and HAProxy, for the tests of etc/varnish/glance.vcl and
# etc/haproxy/glance-api.cfg (installing them starts nothing without systemd).
apt_install varnishd varnish
apt_install haproxy haproxy

if [ ! -x "$swift_venv/bin/swift-proxy-server" ] \
        || ! "$swift_venv/bin/python" -c 'import swift, swiftclient, boto3' 2>/dev/null; then
    mkdir -p "$(dirname "$swift_venv")"
    "$python" -m venv "$swift_venv"
    "$swift_venv/bin/pip" install -q --disable-pip-version-check \
        swift python-swiftclient boto3
fi

if ! "$keystone_venv/bin/python" -c 'import keystone.server.wsgi' 2>/dev/null \
        || [ ! -x "$keystone_venv/bin/keystone-manage" ]; then
    mkdir -p "$(dirname "$keystone_venv")"
    "$python" -m venv "$keystone_venv"
    "$keystone_venv/bin/pip" install -q --disable-pip-version-check keystone
fi

apt_install prometheus prometheus
apt_install systemd-analyze systemd

echo "test services ready: nginx=$(command -v nginx || echo /usr/sbin/nginx)" \
     "swift=$swift_venv keystone=$keystone_venv qemu-img=$(command -v qemu-img)" \
     "prometheus=$(command -v prometheus)"
