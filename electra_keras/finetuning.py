"""Fine-tuning and evaluation runs: GLUE-style classification / regression and SQuAD spans.

A fine-tuning run lives in one directory, ``<output_dir>/<run_name>/``:

    finetuned.keras            an ElectraTextClassifier (raw text in) or the span extractor, backbone included
    finetune.json              the task, its labels and every setting of the run
    config.json, vocab.txt, tokenizer_config.json    from the pretrained model
    history.csv, finetuning.png                       train loss and dev metrics per epoch
    metrics.json               the dev metrics of the final model
    predictions/<split>/       predictions in the GLUE / SuperGLUE / SQuAD submission formats

`finetune` starts from any model `electra_keras.convert.load` reads (a pretraining run,
a converted Google or Hugging Face checkpoint, a keras-hub preset) or from a backbone object;
`evaluate` scores a fine-tuned run on a split and writes its predictions.
"""

import csv
import dataclasses
import datetime
import json
import math
import os

import keras

from electra_keras import finetuning_tasks
from electra_keras.atomic import atomic_json
from electra_keras.data import squad
from electra_keras.finetuning_tasks import SQUAD_TASKS

FINETUNED = "finetuned.keras"
SETTINGS = "finetune.json"
HEAD_EPOCHS = 50  # passes over the frozen features when `head_first` fits the head ...
HEAD_MAX_STEPS = 5000  # ... or fewer on a large training set, down to one pass
HEAD_FIRST_SPANS = ("head_first: {} has no classifier head (it applies to classification and regression "
                    "tasks, not to span extraction)")
LONG_TASKS = ("rte", "sts-b")  # the original trains these 10 epochs, the rest of GLUE 3


@dataclasses.dataclass
class Settings:
    """Hyperparameters of a fine-tuning run; None means the original's default for the task
    and model size (REFERENCE section 3)."""

    epochs: float = None  # 3 (RTE, STS-B: 10; SQuAD: 2)
    learning_rate: float = None  # 1e-4 (Large: 5e-5)
    layer_decay: float = None  # 0.8 (Large: 0.9); 1.0 turns layer-wise rates off
    batch_size: int = 32
    max_seq_len: int = None  # 128 (SQuAD: 512, or the model's positions if fewer)
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    dropout: float = 0.1
    pooling: str = "cls"  # classifiers: the [CLS] state (the original) or "mean" of the tokens
    head_first: bool = False  # classifiers: fit the head on the frozen encoder's features first (LP-FT)
    seed: int = 0
    dtype: str = "float32"
    max_train_examples: int = None  # a subset of the training set, for quick runs
    doc_stride: int = 128  # SQuAD windows
    max_query_len: int = 64
    na_threshold: float = squad.NA_THRESHOLD  # SQuAD 2.0 no-answer threshold

    def resolve(self, task_name, backbone):
        large = backbone.hidden_dim >= 1024
        is_squad = task_name in SQUAD_TASKS
        positions = getattr(backbone, "max_sequence_length", 512)
        defaults = dict(
            epochs=2 if is_squad else 10 if task_name in LONG_TASKS else 3,
            learning_rate=5e-5 if large else 1e-4,
            layer_decay=0.9 if large else 0.8,
            max_seq_len=min(512 if is_squad else 128, positions),
        )
        values = {k: (defaults[k] if v is None and k in defaults else v) for k, v in dataclasses.asdict(self).items()}
        if values["max_seq_len"] > positions:
            raise ValueError(f"max_seq_len={values['max_seq_len']}: the model has {positions} positions")
        if values["head_first"] and is_squad:  # said before SQuAD's files are read, which takes minutes
            raise ValueError(HEAD_FIRST_SPANS.format(task_name))
        return Settings(**values)


# ---- loading -----------------------------------------------------------------------------------


