"""SQuAD 1.1 / 2.0: reading, featurizing into sliding windows, and turning span scores into answers.

This follows ELECTRA's ``finetune/qa/qa_tasks.py`` and ``qa_metrics.py`` (themselves BERT's
``run_squad.py``), so predictions match the original's given the same model outputs:

- `read_squad` splits each context on whitespace into words (``doc_tokens``) and maps the
  character offset of the first answer onto word indexes. Training answers whose text is not
  found at that offset are skipped (counted, with one warning), as the original does.
- `featurize` builds ``[CLS] question [SEP] context window [SEP]`` features: the question is cut
  to ``max_query_len`` word pieces and long contexts are covered by windows ``doc_stride``
  pieces apart. Each context piece remembers its word and whether this window gives it the most
  context ("max context" rule), which `postprocess` uses to pick one window per start token
  (squad_features.py; re-exported here).
- `postprocess` reads the beam outputs of the joint span model (start log-probs and, per start,
  end log-probs), keeps valid spans, and projects the best word-piece span back onto the
  original text (squad_answers.py; re-exported here). For SQuAD 2.0 the "answerable" logit
  (which scores *impossible*) gives the null odds and a threshold turns the prediction into "".
"""

import dataclasses
import json
import os
import warnings

from electra_keras.data.squad_answers import (
    MAX_ANSWER_LENGTH, N_BEST_SIZE, NA_THRESHOLD, NO_FEATURE_NULL_SCORE, basic_tokenize, get_final_text,
    postprocess, write_predictions)
from electra_keras.data.squad_features import (
    DOC_STRIDE, MAX_QUERY_LEN, MAX_SEQ_LEN, SquadFeature, feature_arrays, featurize)
from electra_keras.data.text import InputError


@dataclasses.dataclass
class SquadExample:
    """One question on one context.

    ``start_word``/``end_word`` index ``doc_tokens`` (inclusive) for the first answer; both are -1
    when the question is impossible or carries no usable answer.
    """

    qid: str
    question: str
    context: str
    doc_tokens: list
    answers: list
    start_word: int = -1
    end_word: int = -1
    is_impossible: bool = False


# ---------------------------------------------------------------------------------------------
# Reading


def _is_whitespace(char):
    # BERT's set plus U+202F (narrow no-break space), which ELECTRA's version adds.
    return char in " \t\r\n" or ord(char) == 0x202F


def split_context(context):
    """Whitespace-split `context` into words; returns (words, word index of each character).

    A whitespace character maps to the word before it (-1 before the first word), as in BERT.
    """
    words, char_to_word = [], []
    after_space = True
    for char in context:
        if _is_whitespace(char):
            after_space = True
        else:
            if after_space:
                words.append(char)
            else:
                words[-1] += char
            after_space = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word


def _require(mapping, key, kind, where, expected):
    if not isinstance(mapping, dict) or key not in mapping:
        raise InputError(f"{where}: {kind} without {key!r} (expected {expected})")
    return mapping[key]


def _answer_words(context, char_to_word, words, answer, where):
    """Word span (start, end) of one answer dict, or None when its text is not at its offset."""
    text = _require(answer, "text", "an answer", where, "'text' and 'answer_start'")
    start = _require(answer, "answer_start", "an answer", where, "'text' and 'answer_start'")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: the answer text is {text!r}; expected a non-empty string")
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < len(context):
        raise InputError(
            f"{where}: answer_start {start!r} is outside the context "
            f"(expected an integer in [0, {len(context)}))"
        )
    end_char = start + len(text) - 1
    if end_char >= len(context):  # the original: "End position is out of document!"
        return None
    start_word, end_word = char_to_word[start], char_to_word[end_char]
    if start_word < 0:  # the offset points at leading whitespace
        return None
    # Keep only answers whose text can be recovered from the words at the offset (the original's
    # "Could not find answer" check): a mismatch is usually an offset off by a few characters.
    found = " ".join(words[start_word:end_word + 1]).lower()
    wanted = " ".join(text.split()).lower()
    if wanted not in found:
        return None
    return start_word, end_word


