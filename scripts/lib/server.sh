# Sourced by scripts/model.sh and scripts/embed.sh (after lib/common.sh): the life of a local
# HTTP server on 127.0.0.1:PORT, one per port, its pid in <cache>/<kind>-PORT.pid and its
# output in <cache>/<kind>-PORT.log.
#
# The sourcing script sets: me (its name), cache, venv and py (the venv and its python),
# stamp (present once installed), kind (model or embed), port_var (the environment variable
# naming the default port) and default_port; and for start_server it defines
# launch_server PORT (starts the server in the background, output to the log) and
# announce_server PORT PID (the line saying what now serves where).
# shellcheck shell=bash disable=SC2154
# (SC2154: the variables named above are the sourcing script's.)

pidfile() { echo "$cache/$kind-$1.pid"; }
logfile() { echo "$cache/$kind-$1.log"; }

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

# running_pid PORT: prints the pid of this checkout's server on PORT; fails (and forgets a
# stale pidfile) when there is none.
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

# port_arg [PORT]: PORT, else $port_var, else default_port; a usage error (exit 2) when it
# is not a port number. Call it as `port="$(port_arg ...)"` so that the exit stops the script.
port_arg() {
  local port="${1:-${!port_var:-$default_port}}"
  case "$port" in
    '' | *[!0-9]*)
      echo "$me: port must be a number, got '$port'" >&2
      exit 2
      ;;
  esac
  if [ "${#port}" -gt 5 ] || [ "$((10#$port))" -lt 1 ] || [ "$((10#$port))" -gt 65535 ]; then
    echo "$me: port must be between 1 and 65535, got '$port'" >&2
    exit 2
  fi
  echo "$((10#$port))"
}

all_ports() {
  local f
  for f in "$cache/$kind"-*.pid; do
    [ -e "$f" ] || continue
    f="${f##*/"$kind"-}"
    echo "${f%.pid}"
  done
}

# Logs of servers no longer running (tests start them on random ports).
prune_logs() {
  local f port
  for f in "$cache/$kind"-*.log; do
    [ -e "$f" ] || continue
    port="${f##*/"$kind"-}"
    port="${port%.log}"
    running_pid "$port" >/dev/null || rm -f "$f"
  done
}

# start_server PORT TIMEOUT: serve on PORT unless this checkout already does, wait up to
# TIMEOUT seconds for /health to say 200, print the server's URL. A port another program
# holds is an error, never taken over.
start_server() {
  local port="$1" timeout="$2" base pid status deadline
  base="http://127.0.0.1:$port"
  if pid="$(running_pid "$port")"; then
    if [ "$(http_status "$base/health")" = "200" ]; then
      echo "$me: already serving on $base (pid $pid); base_url for sessions: $base/v1" >&2
      echo "$base"
      return 0
    fi
  elif [ "$(http_status "$base/health")" != "000" ]; then
    die "port $port is taken by another server; pick another port (scripts/$me start PORT)"
  fi
  # A server of ours that does not answer yet (still loading) is waited for, not started again.
  if [ -z "$pid" ]; then
    launch_server "$port"
    pid=$!
    echo "$pid" >"$(pidfile "$port")"
  fi
  deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$(pidfile "$port")"
      echo "$me: the server exited during start; last lines of $(logfile "$port"):" >&2
      tail -n 15 "$(logfile "$port")" >&2 || true
      exit 1
    fi
    status="$(http_status "$base/health")"
    [ "$status" = "200" ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$me: no OK from $base/health after ${timeout}s (last status $status); see $(logfile "$port")" >&2
      kill "$pid" 2>/dev/null || true
      rm -f "$(pidfile "$port")"
      exit 1
    fi
    sleep 0.2
  done
  announce_server "$port" "$pid"
  echo "$base"
}

stop_port() {
  local port="$1" pid
  if ! pid="$(running_pid "$port")"; then
    echo "$me: nothing running on port $port" >&2
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(pidfile "$port")"
  echo "$me: stopped the server on port $port (pid $pid)" >&2
}

# cmd_stop [PORT]: the server on PORT (or $port_var); every one of this checkout's when
# neither is given.
cmd_stop() {
  local port any=0
  if [ -n "${1:-}" ] || [ -n "${!port_var:-}" ]; then
    port="$(port_arg "${1:-}")"
    stop_port "$port"
    return 0
  fi
  for port in $(all_ports); do
    any=1
    stop_port "$port"
  done
  [ "$any" = 1 ] || echo "$me: nothing running" >&2
}

# cmd_status [PORT]: what is installed and what serves where; fails when nothing does.
cmd_status() {
  local ports port pid found=0
  if [ -n "${1:-}" ] || [ -n "${!port_var:-}" ]; then
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
