"""The replaced-token-detection objective as pure keras.ops functions.

Each function mirrors a step of google-research/electra's `pretrain/pretrain_helpers.py` and
`run_pretraining.py`; constants cite the original. Randomness comes in through `seed`: a
`keras.random.SeedGenerator` owned by the calling layer (the same seed gives the same run on
every backend), or a `Draws` that makes the random numbers. The pretrainer hands in
`distribute.ReplicaDraws`, so that under tf.distribute a row's numbers do not depend on how
the batch is split; the functions here know nothing of replicas.
"""

from typing import NamedTuple

from keras import ops
from keras import random


class MaskedInputs(NamedTuple):
    """What `mask_tokens` returns."""

    token_ids: object  # (batch, seq) ids with the chosen positions corrupted
    mask_positions: object  # (batch, num_predictions) int32; 0 in unused slots
    mask_ids: object  # (batch, num_predictions) int32 original ids; 0 in unused slots
    mask_weights: object  # (batch, num_predictions) float32; 1 for a used slot
    chosen: object  # (batch, seq) bool: position was chosen for prediction


class Draws:
    """Where the objective's random numbers come from: `keras.random` under `seed` (a
    `SeedGenerator`, an int or None)."""

    def __init__(self, seed=None):
        self.seed = seed

    def uniform(self, shape):
        """U[0, 1) float32 of `shape`."""
        return random.uniform(shape, seed=self.seed)

    def integers(self, shape, high):
        """Uniform int32 in [0, high) of `shape`."""
        return random.randint(shape, 0, high, seed=self.seed)


def as_draws(seed):
    return seed if isinstance(seed, Draws) else Draws(seed)


def candidate_mask(token_ids, padding_mask, special_token_ids):
    """Positions that may be masked: real tokens other than the special ones. (batch, seq) bool."""
    candidates = ops.cast(padding_mask, "bool")
    for token_id in special_token_ids:
        candidates = ops.logical_and(candidates, ops.not_equal(token_ids, token_id))
    return candidates


def num_to_mask(padding_mask, mask_prob, max_predictions):
    """max(1, min(N, round(num_real_tokens * mask_prob))) per example, as the original.

    `num_real_tokens` counts [CLS] and [SEP]. The product and the round-half-to-even run in
    float32, as `tf.round` does in the original, so counts agree at ties too.
    """
    num_real = ops.sum(ops.cast(padding_mask, "float32"), axis=-1)
    count = ops.round(num_real * ops.cast(mask_prob, "float32"))
    return ops.cast(ops.clip(count, 1, max_predictions), "int32")


def choose_positions(candidates, counts, max_predictions, seed=None):
    """Draws `counts[b]` distinct candidate positions per example.

    The original samples with replacement (duplicates possible); ranking uniform scores and
    taking the top `max_predictions` samples without replacement, the cleaner equivalent.

    Returns:
        positions: (batch, max_predictions) int32, 0 in unused slots.
        weights: (batch, max_predictions) bool, True for a used slot.
    """
    scores = as_draws(seed).uniform(ops.shape(candidates))  # (batch, seq) in [0, 1)
    scores = ops.where(candidates, scores, -1.0)
    values, positions = ops.top_k(scores, k=max_predictions)  # (batch, preds)
    slots = ops.arange(max_predictions, dtype="int32")[None, :]
    # A slot is used when it is within the example's count and points at a candidate
    # (an example with fewer candidates than its count uses what it has).
    weights = ops.logical_and(slots < counts[:, None], values >= 0.0)
    positions = ops.where(weights, ops.cast(positions, "int32"), 0)
    return positions, weights


def scatter_at(token_ids, positions, weights, updates):
    """Writes `updates[b, n]` at `token_ids[b, positions[b, n]]` for the used slots.

    Returns the new ids and the (batch, seq) bool mask of written positions.
    """
    seq_len = ops.shape(token_ids)[1]
    hits = ops.equal(positions[:, :, None], ops.arange(seq_len, dtype="int32")[None, None, :])
    hits = ops.logical_and(hits, weights[:, :, None])  # (batch, preds, seq)
    written = ops.any(hits, axis=1)  # (batch, seq)
    # Positions are distinct, so at most one slot hits a position; ids are >= 0.
    values = ops.max(ops.where(hits, ops.cast(updates, "int32")[:, :, None], 0), axis=1)
    return ops.where(written, values, token_ids), written


def mask_tokens(
    token_ids,
    padding_mask,
    *,
    max_predictions,
    mask_prob,
    special_token_ids,
    mask_token_id,
    vocabulary_size,
    mask_token_rate=0.85,
    random_token_rate=0.0,
    seed=None,
):
    """Dynamic masking as the original's `pretrain_helpers.mask`.

    Chooses positions, then shows [MASK] at `mask_token_rate` of them (0.85 in ELECTRA),
    a random token at `random_token_rate` (0 in ELECTRA; BERT's 80/10/10 is 0.8 / 0.1), and
    the original token at the rest.

    Example:
    >>> import keras, numpy as np
    >>> ids = np.array([[101, 7, 8, 9, 102, 0]], "int32")
    >>> out = mask_tokens(ids, ids > 0, max_predictions=2, mask_prob=0.5,
    ...     special_token_ids=(0, 101, 102, 103), mask_token_id=103, vocabulary_size=200,
    ...     mask_token_rate=1.0, seed=keras.random.SeedGenerator(0))
    >>> int(keras.ops.sum(keras.ops.cast(out.token_ids == 103, "int32")))
    2
    """
    token_ids = ops.cast(token_ids, "int32")
    candidates = candidate_mask(token_ids, padding_mask, special_token_ids)
    counts = num_to_mask(padding_mask, mask_prob, max_predictions)
    draws = as_draws(seed)
    positions, weights = choose_positions(candidates, counts, max_predictions, draws)
    mask_ids = ops.where(weights, ops.take_along_axis(token_ids, positions, axis=1), 0)

    draw = draws.uniform(ops.shape(positions))  # (batch, preds)
    updates = ops.where(draw < mask_token_rate, mask_token_id, mask_ids)
    if random_token_rate > 0:
        random_ids = draws.integers(ops.shape(positions), vocabulary_size)
        use_random = ops.logical_and(
            draw >= mask_token_rate, draw < mask_token_rate + random_token_rate
        )
        updates = ops.where(use_random, random_ids, updates)
    masked_ids, chosen = scatter_at(token_ids, positions, weights, updates)
    return MaskedInputs(
        token_ids=masked_ids,
        mask_positions=positions,
        mask_ids=mask_ids,
        mask_weights=ops.cast(weights, "float32"),
        chosen=chosen,
    )


