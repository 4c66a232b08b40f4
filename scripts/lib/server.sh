# Sourced by scripts that need a live server (check-openapi, gen-clients): builds the debug
# server once (unless SKIP_BUILD=1; CARGO_TARGET_DIR honoured), starts it on a throwaway
# SQLite database with a program and an API key made by its CLI, and stops it on exit.
#
# After `start_server NAME`: $base (http://127.0.0.1:PORT), $key (a read-write API key),
# $tmp (a temp dir removed on success, kept on failure or with KEEP=1).
# Extra environment for the server: pass it in SERVER_ENV (e.g. "REFGROW_RATE_LIMIT=0").

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/debug/refgrow-server"
server_pids=()

log() { echo "${script_name:-server}: $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck disable=SC2317  # invoked by the trap
stop_server() {
  local rc=$?
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${tmp:-}" ]; then
    if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
      log "logs and database kept in $tmp"
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$rc"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {
  local name="$1"
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "cargo build -p refgrow-server (waits if another build holds the lock)"
    (cd "$root" && cargo build --quiet -p refgrow-server)
  fi
  [ -x "$bin" ] || die "no server binary at $bin"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")"
  trap stop_server EXIT INT TERM
  export DATABASE_URL="sqlite://$tmp/refgrow.db"
  export RUST_LOG="${RUST_LOG:-warn}"
  "$bin" migrate >/dev/null
  "$bin" program create --name "$name" >/dev/null
  key="$("$bin" key create --program "$name" --label "$name")"
  local port
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  # shellcheck disable=SC2086  # SERVER_ENV is a list of NAME=value words
  env ${SERVER_ENV:-} REFGROW_BIND="127.0.0.1:$port" "$bin" serve >"$tmp/server.log" 2>&1 &
  server_pids+=($!)
  for _ in $(seq 1 150); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "the server did not start (see $tmp/server.log)"
}

# Fails when the server log shows a panic.
check_no_panic() {
  if grep -q "panicked" "$tmp/server.log"; then
    log "the server panicked:"
    grep -A3 panicked "$tmp/server.log" >&2
    return 1
  fi
}
