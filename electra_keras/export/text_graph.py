"""The SavedModel's text signatures: BERT's tokenization as TensorFlow ops in the graph.

`text_preprocessor` gives the same ids as `electra_keras.data.tokenizer.WordPieceTokenizer`
(Hugging Face tokenizers, used for training) and as the standard-library `electra_tokenizer.py`
copied beside TFLite and ONNX exports; tests/test_wordpiece_parity.py holds all three to it.
"""

# BERT's character classes (ELECTRA's model/tokenization.py) as RE2 patterns. Zl and Zp are
# not BERT whitespace, but the str.split() that BERT splits words with splits on them too.
_WHITESPACE = r"[\t\n\r\p{Zs}\p{Zl}\p{Zp}]"
_DROPPED = r"[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}]|\x{FFFD}"  # every category C (controls, format, ...)
_PUNCTUATION = r"[!-/:-@\[-`{-~\p{P}]"
_CJK = (r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}\x{2B740}-\x{2B81F}"
        r"\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]")


def text_preprocessor(tokenizer, seq_len):
    """A tf.Module that tokenizes strings (or string pairs) in the graph, as BERT's FullTokenizer.

    `module([texts])` or `module([firsts, seconds])` gives the padded model inputs;
    `module.tokenize(texts)` the word-piece ids of each text (ragged).

    It gives the ids of `WordPieceTokenizer` and of `electra_tokenizer.py`: control and format
    characters and U+FFFD removed, whitespace normalised, CJK characters split apart,
    lower-casing (Python's `str.lower`) then accent stripping (NFD, no Mn) each as the
    vocabulary says, punctuation split off, greedy longest-match word pieces, and a word over
    200 characters becomes [UNK] (characters, as BERT counts, where tensorflow-text's own limit
    counts bytes). Only the character tables differ: for characters assigned or changed in
    recent Unicode versions, RE2's and ICU's Unicode version decides here, Python's there.
    """
    import tensorflow as tf
    import tensorflow_text as tf_text

    from electra_keras.data.tokenizer import MAX_CHARS_PER_WORD

    ids = tokenizer.special_ids

    class TextPreprocessor(tf.Module):
        def __init__(self):
            super().__init__()
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(tokenizer.tokens),
                                                    tf.range(len(tokenizer.tokens), dtype=tf.int64)),
                default_value=ids["unk_token_id"])
            self.table = table
            # a UTF-8 character is at most 4 bytes: every word within the character limit fits
            self.wordpiece = tf_text.WordpieceTokenizer(table, max_bytes_per_word=4 * MAX_CHARS_PER_WORD,
                                                        token_out_type=tf.int32)

        def tokenize(self, texts):
            texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
            texts = tf.strings.regex_replace(texts, _DROPPED, "")
            if tokenizer.lower_case:
                texts = tf.strings.lower(texts, encoding="utf-8")
            if tokenizer.strip_accents:
                texts = tf.strings.regex_replace(tf_text.normalize_utf8(texts, "NFD"), r"\p{Mn}", "")
            split_off = f"{_PUNCTUATION}|{_CJK}"
            words = tf_text.regex_split(texts, f" +|{split_off}", split_off)
            # BERT's limit counts characters, tensorflow-text's bytes: longer words are looked up as [UNK]
            words = tf.ragged.map_flat_values(
                lambda w: tf.where(tf.strings.length(w, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD, "[UNK]", w), words)
            return self.wordpiece.tokenize(words).merge_dims(-2, -1)

        def __call__(self, texts):
            segments = [self.tokenize(t) for t in texts]
            budget = seq_len - len(segments) - 1
            trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
            token_ids, segment_ids = tf_text.combine_segments(
                trimmed, start_of_sequence_id=ids["cls_token_id"], end_of_segment_id=ids["sep_token_id"])
            token_ids, padding_mask = tf_text.pad_model_inputs(token_ids, max_seq_length=seq_len)
            segment_ids, _ = tf_text.pad_model_inputs(segment_ids, max_seq_length=seq_len)
            return {"token_ids": tf.cast(token_ids, tf.int32), "segment_ids": tf.cast(segment_ids, tf.int32),
                    "padding_mask": tf.cast(padding_mask, tf.int32)}

    return TextPreprocessor()
