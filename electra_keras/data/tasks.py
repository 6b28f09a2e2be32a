"""Fine-tuning tasks: sentence(-pair) classification and regression.

A `TaskSpec` says where a task's files are, how their columns are laid out, what its labels
and metrics are and how its predictions are submitted. `TASKS` holds the GLUE tasks (in the
layout GLUE's download script writes) and BoolQ (SuperGLUE's JSON lines); `custom_task`
describes any CSV / TSV / JSON lines files.

Reading:
- TSV is read as BERT's ``run_classifier`` does: tab-separated, no quoting
  (``csv.QUOTE_NONE``), so quotes inside sentences are kept as they are;
- CSV is comma-separated with the usual quoting; both need a header line;
- JSON lines: one object per line, fields named by `text_columns` and `label_column`.
Columns are found by their header names; the GLUE files without a header (CoLA's train.tsv
and dev.tsv) are read by position. Test splits (names starting with ``test``) may lack the
label column: their examples get ``label=None``. Errors are `InputError` naming the file,
the line (or the column) and what was expected.

`encode_examples` packs the examples as BERT does, ``[CLS] A [SEP] (B [SEP])`` padded to a
fixed length, and `write_predictions` writes GLUE's (or SuperGLUE's) submission files.
"""

import csv
import dataclasses
import json
import math
import os
import tempfile
import warnings

import numpy as np

from electra_keras.data.text import InputError

