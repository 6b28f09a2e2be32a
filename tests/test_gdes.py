"""Gradient-disentangled embedding sharing (DeBERTaV3): weight_sharing="gdes".

The discriminator reads stop_gradient(shared) + delta for each weight of the embedding block;
the generator owns the block. Checked by values: the function at initialisation, which loss
moves which weights, the fold into an ordinary discriminator, serialization and conversion.
"""

import os

import keras
import numpy as np
import pytest

from conftest import VOCAB, make_batch, tiny_config
from electra_keras import ElectraConfig, ElectraPretrainer, convert, flops
from electra_keras.convert.mapping import Parts
from electra_keras.convert.native import save_models
from electra_keras.layers import ElectraEmbeddings, ElectraGDESEmbeddings
from electra_keras.models import ElectraBackbone, folded_backbone, folded_discriminator
from electra_keras.optimizers import electra_adamw

DELTA_NAMES = ("token_embedding_delta", "position_embedding_delta", "segment_embedding_delta",
               "layer_norm_gamma_delta", "layer_norm_beta_delta")


def np_(x):
    return keras.ops.convert_to_numpy(x)


def gdes_model(seed=0, deltas=None, dtype=None, **overrides):
    """A gdes pretrainer; `deltas`: a seed to give the deltas N(0, 0.1) values (None: zeros)."""
    model = ElectraPretrainer(tiny_config(weight_sharing="gdes", **overrides), seed=seed, dtype=dtype)
    if deltas is not None:
        rng = np.random.default_rng(deltas)
        for delta in deltas_of(model):
            delta.assign(rng.normal(0, 0.1, tuple(delta.shape)).astype("float32"))
    return model


def deltas_of(model):
    return [getattr(model.discriminator_backbone.embeddings, name) for name in DELTA_NAMES]


def shared_tables(model):
    """The shared block's word, position, segment tables and LayerNorm gamma, beta."""
    e = model.embeddings
    return [e.token_embedding.embeddings, e.position_embedding.position_embeddings,
            e.segment_embedding.embeddings, e.layer_norm.gamma, e.layer_norm.beta]


def snapshot(variables):
    return [np_(v).copy() for v in variables]


def copy_encoder(source, target):
    """Everything of one backbone above its embeddings."""
    target.embeddings_project.set_weights(source.embeddings_project.get_weights())
    for a, b in zip(source.transformer_layers, target.transformer_layers):
        b.set_weights(a.get_weights())


# ---------------------------------------------------------------------------- config
def test_the_config_accepts_gdes_and_an_unknown_mode_lists_it():
    cfg = ElectraConfig.from_preset("small", weight_sharing="gdes")
    # The generator reads the shared block at its width E, as under "embeddings".
    assert cfg.generator_sizes() == ElectraConfig.from_preset("small").generator_sizes()
    with pytest.raises(ValueError, match=r"weight_sharing='some'.*'gdes'"):
        ElectraConfig.from_preset("small", weight_sharing="some")


def test_the_deltas_are_parameters_but_not_matmul_flops():
    cfg = tiny_config()
    plain, gdes = ElectraPretrainer(cfg), ElectraPretrainer(cfg.replace(weight_sharing="gdes"))
    e = cfg.embedding_dim
    deltas = (cfg.vocabulary_size + cfg.max_sequence_length + cfg.num_segments + 2) * e
    assert gdes.count_params() == plain.count_params() + deltas
    assert gdes.backbone.count_params() == plain.backbone.count_params() + deltas
    assert gdes.generator_backbone.count_params() == plain.generator_backbone.count_params()
    assert flops.pretraining_flops_per_step(cfg.replace(weight_sharing="gdes"), 8) == \
        flops.pretraining_flops_per_step(cfg, 8)


