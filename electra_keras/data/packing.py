"""The original's example packing (google-research/electra, build_pretraining_dataset.py).

Sentences (token id lists) are appended until they reach the target length; a document end
also closes an example, so examples never span documents. Each example is laid out as
``[CLS] A [SEP] B [SEP]`` (segment 0 for [CLS], A and the first [SEP]; 1 for B and the last
[SEP]). With probability 0.1 all sentences go to A (one segment, as in classification tasks);
otherwise A aims at (target - 3) // 2 tokens and a sentence that overshoots it goes to A half of
the time while B is empty. Tokens past the sequence length are dropped. After each example,
with probability 0.05 the next target is a random length in [5, max_length].
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


class ExampleBuilder:
    """Packs a stream of tokenized sentences into pretraining examples.

    Args:
      max_length: the sequence length of every example.
      cls_id, sep_id: the ids of [CLS] and [SEP].
      rng: a `random.Random`; the only source of randomness, so a seed fixes the output.
    """

    def __init__(self, max_length, cls_id, sep_id, rng):
        if max_length < 5:
            raise ValueError(f"max_length={max_length}: expected at least 5")
        self.max_length = max_length
        self.cls_id, self.sep_id = cls_id, sep_id
        self.rng = rng
        self.stats = PackStats()
        self._sentences = []
        self._length = 0
        self._target = max_length

    def add_sentence(self, ids):
        """Add one sentence; returns a finished example or None."""
        if not ids:
            return None
        if len(ids) > self.max_length - 2:
            self.stats.long_sentences += 1
        self._sentences.append(list(ids))
        self._length += len(ids)
        if self._length >= self._target:
            return self._create()
        return None

    def end_document(self):
        """A document boundary: returns the example of the pending sentences, or None."""
        return self._create() if self._length else None

    def _create(self):
        rng = self.rng
        if rng.random() < 0.1:
            first_target = 100_000
        else:
            first_target = (self._target - 3) // 2
        first, second = [], []
        for sentence in self._sentences:
            if (
                not first
                or len(first) + len(sentence) < first_target
                or (not second and len(first) < first_target and rng.random() < 0.5)
            ):
                first += sentence
            else:
                second += sentence
        total = len(first) + len(second)
        first = first[: self.max_length - 2]
        second = second[: max(0, self.max_length - len(first) - 3)]

        self._sentences, self._length = [], 0
        if rng.random() < 0.05:
            self._target = rng.randint(5, self.max_length)
        else:
            self._target = self.max_length

        token_ids = [self.cls_id] + first + [self.sep_id]
        segment_ids = [0] * len(token_ids)
        if second:
            token_ids += second + [self.sep_id]
            segment_ids += [1] * (len(second) + 1)
        else:
            self.stats.single_segment += 1
        self.stats.examples += 1
        self.stats.tokens += len(token_ids)
        self.stats.dropped_tokens += total - len(first) - len(second)
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
