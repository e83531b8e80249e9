# Shell helpers shared by network.sh and minio/minio.sh, and the ports of
# the development network. Source it after setting hx_name (the prefix of
# every line these helpers print).

# shellcheck source=ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

log() { printf '[%s] %s\n' "$hx_name" "$*"; }

# fail MESSAGE [LOGFILE]: print the message, and the log's last lines if
# given, then exit 1.
fail() {
  printf '[%s] error: %s\n' "$hx_name" "$1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    printf '[%s] last lines of %s:\n' "$hx_name" "$2" >&2
    tail -n 30 "$2" >&2
  fi
  exit 1
}

# listening PORT: something accepts connections on 127.0.0.1:PORT.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pin_hash TOOLS_DIR: a short hash of a tools module's pin, naming the cache
# folder of what it builds, so a changed pin rebuilds and nothing else does.
pin_hash() { cat "$1/go.mod" "$1/go.sum" | sha256sum | cut -c1-16; }

# stop_pid NAME PIDFILE: TERM, then KILL after 10 s; by the recorded pid only.
stop_pid() {
  local name="$1" pidfile="$2" pid i
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop in 10 s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}
