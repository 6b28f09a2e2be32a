"""Pretraining examples as serialized `tf.train.Example` bytes, many at a time, without protobuf.

build-data writes each example as an Example with three int64 features of `seq_len` values:
``input_ids``, ``input_mask`` and ``segment_ids``. `tf.train.Example(...).SerializeToString(
deterministic=True)` costs about 70 microseconds an example in Python; here the varints of a
whole batch are laid out with NumPy and each record is a few byte joins, giving the same bytes
(tests/test_build_data.py compares them with TensorFlow's). The wire format, for reference:

    Example    = field 1 (features): Features
    Features   = field 1 (feature map), one entry per key, keys sorted (deterministic)
    map entry  = field 1 (key): string, field 2 (value): Feature
    Feature    = field 3 (int64_list): Int64List
    Int64List  = field 1 (value): packed varints
"""

import numpy as np

KEYS = ("input_ids", "input_mask", "segment_ids")  # sorted: the order a deterministic map is written in
MAX_VALUE = 2**28  # ids below this take at most 4 varint bytes
ROWS_PER_BLOCK = 1024


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packed_varints(values):
    """For an (n, L) array of non-negative ints: the varint bytes of each row, as a list of bytes.

    Each value's bytes start where the sizes of the values before it end; byte j of every value
    that has one is written in one scatter (three for a 30,522-piece vocabulary).
    """
    values = np.asarray(values)
    if values.size and (values.min() < 0 or values.max() >= MAX_VALUE):
        raise ValueError(f"feature values must lie in [0, {MAX_VALUE}); got {values.min()}..{values.max()}")
    flat = values.astype(np.uint32).ravel()
    width = max(1, (int(flat.max(initial=0)).bit_length() + 6) // 7)  # bytes of the largest value
    sizes = np.ones(flat.shape, np.uint8)  # bytes of each value
    for j in range(1, width):
        sizes += flat >= (1 << (7 * j))
    ends = np.cumsum(sizes, dtype=np.int64)
    data = np.empty(int(ends[-1]) if ends.size else 0, np.uint8)
    starts = ends - sizes
    for j in range(width):  # seven-bit groups, low first; every byte but a value's last has the high bit
        has = slice(None) if j == 0 else np.flatnonzero(sizes > j)
        data[starts[has] + j] = ((flat[has] >> (7 * j)) & 0x7F) | ((sizes[has] > j + 1).astype(np.uint8) << 7)
    data = data.tobytes()
    row_ends = ends[values.shape[1] - 1::values.shape[1]].tolist() if values.shape[1] else [0] * values.shape[0]
    return [data[s:e] for s, e in zip([0, *row_ends[:-1]], row_ends)]


def _packed_rows(values):
    """The packed varints of each row of `values`; values under 128 are their own varint byte."""
    values = np.asarray(values)
    if values.size == 0 or (values.min() >= 0 and values.max() < 128):
        data, width = values.astype(np.uint8).tobytes(), values.shape[1]
        return [data[i * width:(i + 1) * width] for i in range(values.shape[0])]
    return _packed_varints(values)


def _entry(key, packed_length):
    """The bytes of a map entry up to its packed values, for `packed_length` bytes of them."""
    int64_list_head = b"\x0a" + _varint(packed_length)
    feature_length = len(int64_list_head) + packed_length
    feature_head = b"\x1a" + _varint(feature_length) + int64_list_head
    key_field = b"\x0a" + _varint(len(key)) + key.encode()
    entry_length = len(key_field) + 1 + len(_varint(len(feature_head) + packed_length)) + len(feature_head) \
        + packed_length
    return b"\x0a" + _varint(entry_length) + key_field + b"\x12" + _varint(len(feature_head) + packed_length) \
        + feature_head


def serialize_examples(input_ids, input_mask, segment_ids):
    """Serialized Examples (a list of bytes) for (n, seq_len) arrays of the three features.

    `ROWS_PER_BLOCK` examples at a time, so the varints' index arrays take a few MB whatever `n`.
    """
    features = [np.asarray(a) for a in (input_ids, input_mask, segment_ids)]
    heads = {}  # (packed lengths) -> the bytes before each feature's values
    records = []
    for start in range(0, len(features[0]), ROWS_PER_BLOCK):
        rows = [_packed_rows(a[start:start + ROWS_PER_BLOCK]) for a in features]
        for values in zip(*rows):
            lengths = tuple(map(len, values))
            if lengths not in heads:
                entries = [_entry(key, n) for key, n in zip(KEYS, lengths)]
                body_length = sum(map(len, entries)) + sum(lengths)
                entries[0] = b"\x0a" + _varint(body_length) + entries[0]
                heads[lengths] = entries
            a, b, c = heads[lengths]
            records.append(b"".join((a, values[0], b, values[1], c, values[2])))
    return records
