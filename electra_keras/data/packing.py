"""The original's example packing (google-research/electra, build_pretraining_dataset.py).

Sentences (token id lists) are appended until they reach the target length; a document end
also closes an example, so examples never span documents. Each example is laid out as
``[CLS] A [SEP] B [SEP]`` (segment 0 for [CLS], A and the first [SEP]; 1 for B and the last
[SEP]). With probability 0.1 all sentences go to A (one segment, as in classification tasks);
otherwise A aims at (target - 3) // 2 tokens and a sentence that overshoots it goes to A half of
the time while B is empty. Tokens past the sequence length are dropped. After each example,
with probability 0.05 the next target is a random length in [5, max_length].

`ExamplePlanner` makes these decisions from sentence lengths alone; `ExampleBuilder` and
`pack_lines` lay its plans out as lists of ids, `pack_arrays` (build-data's) as padded NumPy
rows, and the two give the same examples for the same seed.
"""

import dataclasses
import random


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

    planner = ExamplePlanner(max_length, random.Random(seed))
    lengths, starts = np.diff(row_splits).tolist(), row_splits[:-1].tolist()
    plans, sentence = [], iter(range(len(lengths)))
    for line in [*lines, ""]:
        if line:
            i = next(sentence)
            plan = planner.add(lengths[i], i)
        else:
            plan = planner.end_document()
        if plan is not None:
            plans.append(plan)

    # Runs of tokens copied from `values`: (example, column, start in values, length).
    rows, columns, sources, sizes = [], [], [], []
    for row, plan in enumerate(plans):
        for side, budget, column in ((True, plan.first_kept, 1), (False, plan.second_kept, plan.first_kept + 2)):
            for i, a in zip(plan.items, plan.in_first):
                if a != side or not budget:
                    continue
                size = min(lengths[i], budget)
                rows.append(row), columns.append(column), sources.append(starts[i]), sizes.append(size)
                column, budget = column + size, budget - size
    n = len(plans)
    first = np.array([p.first_kept for p in plans], np.int64)
    second = np.array([p.second_kept for p in plans], np.int64)
    length = first + 2 + np.where(second > 0, second + 1, 0)
    positions = np.arange(max_length)
    input_mask = (positions < length[:, None]).astype(np.int32)
    segment_ids = ((positions >= first[:, None] + 2) & (positions < length[:, None])).astype(np.int32)
    input_ids = np.full((n, max_length), pad_id, np.int32)
    input_ids[:, 0] = cls_id
    input_ids[np.arange(n), first + 1] = sep_id
    input_ids[np.flatnonzero(second), length[second > 0] - 1] = sep_id
    sizes = np.array(sizes, np.int64)
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    input_ids[np.repeat(np.array(rows, np.int64), sizes), np.repeat(np.array(columns, np.int64), sizes) + offsets] \
        = values[np.repeat(np.array(sources, np.int64), sizes) + offsets]
    return (input_ids, input_mask, segment_ids), planner.stats
