#!/usr/bin/env bash
# A real MinIO server on loopback for development and the integration tests:
# one server, one data folder, root credentials made at random on first up.
# It shares the state folder with the Fabric test network (network.sh) but
# none of its processes. network.sh down removes that folder, so it calls
# "minio.sh down" first; anything else that removes the folder while the
# server runs leaves it running with no pid file, and the next up then fails
# on the busy port.
#
#   minio.sh up      build the server if missing, start it, wait until
#                    /minio/health/live answers 200 (idempotent)
#   minio.sh down    stop the server (by pid) and remove its data and
#                    credentials
#   minio.sh status  say whether it runs and whether it answers; exit 0 if
#                    it answers, 3 if it does not run, 1 if it runs but does
#                    not answer
#   minio.sh env     print shell exports of the endpoint and credentials,
#                    for eval "$(minio.sh env)"
#   minio.sh bin     build the server if missing and print its path (for
#                    tests that run servers of their own, e.g. distributed)
#
# Clients find the server through $HX_STATE/minio/minio.json (endpoint, TLS,
# the credentials file); the credentials file is mode 0600 and lives only in
# the ignored state folder. Ports and folders can be overridden by
# environment (the HX_ variables below; ports in ../ports.sh). Everything listens on 127.0.0.1 only.
set -euo pipefail
# Everything this script writes (state, keys, logs) is for its owner only.
umask 077

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

: "${HX_CACHE:=$root/.cache}"
: "${HX_STATE:=$HX_CACHE/network}"
: "${HX_UP_TIMEOUT:=120}"

dir="$HX_STATE/minio"
data="$dir/data"
credentials="$dir/credentials.env"
client_config="$dir/minio.json"
logs="$HX_STATE/logs"
logfile="$logs/minio.log"
# Not in $HX_STATE/pids: network.sh up takes an existing pids folder for a
# half-started network and tears it down, which would stop this server too.
pidfile="$dir/minio.pid"

hx_name=minio
# shellcheck source=../lib.sh
. "$here/../lib.sh"
health="http://127.0.0.1:$HX_MINIO_PORT/minio/health/live"

# ------------------------------------------------------------------ binary ---

# The server is built from the pinned module in tools/ into a folder named by
# the hash of that pin, so a changed pin rebuilds and nothing else does.
minio_bin() {
  printf '%s/minio-%s/bin/minio' "$HX_CACHE" "$(pin_hash "$here/tools")"
}

ensure_minio() {
  bin="$(minio_bin)"
  [ -x "$bin" ] && return 0
  mkdir -p "$(dirname "$bin")"
  # Several test binaries may start a server at once (each with its own
  # state): one builds, the others wait for it and find the binary.
  exec 9>"$(dirname "$bin")/.build.lock"
  flock 9
  if [ -x "$bin" ]; then
    exec 9>&-
    return 0
  fi
  log "building the MinIO server into $bin (first time: about 7 minutes)"
  local started=$SECONDS
  # Built to a temporary name and renamed, so an interrupted build never
  # leaves a binary that looks complete.
  (cd "$here/tools" && go build -o "$bin.tmp" github.com/minio/minio) ||
    { rm -f "$bin.tmp"; exec 9>&-; fail "building the MinIO server failed"; }
  mv "$bin.tmp" "$bin"
  exec 9>&-
  log "built in $((SECONDS - started)) s"
}

# --------------------------------------------------------------- processes ---

