# Sourced by scripts/demo.sh and scripts/test.sh: the local servers a script needs, started
# through scripts/model.sh or scripts/embed.sh, and stopped when it exits only if it
# started them. A server that already ran on the port (an earlier demo, another team
# member's tests in the same checkout) is used as it is and left running.
#
#   start_own SCRIPT PORT [ARG...]   SCRIPT start PORT ARG..., as it prints and fails
#   trap stop_own EXIT               stops what start_own started, nothing else
# shellcheck shell=bash

own_servers=()

start_own() {
  local script="$1" port="$2" status=0
  "$script" status "$port" >/dev/null 2>&1 || status=$?
  # Exit 1: nothing of this checkout serves on the port. Remembered before the start, so
  # that an interrupt while it waits still stops it: `stop` only acts on this checkout's
  # pidfile, and there was none a moment ago.
  if [ "$status" = 1 ]; then
    own_servers+=("$script" "$port")
  fi
  "$script" start "$port" "${@:3}"
}

stop_own() {
  local i
  for ((i = 0; i < ${#own_servers[@]}; i += 2)); do
    "${own_servers[i]}" stop "${own_servers[i + 1]}" || true
  done
  own_servers=()
}
