"""A synthetic corpus with learnable context, for demos and smoke runs without text."""

import numpy as np


def markov_corpus(
    num_examples,
    sequence_length,
    vocabulary_size,
    first_word_id=1000,
    num_words=2000,
    successors=4,
    cls_token_id=101,
    sep_token_id=102,
    seed=0,
):
    """Packed examples drawn from a random sparse Markov chain over `num_words` word ids.

    Each word has `successors` possible next words, so a masked word is predictable from its
    neighbours (a generator can learn) and a sampled replacement often breaks the chain (a
    discriminator can learn). Layout as the pretraining data: [CLS] A [SEP] B [SEP], segment
    ids 0 then 1, padding after a random length in [sequence_length // 2, sequence_length].

    Returns:
        dict of int32 arrays `token_ids`, `segment_ids`, `padding_mask`, each
        (num_examples, sequence_length).
    """
    if first_word_id + num_words > vocabulary_size:
        raise ValueError(
            f"Word ids [{first_word_id}, {first_word_id + num_words}) do not fit "
            f"vocabulary_size={vocabulary_size}."
        )
    if sequence_length < 5:
        raise ValueError(f"Expected sequence_length >= 5. Received: {sequence_length}")
    rng = np.random.default_rng(seed)
    next_words = rng.integers(0, num_words, size=(num_words, successors))
    shape = (num_examples, sequence_length)
    token_ids = np.zeros(shape, "int32")
    segment_ids = np.zeros(shape, "int32")
    padding_mask = np.zeros(shape, "int32")
    for row in range(num_examples):
        length = int(rng.integers(sequence_length // 2, sequence_length + 1))
        words = np.empty(length, "int64")
        words[0] = rng.integers(num_words)
        choices = rng.integers(0, successors, size=length)
        for i in range(1, length):
            words[i] = next_words[words[i - 1], choices[i]]
        ids = words + first_word_id
        first_sep = 1 + (length - 3) // 2
        ids[0], ids[first_sep], ids[length - 1] = cls_token_id, sep_token_id, sep_token_id
        token_ids[row, :length] = ids
        segment_ids[row, first_sep + 1 : length] = 1
        padding_mask[row, :length] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
