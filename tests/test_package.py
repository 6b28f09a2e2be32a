"""`import electra_keras` is all it takes before `keras.saving.load_model`, as `import keras_hub`
is for keras-hub's models: every class and schedule our `.keras` files name is registered.
Loading runs in a child interpreter, which has imported nothing else."""

import os
import subprocess
import sys

import keras
import numpy as np

import electra_keras as ek
from electra_keras.optimizers import finetuning_adamw
from conftest import make_batch, tiny_config

LOAD = """
import sys
import numpy as np
import electra_keras, keras
batch = dict(np.load(sys.argv[1]))
for path in sys.argv[2:]:
    model = keras.saving.load_model(path)
    print(type(model).__name__, type(getattr(model, "optimizer", None)).__name__)
    np.save(path + ".weights.npy", np.concatenate([w.ravel() for w in model.get_weights()]))
    if not path.endswith("pretrainer.keras"):
        outputs = model.predict(batch, verbose=0)
        outputs = outputs[sorted(outputs)[0]] if isinstance(outputs, dict) else outputs
        np.save(path + ".npy", keras.ops.convert_to_numpy(outputs))
"""


def _first(outputs):
    outputs = outputs[sorted(outputs)[0]] if isinstance(outputs, dict) else outputs
    return keras.ops.convert_to_numpy(outputs)


def test_import_electra_keras_registers_every_saved_class(tmp_path):
    config = tiny_config()
    batch = make_batch(batch_size=2)
    pretrainer = ek.ElectraPretrainer(config, seed=0)
    classifier = ek.ElectraClassifier(pretrainer.backbone, num_classes=3)
    classifier.compile(optimizer=finetuning_adamw(classifier, pretrainer.backbone, total_steps=10),
                       loss="sparse_categorical_crossentropy")
    classifier.fit(batch, np.array([0, 2]), epochs=1, verbose=0)  # the optimizer's state is saved too
    span = ek.ElectraSpanExtractor(pretrainer.backbone)
    models = {str(tmp_path / f"{name}.keras"): model for name, model in (
        ("backbone", pretrainer.backbone), ("classifier", classifier), ("span", span), ("pretrainer", pretrainer))}
    for path, model in models.items():
        model.save(path)
    np.savez(tmp_path / "batch.npz", **batch)
    result = subprocess.run([sys.executable, "-c", LOAD, str(tmp_path / "batch.npz"), *models],
                            capture_output=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert result.stdout.decode().split() == ["ElectraBackbone", "NoneType", "ElectraClassifier", "AdamWeightDecay",
                                              "ElectraSpanExtractor", "NoneType", "ElectraPretrainer", "NoneType"]
    for path, model in models.items():
        weights = np.concatenate([w.ravel() for w in model.get_weights()])
        np.testing.assert_array_equal(np.load(path + ".weights.npy"), weights)
        if model is not pretrainer:
            np.testing.assert_allclose(np.load(path + ".npy"), _first(model.predict(batch, verbose=0)),
                                       rtol=1e-5, atol=1e-5)
