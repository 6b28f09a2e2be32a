"""Analytic FLOP counts of a pretraining step, for equal-compute comparisons and utilization.

Counted: every matrix multiplication (2 FLOPs per multiply-add). Not counted: embedding
lookups, softmax, LayerNorm, GELU, biases and the optimizer, which are a few percent at most.
A training step costs 3x the forward pass (the backward pass is two matmuls per forward one),
as in Kaplan et al. (2020) and the ELECTRA paper's compute estimates. ELECTRA's generator
trains on its own MLM loss, so it pays the full 3x too; only the Gumbel sample is free.
"""


def pretraining_flops_per_step(config, batch_size, seq_len=None):
    """Training FLOPs of one `ElectraPretrainer` step: 6 x the multiply-adds of
    `pretraining_matmuls` (forward + backward = 3 x forward, 2 FLOPs a multiply-add).

    ELECTRA: generator encoder + MLM head at the masked positions + discriminator encoder +
    RTD head at every token. MLM baseline: one encoder + MLM head at the masked positions.
    weight_sharing "gdes" costs what "embeddings" does: its deltas are added to the shared
    embeddings element-wise, no matrix product (their parameters are counted by the model).

    Example:
    >>> from electra_keras.config import ElectraConfig
    >>> small = ElectraConfig.from_preset("small")
    >>> round(pretraining_flops_per_step(small, 128) * 1_000_000 / 1e18, 2)  # 1M steps at batch 128
    1.15

    The paper states 1.4e18 for ELECTRA-Small; counting generator logits at all 128 positions
    instead of the 19 masked ones gives that figure (1.48e18), so the paper seems to have.
    """
    return 6 * sum(r * b * m * k * n for r, b, m, k, n in pretraining_matmuls(config, batch_size, seq_len))


def pretraining_matmuls(config, batch_size, seq_len=None):
    """The matrix products of one forward pass of an `ElectraPretrainer` step.

    Each entry is (repeats, batch, m, k, n): `repeats` products of a batch of (m, k) by (k, n)
    matrices. Training runs each once forward and twice backward (dX = dY W^T, dW = X^T dY), so
    6 x the sum of repeats * batch * m * k * n is `pretraining_flops_per_step`. The step
    benchmark times these alone: the step's MFU can not exceed theirs. Per layer: query, key
    and value, attention scores and the weighted sum of values, output, feed-forward; the
    E -> H projection when an encoder's embeddings are narrower than it.

    Example:
    >>> from electra_keras.config import ElectraConfig
    >>> products = pretraining_matmuls(ElectraConfig.from_preset("small"), batch_size=32)
    >>> products[:2]  # the generator: E -> H projection, then query, key and value of 12 layers
    [(1, 1, 4096, 128, 64), (12, 1, 4096, 64, 192)]
    """
    seq_len = seq_len or config.sequence_length
    tokens, masked = batch_size * seq_len, batch_size * config.max_predictions(seq_len)
    vocab = config.vocabulary_size

    def encoder(sizes):
        h, f, heads, layers = sizes["hidden_dim"], sizes["intermediate_dim"], sizes["num_heads"], sizes["num_layers"]
        embed = sizes["embedding_dim"]  # an untied generator's ("none") is its own width
        project = [(1, 1, tokens, embed, h)] if embed != h else []
        return project + [
            (layers, 1, tokens, h, 3 * h),  # query, key and value in one product
            (layers, batch_size * heads, seq_len, h // heads, seq_len),  # attention scores
            (layers, batch_size * heads, seq_len, seq_len, h // heads),  # the weighted sum of values
            (layers, 1, tokens, h, h),  # attention output
            (layers, 1, tokens, h, f),  # feed-forward
            (layers, 1, tokens, f, h),
        ]

    gen = config.generator_sizes()
    # The MLM head: dense H -> E, then logits against the (generator's) word embeddings.
    embed = gen["embedding_dim"]
    products = encoder(gen) + [(1, 1, masked, gen["hidden_dim"], embed), (1, 1, masked, embed, vocab)]
    if config.objective == "electra":
        # The discriminator; under weight_sharing "all", the generator's encoder run once more.
        h = config.hidden_dim
        products += encoder(config.discriminator_sizes()) + [(1, 1, tokens, h, h), (1, 1, tokens, h, 1)]
    return products
