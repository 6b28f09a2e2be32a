"""The discriminator probe: replaced-token detection on held-out text, at a fixed difficulty.

The AUC that training reports is measured against the generator's own samples, so it falls as
the generator improves even while the discriminator learns. The probe measures the
discriminator on text it never trained on, corrupted two ways at the same positions:

- `eval_auc_generator`: the generator's samples at the training temperature, as in training
  (gets harder as the generator learns);
- `eval_auc_random`: uniformly random vocabulary ids (the same difficulty at every step);
- `eval_auc_frequency`: ids drawn by their frequency in the training data (when the probe is
  given the counts). Uniformly random pieces are mostly rare ones, so much of `eval_auc_random`
  can be earned by rarity alone; replacements as frequent as the words they replace can only
  be told apart by context.

The positions, the [MASK]/keep choice, the random ids and the uniforms of the generator's sample
are drawn once, in NumPy, from the probe's own seed: the probe reads the model's weights and
nothing else, so it never moves the training run's random state, and two calls on the same
weights give the same numbers. The AUC is taken over the tokens the objective could have
replaced (real tokens other than [CLS], [SEP] and [MASK]), so the always-original special
tokens do not inflate it.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ProbeSet:
    """Held-out examples with their corruptions fixed. Every array is (examples, seq) unless noted."""

    token_ids: np.ndarray  # the original ids
    segment_ids: np.ndarray
    padding_mask: np.ndarray
    scored: np.ndarray  # bool: tokens the AUC is taken over
    mask_positions: np.ndarray  # (examples, predictions) int32, 0 in unused slots
    mask_weights: np.ndarray  # (examples, predictions) bool
    generator_input: np.ndarray  # [MASK] at 85% of the chosen positions, the original at the rest
    random_ids: np.ndarray  # the originals with a random id at every chosen position
    sample_uniforms: np.ndarray  # (examples, predictions) U[0, 1): the generator's sample, by inverse CDF
    frequency_ids: np.ndarray = None  # the originals with an id drawn by frequency at every chosen position

    @property
    def random_labels(self):
        return (self.random_ids != self.token_ids).astype("int32")

    @property
    def frequency_labels(self):
        return (self.frequency_ids != self.token_ids).astype("int32")


def make_probe_set(batch, config, replacement_ids=None, seed=0, token_counts=None):
    """Fix the corruptions of held-out `batch` ({token_ids, segment_ids, padding_mask} arrays).

    Positions follow the objective's rule (`objectives.mask_tokens`): per example
    max(1, min(N, round(real_tokens * mask_prob))) distinct positions among the real tokens
    other than [CLS], [SEP] and [MASK]; `mask_token_rate` of them show [MASK] to the generator.

    Args:
        batch: dict of (examples, seq) int arrays.
        config: the `ElectraConfig` of the model to probe (special ids, mask rate).
        replacement_ids: the ids a random replacement is drawn from (default: every id but the
            config's special ones); ids equal to the original are redrawn.
        seed: the probe's own seed.
        token_counts: (vocab,) occurrences of each id in the training data; given, the set also
            holds `frequency_ids`, drawn among `replacement_ids` in proportion to their counts.
    """
    rng = np.random.default_rng(seed)
    token_ids = np.asarray(batch["token_ids"], "int32")
    padding_mask = np.asarray(batch["padding_mask"], "int32")
    examples, seq_len = token_ids.shape
    special = (config.pad_token_id, config.cls_token_id, config.sep_token_id, config.mask_token_id)
    scored = (padding_mask > 0) & ~np.isin(token_ids, special)

    max_predictions = min(config.max_predictions(seq_len), seq_len)
    real = padding_mask.sum(axis=1).astype("float32")
    counts = np.clip(np.round(real * np.float32(config.mask_prob)), 1, max_predictions).astype("int32")
    scores = np.where(scored, rng.random((examples, seq_len)), -1.0)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :max_predictions]
    values = np.take_along_axis(scores, order, axis=1)
    mask_weights = (np.arange(max_predictions)[None, :] < counts[:, None]) & (values >= 0)
    mask_positions = np.where(mask_weights, order, 0).astype("int32")

    rows = np.repeat(np.arange(examples)[:, None], max_predictions, axis=1)[mask_weights]
    cols = mask_positions[mask_weights]
    generator_input = token_ids.copy()
    shown_as_mask = rng.random(len(rows)) < config.mask_token_rate
    generator_input[rows[shown_as_mask], cols[shown_as_mask]] = config.mask_token_id

    if replacement_ids is None:
        replacement_ids = np.setdiff1d(np.arange(config.vocabulary_size), special)
    replacement_ids = np.asarray(replacement_ids, "int32")
    originals = token_ids[rows, cols]
    random_ids = _replaced(token_ids, rows, cols, _draw_unlike(rng, originals, replacement_ids))
    sample_uniforms = rng.random((examples, max_predictions))
    frequency_ids = None
    if token_counts is not None:  # drawn last: the other draws stay what they were without it
        weights = np.asarray(token_counts, "float64")[replacement_ids]
        if not weights.sum() > 0:
            raise ValueError("token_counts: none of the replacement ids occurs in the training data")
        frequency_ids = _replaced(token_ids, rows, cols,
                                  _draw_unlike(rng, originals, replacement_ids, weights / weights.sum()))
    return ProbeSet(
        token_ids=token_ids,
        segment_ids=np.asarray(batch["segment_ids"], "int32"),
        padding_mask=padding_mask,
        scored=scored,
        mask_positions=mask_positions,
        mask_weights=mask_weights,
        generator_input=generator_input,
        random_ids=random_ids,
        sample_uniforms=sample_uniforms,
        frequency_ids=frequency_ids,
    )


def _draw_unlike(rng, originals, ids, p=None):
    """One of `ids` (with probabilities `p`) per original, redrawn where it equals the original."""
    def draw(n):
        return rng.choice(ids, n, p=p) if p is not None else ids[rng.integers(0, len(ids), n)]

    drawn = draw(len(originals))
    for _ in range(100):  # redraw the few that hit the original
        same = drawn == originals
        if not same.any():
            break
        drawn[same] = draw(int(same.sum()))
    return drawn


def _replaced(token_ids, rows, cols, drawn):
    corrupted = token_ids.copy()
    corrupted[rows, cols] = drawn
    return corrupted


def detection_auc(probabilities, labels, where=None):
    """ROC AUC of `probabilities` for binary `labels`: the Mann-Whitney statistic, ties counted half.

    Returns NaN when `where` leaves only one class.

    Example:
    >>> detection_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    p = np.asarray(probabilities, "float64").ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if where is not None:
        keep = np.asarray(where).ravel().astype(bool)
        p, y = p[keep], y[keep]
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    # Average ranks (1-based) over runs of equal values.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_p)) + 1]
    ends = np.r_[starts[1:], len(p)]
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, "float64")))


