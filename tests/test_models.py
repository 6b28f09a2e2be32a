"""ElectraBackbone and ElectraPretrainer: sizes, weight tying, the objective in the model, fit."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import CLS, SEP, make_batch, tiny_config
from electra_keras import ElectraConfig, ElectraPretrainer
from electra_keras.optimizers import electra_adamw


def np_(x):
    return keras.ops.convert_to_numpy(x)


def unique_trainable(model):
    return {id(v): v for v in model.trainable_weights}


def generator_encoder_params(model):
    """Generator encoder parameters without the embedding block it shares."""
    gen = model.generator_backbone
    return gen.count_params() - gen.embeddings.count_params()


# ---------------------------------------------------------------------------- sizes
@pytest.mark.parametrize(
    "preset, disc_backbone, gen_encoder",
    [
        ("small", 13_483_008, None),
        ("small_plus", 13_483_008, 9_510_144),
        ("base", 108_891_648, 9_673_984),
        pytest.param("large", 334_092_288, 19_216_640, marks=pytest.mark.slow),
    ],
)
def test_parameter_counts_match_the_released_models(preset, disc_backbone, gen_encoder):
    model = ElectraPretrainer(ElectraConfig.from_preset(preset))
    assert model.discriminator_backbone.count_params() == disc_backbone
    if gen_encoder is not None:
        assert generator_encoder_params(model) == gen_encoder
    # Heads: RTD H*H+H + H+1; MLM genH*E+E, LayerNorm 2E, output bias V (its output matrix
    # is the shared word table, which the head tracks but does not own).
    cfg, gen_h = model.config, model.generator_backbone.hidden_dim
    assert model.discriminator_head.count_params() == cfg.hidden_dim * (cfg.hidden_dim + 2) + 1
    own = model.mlm_head.count_params() - model.embeddings.token_embedding.count_params()
    assert own == (gen_h + 3) * cfg.embedding_dim + cfg.vocabulary_size


# ---------------------------------------------------------------------------- weight tying
def test_tied_embeddings_are_one_block():
    model = ElectraPretrainer(tiny_config(), seed=0)
    gen, disc = model.generator_backbone, model.discriminator_backbone
    assert gen is not disc
    assert gen.embeddings is disc.embeddings is model.embeddings
    assert model.mlm_head.token_embedding is model.embeddings.token_embedding
    # Each network keeps its own projection (E=24 -> 16 and -> 32).
    assert gen.embeddings_project is not None and disc.embeddings_project is not None
    # One copy of each table and of the LayerNorm in the trainable variables.
    paths = [v.path for v in unique_trainable(model).values()]
    assert sum("token_embedding" in p for p in paths) == 1
    assert sum("embeddings/layer_norm" in p for p in paths) == 2  # gamma and beta, once


def test_untied_and_tie_all():
    untied = ElectraPretrainer(tiny_config(weight_sharing="none"), seed=0)
    assert untied.generator_backbone.embeddings is not untied.discriminator_backbone.embeddings
    assert untied.generator_backbone.embedding_dim == 16  # its own width: generator H
    assert untied.generator_backbone.embeddings_project is None
    assert untied.mlm_head.token_embedding is untied.generator_backbone.token_embedding
    tied = ElectraPretrainer(tiny_config(weight_sharing="all", generator_hidden_fraction=1.0), seed=0)
    assert tied.generator_backbone is tied.discriminator_backbone
    paths = [v.path for v in unique_trainable(tied).values()]
    assert sum("transformer_layer_0/self_attention_layer/query/kernel" in p for p in paths) == 1


def test_save_and_reload_keeps_the_tie_and_the_outputs(tmp_path):
    model = ElectraPretrainer(tiny_config(), seed=0)
    batch = make_batch()
    before = np_(model.discriminator(batch))
    path = os.path.join(tmp_path, "pretrainer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ElectraPretrainer) and loaded.config == model.config
    assert loaded.generator_backbone.embeddings is loaded.discriminator_backbone.embeddings
    assert loaded.mlm_head.token_embedding is loaded.embeddings.token_embedding
    assert len(unique_trainable(loaded)) == len(unique_trainable(model))
    for a, b in zip(model.weights, loaded.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(np_(a), np_(b))
    np.testing.assert_allclose(np_(loaded.discriminator(batch)), before, atol=1e-6)
    # Writing the table through one network is seen by the other: one variable, not two.
    table = loaded.generator_backbone.token_embedding.embeddings
    table.assign(np.zeros(table.shape, "float32"))
    assert not np.any(np_(loaded.discriminator_backbone.token_embedding.embeddings))


def test_discriminator_is_a_standalone_model(tmp_path):
    model = ElectraPretrainer(tiny_config(), seed=0)
    batch = make_batch()
    logits = np_(model.discriminator(batch))
    assert logits.shape == (4, 32) and logits.dtype == np.float32
    by_parts = model.discriminator_head(model.discriminator_backbone(batch))
    np.testing.assert_allclose(logits, np_(by_parts), atol=1e-6)
    path = os.path.join(tmp_path, "discriminator.keras")
    model.discriminator.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np_(reloaded(batch)), logits, atol=1e-6)
    backbone_path = os.path.join(tmp_path, "backbone.keras")
    model.backbone.save(backbone_path)
    hidden = np_(keras.saving.load_model(backbone_path)(batch))
    np.testing.assert_allclose(hidden, np_(model.discriminator_backbone(batch)), atol=1e-6)
    assert hidden.shape == (4, 32, 32)


# ---------------------------------------------------------------------------- the objective
def test_forward_outputs_follow_the_rules():
    model = ElectraPretrainer(tiny_config(), seed=3)
    batch = make_batch(batch_size=6)
    out = {k: np_(v) for k, v in model(batch, training=True).items()}
    ids, padding = batch["token_ids"], batch["padding_mask"].astype(bool)
    w = out["mask_weights"].astype(bool)
    chosen = np.zeros_like(padding)
    for b in range(6):
        chosen[b, out["mask_positions"][b][w[b]]] = True
        # The sample is written into every chosen position, [MASK]-shown or kept alike.
        np.testing.assert_array_equal(
            out["corrupted_ids"][b, out["mask_positions"][b][w[b]]], out["sampled_ids"][b][w[b]]
        )
    np.testing.assert_array_equal(out["corrupted_ids"][~chosen], ids[~chosen])
    np.testing.assert_array_equal(out["replaced_labels"], chosen & (out["corrupted_ids"] != ids))
    # max_predictions = int(0.155 * 32) = 4; count = max(1, min(4, round(0.15 * real))).
    expected = np.clip(np.round(padding.sum(-1).astype("float32") * np.float32(0.15)), 1, 4)
    np.testing.assert_array_equal(w.sum(-1), expected)
    assert out["mlm_logits"].shape == (6, 4, 160)


def test_compute_loss_is_the_weighted_sum_of_the_numpy_losses():
    model = ElectraPretrainer(tiny_config(), seed=5)
    batch = make_batch()
    y_pred = model(batch, training=False)
    out = {k: np_(v).astype("float64") for k, v in y_pred.items()}
    logits = out["mlm_logits"] - out["mlm_logits"].max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, out["mask_ids"].astype(int)[..., None], -1)[..., 0]
    mlm = (out["mask_weights"] * nll).sum() / (out["mask_weights"].sum() + 1e-6)
    x, z, pad = out["disc_logits"], out["replaced_labels"], batch["padding_mask"]
    bce = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    disc = (bce * pad).sum() / (pad.sum() + 1e-6)
    got = float(np_(model.compute_loss(x=batch, y_pred=y_pred)))
    np.testing.assert_allclose(got, mlm + 50.0 * disc, rtol=1e-5)
    weighted = ElectraPretrainer(
        tiny_config(generator_loss_weight=2.0, discriminator_loss_weight=0.5), seed=5
    )
    weighted.set_weights(model.get_weights())
    np.testing.assert_allclose(
        float(np_(weighted.compute_loss(x=batch, y_pred=y_pred))), 2 * mlm + 0.5 * disc, rtol=1e-5
    )


def test_no_gradient_reaches_the_generator_from_the_discriminator_loss():
    """With the MLM term weighted 0, one SGD step must leave generator-only weights unchanged."""
    batch = make_batch()

    def generator_only_change(generator_loss_weight):
        keras.utils.set_random_seed(7)
        model = ElectraPretrainer(tiny_config(generator_loss_weight=generator_loss_weight), seed=7)
        shared = {id(v) for v in model.embeddings.weights}
        gen_only = [v for v in model.generator_backbone.trainable_weights if id(v) not in shared]
        gen_only += [v for v in model.mlm_head.trainable_weights if id(v) not in shared]
        disc_only = model.discriminator_backbone.transformer_layers[0].trainable_weights
        before = [np_(v).copy() for v in gen_only + disc_only]
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
        model.fit(batch, epochs=1, verbose=0)
        after = [np_(v) for v in gen_only + disc_only]
        diffs = [np.abs(a - b).max() for a, b in zip(after, before)]
        return max(diffs[: len(gen_only)]), max(diffs[len(gen_only) :])

    gen_change, disc_change = generator_only_change(0.0)
    assert gen_change == 0.0  # exactly: the sample is under stop_gradient
    assert disc_change > 0.0  # while the discriminator did learn
    gen_change, _ = generator_only_change(1.0)
    assert gen_change > 0.0  # and the generator learns from its own loss


# ---------------------------------------------------------------------------- training
def learnable_batch(batch_size=8, seq_len=32):
    """Each row repeats one word: any unmasked neighbour gives a masked token away."""
    ids = np.repeat(104 + 5 * np.arange(batch_size, dtype="int32")[:, None], seq_len, axis=1)
    ids[:, 0], ids[:, -1] = CLS, SEP
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}


def fit_losses(seed, epochs, config=None, dtype=None):
    keras.utils.set_random_seed(seed)
    model = ElectraPretrainer(config or tiny_config(dropout=0.0), seed=seed, dtype=dtype)
    model.compile(optimizer=electra_adamw(learning_rate=1e-3, warmup_steps=2, total_steps=200))
    history = model.fit(learnable_batch(), epochs=epochs, verbose=0)
    return model, history.history


@pytest.fixture(scope="module")
def trained():
    """One 20-step run shared by the tests below (each fit costs a compile)."""
    return fit_losses(seed=11, epochs=20)


def test_fit_drives_the_loss_down_and_tracks_the_metrics(trained):
    _, history = trained
    losses = history["loss"]
    # Start: log(160) + 50 * log(2) = 39.7. Guessing the base rate of replaced tokens alone
    # would give about 5 + 50 * 0.37 = 23; learning the context must go well below that.
    assert losses[0] > 35 and np.mean(losses[-5:]) < 0.5 * losses[0], losses
    assert max(history["disc_auc"]) > 0.8, history["disc_auc"]
    expected = {
        "loss", "mlm_loss", "mlm_accuracy", "sampled_accuracy", "disc_loss",
        "disc_accuracy", "disc_precision", "disc_recall", "disc_auc",
    }
    assert expected <= set(history)
    # The total is the weighted sum of the tracked parts (both are per-epoch means of one step).
    np.testing.assert_allclose(
        losses[-1], history["mlm_loss"][-1] + 50 * history["disc_loss"][-1], rtol=1e-4
    )


def test_same_seed_reproduces_the_losses(trained):
    _, first = trained
    _, again = fit_losses(seed=11, epochs=3)
    np.testing.assert_allclose(again["loss"], first["loss"][:3], rtol=1e-5)
    _, other = fit_losses(seed=12, epochs=1)
    assert not np.isclose(other["loss"][0], first["loss"][0], rtol=1e-5)


def test_fit_save_reload_and_continue(trained, tmp_path):
    model, _ = trained
    path = os.path.join(tmp_path, "trained.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 20
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np_(a), np_(b))
    history = loaded.fit(learnable_batch(), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and int(loaded.optimizer.iterations) == 21


def test_a_fresh_interpreter_loads_a_compiled_pretrainer_after_importing_models(trained, tmp_path):
    """What the README promises: `import electra_keras.models` is all `load_model` needs, the
    optimizer and its schedule included (a fresh process: this one has imported everything)."""
    model, _ = trained
    path = os.path.join(tmp_path, "trained.keras")
    model.save(path)
    code = ("import sys, keras, electra_keras.models\n"
            "m = keras.saving.load_model(sys.argv[1])\n"
            "print(type(m.optimizer).__name__, int(m.optimizer.iterations), float(m.optimizer.learning_rate))")
    result = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    name, step, rate = result.stdout.split()[-3:]
    assert (name, step) == (type(model.optimizer).__name__, "20"), result.stdout
    # the warmup-then-linear schedule, restored: its rate at step 20, not a constant
    np.testing.assert_allclose(float(rate), float(model.optimizer.learning_rate), rtol=1e-6)
    assert float(rate) < 1e-3


def test_mlm_baseline_trains_a_full_size_encoder():
    cfg = tiny_config(objective="mlm", dropout=0.0)
    model, history = fit_losses(seed=31, epochs=25, config=cfg)
    assert history["loss"][-1] < 0.6 * history["loss"][0], history["loss"]
    assert model.discriminator is None and model.discriminator_backbone is None
    assert model.backbone is model.generator_backbone
    assert model.backbone.hidden_dim == cfg.hidden_dim  # not the generator fraction
    assert "disc_loss" not in history
    np.testing.assert_allclose(history["loss"], history["mlm_loss"], rtol=1e-5)
    assert np.mean(history["loss"][-5:]) < np.mean(history["loss"][:5])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_losses(policy):
    if policy == "mixed_float16" and keras.backend.backend() == "jax":
        pytest.skip("XLA:CPU has no float16 matmul with float32 accumulation (a GPU policy)")
    model, history = fit_losses(seed=41, epochs=2, dtype=policy)
    assert model.discriminator_backbone.transformer_layers[0].compute_dtype == policy.split("_")[1]
    assert model.embeddings.token_embedding.embeddings.dtype == "float32"
    out = model(make_batch(), training=False)
    assert keras.backend.standardize_dtype(out["mlm_logits"].dtype) == "float32"
    assert keras.backend.standardize_dtype(out["disc_logits"].dtype) == "float32"
    assert np.all(np.isfinite(history["loss"]))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
