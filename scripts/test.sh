#!/usr/bin/env bash
# The test command: formatting, lints, and every test, against the real local model.
# Installs what it needs under .loupe/ (cached), starts the model servers, and stops at the
# end those it started (one already running on its port is used and left running).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/own-servers.sh
. scripts/lib/own-servers.sh
trap stop_own EXIT

# apt_install PACKAGE: a Debian package, as root or through sudo.
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$1" >/dev/null
}

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== tmux (end-to-end tests drive the real binary in it)"
command -v tmux >/dev/null 2>&1 || apt_install tmux
tmux -V

echo "== OpenSSH client and ssh-keygen (loupe serve is tested with the real client)"
{ command -v ssh && command -v ssh-keygen; } >/dev/null 2>&1 || apt_install openssh-client
ssh -V

echo "== local model"
scripts/model.sh install
port="${LOUPE_MODEL_PORT:-18080}"
start_own scripts/model.sh "$port"
export LOUPE_TEST_BASE_URL="http://127.0.0.1:$port"

echo "== local embedding model (RAG tests)"
scripts/embed.sh install
embed_port="${LOUPE_EMBED_PORT:-8090}"
start_own scripts/embed.sh "$embed_port" >/dev/null
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