CLASSIFICATION = "classification"
REGRESSION = "regression"
NLI_LABELS = ("entailment", "not_entailment")
BINARY_LABELS = ("0", "1")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A fine-tuning task.

    Attributes:
      name: canonical lower-case name ("cola", "sst-2", ..., "boolq", or "custom").
      kind: "classification" or "regression".
      labels: label strings in class order (class id = position); () for regression.
      metrics: names for `electra_keras.evaluation.compute_metrics`.
      main_metric: the metric to report (GLUE's: mcc for CoLA, f1 for MRPC and QQP, spearman
        for STS-B, accuracy otherwise).
      splits: split name -> file name (relative to the data directory, or absolute).
      submission_name: the stem of the submission file ("CoLA", "MNLI-m", "BoolQ", ...).
      regression_scale: regression labels are divided by it for training and predictions
        multiplied by it when written (STS-B: 5.0, so the model learns score / 5).
      text_columns: header names (JSON fields) of text_a and, for pairs, text_b.
      label_column: header name (JSON field) of the label.
      id_column: the file's own example id column, where it has one ("index", "id", "idx").
      headerless_splits: splits whose files have no header line: columns are taken by position.
      positional: for those: (number of columns, positions of the texts, position of the label).
      skip_malformed: skip (and count, and warn about) rows with the wrong number of columns,
        as BERT does for QQP, instead of raising.
      regression_range: predictions are clipped to it when written (STS-B: 0..5).
      prediction_format: "tsv" (GLUE: ``index<TAB>prediction``) or "jsonl" (SuperGLUE).
    """

    name: str
    kind: str
    labels: tuple
    metrics: tuple
    main_metric: str
    splits: dict
    submission_name: str
    regression_scale: float = 1.0
    text_columns: tuple = ()
    label_column: str | None = "label"
    id_column: str | None = None
    headerless_splits: tuple = ()
    positional: tuple | None = None
    skip_malformed: bool = False
    regression_range: tuple | None = None
    prediction_format: str = "tsv"

    @property
    def num_labels(self):
        """Output units of the task head: the number of classes, or 1 for regression."""
        return len(self.labels) if self.kind == CLASSIFICATION else 1

    @property
    def is_pair(self):
        return len(self.text_columns) == 2


@dataclasses.dataclass
class Example:
    """One example.

    ``guid`` is ``"<split>-<id>"``, the id being the file's id column where it has one and the
    running number of the example otherwise. ``label`` is the label string (classification),
    a float (regression), or None (unlabeled test data). ``index`` is the file's own id
    (written back in submissions), ``source`` the ``file:line`` it came from (for messages).
    """

    guid: str
    text_a: str
    text_b: str | None
    label: object
    index: object = dataclasses.field(default=None, compare=False)
    source: str | None = dataclasses.field(default=None, compare=False)


def _glue(name, text_columns, labels, submission_name, label_column="label", id_column="index",
          metrics=("accuracy",), main_metric="accuracy", **extra):
    splits = extra.pop("splits", {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"})
    return TaskSpec(
        name=name, kind=extra.pop("kind", CLASSIFICATION), labels=labels, metrics=metrics,
        main_metric=main_metric, splits=splits, submission_name=submission_name,
        text_columns=text_columns, label_column=label_column, id_column=id_column, **extra,
    )


TASKS = {
    "cola": _glue(
        "cola", ("sentence",), BINARY_LABELS, "CoLA", metrics=("mcc", "accuracy"),
        main_metric="mcc", headerless_splits=("train", "dev"), positional=(4, (3,), 1),
    ),
    "sst-2": _glue("sst-2", ("sentence",), BINARY_LABELS, "SST-2"),
    "mrpc": _glue(
        "mrpc", ("#1 String", "#2 String"), BINARY_LABELS, "MRPC", label_column="Quality",
        metrics=("accuracy", "f1"), main_metric="f1",
    ),
    "sts-b": _glue(
        "sts-b", ("sentence1", "sentence2"), (), "STS-B", label_column="score",
        kind=REGRESSION, metrics=("pearson", "spearman"), main_metric="spearman",
        regression_scale=5.0, regression_range=(0.0, 5.0),
    ),
    "qqp": _glue(
        "qqp", ("question1", "question2"), BINARY_LABELS, "QQP", label_column="is_duplicate",
        id_column="id", metrics=("accuracy", "f1"), main_metric="f1", skip_malformed=True,
    ),
    "mnli": _glue(
        "mnli", ("sentence1", "sentence2"), ("contradiction", "entailment", "neutral"), "MNLI-m",
        label_column="gold_label",
        splits={
            "train": "train.tsv",
            "dev": "dev_matched.tsv",
            "dev_mismatched": "dev_mismatched.tsv",
            "test": "test_matched.tsv",
            "test_mismatched": "test_mismatched.tsv",
        },
    ),
    "qnli": _glue("qnli", ("question", "sentence"), NLI_LABELS, "QNLI"),
    "rte": _glue("rte", ("sentence1", "sentence2"), NLI_LABELS, "RTE"),
    "wnli": _glue("wnli", ("sentence1", "sentence2"), BINARY_LABELS, "WNLI"),
    "boolq": _glue(
        "boolq", ("question", "passage"), ("False", "True"), "BoolQ", id_column="idx",
        splits={"train": "train.jsonl", "dev": "val.jsonl", "test": "test.jsonl"},
        prediction_format="jsonl",
    ),
}

ALIASES = {
    "sst2": "sst-2", "sst": "sst-2", "stsb": "sts-b", "sts": "sts-b", "mnli-m": "mnli",
    "mnli-mm": "mnli", "mnlim": "mnli", "mnlimm": "mnli", "superglue-boolq": "boolq",
}


def get_task(name):
    """The `TaskSpec` named `name` (case-insensitive; "sst2", "stsb", "mnli-m", ... accepted).

    A `TaskSpec` is returned as it is.
    """
    if isinstance(name, TaskSpec):
        return name
    key = str(name).strip().lower().replace("_", "-")
    key = ALIASES.get(key, key)
    if key not in TASKS:
        raise ValueError(
            f"unknown task {name!r}: expected one of {', '.join(TASKS)} (or a custom task "
            f"from custom_task())"
        )
    return TASKS[key]


def submission_filename(task, split="test"):
    """GLUE's (SuperGLUE's) file name for `split`'s predictions: "MNLI-mm.tsv", "BoolQ.jsonl"."""
    task = get_task(task)
    stem = task.submission_name
    if task.name == "mnli" and "mismatched" in split:
        stem = "MNLI-mm"
    return f"{stem}.{task.prediction_format}"


# ----------------------------------------------------------------------------------- reading