def load_backbone(path):
    """(backbone, tokenizer, ElectraConfig or None) from any model `convert.load` reads."""
    from electra_keras import convert
    from electra_keras.convert.mapping import Parts

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such model directory (expected a pretraining run, e.g. "
                                f"saved_models/<run>, or a checkpoint electra-keras convert reads)")
    converted = convert.load(path)
    if converted.tokenizer is None:
        raise FileNotFoundError(f"{path} has no vocab.txt: the vocabulary must travel with the model")
    if converted.kind == "generator":
        raise ValueError(f"{path} holds an MLM generator only; fine-tune its backbone with "
                         f"electra_keras.convert.load(path).model.backbone if that is what you mean")
    return Parts.of(converted.model).backbone, converted.tokenizer, converted.config


# ---- models ------------------------------------------------------------------------------------


def with_dtype(backbone, dtype):
    """`backbone` under another dtype policy (e.g. "mixed_bfloat16"): rebuilt, weights copied.

    A loaded model keeps the policy it was saved with, so setting the global policy is not
    enough to fine-tune it in mixed precision.
    """
    if {layer.dtype_policy.name for layer in backbone.layers if layer.weights} == {dtype}:
        return backbone
    clone = type(backbone).from_config({**backbone.get_config(), "dtype": dtype})
    clone.set_weights(backbone.get_weights())
    return clone


def build_task_model(task, backbone, settings, dtype=None, tokenizer=None):
    """The classifier (or regressor) or span extractor for `task`, and its loss (None: built in).

    A classifier is an `ElectraTextClassifier`; with `tokenizer` it carries a preprocessor, so
    that it takes raw text once saved (the run feeds it token ids)."""
    return finetuning_tasks.get(task).build_model(backbone, settings, dtype, tokenizer)


# ---- the run -----------------------------------------------------------------------------------


class DevEvaluation(keras.callbacks.Callback):
    """Scores the dev set after every epoch; keeps the rows for history.csv and the plot."""

    def __init__(self, score, every_epoch=True, verbose=1):
        super().__init__()
        self.score = score
        self.every_epoch = every_epoch
        self.verbose = verbose
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "train_loss": float((logs or {}).get("loss", float("nan")))}
        if self.every_epoch or epoch + 1 == self.params.get("epochs"):
            row.update(self.score())
        self.rows.append(row)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch" and isinstance(v, float))
        if self.verbose:
            print(f"epoch {epoch + 1}: {shown}", flush=True)


