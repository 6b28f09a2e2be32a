"""Several replicas, several workers, a killed run and a preempted run: each ends with the
weights of one plain, uninterrupted run.

The runs go through `tests/distributed_run.py` in their own processes: splitting the CPU into
devices has to happen before the backend starts, and a killed process has to be a real one.
"""

import csv
import json
import os
import signal
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import RECIPE_MODEL, corpus_and_vocab
from electra_keras import distribute, recipes, training

BACKEND = keras.backend.backend()
SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_run.py")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return corpus_and_vocab(tmp_path_factory.mktemp("distribute"))


def recipe_file(root, name, dropout, **train):
    values = {
        "model": dict(RECIPE_MODEL, dropout=dropout),
        "data": {"corpus": [str(root / "corpus.txt")], "vocab": str(root / "vocab"), "seq_len": 32,
                 "shard_size_mb": 0.002},
        "train": dict(dict(steps=6, batch_size=4, learning_rate=1e-3, warmup_steps=2, log_every=2,
                           checkpoint_every=4), **train),
    }
    path = root / f"{name}.json"
    path.write_text(json.dumps(values))
    return path


def launch(root, recipe, run_name, *flags, env=None):
    command = [sys.executable, SCRIPT, str(recipe), str(root / "runs"), run_name,
               "--cache-dir", str(root / "cache"), *map(str, flags)]
    return subprocess.Popen(command, env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=600):
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def run(root, recipe, run_name, *flags, env=None):
    code, output = finish(launch(root, recipe, run_name, *flags, env=env))
    assert code == 0, output[-3000:]
    return output


def load(path):
    with np.load(path) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=2e-6)


@pytest.fixture(scope="module")
def plain(root):
    """One replica, no dropout (replicas draw their own dropout masks): the reference."""
    recipe = recipe_file(root, "replicas", dropout=0.0)
    run(root, recipe, "plain", "--weights", root / "plain.npz")
    return recipe, load(root / "plain.npz")


@pytest.mark.skipif(BACKEND != "jax", reason="keras.distribution.DataParallel is JAX's; tf.distribute is tested below")
def test_two_data_parallel_devices_give_the_weights_of_one(root, plain):
    recipe, reference = plain
    run(root, recipe, "two_replicas", "--strategy", "data_parallel", "--devices", 2, "--weights", root / "two.npz")
    assert_same_weights(load(root / "two.npz"), reference)


@pytest.fixture(scope="module")
def synthetic(root):
    """One replica `fit` on hand-made batches: the tf.distribute tests' reference."""
    run(root, "-", "unused", "--synthetic", "--weights", root / "synthetic.npz")
    return load(root / "synthetic.npz")


@pytest.mark.skipif(BACKEND != "tensorflow", reason="MirroredStrategy is tf.distribute's")
def test_two_mirrored_replicas_give_the_weights_of_one(root, synthetic):
    run(root, "-", "unused", "--synthetic", "--strategy", "mirrored", "--devices", 2,
        "--weights", root / "mirrored.npz")
    assert_same_weights(load(root / "mirrored.npz"), synthetic)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="MirroredStrategy is tf.distribute's")
def test_pretrain_under_mirrored_gives_the_weights_of_one_replica(root, plain):
    recipe, reference = plain
    run(root, recipe, "mirrored_run", "--strategy", "mirrored", "--devices", 2, "--weights", root / "mirrored_run.npz")
    assert_same_weights(load(root / "mirrored_run.npz"), reference)
    run_dir = root / "runs" / "mirrored_run"
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert all(np.isfinite(float(r["loss"])) for r in rows)
    assert training.latest_checkpoint(run_dir / "checkpoints")[1] == 6


@pytest.mark.skipif(BACKEND != "jax", reason="ModelParallel is keras.distribution's, on JAX")
def test_model_parallel_gives_the_weights_of_one(root, plain):
    recipe, reference = plain
    run(root, recipe, "model_parallel", "--strategy", "model_parallel", "--devices", 2,
        "--weights", root / "model_parallel.npz")
    assert_same_weights(load(root / "model_parallel.npz"), reference)


LAYOUTS = """
import json, keras, sys
sys.path.insert(0, sys.argv[1])
from conftest import tiny_config
import electra_keras as ek
from electra_keras import distribute
dist = distribute.resolve("model_parallel")
with dist.scope():
    model = ek.ElectraPretrainer(tiny_config(num_heads=2, generator_hidden_fraction=0.5), seed=0)
print(json.dumps({v.path: list(v.value.sharding.spec) for v in model.discriminator_backbone.weights
                  if "transformer_layer_0" in v.path and v.path.endswith("kernel")}))
"""


@pytest.mark.skipif(BACKEND != "jax", reason="ModelParallel is keras.distribution's, on JAX")
def test_model_parallel_splits_heads_and_feed_forward_over_the_model_axis():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    output = subprocess.run([sys.executable, "-c", LAYOUTS, os.path.dirname(__file__)], env=env,
                            capture_output=True, text=True, timeout=300, check=True).stdout
    specs = {path.split("/", 1)[1]: spec for path, spec in json.loads(output.splitlines()[-1]).items()}
    assert specs == {
        "self_attention_layer/query/kernel": [None, "model", None],
        "self_attention_layer/key/kernel": [None, "model", None],
        "self_attention_layer/value/kernel": [None, "model", None],
        "self_attention_layer/attention_output/kernel": ["model", None, None],
        "feedforward_intermediate_dense/kernel": [None, "model"],
        "feedforward_output_dense/kernel": ["model", None],
    }


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.skipif(BACKEND != "tensorflow", reason="MultiWorkerMirroredStrategy is tf.distribute's")
def test_two_workers_on_loopback_give_the_weights_of_one(root, synthetic):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(launch(root, "-", "unused", "--synthetic", "--strategy", "multi_worker",
                                "--weights", root / "workers.npz", env={"TF_CONFIG": json.dumps(config)}))
    for code, output in [finish(p) for p in processes]:
        assert code == 0, output[-3000:]
    assert_same_weights(load(root / "workers.npz"), synthetic)  # written by the chief only


