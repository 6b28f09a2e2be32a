"""The original's packing rules on hand-made sentences, with a scripted random source."""

import random

import numpy as np
import pytest

from electra_keras.data import packing
from electra_keras.data.packing import ExampleBuilder, pack_arrays, pack_lines

CLS, SEP = 101, 102


class ScriptedRandom:
    """Stands in for random.Random: returns the given draws in order, records randint calls."""

    def __init__(self, draws, randint_value=None):
        self.draws = list(draws)
        self.randint_value = randint_value
        self.randint_calls = []

    def random(self):
        return self.draws.pop(0)

    def randint(self, low, high):
        self.randint_calls.append((low, high))
        return self.randint_value


def feed(builder, sentences):
    out = [builder.add_sentence(s) for s in sentences]
    return [e for e in out if e is not None]


def test_two_segments_with_overflow_dropped():
    # Draws: 0.5 -> two segments (A target (16 - 3) // 2 = 6); 0.7 -> the second sentence does
    # not join A; 0.9 -> the next target stays 16.
    rng = ScriptedRandom([0.5, 0.7, 0.9])
    builder = ExampleBuilder(16, CLS, SEP, rng)
    examples = feed(builder, [[1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12, 13], [14, 15, 16]])
    assert len(examples) == 1 and not rng.draws
    token_ids, segment_ids = examples[0]
    assert token_ids == [CLS, 1, 2, 3, SEP] + list(range(4, 14)) + [SEP]
    assert segment_ids == [0] * 5 + [1] * 11
    assert builder.stats.dropped_tokens == 3  # 14, 15, 16 do not fit
    assert builder.stats.tokens == 16 and builder.stats.single_segment == 0


def test_one_segment_example_takes_everything_into_a():
    rng = ScriptedRandom([0.05, 0.9])  # < 0.1: one segment
    builder = ExampleBuilder(16, CLS, SEP, rng)
    (token_ids, segment_ids), = feed(builder, [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]])
    assert token_ids == [CLS] + list(range(1, 15)) + [SEP]
    assert segment_ids == [0] * 16
    assert builder.stats.single_segment == 1 and builder.stats.dropped_tokens == 2


def test_a_sentence_overshooting_a_joins_it_half_the_time():
    rng = ScriptedRandom([0.5, 0.3, 0.9])  # 0.3 < 0.5: [4..7] joins A although A goes past 6
    builder = ExampleBuilder(16, CLS, SEP, rng)
    (token_ids, segment_ids), = feed(builder, [[1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15, 16]])
    assert token_ids[:9] == [CLS, 1, 2, 3, 4, 5, 6, 7, SEP]
    assert token_ids[9:] == [8, 9, 10, 11, 12, 13, SEP]  # B trimmed to 16 - 7 - 3 = 6 tokens
    assert segment_ids == [0] * 9 + [1] * 7


def test_random_target_length_after_an_example():
    # 0.01 < 0.05: the next target is randint(5, 16) = 7, so 4 + 4 tokens close the next one.
    # (No 50% draw happens here: A already holds more than its target.)
    rng = ScriptedRandom([0.5, 0.01, 0.5, 0.9], randint_value=7)
    builder = ExampleBuilder(16, CLS, SEP, rng)
    first = feed(builder, [list(range(1, 9)), list(range(9, 17))])
    assert len(first) == 1 and rng.randint_calls == [(5, 16)]
    assert builder.add_sentence([20, 21, 22, 23]) is None  # 4 < 7
    token_ids, segment_ids = builder.add_sentence([24, 25, 26, 27])  # 8 >= 7
    # A target (7 - 3) // 2 = 2: [20..23] fills A (A was empty), [24..27] goes to B.
    assert token_ids == [CLS, 20, 21, 22, 23, SEP, 24, 25, 26, 27, SEP]
    assert segment_ids == [0] * 6 + [1] * 5


def test_document_end_closes_the_example_and_long_sentences_are_counted():
    rng = ScriptedRandom([0.5, 0.9, 0.5, 0.9])
    builder = ExampleBuilder(8, CLS, SEP, rng)
    assert builder.add_sentence([1, 2]) is None
    assert builder.end_document() == ([CLS, 1, 2, SEP], [0, 0, 0, 0])
    assert builder.end_document() is None  # nothing pending
    token_ids, _ = builder.add_sentence(list(range(1, 12)))  # 11 tokens > 8 - 2
    assert token_ids == [CLS, 1, 2, 3, 4, 5, 6, SEP]
    assert builder.stats.long_sentences == 1 and builder.stats.dropped_tokens == 5


