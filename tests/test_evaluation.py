"""GLUE and SQuAD metrics against values computed by hand (the arithmetic is in the comments)."""

import copy
import math
import re

import numpy as np
import pytest

from electra_keras.evaluation import (
    METRICS,
    accuracy,
    best_na_threshold,
    compute_metrics,
    exact_match,
    f1_score,
    matthews_corrcoef,
    normalize_answer,
    pearson,
    spearman,
    span_f1,
    squad_scores,
)

# ----------------------------------------------------------------------------------------------
# Classification metrics
# ----------------------------------------------------------------------------------------------


def test_accuracy():
    # Positions 0, 1, 3 agree: 3 / 5.
    assert accuracy([0, 1, 1, 0, 1], [0, 1, 0, 0, 0]) == 0.6
    assert accuracy(["a", "b"], ["a", "b"]) == 1.0


def test_f1_positive_class():
    labels = [1, 1, 1, 0, 0, 1]
    predictions = [1, 1, 0, 1, 0, 0]
    # Class 1: tp = 2 (0, 1), fp = 1 (3), fn = 2 (2, 5): 2*2 / (2*2 + 1 + 2) = 4/7.
    assert f1_score(labels, predictions) == pytest.approx(4 / 7)
    # Class 0: tp = 1 (4), fp = 2 (2, 5), fn = 1 (3): 2 / (2 + 2 + 1) = 0.4.
    assert f1_score(labels, predictions, positive=0) == pytest.approx(0.4)
    # Precision 1 and recall 1.
    assert f1_score(labels, labels) == 1.0


def test_f1_without_positives_is_zero():
    # No true and no predicted positives: 0/0, defined as 0.0.
    assert f1_score([0, 0, 0], [0, 0, 0]) == 0.0
    # True positives exist but none is predicted (tp = 0, fn = 1).
    assert f1_score([1, 0], [0, 0]) == 0.0
    # Only false positives (tp = 0, fp = 2).
    assert f1_score([0, 0], [1, 1]) == 0.0


def test_mcc_binary_hand_computed():
    labels = [1, 1, 1, 0, 0, 0, 1]
    predictions = [1, 1, 1, 0, 0, 1, 0]
    # tp = 3, tn = 2, fp = 1, fn = 1:
    # (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (6 - 1) / sqrt(4*4*3*3) = 5/12.
    assert matthews_corrcoef(labels, predictions) == pytest.approx(5 / 12)