@pytest.mark.skipif(BACKEND != "tensorflow", reason="MultiWorkerMirroredStrategy is tf.distribute's")
def test_pretrain_on_two_workers_gives_the_weights_of_one(root, plain):
    recipe, reference = plain
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        weights = ("--weights", root / "pretrain_workers.npz") if index == 0 else ()
        processes.append(launch(root, recipe, "two_workers", "--strategy", "multi_worker", *weights,
                                env={"TF_CONFIG": json.dumps(config)}))
    for code, output in [finish(p) for p in processes]:
        assert code == 0, output[-3000:]
    assert_same_weights(load(root / "pretrain_workers.npz"), reference)
    # The chief alone wrote the run directory: every interval once, and the final models.
    run_dir = root / "runs" / "two_workers"
    with open(run_dir / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4, 6]


def test_killed_then_preempted_run_ends_like_an_uninterrupted_one(root):
    recipe = recipe_file(root, "preempted", dropout=0.1, steps=12)  # dropout: its RNG state resumes too
    run(root, recipe, "straight", "--weights", root / "straight.npz")
    checkpoints = root / "runs" / "stopped" / "checkpoints"

    code, output = finish(launch(root, recipe, "stopped", "--signal", "KILL", "--at-step", 6))
    assert code == -signal.SIGKILL, output[-3000:]
    assert training.latest_checkpoint(checkpoints)[1] == 4  # the scheduled one before the kill

    code, output = finish(launch(root, recipe, "stopped", "--signal", "TERM", "--at-step", 7))
    assert code == 128 + signal.SIGTERM, output[-3000:]
    assert training.latest_checkpoint(checkpoints)[1] == 7  # written on SIGTERM, inside an interval
    assert not (root / "runs" / "stopped" / "pretrainer.keras").exists()

    run(root, recipe, "stopped", "--weights", root / "stopped.npz")
    assert_same_weights(load(root / "stopped.npz"), load(root / "straight.npz"))
    with open(root / "runs" / "stopped" / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4, 6, 8, 10, 12]


class PoisonAt(keras.callbacks.Callback):
    """Makes a weight NaN after step `step`, as a diverging run would."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        model = self.model  # with JAX, syncs the state so the assignment reaches the next step
        if int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == self.step:
            variable = model.trainable_variables[1]
            variable.assign(keras.ops.full(variable.shape, float("nan"), variable.dtype))


def test_a_nan_loss_stops_the_run_naming_the_step_and_the_last_good_checkpoint(root):
    values = json.loads(recipe_file(root, "nan", dropout=0.1, steps=8).read_text())
    recipe = recipes.recipe_from_dict(values, name="nan")
    with pytest.raises(FloatingPointError, match=r"the loss is nan at step 6; the last good checkpoint is step 4"):
        training.pretrain(recipe, output_dir=root / "runs", run_name="nan", cache_dir=root / "cache",
                          verbose=0, callbacks=[PoisonAt(5)])
    assert training.latest_checkpoint(root / "runs" / "nan" / "checkpoints")[1] == 4  # no NaN checkpoint


def test_resume_flag_picks_the_newest_unfinished_run(root, tmp_path):
    values = json.loads(recipe_file(root, "resume", dropout=0.1, steps=4, checkpoint_every=2).read_text())
    recipe = recipes.recipe_from_dict(values, name="resume")
    with pytest.raises(ValueError, match=r"no unfinished run of recipe 'resume' with a checkpoint"):
        training.pretrain(recipe, output_dir=tmp_path, cache_dir=root / "cache", verbose=0, resume=True)
    with pytest.raises(KeyboardInterrupt):
        training.pretrain(recipe, output_dir=tmp_path, run_name="resume-1", cache_dir=root / "cache", verbose=0,
                          callbacks=[Interrupt(2)])
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)))

    run_dir = training.pretrain(recipe, output_dir=tmp_path, cache_dir=root / "cache", verbose=0, resume=True,
                                callbacks=[Record()])
    assert os.path.basename(run_dir) == "resume-1" and seen == [2]
    assert (tmp_path / "resume-1" / "pretrainer.keras").exists()


class Interrupt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_epoch_end(self, epoch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) >= self.step:
            raise KeyboardInterrupt


def test_strategies_the_backend_lacks_are_clear_errors():
    assert distribute.resolve("none").num_replicas == 1
    assert distribute.resolve("auto").name == "none"  # one CPU device here
    other = {"tensorflow": "data_parallel", "jax": "mirrored", "torch": "mirrored"}[BACKEND]
    with pytest.raises(ValueError, match=f"strategy '{other}' is not available on the {BACKEND} backend"):
        distribute.resolve(other)
    with pytest.raises(ValueError, match="expected one of auto, none, mirrored"):
        distribute.resolve("horovod")
    with pytest.raises(ValueError, match=r"train.batch_size = 6 does not split over 4 replicas"):
        distribute.Distribution("mirrored", num_replicas=4).per_replica_batch(6)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TF_CONFIG configures tf.distribute")
def test_multi_worker_without_a_cluster_says_what_it_needs(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=r"strategy 'multi_worker' needs TF_CONFIG"):
        distribute.resolve("multi_worker")