def _lines_and_encoder(num_docs, rng):
    """Documents whose tokens carry their document number: word 'd7w3' -> id 7000 + 3."""
    lines = []
    for d in range(num_docs):
        for _ in range(rng.integers(1, 8)):
            lines.append(" ".join(f"d{d}w{w}" for w in rng.integers(1, 50, size=rng.integers(2, 30))))
        lines.append("")

    def encode_batch(texts):
        return [[1000 * int(w[1:].split("w")[0]) + 1000 + int(w.split("w")[1]) for w in t.split()] for t in texts]

    return lines, encode_batch


def test_pack_lines_layout_boundaries_and_determinism():
    lines, encode = _lines_and_encoder(300, np.random.default_rng(0))
    examples, stats = pack_lines(lines, encode, 64, CLS, SEP, seed="0/0", batch_lines=7)
    assert stats.examples == len(examples) > 300
    for token_ids, segment_ids in examples:
        assert len(token_ids) == len(segment_ids) <= 64
        assert token_ids[0] == CLS and token_ids[-1] == SEP
        seps = [i for i, t in enumerate(token_ids) if t == SEP]
        assert len(seps) in (1, 2)
        assert segment_ids == [0] * (seps[0] + 1) + [1] * (len(token_ids) - seps[0] - 1)
        words = [t for t in token_ids if t not in (CLS, SEP)]
        assert len({t // 1000 for t in words}) == 1  # one document per example
    again, _ = pack_lines(lines, encode, 64, CLS, SEP, seed="0/0", batch_lines=1000)
    assert again == examples  # same seed, any batching: same examples
    other, _ = pack_lines(lines, encode, 64, CLS, SEP, seed="1/0")
    assert other != examples


def test_rates_of_the_random_choices():
    # Long documents of 10-token sentences: every two-segment example has a non-empty B, so
    # one-segment examples are the 10% draw; random targets show as examples under 120 tokens.
    n_sentences = 60_000
    builder = ExampleBuilder(128, CLS, SEP, random.Random(0))
    examples = feed(builder, [[7] * 10] * n_sentences)
    n = len(examples)
    single = builder.stats.single_segment / n
    short = sum(len(t) < 120 for t, _ in examples) / n
    assert abs(single - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)
    assert abs(short - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n) + 0.01  # a random target >= 118 looks full


def padded(examples, seq_len, pad_id):
    """pack_lines's examples as (input_ids, input_mask, segment_ids) rows, written out by hand."""
    rows = [([*t, *[pad_id] * (seq_len - len(t))], [1] * len(t) + [0] * (seq_len - len(t)),
             [*s, *[0] * (seq_len - len(s))]) for t, s in examples]
    return [np.array([r[k] for r in rows], np.int32).reshape(len(rows), seq_len) for k in range(3)]


@pytest.mark.parametrize("tokens_per_block", [packing.TOKENS_PER_BLOCK, 7])  # 7: many blocks, runs longer than one
@pytest.mark.parametrize("seq_len", [8, 64])
def test_pack_arrays_gives_pack_lines_examples_padded(seq_len, tokens_per_block, monkeypatch):
    """build-data's array packing: the same examples as the list builder, in the same order, with
    the same stats, on documents with long sentences, lines that tokenize to nothing, random
    targets and one-segment examples."""
    monkeypatch.setattr(packing, "TOKENS_PER_BLOCK", tokens_per_block)
    lines, encode = _lines_and_encoder(300, np.random.default_rng(1))
    lines[0] = " ".join([lines[0]] * 40)  # a sentence longer than either sequence length
    lines[5] = "nothing"  # a non-empty line without tokens

    def encode_empty(texts):
        return [[] if t == "nothing" else encode([t])[0] for t in texts]

    examples, stats = pack_lines(lines, encode_empty, seq_len, CLS, SEP, seed="3/1")
    ids = encode_empty([line for line in lines if line])
    splits = np.concatenate([[0], np.cumsum([len(i) for i in ids])]).astype(np.int64)
    values = np.array([t for i in ids for t in i], np.int32)
    features, array_stats = pack_arrays(lines, values, splits, seq_len, CLS, SEP, 0, seed="3/1")
    assert array_stats == stats and stats.long_sentences > 0 and stats.single_segment > 0
    for got, want in zip(features, padded(examples, seq_len, 0)):
        np.testing.assert_array_equal(got, want)
    assert features[0].dtype == np.int32 and features[0].shape == (stats.examples, seq_len)


def test_pack_arrays_on_no_text():
    features, stats = pack_arrays(["", ""], np.zeros(0, np.int32), np.zeros(1, np.int64), 16, CLS, SEP, 0, seed=0)
    assert stats.examples == 0 and all(f.shape == (0, 16) for f in features)