def blockwise_gumbel_sample(logits, temperature=1.0, seed=None, block_size=128):
    """Gumbel-max sample of token ids from softmax(logits / T), as the original's
    `sample_from_softmax`, with V / block_size + block_size uniforms a row instead of V.

    Gumbel-max in two stages, exact in distribution: first a block of `block_size` ids with
    probability its share of the softmax (Gumbel-max over the blocks' log-sum-exp), then an id
    within that block in proportion to its probability (Gumbel-max over the block's logits);
    P(block) * P(id | block) = P(id). With a vocabulary of 30522 that is 367 uniforms and
    logarithms a row where the one-stage draw takes 30522, which dominates the sample's cost.
    (batch, preds, vocab) logits -> (batch, preds) int32 ids, no gradient.

    Example:
    >>> import keras, numpy as np
    >>> logits = np.log(np.array([[[0.0, 0.0, 1.0, 0.0, 0.0]]], "float32") + 1e-30)
    >>> ids = blockwise_gumbel_sample(logits, seed=keras.random.SeedGenerator(0), block_size=2)
    >>> keras.ops.convert_to_numpy(ids).tolist()
    [[2]]
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32")) / temperature
    preds, vocab = logits.shape[1], logits.shape[2]
    num_blocks = -(-vocab // block_size)
    pad = num_blocks * block_size - vocab
    if pad:  # -inf logits: probability 0; the last block still holds real ids (pad < block_size)
        logits = ops.pad(logits, [[0, 0], [0, 0], [0, pad]], constant_values=float("-inf"))
    blocks = ops.reshape(logits, (-1, preds, num_blocks, block_size))
    block_max = ops.max(blocks, axis=-1)  # (batch, preds, blocks)
    block_lse = block_max + ops.log(ops.sum(ops.exp(blocks - block_max[..., None]), axis=-1))
    draws = as_draws(seed)
    block = ops.argmax(block_lse + _gumbel(ops.shape(block_lse), draws), axis=-1)  # (batch, preds)
    block = ops.cast(block, "int32")
    in_block = ops.take_along_axis(blocks, block[:, :, None, None], axis=2)[:, :, 0, :]
    offset = ops.argmax(in_block + _gumbel(ops.shape(in_block), draws), axis=-1)  # (batch, preds)
    return block * block_size + ops.cast(offset, "int32")


def _gumbel(shape, draws):
    """-log(-log(u + 1e-9) + 1e-9), u ~ U[0, 1): the original's Gumbel noise."""
    return -ops.log(-ops.log(draws.uniform(shape) + 1e-9) + 1e-9)


def replace_with_samples(masked_token_ids, original_token_ids, positions, weights, sampled_ids):
    """Discriminator input and labels.

    The sample goes into every chosen position (the kept-original ones too);
    replaced = chosen AND sample != original: a correct guess by the generator is "original".

    Returns:
        (corrupted ids (batch, seq) int32, replaced labels (batch, seq) int32).
    """
    corrupted, chosen = scatter_at(
        masked_token_ids, positions, ops.cast(weights, "bool"), sampled_ids
    )
    replaced = ops.logical_and(chosen, ops.not_equal(corrupted, original_token_ids))
    return corrupted, ops.cast(replaced, "int32")


def mlm_nll(logits, target_ids):
    """Per-slot generator loss: -log softmax(logits)[target], float32 (batch, preds).

    One fused softmax cross-entropy over (slots, vocab) rows (TensorFlow's and PyTorch's own
    kernels): picking the target out of a log-softmax instead costs a scatter of the whole
    (batch, preds, vocab) tensor in the gradient.
    """
    logits = ops.cast(logits, "float32")
    vocab = logits.shape[-1]
    nll = ops.sparse_categorical_crossentropy(
        ops.reshape(ops.cast(target_ids, "int32"), (-1,)),
        ops.reshape(logits, (-1, vocab)),
        from_logits=True,
    )  # (batch * preds,)
    return ops.reshape(nll, ops.shape(target_ids))


def rtd_bce(logits, labels):
    """Per-token sigmoid cross-entropy, stable form max(x, 0) - x * z + log(1 + exp(-|x|))."""
    x = ops.cast(logits, "float32")
    z = ops.cast(labels, "float32")
    return ops.relu(x) - x * z + ops.log1p(ops.exp(-ops.abs(x)))


def weighted_mean(values, weights, total=None):
    """sum(w * values) / (sum(w) + 1e-6): how the original averages both losses.

    `total`, if given, maps the weight sum to the one to divide by (`distribute.global_sum`).
    """
    weights = ops.cast(weights, "float32")
    denominator = ops.sum(weights)
    if total is not None:
        denominator = total(denominator)
    return ops.sum(weights * values) / (denominator + 1e-6)

