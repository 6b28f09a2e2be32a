"""The original's example packing (google-research/electra, build_pretraining_dataset.py).

Sentences (token id lists) are appended until they reach the target length; a document end
also closes an example, so examples never span documents. Each example is laid out as
``[CLS] A [SEP] B [SEP]`` (segment 0 for [CLS], A and the first [SEP]; 1 for B and the last
[SEP]). With probability 0.1 all sentences go to A (one segment, as in classification tasks);
otherwise A aims at (target - 3) // 2 tokens and a sentence that overshoots it goes to A half of
the time while B is empty. Tokens past the sequence length are dropped. After each example,
with probability 0.05 the next target is a random length in [5, max_length].

`ExamplePlanner` makes these decisions from sentence lengths alone, and `ExampleBuilder` and
`pack_lines` lay its plans out as lists of ids. `plan_arrays` gathers a shard's plans into
arrays, and `pack_arrays` (build-data's) lays them out as padded NumPy rows without a Python loop
over tokens; the two paths give the same examples for the same seed.
"""

import dataclasses
import random

from electra_keras.data.text import block_slices

TOKENS_PER_BLOCK = 1 << 18  # tokens `pack_arrays` places at once


@dataclasses.dataclass
class PackStats:
    examples: int = 0
    tokens: int = 0  # real tokens written, [CLS]/[SEP] included
    dropped_tokens: int = 0  # tokens past the sequence length
    long_sentences: int = 0  # sentences longer than the sequence on their own
    single_segment: int = 0


@dataclasses.dataclass
class Plan:
    """One example's layout: its pending sentences (`items`, whatever was added with them), which
    of them go to segment A, and how many tokens of A and of B fit (B empty: one segment)."""

    items: list
    in_first: list
    first_kept: int
    second_kept: int


class ExamplePlanner:
    """The original's packing decisions on sentence lengths alone (the tokens are not needed).

    Args:
      max_length: the sequence length of every example.
      rng: a `random.Random`; the only source of randomness, so a seed fixes the output.
    """

    def __init__(self, max_length, rng):
        if max_length < 5:
            raise ValueError(f"max_length={max_length}: expected at least 5")
        self.max_length = max_length
        self.rng = rng
        self.stats = PackStats()
        self._items, self._lengths = [], []
        self._length = 0
        self._target = max_length

    def add(self, length, item):
        """Add a sentence of `length` tokens, carrying `item`; returns a finished `Plan` or None."""
        if not length:
            return None
        if length > self.max_length - 2:
            self.stats.long_sentences += 1
        self._items.append(item)
        self._lengths.append(length)
        self._length += length
        return self._plan() if self._length >= self._target else None

    def end_document(self):
        """A document boundary: returns the plan of the pending sentences, or None."""
        return self._plan() if self._length else None

    def _plan(self):
        rng = self.rng
        first_target = 100_000 if rng.random() < 0.1 else (self._target - 3) // 2
        in_first, first, second = [], 0, 0  # tokens in A and in B so far
        for length in self._lengths:
            goes_first = (not first or first + length < first_target
                          or (not second and first < first_target and rng.random() < 0.5))
            in_first.append(goes_first)
            if goes_first:
                first += length
            else:
                second += length
        first_kept = min(first, self.max_length - 2)
        second_kept = min(second, max(0, self.max_length - first_kept - 3))
        plan = Plan(self._items, in_first, first_kept, second_kept)

        self._items, self._lengths, self._length = [], [], 0
        self._target = rng.randint(5, self.max_length) if rng.random() < 0.05 else self.max_length
        self.stats.examples += 1
        self.stats.tokens += first_kept + 2 + (second_kept + 1 if second_kept else 0)
        self.stats.single_segment += not second_kept
        self.stats.dropped_tokens += first + second - first_kept - second_kept
        return plan


class ExampleBuilder:
    """Packs a stream of tokenized sentences into pretraining examples (`ExamplePlanner`'s
    decisions, laid out as lists of ids).

    Args:
      max_length: the sequence length of every example.
      cls_id, sep_id: the ids of [CLS] and [SEP].
      rng: a `random.Random`; the only source of randomness, so a seed fixes the output.
    """

    def __init__(self, max_length, cls_id, sep_id, rng):
        self.planner = ExamplePlanner(max_length, rng)
        self.cls_id, self.sep_id = cls_id, sep_id

    @property
    def stats(self):
        return self.planner.stats

    def add_sentence(self, ids):
        """Add one sentence; returns a finished example or None."""
        return self._example(self.planner.add(len(ids), ids))

    def end_document(self):
        """A document boundary: returns the example of the pending sentences, or None."""
        return self._example(self.planner.end_document())

    def _example(self, plan):
        """(token_ids, segment_ids) of a plan: [CLS] A [SEP] (B [SEP])."""
        if plan is None:
            return None
        first = [t for ids, a in zip(plan.items, plan.in_first) if a for t in ids][:plan.first_kept]
        second = [t for ids, a in zip(plan.items, plan.in_first) if not a for t in ids][:plan.second_kept]
        token_ids = [self.cls_id, *first, self.sep_id]
        segment_ids = [0] * len(token_ids)
        if second:
            token_ids += [*second, self.sep_id]
            segment_ids += [1] * (len(second) + 1)
        return token_ids, segment_ids


