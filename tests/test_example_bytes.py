"""build-data's Example bytes, written without protobuf, are TensorFlow's to the byte."""

import numpy as np
import pytest
import tensorflow as tf

from electra_keras.data import example_bytes
from electra_keras.data.example_bytes import KEYS, serialize_examples


def tensorflow_bytes(*features):
    feature = {key: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
               for key, values in zip(KEYS, features)}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


@pytest.mark.parametrize("rows_per_block", [example_bytes.ROWS_PER_BLOCK, 16])  # 16: many blocks, one short
def test_packed_examples_are_tensorflows_bytes(rows_per_block, monkeypatch):
    monkeypatch.setattr(example_bytes, "ROWS_PER_BLOCK", rows_per_block)
    rng = np.random.default_rng(0)
    n, seq_len = 200, 64
    ids, mask, segments = (np.zeros((n, seq_len), np.int64) for _ in range(3))
    for i, length in enumerate(rng.integers(5, seq_len + 1, size=n)):
        ids[i, :length] = rng.integers(0, 30522, size=length)
        mask[i, :length] = 1
        segments[i, length // 2:length] = 1
    ours = serialize_examples(ids, mask, segments)
    assert ours == [tensorflow_bytes(*row) for row in zip(ids, mask, segments)]
    parsed = tf.io.parse_single_example(ours[7], {k: tf.io.FixedLenFeature([seq_len], tf.int64) for k in KEYS})
    np.testing.assert_array_equal(parsed["input_ids"].numpy(), ids[7])


def test_every_varint_width_and_values_past_a_byte_in_any_feature():
    edges = np.array([[0, 1, 127, 128, 16383, 16384, 2**21 - 1, 2**21, 2**28 - 1]])
    zeros = np.zeros_like(edges)
    assert serialize_examples(edges, zeros, edges) == [tensorflow_bytes(edges[0], zeros[0], edges[0])]
    with pytest.raises(ValueError, match=r"feature values must lie in \[0, 268435456\); got -1\.\.5"):
        serialize_examples(np.array([[-1, 5]]), np.zeros((1, 2)), np.zeros((1, 2)))
