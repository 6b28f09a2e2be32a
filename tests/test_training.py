"""`pretrain` end to end on a hand-made corpus: run directory, logs, resume after a crash."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from conftest import RECIPE_MODEL, corpus_and_vocab
from electra_keras import recipes, training
from electra_keras.data.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return corpus_and_vocab(tmp_path_factory.mktemp("text"))


def tiny_recipe(text, **train):
    values = dict(steps=8, batch_size=4, learning_rate=1e-3, warmup_steps=2, log_every=2,
                  checkpoint_every=4, probe_examples=16)
    values.update(train)
    return recipes.recipe_from_dict({
        "model": RECIPE_MODEL,
        "data": {"corpus": [str(text / "corpus.txt")], "vocab": str(text / "vocab"), "seq_len": 32,
                 "shard_size_mb": 0.002},
        "train": values,
    }, name="test")


def weights(run_dir):
    model = keras.saving.load_model(os.path.join(run_dir, "pretrainer.keras"))
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


@pytest.fixture(scope="module")
def finished(text, tmp_path_factory):
    """One uninterrupted run of the tiny recipe (compiling a train step is the slow part)."""
    root = tmp_path_factory.mktemp("runs")
    run = training.pretrain(tiny_recipe(text), output_dir=root, run_name="straight",
                            cache_dir=root / "cache", verbose=0)
    return root, run


def test_a_run_leaves_a_discriminator_with_vocab_config_logs_and_plot(finished):
    root, run = finished
    files = set(os.listdir(run))
    assert {"discriminator.keras", "backbone.keras", "pretrainer.keras", "config.json", "recipe.json",
            "vocab.txt", "tokenizer_config.json", "metrics.csv", "training.png", "logs", "checkpoints"} <= files
    config = json.loads(open(os.path.join(run, "config.json")).read())
    assert config["vocabulary_size"] == len(open(os.path.join(run, "vocab.txt")).read().splitlines())
    assert config["sequence_length"] == 32 and config["hidden_dim"] == 32
    with open(os.path.join(run, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]
    # The logged rate follows the schedule: peak * min(1, step / warmup) * (1 - step / total).
    for row in rows:
        step = int(row["step"])
        assert float(row["learning_rate"]) == pytest.approx(1e-3 * min(1, step / 2) * (1 - step / 8), abs=1e-9)
        assert np.isfinite(float(row["loss"])) and 0 <= float(row["disc_auc"]) <= 1
    assert os.listdir(os.path.join(run, "logs"))  # TensorBoard event files
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == [
        "ckpt-000000004.npz", "ckpt-000000008.npz", "latest.json"]
    discriminator = keras.saving.load_model(os.path.join(run, "discriminator.keras"))
    batch = {"token_ids": np.full((1, 32), 104, "int32"), "segment_ids": np.zeros((1, 32), "int32"),
             "padding_mask": np.ones((1, 32), "int32")}
    assert keras.ops.convert_to_numpy(discriminator(batch)).shape == (1, 32)
    assert len(os.listdir(root / "cache" / "data")) == 1  # the prepared shards, reused by later runs


def test_steps_that_log_every_does_not_divide_end_with_a_shorter_interval(text, tmp_path):
    recipe = tiny_recipe(text, steps=7, log_every=3, checkpoint_every=3)
    run = training.pretrain(recipe, output_dir=tmp_path, run_name="odd", cache_dir=tmp_path / "cache", verbose=0)
    rows = training.read_metrics(os.path.join(run, "metrics.csv"))
    assert [r["step"] for r in rows] == [3, 6, 7]  # the last step is logged
    assert rows[-1]["learning_rate"] == pytest.approx(0.0, abs=1e-12)  # the schedule ran to its end
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == [
        "ckpt-000000006.npz", "ckpt-000000007.npz", "latest.json"]  # and checkpointed
    model = keras.saving.load_model(os.path.join(run, "pretrainer.keras"))
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 7


class Crash(keras.callbacks.Callback):
    """Dies after `at_step` steps, between two checkpoints (as a killed process would)."""

    def __init__(self, at_step, log_every):
        super().__init__()
        self.at_step, self.log_every = at_step, log_every

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) * self.log_every == self.at_step:
            raise KeyboardInterrupt("simulated crash")


def test_resume_continues_from_the_checkpoint_and_matches_an_uninterrupted_run(text, finished):
    root, straight = finished
    recipe = tiny_recipe(text)
    kwargs = dict(output_dir=root, cache_dir=root / "cache", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        training.pretrain(recipe, run_name="crashed", callbacks=[Crash(6, 2)], **kwargs)
    crashed = root / "crashed"
    assert training.latest_checkpoint(crashed / "checkpoints")[1] == 4
    assert not (crashed / "pretrainer.keras").exists()

    steps_seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            steps_seen.append(int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)))

    training.pretrain(recipe, run_name="crashed", callbacks=[Record()], **kwargs)
    assert steps_seen == [4, 6]  # resumed at the checkpointed step, not from 0 or 6
    for a, b in zip(weights(straight), weights(crashed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with open(crashed / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4, 6, 8]


def test_a_run_directory_of_another_recipe_is_an_error(text, finished):
    root, run = finished
    before = sorted(os.listdir(run))
    with pytest.raises(ValueError, match=r"holds a run of another recipe \(train.learning_rate: 0.001 there, 0.002 now\)"):
        training.pretrain(tiny_recipe(text, learning_rate=2e-3), output_dir=root, run_name="straight",
                          cache_dir=root / "cache", verbose=0)
    assert sorted(os.listdir(run)) == before  # nothing touched


def test_bad_input_leaves_no_run_directory(text, tmp_path):
    recipe = recipes.recipe_from_dict({"model": RECIPE_MODEL, "data": {"corpus": [str(text / "missing.txt")],
                                                                       "seq_len": 32}}, name="bad")
    with pytest.raises(ValueError, match=r"missing.txt: no such file or directory"):
        training.pretrain(recipe, output_dir=tmp_path, run_name="run", cache_dir=tmp_path / "cache", verbose=0)
    assert not (tmp_path / "run").exists()  # fixing the path and rerunning is not "another recipe"


def test_the_probe_holds_out_a_few_examples_of_every_shard():
    assert training.held_out_per_shard(6, 128) == 22  # 132 held out, 128 probed
    assert training.held_out_per_shard(128, 128) == 1 and training.held_out_per_shard(200, 128) == 1
    assert training.held_out_per_shard(1, 128) == 0  # one shard: the probe reads training data
    assert training.held_out_per_shard(6, 0) == 0  # no probe, nothing held out


def test_the_probe_scores_held_out_data_with_the_runs_own_discriminator(text, finished):
    """metrics.csv's probe columns are the final discriminator's scores on the held-out examples."""
    root, run = finished
    rows = training.read_metrics(os.path.join(run, "metrics.csv"))
    probes = ("eval_auc_random", "eval_auc_generator", "eval_auc_frequency")
    assert all(0 <= r[name] <= 1 for r in rows for name in probes)
    shards = training.list_shards(str(next((root / "cache" / "data").iterdir())))
    held_out = training.held_out_per_shard(len(shards), 16)
    assert len(shards) >= 2 and held_out == -(-16 // len(shards))  # the first of every shard
    model = keras.saving.load_model(os.path.join(run, "pretrainer.keras"))
    tokenizer = load_tokenizer(run)
    counts = training.token_counts(shards, len(tokenizer), 32, skip_examples=held_out)
    probe = training.make_probe(shards, model.config, tokenizer, 16, 32, seed=0, counts=counts)
    again = probe(model)
    for name in probes:
        assert again[name] == pytest.approx(rows[-1][name], abs=1e-6), name
    # Random replacements are ordinary pieces, never [UNK], [CLS] or [unused0]; those by
    # frequency are pieces the training shards hold.
    ordinary = {i for i, t in enumerate(tokenizer.tokens) if not t.startswith("[")}
    s = probe.probe_set
    assert set(s.random_ids[s.random_labels == 1].tolist()) <= ordinary
    assert counts.sum() == sum(int(b["padding_mask"].numpy().sum())
                               for b in training.pretraining_dataset(shards, 1, 32, shuffle=False, repeat=False,
                                                                     skip_examples=held_out))
    drawn = s.frequency_ids[s.frequency_labels == 1]
    assert set(drawn.tolist()) <= ordinary and (counts[drawn] > 0).all()


def test_detect_on_a_run_directory_prints_each_piece_with_its_probability(finished, capsys):
    from electra_keras import cli
    from electra_keras.detection import detect

    _, run = finished
    code = cli.main(["detect", "--model", str(run), "the cat sees a river.", "old stone house"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    found = detect(str(run), ["the cat sees a river.", "old stone house"])
    assert lines == [f.format() for f in found]  # piped: no colour codes
    assert found[0].pieces == ["the", "cat", "sees", "a", "river", "."]
    model = keras.saving.load_model(os.path.join(run, "discriminator.keras"))
    ids = load_tokenizer(run).encode("old stone house")
    x = {"token_ids": np.array([[101, *ids, 102]], "int32"), "segment_ids": np.zeros((1, 5), "int32"),
         "padding_mask": np.ones((1, 5), "int32")}
    logits = keras.ops.convert_to_numpy(model(x))[0, 1:-1]
    np.testing.assert_allclose(found[1].probabilities, 1 / (1 + np.exp(-logits)), atol=1e-5)
