"""Shared fixtures. Every test file here runs under KERAS_BACKEND=tensorflow, jax and torch."""

import os

import keras
import numpy as np
import pytest

import electra_keras as ek

# BERT layout ids used across tests.
PAD, CLS, SEP, MASK = 0, 101, 102, 103
VOCAB = 160  # >= 104 so the BERT special ids fit; the real words are 104..159


def tiny_config(**overrides):
    """A one-layer model that builds and trains in well under a second a step on CPU."""
    values = dict(
        vocabulary_size=VOCAB,
        embedding_dim=24,
        hidden_dim=32,
        num_layers=1,
        num_heads=2,
        intermediate_dim=64,
        max_sequence_length=64,
        sequence_length=32,
        generator_hidden_fraction=0.5,
    )
    values.update(overrides)
    return ek.ElectraConfig.from_dict(values)


def make_batch(batch_size=4, seq_len=32, seed=0, lengths=None):
    """[CLS] words [SEP] words [SEP] then padding; segment 1 for the second half."""
    rng = np.random.default_rng(seed)
    lengths = lengths or [seq_len - (2 * i) % (seq_len - 3) for i in range(batch_size)]
    token_ids = np.zeros((batch_size, seq_len), "int32")
    segment_ids = np.zeros((batch_size, seq_len), "int32")
    padding_mask = np.zeros((batch_size, seq_len), "int32")
    for b, length in enumerate(lengths):
        words = rng.integers(104, VOCAB, size=length)
        half = length // 2
        words[0], words[half], words[length - 1] = CLS, SEP, SEP
        token_ids[b, :length] = words
        segment_ids[b, half + 1 : length] = 1
        padding_mask[b, :length] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same global seed and the float32 policy."""
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


WORDS = ("the cat dog bird sees runs likes eats small big red green house tree river stone "
         "quickly slowly and or but a an old new").split()


def write_corpus(path, num_docs=30, seed=0, blank_lines=True):
    """A plain-text corpus: one sentence per line, a blank line between documents.

    Returns the documents as lists of sentences (strings), in file order.
    """
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(num_docs):
        sentences = []
        for _ in range(rng.integers(2, 7)):
            words = rng.choice(WORDS, size=rng.integers(3, 13))
            sentences.append(" ".join(words).capitalize() + ".")
        docs.append(sentences)
    text = ("\n\n" if blank_lines else "\n").join("\n".join(doc) for doc in docs) + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return docs


def small_vocab(directory, tokens=()):
    """A BERT-layout vocab (specials at 0 and 100-103) with the corpus words and `tokens`."""
    import electra_keras.data.tokenizer as tok

    pieces = list(tok.BERT_RESERVED) + [".", ","] + list(WORDS) + list(tokens)
    os.makedirs(directory, exist_ok=True)
    tok.write_vocab(list(dict.fromkeys(pieces)), os.path.join(directory, "vocab.txt"))
    return os.path.join(directory, "vocab.txt")


# The model of the tests that run `pretrain` end to end through a recipe: one layer, seconds a run.
RECIPE_MODEL = dict(preset="tiny", embedding_dim=16, hidden_dim=32, num_layers=1, num_heads=2,
                    intermediate_dim=64, max_sequence_length=64, generator_hidden_fraction=0.5)


def corpus_and_vocab(root):
    """root/corpus.txt (120 documents) and root/vocab (its WordPiece vocabulary and tokenizer files)."""
    from electra_keras.data.tokenizer import WordPieceTokenizer

    write_corpus(root / "corpus.txt", num_docs=120, seed=1)
    small_vocab(root / "vocab")
    WordPieceTokenizer(str(root / "vocab" / "vocab.txt")).save(root / "vocab")
    return root
