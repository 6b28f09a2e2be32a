"""The tf.data reader: values, determinism, data position, per-worker files, damaged shards."""

import shutil

import numpy as np
import pytest

from conftest import small_vocab, write_corpus
from electra_keras.data import build_pretraining_data, pretraining_dataset, read_data_info, verify_shards
from electra_keras.data.pretraining import first_examples
from electra_keras.data.tokenizer import WordPieceTokenizer
from test_build_data import read_shards

SEQ = 32


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    write_corpus(root / "text.txt", num_docs=80, seed=5)
    tokenizer = WordPieceTokenizer(small_vocab(root / "vocab"))
    build_pretraining_data(str(root / "text.txt"), tokenizer, root / "data", seq_len=SEQ,
                           shard_size_mb=0.002, num_workers=1, progress=False)
    return root / "data"


def batches(dataset, n):
    return [{k: np.asarray(v) for k, v in b.items()} for b in dataset.take(n)]


def test_one_pass_yields_every_record_once_as_model_inputs(shards):
    records = sorted(r for rs in read_shards(shards).values() for r in rs)
    batch_size = 4
    dataset = pretraining_dataset(shards, batch_size, shuffle=False, repeat=False)
    seen = []
    for batch in batches(dataset, -1):
        assert sorted(batch) == ["padding_mask", "segment_ids", "token_ids"]
        assert all(v.dtype == np.int32 and v.shape == (batch_size, SEQ) for v in batch.values())
        seen += [(tuple(t), tuple(m), tuple(s)) for t, m, s in
                 zip(batch["token_ids"], batch["padding_mask"], batch["segment_ids"])]
    assert len(seen) == len(records) // batch_size * batch_size  # full batches only
    assert set(seen) <= set(records) and len(set(seen)) == len(seen)


def test_the_first_examples_of_every_shard_are_held_out_of_the_rest(shards):
    by_shard = read_shards(shards)
    assert len(by_shard) >= 3 and all(len(rows) > 2 for rows in by_shard.values())
    held = first_examples(shards, 2)
    assert all(v.dtype == np.int32 for v in held.values())
    rows = [(tuple(t), tuple(m), tuple(s)) for t, m, s in
            zip(held["token_ids"], held["padding_mask"], held["segment_ids"])]
    assert rows == [r for name in sorted(by_shard) for r in by_shard[name][:2]]  # shard order
    rest = []
    for batch in batches(pretraining_dataset(shards, 1, shuffle=False, repeat=False, skip_examples=2), -1):
        rest.append((tuple(batch["token_ids"][0]), tuple(batch["padding_mask"][0]), tuple(batch["segment_ids"][0])))
    assert sorted(rest) == sorted(r for name in by_shard for r in by_shard[name][2:])
    with pytest.raises(ValueError, match=r"per_shard=0: expected a positive number"):
        first_examples(shards, 0)


def test_the_data_position_is_a_number_of_batches(shards):
    run = batches(pretraining_dataset(shards, 4, seed=3), 12)
    resumed = batches(pretraining_dataset(shards, 4, seed=3, skip_batches=7), 5)
    for a, b in zip(run[7:], resumed):
        np.testing.assert_array_equal(a["token_ids"], b["token_ids"])
    other_seed = batches(pretraining_dataset(shards, 4, seed=4), 1)
    assert not np.array_equal(run[0]["token_ids"], other_seed[0]["token_ids"])
    # The stream goes past the end of the data (repeat) without a short batch.
    n_examples = read_data_info(shards)["summary"]["examples"]
    assert len(batches(pretraining_dataset(shards, 4), n_examples // 4 + 5)) == n_examples // 4 + 5


def test_a_sequence_length_mismatch_names_the_shard(shards):
    with pytest.raises(ValueError, match=r"pretrain-00000.tfrecord: examples of length 32, expected 64"):
        pretraining_dataset(shards, 4, seq_len=64)


def test_damaged_shards_are_named(shards, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(shards, damaged)
    path = damaged / "pretrain-00001.tfrecord"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError, match=r"pretrain-00001.tfrecord: corrupted or truncated TFRecord shard"):
        verify_shards(sorted(str(p) for p in damaged.glob("*.tfrecord")))
    with pytest.raises(ValueError, match=r"pretrain-00001.tfrecord: corrupted or truncated"):
        pretraining_dataset(damaged, 4, verify=True)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # a flipped byte inside a record: its CRC fails
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"pretrain-00001.tfrecord: corrupted or truncated"):
        verify_shards([str(path)])
    (damaged / "pretrain-00000.tfrecord").write_text("this is not a TFRecord file at all\n")
    with pytest.raises(ValueError, match=r"pretrain-00000.tfrecord: corrupted or truncated"):
        pretraining_dataset(damaged, 4)  # caught by the size data_info.json lists
    (damaged / "data_info.json").unlink()
    with pytest.raises(ValueError, match=r"pretrain-00000.tfrecord: not a readable TFRecord file"):
        pretraining_dataset(damaged, 4)


def test_a_directory_without_shards_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"holds no \*.tfrecord shards \(build them with `electra-keras build-data`\)"):
        pretraining_dataset(tmp_path, 4)
