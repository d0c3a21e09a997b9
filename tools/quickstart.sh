#!/usr/bin/env bash
# Install Glance into ./.venv and run glance-registry + glance-api on embedded defaults:
# SQLite registry database and file store under ./var (or $GLANCE_STATE_DIR), both
# daemons authenticating with the tokens file $GLANCE_STATE_DIR/tokens.json (made on
# the first run, kept afterwards). Prints a working token and the lines that use it.
# Idempotent: run it again to start the service again. Ctrl-C stops both daemons.
#
#   GLANCE_STATE_DIR   where the database, images, confs and logs go (default ./var)
#   GLANCE_HOST        bind address (default 127.0.0.1)
#   GLANCE_REGISTRY_PORT, GLANCE_API_PORT   ports (default 9191, 9292)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
state=${GLANCE_STATE_DIR:-$repo/var}
host=${GLANCE_HOST:-127.0.0.1}
registry_port=${GLANCE_REGISTRY_PORT:-9191}
api_port=${GLANCE_API_PORT:-9292}

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "Installing python3-venv (Debian)..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
if [ ! -x "$repo/.venv/bin/python" ]; then
    python3 -m venv "$repo/.venv"
fi
if ! "$repo/.venv/bin/python" -c 'import glance, eventlet, swiftclient, boto3' 2>/dev/null; then
    echo "Installing Glance into $repo/.venv ..." >&2
    "$repo/.venv/bin/pip" install --quiet --upgrade pip
    "$repo/.venv/bin/pip" install --quiet -e "$repo[all]"
fi

mkdir -p "$state/images" "$state/log"
umask 077
tokens=$state/tokens.json
if [ ! -s "$tokens" ]; then
    "$repo/.venv/bin/python" - "$tokens" <<'PY'
import json, secrets, sys
tokens = {secrets.token_urlsafe(32): identity for identity in (
    {'user': 'demo', 'project': 'demo', 'roles': ['member']},
    {'user': 'admin', 'project': 'admin', 'roles': ['admin']},
    {'user': 'glance-api', 'project': 'service', 'roles': ['service']})}
with open(sys.argv[1], 'w') as out:
    json.dump(tokens, out, indent=1)
PY
fi
token_of() {
    "$repo/.venv/bin/python" -c 'import json, sys
print(next(t for t, i in json.load(open(sys.argv[1])).items() if i["user"] == sys.argv[2]))' \
        "$tokens" "$1"
}
demo_token=$(token_of demo)
admin_token=$(token_of admin)
service_token=$(token_of glance-api)
cat > "$state/glance-registry.conf" <<CONF
[DEFAULT]
bind_host = $host
bind_port = $registry_port
sql_connection = sqlite:///$state/glance-registry.sqlite
log_file = $state/log/glance-registry.log
paste_file = $repo/etc/glance-registry-paste.ini
tokens_file = $tokens
CONF
cat > "$state/glance-api.conf" <<CONF
[DEFAULT]
bind_host = $host
bind_port = $api_port
registry_urls = http://$host:$registry_port
default_store = file
log_file = $state/log/glance-api.log
paste_file = $repo/etc/glance-api-paste.ini
tokens_file = $tokens
registry_service_token = $service_token

[store:file]
filesystem_store_datadir = $state/images
CONF

"$repo/.venv/bin/python" "$repo/bin/glance-manage" --config-file "$state/glance-registry.conf" db sync

pids=()
stop() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait
}
trap stop INT TERM EXIT
"$repo/.venv/bin/python" "$repo/bin/glance-registry" --config-file "$state/glance-registry.conf" \
    --pipeline glance-registry-tokens-file &
pids+=($!)
"$repo/.venv/bin/python" "$repo/bin/glance-api" --config-file "$state/glance-api.conf" \
    --pipeline glance-api-tokens-file &
pids+=($!)
for url in "http://$host:$registry_port/healthcheck" "http://$host:$api_port/healthcheck"; do
    for _ in $(seq 1 100); do
        "$repo/.venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url" 2>/dev/null && break
        sleep 0.2
    done
done
cat <<MSG
Glance is running (Ctrl-C stops it):
  registry (Parallax): http://$host:$registry_port
  api (Teller):        http://$host:$api_port
  state and logs:      $state
  tokens:              $tokens (add or revoke tokens there; no restart needed)

Token of project "demo" (role member):  $demo_token
Token of project "admin" (role admin):  $admin_token

  export OS_AUTH_TOKEN=$demo_token
  curl -sS -X POST http://$host:$api_port/images -H "X-Auth-Token: \$OS_AUTH_TOKEN" \\
       -H 'x-image-meta-name: demo' --data-binary @disk.img
  curl -sS http://$host:$registry_port/images -H "X-Auth-Token: \$OS_AUTH_TOKEN"
  GLANCE_URL=http://$host:$api_port GLANCE_REGISTRY_URL=http://$host:$registry_port \\
      $repo/.venv/bin/glance index
MSG
wait
