"""Reading packed shards with tf.data: `pretraining_dataset`, `first_examples` and `verify_shards`.

The pipeline is deterministic for a seed (file order, interleave, shuffle), so a data position
is just a number of batches: `skip_batches` resumes a run exactly where its checkpoint left
it. Records are shuffled and batched as serialized strings and parsed a batch at a time, which
makes skipping cheap (nothing is parsed on the way).
"""

import glob
import json
import os

from electra_keras.data.build import INFO_FILE

FEATURES = ("input_ids", "input_mask", "segment_ids")


def list_shards(file_pattern):
    """A directory (its *.tfrecord), a glob, a file, or a list of those -> sorted file list."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files = []
    for pattern in map(os.fspath, patterns):
        if os.path.isdir(pattern):
            matches = sorted(glob.glob(os.path.join(pattern, "*.tfrecord")))
            if not matches:
                raise ValueError(f"{pattern}: the directory holds no *.tfrecord shards "
                                 f"(build them with `electra-keras build-data`)")
        else:
            matches = sorted(glob.glob(pattern))
            if not matches:
                raise ValueError(f"{pattern}: no such shard file(s)")
        files += matches
    return files


def read_data_info(directory):
    """The data_info.json that build-data writes next to its shards, or None."""
    path = os.path.join(directory, INFO_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _first_record(path):
    import tensorflow as tf

    try:
        for record in tf.data.TFRecordDataset(path).take(1):
            return record.numpy()
    except tf.errors.OpError as error:
        raise ValueError(f"{path}: not a readable TFRecord file ({error.message})") from None
    return None


def record_length(path):
    """The sequence length of a shard's examples, read from its first record (None if empty)."""
    import tensorflow as tf

    record = _first_record(path)
    if record is None:
        return None
    example = tf.train.Example()
    try:
        example.ParseFromString(record)
    except Exception:  # protobuf's DecodeError
        raise ValueError(f"{path}: its records are not tf.train.Example protos") from None
    features = example.features.feature
    missing = [name for name in FEATURES if name not in features]
    if missing:
        raise ValueError(f"{path}: the examples lack the features {', '.join(missing)} "
                         f"(expected {', '.join(FEATURES)})")
    lengths = {name: len(features[name].int64_list.value) for name in FEATURES}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: features of different lengths {lengths}")
    return lengths["input_ids"]


def check_sizes(files):
    """Compare each shard's size with the data_info.json next to it (a cheap truncation check)."""
    listed = {}
    for directory in sorted({os.path.dirname(os.path.abspath(f)) for f in files}):
        info = read_data_info(directory)
        for shard in (info or {}).get("shards", []):
            listed[os.path.join(directory, shard["file"])] = shard["bytes"]
    for path in files:
        expected = listed.get(os.path.abspath(path))
        if expected is not None and os.path.getsize(path) != expected:
            raise ValueError(f"{path}: corrupted or truncated TFRecord shard ({os.path.getsize(path)} bytes, "
                             f"{INFO_FILE} lists {expected}); rebuild it (rerun build-data into the same directory)")


def verify_shards(files, seq_len=None):
    """Read every record of every shard; raise ValueError naming a corrupted or truncated file.

    Returns the number of records per file. A truncated or bit-flipped file fails its CRC check
    here instead of in the middle of training.
    """
    import tensorflow as tf

    check_sizes(files)
    counts = {}
    for path in files:
        length = record_length(path)
        if seq_len is not None and length is not None and length != seq_len:
            raise ValueError(f"{path}: examples of length {length}, expected {seq_len} "
                             f"(rebuild the data with --seq-len {seq_len} or train at {length})")
        try:
            counts[path] = int(tf.data.TFRecordDataset(path).reduce(0, lambda n, _: n + 1))
        except tf.errors.DataLossError as error:
            raise ValueError(f"{path}: corrupted or truncated TFRecord shard ({error.message}); "
                             f"rebuild it (rerun build-data into the same directory)") from None
    return counts



def pretraining_dataset(
    file_pattern,
    batch_size,
    seq_len=None,
    *,
    shuffle=True,
    shuffle_buffer=10_000,
    seed=0,
    repeat=True,
    skip_batches=0,
    skip_examples=0,
    cycle_length=8,
    verify=False,
):
    """Batches of {token_ids, segment_ids, padding_mask} (int32, (batch, seq_len)) from shards.

    Args:
      file_pattern: a directory of shards, a glob, a file or a list of them.
      batch_size: examples per batch (the per-worker batch under a strategy); batches are full.
      seq_len: the expected sequence length; None takes it from the shards. A mismatch names
        the shard.
      shuffle, shuffle_buffer, seed: file order and example order, fixed by the seed.
      repeat: loop over the data forever (`fit` then needs `steps_per_epoch`).
      skip_batches: start after this many batches (the data position of a resumed run).
      skip_examples: leave out the first this many examples of every shard (those
        `first_examples` reads: the discriminator probe's held-out text).
      verify: read every record once first (CRC checks), naming a corrupted or truncated shard.

    Works with `model.fit` on every Keras backend.
    """
    import tensorflow as tf

    files = list_shards(file_pattern)
    check_sizes(files)
    length = _length(files, seq_len)
    if verify:
        verify_shards(files, length)
    parse = _parser(length)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path).skip(skip_examples),
        cycle_length=min(cycle_length, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if skip_batches:
        dataset = dataset.skip(skip_batches)
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def first_examples(file_pattern, per_shard, seq_len=None):
    """The first `per_shard` examples of every shard, in shard order, as one batch of int32 numpy
    arrays {token_ids, segment_ids, padding_mask}.

    Each shard is shuffled when it is built, so these are a sample of all the text, every corpus
    file included. `pretraining_dataset(skip_examples=per_shard)` trains on the rest.
    """
    import numpy as np
    import tensorflow as tf

    if not isinstance(per_shard, int) or per_shard < 1:
        raise ValueError(f"per_shard={per_shard!r}: expected a positive number of examples per shard")
    files = list_shards(file_pattern)
    parse = _parser(_length(files, seq_len))
    records = tf.data.Dataset.from_tensor_slices(files).flat_map(
        lambda path: tf.data.TFRecordDataset(path).take(per_shard))
    batches = [parse(batch) for batch in records.batch(1024)]
    return {name: np.concatenate([b[name].numpy() for b in batches]) for name in batches[0]}


def _length(files, seq_len):
    """The shards' sequence length; a clear error when they hold nothing or not `seq_len`."""
    length = next((n for n in map(record_length, files) if n is not None), None)
    if length is None:
        raise ValueError(f"{', '.join(files[:3])}: the shards hold no examples")
    if seq_len is not None and length != seq_len:
        raise ValueError(f"{files[0]}: examples of length {length}, expected {seq_len} "
                         f"(rebuild the data with --seq-len {seq_len} or train at {length})")
    return length


def _parser(length):
    """Serialized examples (a batch) -> {token_ids, segment_ids, padding_mask} int32 tensors."""
    import tensorflow as tf

    spec = {name: tf.io.FixedLenFeature([length], tf.int64) for name in FEATURES}

    def parse(serialized):
        features = tf.io.parse_example(serialized, spec)
        return {
            "token_ids": tf.cast(features["input_ids"], tf.int32),
            "segment_ids": tf.cast(features["segment_ids"], tf.int32),
            "padding_mask": tf.cast(features["input_mask"], tf.int32),
        }

    return parse
