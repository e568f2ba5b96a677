#!/usr/bin/env bash
# The trainer behind `loupe tune`: llama.cpp's own `llama-finetune`, built from the
# llama.cpp source vendored in the llama-cpp-python sdist on PyPI, patched (see
# scripts/patches/llama-finetune.patch for what and why), and the F32 copy of the base
# model it trains (it updates full weights in F32, so the shipped Q4_1 file is
# dequantized with the `gguf` package). Everything is cached under <repo>/.loupe/tune/;
# running a command again does nothing when its result is there.
#
#   scripts/tune.sh install         model venv (scripts/model.sh install), build tools,
#                                   the trainer and the F32 base; prints the trainer's path
#   scripts/tune.sh trainer         build the trainer only (about 5 min on 2 cores, once)
#   scripts/tune.sh base [GGUF]     dequantize GGUF (default: the shipped SmolLM2-135M Q4_1)
#                                   to F32 once; prints the F32 file's path
#   scripts/tune.sh status          say what is built
#
# Environment: LOUPE_TUNE_JOBS (build jobs, default 2).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
me="tune.sh"
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
cache="$root/.loupe"
dir="$cache/tune"
py="$cache/venv/bin/python"
pip_bin="$cache/venv/bin"

sdist_version="0.3.36"
sdist_file="llama_cpp_python-$sdist_version.tar.gz"
sdist_sha256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
patch_file="$root/scripts/patches/llama-finetune.patch"
tools=("cmake==4.4.5" "ninja==1.13.2" "scikit-build-core==1.1.2" "gguf==0.19.0")
trainer="$dir/bin/llama-finetune"
trainer_stamp="$dir/trainer.built"

trainer_stamp_text() {
  echo "llama-cpp-python==$sdist_version $sdist_sha256 patch $(sha256_of "$patch_file")"
}

ensure_tools() {
  "$root/scripts/model.sh" install
  local missing=0 t
  for t in "${tools[@]}"; do
    "$py" -m pip show -q "${t%%==*}" >/dev/null 2>&1 || missing=1
  done
  if [ "$missing" = 1 ] || ! "$py" -c 'import gguf' 2>/dev/null; then
    echo "tune.sh: installing ${tools[*]} from PyPI" >&2
    # cmake and ninja first, from wheels: without them pip would build cmake from source.
    pip_install "$py" "${tools[@]}"
  fi
}

cmd_trainer() {
  if [ -x "$trainer" ] && stamp_is "$trainer_stamp" "$(trainer_stamp_text)"; then
    echo "tune.sh: trainer built ($trainer)" >&2
    return 0
  fi
  ensure_tools
  command -v c++ >/dev/null 2>&1 || die "no C++ compiler: install one (Debian/Ubuntu: sudo apt-get install build-essential)"
  mkdir -p "$dir"
  rm -f "$trainer_stamp"
  if [ ! -f "$dir/$sdist_file" ] || [ "$(sha256_of "$dir/$sdist_file")" != "$sdist_sha256" ]; then
    rm -f "$dir/$sdist_file"
    echo "tune.sh: downloading the llama-cpp-python $sdist_version sdist (llama.cpp source) from PyPI" >&2
    PATH="$pip_bin:$PATH" "$py" -m pip download --disable-pip-version-check -q --no-binary :all: \
      --no-deps --no-build-isolation -d "$dir" "llama-cpp-python==$sdist_version" \
      || die "pip could not download llama-cpp-python==$sdist_version"
    local got
    got="$(sha256_of "$dir/$sdist_file")"
    [ "$got" = "$sdist_sha256" ] || die "sha256 of $dir/$sdist_file is $got, expected $sdist_sha256"
  fi
  local src="$dir/src" build="$dir/build"
  rm -rf "$src" "$build"
  mkdir -p "$src"
  tar -xzf "$dir/$sdist_file" -C "$src" --strip-components=3 \
    "llama_cpp_python-$sdist_version/vendor/llama.cpp" \
    || die "could not unpack vendor/llama.cpp from $dir/$sdist_file"
  if command -v patch >/dev/null 2>&1; then
    patch -s -p1 -d "$src" <"$patch_file" || die "could not apply $patch_file"
  else
    # git applies a patch outside a repository too; the ceiling keeps it from finding the
    # checkout this cache sits in.
    GIT_CEILING_DIRECTORIES="$dir" git -C "$src" apply "$patch_file" \
      || die "could not apply $patch_file (no 'patch' program; git apply failed too)"
  fi
  echo "tune.sh: building llama-finetune (about 5 minutes on 2 cores; once)" >&2
  local t0=$SECONDS
  PATH="$pip_bin:$PATH" cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >"$dir/build.log" 2>&1 \
    || { tail -n 20 "$dir/build.log" >&2; die "cmake could not configure llama.cpp; see $dir/build.log"; }
  PATH="$pip_bin:$PATH" cmake --build "$build" --target llama-finetune -j "${LOUPE_TUNE_JOBS:-2}" \
    >>"$dir/build.log" 2>&1 \
    || { tail -n 20 "$dir/build.log" >&2; die "the build of llama-finetune failed; see $dir/build.log"; }
  mkdir -p "$dir/bin"
  cp "$build/bin/llama-finetune" "$trainer.tmp"
  mv "$trainer.tmp" "$trainer"
  # The binary is static (BUILD_SHARED_LIBS=OFF): source and objects are not needed again.
  rm -rf "$src" "$build"
  trainer_stamp_text >"$trainer_stamp"
  echo "tune.sh: built $trainer in $((SECONDS - t0)) s" >&2
}

cmd_base() {
  ensure_tools >/dev/null
  local src="${1:-}"
  # The shipped base model, installed by model.sh (which checks its sha256).
  [ -n "$src" ] || src="$(smollm2_gguf "$py")" || die "the base model is not installed; run: scripts/model.sh install"
  [ -f "$src" ] || die "no GGUF file at $src"
  local name out stamp want
  name="$(basename "$src" .gguf)"
  name="${name%.Q4_1}"
  out="$dir/$name.F32.gguf"
  stamp="$out.from"
  want="$(sha256_of "$src")"
  if [ -f "$out" ] && stamp_is "$stamp" "$want"; then
    echo "tune.sh: F32 base ready ($out)" >&2
    echo "$out"
    return 0
  fi
  mkdir -p "$dir"
  rm -f "$stamp"
  echo "tune.sh: dequantizing $src to F32" >&2
  "$py" "$root/scripts/dequantize.py" "$src" "$out.tmp" || { rm -f "$out.tmp"; die "could not dequantize $src"; }
  mv "$out.tmp" "$out"
  echo "$want" >"$stamp"
  echo "tune.sh: F32 base ready ($out)" >&2
  echo "$out"
}

cmd_status() {
  if [ -x "$trainer" ] && [ -f "$trainer_stamp" ]; then echo "trainer: $trainer"; else echo "trainer: not built"; fi
  local f any=0
  for f in "$dir"/*.F32.gguf; do
    [ -e "$f" ] || continue
    any=1
    echo "base: $f"
  done
  [ "$any" = 1 ] || echo "base: none"
}

case "${1:-}" in
  install)
    cmd_trainer
    cmd_base "${2:-}" >/dev/null
    echo "$trainer"
    ;;
  trainer) cmd_trainer ;;
  base) cmd_base "${2:-}" ;;
  status) cmd_status ;;
  *)
    echo "usage: scripts/tune.sh install | trainer | base [GGUF] | status" >&2
    exit 2
    ;;
esac
