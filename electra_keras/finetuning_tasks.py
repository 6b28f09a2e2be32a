"""What a fine-tuning run asks of a task: read a split, build the model, score, write predictions.

Two implementations: `ClassificationTask` (GLUE, BoolQ and your own files: a
`data.tasks.TaskSpec`, classification or regression) and `SquadTask` (SQuAD 1.1 / 2.0 spans).
`finetuning.finetune` and `evaluate` speak only this protocol:

    task.name                                   for run names, logs and plots
    task.locate(data_dir, split) -> path        the split's file; a clear error when it is missing
    task.read(data_dir, split, tokenizer, settings, training=False, limit=None) -> Split
    task.build_model(backbone, settings, dtype, tokenizer) -> (model, loss or None: the model's own)
    task.score(model, split, settings) -> {metric: value}
    task.write_predictions(model, split, out_dir, settings) -> metrics ({} without labels)
    task.to_json() / from_json(record)          the task inside finetune.json
"""

import dataclasses
import json
import math
import os

import keras

from electra_keras import evaluation
from electra_keras.data import squad, tasks

SQUAD_TASKS = {"squad": False, "squad1": False, "squad1.1": False, "squad-v1.1": False,
               "squad2": True, "squad2.0": True, "squad-v2.0": True}
SQUAD_FILES = {False: ("train-v1.1.json", "dev-v1.1.json"), True: ("train-v2.0.json", "dev-v2.0.json")}


@dataclasses.dataclass
class Split:
    """One split, read and encoded: what the model takes (`x`), its targets (`y`, None when the
    split has no labels), and what scoring needs besides (SQuAD: the file and the windows)."""

    name: str
    examples: list
    x: dict
    y: object = None
    path: str = None
    features: list = None

    @property
    def size(self):
        return len(self.x["token_ids"])