def _file_format(path):
    lower = os.fspath(path).lower()
    for suffixes, fmt in (((".tsv",), "tsv"), ((".csv",), "csv"), ((".jsonl", ".json"), "jsonl")):
        if lower.endswith(suffixes):
            return fmt
    raise InputError(f"{path}: unknown file type: expected a name ending in .csv, .tsv or .jsonl")


def read_examples(task, data_dir=None, split="train"):
    """Read `split` of `task` from `data_dir` (ignored for absolute paths, as custom tasks'),

    e.g. ``read_examples("mnli", "glue_data/MNLI", "dev_mismatched")``.
    """
    task = get_task(task)
    if split not in task.splits:
        raise ValueError(
            f"task {task.name!r} has no split {split!r}: expected one of {', '.join(task.splits)}"
        )
    path = os.path.join(os.fspath(data_dir or ""), task.splits[split])
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file (the {split!r} split of task {task.name!r})")
    return read_file_examples(path, task, split)


def read_file_examples(path, task, split="train"):
    """Read the examples of one file of `task` (format by extension: .tsv, .csv, .jsonl).

    Test splits (`split` starting with "test") may lack the label: their labels are None.
    """
    task = get_task(task)
    path = os.fspath(path)
    fmt = _file_format(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            if fmt == "jsonl":
                return _read_jsonl(f, path, task, split)
            return _read_table(f, path, task, split, fmt)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _parse_label(task, value, where, column):
    """A label value as an Example holds it: a string (classification) or a float."""
    if task.kind == REGRESSION:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is None or not math.isfinite(number):
            raise InputError(f"{where}: expected a number in {column!r}, found {value!r}")
        return number
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, int, float)):
        return str(value)  # True -> "True", 1 -> "1"
    raise InputError(f"{where}: expected a label string or number in {column!r}, found {value!r}")


def _read_table(f, path, task, split, fmt):
    if fmt == "tsv":
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        what = "tab-separated columns"
    else:
        reader = csv.reader(f)
        what = "comma-separated columns"
    unlabeled_ok = split.startswith("test")
    rows = _rows(reader, path)
    headerless = split in task.headerless_splits
    if headerless:
        num_columns, text_positions, label_position = task.positional
        header = None
    else:
        first = next(rows, None)
        if first is None:
            raise InputError(f"{path} is empty: expected a header line and rows")
        _, header = first
        header = [name.strip() for name in header]
        num_columns = len(header)
        text_positions = tuple(_column(header, name, path) for name in task.text_columns)
        label_position = None
        if task.label_column is not None:
            if task.label_column in header:
                label_position = header.index(task.label_column)
            elif not unlabeled_ok:
                _column(header, task.label_column, path)  # raises
    id_position = header.index(task.id_column) if header and task.id_column in header else None
    examples, skipped = [], 0
    for line, row in rows:
        if len(row) != num_columns:
            if task.skip_malformed:
                skipped += 1
                continue
            raise InputError(f"{path}:{line}: expected {num_columns} {what}, found {len(row)}")
        where = f"{path}:{line}"
        empty = [p for p in text_positions if not row[p].strip()]
        if empty and task.skip_malformed:
            skipped += 1
            continue
        if empty and task.name not in TASKS:  # GLUE's own files keep theirs, as the original reads them
            raise InputError(f"{where}: empty text in {_column_name(header, empty[0])}: expected text")
        label = None
        if label_position is not None and (row[label_position].strip() or not unlabeled_ok):
            column = _column_name(header, label_position)
            if not row[label_position].strip():
                raise InputError(f"{where}: empty label in {column}: expected "
                                 + ("a number" if task.kind == REGRESSION else "a class label"))
            label = _parse_label(task, row[label_position], where, header[label_position] if header else column)
        index = row[id_position] if id_position is not None else None
        examples.append(
            Example(
                guid=f"{split}-{index if index is not None else len(examples)}",
                text_a=row[text_positions[0]],
                text_b=row[text_positions[1]] if len(text_positions) > 1 else None,
                label=label,
                index=index,
                source=where,
            )
        )
    if skipped:
        warnings.warn(
            f"{path}: skipped {skipped} malformed line(s) without the {num_columns} {what} "
            f"(as BERT does)",
            stacklevel=3,
        )
    if not examples:
        if headerless:
            raise InputError(f"{path} is empty: expected rows of {num_columns} {what}")
        raise InputError(f"{path}: no data rows: expected rows after the header line")
    return examples


