"""A progress display over a run's optimizer steps, in place of Keras's per-epoch bar.

`pretrain` runs `fit` in intervals of `log_every` steps (Keras epochs), which Keras would show
as "Epoch 3/80". `StepProgress` shows the run instead: the step out of the total, the loss,
steps per second and the time left. On a terminal a tqdm bar is redrawn in place as steps
finish (from the end of the first step, so compiling does not count against the rate); at the
end of every interval (and, in logs and pipes, only then) a line with the interval's metrics
is printed and kept above it.
"""

import sys
import time

import keras
from tqdm.auto import tqdm

# The metrics of an interval line, in order, with their short names.
SHOWN = (("loss", "loss"), ("mlm_accuracy", "mlm acc"), ("disc_auc", "disc auc"), ("disc_recall", "recall"),
         ("eval_auc_random", "probe auc random"), ("eval_auc_frequency", "probe auc freq"),
         ("eval_auc_generator", "probe auc gen"))


def format_duration(seconds):
    """3725 -> '1h02m', 125 -> '2m05s', 7.2 -> '7s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class StepProgress(keras.callbacks.Callback):
    """Step-based progress of a run from `step` to `total_steps`; `live` redraws a line (default:
    when `stream` is a terminal). Put it after callbacks that add to the logs (the probe)."""

    def __init__(self, total_steps, step=0, live=None, stream=None, clock=time.perf_counter, redraw_every=0.2):
        super().__init__()
        self.total = total_steps
        self.step = step
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.clock = clock
        self.redraw_every = redraw_every
        self._epoch_start = step
        self._timed_from = None  # (step, time) after the first step: compiling is not a step's cost
        self._bar = None

    def rate(self, now):
        """Steps per second since the end of the first step of this process (None before two)."""
        if self._timed_from is None or self.step <= self._timed_from[0]:
            return None
        return (self.step - self._timed_from[0]) / max(now - self._timed_from[1], 1e-9)

    def status(self, now):
        """'step 150/1,000 (15%)  3.41 steps/s  ETA 4m09s' at time `now`"""
        text = f"step {self.step:,}/{self.total:,} ({100 * self.step // self.total}%)"
        rate = self.rate(now)
        if rate:
            text += f"  {rate:.2f} steps/s  ETA {format_duration((self.total - self.step) / rate)}"
        return text

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.step = self._epoch_start + batch + 1
        now = self.clock()
        if self._timed_from is None:
            self._timed_from = (self.step, now)
        if not self.live:
            return
        if self._bar is None:
            self._bar = tqdm(total=self.total, initial=self.step, file=self.stream, unit="step", dynamic_ncols=True,
                             mininterval=self.redraw_every, smoothing=0.1, leave=False)
        else:
            self._bar.update(self.step - self._bar.n)
        if logs and "loss" in logs:
            self._bar.set_postfix_str(f"loss {float(logs['loss']):.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        metrics = "  ".join(f"{name} {float(logs[key]):.4f}" for key, name in SHOWN if key in logs)
        line = f"{self.status(self.clock())}  {metrics}"
        if self._bar is not None:
            self._bar.write(line, file=self.stream)  # above the bar, which is drawn again below it
        else:
            self.stream.write(f"{line}\n")
            self.stream.flush()

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