pid() { [ -f "$pidfile" ] && cat "$pidfile"; }
alive() { local p; p="$(pid)" && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
answers() { curl -fsS -o /dev/null --max-time 2 "$health" 2>/dev/null; }

# The pinned release serves no separate console (that came in July 2021); a
# newer pin would, and would put it on a random port of every interface
# unless told otherwise. So: pass --console-address if the binary knows it.
has_console() { "$bin" server --help 2>&1 | grep -q -- '--console-address'; }

make_credentials() {
  [ -s "$credentials" ] && return 0
  log "generating root credentials ($credentials, mode 0600)"
  mkdir -p "$dir"
  chmod 700 "$dir"
  (
    umask 077
    printf 'MINIO_ROOT_USER=hx%s\nMINIO_ROOT_PASSWORD=%s\n' \
      "$(openssl rand -hex 8)" "$(openssl rand -hex 24)" >"$credentials.tmp"
  )
  chmod 600 "$credentials.tmp"
  mv "$credentials.tmp" "$credentials"
}

write_client_config() {
  local tmp="$client_config.tmp"
  jq -n --arg endpoint "127.0.0.1:$HX_MINIO_PORT" --arg creds "$credentials" \
    '{endpoint:$endpoint, useTLS:false, credentialsFile:$creds}' >"$tmp"
  mv "$tmp" "$client_config"
  log "client configuration: $client_config"
}

# Poll the liveness endpoint until it answers; if the process dies, stop
# waiting and show why.
wait_answers() {
  local p deadline=$((SECONDS + HX_UP_TIMEOUT))
  p="$(pid)"
  until answers; do
    kill -0 "$p" 2>/dev/null || fail "minio exited while starting" "$logfile"
    [ $SECONDS -lt $deadline ] ||
      fail "timed out after ${HX_UP_TIMEOUT}s waiting for $health (minio.sh down, then up, starts afresh)" "$logfile"
    sleep 0.2
  done
}

up() {
  if alive && answers; then
    log "already up (pid $(pid), http://127.0.0.1:$HX_MINIO_PORT, state: $dir)"
    return 0
  fi
  if alive; then
    log "minio (pid $(pid)) runs but does not answer yet; waiting for it"
    wait_answers
    write_client_config
    return 0
  fi
  rm -f "$pidfile"
  ensure_minio
  local console=()
  if has_console; then
    console=(--console-address "127.0.0.1:$HX_MINIO_CONSOLE_PORT")
  fi
  if listening "$HX_MINIO_PORT"; then
    fail "port $HX_MINIO_PORT on 127.0.0.1 is in use by another program (a minio whose state folder was removed? ss -ltnp shows it); choose another with HX_MINIO_PORT=..."
  fi
  if [ ${#console[@]} -gt 0 ] && listening "$HX_MINIO_CONSOLE_PORT"; then
    fail "port $HX_MINIO_CONSOLE_PORT on 127.0.0.1 is in use by another program; choose another with HX_MINIO_CONSOLE_PORT=..."
  fi
  make_credentials
  mkdir -p "$data" "$dir/certs" "$logs"
  log "starting minio on 127.0.0.1:$HX_MINIO_PORT (log: $logfile)"
  (
    set -a
    # shellcheck source=/dev/null
    . "$credentials"
    set +a
    export MINIO_UPDATE=off
    # The old embedded browser of the pinned release: not needed, not served.
    [ ${#console[@]} -gt 0 ] || export MINIO_BROWSER=off
    setsid "$bin" server --address "127.0.0.1:$HX_MINIO_PORT" "${console[@]}" \
      --certs-dir "$dir/certs" "$data" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
  )
  wait_answers
  write_client_config
  log "up: pid $(pid), http://127.0.0.1:$HX_MINIO_PORT"
}

stop() { stop_pid minio "$pidfile"; }

down() {
  stop
  rm -rf "$dir"
  log "down: no minio process left, data and credentials removed"
}

status() {
  if ! alive; then
    printf '%-10s not running\n' minio
    return 3
  fi
  printf '%-10s running (pid %s)\n' minio "$(pid)"
  if answers; then
    printf '%-10s answers on %s\n' minio "$health"
  else
    printf '%-10s does not answer on %s\n' minio "$health"
    return 1
  fi
}

env_cmd() {
  [ -s "$credentials" ] || fail "no credentials at $credentials; run minio.sh up"
  local user password
  user="$(sed -n 's/^MINIO_ROOT_USER=//p' "$credentials")"
  password="$(sed -n 's/^MINIO_ROOT_PASSWORD=//p' "$credentials")"
  printf 'export HX_MINIO_CONFIG=%q\n' "$client_config"
  printf 'export HX_MINIO_ENDPOINT=%q\n' "127.0.0.1:$HX_MINIO_PORT"
  printf 'export HX_MINIO_ACCESS_KEY=%q\n' "$user"
  printf 'export HX_MINIO_SECRET_KEY=%q\n' "$password"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
env) env_cmd ;;
bin) ensure_minio && minio_bin && echo ;;
*)
  printf 'usage: %s up|down|status|env|bin\n' "$0" >&2
  exit 2
  ;;
esac