def read_squad(path, is_training=True):
    """Read a SQuAD 1.1 or 2.0 json file into `SquadExample`s (in file order).

    Training questions need an answer unless ``is_impossible`` is true; their first answer gives
    ``start_word``/``end_word``, and those whose text is not found at ``answer_start`` are skipped
    with a warning. For evaluation, ``answers`` may be missing (an unlabeled question) and no
    question is skipped. Raises `InputError` naming the file, the article and the question.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a JSON file ({e}); expected SQuAD json") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise InputError(f"{path}: no 'data' list; expected SQuAD json ({{\"data\": [articles]}})")

    examples, skipped, seen = [], [], {}
    for a, article in enumerate(articles):
        title = article.get("title", f"#{a}") if isinstance(article, dict) else f"#{a}"
        where = f"{path}: article {title!r}"
        paragraphs = _require(article, "paragraphs", "an article", where, "a list of paragraphs")
        if not isinstance(paragraphs, list):
            raise InputError(f"{where}: 'paragraphs' is {type(paragraphs).__name__}; expected a list")
        for p, paragraph in enumerate(paragraphs):
            where = f"{path}: article {title!r}, paragraph {p}"
            context = _require(paragraph, "context", "a paragraph", where, "'context' and 'qas'")
            questions = _require(paragraph, "qas", "a paragraph", where, "'context' and 'qas'")
            if not isinstance(context, str) or not isinstance(questions, list):
                raise InputError(f"{where}: expected a 'context' string and a 'qas' list")
            words, char_to_word = split_context(context)
            for q, qa in enumerate(questions):
                example = _read_question(qa, q, context, words, char_to_word, where, is_training)
                if example is None:
                    skipped.append(qa["id"])
                    continue
                if example.qid in seen:
                    raise InputError(f"{where}, question {example.qid!r}: the id repeats an earlier question")
                seen[example.qid] = True
                examples.append(example)
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} training question(s) whose answer text is not at "
            f"answer_start (the original's 'Could not find answer'), e.g. {skipped[0]!r}",
            stacklevel=2,
        )
    return examples


def _read_question(qa, index, context, words, char_to_word, where, is_training):
    qid = _require(qa, "id", "a question", f"{where}, question #{index}", "'id' and 'question'")
    where = f"{where}, question {qid!r}"
    question = _require(qa, "question", "a question", where, "'id', 'question' and 'answers'")
    if is_training or "answers" in qa:
        answers = _require(qa, "answers", "a question", where, "'id', 'question' and 'answers'")
    else:
        answers = []
    if not isinstance(answers, list):
        raise InputError(f"{where}: 'answers' is {type(answers).__name__}; expected a list")
    is_impossible = bool(qa.get("is_impossible", False))  # absent in SQuAD 1.1
    example = SquadExample(
        qid=str(qid), question=question, context=context, doc_tokens=words,
        answers=[_require(ans, "text", "an answer", where, "'text'") for ans in answers],
        is_impossible=is_impossible,
    )
    if is_impossible:
        return example
    if not answers:
        if is_training:
            raise InputError(f"{where}: no answers; expected one, or \"is_impossible\": true")
        return example
    span = _answer_words(context, char_to_word, words, answers[0], where)
    if span is None:
        return None if is_training else example
    example.start_word, example.end_word = span
    return example


__all__ = ["SquadExample", "read_squad", "split_context",
           # from squad_features
           "SquadFeature", "featurize", "feature_arrays", "MAX_SEQ_LEN", "DOC_STRIDE", "MAX_QUERY_LEN",
           # from squad_answers, so that `squad.` reaches the whole pipeline
           "postprocess", "write_predictions", "get_final_text", "basic_tokenize", "N_BEST_SIZE",
           "MAX_ANSWER_LENGTH", "NA_THRESHOLD", "NO_FEATURE_NULL_SCORE"]
