"""Analytic FLOP counts of a pretraining step, for equal-compute comparisons and utilization.

Counted: every matrix multiplication (2 FLOPs per multiply-add). Not counted: embedding
lookups, softmax, LayerNorm, GELU, biases and the optimizer, which are a few percent at most.
A training step costs 3x the forward pass (the backward pass is two matmuls per forward one),
as in Kaplan et al. (2020) and the ELECTRA paper's compute estimates. ELECTRA's generator
trains on its own MLM loss, so it pays the full 3x too; only the Gumbel sample is free.
"""


def encoder_macs_per_token(hidden_dim, intermediate_dim, num_layers, seq_len, embedding_dim=None):
    """Multiply-adds per token of one forward pass through an encoder.

    Per layer: Q, K, V and output projections 4 h^2; feed-forward 2 h f; attention scores and
    the weighted sum of values 2 T h. Plus the E -> H projection when E != H.
    """
    per_layer = 4 * hidden_dim**2 + 2 * hidden_dim * intermediate_dim + 2 * seq_len * hidden_dim
    project = embedding_dim * hidden_dim if embedding_dim and embedding_dim != hidden_dim else 0
    return num_layers * per_layer + project


def pretraining_flops_per_step(config, batch_size, seq_len=None):
    """Training FLOPs of one `ElectraPretrainer` step (forward + backward = 3 x forward).

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
    seq_len = seq_len or config.sequence_length
    masked = config.max_predictions(seq_len)
    vocab, embed = config.vocabulary_size, config.embedding_dim

    def mlm_head(hidden):  # dense h -> E, then logits against the tied word embeddings
        return masked * (hidden * embed + embed * vocab)

    gen = config.generator_sizes()
    macs = seq_len * encoder_macs_per_token(gen["hidden_dim"], gen["intermediate_dim"], gen["num_layers"],
                                            seq_len, embed) + mlm_head(gen["hidden_dim"])
    if config.objective == "electra" and config.weight_sharing != "all":  # embeddings, gdes, none
        disc = config.discriminator_sizes()
        h = disc["hidden_dim"]
        macs += seq_len * (encoder_macs_per_token(h, disc["intermediate_dim"], disc["num_layers"], seq_len, embed)
                           + h * h + h)  # RTD head: dense h -> h, then h -> 1
    elif config.objective == "electra":  # one encoder serves both networks: run twice
        h = config.hidden_dim
        macs += seq_len * (encoder_macs_per_token(h, config.intermediate_dim, config.num_layers, seq_len, embed)
                           + h * h + h)
    return 3 * 2 * macs * batch_size


def pretraining_matmuls(config, batch_size, seq_len=None):
    """The matrix products of one forward pass of an `ElectraPretrainer` step.

    Each entry is (repeats, batch, m, k, n): `repeats` products of a batch of (m, k) by (k, n)
    matrices. Training runs each once forward and twice backward (dX = dY W^T, dW = X^T dY), so
    6 x the sum of repeats * batch * m * k * n is `pretraining_flops_per_step`. The step
    benchmark times these alone: the step's MFU can not exceed theirs.

    Example:
    >>> from electra_keras.config import ElectraConfig
    >>> products = pretraining_matmuls(ElectraConfig.from_preset("small"), batch_size=32)
    >>> products[:2]  # the generator: E -> H projection, then query, key and value of 12 layers
    [(1, 1, 4096, 128, 64), (12, 1, 4096, 64, 192)]
    """
    seq_len = seq_len or config.sequence_length
    tokens, masked = batch_size * seq_len, batch_size * config.max_predictions(seq_len)
    vocab, embed = config.vocabulary_size, config.embedding_dim

    def encoder(sizes):
        h, f, heads, layers = sizes["hidden_dim"], sizes["intermediate_dim"], sizes["num_heads"], sizes["num_layers"]
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
    products = encoder(gen) + [(1, 1, masked, gen["hidden_dim"], embed), (1, 1, masked, embed, vocab)]
    if config.objective == "electra":
        # The discriminator; under weight_sharing "all", the generator's encoder run once more.
        h = config.hidden_dim
        products += encoder(config.discriminator_sizes()) + [(1, 1, tokens, h, h), (1, 1, tokens, h, 1)]
    return products
