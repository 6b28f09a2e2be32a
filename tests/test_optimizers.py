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


def numpy_adam_weight_decay(start, gradients, lr, wd, clipnorm, b1=0.9, b2=0.999, eps=1e-6, rates=None):
    """The original's AdamWeightDecayOptimizer.apply_gradients, after global-norm clipping;
    `rates` are per-variable learning-rate factors (the original's layer-wise `learning_rate` dict)."""
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
            w[n] = w[n] - lr * (rates or {}).get(n, 1.0) * update
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


def test_learning_rate_multipliers_scale_update_and_decay():
    variables = make_variables()
    start = {n: np_(v).copy() for n, v in variables.items()}
    rng = np.random.default_rng(2)
    gradients = [{n: rng.normal(size=v.shape).astype("float32") for n, v in variables.items()} for _ in range(2)]
    rates = {"kernel": 0.25, "embeddings": 0.5, "gamma": 0.0}  # gamma frozen; bias, beta at 1
    optimizer = AdamWeightDecay(learning_rate=0.1, weight_decay=0.3,
                                learning_rate_multipliers={variables[n].path: r for n, r in rates.items()})
    got = run_steps(optimizer, variables, gradients)
    expected = numpy_adam_weight_decay(start, gradients, lr=0.1, wd=0.3, clipnorm=1.0, rates=rates)
    for n in got:
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-5, atol=1e-6, err_msg=n)
    np.testing.assert_array_equal(got["gamma"], start["gamma"])
    restored = AdamWeightDecay.from_config(optimizer.get_config())
    assert restored.learning_rate_multipliers == optimizer.learning_rate_multipliers


def test_multipliers_for_unknown_variables_are_an_error():
    variables = make_variables()
    optimizer = AdamWeightDecay(learning_rate_multipliers={"no/such/kernel": 0.5})
    with pytest.raises(ValueError, match="no/such/kernel"):
        optimizer.build(list(variables.values()))


@pytest.mark.parametrize("off_by_one", [False, True])
def test_layerwise_rates_are_decay_to_the_depth(off_by_one):
    from conftest import tiny_config
    from electra_keras import ElectraClassifier, ElectraPretrainer
    from electra_keras.optimizers import finetuning_adamw, layerwise_learning_rate_multipliers

    backbone = ElectraPretrainer(tiny_config(num_layers=2), seed=0).backbone
    model = ElectraClassifier(backbone, num_classes=3)
    rates = layerwise_learning_rate_multipliers(model, backbone, 0.8, original_off_by_one=off_by_one)
    extra = 1 if off_by_one else 0
    head = {v.path for v in model.trainable_variables} - {v.path for v in backbone.trainable_variables}
    assert head and all(rates[p] == 1.0 for p in head)  # the task head at the full rate
    for variable in backbone.trainable_variables:
        path = variable.path
        if path.startswith("transformer_layer_1/"):  # the top of 2 layers: depth 1
            expected = 0.8 ** (1 + extra)
        elif path.startswith("transformer_layer_0/"):
            expected = 0.8 ** (2 + extra)
        else:  # embeddings and their projection: below the bottom layer
            assert path.startswith(("embeddings/", "embeddings_project/")), path
            expected = 0.8 ** (3 + extra)
        assert rates[path] == pytest.approx(expected), path
    assert set(rates) == {v.path for v in model.trainable_variables}
    optimizer = finetuning_adamw(model, backbone, learning_rate=1e-4, total_steps=100, layer_decay=0.8)
    assert float(optimizer.learning_rate) == 0.0  # step 0 of a 10-step warmup
    assert optimizer._learning_rate.warmup_steps == 10
    with pytest.raises(ValueError, match="layer_decay"):
        layerwise_learning_rate_multipliers(model, backbone, 1.5)
