import pytest

from electra_keras import ElectraConfig


@pytest.mark.parametrize(
    "preset, disc, gen, seq_len, max_preds",
    [
        # (E, H, layers, heads, FFN), (gen H, gen heads, gen FFN): REFERENCE.md section 1.
        ("small", (128, 256, 12, 4, 1024), (64, 1, 256), 128, 19),
        ("small_plus", (128, 256, 12, 4, 1024), (256, 4, 1024), 512, 79),
        ("base", (768, 768, 12, 12, 3072), (256, 4, 1024), 512, 79),
        ("large", (1024, 1024, 24, 16, 4096), (256, 4, 1024), 512, 130),
    ],
)
def test_presets_match_the_paper(preset, disc, gen, seq_len, max_preds):
    cfg = ElectraConfig.from_preset(preset)
    assert (cfg.embedding_dim, cfg.hidden_dim, cfg.num_layers, cfg.num_heads, cfg.intermediate_dim) == disc
    sizes = cfg.generator_sizes()
    assert (sizes["hidden_dim"], sizes["num_heads"], sizes["intermediate_dim"]) == gen
    assert sizes["num_layers"] == cfg.num_layers  # depth stays
    assert sizes["embedding_dim"] == cfg.embedding_dim  # tied embeddings keep E
    assert cfg.sequence_length == seq_len
    assert cfg.max_predictions() == max_preds
    assert cfg.vocabulary_size == 30522 and cfg.max_sequence_length == 512


def test_objective_defaults_are_the_originals():
    cfg = ElectraConfig.from_preset("small")
    assert cfg.mask_prob == 0.15 and ElectraConfig.from_preset("large").mask_prob == 0.25
    assert (cfg.mask_token_rate, cfg.random_token_rate) == (0.85, 0.0)
    assert (cfg.generator_loss_weight, cfg.discriminator_loss_weight) == (1.0, 50.0)
    assert cfg.layer_norm_epsilon == 1e-12 and cfg.dropout == 0.1


def test_untied_generator_gets_its_own_width_embeddings():
    sizes = ElectraConfig.from_preset("small", weight_sharing="none").generator_sizes()
    assert sizes["embedding_dim"] == sizes["hidden_dim"] == 64


def test_mlm_and_tie_all_use_a_full_size_generator():
    cfg = ElectraConfig.from_preset("small", objective="mlm")
    assert cfg.generator_sizes() == cfg.discriminator_sizes()
    cfg = ElectraConfig.from_preset("small", weight_sharing="all", generator_hidden_fraction=1.0)
    assert cfg.generator_sizes()["hidden_dim"] == 256


def test_round_trip_through_dict():
    cfg = ElectraConfig.from_preset("base", mask_prob=0.2)
    assert ElectraConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.replace(num_layers=3).num_layers == 3


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(hidden_dim=250), "hidden_dim"),
        (dict(generator_hidden_fraction=0.0), "generator_hidden_fraction"),
        (dict(generator_hidden_fraction=1.5), "generator_hidden_fraction"),
        (dict(mask_prob=0.0), "mask_prob"),
        (dict(mask_prob=1.0), "mask_prob"),
        (dict(num_layers=0), "num_layers"),
        (dict(dropout=1.5), "dropout"),
        (dict(objective="bert"), "objective"),
        (dict(weight_sharing="some"), "weight_sharing"),
        (dict(weight_sharing="all"), "generator_hidden_fraction"),
        (dict(sequence_length=1024), "sequence_length"),
        (dict(mask_token_rate=0.9, random_token_rate=0.2), "random_token_rate"),
        (dict(mask_token_id=40000), "mask_token_id"),
        (dict(temperature=0.0), "temperature"),
    ],
)
def test_invalid_configs_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=rf"ElectraConfig\.{field}="):
        ElectraConfig.from_preset("small", **overrides)


def test_unknown_field_and_preset_are_rejected():
    with pytest.raises(ValueError, match="hidden_size"):
        ElectraConfig.from_dict({"hidden_size": 256})
    with pytest.raises(ValueError, match="medium"):
        ElectraConfig.from_preset("medium")
