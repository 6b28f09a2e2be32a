"""SQuAD predictions: span scores -> answer text, as ELECTRA's ``finetune/qa/qa_metrics.py``.

`postprocess` reads the beam outputs of the joint span model (start log-probs and, per start,
end log-probs), keeps valid spans, and projects the best word-piece span back onto the
original text (`get_final_text`, BERT's). For SQuAD 2.0 the "answerable" logit (which scores
*impossible*) gives the null odds and a threshold turns the prediction into "".
Reading and windows: squad.py.
"""

import collections
import json
import math
import os
import unicodedata

import numpy as np

# BERT's character classes, shared with the tokenizer shipped beside exported models.
from electra_keras.export.electra_tokenizer import _is_cjk, _is_control, _is_punctuation

N_BEST_SIZE = 20
MAX_ANSWER_LENGTH = 30
# ELECTRA's SQuAD 2.0 eval predicts "" when the answerable logit (the null odds) exceeds this.
NA_THRESHOLD = -2.75
# No feature at all for an example (an empty context): the original's "large and positive" null score.
NO_FEATURE_NULL_SCORE = 1e6


# ---------------------------------------------------------------------------------------------
# Predictions

OUTPUT_KEYS = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index")


def _check_outputs(outputs, num_features, v2):
    keys = OUTPUT_KEYS + (("answerable_logit",) if v2 else ())
    missing = [k for k in keys if k not in outputs]
    if missing:
        raise ValueError(f"outputs lacks {', '.join(missing)}; expected the keys {', '.join(keys)}")
    arrays = {k: np.asarray(outputs[k]) for k in keys}
    for key, array in arrays.items():
        if array.shape[:1] != (num_features,):
            raise ValueError(f"outputs[{key!r}] has shape {array.shape}; expected {num_features} rows, one per feature")
    beam = arrays["start_top_index"].shape[1:]
    if arrays["start_top_log_probs"].shape[1:] != beam or len(beam) != 1:
        raise ValueError("start_top_log_probs and start_top_index: expected the same shape (n, K)")
    for key in ("end_top_log_probs", "end_top_index"):
        if arrays[key].ndim != 3 or arrays[key].shape[1] != beam[0]:
            raise ValueError(f"outputs[{key!r}] has shape {arrays[key].shape}; expected (n, {beam[0]}, K)")
    return arrays


def _candidate_spans(feature, row, out, max_answer_length):
    """(score, start, end, start_log_prob, end_log_prob) of each valid beam span of one feature."""
    spans = []
    for i, start in enumerate(out["start_top_index"][row]):
        start = int(start)
        # Starts outside this window's context, on [CLS], or better covered by another window.
        if start == 0 or start not in feature.token_to_word or not feature.token_is_max_context.get(start, False):
            continue
        start_lp = float(out["start_top_log_probs"][row, i])
        for j, end in enumerate(out["end_top_index"][row, i]):
            end = int(end)
            if end not in feature.token_to_word or end < start or end - start + 1 > max_answer_length:
                continue
            end_lp = float(out["end_top_log_probs"][row, i, j])
            spans.append((start_lp + end_lp, start, end, start_lp, end_lp))
    return spans


def _span_text(example, feature, start, end, lower_case):
    """The original text of a piece span: word pieces glued back, projected onto the words."""
    piece_text = " ".join(feature.tokens[start:end + 1]).replace(" ##", "").replace("##", "")
    piece_text = " ".join(piece_text.split())
    words = example.doc_tokens[feature.token_to_word[start]:feature.token_to_word[end] + 1]
    return get_final_text(piece_text, " ".join(words), lower_case=lower_case)


