"""SQuAD 1.1 / 2.0: reading, featurizing into sliding windows, and turning span scores into answers.

This follows ELECTRA's ``finetune/qa/qa_tasks.py`` and ``qa_metrics.py`` (themselves BERT's
``run_squad.py``), so predictions match the original's given the same model outputs:

- `read_squad` splits each context on whitespace into words (``doc_tokens``) and maps the
  character offset of the first answer onto word indexes. Training answers whose text is not
  found at that offset are skipped (counted, with one warning), as the original does.
- `featurize` builds ``[CLS] question [SEP] context window [SEP]`` features: the question is cut
  to ``max_query_len`` word pieces and long contexts are covered by windows ``doc_stride``
  pieces apart. Each context piece remembers its word and whether this window gives it the most
  context ("max context" rule), which `postprocess` uses to pick one window per start token.
- `postprocess` reads the beam outputs of the joint span model (start log-probs and, per start,
  end log-probs), keeps valid spans, and projects the best word-piece span back onto the
  original text (squad_answers.py; re-exported here). For SQuAD 2.0 the "answerable" logit
  (which scores *impossible*) gives the null odds and a threshold turns the prediction into "".
"""

import dataclasses
import json
import os
import warnings

import numpy as np

from electra_keras.data.squad_answers import (
    MAX_ANSWER_LENGTH, N_BEST_SIZE, NA_THRESHOLD, NO_FEATURE_NULL_SCORE, basic_tokenize, get_final_text,
    postprocess, write_predictions)
from electra_keras.data.text import InputError

# The original's defaults (configure_finetuning.py) for the windows; n-best, answer length and
# the no-answer threshold live with the predictions (squad_answers.py).
MAX_SEQ_LEN = 384
DOC_STRIDE = 128
MAX_QUERY_LEN = 64


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


@dataclasses.dataclass
class SquadFeature:
    """One window of one example, ready for the model.

    ``tokens`` holds the word pieces with [CLS]/[SEP] (no padding); ``token_to_word`` and
    ``token_is_max_context`` are keyed by the index in ``tokens`` and cover context pieces only.
    ``start_position``/``end_position`` index ``tokens``; they are 0 ([CLS]) when the example is
    impossible, unlabeled, or its answer is not wholly inside this window. As in the original,
    ``is_impossible`` is the example's flag: a window that merely misses the answer points at
    [CLS] but is still labeled answerable.
    """

    example_index: int
    qid: str
    tokens: list
    token_to_word: dict
    token_is_max_context: dict
    token_ids: np.ndarray
    segment_ids: np.ndarray
    padding_mask: np.ndarray
    start_position: int = 0
    end_position: int = 0
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


# ---------------------------------------------------------------------------------------------
# Featurizing


def _doc_windows(num_pieces, max_pieces, stride):
    """(start, length) of each window over the context pieces, `stride` apart; the last one ends the context."""
    windows, start = [], 0
    while start < num_pieces:
        length = min(num_pieces - start, max_pieces)
        windows.append((start, length))
        if start + length == num_pieces:
            break
        start += min(length, stride)
    return windows


def _is_max_context(windows, window_index, position):
    """Whether `window_index` gives context piece `position` the most context.

    A piece's context in a window is the smaller of its left and right neighbour counts; ties
    go to the longer window (the original's 0.01 * length), then to the earlier one.
    """
    best_score, best_index = None, None
    for index, (start, length) in enumerate(windows):
        end = start + length - 1
        if not start <= position <= end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best_index = score, index
    return best_index == window_index


def _improve_answer_span(pieces, start, end, tokenizer, answer_text):
    """Narrow a word-aligned piece span to the pieces of the answer text, when they are inside it.

    The annotated answer is a character span; whitespace words can carry extra characters (the
    answer "1895" inside the word "(1895-1943)."), which the word pieces split off.
    """
    wanted = " ".join(tokenizer.tokenize(answer_text))
    for new_start in range(start, end + 1):
        for new_end in range(end, new_start - 1, -1):
            if " ".join(pieces[new_start:new_end + 1]) == wanted:
                return new_start, new_end
    return start, end


def _context_pieces(words, tokenizer):
    """Word pieces of the context words, with the word of each piece and the first piece of each word."""
    pieces, piece_to_word, word_to_piece = [], [], []
    for w, word in enumerate(words):
        word_to_piece.append(len(pieces))
        for piece in tokenizer.tokenize(word):
            pieces.append(piece)
            piece_to_word.append(w)
    return pieces, piece_to_word, word_to_piece


