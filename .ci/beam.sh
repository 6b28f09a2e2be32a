#!/usr/bin/env bash
# CI: build-data --runner beam in a second, fresh virtual environment with the beam extra
# (apache-beam holds protobuf below 7 and pyarrow below 26; tests/constraints.txt pins versions
# that satisfy it and the rest), running tests/test_beam_build.py on Beam's DirectRunner.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CI_BEAM_VENV:-}" ]; then
  venv="$CI_BEAM_VENV"
else  # a temporary environment, removed at the end
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  venv="$tmp/venv"
fi
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -e ".[beam,test]" -c tests/constraints.txt
python -m pip check
python -m pip list 2>/dev/null | grep -iE "^(apache-beam|protobuf|pyarrow|tensorflow) " || true
KERAS_BACKEND=tensorflow python -m pytest -q tests/test_beam_build.py
