#!/usr/bin/env bash
# The Python side of the export consumer test: a venv with Hugging Face `datasets` from PyPI,
# cached at <repo>/.loupe/venv-datasets (its own venv: .loupe/venv is the model's).
#
#   scripts/datasets-venv.sh          install when missing (instant when done), print the python path
#
# Environment: LOUPE_PYTHON (interpreter for the venv, default python3).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.loupe/venv-datasets"
py="$venv/bin/python"
datasets_version="5.2.0"
stamp="$venv/loupe.installed"
stamp_text="datasets==$datasets_version"

die() {
  echo "datasets-venv.sh: $*" >&2
  exit 1
}

if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ]; then
  echo "$py"
  exit 0
fi
mkdir -p "$root/.loupe"
if [ ! -x "$py" ]; then
  echo "datasets-venv.sh: creating $venv" >&2
  python="${LOUPE_PYTHON:-python3}"
  # Debian and Ubuntu ship the venv module (and its ensurepip) in a separate package.
  "$python" -c 'import venv, ensurepip' >/dev/null 2>&1 \
    || die "$python has no venv module: install it (Debian/Ubuntu: sudo apt-get install python3-venv), then run this again"
  "$python" -m venv "$venv" || die "could not create a venv with $python"
fi
echo "datasets-venv.sh: installing datasets==$datasets_version from PyPI" >&2
"$py" -m pip install --disable-pip-version-check -q "datasets==$datasets_version" \
  || die "pip could not install datasets==$datasets_version"
"$py" -c 'import datasets' || die "datasets installed but does not import"
echo "$stamp_text" >"$stamp"
echo "$py"
