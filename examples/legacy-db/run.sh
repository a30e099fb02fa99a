#!/usr/bin/env bash
# svidkit legacy-db example: a real PostgreSQL whose server certificate and
# its clients' certificates are X.509-SVIDs from svidkit, written to disk by
# svidkit-helper and rotated every few seconds under a live session.
#
#   bash examples/legacy-db/run.sh [BIN]     (go tool task example:legacy-db)
#
# BIN holds svidkit-server, svidkit-agent and svidkit-helper (default bin).
# Ctrl-C stops everything. LEGACYDB_SECONDS=60 stops by itself after a
# minute. Ports: LEGACYDB_SERVER_PORT (default 18082), LEGACYDB_PG_PORT
# (default 54329). Runs as a normal user, or as root: PostgreSQL refuses
# root, so the database and its helpers then run as the postgres user.
set -euo pipefail

BIN=$(cd "${1:-bin}" && pwd)
TD=legacy-db.svidkit.test
SERVER_PORT=${LEGACYDB_SERVER_PORT:-18082}
PG_PORT=${LEGACYDB_PG_PORT:-54329}
SVID_TTL=20   # database SVID lifetime (s): rotated at half life
CLIENT_TTL=30 # client SVID lifetime (s)

say() { printf 'legacy-db: %s\n' "$*"; }
die() { printf 'legacy-db: %s\n' "$*" >&2; exit 1; }

# --- PostgreSQL binaries: on PATH or Debian's /usr/lib/postgresql/<v>/bin.
PGBIN=""
if command -v initdb >/dev/null 2>&1; then
  PGBIN=$(dirname "$(readlink -f "$(command -v initdb)")")
else
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    [ -x "$d/initdb" ] && { PGBIN=$d; break; }
  done
fi
[ -n "$PGBIN" ] || die "PostgreSQL not found (initdb on PATH or in /usr/lib/postgresql/*/bin); install it, e.g. apt-get install postgresql"
for p in initdb pg_ctl psql postgres; do [ -x "$PGBIN/$p" ] || die "$PGBIN/$p missing"; done
command -v openssl >/dev/null || die "openssl is needed to show the served certificate"
for b in svidkit-server svidkit-agent svidkit-helper; do [ -x "$BIN/$b" ] || die "$BIN/$b missing: run go tool task build"; done

# --- Users: the database side runs as DB_USER, clients as this user.
ME=$(id -un)
if [ "$(id -u)" = 0 ]; then
  DB_USER=postgres
  id "$DB_USER" >/dev/null 2>&1 || DB_USER=nobody
  # setpriv execs the command itself: signals reach it directly.
  as_db() { setpriv --reuid="$DB_USER" --regid="$(id -g "$DB_USER")" --init-groups -- "$@"; }
else
  DB_USER=$ME
  as_db() { "$@"; }
fi
DB_UID=$(id -u "$DB_USER")

# --- Directories. Unix socket paths are limited to 108 bytes: keep it short.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/svidkit-ldb.XXXXXX")
chmod 755 "$WORK" # DB_USER must reach the agent socket and its own directory
mkdir -p "$WORK/server" "$WORK/agent" "$WORK/sock" "$WORK/admin" "$WORK/db/certs" "$WORK/db/run" "$WORK/app" "$WORK/mallory"
chmod 700 "$WORK/server" "$WORK/agent" "$WORK/admin" "$WORK/db" "$WORK/db/certs" "$WORK/db/run" "$WORK/app" "$WORK/mallory"
chmod 755 "$WORK/sock"
[ "$DB_USER" = "$ME" ] || chown -R "$DB_USER:" "$WORK/db"
cd "$WORK" # the caller's directory may be closed to DB_USER (a clone under /root)
ADMIN_SOCK=$WORK/admin/api.sock
AGENT_SOCK=$WORK/sock/agent.sock
PGDATA=$WORK/db/pgdata

