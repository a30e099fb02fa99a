#!/usr/bin/env bash
# svidkit demo: one server, one agent, and this shell's user as a workload
# whose X.509-SVID rotates every few seconds. Ctrl-C stops everything.
# State lives in .demo/; a second run reuses the same trust domain and keys.
set -euo pipefail

BIN=${1:-bin}
ROOT=$(pwd)
DEMO=$ROOT/.demo
TD=demo.svidkit.test
# Unix socket paths are limited to 108 bytes: keep them short and per-user.
SOCKDIR=${TMPDIR:-/tmp}/svidkit-demo-$(id -u)
ADMIN_SOCK=$SOCKDIR/server.sock
AGENT_SOCK=$SOCKDIR/agent.sock
PORT=${SVIDKIT_DEMO_PORT:-18081}

mkdir -p "$DEMO/server" "$DEMO/agent" "$SOCKDIR"
chmod 700 "$SOCKDIR"

cat > "$DEMO/server.conf" <<CONF
server {
  bind_address = "127.0.0.1"
  bind_port = "$PORT"
  socket_path = "$ADMIN_SOCK"
  trust_domain = "$TD"
  data_dir = "$DEMO/server"
  log_level = "INFO"
  ca_ttl = "24h"
  default_x509_svid_ttl = "20s"
  default_jwt_svid_ttl = "5m"
  agent_ttl = "1h"
}

plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "$DEMO/server/datastore.sqlite3"
    }
  }
  KeyManager "disk" {
    plugin_data {
      keys_path = "$DEMO/server/keys.json"
    }
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}

health_checks {
  listener_enabled = false
}
CONF

cat > "$DEMO/agent.conf" <<CONF
agent {
  data_dir = "$DEMO/agent"
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "$PORT"
  socket_path = "$AGENT_SOCK"
  trust_domain = "$TD"
  trust_bundle_path = "$DEMO/bundle.pem"
}

plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "disk" {
    plugin_data {
      directory = "$DEMO/agent"
    }
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
CONF

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  # Stop in reverse start order: watcher, agent, server.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  echo "demo: stopped (state kept in .demo/)"
}
trap cleanup INT TERM EXIT

wait_for() { # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "demo: timed out waiting for $what" >&2
  exit 1
}

echo "demo: starting server for trust domain $TD (logs: .demo/server.log)"
setsid "$BIN/svidkit-server" run -config "$DEMO/server.conf" >"$DEMO/server.log" 2>&1 &
pids+=($!)
wait_for "server" "$BIN/svidkit-server" healthcheck -socketPath "$ADMIN_SOCK"

"$BIN/svidkit-server" bundle show -socketPath "$ADMIN_SOCK" -format pem >"$DEMO/bundle.pem"

# Every run makes a fresh join token aliased to one node ID; an agent that
# still holds a valid stored SVID ignores the token and keeps its identity.
NODE_ID="spiffe://$TD/demo/node"
TOKEN=$("$BIN/svidkit-server" token generate -socketPath "$ADMIN_SOCK" -ttl 600 -spiffeID "$NODE_ID" | sed -n 's/^Token: //p')

echo "demo: starting agent (logs: .demo/agent.log)"
setsid "$BIN/svidkit-agent" run -config "$DEMO/agent.conf" -joinToken "$TOKEN" >"$DEMO/agent.log" 2>&1 &
pids+=($!)
wait_for "agent" "$BIN/svidkit-agent" healthcheck -socketPath "$AGENT_SOCK"
echo "demo: agent is up"

WORKLOAD_ID="spiffe://$TD/demo/uid-$(id -u)"
if ! "$BIN/svidkit-server" entry show -socketPath "$ADMIN_SOCK" -spiffeID "$WORKLOAD_ID" -parentID "$NODE_ID" | grep -q "Entry ID"; then
  "$BIN/svidkit-server" entry create -socketPath "$ADMIN_SOCK" \
    -parentID "$NODE_ID" -spiffeID "$WORKLOAD_ID" -selector "unix:uid:$(id -u)" -x509SVIDTTL 20 >/dev/null
  echo "demo: registered $WORKLOAD_ID for unix:uid:$(id -u)"
fi

wait_for "the first SVID" "$BIN/svidkit-agent" api fetch x509 -socketPath "$AGENT_SOCK" -timeout 1s
echo "demo: watching the SVID of this user (rotates every ~10s; Ctrl-C to stop)"
"$BIN/svidkit-agent" api watch -socketPath "$AGENT_SOCK" &
pids+=($!)
wait "${pids[-1]}"