def finetune(model, task, data_dir=None, output_dir="saved_models", run_name=None, tokenizer=None,
             settings=None, overwrite=False, verbose=1, eval_every_epoch=True, **overrides):
    """Fine-tune a discriminator on a task; returns (run directory, dev metrics).

    Args:
        model: a model directory or checkpoint (`electra_keras.convert.load` reads it), or a
            backbone object (ours or keras-hub's) together with `tokenizer`.
        task: a GLUE task name ("cola", "sst-2", "mrpc", "sts-b", "qqp", "mnli", "qnli", "rte",
            "wnli"), "boolq", "squad" / "squad2", or a `tasks.TaskSpec` (`tasks.custom_task`).
        data_dir: the task's directory as distributed (GLUE: train.tsv, dev.tsv, test.tsv;
            SQuAD: train-v1.1.json, dev-v1.1.json); unused for custom tasks (paths are in them).
        output_dir, run_name: the run goes to output_dir/run_name (default <model>-<task>-<time>).
        settings: a `Settings`; keyword `overrides` replace its fields (e.g. epochs=1).
    """
    task = finetuning_tasks.get(task)
    task_name = task.name
    settings = dataclasses.replace(settings or Settings(), **overrides)
    if isinstance(model, (str, os.PathLike)):
        source = os.path.abspath(model)
        backbone, tokenizer, config = load_backbone(model)
    else:
        source, backbone, config = type(model).__name__, model, None
        if tokenizer is None:
            raise ValueError("finetune(backbone, ...) needs the tokenizer of its vocabulary: tokenizer=")
    backbone = with_dtype(backbone, settings.dtype)
    settings = settings.resolve(task_name, backbone)
    say = print if verbose else (lambda *a, **k: None)

    base = os.path.basename(os.path.normpath(source)) if os.path.sep in source else source
    run_name = run_name or f"{base}-{task_name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    run_dir = os.path.join(output_dir, run_name)
    if os.path.exists(os.path.join(run_dir, FINETUNED)) and not overwrite:
        raise FileExistsError(f"{run_dir} holds a fine-tuned model; pick another --run-name or pass --overwrite")

    # --- data ---
    for split in ("train", "dev"):  # both files found before either is read (SQuAD's take minutes)
        task.locate(data_dir, split)
    train = task.read(data_dir, "train", tokenizer, settings, training=True, limit=settings.max_train_examples)
    if train.y is None:
        raise ValueError(f"the training set of {task_name} has examples without a label")
    dev = task.read(data_dir, "dev", tokenizer, settings)
    num_train = train.size
    steps_per_epoch = math.ceil(num_train / settings.batch_size)
    total_steps = max(1, round(settings.epochs * steps_per_epoch))

    # --- model ---
    from electra_keras.optimizers import finetuning_adamw

    keras.utils.set_random_seed(settings.seed)
    task_model, loss = task.build_model(backbone, settings, dtype=settings.dtype, tokenizer=tokenizer)
    if settings.head_first:
        fitted = fit_head(task_model, loss, train, task_name)
        say(f"finetune {task_name}: head fitted on the frozen encoder's features first ({fitted})")
    optimizer = finetuning_adamw(task_model, backbone, settings.learning_rate, total_steps,
                                 settings.warmup_fraction, settings.layer_decay, settings.weight_decay)
    task_model.compile(optimizer=optimizer, loss=loss)
    say(f"finetune {task_name}: {num_train:,} training examples ({dev.size:,} dev), "
        f"{total_steps} steps of {settings.batch_size} x {settings.max_seq_len}, lr {settings.learning_rate} "
        f"with layer decay {settings.layer_decay}, {backbone.num_layers} layers, backend {keras.backend.backend()}")

    # --- training ---
    dev_eval = DevEvaluation(lambda: task.score(task_model, dev, settings), eval_every_epoch, verbose)
    epochs = math.ceil(settings.epochs)
    task_model.fit(train.x, train.y, batch_size=settings.batch_size, epochs=epochs, shuffle=True,
                   callbacks=[dev_eval, _StopAt(total_steps)], verbose=_fit_verbosity(verbose))

    # --- the run directory ---
    os.makedirs(run_dir, exist_ok=True)
    tokenizer.save(run_dir)
    if config is not None:
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            f.write(config.to_json())
    record = {"task": task.to_json(), "source": source, "settings": dataclasses.asdict(settings),
              "data_dir": os.path.abspath(data_dir) if data_dir else None,
              "train_examples": num_train, "steps": total_steps, "backend": keras.backend.backend()}
    atomic_json(record, os.path.join(run_dir, SETTINGS))
    task_model.save(os.path.join(run_dir, f"{FINETUNED}.partial.keras"))
    os.replace(os.path.join(run_dir, f"{FINETUNED}.partial.keras"), os.path.join(run_dir, FINETUNED))
    _write_history(run_dir, dev_eval.rows, task_name)
    metrics = {k: v for k, v in dev_eval.rows[-1].items() if k not in ("epoch", "train_loss")}
    atomic_json({"split": "dev", **metrics}, os.path.join(run_dir, "metrics.json"))
    _write_predictions(run_dir, task, task_model, dev, settings)
    say(summary_line(task_name, metrics, run_dir))
    return run_dir, metrics


def fit_head(task_model, loss, train, task_name="the task", epochs=HEAD_EPOCHS, learning_rate=1e-3):
    """Fit a classifier's head alone on its frozen encoder's features, in place ("LP-FT").

    Linear probing, then fine-tuning (Kumar et al., 2022, arXiv 2202.10054): a randomly
    initialised head sends random gradients into the encoder in the first steps of fine-tuning
    and distorts what pretraining learnt; a head fitted first does so less. The features are the
    pooled states the head reads, computed once without dropout; the head is fitted to them by
    Adam in batches of 32 (`head_passes(len(features), epochs)` passes). Returns a line with its
    training accuracy or loss.
    """
    import numpy as np

    try:
        head = task_model.get_layer("classifier")
    except ValueError:
        raise ValueError(HEAD_FIRST_SPANS.format(task_name)) from None
    pooled = keras.Model(task_model.inputs, head.input)
    features = np.asarray(pooled.predict(train.x, batch_size=128, verbose=0), "float32")
    probe = keras.Sequential([keras.Input((features.shape[-1],)), keras.layers.Dense(head.units)])
    probe.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    history = probe.fit(features, train.y, batch_size=32, epochs=head_passes(len(features), epochs), shuffle=True,
                        verbose=0)
    head.set_weights(probe.get_weights())
    if head.units == 1:
        return f"training loss {history.history['loss'][-1]:.4f}"
    accuracy = float(np.mean(np.argmax(probe.predict(features, verbose=0), -1) == np.asarray(train.y)))
    return f"training accuracy {accuracy:.4f}"


