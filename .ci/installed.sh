#!/usr/bin/env bash
# The project as users get it (pip install git+..., Colab): a wheel installed, not editable, into
# a fresh virtual environment and run from a directory outside the repository. It runs the main
# job for 20 steps, packaged recipes (ELECTRA-Small for 2 steps, tiny_task_text for 20, then
# fine-tuned with its head fitted first) and the pretraining notebook in its TINY mode against
# that install.
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
# `import electra_keras` is all load_model needs; `--help` loads no framework.
python -c "import electra_keras, keras; print(type(keras.saving.load_model('runs/main/discriminator.keras')).__name__)"
python - <<'PY'
import contextlib, io, sys
import electra_keras_cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    electra_keras_cli.main(["pretrain", "--help"])
loaded = [m for m in ("tensorflow", "keras", "jax", "torch") if m in sys.modules]
assert not loaded, f"electra-keras --help imported {loaded}"
PY
electra-keras pretrain --recipe electra_small --corpus wiki_leads --steps 2 --batch-size 4 --seq-len 64 \
  --output-dir runs --run-name small
test -f runs/small/discriminator.keras
# The few-label recipe on a task's own sentences: its token table is counted (scipy) and held.
python - <<'PY'
words = "a good bad film movie plot actor funny dull long short story great poor".split()
sentences = [" ".join(words[(i * k) % len(words)] for k in range(1, 12)) + " ." for i in range(600)]
with open("sentences.txt", "w") as f:
    f.write("".join(s + "\n" for s in sentences))
for name, rows in (("train.tsv", sentences[:64]), ("dev.tsv", sentences[64:80])):
    with open(name, "w") as f:
        f.write("sentence\tlabel\n" + "".join(f"{s}\t{int('good' in s)}\n" for s in rows))
PY
electra-keras pretrain --recipe tiny_task_text --corpus sentences.txt --steps 20 --set data.vocab_size=200 \
  --output-dir runs --run-name task_text | tee task_text.log
grep -q "token table: word vectors counted from" task_text.log
test -f runs/task_text/backbone.keras
electra-keras finetune --model runs/task_text --task custom --train train.tsv --dev dev.tsv \
  --text-columns sentence --head-first --epochs 1 --max-seq-len 64 --output-dir runs --run-name task_text_ft \
  --quiet | tee finetune.log
grep -q "finetune custom: dev accuracy" finetune.log
grep -q '"head_first": true' runs/task_text_ft/finetune.json
python "$repo/.ci/run_notebook.py" "$repo/recipes/pretrain_electra_small_colab.ipynb" "$work/notebook"
test -f "$work/notebook/saved_models/tiny-electra/discriminator.keras"
echo "installed package: all commands ran"
