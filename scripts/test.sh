#!/usr/bin/env bash
# The test command: formatting, lints, and every test, against the real local model.
# Installs what it needs under .loupe/ (cached), starts the model server, stops it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== tmux (end-to-end tests drive the real binary in it)"
if ! command -v tmux >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq tmux >/dev/null
fi
tmux -V

echo "== OpenSSH client and ssh-keygen (loupe serve is tested with the real client)"
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq openssh-client >/dev/null
fi
ssh -V

echo "== local model"
scripts/model.sh install
port="${LOUPE_MODEL_PORT:-18080}"
LOUPE_MODEL_PORT="$port" scripts/model.sh start
trap 'scripts/model.sh stop "$port" || true' EXIT
export LOUPE_TEST_BASE_URL="http://127.0.0.1:$port"

echo "== local embedding model (RAG tests)"
scripts/embed.sh install
embed_port="${LOUPE_EMBED_PORT:-8090}"
LOUPE_EMBED_PORT="$embed_port" scripts/embed.sh start >/dev/null
trap 'scripts/model.sh stop "$port" || true; scripts/embed.sh stop "$embed_port" || true' EXIT
export LOUPE_TEST_EMBED_URL="http://127.0.0.1:$embed_port"

echo "== python datasets (export consumer test)"
scripts/datasets-venv.sh >/dev/null

echo "== trainer and F32 base (loupe tune's real test; built once, cached under .loupe/tune)"
# Cold: about 5 minutes on two idle cores (llama-finetune alone); cached: under a second.
scripts/tune.sh install >/dev/null

echo "== tests"
# Two test binaries at a time: the machine has two cores and the model server wants one.
cargo test --lib --bins --tests --locked -- --test-threads 2
# Each benchmark once, as a test (criterion's test mode takes no libtest flags). A smoke run
# in test mode never judges a figure against a target only a release run measures.
bench_log="$(mktemp)"
cargo test --benches --locked 2>&1 | tee "$bench_log"
if grep -E "OVER the|within [0-9]+ s" "$bench_log"; then
  echo "a benchmark in test mode printed a verdict against its target (above)" >&2
  exit 1
fi
rm -f "$bench_log"
