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

The table of tasks lives in task_specs.py, encoding and submission files in task_encoding.py;
this module re-exports both, so `tasks.` reaches every part.
"""

import csv
import dataclasses
import json
import math
import os
import warnings


from electra_keras.data.text import InputError

from electra_keras.data.task_encoding import encode_examples, label_ids, write_predictions
from electra_keras.data.task_specs import (
    BINARY_LABELS, CLASSIFICATION, NLI_LABELS, REGRESSION, TASKS, Example, TaskSpec, get_task, submission_filename)


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
    return read_file_examples(split_path(task, data_dir, split), task, split)


def split_path(task, data_dir, split):
    """The file of `split` of `task`; an `InputError` naming it when it is not there."""
    task = get_task(task)
    if split not in task.splits:
        raise ValueError(
            f"task {task.name!r} has no split {split!r}: expected one of {', '.join(task.splits)}"
        )
    path = os.path.join(os.fspath(data_dir or ""), task.splits[split])
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file (the {split!r} split of task {task.name!r})")
    return path


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


__all__ = ["TaskSpec", "Example", "TASKS", "get_task", "submission_filename", "CLASSIFICATION", "REGRESSION",
           "NLI_LABELS", "BINARY_LABELS", "read_examples", "split_path", "read_file_examples", "custom_task",
           "encode_examples", "label_ids", "write_predictions"]


def shuffled_batches(x, y=None, sample_weight=None, batch_size=32):
    """In-memory examples (strings, arrays, or dicts and tuples of them) as a tf.data pipeline
    that reshuffles them every epoch, as `keras.Model.fit` shuffles arrays."""
    import keras
    import tensorflow as tf

    examples = tf.data.Dataset.from_tensor_slices(keras.utils.pack_x_y_sample_weight(x, y, sample_weight))
    examples = examples.shuffle(int(examples.cardinality()), reshuffle_each_iteration=True)
    return examples.batch(batch_size)
