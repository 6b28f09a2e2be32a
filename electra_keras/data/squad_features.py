"""SQuAD features: ``[CLS] question [SEP] context window [SEP]`` windows over each example.

As ELECTRA's ``finetune/qa/qa_tasks.py`` (BERT's ``run_squad.py``): the question is cut to
``max_query_len`` word pieces, a long context is covered by windows ``doc_stride`` pieces apart,
and each context piece remembers its word and whether this window gives it the most context.
`electra_keras.data.squad` reads the examples and re-exports everything here.
"""

import dataclasses

import numpy as np

# The original's defaults (configure_finetuning.py); n-best, answer length and the no-answer
# threshold live with the predictions (squad_answers.py).
MAX_SEQ_LEN = 384
DOC_STRIDE = 128
MAX_QUERY_LEN = 64


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
