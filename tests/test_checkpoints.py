"""Training checkpoints restore by name: stable names, order-independent loading, and a
mismatch that lists what is missing, unexpected or misshapen."""

import keras
import numpy as np
import pytest

from conftest import tiny_config
from electra_keras import checkpoints
from electra_keras.models import ElectraPretrainer
from electra_keras.optimizers import electra_adamw


def compiled(seed, **config):
    model = ElectraPretrainer(tiny_config(**config), seed=seed)
    model.compile(optimizer=electra_adamw(1e-3, warmup_steps=1, total_steps=10))
    model.optimizer.build(model.trainable_variables)
    return model


def values(model):
    return [keras.ops.convert_to_numpy(v) for v in checkpoints.state_variables(model)]


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for variable in checkpoints.state_variables(model):
        if "float" in str(variable.dtype):
            variable.assign(rng.normal(size=variable.shape).astype(variable.dtype))


def test_names_are_unique_and_the_same_in_another_model_built_after_other_layers():
    a = compiled(0)
    keras.layers.Dense(3)  # moves Keras's automatic layer numbering, as a notebook cell would
    b = compiled(1)
    names = checkpoints.state_names(a)
    assert len(set(names)) == len(names) == len(checkpoints.state_variables(a))
    assert names == checkpoints.state_names(b)
    # the generator's and the discriminator's same-named layers get names of their own, and so do their slots
    assert len({n for n in names if n.endswith("/momentum")}) == len(a.trainable_variables)
    # the same names on every backend (PyTorch keeps sublayers in torch's _modules, TensorFlow tracks its own)
    assert "generator_backbone/transformer_layers/0/_self_attention_layer/_query_dense/_kernel" in names
    assert "discriminator/discriminator_backbone/transformer_layers/0/_self_attention_layer/_query_dense/_kernel" in names
    assert "optimizer/discriminator/discriminator_backbone/embeddings/token_embedding/_embeddings/velocity" in names


def test_restore_matches_names_not_the_order_in_the_file(tmp_path):
    source = compiled(0)
    randomize(source, 1)
    path = checkpoints.save_checkpoint(str(tmp_path), source, step=3)
    # trade two same-shaped entries' places in the file (each keeps its name)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    names = list(arrays["names"])
    shapes = [arrays[f"v{i:05d}"].shape for i in range(len(names))]
    i = next(i for i in range(len(names)) if len(shapes[i]) == 2)
    j = next(j for j in range(i + 1, len(names)) if shapes[j] == shapes[i])
    for key in (f"v{i:05d}",):
        arrays[key], arrays[f"v{j:05d}"] = arrays[f"v{j:05d}"], arrays[key]
    names[i], names[j] = names[j], names[i]
    arrays["names"] = np.array(names)
    with open(path, "wb") as f:
        np.savez(f, **arrays)

    target = compiled(5)
    checkpoints.restore_checkpoint(path, target)
    for a, b in zip(values(source), values(target)):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_of_another_model_names_what_does_not_fit(tmp_path):
    path = checkpoints.save_checkpoint(str(tmp_path), compiled(0), step=1)
    other = compiled(0, hidden_dim=48, num_layers=2)
    with pytest.raises(ValueError) as error:
        checkpoints.restore_checkpoint(path, other)
    message = str(error.value)
    assert "the checkpoint does not fit this model" in message
    assert "missing from the checkpoint (" in message and "transformer_layers/1/" in message  # the second layer
    assert "of another shape (" in message and "(32,) saved, (48,) here" in message
    before = values(other)
    for a, b in zip(before, values(other)):  # nothing was assigned
        np.testing.assert_array_equal(a, b)
