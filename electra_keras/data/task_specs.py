"""The fine-tuning tasks we know: `TaskSpec`, `Example`, the GLUE and BoolQ table, `get_task`.

A `TaskSpec` says where a task's files are, how their columns are laid out, what its labels
and metrics are and how its predictions are submitted. `TASKS` holds the GLUE tasks (in the
layout GLUE's download script writes) and BoolQ (SuperGLUE's JSON lines). Reading the files:
tasks.py; encoding and submission files: task_encoding.py.
"""

import dataclasses



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