def _softmax(scores):
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def postprocess(examples, features, outputs, n_best_size=N_BEST_SIZE, max_answer_length=MAX_ANSWER_LENGTH,
                v2=False, na_threshold=NA_THRESHOLD, lower_case=True):
    """Turn the span model's beam outputs into answer texts.

    `outputs` holds numpy arrays with one row per feature (in `features` order):
    ``start_top_log_probs`` (n, K), ``start_top_index`` (n, K), ``end_top_log_probs`` (n, K, K),
    ``end_top_index`` (n, K, K) and, for ``v2``, ``answerable_logit`` (n,).

    Returns ``(predictions, null_odds, nbest)``: ``{qid: text}``; ``{qid: null score}`` for v2
    (the lowest answerable logit over the example's windows; empty otherwise); and ``{qid: [{"text",
    "probability", "start_log_prob", "end_log_prob"}]}`` best first. An example without a valid
    span predicts "" (the original writes "empty"). For v2 the prediction is "" when the null
    score exceeds `na_threshold` (-2.75, ELECTRA's default); the original applies that threshold
    later, when scoring, and writes the best non-null text here.
    """
    out = _check_outputs(outputs, len(features), v2)
    rows_of = collections.defaultdict(list)
    for row, feature in enumerate(features):
        rows_of[feature.example_index].append(row)

    predictions, null_odds, all_nbest = {}, {}, {}
    for example_index, example in enumerate(examples):
        rows = rows_of.get(example_index, [])
        spans = []
        for row in rows:
            spans += [(score, row, *span) for score, *span in _candidate_spans(features[row], row, out, max_answer_length)]
        spans.sort(key=lambda span: span[0], reverse=True)  # stable: ties keep window/beam order

        nbest, seen = [], set()
        for score, row, start, end, start_lp, end_lp in spans:
            if len(nbest) >= n_best_size:
                break
            text = _span_text(example, features[row], start, end, lower_case)
            if text in seen:
                continue
            seen.add(text)
            nbest.append({"text": text, "start_log_prob": start_lp, "end_log_prob": end_lp})
        if not nbest:  # no valid span in any window (rare)
            nbest.append({"text": "", "start_log_prob": 0.0, "end_log_prob": 0.0})
        probs = _softmax([e["start_log_prob"] + e["end_log_prob"] for e in nbest])
        nbest = [{"text": e["text"], "probability": p, "start_log_prob": e["start_log_prob"],
                  "end_log_prob": e["end_log_prob"]} for e, p in zip(nbest, probs)]
        all_nbest[example.qid] = nbest

        best_text = next((e["text"] for e in nbest if e["text"]), "")
        if v2:
            # The answerable logit scores "impossible"; the example is answerable if any window says so.
            null = min((float(out["answerable_logit"][row]) for row in rows), default=NO_FEATURE_NULL_SCORE)
            null_odds[example.qid] = null
            predictions[example.qid] = "" if null > na_threshold else best_text
        else:
            predictions[example.qid] = nbest[0]["text"]
    return predictions, null_odds, all_nbest


def write_predictions(path, predictions):
    """Write `predictions` (any JSON-able dict: answers, null odds, n-best) atomically."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(predictions, f, indent=2, ensure_ascii=False)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Projecting a normalized answer back onto the original text (BERT's get_final_text)


def basic_tokenize(text, lower_case=True, strip_accents=None):
    """BERT's BasicTokenizer: clean, split CJK and punctuation, lower-case and strip accents
    (`strip_accents` None follows `lower_case`, as BERT's does)."""
    strip_accents = lower_case if strip_accents is None else strip_accents
    chars = []
    for char in text:
        cp = ord(char)
        if cp == 0 or cp == 0xFFFD or _is_control(char):
            continue
        if char in " \t\n\r" or unicodedata.category(char) == "Zs":
            chars.append(" ")
        elif _is_cjk(cp):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    tokens = []
    for word in "".join(chars).split():
        if lower_case:
            word = word.lower()
        if strip_accents:
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        current = ""
        for char in word:
            if _is_punctuation(char):
                tokens += [current, char] if current else [char]
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


def _without_spaces(text):
    """`text` without spaces, and the index in `text` of each kept character."""
    kept = [(i, c) for i, c in enumerate(text) if c != " "]
    return "".join(c for _, c in kept), [i for i, _ in kept]


def get_final_text(pred_text, orig_text, lower_case=True):
    """The part of `orig_text` (original words) that the normalized `pred_text` covers.

    The word pieces lose case, accents and spacing around punctuation, and the words around a
    span can carry extra characters ("Smith's" for "smith"). Re-normalizing `orig_text` with
    BERT's basic tokenizer gives a character-aligned copy in which `pred_text` is found; when the
    alignment fails (normalization changed the length), `orig_text` is returned as is.
    """
    normalized = " ".join(basic_tokenize(orig_text, lower_case))
    start = normalized.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1

    orig_chars, orig_index = _without_spaces(orig_text)
    norm_chars, norm_index = _without_spaces(normalized)
    if len(orig_chars) != len(norm_chars):
        return orig_text
    # Spaceless positions line up one to one; map the normalized span's ends through them.
    norm_to_spaceless = {pos: i for i, pos in enumerate(norm_index)}
    if start not in norm_to_spaceless or end not in norm_to_spaceless:
        return orig_text
    return orig_text[orig_index[norm_to_spaceless[start]]:orig_index[norm_to_spaceless[end]] + 1]