def _rows(reader, path):
    """(first line number, row) of each non-blank row; csv errors become InputError."""
    line = 1
    try:
        for row in reader:
            if row:
                yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise InputError(f"{path}:{line}: {error}") from None


def _column_name(header, position):
    """How a message names a column: "column 'label'" by its header, "column 3" without one."""
    return f"column {header[position]!r}" if header else f"column {position + 1}"


def _column(header, name, path):
    if name not in header:
        found = ", ".join(repr(h) for h in header)
        raise InputError(f"{path}: no column {name!r} in the header (found columns {found})")
    return header.index(name)


def _read_jsonl(f, path, task, split):
    unlabeled_ok = split.startswith("test")
    examples, saw_line = [], False
    for line, text in enumerate(f, 1):
        if not text.strip():
            continue
        saw_line = True
        where = f"{path}:{line}"
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, found {type(record).__name__}")
        texts = []
        for field in task.text_columns:
            if field not in record:
                raise InputError(f"{where}: no {field!r} field (fields: {', '.join(record)})")
            if not isinstance(record[field], str):
                raise InputError(
                    f"{where}: field {field!r} is {type(record[field]).__name__}, expected text"
                )
            if not record[field].strip() and task.name not in TASKS:
                raise InputError(f"{where}: empty text in field {field!r}: expected text")
            texts.append(record[field])
        label = None
        if task.label_column is not None:
            value = record.get(task.label_column)
            if value is None:
                if not unlabeled_ok:
                    raise InputError(
                        f"{where}: no {task.label_column!r} field (fields: {', '.join(record)})"
                    )
            elif isinstance(value, str) and not value.strip():
                raise InputError(f"{where}: empty label in field {task.label_column!r}")
            else:
                label = _parse_label(task, value, where, task.label_column)
        index = record.get(task.id_column) if task.id_column else None
        examples.append(
            Example(
                guid=f"{split}-{index if index is not None else len(examples)}",
                text_a=texts[0],
                text_b=texts[1] if len(texts) > 1 else None,
                label=label,
                index=index,
                source=where,
            )
        )
    if not saw_line:
        raise InputError(f"{path} is empty: expected one JSON object per line")
    return examples


def _label_sort_key(labels):
    try:
        values = {label: float(label) for label in labels}
    except ValueError:
        return None
    return lambda label: (values[label], label)


