#!/usr/bin/env bash
# The main job on a fresh machine: build Loupe, install and start the local model (cached
# under .loupe/), check and run the demo session, print its report, then open the
# workbench on it. The model server is stopped when the workbench closes.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked
scripts/model.sh install
# Two server threads: the demo's 96 cells finish in about half the time.
LOUPE_MODEL_THREADS="${LOUPE_MODEL_THREADS:-2}" scripts/model.sh start 8080
trap 'scripts/model.sh stop 8080 >/dev/null 2>&1 || true' EXIT
# The embedding model the prompt+rag variant retrieves with (sessions/demo.yaml, port 8090).
scripts/embed.sh install
scripts/embed.sh start 8090 >/dev/null
trap 'scripts/model.sh stop 8080 >/dev/null 2>&1 || true; scripts/embed.sh stop 8090 >/dev/null 2>&1 || true' EXIT

loupe=target/release/loupe
"$loupe" check sessions/demo.yaml
# Exit 1 means the run finished with failed cells (or was interrupted): the report below
# still says which and why; only a usage or input error (exit 2) stops here.
status=0
run_id=$("$loupe" run sessions/demo.yaml) || status=$?
if [ "$status" -eq 2 ] || [ -z "$run_id" ]; then
  exit "$status"
fi
"$loupe" report --store sessions/.loupe/store "$run_id"
if [ -t 0 ] && [ -t 2 ]; then
  "$loupe" sessions/demo.yaml
else
  echo "no terminal here: open the workbench later with: $loupe sessions/demo.yaml" >&2
fi
