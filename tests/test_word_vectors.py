"""Counted word vectors (`electra_keras.word_vectors`) and `train.token_table`, which starts (and
holds) a pretraining run's token table at them."""

import json
import os
import warnings

import keras
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import small_vocab, tiny_config, write_corpus
from electra_keras import recipes, training, word_vectors
from electra_keras.data.build import build_pretraining_data
from electra_keras.data.tokenizer import WordPieceTokenizer
from electra_keras.models import ElectraPretrainer
from test_training import Crash, tiny_recipe


def test_cooccurrence_counts_pairs_within_the_window_both_ways():
    rows = [np.array([1, 2, 3]), np.array([2, 2])]
    expected = np.zeros((4, 4))
    for a, b in ((1, 2), (2, 3), (2, 2)):  # neighbours
        expected[a, b] += 1
        expected[b, a] += 1
    np.testing.assert_array_equal(word_vectors.cooccurrence(rows, 4, window=1).toarray(), expected)
    expected[1, 3] = expected[3, 1] = 1  # two apart
    np.testing.assert_array_equal(word_vectors.cooccurrence(rows, 4, window=2).toarray(), expected)
    assert word_vectors.cooccurrence([np.array([3])], 4).nnz == 0  # a row of one piece has no pairs


def test_ppmi_by_hand():
    counts = np.array([[0.0, 4, 1], [4, 2, 0], [1, 0, 6]])
    total = counts.sum()
    contexts = counts.sum(0) ** 0.75 / (counts.sum(0) ** 0.75).sum()
    expected = np.zeros((3, 3))
    for i, j in zip(*np.nonzero(counts)):
        expected[i, j] = max(0.0, np.log(counts[i, j] / total / (counts[i].sum() / total * contexts[j])))
    assert (expected == 0).sum() > 3 and (expected > 0).sum() > 2  # both cases occur
    np.testing.assert_allclose(word_vectors.ppmi(sp.csr_matrix(counts)).toarray(), expected, rtol=1e-12)


def test_svd_vectors_factor_a_low_rank_symmetric_matrix():
    a = np.random.default_rng(0).standard_normal((60, 3))
    for svd in (word_vectors.svd_vectors, word_vectors.randomized_svd_vectors):
        vectors = svd(sp.csr_matrix(a @ a.T), dims=3)
        assert vectors.shape == (60, 3)
        np.testing.assert_allclose(vectors @ vectors.T, a @ a.T, atol=1e-8)


def test_svd_vectors_are_the_leading_singular_vectors_largest_first():
    m = np.random.default_rng(1).random((40, 40)) ** 4  # a PPMI-like non-negative matrix
    u, s, _ = np.linalg.svd(m)
    vectors = word_vectors.svd_vectors(sp.csr_matrix(m), dims=5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=0), np.sqrt(s[:5]), rtol=1e-8)
    np.testing.assert_allclose(np.abs(vectors), np.abs(u[:, :5]) * np.sqrt(s[:5]), atol=1e-8)
    assert (vectors[np.abs(vectors).argmax(0), range(5)] > 0).all()  # signs fixed


def test_counted_table_replaces_known_rows_at_the_tables_scale():
    table = np.array([[1.0, -1], [2, 0], [0, 2], [3, 3]])  # mean square 3.5
    vectors = np.array([[0.0, 0, 9], [1, 0, 9], [0, -1, 9], [0, 0, 0]])  # pieces 0-2 counted, 3 not
    new = word_vectors.counted_table(table, vectors)  # a narrower table takes the first columns
    scale = np.sqrt(3.5 / (1 / 3))  # the mean square of the counted rows' first two columns is 2/6
    np.testing.assert_allclose(new, [[0, 0], [scale, 0], [0, -scale], [3, 3]])
    assert np.mean(new[:3] ** 2) == pytest.approx(np.mean(table ** 2))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Shards of a 40-document corpus, and its tokenizer."""
    root = tmp_path_factory.mktemp("counted")
    write_corpus(root / "corpus.txt", num_docs=40, seed=3)
    tokenizer = WordPieceTokenizer(small_vocab(root / "vocab"))
    build_pretraining_data([str(root / "corpus.txt")], tokenizer, str(root / "shards"), seq_len=64,
                           shard_size_mb=0.001, progress=False)
    return training.list_shards(str(root / "shards")), tokenizer


def ordinary_rows(files, tokenizer, skip):
    """Each example's ordinary pieces, read from the TFRecords themselves, `skip` of each shard left out."""
    import tensorflow as tf

    ordinary = set(tokenizer.ordinary_ids)
    rows = []
    for path in files:
        for record in list(tf.data.TFRecordDataset(path))[skip:]:
            features = tf.train.Example.FromString(record.numpy()).features.feature
            ids = [i for i, m in zip(features["input_ids"].int64_list.value, features["input_mask"].int64_list.value)
                   if m and i in ordinary]
            rows.append(np.asarray(ids))
    return rows


def test_count_vectors_count_the_ordinary_pieces_of_each_training_example(shards):
    files, tokenizer = shards
    rows = ordinary_rows(files, tokenizer, skip=2)
    assert len(files) >= 2 and len(rows) > 20
    vectors, tokens = word_vectors.count_vectors(files, tokenizer, dims=8, skip_examples=2, chunk=7)
    assert tokens == sum(len(r) for r in rows)
    expected = word_vectors.svd_vectors(word_vectors.ppmi(word_vectors.cooccurrence(rows, len(tokenizer))), 8)
    # Columns are defined up to sign; the Gram matrix is not.
    np.testing.assert_allclose(vectors @ vectors.T, expected @ expected.T, atol=1e-8)
    seen = np.zeros(len(tokenizer), bool)
    seen[np.concatenate(rows)] = True
    assert seen.sum() > 20 and (np.abs(vectors[~seen]).sum(1) == 0).all()  # [CLS], [SEP], [PAD]: zero rows
    assert not seen[[0, 101, 102, 103]].any()