def test_mcc_perfect_and_inverted():
    assert matthews_corrcoef([0, 1, 0, 1], [0, 1, 0, 1]) == pytest.approx(1.0)
    # tp = tn = 0, fp = fn = 2: (0 - 4) / sqrt(2*2*2*2) = -1.
    assert matthews_corrcoef([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)


def test_mcc_degenerate_is_zero():
    # One predicted class: the prediction has no variance, the denominator is 0.
    assert matthews_corrcoef([0, 1, 1, 0], [1, 1, 1, 1]) == 0.0
    # One label class.
    assert matthews_corrcoef([1, 1, 1], [0, 1, 0]) == 0.0


def test_mcc_multiclass_hand_computed():
    labels = [0, 0, 1, 1, 2, 2]
    predictions = [0, 1, 1, 1, 2, 0]
    # Confusion (rows true, columns predicted): [[1, 1, 0], [0, 2, 0], [1, 0, 1]].
    # true counts t = [2, 2, 2], predicted counts p = [2, 3, 1], correct c = 4, n = 6.
    # cov(true, pred) = c*n - t.p = 24 - (4 + 6 + 2) = 12
    # cov(pred, pred) = n^2 - p.p = 36 - (4 + 9 + 1) = 22
    # cov(true, true) = n^2 - t.t = 36 - 12 = 24
    # MCC = 12 / sqrt(24 * 22)
    assert matthews_corrcoef(labels, predictions) == pytest.approx(12 / math.sqrt(24 * 22))
    # String labels, a class ("c") only in predictions: t = [2, 1, 0], p = [1, 1, 1], c = 2, n = 3:
    # (2*3 - (2 + 1 + 0)) / sqrt((9 - 5) * (9 - 3)) = 3 / sqrt(24).
    assert matthews_corrcoef(["a", "a", "b"], ["a", "c", "b"]) == pytest.approx(3 / math.sqrt(24))


# ----------------------------------------------------------------------------------------------
# Correlations
# ----------------------------------------------------------------------------------------------


def test_pearson_hand_computed():
    # Centred: x = [-1.5, -.5, .5, 1.5], y = [-1.5, .5, -.5, 1.5].
    # sum xy = 2.25 - .25 - .25 + 2.25 = 4; sum xx = sum yy = 5: 4 / 5.
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # Centred: x = [-1, 0, 1], y = [-1, -1, 2]: 3 / sqrt(2 * 6) = sqrt(3) / 2.
    assert pearson([0, 1, 2], [0, 0, 3]) == pytest.approx(math.sqrt(3) / 2)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_spearman_with_ties_hand_computed():
    x = [10, 20, 20, 30, 40]
    y = [1, 3, 2, 5, 5]
    # Ranks: x -> [1, 2.5, 2.5, 4, 5] (the two 20s share ranks 2 and 3); y -> [1, 3, 2, 4.5, 4.5].
    # Both have mean 3. Centred: rx = [-2, -.5, -.5, 1, 2], ry = [-2, 0, -1, 1.5, 1.5].
    # sum rx*ry = 4 + 0 + .5 + 1.5 + 3 = 9; sum rx^2 = 9.5;
    # sum ry^2 = 4 + 0 + 1 + 2.25 + 2.25 = 9.5.
    # 9 / 9.5 = 18/19.
    assert spearman(x, y) == pytest.approx(18 / 19)
    assert spearman(x, [1, 3, 2, 4.5, 4.5]) == pytest.approx(18 / 19)  # ranks are ranks


def test_spearman_monotonic_is_one():
    # Any increasing transform keeps the ranks.
    x = [0.1, 5.0, 2.0, 3.0]
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert spearman(x, [-v for v in x]) == pytest.approx(-1.0)


def test_correlations_against_numpy_on_random_data():
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 257):
        x = rng.normal(size=n)
        y = 0.5 * x + rng.normal(size=n)
        assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-12)
        # Continuous data has no ties, so the rank is the position in the sorted order.
        rank_x = np.argsort(np.argsort(x))
        rank_y = np.argsort(np.argsort(y))
        assert spearman(x, y) == pytest.approx(np.corrcoef(rank_x, rank_y)[0, 1], abs=1e-12)


def test_constant_input_gives_zero_not_nan():
    assert pearson([1, 1, 1], [1, 2, 3]) == 0.0
    assert pearson([1, 2, 3], [2, 2, 2]) == 0.0
    assert spearman([5, 5, 5], [1, 2, 3]) == 0.0


def test_regression_column_is_accepted():
    # A (n, 1) model output is the same as its flat values.
    assert pearson([1, 2, 3, 4], [[1.0], [3.0], [2.0], [4.0]]) == pytest.approx(0.8)
    with pytest.raises(ValueError, match=re.escape("one-dimensional, got shape (2, 2)")):
        accuracy([0, 1], [[0.1, 0.9], [0.8, 0.2]])


# ----------------------------------------------------------------------------------------------
# Input checks and compute_metrics
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(METRICS))
def test_length_mismatch_and_empty_raise(name):
    metric = METRICS[name]
    with pytest.raises(ValueError, match=r"has 5 values, \w+ 4"):
        metric([0, 1, 0, 1, 1], [0, 1, 0, 1])
    with pytest.raises(ValueError, match="are empty"):
        metric([], [])


def test_length_message_names_the_arguments():
    with pytest.raises(ValueError, match="^labels has 5 values, predictions 4$"):
        accuracy([0, 1, 0, 1, 1], [0, 1, 0, 1])
    with pytest.raises(ValueError, match="^x has 2 values, y 3$"):
        pearson([1, 2], [1, 2, 3])


