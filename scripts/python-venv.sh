#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv of the contract tests, with
# packages from PyPI, and prints its python executable.
#
#   PY="$(scripts/python-venv.sh)"     # default: ~/.cache/leadpulse/py-venv
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LEADPULSE_PY_VENV:-$HOME/.cache/leadpulse/py-venv}"
req="$here/../tests/contract/requirements.txt"
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp"; then
  echo "$venv/bin/python"
  exit 0
fi
command -v python3 >/dev/null || { echo "python-venv.sh: python3 is required (apt-get install python3 python3-venv)" >&2; exit 1; }
python3 -m venv "$venv" >&2 || { echo "python-venv.sh: cannot create a venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
