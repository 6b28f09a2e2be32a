#!/usr/bin/env bash
# The project as users get it (pip install git+..., Colab): a wheel installed, not editable, into
# a fresh virtual environment and run from a directory outside the repository. It runs the main
# job for 20 steps, a packaged recipe (ELECTRA-Small) for 2 steps, and the pretraining notebook in
# its TINY mode against that install.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT  # the wheel, its environment (about 3 GB) and the runs
python3 -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$repo"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip
wheels=("$work"/dist/electra_keras-*.whl)
python -m pip install --quiet "${wheels[0]}[wiki]" nbclient nbformat ipykernel -c "$repo/tests/constraints.txt"
cd "$work"
python - <<'PY'
import os, electra_keras
where = os.path.dirname(os.path.abspath(electra_keras.__file__))
assert "site-packages" in where, f"electra_keras imported from {where}, not from the installed wheel"
print(f"electra_keras from {where}")
PY
export KERAS_BACKEND=tensorflow
electra-keras recipes
electra-keras pretrain --steps 20 --output-dir runs --run-name main
test -f runs/main/discriminator.keras
electra-keras pretrain --recipe electra_small --corpus wiki_leads --steps 2 --batch-size 4 --seq-len 64 \
  --output-dir runs --run-name small
test -f runs/small/discriminator.keras
python "$repo/.ci/run_notebook.py" "$repo/recipes/pretrain_electra_small_colab.ipynb" "$work/notebook"
test -f "$work/notebook/saved_models/tiny-electra/discriminator.keras"
echo "installed package: all commands ran"