def test_compute_metrics():
    labels = [1, 1, 1, 0, 0, 0, 1]
    predictions = [1, 1, 1, 0, 0, 1, 0]
    result = compute_metrics(["accuracy", "f1", "mcc"], labels, predictions)
    # tp = 3, tn = 2, fp = 1, fn = 1: accuracy 5/7, F1 6/8, MCC 5/12 (see above).
    assert list(result) == ["accuracy", "f1", "mcc"]
    assert result["accuracy"] == pytest.approx(5 / 7)
    assert result["f1"] == pytest.approx(0.75)
    assert result["mcc"] == pytest.approx(5 / 12)
    assert all(type(value) is float for value in result.values())

    x = np.arange(4.0)
    result = compute_metrics(["pearson", "spearman"], x, x**2)
    assert result == pytest.approx({"pearson": np.corrcoef(x, x**2)[0, 1], "spearman": 1.0})
    assert all(type(value) is float for value in result.values())
    assert compute_metrics("accuracy", [0, 1], [0, 0]) == {"accuracy": 0.5}


def test_compute_metrics_unknown_name():
    known = "accuracy, f1, mcc, pearson, spearman"
    with pytest.raises(ValueError, match=f"unknown metric 'bleu'; known metrics: {known}"):
        compute_metrics(["accuracy", "bleu"], [0], [0])


# ----------------------------------------------------------------------------------------------
# SQuAD answer scoring
# ----------------------------------------------------------------------------------------------


def test_normalize_answer():
    # lower -> "the  cat's, hat!"; punctuation -> "the  cats hat"; article -> "   cats hat".
    assert normalize_answer("The  Cat's, hat!") == "cats hat"
    # Articles only as whole words.
    assert normalize_answer("A theater, an apple") == "theater apple"
    assert normalize_answer("Anthem") == "anthem"
    # Punctuation goes first, so "the-end" becomes one word "theend" and keeps its "the".
    assert normalize_answer("the-end") == "theend"
    assert normalize_answer("  The ") == ""


def test_exact_match():
    assert exact_match("The Cat", "cat") == 1.0
    assert exact_match("cats", "cat") == 0.0
    assert exact_match("", "the") == 1.0  # both normalize to ""


def test_span_f1_hand_computed():
    # pred [red, car], gold [big, red, truck]: 1 common, precision 1/2, recall 1/3:
    # 2 * (1/6) / (5/6) = 0.4.
    assert span_f1("red car", "the big red truck") == pytest.approx(0.4)
    # Multiset overlap: pred [x, y, y], gold [y, y, z, z]: 2 common, P = 2/3, R = 1/2:
    # 2 * (1/3) / (7/6) = 4/7.
    assert span_f1("x y y", "y y z z") == pytest.approx(4 / 7)
    assert span_f1("The Cat!", "cat") == 1.0
    assert span_f1("dog", "cat") == 0.0


def test_span_f1_empty_answers():
    # v2.0 rule: with an empty side, 1 if both are empty, else 0.
    assert span_f1("", "") == 1.0
    assert span_f1("the", "") == 1.0  # "the" normalizes to nothing
    assert span_f1("cat", "") == 0.0
    assert span_f1("", "cat") == 0.0


# A SQuAD v2.0 file: q1, q2, q5 answerable; q3, q4 unanswerable.
DATASET = {
    "version": "v2.0",
    "data": [
        {
            "title": "Paris",
            "paragraphs": [
                {
                    "context": "The Eiffel Tower was finished in 1889.",
                    "qas": [
                        {"id": "q1", "question": "What was finished?",
                         "answers": [{"text": "Eiffel Tower", "answer_start": 4},
                                     {"text": "The Eiffel Tower", "answer_start": 0}]},
                        {"id": "q2", "question": "When?",
                         "answers": [{"text": "in 1889", "answer_start": 30},
                                     {"text": "1889", "answer_start": 33}]},
                        {"id": "q3", "question": "Who painted it?", "answers": [],
                         "plausible_answers": [{"text": "Eiffel", "answer_start": 4}],
                         "is_impossible": True},
                    ],
                }
            ],
        },
        {
            "title": "Rome",
            "paragraphs": [
                {
                    "context": "Rome saw the big red truck.",
                    "qas": [
                        {"id": "q4", "question": "Who founded Rome?", "answers": [],
                         "is_impossible": True},
                        {"id": "q5", "question": "What did Rome see?",
                         "answers": [{"text": "the big red truck", "answer_start": 9}]},
                    ],
                }
            ],
        },
    ],
}
PREDICTIONS = {
    "q1": "Eiffel Tower",  # EM 1, F1 1
    "q2": "1889 and 1890",  # F1 vs "1889": P 1/3, R 1 -> 1/2; vs "in 1889": P 1/3, R 1/2 -> 0.4
    "q3": "",  # no answer on an unanswerable question: EM 1, F1 1
    "q4": "Rome",  # an answer to an unanswerable question: 0, 0
    "q5": "red car",  # EM 0, F1 0.4 (see test_span_f1_hand_computed)
    "other": "ignored",  # not in the dataset
}
NA_PROBS = {"q1": 0.1, "q2": 0.6, "q3": 0.9, "q4": 0.8, "q5": 0.3}