class ClassificationTask:
    """A GLUE-style task: one or two texts -> a class (or a value, for regression)."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name

    def locate(self, data_dir, split):
        return tasks.split_path(self.spec, data_dir, split)

    def read(self, data_dir, split, tokenizer, settings, training=False, limit=None):
        examples = tasks.read_examples(self.spec, data_dir, split)
        if limit:
            examples = examples[:limit]
        x = tasks.encode_examples(examples, tokenizer, settings.max_seq_len)
        labeled = all(e.label is not None for e in examples)
        return Split(split, examples, x, tasks.label_ids(self.spec, examples) if labeled else None)

    def build_model(self, backbone, settings, dtype=None, tokenizer=None):
        """An `ElectraTextClassifier` (the head follows the backbone's dtype policy, which
        `finetune` sets to `dtype`), uncompiled, with a preprocessor over `tokenizer`'s
        vocabulary at `settings.max_seq_len` so that the saved model takes raw text; the run
        itself feeds it the token ids it packed, which the classifier takes as they are."""
        from electra_keras.models import ElectraTextClassifier, ElectraTextClassifierPreprocessor, ElectraTokenizer

        preprocessor = None
        if tokenizer is not None:
            preprocessor = ElectraTextClassifierPreprocessor(ElectraTokenizer.from_wordpiece(tokenizer),
                                                             sequence_length=settings.max_seq_len)
        model = ElectraTextClassifier(backbone, self.spec.num_labels, preprocessor=preprocessor,
                                      dropout=settings.dropout, pooling=settings.pooling, seed=settings.seed,
                                      compile=False, name=f"{self.name.replace('-', '_')}_classifier")
        if self.spec.kind == tasks.REGRESSION:
            return model, keras.losses.MeanSquaredError()
        return model, keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def predict(self, model, split, batch_size=128):
        """(predictions in the label's units, raw outputs)."""
        logits = model.predict(split.x, batch_size=batch_size, verbose=0)
        if self.spec.kind == tasks.REGRESSION:
            return logits[:, 0] * self.spec.regression_scale, logits[:, 0]
        return logits.argmax(-1), logits

    def score(self, model, split, settings=None, predictions=None):
        if predictions is None:
            predictions = self.predict(model, split)[0]
        labels = split.y * self.spec.regression_scale if self.spec.kind == tasks.REGRESSION else split.y
        return evaluation.compute_metrics(self.spec.metrics, labels, predictions)

    def write_predictions(self, model, split, out_dir, settings=None):
        predictions = self.predict(model, split)[0]
        written = predictions / self.spec.regression_scale if self.spec.kind == tasks.REGRESSION else predictions
        tasks.write_predictions(self.spec, split.examples, written, out_dir, split.name)
        return self.score(model, split, predictions=predictions) if split.y is not None else {}

    def to_json(self):
        return dataclasses.asdict(self.spec)


class SquadTask:
    """Extractive question answering: SQuAD 1.1, or 2.0 with unanswerable questions."""

    def __init__(self, name):
        self.name = name
        self.v2 = SQUAD_TASKS[name]

    def locate(self, data_dir, split):
        train, dev = SQUAD_FILES[self.v2]
        candidates = [train if split == "train" else dev, f"{split}.json"]
        for name in candidates:
            if os.path.isfile(os.path.join(data_dir or ".", name)):
                return os.path.join(data_dir or ".", name)
        raise FileNotFoundError(f"{data_dir}: no {' or '.join(candidates)} "
                                f"(SQuAD {'2.0' if self.v2 else '1.1'} {split} set)")

    def read(self, data_dir, split, tokenizer, settings, training=False, limit=None):
        path = self.locate(data_dir, split)
        examples = squad.read_squad(path, is_training=training)
        if limit:
            examples = examples[:limit]
        features = squad.featurize(examples, tokenizer, settings.max_seq_len, settings.doc_stride,
                                   settings.max_query_len, is_training=training)
        arrays = squad.feature_arrays(features)
        if training:  # the span extractor's end head reads the gold start while training
            x = {k: arrays[k] for k in ("token_ids", "segment_ids", "padding_mask", "start_positions")}
            y = {k: arrays[k] for k in ("start_positions", "end_positions", "is_impossible")}
        else:
            x, y = {k: arrays[k] for k in ("token_ids", "segment_ids", "padding_mask")}, None
        return Split(split, examples, x, y, path=path, features=features)

    def build_model(self, backbone, settings, dtype=None, tokenizer=None):
        from electra_keras.models import ElectraSpanExtractor

        return ElectraSpanExtractor(backbone, answerable=self.v2, dtype=dtype, name=f"{self.name}_span_extractor"), None

    def _outputs(self, model, split):
        return model.predict(split.x, batch_size=64, verbose=0)

    def _scores(self, split, outputs, settings):
        with open(split.path, encoding="utf-8") as f:
            dataset = json.load(f)
        predictions, null_odds, _ = squad.postprocess(split.examples, split.features, outputs, v2=self.v2,
                                                      na_threshold=settings.na_threshold)
        scores = evaluation.squad_scores(dataset, predictions)
        if self.v2:  # the threshold that would have been best on this set, as the official script reports
            raw, _, _ = squad.postprocess(split.examples, split.features, outputs, v2=True, na_threshold=math.inf)
            scores["best_f1"], scores["best_f1_threshold"] = evaluation.best_na_threshold(dataset, raw, null_odds)
        return scores, predictions, null_odds

    def score(self, model, split, settings):
        return self._scores(split, self._outputs(model, split), settings)[0]

    def write_predictions(self, model, split, out_dir, settings):
        outputs = self._outputs(model, split)
        metrics = {}
        if all(e.answers or e.is_impossible for e in split.examples):
            metrics, predictions, null_odds = self._scores(split, outputs, settings)
        else:
            predictions, null_odds, _ = squad.postprocess(split.examples, split.features, outputs, v2=self.v2,
                                                          na_threshold=settings.na_threshold)
        squad.write_predictions(os.path.join(out_dir, "predictions.json"), predictions)
        if self.v2:
            squad.write_predictions(os.path.join(out_dir, "null_odds.json"), null_odds)
        return metrics

    def to_json(self):
        return {"squad": self.name, "v2": self.v2}


def get(task):
    """A task of this protocol from a name ("sst-2", "boolq", "squad2", ...), a `TaskSpec`, or a task."""
    if isinstance(task, (ClassificationTask, SquadTask)):
        return task
    if isinstance(task, tasks.TaskSpec):
        return ClassificationTask(task)
    name = str(task).lower()
    return SquadTask(name) if name in SQUAD_TASKS else ClassificationTask(tasks.get_task(name))


def from_json(record):
    """The task `to_json` wrote into finetune.json."""
    if "squad" in record:
        return SquadTask(record["squad"])
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in record.items()}
    if fields.get("positional"):
        n, texts, label = fields["positional"]
        fields["positional"] = (n, tuple(texts), label)
    return ClassificationTask(tasks.TaskSpec(**fields))
