"""Evaluation metrics for GLUE-style tasks and SQuAD, computed as the official scripts compute them.

Pure Python and NumPy. The classification and regression metrics match scikit-learn and SciPy
(`accuracy_score`, `f1_score`, `matthews_corrcoef`, `pearsonr`, `spearmanr`); the SQuAD scores
follow the official `evaluate-v1.1.py` / `evaluate-v2.0.py` scripts step by step.

>>> compute_metrics(["accuracy", "f1"], [1, 0, 1, 1], [1, 0, 0, 1])
{'accuracy': 0.75, 'f1': 0.8}
>>> normalize_answer("The  Cat's, hat!")
'cats hat'
"""

import collections
import math
import re
import string

import numpy as np

# ----------------------------------------------------------------------------------------------
# GLUE-style metrics
# ----------------------------------------------------------------------------------------------


def _as_1d(values, name):
    """`values` as a 1-D NumPy array; a trailing axis of size 1 (regression outputs) is dropped."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _pair(a, b, name_a, name_b):
    """Check two inputs have the same, non-zero length and return them as 1-D arrays."""
    a, b = _as_1d(a, name_a), _as_1d(b, name_b)
    if len(a) != len(b):
        raise ValueError(f"{name_a} has {len(a)} values, {name_b} {len(b)}")
    if len(a) == 0:
        raise ValueError(f"{name_a} and {name_b} are empty")
    return a, b


def accuracy(labels, predictions):
    """Fraction of predictions equal to their label."""
    labels, predictions = _pair(labels, predictions, "labels", "predictions")
    return float(np.mean(labels == predictions))


def f1_score(labels, predictions, positive=1):
    """Binary F1 of the `positive` class: 2 tp / (2 tp + fp + fn).

    Returns 0.0 when there are no true positives, which includes the case of no predicted and no
    actual positives at all (scikit-learn's default `zero_division` behaviour, without its warning).
    """
    labels, predictions = _pair(labels, predictions, "labels", "predictions")
    true_pos = labels == positive
    pred_pos = predictions == positive
    tp = int(np.sum(true_pos & pred_pos))
    fp = int(np.sum(~true_pos & pred_pos))
    fn = int(np.sum(true_pos & ~pred_pos))
    if tp == 0:
        return 0.0
    return 2.0 * tp / (2 * tp + fp + fn)


def matthews_corrcoef(labels, predictions):
    """Matthews correlation coefficient, with the multiclass formula of scikit-learn.

    Returns 0.0 when it is undefined (the denominator is 0), e.g. when all predictions, or all
    labels, are one class, as scikit-learn does.
    """
    labels, predictions = _pair(labels, predictions, "labels", "predictions")
    # One index space for both, so a class seen only in predictions still gets a row and column.
    _, codes = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    codes = codes.reshape(-1)
    n = len(labels)
    num_classes = int(codes.max()) + 1
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (codes[:n], codes[n:]), 1)

    # Python ints from here on: n^2 overflows nothing and the result is exact until the division.
    true_count = [int(v) for v in confusion.sum(axis=1)]
    pred_count = [int(v) for v in confusion.sum(axis=0)]
    correct = int(np.trace(confusion))
    cov_true_pred = correct * n - sum(t * p for t, p in zip(true_count, pred_count))
    cov_pred_pred = n * n - sum(p * p for p in pred_count)
    cov_true_true = n * n - sum(t * t for t in true_count)
    if cov_pred_pred * cov_true_true == 0:
        return 0.0
    return cov_true_pred / math.sqrt(cov_true_true * cov_pred_pred)


def pearson(x, y):
    """Pearson correlation coefficient of `x` and `y`.

    Returns 0.0 (not NaN) when either input is constant, so one degenerate run does not turn the
    mean over tasks or seeds into NaN.
    """
    x, y = _pair(x, y, "x", "y")
    x = x.astype(np.float64) - np.mean(x, dtype=np.float64)
    y = y.astype(np.float64) - np.mean(y, dtype=np.float64)
    denominator = math.sqrt(float(np.dot(x, x)) * float(np.dot(y, y)))
    if denominator == 0.0:
        return 0.0
    # Rounding can push a perfect correlation a hair past +-1; numpy.corrcoef clips the same way.
    return float(np.clip(np.dot(x, y) / denominator, -1.0, 1.0))


def _average_ranks(values):
    """1-based ranks of `values`; tied values all get the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    ranks = np.empty(len(values), np.float64)
    start = 0
    while start < len(values):
        end = start + 1
        while end < len(values) and ordered[end] == ordered[start]:
            end += 1
        # Positions start..end-1 hold ranks start+1..end; their mean is (start + 1 + end) / 2.
        ranks[order[start:end]] = (start + 1 + end) / 2.0
        start = end
    return ranks


def spearman(x, y):
    """Spearman rank correlation: Pearson of the average ranks, as `scipy.stats.spearmanr`.

    Returns 0.0 when either input is constant (see `pearson`).
    """
    x, y = _pair(x, y, "x", "y")
    return pearson(_average_ranks(x), _average_ranks(y))


METRICS = {
    "accuracy": accuracy,
    "f1": f1_score,
    "mcc": matthews_corrcoef,
    "pearson": pearson,
    "spearman": spearman,
}


def compute_metrics(names, labels, predictions):
    """Compute the named metrics of `METRICS` on one set of labels and predictions.

    Args:
        names: a metric name or a list of them, keys of `METRICS`.
        labels: the gold labels (class ids, or scores for regression).
        predictions: the predictions, the same length as `labels`.

    Returns:
        {name: float} in the order of `names`.

    >>> compute_metrics(["pearson", "spearman"], [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])
    {'pearson': 0.8, 'spearman': 0.8}
    """
    if isinstance(names, str):
        names = [names]
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known metrics: {', '.join(METRICS)}")
    return {name: METRICS[name](labels, predictions) for name in names}


# ----------------------------------------------------------------------------------------------
# SQuAD v1.1 / v2.0
# ----------------------------------------------------------------------------------------------


def normalize_answer(s):
    """Lower case, drop punctuation, drop the articles a/an/the, collapse whitespace (official)."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def exact_match(prediction, gold):
    """1.0 if the normalized prediction equals the normalized gold answer, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def span_f1(prediction, gold):
    """Token-level F1 between the normalized prediction and gold answer (official v2.0 rule).

    If either side has no tokens, F1 is 1.0 when both are empty and 0.0 otherwise; this is how
    v2.0 scores no-answer predictions and agrees with v1.1, whose gold answers are never empty.
    """
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _questions(dataset):
    """{qid: (gold answer texts, has_answer)} from a parsed SQuAD json, checking its structure."""
    articles = dataset["data"] if isinstance(dataset, dict) and "data" in dataset else dataset
    if not isinstance(articles, list):
        raise ValueError("dataset must be the parsed SQuAD json (a dict with 'data') or its list "
                         f"of articles, got {type(dataset).__name__}")
    questions = {}
    for a, article in enumerate(articles):
        title = article.get("title", f"#{a}") if isinstance(article, dict) else f"#{a}"
        if not isinstance(article, dict) or "paragraphs" not in article:
            raise ValueError(f"article {title!r} has no 'paragraphs'")
        for p, paragraph in enumerate(article["paragraphs"]):
            if "qas" not in paragraph:
                raise ValueError(f"article {title!r}: paragraph {p} has no 'qas'")
            for q, qa in enumerate(paragraph["qas"]):
                if "id" not in qa:
                    raise ValueError(f"article {title!r}: paragraph {p}, question {q} has no 'id'")
                qid = qa["id"]
                if "answers" not in qa:
                    raise ValueError(f"article {title!r}: question {qid!r} has no 'answers'")
                if any("text" not in answer for answer in qa["answers"]):
                    raise ValueError(f"article {title!r}: question {qid!r} has an answer "
                                     "without 'text'")
                # As the official script: gold answers that normalize to nothing are dropped, and
                # a question left with none (unanswerable in v2.0) has "" as its only answer.
                gold = [ans["text"] for ans in qa["answers"] if normalize_answer(ans["text"])]
                # Has-answer is whether "answers" is non-empty, not the `is_impossible` flag.
                questions[qid] = (gold or [""], bool(qa["answers"]))
    return questions


def _raw_scores(questions, predictions):
    """Per-question exact and F1, each the max over the gold answers; no threshold applied."""
    missing = [qid for qid in questions if qid not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} questions have no prediction, e.g. id {missing[0]!r}")
    exact, f1 = {}, {}
    for qid, (gold, _) in questions.items():
        exact[qid] = max(exact_match(predictions[qid], g) for g in gold)
        f1[qid] = max(span_f1(predictions[qid], g) for g in gold)
    return exact, f1


def _check_na_probs(questions, na_probs):
    missing = [qid for qid in questions if qid not in na_probs]
    if missing:
        raise ValueError(f"{len(missing)} questions have no na_probs entry, "
                         f"e.g. id {missing[0]!r}")


def squad_scores(dataset, predictions, na_probs=None, na_threshold=1.0):
    """SQuAD v1.1 / v2.0 exact match and F1, as the official v2.0 evaluation script.

    Unlike the official script, which only prints a warning and scores a question without a
    prediction as 0, a missing prediction raises: a silent 0 hides bugs. Predictions for ids that
    are not in the dataset are ignored.

    Args:
        dataset: the parsed SQuAD json (a dict with "data") or its list of articles.
        predictions: {question id: predicted answer text}; "" predicts no answer.
        na_probs: optional {question id: no-answer score}. A question whose score is above
            `na_threshold` is predicted as no answer, which scores 1 on an unanswerable question
            and 0 on an answerable one (the official `apply_no_ans_threshold`).
        na_threshold: the no-answer threshold; the official default 1.0.

    Returns:
        {"exact", "f1"} in percent and "total"; if any question is unanswerable, also
        "HasAns_exact", "HasAns_f1", "HasAns_total" and the same for "NoAns" (a group that has no
        questions is left out).
    """
    questions = _questions(dataset)
    exact, f1 = _raw_scores(questions, predictions)
    if na_probs is not None:
        _check_na_probs(questions, na_probs)
        for qid, (_, has_answer) in questions.items():
            if na_probs[qid] > na_threshold:
                exact[qid] = f1[qid] = float(not has_answer)

    def summary(qids, prefix=""):
        # Percent of a plain sum, in question order, as the official script rounds.
        return {
            prefix + "exact": 100.0 * sum(exact[q] for q in qids) / len(qids),
            prefix + "f1": 100.0 * sum(f1[q] for q in qids) / len(qids),
            prefix + "total": len(qids),
        }

    result = summary(list(questions))
    has_ans = [qid for qid, (_, has_answer) in questions.items() if has_answer]
    no_ans = [qid for qid, (_, has_answer) in questions.items() if not has_answer]
    if no_ans:
        if has_ans:
            result.update(summary(has_ans, "HasAns_"))
        result.update(summary(no_ans, "NoAns_"))
    return result


def best_na_threshold(dataset, predictions, na_probs, metric="f1"):
    """The no-answer threshold that maximises the score, as the official `find_best_thresh`.

    Starts with every question predicted as no answer (score = the number of unanswerable
    questions), then answers questions in increasing order of `na_probs`, adding each change
    to the score, and keeps the best point seen.

    Args:
        dataset, predictions, na_probs: as for `squad_scores`.
        metric: "f1" (the default) or "exact".

    Returns:
        (best score in percent, threshold): pass the threshold as `na_threshold` to
        `squad_scores`.
    """
    if metric not in ("f1", "exact"):
        raise ValueError(f"metric must be 'f1' or 'exact', got {metric!r}")
    questions = _questions(dataset)
    exact, f1 = _raw_scores(questions, predictions)
    scores = f1 if metric == "f1" else exact
    _check_na_probs(questions, na_probs)

    score = best_score = sum(1 for _, has_answer in questions.values() if not has_answer)
    best_threshold = 0.0
    # Sorting the na_probs keys (stable, as the official script) fixes the order among ties.
    for qid in sorted((q for q in na_probs if q in questions), key=lambda q: na_probs[q]):
        if questions[qid][1]:
            diff = scores[qid]
        else:
            # Answering an unanswerable question loses its point unless the answer is "" anyway;
            # the official script tests the raw prediction string, not its normalized form.
            diff = -1 if predictions[qid] else 0
        score += diff
        if score > best_score:
            best_score = score
            best_threshold = na_probs[qid]
    return 100.0 * best_score / len(questions), best_threshold