def test_squad_v2_scores_without_threshold():
    result = squad_scores(DATASET, PREDICTIONS)
    # Exact: q1 1, q2 0, q3 1, q4 0, q5 0 -> 2/5.  F1: 1 + .5 + 1 + 0 + .4 = 2.9 -> 2.9/5.
    assert result == pytest.approx({
        "exact": 40.0, "f1": 58.0, "total": 5,
        # HasAns q1, q2, q5: exact 1/3; F1 (1 + .5 + .4) / 3 = 1.9/3.
        "HasAns_exact": 100 / 3, "HasAns_f1": 190 / 3, "HasAns_total": 3,
        # NoAns q3, q4: 1/2 each.
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
    })
    # The list of articles works as well as the whole json.
    assert squad_scores(DATASET["data"], PREDICTIONS) == result


def test_squad_v2_scores_with_na_threshold():
    result = squad_scores(DATASET, PREDICTIONS, na_probs=NA_PROBS, na_threshold=0.5)
    # Above 0.5: q2 (answerable -> 0), q3 and q4 (unanswerable -> 1). q1 and q5 keep their scores.
    # Exact: 1 + 0 + 1 + 1 + 0 = 3 -> 60.  F1: 1 + 0 + 1 + 1 + .4 = 3.4 -> 68.
    assert result == pytest.approx({
        "exact": 60.0, "f1": 68.0, "total": 5,
        # HasAns: exact 1/3, F1 (1 + 0 + .4) / 3.
        "HasAns_exact": 100 / 3, "HasAns_f1": 140 / 3, "HasAns_total": 3,
        "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 2,
    })
    # A score equal to the threshold is not above it: q2 (0.6) is answered and keeps F1 .5.
    # F1: 1 + .5 + 1 + 1 + .4 = 3.9 -> 78.
    result = squad_scores(DATASET, PREDICTIONS, NA_PROBS, na_threshold=0.6)
    assert result["f1"] == pytest.approx(78.0)
    # The default threshold 1.0 changes nothing here.
    assert squad_scores(DATASET, PREDICTIONS, NA_PROBS) == squad_scores(DATASET, PREDICTIONS)


def test_squad_groups():
    # v1.1-style data (every question answerable): no HasAns / NoAns groups.
    answerable = copy.deepcopy(DATASET)
    paris_qas = answerable["data"][0]["paragraphs"][0]["qas"]
    del paris_qas[2], answerable["data"][1]
    # Exact 1 + 0 -> 50; F1 1 + .5 -> 75.
    expected = {"exact": 50.0, "f1": 75.0, "total": 2}
    assert squad_scores(answerable, PREDICTIONS) == pytest.approx(expected)
    # Only unanswerable questions: only the NoAns group. q3 1, q4 0.
    unanswerable = copy.deepcopy(DATASET)
    del unanswerable["data"][0]["paragraphs"][0]["qas"][:2]  # q1, q2
    del unanswerable["data"][1]["paragraphs"][0]["qas"][1]  # q5
    assert squad_scores(unanswerable, PREDICTIONS) == pytest.approx({
        "exact": 50.0, "f1": 50.0, "total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
    })


