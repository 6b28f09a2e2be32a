"""The Colab notebooks of recipes/: valid, saved without outputs, and runnable top to bottom.

Each notebook is executed with nbclient in a python3 kernel of this interpreter, its
"parameters" cell (the papermill convention) given TINY = True and a work directory under
tmp_path; the checks read back what the notebook wrote. The notebooks set KERAS_BACKEND to
TensorFlow themselves, so they run once, in the TensorFlow pass of tests/run.sh.
"""

import csv
import json
import os
import sys

import keras
import nbformat
import numpy as np
import pytest

RECIPES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recipes")
NOTEBOOKS = ("pretrain_electra_small_colab.ipynb", "finetune_glue_colab.ipynb", "export_tflite_colab.ipynb")
CELL_TIMEOUT = 300  # seconds; each notebook takes about 30 to 60 s on 2 CPU cores

tensorflow_pass_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the notebooks choose their backend (TensorFlow) themselves, so they run once, in the "
           "KERAS_BACKEND=tensorflow pass",
)


def read(name):
    return nbformat.read(os.path.join(RECIPES, name), as_version=4)


def parameters_cell(nb):
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'parameters'"
    return tagged[0]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_clean(name):
    nb = read(name)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0] is parameters_cell(nb), "the parameters cell is the first code cell"
    assert "TINY = False" in code[0].source and 'REPO_URL = ""' in code[0].source
    assert all(not c.outputs and c.execution_count is None for c in code), "saved without outputs"
    # pip runs only on Colab, and keras is imported only after KERAS_BACKEND is set
    source = "\n".join(c.source for c in code)
    pip = source.index('"pip", "install"')
    assert 'if IN_COLAB and not os.environ.get("CI")' in source[:pip]
    assert source.index('os.environ["KERAS_BACKEND"] = "tensorflow"') < source.index("import keras")


def execute(name, tmp_path, **parameters):
    """Run the notebook with `parameters` appended to its parameters cell; returns it executed."""
    from nbclient import NotebookClient

    nb = read(name)
    cell = parameters_cell(nb)
    cell.source += "\n\n# test parameters\n" + "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, startup_timeout=120,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    # the kernel was this interpreter's environment (jupyter_client runs a "python" kernelspec as sys.executable)
    assert stdout(nb.cells[-1]).strip() == sys.prefix
    return nb


def stdout(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def all_stdout(nb):
    return "\n".join(stdout(c) for c in nb.cells if c.cell_type == "code")


@tensorflow_pass_only
def test_pretrain_notebook(tmp_path):
    work = tmp_path / "work"
    nb = execute(NOTEBOOKS[0], tmp_path, TINY=True, WORK_DIR=str(work))
    text = all_stdout(nb)
    run = work / "saved_models" / "tiny-electra"
    for name in ("discriminator.keras", "backbone.keras", "pretrainer.keras", "vocab.txt", "config.json",
                 "training.png", "metrics.csv"):
        assert (run / name).is_file(), name
    # this CPU: no strategy, float32, and the recipe of the notebook's tiny run
    recipe = json.loads((run / "recipe.json").read_text())
    assert (recipe["train"]["strategy"], recipe["train"]["dtype"]) == ("none", "float32")
    assert (recipe["train"]["steps"], recipe["train"]["log_every"]) == (20, 5)
    # interrupted after step 10, resumed from its checkpoint: each interval logged exactly once
    assert "simulated: the runtime went away after step 10" in text
    assert "resuming from step 10" in text
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(float(r["step"])) for r in rows] == [5, 10, 15, 20]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 20
    assert "strategy none: 1 replica(s); global batch 16 = 16 per replica x 1; dtype float32" in text
    assert any(o.output_type == "display_data" and "image/png" in o.data for c in nb.cells if c.cell_type == "code"
               for o in c.outputs), "training.png is shown"


@tensorflow_pass_only
def test_finetune_notebook(tmp_path):
    work = tmp_path / "work"
    nb = execute(NOTEBOOKS[1], tmp_path, TINY=True, WORK_DIR=str(work))
    runs = [p for p in (work / "saved_models").iterdir() if (p / "finetuned.keras").is_file()]
    assert len(runs) == 1
    run = runs[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["split"] == "dev" and 0.0 <= metrics["accuracy"] <= 1.0
    # the dev predictions written in GLUE's format give the accuracy reported, on the notebook's dev set
    with open(work / "tiny_data" / "SST-2" / "dev.tsv") as f:
        labels = [int(r["label"]) for r in csv.DictReader(f, delimiter="\t")]
    with open(run / "predictions" / "dev" / "SST-2.tsv") as f:
        predicted = [int(r["prediction"]) for r in csv.DictReader(f, delimiter="\t")]
    assert len(predicted) == len(labels) == 32
    assert metrics["accuracy"] == pytest.approx(np.mean(np.array(predicted) == np.array(labels)))
    assert json.loads((run / "predictions" / "dev" / "metrics.json").read_text())["accuracy"] == metrics["accuracy"]
    with open(run / "predictions" / "test" / "SST-2.tsv") as f:
        test_rows = list(csv.DictReader(f, delimiter="\t"))
    assert [r["index"] for r in test_rows] == [str(i) for i in range(8)]
    assert {r["prediction"] for r in test_rows} <= {"0", "1"}
    with open(run / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 10  # one row per epoch
    assert (run / "finetuning.png").is_file()
    assert "32 dev predictions" in all_stdout(nb)


@tensorflow_pass_only
def test_export_notebook(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    work = tmp_path / "work"
    execute(NOTEBOOKS[2], tmp_path, TINY=True, WORK_DIR=str(work))
    export_dir = work / "saved_models" / "tiny-electra-cpu" / "export"
    check = json.loads((export_dir / "check.json").read_text())
    assert check["model"] == "discriminator" and check["examples"] == 4 and check["sequence_length"] == 64
    for name in ("float32", "int8"):
        assert 0.0 <= check[name]["max_abs_diff"] <= check[name]["tolerance"], (name, check[name])
    assert check["float32"]["tolerance"] == 1e-4 and check["float32"]["agreement"] == 1.0
    assert check["int8"]["agreement"] >= 0.9
    assert check["int8"]["max_abs_diff"] > 0.0, "int8 weights change the outputs a little"
    assert check["int8"]["size_mb"] < 0.5 * check["float32"]["size_mb"]
    manifest = json.loads((export_dir / "MANIFEST.json").read_text())
    assert manifest["tflite_int8"]["quantization"] == "dynamic-range int8 weights"
    # the notebook's comparison, redone here from its saved inputs and Keras outputs
    saved = np.load(export_dir / "check.npz")
    inputs = {k: saved[f"input_{k}"] for k in ("token_ids", "segment_ids", "padding_mask")}
    runner = Interpreter(model_path=str(export_dir / "discriminator_float32.tflite")).get_signature_runner()
    got = np.concatenate([runner(**{k: v[i : i + 1] for k, v in inputs.items()})["replaced_probability"]
                          for i in range(4)])
    real = inputs["padding_mask"].astype(bool)
    np.testing.assert_array_equal(got, saved["float32_replaced_probability"])
    assert np.abs(got - saved["keras_replaced_probability"])[real].max() == pytest.approx(check["float32"]["max_abs_diff"])