def custom_task(path_or_paths, text_columns, label_column, kind=CLASSIFICATION, labels=None,
                name="custom"):
    """A task over your own CSV / TSV / JSON lines files.

    Args:
      path_or_paths: the training file; or a list of files for the splits ("train", "dev",
        "test") in that order; or a dict split name -> file. The format of each file follows
        its extension: .csv (comma, header, quoting), .tsv (tab, header, no quoting),
        .jsonl / .json (one JSON object per line).
      text_columns: the column (field) name of the text, or two names for sentence pairs.
      label_column: the column (field) name of the label.
      kind: "classification" or "regression" (labels are numbers, taken as they are).
      labels: the class labels in class order. When not given (classification) they are the
        sorted set of the labels seen in the training file: labels are strings (JSON ints keep
        their string form "0", "1", JSON booleans become "False" / "True"), sorted by numeric
        value when they are all numbers and as strings otherwise.
    """
    if kind not in (CLASSIFICATION, REGRESSION):
        raise ValueError(f"kind must be {CLASSIFICATION!r} or {REGRESSION!r}, not {kind!r}")
    if isinstance(path_or_paths, (str, os.PathLike)):
        splits = {"train": path_or_paths}
    elif isinstance(path_or_paths, dict):
        splits = dict(path_or_paths)
    else:
        paths = list(path_or_paths)
        if not 1 <= len(paths) <= 3:
            raise ValueError(f"expected 1 to 3 files (train, dev, test), got {len(paths)}")
        splits = dict(zip(("train", "dev", "test"), paths))
    if not splits:
        raise ValueError("no files given")
    splits = {split: os.path.abspath(os.fspath(path)) for split, path in splits.items()}
    for path in splits.values():
        _file_format(path)
    if isinstance(text_columns, str):
        text_columns = (text_columns,)
    text_columns = tuple(text_columns)
    if len(text_columns) not in (1, 2):
        raise ValueError(f"text_columns must name one or two columns, got {text_columns!r}")
    is_jsonl = _file_format(splits.get("train", next(iter(splits.values())))) == "jsonl"
    task = TaskSpec(
        name=name,
        kind=kind,
        labels=(),
        metrics=("accuracy",) if kind == CLASSIFICATION else ("pearson", "spearman"),
        main_metric="accuracy" if kind == CLASSIFICATION else "pearson",
        splits=splits,
        submission_name=name,
        text_columns=text_columns,
        label_column=label_column,
        prediction_format="jsonl" if is_jsonl else "tsv",
    )
    if kind == REGRESSION:
        if labels:
            raise ValueError("a regression task takes no labels")
        return task
    if labels is None:
        if "train" not in splits:
            raise ValueError("pass labels=..., or a 'train' file to take the labels from")
        seen = {example.label for example in read_examples(task, None, "train")}
        labels = sorted(seen, key=_label_sort_key(seen))
    labels = tuple(str(label) for label in labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"a classification task needs two or more distinct labels, got {labels}")
    metrics = ("accuracy", "f1") if len(labels) == 2 else ("accuracy",)
    return dataclasses.replace(task, labels=labels, metrics=metrics)


# ---------------------------------------------------------------------------------- encoding


def label_ids(task, examples):
    """The training targets: int32 class ids, or float32 values divided by regression_scale."""
    task = get_task(task)
    if task.kind == REGRESSION:
        values = []
        for example in examples:
            _check_labeled(example)
            values.append(float(example.label))
        return np.asarray(values, dtype="float32").reshape(-1) / np.float32(task.regression_scale)
    ids = {label: i for i, label in enumerate(task.labels)}
    out = np.empty(len(examples), dtype="int32")
    for i, example in enumerate(examples):
        _check_labeled(example)
        label = example.label if isinstance(example.label, str) else str(example.label)
        if label not in ids:
            raise InputError(
                f"{_where(example)}: label {example.label!r} is not one of the "
                f"labels of task {task.name!r}: {', '.join(task.labels)}"
            )
        out[i] = ids[label]
    return out


def _check_labeled(example):
    if example.label is None:
        raise InputError(
            f"{_where(example)}: the example has no label (unlabeled test data?)"
        )


def _where(example):
    return f"{example.source} (example {example.guid})" if example.source else f"example {example.guid}"


def _truncated_lengths(len_a, len_b, budget):
    """Lengths BERT's `_truncate_seq_pair` keeps: it pops from the longer one until they fit."""
    if len_a + len_b <= budget:
        return len_a, len_b
    if len_a > len_b and budget - len_b >= len_b:
        return budget - len_b, len_b
    if len_b > len_a and budget - len_a >= len_a:
        return len_a, budget - len_a
    return (budget + 1) // 2, budget // 2