def test_squad_max_over_gold_answers():
    data = [{"title": "T", "paragraphs": [{"context": "", "qas": [
        {"id": "a", "question": "?", "answers": [{"text": "Eiffel Tower"}, {"text": "the tower"},
                                                 {"text": "tower in Paris"}]}]}]}]
    # "tower" is an exact match of "the tower" (F1 vs the others: 2/3 and 1/2).
    expected = {"exact": 100.0, "f1": 100.0, "total": 1}
    assert squad_scores(data, {"a": "tower"}) == pytest.approx(expected)
    # "Paris tower": vs "tower in Paris" P 1, R 2/3 -> 0.8; vs "Eiffel Tower" 1/2, "the tower" 2/3.
    assert squad_scores(data, {"a": "Paris tower"})["f1"] == pytest.approx(80.0)


def test_best_na_threshold():
    # Raw F1: q1 1, q2 .5, q3 1, q4 0, q5 .4. Start with all no-answer: score 2 (q3, q4).
    # In na_prob order: q1 (.1) +1 -> 3; q5 (.3) +.4 -> 3.4; q2 (.6) +.5 -> 3.9 (best, at .6);
    # q4 (.8) answered "Rome" -> -1 -> 2.9; q3 (.9) answered "" -> +0.
    best, threshold = best_na_threshold(DATASET, PREDICTIONS, NA_PROBS)
    assert best == pytest.approx(78.0) and threshold == 0.6
    # The threshold reproduces the score.
    assert squad_scores(DATASET, PREDICTIONS, NA_PROBS, threshold)["f1"] == pytest.approx(best)
    # Exact: start 2; q1 +1 -> 3 (best, at .1); then +0, +0, -1, +0.
    assert best_na_threshold(DATASET, PREDICTIONS, NA_PROBS, metric="exact") == (60.0, 0.1)
    # When answering anything only hurts, the best is the start, at threshold 0.0.
    worse = dict(PREDICTIONS, q1="wrong", q2="wrong", q5="wrong")
    assert best_na_threshold(DATASET, worse, NA_PROBS) == (40.0, 0.0)


def test_squad_missing_prediction_raises():
    predictions = {k: v for k, v in PREDICTIONS.items() if k not in ("q3", "q5")}
    with pytest.raises(ValueError, match="2 questions have no prediction, e.g. id 'q3'"):
        squad_scores(DATASET, predictions)
    with pytest.raises(ValueError, match="have no prediction"):
        best_na_threshold(DATASET, predictions, NA_PROBS)
    with pytest.raises(ValueError, match="1 questions have no na_probs entry, e.g. id 'q4'"):
        squad_scores(DATASET, PREDICTIONS, {k: v for k, v in NA_PROBS.items() if k != "q4"})


def test_squad_malformed_dataset_raises():
    no_qas = copy.deepcopy(DATASET)
    del no_qas["data"][1]["paragraphs"][0]["qas"]
    with pytest.raises(ValueError, match="article 'Rome': paragraph 0 has no 'qas'"):
        squad_scores(no_qas, PREDICTIONS)

    no_id = copy.deepcopy(DATASET)
    del no_id["data"][0]["paragraphs"][0]["qas"][1]["id"]
    with pytest.raises(ValueError, match="article 'Paris': paragraph 0, question 1 has no 'id'"):
        squad_scores(no_id, PREDICTIONS)

    no_answers = copy.deepcopy(DATASET)
    del no_answers["data"][1]["paragraphs"][0]["qas"][1]["answers"]
    with pytest.raises(ValueError, match="article 'Rome': question 'q5' has no 'answers'"):
        squad_scores(no_answers, PREDICTIONS)

    no_text = copy.deepcopy(DATASET)
    del no_text["data"][0]["paragraphs"][0]["qas"][0]["answers"][1]["text"]
    with pytest.raises(ValueError, match="question 'q1' has an answer without 'text'"):
        squad_scores(no_text, PREDICTIONS)

    with pytest.raises(ValueError, match="article 'Paris' has no 'paragraphs'"):
        squad_scores([{"title": "Paris"}], PREDICTIONS)
    with pytest.raises(ValueError, match="parsed SQuAD json"):
        squad_scores("train-v2.0.json", PREDICTIONS)