def sample_by_inverse_cdf(logits, uniforms):
    """Draw ids from softmax(logits) with fixed uniforms: the first id whose CDF exceeds u.

    (..., vocab) logits and (...) uniforms -> (...) int32 ids.
    """
    logits = np.asarray(logits, "float32")
    cdf = np.cumsum(np.exp(logits - logits.max(axis=-1, keepdims=True)), axis=-1)
    ids = (cdf < np.asarray(uniforms)[..., None] * cdf[..., -1:]).sum(axis=-1)
    return np.minimum(ids, logits.shape[-1] - 1).astype("int32")


class DiscriminatorProbe:
    """Scores a pretrainer's discriminator on a `ProbeSet`; call it with the model.

    Returns {"eval_auc_generator", "eval_auc_random"}: the discriminator's AUC on the held-out
    tokens it could see replaced, with the generator's samples and with random ids at the
    chosen positions; and "eval_auc_frequency", with ids drawn by frequency, when the set has
    them. Everything runs in inference mode (no dropout).

    Args:
        probe_set: a `ProbeSet` (`make_probe_set`).
        batch_size: examples per forward pass.
    """

    def __init__(self, probe_set, batch_size=64):
        self.probe_set = probe_set
        self.batch_size = batch_size

    def _inputs(self, token_ids):
        s = self.probe_set
        return {"token_ids": token_ids, "segment_ids": s.segment_ids, "padding_mask": s.padding_mask}

    def _predict(self, model, inputs):
        """`model.predict` in batches, quietly, as float32 NumPy."""
        return np.asarray(model.predict(inputs, batch_size=self.batch_size, verbose=0), "float32")

    def discriminator_probabilities(self, pretrainer, token_ids):
        """(examples, seq) P(replaced) from the pretrainer's discriminator for `token_ids`."""
        return _sigmoid(self._predict(pretrainer.discriminator, self._inputs(token_ids)))

    def generator_samples(self, pretrainer):
        """The generator's sample at the chosen positions, written into the originals.

        Returns (corrupted ids, replaced labels), each (examples, seq): a sample equal to the
        original counts as original, as in training.
        """
        import keras

        s = self.probe_set
        if getattr(self, "_generator", None) is None or self._generator[0] is not pretrainer:
            # The generator and its MLM head as one functional model over the pretrainer's layers.
            inputs = {n: keras.Input((None,), dtype="int32", name=n) for n in self._inputs(s.token_ids)}
            positions = keras.Input((None,), dtype="int32", name="mask_positions")
            logits = pretrainer.mlm_head(pretrainer.generator_backbone(inputs), positions)
            self._generator = (pretrainer, keras.Model({**inputs, "mask_positions": positions}, logits))
        logits = self._predict(self._generator[1], {**self._inputs(s.generator_input),
                                                   "mask_positions": s.mask_positions})
        # At the training temperature: the samples the discriminator is trained against.
        sampled = sample_by_inverse_cdf(logits / pretrainer.config.temperature, s.sample_uniforms)
        corrupted = s.token_ids.copy()
        rows = np.nonzero(s.mask_weights)[0]
        corrupted[rows, s.mask_positions[s.mask_weights]] = sampled[s.mask_weights]
        return corrupted, (corrupted != s.token_ids).astype("int32")

    def __call__(self, model):
        s = self.probe_set
        corrupted, labels = self.generator_samples(model)
        scores = {
            "eval_auc_generator": detection_auc(self.discriminator_probabilities(model, corrupted), labels, s.scored),
            "eval_auc_random": detection_auc(
                self.discriminator_probabilities(model, s.random_ids), s.random_labels, s.scored
            ),
        }
        if s.frequency_ids is not None:
            scores["eval_auc_frequency"] = detection_auc(
                self.discriminator_probabilities(model, s.frequency_ids), s.frequency_labels, s.scored)
        return scores


__all__ = ["ProbeSet", "make_probe_set", "detection_auc", "sample_by_inverse_cdf", "DiscriminatorProbe"]