# ---------------------------------------------------------------------------- the function
def test_at_initialisation_gdes_computes_what_shared_embeddings_compute():
    """Zero deltas: a gdes pretrainer equals an "embeddings" one holding the same weights."""
    gdes = gdes_model(seed=5)
    tied = ElectraPretrainer(tiny_config(), seed=5)
    assert gdes.discriminator_backbone.embeddings.shared_embeddings is gdes.embeddings
    assert gdes.generator_backbone.embeddings is gdes.embeddings  # the generator owns the block
    assert gdes.mlm_head.token_embedding is gdes.embeddings.token_embedding  # the MLM output matrix
    tied.embeddings.set_weights(gdes.embeddings.get_weights())
    copy_encoder(gdes.generator_backbone, tied.generator_backbone)
    copy_encoder(gdes.discriminator_backbone, tied.discriminator_backbone)
    tied.mlm_head.set_weights(gdes.mlm_head.get_weights())
    tied.discriminator_head.set_weights(gdes.discriminator_head.get_weights())

    batch = make_batch()
    ours, theirs = gdes(batch), tied(batch)  # the same seed: the same masks and samples
    np.testing.assert_array_equal(np_(ours["corrupted_ids"]), np_(theirs["corrupted_ids"]))
    np.testing.assert_allclose(np_(ours["mlm_logits"]), np_(theirs["mlm_logits"]), atol=1e-6)
    np.testing.assert_allclose(np_(ours["disc_logits"]), np_(theirs["disc_logits"]), atol=1e-6)
    assert np.abs(np_(ours["disc_logits"])).max() > 0.1  # not trivially zero


def test_the_discriminator_sees_shared_plus_delta():
    model = gdes_model(deltas=1)
    batch = make_batch()
    logits = np_(model.discriminator(batch))
    # An ordinary backbone whose own block holds shared + delta, computed here in NumPy.
    plain = ElectraBackbone.from_config({k: v for k, v in model.backbone.get_config().items() if k != "embeddings"})
    folded = [np_(s) + np_(d) for s, d in zip(shared_tables(model), deltas_of(model))]
    plain.embeddings.set_weights(folded)
    copy_encoder(model.backbone, plain)
    by_hand = np_(model.discriminator_head(plain(batch)))
    np.testing.assert_allclose(logits, by_hand, atol=1e-5)
    # ... and the deltas matter: the shared block alone gives other logits.
    plain.embeddings.set_weights([np_(s) for s in shared_tables(model)])
    assert np.abs(np_(model.discriminator_head(plain(batch))) - logits).max() > 1e-2
    # folded_discriminator builds the same model.
    folded_model = folded_discriminator(model)
    np.testing.assert_allclose(np_(folded_model(batch)), logits, atol=1e-5)
    assert not any(isinstance(l, ElectraGDESEmbeddings) for l in folded_model._flatten_layers())


def test_without_gdes_folding_returns_the_model_itself():
    model = ElectraPretrainer(tiny_config(), seed=0)
    assert folded_discriminator(model) is model.discriminator
    assert folded_backbone(model.backbone) is model.backbone
    with pytest.raises(ValueError, match="no discriminator"):
        folded_discriminator(ElectraPretrainer(tiny_config(objective="mlm", weight_sharing="gdes")))


# ---------------------------------------------------------------------------- which loss trains what
def one_step(model, weight_decay=0.0):
    model.compile(optimizer=electra_adamw(learning_rate=1e-2, warmup_steps=0, total_steps=100,
                                          weight_decay=weight_decay))
    model.fit(make_batch(), epochs=1, verbose=0)


def changes(before, variables):
    return [float(np.abs(np_(v) - b).max()) for v, b in zip(variables, before)]


def test_the_discriminator_loss_trains_only_the_deltas():
    """generator_loss_weight=0: the shared block gets no gradient at all, the deltas do."""
    model = gdes_model(seed=2, generator_loss_weight=0.0)
    shared, deltas = shared_tables(model), deltas_of(model)
    encoder = model.discriminator_backbone.transformer_layers[0].trainable_weights
    before = [snapshot(shared), snapshot(deltas), snapshot(encoder)]
    one_step(model)  # no weight decay: only gradients move weights
    assert changes(before[0], shared) == [0.0] * 5
    assert min(changes(before[1], deltas)) > 0.0
    assert max(changes(before[2], encoder)) > 0.0


def test_the_generator_loss_leaves_the_deltas_alone():
    """discriminator_loss_weight=0: the deltas keep their values, the shared block learns."""
    model = gdes_model(seed=3, deltas=2, discriminator_loss_weight=0.0)
    shared, deltas = shared_tables(model), deltas_of(model)
    before = [snapshot(shared), snapshot(deltas)]
    one_step(model)
    assert changes(before[1], deltas) == [0.0] * 5
    assert min(changes(before[0], shared)) > 0.0


