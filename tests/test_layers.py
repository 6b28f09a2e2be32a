"""The encoder layer's own training path and dropout against keras-hub's layer and keras' rule."""

import keras
import numpy as np
import pytest
from keras_hub.layers import TransformerEncoder

from electra_keras.layers import ElectraTransformerEncoder
from electra_keras.layers.electra_transformer_encoder import dropout


def np_(x):
    return keras.ops.convert_to_numpy(x)


def encoder_pair(dropout_rate):
    kwargs = dict(intermediate_dim=24, num_heads=2, activation="gelu", dropout=dropout_rate,
                  layer_norm_epsilon=1e-12)
    ours, reference = ElectraTransformerEncoder(**kwargs), TransformerEncoder(**kwargs)
    shape = (3, 7, 16)
    ours.build(shape)
    reference.build(shape)
    rng = np.random.default_rng(0)
    weights = [rng.normal(scale=0.3, size=w.shape).astype("float32") for w in reference.get_weights()]
    ours.set_weights(weights)
    reference.set_weights(weights)
    return ours, reference


@pytest.mark.parametrize("training", [False, True])
def test_encoder_layer_equals_keras_hub_layer(training):
    """Same weights, same outputs: with padding, in inference and in training (no dropout)."""
    ours, reference = encoder_pair(dropout_rate=0.0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 7, 16)).astype("float32")
    padding = np.array([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5], "int32")
    got = np_(ours(x, padding_mask=padding, training=training))
    expected = np_(reference(x, padding_mask=padding, training=training))
    np.testing.assert_allclose(got, expected, atol=2e-5)
    # Padding really is masked: changing padded inputs leaves the real positions alone.
    x2 = x.copy()
    x2[1, 4:] += 5.0
    np.testing.assert_allclose(np_(ours(x2, padding_mask=padding))[1, :4], got[1, :4], atol=2e-5)


def test_encoder_layer_gradients_equal_keras_hub_layer():
    ours, reference = encoder_pair(dropout_rate=0.0)
    x = np.random.default_rng(2).normal(size=(3, 7, 16)).astype("float32")
    padding = np.array([[1] * 7, [1] * 5 + [0] * 2, [1] * 3 + [0] * 4], "int32")

    def loss_and_grads(layer):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.sin(layer(x, padding_mask=padding, training=True)))
            return [np_(g) for g in tape.gradient(loss, [v.value for v in layer.trainable_variables])]
        if keras.backend.backend() == "jax":
            import jax

            def f(values):
                outputs, _ = layer.stateless_call(values, [v.value for v in layer.non_trainable_variables], x,
                                                  padding_mask=padding, training=True)
                return jax.numpy.sum(jax.numpy.sin(outputs))

            return [np_(g) for g in jax.grad(f)([v.value for v in layer.trainable_variables])]
        import torch

        loss = torch.sum(torch.sin(layer(x, padding_mask=padding, training=True)))
        loss.backward()
        return [np_(v.value.grad) for v in layer.trainable_variables]

    for got, expected in zip(loss_and_grads(ours), loss_and_grads(reference)):
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_dropout_keeps_one_minus_rate_and_scales_the_kept(dtype):
    layer = keras.layers.Dropout(0.25, seed=0)
    x = keras.ops.ones((40, 500), dtype=dtype)  # 20,000 elements
    first = np_(keras.ops.cast(dropout(x, layer, training=True), "float32"))
    kept = first != 0
    # Binomial(20000, 0.75): sd 0.0031; 5 sd.
    assert abs(kept.mean() - 0.75) < 0.016, kept.mean()
    scale = np.float32(1 / 0.75)
    if dtype == "bfloat16":  # 1.3333 rounds to 1.3359375 in bfloat16
        scale = np_(keras.ops.cast(keras.ops.cast(keras.ops.full((1,), scale), "bfloat16"), "float32"))[0]
    np.testing.assert_array_equal(first[kept], scale)
    # The layer's seed generator advances: the next mask is another one, as independent.
    second = np_(keras.ops.cast(dropout(x, layer, training=True), "float32")) != 0
    assert 0.6 < (kept == second).mean() < 0.65  # 0.75^2 + 0.25^2 = 0.625
    # Rows and columns are not correlated: each column keeps about 75% too.
    assert np.abs(kept.mean(axis=0) - 0.75).max() < 0.3
    # Inference and rate 0 are the identity.
    np.testing.assert_array_equal(np_(dropout(x, layer, training=False)), np_(x))
    np.testing.assert_array_equal(np_(dropout(x, keras.layers.Dropout(0.0), training=True)), np_(x))


def test_dropout_two_elements_per_uniform_are_independent_and_unbiased():
    """One uniform decides element j and element j + width/2 of a row: each is dropped at the
    rate rounded up to a multiple of 2^-11, the pair independently, and kept values are scaled
    so that the mean is unchanged."""
    layer = keras.layers.Dropout(0.1, seed=3)
    out = np_(dropout(keras.ops.ones((400, 512)), layer, training=True))  # 204,800 elements
    kept = out != 0
    rate = 205 / 2048  # ceil(0.1 * 2048) / 2048 = 0.10010
    np.testing.assert_array_equal(out[kept], np.float32(1 / (1 - rate)))
    assert abs(1 - kept.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / kept.size)
    left, right = kept[:, :256], kept[:, 256:]  # the two halves of the same draws
    for half in (left, right):
        assert abs(1 - half.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / half.size)
    both_dropped = (~left & ~right).mean()  # rate^2 = 0.0100 if independent, up to 0.1 if not
    assert abs(both_dropped - rate**2) < 5 * np.sqrt(rate**2 / left.size), both_dropped
    assert abs(out.mean() - 1.0) < 0.01  # E[out] = 1: 5 sd of the mean is 0.0035


def test_dropout_odd_last_axis_at_rate_one_half():
    """An odd last axis takes one uniform per element."""
    layer = keras.layers.Dropout(0.5, seed=1)
    out = np_(dropout(keras.ops.ones((101, 99)), layer, training=True))
    assert set(np.unique(out).tolist()) <= {0.0, 2.0} and abs((out != 0).mean() - 0.5) < 0.03
