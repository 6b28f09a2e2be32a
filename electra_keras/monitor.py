"""A pretraining run's bookkeeping between steps: metrics.csv, TensorBoard, training.png, the
NaN check, periodic checkpoints, and stopping cleanly on SIGTERM (`RunMonitor`)."""

import csv
import math
import os
import signal
import threading
import time

import keras
import numpy as np

from electra_keras.atomic import atomic_path
from electra_keras.backends import TensorBoardWriter, torch_rng
from electra_keras.checkpoints import CHECKPOINT_DIR, latest_checkpoint, save_checkpoint


class Preempted(Exception):
    """The run got SIGTERM and stopped after writing a checkpoint; rerun it to resume."""


class Preemption:
    """While active, SIGTERM sets `requested` instead of killing the process."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


class RunMonitor(keras.callbacks.Callback):
    """After every interval of `log_every` steps (one Keras epoch): metrics to CSV and
    TensorBoard, a NaN check, and every `checkpoint_every` steps a checkpoint and a new plot.
    On a SIGTERM (`preemption.requested`) it checkpoints the step just finished and stops `fit`.

    `step` is the optimizer step the run starts from; only a chief writes files."""

    def __init__(self, run_dir, log_every, checkpoint_every, keep_checkpoints, step=0, total_steps=None,
                 torch_rng=None, chief=True, preemption=None, probe=None):
        super().__init__()
        self.probe = probe
        self.torch_rng = torch_rng
        self.run_dir = run_dir
        self.log_every = log_every
        self.checkpoint_every = checkpoint_every
        self.keep = keep_checkpoints
        self.step = step
        self.total_steps = total_steps
        self.chief = chief
        self.preemption = preemption
        self.preempted_at = None
        self.csv_path = os.path.join(run_dir, "metrics.csv")
        self.tensorboard = TensorBoardWriter(os.path.join(run_dir, "logs"))
        self._started = None
        self._epoch_start = step

    def on_train_batch_begin(self, batch, logs=None):
        if self.torch_rng is not None:  # the first step of a resumed run: after fit's own draws
            torch_rng(self.torch_rng)
            self.torch_rng = None

    def on_train_end(self, logs=None):
        # A run that resumed inside an interval calls `fit` twice; the second call's own
        # draws must not move torch's generator, so it is put back at its first step.
        self.torch_rng = torch_rng()

    def on_train_batch_end(self, batch, logs=None):
        self.step = self._epoch_start + batch + 1  # `batch` is the last step of the execution
        if self.preemption is not None and self.preemption.requested and self.preempted_at is None:
            self.preempted_at = self.step
            self._checkpoint(self.model)
            self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._epoch_start = self.step

    def _checkpoint(self, model):
        if self.chief:
            save_checkpoint(os.path.join(self.run_dir, CHECKPOINT_DIR), model, self.step, self.keep)
            plot_metrics(self.csv_path, os.path.join(self.run_dir, "training.png"))

    def on_epoch_end(self, epoch, logs=None):
        model = self.model  # with JAX, this brings the in-flight state back to the variables
        step = self.step
        row = {"step": step, "seconds": time.perf_counter() - self._started}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        row["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        if not math.isfinite(row.get("loss", 0.0)):
            _, last = latest_checkpoint(os.path.join(self.run_dir, CHECKPOINT_DIR))
            raise FloatingPointError(
                f"the loss is {row['loss']} at step {step}; the last good checkpoint is step {last} "
                f"in {self.run_dir}/{CHECKPOINT_DIR} (lower the learning rate and resume)"
            )
        if self.preempted_at is not None and step % self.log_every:
            return  # a part of an interval: its checkpoint is written, its row is not
        if self.chief and self.probe is not None:
            scores = self.probe(model)
            row.update(scores)
            if logs is not None:
                logs.update(scores)  # the progress bar, which runs after this callback, shows them
        if self.chief:
            self._append_csv(row)
            self.tensorboard.scalars({k: v for k, v in row.items() if k != "step"}, step)
        if (step % self.checkpoint_every == 0 or step == self.total_steps) and step != self.preempted_at:
            self._checkpoint(model)

    def _append_csv(self, row):
        rows = read_metrics(self.csv_path)
        rows = [r for r in rows if r["step"] < row["step"]] + [row]  # a resumed run rewrites later rows
        fields = list(dict.fromkeys(k for r in rows for k in r))
        with atomic_path(self.csv_path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


def read_metrics(csv_path):
    if not os.path.exists(csv_path):
        return []
    with open(csv_path, newline="") as f:
        return [{k: (int(float(v)) if k == "step" else float(v)) for k, v in r.items() if v != ""}
                for r in csv.DictReader(f)]


def plot_metrics(csv_path, png_path):
    """Loss, generator and discriminator metrics and the learning rate against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(csv_path)
    if not rows:
        return None
    steps = [r["step"] for r in rows]
    panels = [
        ("total loss (1 x MLM + 50 x BCE)", ["loss"]),
        ("generator MLM loss", ["mlm_loss"]),
        ("generator", ["mlm_accuracy", "sampled_accuracy"]),
        ("discriminator BCE", ["disc_loss"]),
        ("discriminator (training batches)", ["disc_accuracy", "disc_precision", "disc_recall"]),
        ("discriminator AUC", ["disc_auc", "eval_auc_generator", "eval_auc_random", "eval_auc_frequency"]),
        ("learning rate", ["learning_rate"]),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(19, 7))
    axes.flat[-1].set_axis_off()
    for ax, (title, keys) in zip(axes.flat, panels):
        shown = [key for key in keys if key in rows[-1]]
        for key in shown:
            ax.plot(steps, [r.get(key, np.nan) for r in rows], marker=".", label=key)
        ax.set_title(title if shown else f"{title}: not in this run")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(shown) > 1:
            ax.legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(png_path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)
    return png_path
