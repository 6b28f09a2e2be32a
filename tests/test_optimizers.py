"""AdamWeightDecay and WarmupLinearDecay against NumPy transcriptions of the original."""

import keras
import numpy as np
import pytest

from electra_keras.optimizers import AdamWeightDecay, WarmupLinearDecay, electra_adamw


def np_(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("step", [0, 1, 5, 10, 11, 50, 99, 100, 150])
def test_schedule_is_warmup_times_linear_decay(step):
    schedule = WarmupLinearDecay(peak_learning_rate=2e-4, warmup_steps=10, total_steps=100)
    # Original: polynomial_decay(lr, step, total, end=0, power=1) * min(1, step / warmup).
    expected = 2e-4 * (1 - min(step, 100) / 100) * min(1.0, step / 10)
    np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6, atol=1e-12)


def test_schedule_rejects_bad_steps():
    with pytest.raises(ValueError, match="total_steps"):
        WarmupLinearDecay(1e-3, warmup_steps=0, total_steps=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmupLinearDecay(1e-3, warmup_steps=-1, total_steps=10)


def make_variables():
    rng = np.random.default_rng(0)
    names = {"kernel": (3, 2), "bias": (2,), "gamma": (2,), "beta": (2,), "embeddings": (4, 2)}
    return {n: keras.Variable(rng.normal(size=s).astype("float32"), name=n) for n, s in names.items()}


def run_steps(optimizer, variables, gradients):
    for grads in gradients:
        optimizer.apply_gradients(
            [(keras.ops.convert_to_tensor(grads[n]), v) for n, v in variables.items()]
        )
    return {n: np_(v) for n, v in variables.items()}


def numpy_adam_weight_decay(start, gradients, lr, wd, clipnorm, b1=0.9, b2=0.999, eps=1e-6):
    """The original's AdamWeightDecayOptimizer.apply_gradients, after global-norm clipping."""
    w = {n: v.astype("float64") for n, v in start.items()}
    m = {n: np.zeros_like(v) for n, v in w.items()}
    v2 = {n: np.zeros_like(v) for n, v in w.items()}
    for grads in gradients:
        norm = np.sqrt(sum((g.astype("float64") ** 2).sum() for g in grads.values()))
        scale = min(1.0, clipnorm / norm) if clipnorm else 1.0
        for n in w:
            g = grads[n] * scale
            m[n] = b1 * m[n] + (1 - b1) * g
            v2[n] = b2 * v2[n] + (1 - b2) * g * g
            update = m[n] / (np.sqrt(v2[n]) + eps)
            if n in ("kernel", "embeddings"):  # LayerNorm and biases are not decayed
                update = update + wd * w[n]
            w[n] = w[n] - lr * update
    return w


def test_adam_weight_decay_matches_the_original():
    variables = make_variables()
    start = {n: np_(v).copy() for n, v in variables.items()}
    rng = np.random.default_rng(1)
    # Large gradients (global norm >> 1) so that clipping matters.
    gradients = [
        {n: (rng.normal(size=v.shape) * 5).astype("float32") for n, v in variables.items()}
        for _ in range(3)
    ]
    optimizer = AdamWeightDecay(learning_rate=0.1, weight_decay=0.01)
    got = run_steps(optimizer, variables, gradients)
    expected = numpy_adam_weight_decay(start, gradients, lr=0.1, wd=0.01, clipnorm=1.0)
    for n in got:
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-5, atol=1e-6, err_msg=n)
    # Without bias correction the first step of an undecayed variable is
    # lr * (1 - b1) / sqrt(1 - b2) = 3.162 * lr per coordinate, not Adam's lr.
    fresh = make_variables()
    step = run_steps(AdamWeightDecay(learning_rate=0.1), fresh, gradients[:1])["bias"] - start["bias"]
    np.testing.assert_allclose(np.abs(step), 0.1 * 0.1 / np.sqrt(0.001), rtol=1e-3)  # eps aside


def test_bias_correction_option_is_keras_adamw():
    gradients = [
        {n: np.full(v.shape, 0.3 * (i + 1), "float32") for n, v in make_variables().items()}
        for i in range(3)
    ]
    ours, reference = make_variables(), make_variables()
    got = run_steps(
        AdamWeightDecay(0.01, weight_decay=0.1, bias_correction=True, global_clipnorm=None,
                        exclude_from_weight_decay=()),
        ours,
        gradients,
    )
    expected = run_steps(
        keras.optimizers.AdamW(0.01, weight_decay=0.1, epsilon=1e-6), reference, gradients
    )
    for n in got:
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-5, atol=1e-7, err_msg=n)


def test_factory_and_serialization_round_trip():
    optimizer = electra_adamw(learning_rate=5e-4, warmup_steps=10, total_steps=100)
    restored = AdamWeightDecay.from_config(optimizer.get_config())
    assert restored.epsilon == 1e-6 and restored.bias_correction is False
    assert restored.global_clipnorm == 1.0 and restored.weight_decay == 0.01
    schedule = restored._learning_rate
    assert isinstance(schedule, WarmupLinearDecay)
    np.testing.assert_allclose(float(schedule(55)), 5e-4 * 0.45, rtol=1e-6)


def test_layer_norms_and_biases_of_the_model_are_not_decayed():
    from conftest import tiny_config
    from electra_keras import ElectraPretrainer

    model = ElectraPretrainer(tiny_config(), seed=0)
    optimizer = electra_adamw(total_steps=10)
    decayed = {v.path for v in model.trainable_weights if optimizer.decays(v)}
    kept = {v.path for v in model.trainable_weights} - decayed
    assert {p.rsplit("/", 1)[-1] for p in kept} == {"gamma", "beta", "bias", "output_bias"}
    assert {p.rsplit("/", 1)[-1] for p in decayed} == {"kernel", "embeddings"}
    assert "embeddings/token_embedding/embeddings" in decayed  # tables are decayed
