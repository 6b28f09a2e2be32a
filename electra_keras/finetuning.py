"""Fine-tuning and evaluation runs: GLUE-style classification / regression and SQuAD spans.

A fine-tuning run lives in one directory, ``<output_dir>/<run_name>/``:

    finetuned.keras            the classifier or span extractor (backbone included)
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

from electra_keras import evaluation
from electra_keras.data import squad, tasks
from electra_keras.atomic import atomic_json

FINETUNED = "finetuned.keras"
SETTINGS = "finetune.json"
SQUAD_TASKS = {"squad": False, "squad1": False, "squad1.1": False, "squad-v1.1": False,
               "squad2": True, "squad2.0": True, "squad-v2.0": True}
SQUAD_FILES = {False: ("train-v1.1.json", "dev-v1.1.json"), True: ("train-v2.0.json", "dev-v2.0.json")}
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


def _task(task):
    if isinstance(task, tasks.TaskSpec):
        return task
    name = str(task).lower()
    return name if name in SQUAD_TASKS else tasks.get_task(name)


def _task_to_json(task):
    return {"squad": task, "v2": SQUAD_TASKS[task]} if isinstance(task, str) else dataclasses.asdict(task)


def _task_from_json(record):
    if "squad" in record:
        return record["squad"]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()}
    if fields.get("positional"):
        n, texts, label = fields["positional"]
        fields["positional"] = (n, tuple(texts), label)
    return tasks.TaskSpec(**fields)


# ---- data --------------------------------------------------------------------------------------


def _classification_data(task, data_dir, split, tokenizer, settings, limit=None):
    examples = tasks.read_examples(task, data_dir, split)
    if limit:
        examples = examples[:limit]
    x = tasks.encode_examples(examples, tokenizer, settings.max_seq_len)
    labeled = all(e.label is not None for e in examples)
    y = tasks.label_ids(task, examples) if labeled else None
    return examples, x, y


def _squad_file(data_dir, v2, split):
    train, dev = SQUAD_FILES[v2]
    candidates = [train if split == "train" else dev, f"{split}.json"]
    for name in candidates:
        if os.path.isfile(os.path.join(data_dir or ".", name)):
            return os.path.join(data_dir or ".", name)
    raise FileNotFoundError(f"{data_dir}: no {' or '.join(candidates)} (SQuAD {'2.0' if v2 else '1.1'} {split} set)")


def _squad_data(v2, path, tokenizer, settings, training, limit=None):
    examples = squad.read_squad(path, is_training=training)
    if limit:
        examples = examples[:limit]
    features = squad.featurize(examples, tokenizer, settings.max_seq_len, settings.doc_stride,
                               settings.max_query_len, is_training=training)
    return examples, features, squad.feature_arrays(features)


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


def build_task_model(task, backbone, settings, dtype=None):
    """The classifier (or regressor) or span extractor for `task`, and its loss (None: built in)."""
    from electra_keras.models import ElectraClassifier, ElectraSpanExtractor

    if isinstance(task, str):  # SQuAD
        model = ElectraSpanExtractor(backbone, answerable=SQUAD_TASKS[task], dtype=dtype,
                                     name=f"{task}_span_extractor")
        return model, None
    name = task.name.replace("-", "_")
    model = ElectraClassifier(backbone, task.num_labels, dropout=settings.dropout, seed=settings.seed,
                              dtype=dtype, pooling=settings.pooling, name=f"{name}_classifier")
    if task.kind == tasks.REGRESSION:
        return model, keras.losses.MeanSquaredError()
    return model, keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _predict_classes(model, task, x, batch_size=128):
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    if task.kind == tasks.REGRESSION:
        return logits[:, 0] * task.regression_scale, logits[:, 0]
    return logits.argmax(-1), logits


def _score_classification(task, labels, predictions):
    if task.kind == tasks.REGRESSION:
        labels = labels * task.regression_scale
    return evaluation.compute_metrics(task.metrics, labels, predictions)


def _score_squad(v2, path, examples, features, outputs, settings):
    with open(path, encoding="utf-8") as f:
        dataset = json.load(f)
    predictions, null_odds, _ = squad.postprocess(examples, features, outputs, v2=v2,
                                                  na_threshold=settings.na_threshold)
    scores = evaluation.squad_scores(dataset, predictions)
    if v2:  # the threshold that would have been best on this set, as the official script reports
        raw, _, _ = squad.postprocess(examples, features, outputs, v2=v2, na_threshold=math.inf)
        scores["best_f1"], scores["best_f1_threshold"] = evaluation.best_na_threshold(dataset, raw, null_odds)
    return scores, predictions, null_odds


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
    task = _task(task)
    task_name = task if isinstance(task, str) else task.name
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
    if isinstance(task, str):
        v2 = SQUAD_TASKS[task]
        dev_path = _squad_file(data_dir, v2, "dev")
        _, _, train = _squad_data(v2, _squad_file(data_dir, v2, "train"), tokenizer, settings, True,
                                  settings.max_train_examples)
        x_train = {k: train[k] for k in ("token_ids", "segment_ids", "padding_mask", "start_positions")}
        y_train = {k: train[k] for k in ("start_positions", "end_positions", "is_impossible")}
        dev_examples, dev_features, dev = _squad_data(v2, dev_path, tokenizer, settings, False)
        x_dev = {k: dev[k] for k in ("token_ids", "segment_ids", "padding_mask")}

        def score():
            outputs = task_model.predict(x_dev, batch_size=64, verbose=0)
            return _score_squad(v2, dev_path, dev_examples, dev_features, outputs, settings)[0]
    else:
        _, x_train, y_train = _classification_data(task, data_dir, "train", tokenizer, settings,
                                                   settings.max_train_examples)
        if y_train is None:
            raise ValueError(f"the training set of {task.name} has examples without a label")
        dev_examples, x_dev, y_dev = _classification_data(task, data_dir, "dev", tokenizer, settings)

        def score():
            return _score_classification(task, y_dev, _predict_classes(task_model, task, x_dev)[0])
    num_train = len(x_train["token_ids"])
    steps_per_epoch = math.ceil(num_train / settings.batch_size)
    total_steps = max(1, round(settings.epochs * steps_per_epoch))

    # --- model ---
    from electra_keras.optimizers import finetuning_adamw

    keras.utils.set_random_seed(settings.seed)
    task_model, loss = build_task_model(task, backbone, settings, dtype=settings.dtype)
    optimizer = finetuning_adamw(task_model, backbone, settings.learning_rate, total_steps,
                                 settings.warmup_fraction, settings.layer_decay, settings.weight_decay)
    task_model.compile(optimizer=optimizer, loss=loss)
    say(f"finetune {task_name}: {num_train:,} training examples ({len(x_dev['token_ids']):,} dev), "
        f"{total_steps} steps of {settings.batch_size} x {settings.max_seq_len}, lr {settings.learning_rate} "
        f"with layer decay {settings.layer_decay}, {backbone.num_layers} layers, backend {keras.backend.backend()}")

    # --- training ---
    dev_eval = DevEvaluation(score, eval_every_epoch, verbose)
    epochs = math.ceil(settings.epochs)
    task_model.fit(x_train, y_train, batch_size=settings.batch_size, epochs=epochs, shuffle=True, callbacks=[dev_eval, _StopAt(total_steps)], verbose=_fit_verbosity(verbose))

    # --- the run directory ---
    os.makedirs(run_dir, exist_ok=True)
    tokenizer.save(run_dir)
    if config is not None:
        with open(os.path.join(run_dir, "config.json"), "w") as f:
            f.write(config.to_json())
    record = {"task": _task_to_json(task), "source": source, "settings": dataclasses.asdict(settings),
              "data_dir": os.path.abspath(data_dir) if data_dir else None,
              "train_examples": num_train, "steps": total_steps, "backend": keras.backend.backend()}
    atomic_json(record, os.path.join(run_dir, SETTINGS))
    task_model.save(os.path.join(run_dir, f"{FINETUNED}.partial.keras"))
    os.replace(os.path.join(run_dir, f"{FINETUNED}.partial.keras"), os.path.join(run_dir, FINETUNED))
    _write_history(run_dir, dev_eval.rows, task)
    metrics = {k: v for k, v in dev_eval.rows[-1].items() if k not in ("epoch", "train_loss")}
    atomic_json({"split": "dev", **metrics}, os.path.join(run_dir, "metrics.json"))
    _write_predictions(run_dir, task, task_model, "dev", dev_examples,
                       x_dev if not isinstance(task, str) else (dev_path, dev_features, x_dev), settings)
    say(summary_line(task_name, metrics, run_dir))
    return run_dir, metrics


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
    task = _task_from_json(record["task"])
    settings = Settings(**record["settings"])
    data_dir = data_dir or record.get("data_dir")  # default: where the run was fine-tuned
    from electra_keras.convert.native import load_keras
    from electra_keras.data.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.from_directory(run_dir)
    model = load_keras(os.path.join(run_dir, FINETUNED))
    if isinstance(task, str):
        v2 = SQUAD_TASKS[task]
        path = _squad_file(data_dir, v2, split)
        examples, features, arrays = _squad_data(v2, path, tokenizer, settings, False)
        x = {k: arrays[k] for k in ("token_ids", "segment_ids", "padding_mask")}
        metrics = _write_predictions(run_dir, task, model, split, examples, (path, features, x), settings)
    else:
        examples, x, _ = _classification_data(task, data_dir, split, tokenizer, settings)
        metrics = _write_predictions(run_dir, task, model, split, examples, x, settings)
    if verbose:
        shown = _format(metrics) if metrics else "no labels: predictions only"
        print(f"evaluate {split}: {shown}; written to {os.path.join(run_dir, 'predictions', split)}/")
    return metrics


def _write_predictions(run_dir, task, model, split, examples, data, settings):
    """Predictions (and metrics, when the split is labeled) under run_dir/predictions/<split>/."""
    out = os.path.join(run_dir, "predictions", split)
    os.makedirs(out, exist_ok=True)
    metrics = {}
    if isinstance(task, str):
        path, features, x = data
        outputs = model.predict(x, batch_size=64, verbose=0)
        v2 = SQUAD_TASKS[task]
        labeled = all(e.answers or e.is_impossible for e in examples)
        if labeled:
            metrics, predictions, null_odds = _score_squad(v2, path, examples, features, outputs, settings)
        else:
            predictions, null_odds, _ = squad.postprocess(examples, features, outputs, v2=v2,
                                                          na_threshold=settings.na_threshold)
        squad.write_predictions(os.path.join(out, "predictions.json"), predictions)
        if v2:
            squad.write_predictions(os.path.join(out, "null_odds.json"), null_odds)
    else:
        x = data
        predictions, _ = _predict_classes(model, task, x)
        tasks.write_predictions(task, examples, predictions if task.kind != tasks.REGRESSION
                                else predictions / task.regression_scale, out, split)
        if all(e.label is not None for e in examples):
            metrics = _score_classification(task, tasks.label_ids(task, examples), predictions)
    if metrics:
        atomic_json({"split": split, **metrics}, os.path.join(out, "metrics.json"))
    return metrics


# ---- files -------------------------------------------------------------------------------------


def summary_line(task_name, metrics, run_dir):
    return f"finetune {task_name}: dev {_format(metrics)}; saved to {run_dir}/"


def _format(metrics):
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


def _write_history(run_dir, rows, task):
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
    right.set(title=f"dev ({task if isinstance(task, str) else task.name})", xlabel="epoch")
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
