#!/usr/bin/env bash
# The main job on a fresh machine: build Loupe, install and start the local model (cached
# under .loupe/), fine-tune it once on the demo's hand-written training requests and serve
# the result, check and run the demo session (few-shot prompt, prompt+RAG and fine-tuned,
# among others, on the same cases), print its report, then open the workbench on it. The
# model servers it started are stopped when the workbench closes; one that was already
# running on its port is used and left running.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/own-servers.sh
. scripts/lib/own-servers.sh
trap 'stop_own >/dev/null 2>&1' EXIT

cargo build --release --locked
scripts/model.sh install
# Two server threads: the demo's 96 cells finish in about half the time.
LOUPE_MODEL_THREADS="${LOUPE_MODEL_THREADS:-2}" start_own scripts/model.sh 8080
# The embedding model the prompt+rag variant retrieves with (sessions/demo.yaml, port 8090).
scripts/embed.sh install
start_own scripts/embed.sh 8090 >/dev/null

loupe=target/release/loupe

# The fine-tuned contender, made here: the reference answers of sessions/training/ (not the
# evaluation cases; decontaminated against them) rendered with the fine-tuned variant's short
# prompt, then llama.cpp's trainer on an F32 copy of the same model. Built and trained once:
# a rerun finds the training run with the same data, base and settings and trains nothing.
scripts/tune.sh install >/dev/null
base_f32="$(scripts/tune.sh base)"
train_file=sessions/training/change-risk-train.jsonl
export_dir=sessions/.loupe/train-export
force=()
tune_args=(--name change-risk --epochs 6 --lr 3e-5)
# Exported again (and so trained again) only when the training file or the session changed
# (the manifest names both by sha256), and trained again when these settings changed.
if [ "$(cat "$export_dir/demo-tune-args" 2>/dev/null)" != "${tune_args[*]}" ]; then
  force=(--force)
fi
if ! grep -q "$(sha256sum "$train_file" | cut -d' ' -f1)" "$export_dir/sft.manifest.json" 2>/dev/null \
  || ! grep -q "$(sha256sum sessions/demo.yaml | cut -d' ' -f1)" "$export_dir/sft.manifest.json"; then
  "$loupe" export sessions/demo.yaml --format sft --from references --cases "$train_file" \
    --variant fine-tuned --out "$export_dir" --force >/dev/null
  force=(--force)
fi
tuned="$("$loupe" tune sessions/demo.yaml --data "$export_dir" --base "$base_f32" \
  "${tune_args[@]}" "${force[@]}")"
echo "${tune_args[*]}" > "$export_dir/demo-tune-args"
LOUPE_MODEL_THREADS="${LOUPE_MODEL_THREADS:-2}" start_own scripts/model.sh 8081 "$tuned" tuned:change-risk >/dev/null
"$loupe" tunes --store sessions/.loupe/store
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
