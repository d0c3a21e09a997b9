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
#     GLANCE_TEST_KEYSTONE_VENV); tests/functional/keystone.py starts it on loopback;
#   - the real OpenStack image clients the acceptance tests drive (test dependencies
#     only, never in setup.py), run by tests/functional/openstack_clients.py:
#     python-glanceclient 2.17.1 (its v1 client and `glance --os-image-api-version 1`)
#     at $REPO/.test-services/glanceclient1-venv (GLANCE_TEST_GLANCECLIENT1_VENV), and
#     python-glanceclient 4.x (v2) with openstacksdk 4.x and python-openstackclient
#     (the `openstack` command) at $REPO/.test-services/openstack-clients-venv
#     (GLANCE_TEST_OPENSTACK_CLIENTS_VENV).
# Swift lives in its own virtualenv so its pinned dependencies never touch the
# project's .venv; tests/functional/services.py finds its servers there.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
swift_venv=${GLANCE_TEST_SWIFT_VENV:-$repo/.test-services/swift-venv}
keystone_venv=${GLANCE_TEST_KEYSTONE_VENV:-$repo/.test-services/keystone-venv}
glanceclient1_venv=${GLANCE_TEST_GLANCECLIENT1_VENV:-$repo/.test-services/glanceclient1-venv}
openstack_clients_venv=${GLANCE_TEST_OPENSTACK_CLIENTS_VENV:-$repo/.test-services/openstack-clients-venv}
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

# has_pins VENV MODULES PIN...: VENV's python imports MODULES (a comma-separated
# import list) and has exactly the distributions PIN (name==version) installed.
has_pins() {
    local venv=$1 modules=$2
    shift 2
    "$venv/bin/python" - "$@" >/dev/null 2>&1 <<EOF
import importlib.metadata, sys
import $modules
sys.exit(any(importlib.metadata.version(name) != version
             for name, version in (pin.split('==') for pin in sys.argv[1:])))
EOF
}

# venv_install VENV REQUIREMENT...: create (or reuse) VENV and pip-install the
# requirements into it; pip's output is shown only when it fails.
venv_install() {
    local venv=$1 log
    shift
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    log=$(mktemp)
    if ! "$venv/bin/pip" install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
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
    venv_install "$swift_venv" swift python-swiftclient boto3
fi

if ! "$keystone_venv/bin/python" -c 'import keystone.server.wsgi' 2>/dev/null \
        || [ ! -x "$keystone_venv/bin/keystone-manage" ]; then
    venv_install "$keystone_venv" keystone
fi

# The clients are pinned so that their behaviour (and the tests' expectations) only
# change when these lines do. 2.17.1 is the last release with the v1 client; it runs on
# Python 3.11 with today's releases of its dependencies.
glanceclient1_pins=(python-glanceclient==2.17.1)
if ! has_pins "$glanceclient1_venv" glanceclient.v1.client,glanceclient.shell \
        "${glanceclient1_pins[@]}" || [ ! -x "$glanceclient1_venv/bin/glance" ]; then
    venv_install "$glanceclient1_venv" "${glanceclient1_pins[@]}"
fi

# python-openstackclient 10.5.0 resolves with exactly these glanceclient and
# openstacksdk releases (its `openstack image` commands call openstacksdk).
openstack_clients_pins=(python-glanceclient==4.13.0 openstacksdk==4.22.0
                        python-openstackclient==10.5.0)
if ! has_pins "$openstack_clients_venv" glanceclient.v2.client,openstack,openstackclient.shell \
        "${openstack_clients_pins[@]}" || [ ! -x "$openstack_clients_venv/bin/glance" ] \
        || [ ! -x "$openstack_clients_venv/bin/openstack" ]; then
    venv_install "$openstack_clients_venv" "${openstack_clients_pins[@]}"
fi

apt_install prometheus prometheus
apt_install systemd-analyze systemd

echo "test services ready: nginx=$(command -v nginx || echo /usr/sbin/nginx)" \
     "swift=$swift_venv keystone=$keystone_venv qemu-img=$(command -v qemu-img)" \
     "glanceclient1=$glanceclient1_venv openstack-clients=$openstack_clients_venv" \
     "prometheus=$(command -v prometheus)"
