"""The objective's functions against hand-made batches and NumPy transcriptions of the original."""

import keras
import numpy as np
import pytest

from conftest import CLS, MASK, PAD, SEP, VOCAB, make_batch
from electra_keras import objectives

SPECIALS = (PAD, CLS, SEP, MASK)


def np_(x):
    return keras.ops.convert_to_numpy(x)


def mask(batch, seed=0, **overrides):
    kwargs = dict(
        max_predictions=5,
        mask_prob=0.15,
        special_token_ids=SPECIALS,
        mask_token_id=MASK,
        vocabulary_size=VOCAB,
        seed=keras.random.SeedGenerator(seed),
    )
    kwargs.update(overrides)
    return objectives.mask_tokens(batch["token_ids"], batch["padding_mask"], **kwargs)


def test_candidates_exclude_specials_and_padding():
    ids = np.array([[CLS, 110, MASK, 111, SEP, 112, SEP, PAD, PAD]], "int32")
    padding = (ids != PAD).astype("int32")
    got = np_(objectives.candidate_mask(ids, padding, SPECIALS))
    np.testing.assert_array_equal(got, [[0, 1, 0, 1, 0, 1, 0, 0, 0]])


def test_count_is_round_of_real_tokens_times_prob_clipped():
    # Real-token counts, [CLS]/[SEP] included: 3 -> round(.45)=0 -> 1 (at least one);
    # 10 -> 1.5 rounds to 2 in float32 (0.15f is slightly above .15); 30 -> 4.5 -> 4 (half to even);
    # 40 -> 6 -> capped at N=5.
    padding = np.zeros((4, 40), "int32")
    for row, n in enumerate([3, 10, 30, 40]):
        padding[row, :n] = 1
    got = np_(objectives.num_to_mask(padding, 0.15, 5))
    expected = [max(1, min(5, int(np.round(np.float32(n) * np.float32(0.15))))) for n in [3, 10, 30, 40]]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, [1, 2, 4, 5])


def test_chosen_positions_are_candidates_and_exact_in_number():
    batch = make_batch(batch_size=8, seq_len=32, lengths=[32, 30, 20, 12, 8, 5, 4, 3])
    for seed in range(5):
        out = mask(batch, seed=seed, mask_prob=0.3, max_predictions=9)
        chosen = np_(out.chosen)
        candidates = np_(objectives.candidate_mask(batch["token_ids"], batch["padding_mask"], SPECIALS))
        assert not np.any(chosen & ~candidates), "a special or padding position was chosen"
        real = batch["padding_mask"].sum(-1).astype("float32")
        expected = np.clip(np.round(real * np.float32(0.3)), 1, 9).astype(int)
        expected = np.minimum(expected, candidates.sum(-1))  # [CLS] x [SEP]: 1 candidate only
        np.testing.assert_array_equal(chosen.sum(-1), expected)
        np.testing.assert_array_equal(np_(out.mask_weights).sum(-1), expected)
        # Weighted slots point at the chosen positions and carry the original ids.
        pos, w = np_(out.mask_positions), np_(out.mask_weights).astype(bool)
        for b in range(8):
            assert sorted(pos[b][w[b]]) == list(np.flatnonzero(chosen[b]))
            np.testing.assert_array_equal(np_(out.mask_ids)[b][w[b]], batch["token_ids"][b, pos[b][w[b]]])
            assert np.all(pos[b][~w[b]] == 0) and np.all(np_(out.mask_ids)[b][~w[b]] == 0)


def test_an_example_with_no_candidates_masks_nothing():
    ids = np.array([[CLS, SEP, PAD, PAD]], "int32")
    out = mask({"token_ids": ids, "padding_mask": (ids != 0).astype("int32")}, max_predictions=2)
    assert np_(out.mask_weights).sum() == 0
    np.testing.assert_array_equal(np_(out.token_ids), ids)