def encode_examples(examples, tokenizer, max_seq_len):
    """Pack examples as BERT: ``[CLS] A [SEP] (B [SEP])``, padded to `max_seq_len`.

    Returns int32 arrays "token_ids", "segment_ids" (0 for [CLS], A and its [SEP]; 1 for B and
    its [SEP]) and "padding_mask" (1 on real tokens), each (len(examples), max_seq_len). Pairs
    are truncated as BERT's ``_truncate_seq_pair`` (tokens are dropped from the end of the
    longer text until both fit), single texts keep their first max_seq_len - 2 pieces.
    """
    max_seq_len = int(max_seq_len)
    has_pairs = any(example.text_b is not None for example in examples)
    if max_seq_len < (3 if has_pairs else 2):
        raise ValueError(
            f"max_seq_len={max_seq_len} is too short: [CLS] and [SEP] (and a second [SEP] for "
            f"pairs) need {3 if has_pairs else 2} positions"
        )
    special = tokenizer.special_ids
    cls_id, sep_id, pad_id = special["cls_token_id"], special["sep_token_id"], special["pad_token_id"]
    pair_rows = [i for i, example in enumerate(examples) if example.text_b is not None]
    pieces = tokenizer.encode_batch(
        [example.text_a for example in examples] + [examples[i].text_b for i in pair_rows]
    )
    pieces_b = dict(zip(pair_rows, pieces[len(examples):]))
    n = len(examples)
    token_ids = np.full((n, max_seq_len), pad_id, dtype="int32")
    segment_ids = np.zeros((n, max_seq_len), dtype="int32")
    padding_mask = np.zeros((n, max_seq_len), dtype="int32")
    for i in range(n):
        a = pieces[i]
        b = pieces_b.get(i)
        if b is None:
            a = a[: max_seq_len - 2]
            row = [cls_id, *a, sep_id]
        else:
            keep_a, keep_b = _truncated_lengths(len(a), len(b), max_seq_len - 3)
            row = [cls_id, *a[:keep_a], sep_id, *b[:keep_b], sep_id]
            segment_ids[i, keep_a + 2 : len(row)] = 1
        token_ids[i, : len(row)] = row
        padding_mask[i, : len(row)] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


# ------------------------------------------------------------------------------- submissions


def write_predictions(task, examples, predictions, path, split="test"):
    """Write predictions in GLUE's submission format; returns the path written.

    ``index<TAB>prediction`` then one row per example, in order: the index is the file's id
    column where it had one (the running number otherwise); the prediction is the label string
    (classification; `predictions` are class ids, or logits whose argmax is taken) or the value
    times regression_scale with 3 decimals (regression; clipped to 0..5 for STS-B). SuperGLUE
    tasks (BoolQ) get JSON lines ``{"idx": ..., "label": true}``. When `path` is a directory
    the file is named by `submission_filename(task, split)`. The file is written atomically.
    """
    task = get_task(task)
    predictions = np.asarray(predictions)
    if task.kind == CLASSIFICATION and predictions.ndim == 2:
        predictions = predictions.argmax(axis=-1)
    elif task.kind == REGRESSION and predictions.ndim == 2 and predictions.shape[1] == 1:
        predictions = predictions[:, 0]
    if predictions.ndim != 1 or len(predictions) != len(examples):
        raise ValueError(
            f"expected one prediction per example ({len(examples)}), got shape {predictions.shape}"
        )
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, submission_filename(task, split))
    values = []
    if task.kind == CLASSIFICATION:
        for prediction in predictions:
            class_id = int(prediction)
            if not 0 <= class_id < len(task.labels) or class_id != prediction:
                raise ValueError(
                    f"prediction {prediction.item()!r} is not a class id of task {task.name!r} "
                    f"(0..{len(task.labels) - 1})"
                )
            values.append(task.labels[class_id])
    else:
        scaled = predictions.astype("float64") * task.regression_scale
        if task.regression_range is not None:
            scaled = np.clip(scaled, *task.regression_range)
        values = [float(v) for v in scaled]
    indices = [example.index if example.index is not None else i for i, example in enumerate(examples)]
    if task.prediction_format == "jsonl":
        lines = []
        for index, value in zip(indices, values):
            if task.kind == REGRESSION:
                label = value
            elif task.labels == ("False", "True"):
                label = value == "True"
            else:
                label = value
            lines.append(json.dumps({"idx": index, "label": label}) + "\n")
        text = "".join(lines)
    else:
        if task.kind == REGRESSION:
            values = [f"{value:.3f}" for value in values]
        text = "index\tprediction\n" + "".join(f"{i}\t{v}\n" for i, v in zip(indices, values))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    return path