def head_passes(num_examples, epochs=HEAD_EPOCHS, batch_size=32, max_steps=HEAD_MAX_STEPS):
    """Passes over the features for `fit_head`: `epochs`, or fewer where they would take more
    than `max_steps` batches (at least one pass)."""
    return max(1, min(epochs, math.ceil(max_steps / math.ceil(num_examples / batch_size))))


class _StopAt(keras.callbacks.Callback):
    """Ends training after `steps` updates (fractional epochs)."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True


def evaluate(run_dir, data_dir=None, split="dev", verbose=1):
    """Score a fine-tuned run on `split` (when it has labels) and write its predictions.

    `data_dir` defaults to the directory the run was fine-tuned on.

    Returns the metrics ({} for an unlabeled split such as GLUE's test sets). Metrics go to
    run_dir/predictions/<split>/metrics.json, predictions beside them in the submission format.
    """
    settings_path = os.path.join(run_dir, SETTINGS)
    if not os.path.isfile(settings_path):
        raise FileNotFoundError(f"{run_dir}: no {SETTINGS}; expected a directory `electra-keras finetune` wrote")
    with open(settings_path) as f:
        record = json.load(f)
    task = finetuning_tasks.from_json(record["task"])
    settings = Settings(**record["settings"])
    data_dir = data_dir or record.get("data_dir")  # default: where the run was fine-tuned
    from electra_keras.convert.native import load_keras
    from electra_keras.data.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_directory(run_dir)
    model = load_keras(os.path.join(run_dir, FINETUNED))
    data = task.read(data_dir, split, tokenizer, settings)
    metrics = _write_predictions(run_dir, task, model, data, settings)
    if verbose:
        shown = _format(metrics) if metrics else "no labels: predictions only"
        print(f"evaluate {split}: {shown}; written to {os.path.join(run_dir, 'predictions', split)}/")
    return metrics


def _write_predictions(run_dir, task, model, split, settings):
    """Predictions (and metrics, when the split is labeled) under run_dir/predictions/<split>/."""
    out = os.path.join(run_dir, "predictions", split.name)
    os.makedirs(out, exist_ok=True)
    metrics = task.write_predictions(model, split, out, settings)
    if metrics:
        atomic_json({"split": split.name, **metrics}, os.path.join(out, "metrics.json"))
    return metrics


# ---- files -------------------------------------------------------------------------------------


def summary_line(task_name, metrics, run_dir):
    return f"finetune {task_name}: dev {_format(metrics)}; saved to {run_dir}/"


def _format(metrics):
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


def _write_history(run_dir, rows, task_name):
    """history.csv and finetuning.png: train loss and the dev metrics per epoch."""
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(os.path.join(run_dir, "history.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = [r["epoch"] for r in rows]
    left.plot(epochs, [r["train_loss"] for r in rows], marker="o")
    left.set(title="train loss", xlabel="epoch")
    for key in fields:
        if key not in ("epoch", "train_loss") and all(isinstance(r.get(key), float) for r in rows) \
                and not key.endswith(("_total", "threshold")):
            right.plot(epochs, [r[key] for r in rows], marker="o", label=key)
    right.set(title=f"dev ({task_name})", xlabel="epoch")
    if right.get_lines():  # none when dev was scored only at the end
        right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(run_dir, "finetuning.png"), dpi=90)
    plt.close(fig)


def _fit_verbosity(verbose):
    import sys

    if not verbose:
        return 0
    return 1 if sys.stdout.isatty() else 2


__all__ = ["Settings", "finetune", "evaluate", "load_backbone", "build_task_model"]
