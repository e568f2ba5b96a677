#!/usr/bin/env bash
# The Python side of the export consumer test: a venv with Hugging Face `datasets` from PyPI,
# cached at <repo>/.loupe/venv-datasets (its own venv: .loupe/venv is the model's).
#
#   scripts/datasets-venv.sh          install when missing (instant when done), print the python path
#
# Environment: LOUPE_PYTHON (interpreter for the venv, default python3).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
me="datasets-venv.sh"
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"
venv="$root/.loupe/venv-datasets"
py="$venv/bin/python"
datasets_version="5.2.0"
stamp="$venv/loupe.installed"
stamp_text="datasets==$datasets_version"

if [ -x "$py" ] && stamp_is "$stamp" "$stamp_text"; then
  echo "$py"
  exit 0
fi
mkdir -p "$root/.loupe"
make_venv "$venv"
echo "datasets-venv.sh: installing datasets==$datasets_version from PyPI" >&2
pip_install "$py" "datasets==$datasets_version"
"$py" -c 'import datasets' || die "datasets installed but does not import"
echo "$stamp_text" >"$stamp"
echo "$py"