@pytest.mark.parametrize("rate, expected", [(1.0, "all"), (0.0, "none")])
def test_mask_token_rate_extremes(rate, expected):
    batch = make_batch()
    out = mask(batch, mask_token_rate=rate)
    chosen = np_(out.chosen)
    ids = np_(out.token_ids)
    if expected == "all":
        assert np.all(ids[chosen] == MASK)
    else:
        np.testing.assert_array_equal(ids, batch["token_ids"])
    np.testing.assert_array_equal(ids[~chosen], batch["token_ids"][~chosen])


def test_85_percent_of_chosen_positions_show_mask():
    batch = make_batch(batch_size=64, seq_len=64, seed=3)
    out = mask(batch, max_predictions=9)
    chosen = np_(out.chosen)
    shown_mask = np_(out.token_ids)[chosen] == MASK
    # 64 * 9 = 576 draws; binomial sd ~ 0.015.
    assert abs(shown_mask.mean() - 0.85) < 0.05, shown_mask.mean()


def test_random_token_rate_replaces_with_other_tokens():
    batch = make_batch(batch_size=64, seq_len=64, seed=4)
    out = mask(batch, max_predictions=9, mask_token_rate=0.0, random_token_rate=1.0)
    chosen = np_(out.chosen)
    changed = np_(out.token_ids)[chosen] != batch["token_ids"][chosen]
    assert changed.mean() > 0.95  # a random id equals the original with p = 1/160


def test_same_seed_same_masks():
    batch = make_batch()
    a, b = mask(batch, seed=7), mask(batch, seed=7)
    np.testing.assert_array_equal(np_(a.token_ids), np_(b.token_ids))
    c = mask(batch, seed=8)
    assert not np.array_equal(np_(a.chosen), np_(c.chosen))


def test_labels_on_a_hand_made_batch():
    original = np.array([[CLS, 110, 111, 112, 113, SEP, PAD]], "int32")
    masked = np.array([[CLS, MASK, 111, MASK, 113, SEP, PAD]], "int32")  # 111 kept original
    positions = np.array([[1, 2, 3, 0]], "int32")
    weights = np.array([[1, 1, 1, 0]], "float32")
    # Sample at 1 differs (replaced); at 2 and 3 the generator guessed the original: label 0.
    # The unused slot (weight 0) points at [CLS] and must write nothing.
    sampled = np.array([[150, 111, 112, 140]], "int32")
    corrupted, labels = objectives.replace_with_samples(masked, original, positions, weights, sampled)
    np.testing.assert_array_equal(np_(corrupted), [[CLS, 150, 111, 112, 113, SEP, PAD]])
    np.testing.assert_array_equal(np_(labels), [[0, 1, 0, 0, 0, 0, 0]])


def np_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_mlm_loss_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 11)).astype("float32") * 3
    targets = rng.integers(0, 11, size=(3, 4))
    weights = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], "float32")
    # Original: sum(w * -sum(log_probs * one_hot)) / (sum(w) + 1e-6)
    label_log_probs = -(np_log_softmax(logits) * np.eye(11)[targets]).sum(-1)
    expected = (weights * label_log_probs).sum() / (weights.sum() + 1e-6)
    got = float(objectives.weighted_mean(objectives.mlm_nll(logits, targets), weights))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_rtd_loss_matches_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 6)).astype("float32") * 4
    labels = rng.integers(0, 2, size=(2, 6))
    padding = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], "float32")
    probs = 1 / (1 + np.exp(-logits.astype("float64")))
    bce = -(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))
    expected = (bce * padding).sum() / (padding.sum() + 1e-6)  # padding excluded
    got = float(objectives.weighted_mean(objectives.rtd_bce(logits, labels), padding))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gumbel_sampling_follows_the_softmax():
    # Two-way logits [0, log 3] (one block, padded with 126 impossible ids): token 1 with probability 3/4.
    logits = np.tile(np.array([0.0, np.log(3.0)], "float32"), (50, 200, 1))
    ids = np_(objectives.blockwise_gumbel_sample(logits, 1.0, keras.random.SeedGenerator(0)))
    assert abs(ids.mean() - 0.75) < 0.01, ids.mean()  # 10,000 draws, sd 0.004
    # Temperature 0.5 squares the odds: 9 / 10.
    ids = np_(objectives.blockwise_gumbel_sample(logits, 0.5, keras.random.SeedGenerator(0)))
    assert abs(ids.mean() - 0.9) < 0.01, ids.mean()
    # A dominant logit is always sampled.
    peaked = np.zeros((4, 3, 20), "float32")
    peaked[..., 7] = 50.0
    assert np.all(np_(objectives.blockwise_gumbel_sample(peaked, 1.0, keras.random.SeedGenerator(1))) == 7)


