"""A run directory: one process at a time (its lock), and a full disk that loses nothing."""

import errno
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import RECIPE_MODEL, corpus_and_vocab
from electra_keras import recipes, training
from electra_keras.atomic import NoSpaceLeft, atomic_path
from electra_keras.run_lock import LOCK_FILE, RunDirectoryBusy, RunLock


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return corpus_and_vocab(tmp_path_factory.mktemp("text"))


def tiny_recipe(text):
    return recipes.recipe_from_dict({
        "model": RECIPE_MODEL,
        "data": {"corpus": [str(text / "corpus.txt")], "vocab": str(text / "vocab"), "seq_len": 32,
                 "shard_size_mb": 0.002},
        "train": dict(steps=8, batch_size=4, learning_rate=1e-3, warmup_steps=2, log_every=2, checkpoint_every=4,
                      probe_examples=0),
    }, name="test")


# ---- the lock -----------------------------------------------------------------------------------


def test_the_lock_names_its_holder_refuses_a_second_and_goes_when_released(tmp_path):
    run_dir = tmp_path / "run"
    with RunLock(run_dir) as lock:
        holder = json.loads((run_dir / LOCK_FILE).read_text())
        assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
        assert lock.took_over is None
        with pytest.raises(RunDirectoryBusy, match=rf"run is in use by another run \(host {socket.gethostname()}, "
                                                   rf"PID {os.getpid()}, since "):
            RunLock(run_dir).acquire()
    assert not run_dir.exists()  # nothing but the lock was written: the directory goes with it


HOLD = """
import sys, time
from electra_keras.run_lock import RunLock
RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_killed_holders_lock_is_taken_over(tmp_path):
    run_dir = tmp_path / "run"
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"held\n"
        with pytest.raises(RunDirectoryBusy, match=rf"PID {child.pid},"):
            RunLock(run_dir).acquire()
    finally:
        child.kill()
        child.wait()
    with RunLock(run_dir) as lock:  # the kernel let go of the dead process's lock
        assert lock.took_over["pid"] == child.pid
        assert json.loads((run_dir / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_pretrain_refuses_a_run_directory_another_process_trains_in(text, tmp_path):
    with RunLock(tmp_path / "busy"):
        with pytest.raises(RunDirectoryBusy, match=rf"busy is in use by another run \(host .*PID {os.getpid()}"):
            training.pretrain(tiny_recipe(text), output_dir=tmp_path, run_name="busy", cache_dir=tmp_path / "cache",
                              verbose=0)
        assert os.listdir(tmp_path / "busy") == [LOCK_FILE]  # nothing written, nothing removed


# ---- a full disk --------------------------------------------------------------------------------


def test_atomic_path_leaves_nothing_partial(tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(NoSpaceLeft, match=r"file.bin: no space left on the device"):
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            f.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(KeyError):  # any other error passes through as it was
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            f.write(b"half")
            raise KeyError("x")
    assert os.listdir(tmp_path) == []
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        f.write(b"whole")
    assert os.listdir(tmp_path) == ["file.bin"] and target.read_bytes() == b"whole"


def test_a_full_disk_while_checkpointing_names_the_file_the_last_checkpoint_and_the_resume(text, tmp_path,
                                                                                            monkeypatch):
    savez, calls = np.savez, []

    def full_disk_on_the_second_checkpoint(f, **arrays):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"PK\x03\x04 part of a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        savez(f, **arrays)

    monkeypatch.setattr(np, "savez", full_disk_on_the_second_checkpoint)
    kwargs = dict(output_dir=tmp_path, run_name="full", cache_dir=tmp_path / "cache", verbose=0)
    checkpoints = tmp_path / "full" / "checkpoints"
    with pytest.raises(NoSpaceLeft, match=rf"^{checkpoints}/ckpt-000000008.npz: no space left on the device; the last "
                                          rf"whole checkpoint is step 4 in {checkpoints}; free some space, then rerun "
                                          r"the same command with --run-name full to resume$"):
        training.pretrain(tiny_recipe(text), **kwargs)
    assert sorted(os.listdir(checkpoints)) == ["ckpt-000000004.npz", "latest.json"]
    assert not (tmp_path / "full" / LOCK_FILE).exists()
    monkeypatch.setattr(np, "savez", savez)
    run = training.pretrain(tiny_recipe(text), **kwargs)  # resumes from step 4 and finishes
    assert training.latest_checkpoint(checkpoints)[1] == 8
    assert os.path.exists(os.path.join(run, "pretrainer.keras"))