def featurize(examples, tokenizer, max_seq_len=MAX_SEQ_LEN, doc_stride=DOC_STRIDE,
              max_query_len=MAX_QUERY_LEN, is_training=True):
    """Turn examples into `SquadFeature`s, one per context window, in example order.

    Labels come from each example's first answer whenever it has one; with ``is_training`` an
    answerable example without a word span is an error.
    """
    if doc_stride < 1:
        raise ValueError(f"doc_stride={doc_stride}: expected at least 1")
    vocab = tokenizer.vocab
    cache = {}  # context -> pieces: SQuAD asks about five questions per context
    features = []
    for example_index, example in enumerate(examples):
        query = tokenizer.tokenize(example.question)[:max_query_len]
        max_pieces = max_seq_len - len(query) - 3  # room left after [CLS] query [SEP] ... [SEP]
        if max_pieces < 1:
            raise ValueError(
                f"max_seq_len={max_seq_len} leaves no room for the context after a question of "
                f"{len(query)} pieces (max_query_len={max_query_len}); expected max_seq_len > max_query_len + 3"
            )
        if example.context not in cache:
            cache[example.context] = _context_pieces(example.doc_tokens, tokenizer)
        pieces, piece_to_word, word_to_piece = cache[example.context]
        answer = _answer_pieces(example, pieces, word_to_piece, tokenizer, is_training)
        windows = _doc_windows(len(pieces), max_pieces, doc_stride)
        for window_index, (start, length) in enumerate(windows):
            tokens = ["[CLS]"] + query + ["[SEP]"]
            offset = len(tokens)  # feature index of the window's first context piece
            token_to_word, max_context = {}, {}
            for i in range(start, start + length):
                token_to_word[len(tokens)] = piece_to_word[i]
                max_context[len(tokens)] = _is_max_context(windows, window_index, i)
                tokens.append(pieces[i])
            tokens.append("[SEP]")

            start_position = end_position = 0  # [CLS]: impossible, unlabeled, or outside the window
            if answer is not None and start <= answer[0] and answer[1] < start + length:
                start_position = answer[0] - start + offset
                end_position = answer[1] - start + offset

            token_ids = np.zeros(max_seq_len, "int32")
            segment_ids = np.zeros(max_seq_len, "int32")
            padding_mask = np.zeros(max_seq_len, "int32")
            token_ids[:len(tokens)] = [vocab[t] for t in tokens]
            segment_ids[offset:len(tokens)] = 1  # the context and its [SEP]
            padding_mask[:len(tokens)] = 1
            features.append(SquadFeature(
                example_index=example_index, qid=example.qid, tokens=tokens,
                token_to_word=token_to_word, token_is_max_context=max_context,
                token_ids=token_ids, segment_ids=segment_ids, padding_mask=padding_mask,
                start_position=start_position, end_position=end_position,
                is_impossible=bool(example.is_impossible),
            ))
    return features


def _answer_pieces(example, pieces, word_to_piece, tokenizer, is_training):
    """(start, end) piece indexes of the example's answer in the context, or None."""
    if example.is_impossible:
        return None
    if example.start_word < 0:
        if is_training:
            raise ValueError(f"question {example.qid!r}: answerable but no answer span to train on")
        return None
    start = word_to_piece[example.start_word]
    # The answer's last piece is just before the next word's first piece.
    if example.end_word + 1 < len(word_to_piece):
        end = word_to_piece[example.end_word + 1] - 1
    else:
        end = len(pieces) - 1
    return _improve_answer_span(pieces, start, end, tokenizer, example.answers[0])


def feature_arrays(features):
    """Stack features into the int32 arrays a Keras model's fit takes, plus the labels.

    Returns ``token_ids``, ``segment_ids``, ``padding_mask`` (n, T) and ``start_positions``,
    ``end_positions`` (n,) int32, ``is_impossible`` (n,) float32 (the answerable head's target).
    """
    def stack(name):
        rows = [np.asarray(getattr(f, name), "int32") for f in features]
        return np.stack(rows) if rows else np.zeros((0, 0), "int32")

    return {
        "token_ids": stack("token_ids"),
        "segment_ids": stack("segment_ids"),
        "padding_mask": stack("padding_mask"),
        "start_positions": np.array([f.start_position for f in features], "int32"),
        "end_positions": np.array([f.end_position for f in features], "int32"),
        "is_impossible": np.array([f.is_impossible for f in features], "float32"),
    }


__all__ = ["SquadExample", "SquadFeature", "read_squad", "split_context", "featurize", "feature_arrays",
           # from squad_answers, so that `squad.` reaches the whole pipeline
           "postprocess", "write_predictions", "get_final_text", "basic_tokenize", "N_BEST_SIZE",
           "MAX_ANSWER_LENGTH", "NA_THRESHOLD", "NO_FEATURE_NULL_SCORE"]
