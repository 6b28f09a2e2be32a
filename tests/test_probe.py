"""The discriminator probe and `detect`: their numbers are the discriminator's own, on known inputs."""

import itertools

import keras
import numpy as np
import pytest

import electra_keras as ek
from conftest import CLS, MASK, PAD, SEP, VOCAB, make_batch, tiny_config
from electra_keras.detection import detect, swapped_sentences
from electra_keras.probe import DiscriminatorProbe, detection_auc, make_probe_set, sample_by_inverse_cdf


def pairwise_auc(p, y):
    """AUC by its definition: P(score of a positive > score of a negative), ties half."""
    positives, negatives = p[y == 1], p[y == 0]
    wins = sum((a > b) + 0.5 * (a == b) for a, b in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def test_detection_auc_is_the_pairwise_definition_ties_included():
    rng = np.random.default_rng(0)
    p = np.round(rng.random(60), 1)  # many ties
    y = (rng.random(60) < 0.3).astype(int)
    assert detection_auc(p, y) == pytest.approx(pairwise_auc(p, y))
    assert detection_auc([0.9, 0.1], [1, 0]) == 1.0 and detection_auc([0.1, 0.9], [1, 0]) == 0.0
    where = np.array([1, 1, 0, 1], bool)
    assert detection_auc([0.2, 0.8, 0.99, 0.5], [0, 1, 0, 0], where) == 1.0  # the 0.99 is left out
    assert np.isnan(detection_auc([0.3, 0.4], [0, 0]))


def test_probe_set_corrupts_only_candidates_at_the_objective_rate():
    config = tiny_config()
    batch = make_batch(batch_size=6, seq_len=32, lengths=[32, 20, 9, 32, 5, 14])
    s = make_probe_set(batch, config, seed=3)
    ids, real = batch["token_ids"], batch["padding_mask"] > 0
    assert np.array_equal(s.scored, real & ~np.isin(ids, (PAD, CLS, SEP, MASK)))
    # counts: max(1, min(N, round(real * 0.15))), N = int(0.155 * 32) = 4
    expected = np.clip(np.round(real.sum(1) * 0.15), 1, 4)
    assert s.mask_weights.sum(1).tolist() == expected.tolist()
    chosen = np.zeros_like(real)
    for b, n in np.argwhere(s.mask_weights):
        chosen[b, s.mask_positions[b, n]] = True
    assert chosen.sum() == s.mask_weights.sum()  # distinct positions
    assert not (chosen & ~s.scored).any()
    # Random replacements: at every chosen position a different ordinary id, nowhere else.
    assert np.array_equal(s.random_labels.astype(bool), chosen)
    assert not np.isin(s.random_ids[chosen], (PAD, CLS, SEP, MASK)).any()
    # The generator sees [MASK] or the original at the chosen positions, the originals elsewhere.
    assert np.array_equal(s.generator_input[~chosen], ids[~chosen])
    shown = s.generator_input[chosen]
    assert np.all((shown == MASK) | (shown == ids[chosen]))
    # A second set with the same seed is the same; another seed differs.
    assert np.array_equal(make_probe_set(batch, config, seed=3).random_ids, s.random_ids)
    assert not np.array_equal(make_probe_set(batch, config, seed=4).random_ids, s.random_ids)


def test_frequency_replacements_follow_the_counts_and_leave_the_other_draws_alone():
    config = tiny_config()
    batch = make_batch(batch_size=24, seq_len=64)
    plain = make_probe_set(batch, config, seed=3)
    counts = np.zeros(config.vocabulary_size, "int64")
    counts[[120, 121]] = [3, 1]  # only two ids occur, one three times as often
    s = make_probe_set(batch, config, seed=3, token_counts=counts)
    for name in ("mask_positions", "generator_input", "random_ids", "sample_uniforms"):
        assert np.array_equal(getattr(s, name), getattr(plain, name)), name
    assert plain.frequency_ids is None
    chosen = s.random_labels.astype(bool)
    assert np.array_equal(s.frequency_ids[~chosen], batch["token_ids"][~chosen])
    drawn = s.frequency_ids[chosen]
    originals = batch["token_ids"][chosen]
    assert set(drawn.tolist()) <= {120, 121} and not (drawn == originals).any()
    # Where the original is neither, 120 comes three times as often as 121.
    free = ~np.isin(originals, (120, 121))
    share = np.mean(drawn[free] == 120)
    assert free.sum() > 100 and 0.65 < share < 0.85, (free.sum(), share)
    with pytest.raises(ValueError, match="none of the replacement ids occurs"):
        make_probe_set(batch, config, replacement_ids=[5, 6], token_counts=counts)


def test_inverse_cdf_sampling_follows_the_softmax():
    logits = np.log(np.array([[0.1, 0.2, 0.7]], "float32"))
    u = np.array([[0.05], [0.15], [0.29], [0.31], [0.99]])[:, 0][None, :]  # (1, 5)
    ids = sample_by_inverse_cdf(np.repeat(logits[:, None, :], 5, axis=1), u)
    assert ids.tolist() == [[0, 1, 1, 2, 2]]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return ek.ElectraPretrainer(tiny_config(), seed=0)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_probe_aucs_are_the_discriminators_own(model, temperature, monkeypatch):
    monkeypatch.setattr(model, "config", model.config.replace(temperature=temperature))
    batch = make_batch(batch_size=8, seq_len=32)
    counts = np.random.default_rng(0).integers(0, 50, model.config.vocabulary_size)
    s = make_probe_set(batch, model.config, seed=1, token_counts=counts)
    probe = DiscriminatorProbe(s, batch_size=3)  # batches that do not divide the set
    scores = probe(model)

    def probabilities(token_ids):
        x = {"token_ids": token_ids, "segment_ids": s.segment_ids, "padding_mask": s.padding_mask}
        return keras.ops.convert_to_numpy(keras.ops.sigmoid(model.discriminator(x, training=False)))

    keep = s.scored
    expected_random = pairwise_auc(probabilities(s.random_ids)[keep], s.random_labels[keep])
    assert scores["eval_auc_random"] == pytest.approx(expected_random, abs=1e-6)
    expected_frequency = pairwise_auc(probabilities(s.frequency_ids)[keep], s.frequency_labels[keep])
    assert scores["eval_auc_frequency"] == pytest.approx(expected_frequency, abs=1e-6)
    assert not np.array_equal(s.frequency_ids, s.random_ids)

    # The generator's sample, redone by hand: its logits at the chosen positions, inverse CDF.
    x = {"token_ids": s.generator_input, "segment_ids": s.segment_ids, "padding_mask": s.padding_mask}
    logits = keras.ops.convert_to_numpy(model.mlm_head(model.generator_backbone(x, training=False),
                                                       s.mask_positions))
    logits = logits / temperature  # the generator samples at the training temperature
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    corrupted = s.token_ids.copy()
    for b, n in np.argwhere(s.mask_weights):
        corrupted[b, s.mask_positions[b, n]] = np.searchsorted(np.cumsum(probs[b, n]), s.sample_uniforms[b, n])
    labels = (corrupted != s.token_ids).astype(int)
    got_ids, got_labels = probe.generator_samples(model)
    assert np.array_equal(got_ids, corrupted) and np.array_equal(got_labels, labels)
    expected_generator = pairwise_auc(probabilities(corrupted)[keep], labels[keep])
    assert scores["eval_auc_generator"] == pytest.approx(expected_generator, abs=1e-6)
    assert probe(model) == scores  # reads the weights, nothing else


def test_a_discriminator_that_memorised_a_batch_passes_the_random_probe():
    """Trained on one fixed batch until it knows it, the discriminator flags random ids in it.

    The generator's loss weight is 0, so it stays near its uniform start: the discriminator then
    learns from near-random replacements, the probe's own task (a generator that memorised the
    batch too would leave it almost nothing replaced to learn from).
    """
    keras.utils.set_random_seed(0)
    model = ek.ElectraPretrainer(tiny_config(generator_loss_weight=0.0), seed=0)
    batch = make_batch(batch_size=8, seq_len=32, seed=5)
    probe = DiscriminatorProbe(make_probe_set(batch, model.config, seed=2))
    before = probe(model)["eval_auc_random"]
    model.compile(optimizer=ek.optimizers.electra_adamw(1e-3, warmup_steps=10, total_steps=200))
    model.fit(_repeat(batch, 200), steps_per_epoch=200, epochs=1, verbose=0)
    after = probe(model)["eval_auc_random"]
    assert before < 0.7 and after > 0.9, (before, after)


def _repeat(batch, steps):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(batch).repeat(steps)


# ---- detect ----------------------------------------------------------------------------------


class Tokens:
    """The smallest tokenizer `detect` needs: whole words of a fixed list."""

    def __init__(self, words):
        self.tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        self.tokens += list(words)
        self.tokens += [f"w{i}" for i in range(VOCAB - len(self.tokens))]
        self.special_ids = {"pad_token_id": 0, "unk_token_id": 100, "cls_token_id": CLS, "sep_token_id": SEP,
                            "mask_token_id": MASK}

    def encode(self, text):
        return [self.tokens.index(w) if w in self.tokens else 100 for w in text.split()]


def test_detect_reports_the_discriminators_probabilities(model):
    tokenizer = Tokens("the cat sat on river".split())
    texts = ["the cat sat on the river", "the cat"]
    found = detect(model, texts, tokenizer=tokenizer)
    for text, detection in zip(texts, found):
        ids = [CLS, *tokenizer.encode(text), SEP]
        x = {"token_ids": np.array([ids], "int32"), "segment_ids": np.zeros((1, len(ids)), "int32"),
             "padding_mask": np.ones((1, len(ids)), "int32")}
        logits = keras.ops.convert_to_numpy(model.discriminator(x, training=False))[0]
        assert detection.pieces == text.split()
        np.testing.assert_allclose(detection.probabilities, 1 / (1 + np.exp(-logits[1:-1])), atol=1e-5)
    # Shown as piece(p) for every piece; red from the threshold on, plain when not coloured.
    plain = found[1].format()
    assert plain.split() == [f"{w}({p:.2f})".replace("(0.", "(.") for w, p in zip(["the", "cat"],
                                                                                    found[1].probabilities)]
    assert "\033[" not in plain and "\033[1;31m" in found[1].format(color=True, threshold=0.0)
    cut = detect(model, "the cat sat on the river", tokenizer=tokenizer, max_length=4)[0]
    assert cut.truncated and cut.pieces == ["the", "cat"]


def test_detect_needs_a_tokenizer_with_a_model_object(model):
    with pytest.raises(ValueError, match="tokenizer"):
        detect(model, ["the cat"])


def test_swapped_sentences_swap_one_inner_word_for_another_sentences():
    words = "the cat sat on the warm red river bank today .".split()
    other = "a big dog ran over the old stone house quickly !".split()
    tokenizer = Tokens(sorted(set(words + other)))
    ids = np.array([[CLS, *map(tokenizer.tokens.index, words), SEP, *map(tokenizer.tokens.index, other), SEP],
                    [CLS, *map(tokenizer.tokens.index, other), SEP, *map(tokenizer.tokens.index, words), SEP]])
    swaps = swapped_sentences(ids, tokenizer, count=2, seed=0)
    assert len(swaps) == 2
    for text, original, new in swaps:
        got = text.replace(".", " .").replace("!", " !").split()
        source = words if got[-1] == "." else other
        changed = [i for i, (a, b) in enumerate(zip(got, source)) if a != b]
        assert len(changed) == 1 and 0 < changed[0] < len(source) - 1
        assert source[changed[0]] == original and got[changed[0]] == new and new != original
