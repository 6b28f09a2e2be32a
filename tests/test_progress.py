"""The step-based progress display of `pretrain`: step counts, rate, time left, interval lines."""

import io

from electra_keras.progress import StepProgress, format_duration


class Clock:
    def __init__(self, times):
        self.times = iter(times)

    def __call__(self):
        return next(self.times)


def test_interval_lines_count_steps_not_epochs_and_time_from_the_second_step():
    out = io.StringIO()
    # The first step ends at t = 5 (compiling); the next four take a second each.
    progress = StepProgress(10, step=0, live=False, stream=out, clock=Clock([5.0, 6.0, 7.0, 8.0, 9.0, 9.0]))
    progress.on_epoch_begin(0)
    for batch in range(5):
        progress.on_train_batch_end(batch, {"loss": 3.0})
    progress.on_epoch_end(0, {"loss": 2.5, "eval_auc_random": 0.9, "unshown": 1.0})
    assert out.getvalue() == "step 5/10 (50%)  1.00 steps/s  ETA 5s  loss 2.5000  probe auc random 0.9000\n"


def test_a_resumed_run_counts_on_from_its_step_and_a_terminal_shows_a_bar_below_the_interval_lines():
    out = io.StringIO()
    progress = StepProgress(1000, step=600, live=True, stream=out, clock=Clock([0.0, 1.0, 2.0]), redraw_every=0)
    progress.on_epoch_begin(12)
    progress.on_train_batch_end(0, {"loss": 4.0})  # step 601: the bar starts here, compiling is behind it
    assert " 601/1000 " in out.getvalue()
    progress.on_train_batch_end(1, {"loss": 4.0})  # step 602 at t = 1: one step in one second
    assert out.getvalue().rsplit("\r", 1)[-1].startswith(" 60%|")
    assert " 602/1000 " in out.getvalue() and "loss 4.0000" in out.getvalue()
    progress.on_epoch_end(12, {"loss": 3.5})
    lines = out.getvalue().split("\n")
    assert lines[-2].endswith("step 602/1,000 (60%)  0.50 steps/s  ETA 13m16s  loss 3.5000")  # kept above the bar
    assert " 602/1000 " in lines[-1]  # the bar, drawn again below the line
    progress.on_train_end()
    assert progress._bar is None


def test_durations():
    assert [format_duration(s) for s in (7.2, 125, 3725)] == ["7s", "2m05s", "1h02m"]