def pack_lines(lines, encode_batch, max_length, cls_id, sep_id, seed, batch_lines=2048):
    """Pack the original's line stream (sentences, ``""`` at document ends) into examples.

    Args:
      lines: an iterable of sentences with ``""`` after each document.
      encode_batch: a function from a list of strings to a list of token id lists.
      seed: anything `random.Random` accepts (a string such as "0/17" is stable across runs).

    Returns (examples, stats): examples as (token_ids, segment_ids) lists without padding.
    """
    builder = ExampleBuilder(max_length, cls_id, sep_id, random.Random(seed))
    examples, pending = [], []

    def flush():
        texts = [line for line in pending if line]
        ids = iter(encode_batch(texts)) if texts else iter(())
        for line in pending:
            example = builder.add_sentence(next(ids)) if line else builder.end_document()
            if example is not None:
                examples.append(example)
        pending.clear()

    for line in lines:
        pending.append(line)
        if len(pending) >= batch_lines:
            flush()
    pending.append("")
    flush()
    return examples, builder.stats


def plan_arrays(lines, lengths, max_length, seed):
    """`ExamplePlanner`'s plans for a line stream, as arrays.

    Args:
      lines: a list of sentences with ``""`` after each document.
      lengths: the token count of each non-empty line, in order.
      seed: as `pack_lines`'s.

    Returns (row, in_first, first_kept, second_kept, stats): per non-empty line, its example
    (-1 for a line of no tokens) and whether it goes to segment A; per example, the tokens of A
    and of B that fit.
    """
    import numpy as np

    planner = ExamplePlanner(max_length, random.Random(seed))
    row, in_first = [-1] * len(lengths), [False] * len(lengths)
    firsts, seconds = [], []
    sentence = iter(range(len(lengths)))
    for line in [*lines, ""]:
        if line:
            i = next(sentence)
            plan = planner.add(lengths[i], i)
        else:
            plan = planner.end_document()
        if plan is not None:
            for i, a in zip(plan.items, plan.in_first):
                row[i], in_first[i] = len(firsts), a
            firsts.append(plan.first_kept), seconds.append(plan.second_kept)
    return (np.array(row, np.int64), np.array(in_first, bool), np.array(firsts, np.int64),
            np.array(seconds, np.int64), planner.stats)


def pack_arrays(lines, values, row_splits, max_length, cls_id, sep_id, pad_id, seed):
    """`pack_lines`'s examples, padded, from the lines' ids as NumPy arrays.

    Args:
      lines: a list of sentences with ``""`` after each document.
      values, row_splits: the ids of the non-empty lines, in order, as
        `WordPieceTokenizer.encode_arrays` gives them.
      seed: as `pack_lines`'s; the same seed gives the same examples in the same order.

    Returns ((input_ids, input_mask, segment_ids), stats): int32 arrays (examples, max_length),
    padded with `pad_id`, 0 and 0.
    """
    import numpy as np

    lengths = np.diff(row_splits)
    row, in_first, first, second, stats = plan_arrays(lines, lengths.tolist(), max_length, seed)
    # Each sentence's run of tokens: its place among its example's segment (A before B, each in
    # sentence order) gives its column; what passes the segment's budget is cut.
    placed = np.flatnonzero(row >= 0)
    group = 2 * row[placed] + ~in_first[placed]
    sort = np.argsort(group, kind="stable")
    order, group = placed[sort], group[sort]
    size = lengths[order]
    before = np.cumsum(size) - size
    new_group = np.ones(len(group), bool)
    new_group[1:] = group[1:] != group[:-1]
    offset = before - before[new_group][np.cumsum(new_group) - 1]
    a = in_first[order]
    budget = np.where(a, first[row[order]], second[row[order]])
    size = np.clip(budget - offset, 0, size)
    column = np.where(a, 1, first[row[order]] + 2) + offset
    rows, sources = row[order], row_splits[:-1][order]

    n = len(first)
    length = first + 2 + np.where(second > 0, second + 1, 0)
    positions = np.arange(max_length)
    input_mask = (positions < length[:, None]).astype(np.int32)
    segment_ids = ((positions >= first[:, None] + 2) & (positions < length[:, None])).astype(np.int32)
    input_ids = np.full((n, max_length), pad_id, np.int32)
    input_ids[:, 0] = cls_id
    input_ids[np.arange(n), first + 1] = sep_id
    input_ids[np.flatnonzero(second), length[second > 0] - 1] = sep_id
    # Token by token, runs of about TOKENS_PER_BLOCK tokens at a time (a longer run goes alone), so
    # the index arrays take a few MB whatever the shard size.
    for runs in block_slices(size, TOKENS_PER_BLOCK):
        run_size = size[runs]
        offsets = np.arange(int(run_size.sum())) - np.repeat(np.cumsum(run_size) - run_size, run_size)
        input_ids[np.repeat(rows[runs], run_size), np.repeat(column[runs], run_size) + offsets] = \
            values[np.repeat(sources[runs], run_size) + offsets]
    return (input_ids, input_mask, segment_ids), stats