def test_token_tables_are_the_distinct_embedding_tables_of_either_network():
    for sharing, widths in (("embeddings", [24]), ("gdes", [24]), ("none", [24, 16]), ("all", [24])):
        model = ElectraPretrainer(tiny_config(weight_sharing=sharing,
                                              generator_hidden_fraction=1.0 if sharing == "all" else 0.5))
        assert [int(t.shape[1]) for t in model.token_tables()] == widths, sharing
    mlm = ElectraPretrainer(tiny_config(objective="mlm"))
    assert [t is mlm.backbone.token_embedding.embeddings for t in mlm.token_tables()] == [True]


def run_recipe(text, token_table):
    return tiny_recipe(text, learning_rate=1e-2, token_table=token_table)


class FirstTable(keras.callbacks.Callback):
    """The token table when training begins."""

    def on_train_begin(self, logs=None):
        if not hasattr(self, "table"):
            self.table = keras.ops.convert_to_numpy(self.model.embeddings.token_embedding.embeddings)


def expected_start(run_dir, shard_dir):
    """What the run's token table must start at: its initial table, counted over its own shards."""
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    keras.utils.set_random_seed(0)
    initial = ElectraPretrainer(config, seed=0).embeddings.token_embedding.embeddings
    files = training.list_shards(shard_dir)
    vectors, _ = word_vectors.count_vectors(files, WordPieceTokenizer.from_directory(run_dir), 16, 32,
                                            skip_examples=training.held_out_per_shard(len(files), 16))
    return word_vectors.counted_table(keras.ops.convert_to_numpy(initial), vectors)


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    from conftest import corpus_and_vocab

    return corpus_and_vocab(tmp_path_factory.mktemp("text"))


def test_counted_frozen_starts_at_the_counted_table_and_keeps_it_while_the_rest_trains(text, tmp_path):
    first = FirstTable()
    run = training.pretrain(run_recipe(text, "counted_frozen"), output_dir=tmp_path, run_name="frozen",
                            cache_dir=tmp_path / "cache", verbose=0, callbacks=[first])
    shard_dir = str(next((tmp_path / "cache" / "data").iterdir()))
    start = expected_start(run, shard_dir)
    np.testing.assert_allclose(first.table, start, rtol=1e-6, atol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the saved optimizer matches: the pretrainer keeps the table frozen
        model = keras.saving.load_model(os.path.join(run, "pretrainer.keras"))
    assert not any(v is model.embeddings.token_embedding.embeddings for v in model.trainable_variables)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.embeddings.token_embedding.embeddings),
                                  first.table)  # held for all 8 steps
    keras.utils.set_random_seed(0)
    initial = ElectraPretrainer(model.config, seed=0)
    moved = [name for name, a, b in zip([v.path for v in model.weights], model.weights, initial.weights)
             if not np.allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))]
    assert any("transformer_layer" in name for name in moved)  # the layers did train
    # Saved, the table is an ordinary weight again: fine-tuning trains it.
    backbone = keras.saving.load_model(os.path.join(run, "backbone.keras"))
    assert any(v is backbone.token_embedding.embeddings for v in backbone.trainable_variables)

    # A crash and a resume keep it too, and end where the uninterrupted run ended.
    with pytest.raises(KeyboardInterrupt):
        training.pretrain(run_recipe(text, "counted_frozen"), output_dir=tmp_path, run_name="crashed",
                          cache_dir=tmp_path / "cache", verbose=0, callbacks=[Crash(6, 2)])
    resumed = training.pretrain(run_recipe(text, "counted_frozen"), output_dir=tmp_path, run_name="crashed",
                                cache_dir=tmp_path / "cache", verbose=0)
    again = keras.saving.load_model(os.path.join(resumed, "pretrainer.keras"))
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b),
                                   rtol=1e-5, atol=1e-6)


def test_counted_starts_at_the_counted_table_and_trains_it(text, tmp_path):
    first = FirstTable()
    run = training.pretrain(run_recipe(text, "counted"), output_dir=tmp_path, run_name="counted",
                            cache_dir=tmp_path / "cache", verbose=0, callbacks=[first])
    np.testing.assert_allclose(first.table, expected_start(run, str(next((tmp_path / "cache" / "data").iterdir()))),
                               rtol=1e-6, atol=1e-7)
    model = keras.saving.load_model(os.path.join(run, "pretrainer.keras"))
    final = keras.ops.convert_to_numpy(model.embeddings.token_embedding.embeddings)
    assert np.abs(final - first.table).max() > 1e-3


def test_an_unknown_token_table_is_an_error_that_names_the_choices():
    with pytest.raises(ValueError, match=r"train.token_table = 'counts': expected one of random, counted, "
                                         r"counted_frozen"):
        recipes.load_recipe(None, ["train.token_table=counts"])


def test_text_without_two_neighbouring_pieces_is_an_error_before_the_run_directory_is_written(tmp_path):
    (tmp_path / "corpus.txt").write_text("\n\n".join(["cat", "dog", "tree"] * 80) + "\n")  # one piece each
    small_vocab(tmp_path / "vocab")
    WordPieceTokenizer(str(tmp_path / "vocab" / "vocab.txt")).save(tmp_path / "vocab")
    with pytest.raises(ValueError, match=r"train.token_table: no two word pieces within 5 of each other"):
        training.pretrain(run_recipe(tmp_path, "counted"), output_dir=tmp_path / "runs", run_name="r",
                          cache_dir=tmp_path / "cache", verbose=0)
    assert not (tmp_path / "runs" / "r").exists()