daemons=() # server, agent: stopped last
clients=() # helpers and the live session: stopped first
pg_started=""
stop_all() { # stop_all <pid...>: SIGTERM in reverse start order
  local i p=("$@")
  for ((i=${#p[@]}-1; i>=0; i--)); do
    kill -TERM "${p[i]}" 2>/dev/null || true
    wait "${p[i]}" 2>/dev/null || true
  done
}
cleanup() {
  trap - INT TERM EXIT
  echo
  say "stopping"
  stop_all "${clients[@]}"
  if [ -n "$pg_started" ]; then
    as_db "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w >/dev/null 2>&1 || true
  fi
  stop_all "${daemons[@]}"
  rm -rf "$WORK"
  say "stopped"
}
trap cleanup INT TERM EXIT

wait_for() { # wait_for <what> <command...>: up to 10s
  local what=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "timed out waiting for $what (logs in $WORK)"
}

# --- 1. svidkit server and agent.
cat > "$WORK/server.conf" <<CONF
server {
  bind_address = "127.0.0.1"
  bind_port = "$SERVER_PORT"
  socket_path = "$ADMIN_SOCK"
  trust_domain = "$TD"
  data_dir = "$WORK/server"
  log_level = "INFO"
  ca_ttl = "24h"
  default_x509_svid_ttl = "${SVID_TTL}s"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "$WORK/server/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
CONF
cat > "$WORK/agent.conf" <<CONF
agent {
  data_dir = "$WORK/agent"
  log_level = "INFO"
  server_address = "127.0.0.1"
  server_port = "$SERVER_PORT"
  socket_path = "$AGENT_SOCK"
  trust_domain = "$TD"
  trust_bundle_path = "$WORK/bundle.pem"
}
plugins {
  NodeAttestor "join_token" {
    plugin_data {}
  }
  KeyManager "memory" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {}
  }
}
CONF

say "1. starting svidkit-server (trust domain $TD) and svidkit-agent; work dir $WORK"
setsid "$BIN/svidkit-server" run -config "$WORK/server.conf" >"$WORK/server.log" 2>&1 &
daemons+=($!)
wait_for "the server" "$BIN/svidkit-server" healthcheck -socketPath "$ADMIN_SOCK"
"$BIN/svidkit-server" bundle show -socketPath "$ADMIN_SOCK" -format pem >"$WORK/bundle.pem"
NODE_ID="spiffe://$TD/node"
TOKEN=$("$BIN/svidkit-server" token generate -socketPath "$ADMIN_SOCK" -ttl 600 -spiffeID "$NODE_ID" | sed -n 's/^Token: //p')
setsid "$BIN/svidkit-agent" run -config "$WORK/agent.conf" -joinToken "$TOKEN" >"$WORK/agent.log" 2>&1 &
daemons+=($!)
wait_for "the agent" "$BIN/svidkit-agent" healthcheck -socketPath "$AGENT_SOCK"

# --- 2. Registration entries. The first DNS name becomes the subject CN:
# db.local is what clients verify, app/mallory are database user names.
entry() { # entry <path> <uid> <dns> <ttl>
  "$BIN/svidkit-server" entry create -socketPath "$ADMIN_SOCK" -parentID "$NODE_ID" \
    -spiffeID "spiffe://$TD/$1" -selector "unix:uid:$2" -dns "$3" -hint "$1" -x509SVIDTTL "$4" >/dev/null
  say "   entry spiffe://$TD/$1: unix:uid:$2, DNS $3 (CN=$3), hint $1, X.509-SVID TTL ${4}s"
}
say "2. registering the database (runs as $DB_USER) and two clients (run as $ME)"
entry db "$DB_UID" db.local "$SVID_TTL"
entry app "$(id -u)" app "$CLIENT_TTL"
entry mallory "$(id -u)" mallory "$CLIENT_TTL"

helper_conf() { # helper_conf <cert_dir> <hint> <daemon_mode> [pid_file]
  cat <<CONF
agent_address = "$AGENT_SOCK"
cert_dir = "$1"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "svid_bundle.pem"
key_file_mode = 0600
hint = "$2"
daemon_mode = $3
CONF
  if [ -n "${4:-}" ]; then
    printf 'pid_file_name = "%s"\nrenew_signal = "SIGHUP"\n' "$4"
  fi
}

# --- 3. One-shot helper (the init container): files before PostgreSQL starts.
helper_conf "$WORK/db/certs" db false | as_db tee "$WORK/db/helper-init.conf" >/dev/null
helper_conf "$WORK/db/certs" db true "$PGDATA/postmaster.pid" | as_db tee "$WORK/db/helper.conf" >/dev/null
say "3. one-shot svidkit-helper writes the database's certificate, key and CA bundle"
as_db "$BIN/svidkit-helper" -config "$WORK/db/helper-init.conf" -daemon-mode=false -timeout 30s 2>"$WORK/db-helper-init.log" ||
  die "one-shot helper failed: $(tail -1 "$WORK/db-helper-init.log")"
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
say "   svid_key.pem -> $(readlink "$WORK/db/certs/svid_key.pem"): $(stat -L -c '%A %U' "$WORK/db/certs/svid_key.pem"); certificate serial $(serial_of "$WORK/db/certs/svid.pem")"

# --- 4. PostgreSQL: TLS from the helper's files, clients authenticated by
# certificate CN; the owner may connect over the private Unix socket.
say "4. initdb and start PostgreSQL on 127.0.0.1:$PG_PORT (as $DB_USER)"
as_db "$PGBIN/initdb" -D "$PGDATA" -U "$DB_USER" --auth-local=peer --auth-host=reject -E UTF8 --locale=C --no-sync >"$WORK/initdb.log" 2>&1 ||
  die "initdb failed: see $WORK/initdb.log"
as_db tee -a "$PGDATA/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/db/run'
unix_socket_permissions = 0700
ssl = on
ssl_cert_file = '$WORK/db/certs/svid.pem'
ssl_key_file = '$WORK/db/certs/svid_key.pem'
ssl_ca_file = '$WORK/db/certs/svid_bundle.pem'
log_connections = on
CONF
printf 'local all %s peer\nhostssl all all 127.0.0.1/32 cert\n' "$DB_USER" | as_db tee "$PGDATA/pg_hba.conf" >/dev/null
as_db "$PGBIN/pg_ctl" start -D "$PGDATA" -l "$WORK/db/postgres.log" -w >/dev/null || die "PostgreSQL did not start: see $WORK/db/postgres.log"
pg_started=1
as_db "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK/db/run" -p "$PG_PORT" -U "$DB_USER" -d postgres \
  -c "CREATE ROLE app LOGIN; CREATE ROLE mallory LOGIN;"
postmaster_pid() { head -1 "$PGDATA/postmaster.pid"; }
PM_PID=$(postmaster_pid)
say "   postmaster pid $PM_PID; roles app and mallory created"

# --- 5. Daemon helpers: the database's sidecar SIGHUPs the postmaster (its
# pid file) after each rotation; the app's keeps the client files fresh.
say "5. svidkit-helper daemons: database (pid_file_name = postmaster.pid, renew_signal = SIGHUP) and app client"
if [ "$DB_USER" = "$ME" ]; then
  setsid "$BIN/svidkit-helper" -config "$WORK/db/helper.conf" 2>"$WORK/db-helper.log" &
else
  setsid setpriv --reuid="$DB_USER" --regid="$(id -g "$DB_USER")" --init-groups -- \
    "$BIN/svidkit-helper" -config "$WORK/db/helper.conf" 2>"$WORK/db-helper.log" &
fi
clients+=($!)
helper_conf "$WORK/app" app true >"$WORK/app.conf"
setsid "$BIN/svidkit-helper" -config "$WORK/app.conf" 2>"$WORK/app-helper.log" &
clients+=($!)
helper_conf "$WORK/mallory" mallory false >"$WORK/mallory.conf"
"$BIN/svidkit-helper" -config "$WORK/mallory.conf" -timeout 30s 2>"$WORK/mallory-helper.log"
wait_for "the app's files" test -s "$WORK/app/svid_key.pem"

dsn() { # dsn <user> <cert_dir>: libpq settings, verifying the name db.local
  echo "host=db.local hostaddr=127.0.0.1 port=$PG_PORT user=$1 dbname=postgres sslmode=verify-full sslrootcert=$WORK/app/svid_bundle.pem sslcert=$2/svid.pem sslkey=$2/svid_key.pem"
}
SSL_QUERY="SELECT now()::time(0) AS at, pid AS backend, version, client_dn, client_serial FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

# --- 6. Who gets in.
say "6. authentication by certificate CN"
try() { # try <label> <dsn>
  local out
  if out=$(PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -A -t -F ' ' "$2" -c "$SSL_QUERY" 2>&1); then
    say "   $1: accepted: $out"
  else
    say "   $1: refused: $(echo "$out" | grep -m1 FATAL || echo "$out" | head -1)"
  fi
}
try "app with app's certificate" "$(dsn app "$WORK/app")"
try "app with mallory's certificate" "$(dsn app "$WORK/mallory")"
try "app without a certificate" "$(dsn app "$WORK/none")"

# --- 7. A live session, and each rotation as it happens.
say "7. live psql session (one query every 5s) while the database's SVID rotates every ~$((SVID_TTL / 2))s; Ctrl-C stops"
setsid "$PGBIN/psql" -X -A -t -F ' ' "$(dsn app "$WORK/app")" < <(echo "$SSL_QUERY \\watch 5") \
  > >(sed -u 's/^/legacy-db:    live session: /') 2>&1 &
clients+=($!)

served_serial() {
  openssl s_client -starttls postgres -connect "127.0.0.1:$PG_PORT" -servername db.local \
    -CAfile "$WORK/app/svid_bundle.pem" -verify_hostname db.local </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
last=$(serial_of "$WORK/db/certs/svid.pem")
say "   PostgreSQL serves serial $(served_serial)"
rotation=0
started=$SECONDS
while [ -z "${LEGACYDB_SECONDS:-}" ] || [ $((SECONDS - started)) -lt "$LEGACYDB_SECONDS" ]; do
  sleep 0.5
  now=$(serial_of "$WORK/db/certs/svid.pem" 2>/dev/null) || continue
  [ "$now" = "$last" ] && continue
  rotation=$((rotation + 1))
  served=$(served_serial)
  reloads=$(grep -c "received SIGHUP" "$WORK/db/postgres.log" || true)
  say "   rotation $rotation: helper wrote serial $now; PostgreSQL serves $served (postmaster pid $(postmaster_pid), was $PM_PID; $reloads reloads)"
  last=$now
done