def test_weight_decay_spares_the_layer_norm_deltas():
    model = gdes_model()
    one_step(model, weight_decay=0.01)
    decays = {name: model.optimizer.decays(delta) for name, delta in zip(DELTA_NAMES, deltas_of(model))}
    assert decays == {"token_embedding_delta": True, "position_embedding_delta": True,
                      "segment_embedding_delta": True, "layer_norm_gamma_delta": False,
                      "layer_norm_beta_delta": False}


# ---------------------------------------------------------------------------- serialization
def test_a_gdes_pretrainer_saves_and_loads_with_its_tie_and_deltas(tmp_path):
    model = gdes_model(seed=4, deltas=3)
    path = os.path.join(tmp_path, "pretrainer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ElectraPretrainer) and loaded.config.weight_sharing == "gdes"
    assert loaded.discriminator_backbone.embeddings.shared_embeddings is loaded.embeddings
    assert loaded.generator_backbone.embeddings is loaded.embeddings
    assert loaded.mlm_head.token_embedding is loaded.embeddings.token_embedding
    assert len({id(v) for v in loaded.trainable_weights}) == len({id(v) for v in model.trainable_weights})
    for a, b in zip(deltas_of(model) + shared_tables(model), deltas_of(loaded) + shared_tables(loaded)):
        np.testing.assert_array_equal(np_(a), np_(b))
    batch = make_batch()
    ours, theirs = model(batch), loaded(batch)  # the seed generator's state is saved too
    for key in ("mlm_logits", "disc_logits"):
        np.testing.assert_allclose(np_(ours[key]), np_(theirs[key]), atol=1e-6)
    # The tie is one variable: a write through the generator is seen by the discriminator.
    table = loaded.generator_backbone.token_embedding.embeddings
    table.assign(np.zeros(table.shape, "float32"))
    shared = loaded.discriminator_backbone.embeddings.shared_embeddings
    assert not np.any(np_(shared.token_embedding.embeddings))


def test_a_gdes_backbone_saved_alone_loads_whole(tmp_path):
    model = gdes_model(deltas=5)
    batch = make_batch()
    path = os.path.join(tmp_path, "backbone.keras")
    model.backbone.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.embeddings, ElectraGDESEmbeddings)
    np.testing.assert_allclose(np_(loaded(batch)), np_(model.backbone(batch)), atol=1e-6)


def test_saved_discriminator_and_backbone_are_folded(tmp_path):
    model = gdes_model(seed=6)
    model.compile(optimizer=electra_adamw(learning_rate=1e-2, warmup_steps=0, total_steps=100))
    model.fit(make_batch(batch_size=8), epochs=3, verbose=0)
    assert min(float(np.abs(np_(d)).max()) for d in deltas_of(model)) > 0  # they learned
    save_models(model, str(tmp_path))
    batch = make_batch(seed=1)

    discriminator = keras.saving.load_model(os.path.join(tmp_path, "discriminator.keras"))
    backbone = Parts.of(discriminator).backbone
    assert type(backbone.embeddings) is ElectraEmbeddings and not backbone.is_gdes
    np.testing.assert_allclose(np_(discriminator(batch)), np_(model.discriminator(batch)), atol=1e-5)
    np.testing.assert_allclose(np_(backbone.token_embedding.embeddings),
                               np_(model.embeddings.token_embedding.embeddings)
                               + np_(model.discriminator_backbone.embeddings.token_embedding_delta), atol=1e-7)
    for held, (s, d) in zip(backbone.embeddings.weights, zip(shared_tables(model), deltas_of(model))):
        np.testing.assert_allclose(np_(held), np_(s) + np_(d), atol=1e-7)

    saved_backbone = keras.saving.load_model(os.path.join(tmp_path, "backbone.keras"))
    assert type(saved_backbone.embeddings) is ElectraEmbeddings
    np.testing.assert_allclose(np_(saved_backbone(batch)), np_(model.backbone(batch)), atol=1e-5)

    pretrainer = keras.saving.load_model(os.path.join(tmp_path, "pretrainer.keras"))  # kept as it is
    assert pretrainer.discriminator_backbone.is_gdes
    np.testing.assert_allclose(np_(pretrainer.discriminator(batch)), np_(model.discriminator(batch)), atol=1e-6)