def test_blockwise_gumbel_sample_follows_the_softmax():
    # A vocabulary of 300 in blocks of 128: three blocks, the last padded with 84 impossible ids.
    # Eight ids carry the mass, across all three blocks and at their edges; the rest ~e^-30.
    support = np.array([3, 100, 127, 128, 200, 255, 256, 299])
    row = np.full(300, -30.0, "float32")
    row[support] = np.log([1, 2, 3, 4, 5, 6, 7, 8])
    logits = np.tile(row, (400, 25, 1))  # 10,000 draws
    for temperature in (1.0, 2.0):
        ids = np_(objectives.blockwise_gumbel_sample(logits, temperature, keras.random.SeedGenerator(3)))
        assert ids.shape == (400, 25) and set(np.unique(ids)) <= set(support.tolist())
        scaled = row.astype("float64")[support] / temperature
        expected = np.exp(scaled - scaled.max())
        expected = 10_000 * expected / expected.sum()
        observed = np.array([(ids == s).sum() for s in support])
        chi2 = ((observed - expected) ** 2 / expected).sum()
        assert chi2 < 24.3, (temperature, observed, expected.round())  # 7 dof, p = 0.999
    # A dominant logit in the padded last block is always sampled.
    peaked = np.zeros((2, 3, 300), "float32")
    peaked[..., 298] = 60.0
    assert np.all(np_(objectives.blockwise_gumbel_sample(peaked, 1.0, keras.random.SeedGenerator(1))) == 298)


class FixedDraws(objectives.Draws):
    """The caller's random numbers, handed over in the order the objective asks for them."""

    def __init__(self, uniforms, integers):
        super().__init__()
        self.uniforms = [np.asarray(u, "float32") for u in uniforms]
        self.ints = np.asarray(integers, "int32")

    def uniform(self, shape):
        value = self.uniforms.pop(0)
        assert value.shape == tuple(shape)
        return keras.ops.convert_to_tensor(value)

    def integers(self, shape, high):
        assert self.ints.shape == tuple(shape) and high == VOCAB
        return keras.ops.convert_to_tensor(self.ints)


def test_mask_tokens_uses_the_draws_it_is_handed():
    ids = np.array([[CLS, 111, 112, 113, 114, SEP]], "int32")
    batch = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    # 6 real tokens x 0.5 -> 3 positions: the top 3 scores among the candidates 1-4 are at 2, 4, 3.
    scores = [[0.9, 0.1, 0.8, 0.3, 0.7, 0.95]]
    # Per slot: below 0.5 -> [MASK]; in [0.5, 0.95) -> the handed random id; else the original.
    replace = [[0.2, 0.9, 0.97]]
    draws = FixedDraws([scores, replace], [[150, 151, 152]])
    out = objectives.mask_tokens(ids, batch["padding_mask"], max_predictions=3, mask_prob=0.5,
                                 special_token_ids=SPECIALS, mask_token_id=MASK, vocabulary_size=VOCAB,
                                 mask_token_rate=0.5, random_token_rate=0.45, seed=draws)
    np.testing.assert_array_equal(np_(out.mask_positions), [[2, 4, 3]])
    np.testing.assert_array_equal(np_(out.mask_ids), [[112, 114, 113]])
    np.testing.assert_array_equal(np_(out.token_ids), [[CLS, 111, MASK, 113, 151, SEP]])
    assert not draws.uniforms  # both draws were taken, in that order
