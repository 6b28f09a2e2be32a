"""Encoding a task's examples for the model, and writing its predictions for submission.

`encode_examples` packs the examples as BERT does, ``[CLS] A [SEP] (B [SEP])`` padded to a
fixed length; `label_ids` gives the training targets; `write_predictions` writes GLUE's (or
SuperGLUE's) submission files.
"""

import json
import os
import tempfile

import numpy as np

from electra_keras.data.task_specs import CLASSIFICATION, REGRESSION, get_task, submission_filename
from electra_keras.data.text import InputError


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