def test_mixed_precision_keeps_float32_weights_and_computes_the_fold():
    model = gdes_model(deltas=7, dtype="mixed_bfloat16", dropout=0.0)
    embeddings = model.discriminator_backbone.embeddings
    assert all(d.dtype == "float32" for d in deltas_of(model))
    assert embeddings.compute_dtype == "bfloat16"
    batch = make_batch()
    ids, segments = batch["token_ids"], batch["segment_ids"]
    assert keras.backend.standardize_dtype(embeddings(ids, segments).dtype) == "bfloat16"
    logits = np_(model.discriminator(batch))
    assert logits.dtype == np.float32
    # The same weights in float32, folded or not: equal up to bfloat16 rounding (8 bits).
    reference = gdes_model(deltas=7, dropout=0.0)
    reference.set_weights(model.get_weights())
    exact = np_(reference.discriminator(batch))
    np.testing.assert_allclose(np_(reference.discriminator_backbone.embeddings(ids, segments)),
                               np_(embeddings(ids, segments)).astype("float32"), atol=0.05)
    np.testing.assert_allclose(logits, exact, atol=0.01)
    folded = folded_discriminator(model)
    assert folded.get_layer("discriminator_backbone").embeddings.compute_dtype == "bfloat16"
    np.testing.assert_allclose(np_(folded(batch)), exact, atol=0.01)
    one_step(model)
    assert np.all(np.isfinite(np_(model.discriminator(batch))))
    assert max(changes(snapshot(deltas_of(reference)), deltas_of(model))) > 0  # the deltas trained


# ---------------------------------------------------------------------------- conversion
def test_conversion_reads_the_folded_discriminator(tmp_path):
    pytest.importorskip("safetensors")
    from electra_keras.data.tokenizer import BERT_RESERVED, WordPieceTokenizer

    tokenizer = WordPieceTokenizer(list(BERT_RESERVED) + [f"w{i}" for i in range(VOCAB - len(BERT_RESERVED))])
    model = gdes_model(deltas=8)
    converted = convert.Converted(model, tokenizer, model.config, "pretrainer")
    batch = make_batch()
    logits = np_(model.discriminator(batch))

    # Parts (what every converter reads): the folded discriminator, the generator with its own block.
    parts = Parts.of(model)
    assert not parts.backbone.is_gdes and parts.generator_backbone is model.generator_backbone
    np.testing.assert_allclose(np_(parts.discriminator_head(parts.backbone(batch))), logits, atol=1e-5)

    # Hugging Face: the discriminator with the folded tables, the generator with the shared ones.
    out = convert.save(converted, str(tmp_path / "hf"), to="hf")
    alone = convert.load(out, generator=False)
    assert alone.kind == "discriminator"
    np.testing.assert_allclose(np_(alone.model(batch)), logits, atol=1e-5)
    generator = convert.load(os.path.join(out, "generator"))
    np.testing.assert_array_equal(np_(generator.model.embeddings.token_embedding.embeddings),
                                  np_(model.embeddings.token_embedding.embeddings))
    with pytest.raises(convert.ConversionError, match="gdes"):
        convert.load(out)  # as a pair: the embeddings differ, and the message says why

    # keras-hub: the folded backbone.
    pytest.importorskip("keras_hub")
    from electra_keras.convert.keras_hub import to_keras_hub_backbone

    theirs = to_keras_hub_backbone(model.backbone)
    np.testing.assert_allclose(np_(theirs.token_embedding.embeddings),
                               np_(Parts.of(model).backbone.token_embedding.embeddings), atol=1e-7)

    # TF1 holds one embedding block for both networks: refused, naming what to convert instead.
    with pytest.raises(ValueError, match="discriminator.keras"):
        convert.save(converted, str(tmp_path / "tf1"), to="tf1")
    # ... and our own directory: discriminator.keras is folded, and converts like any other.
    ours = convert.save(converted, str(tmp_path / "ours"))
    folded = keras.saving.load_model(os.path.join(ours, "discriminator.keras"))
    disc = convert.Converted(folded, tokenizer, model.config, "discriminator")
    back = convert.load(convert.save(disc, str(tmp_path / "tf1_disc"), to="tf1"))
    np.testing.assert_allclose(np_(back.model(batch)), logits, atol=1e-5)
