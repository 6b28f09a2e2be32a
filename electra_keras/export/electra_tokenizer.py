"""WordPiece tokenization for an exported ELECTRA model, with the Python standard library and NumPy.

This file is copied next to every exported model, so that a server or a phone without
TensorFlow can feed the TFLite or ONNX model:

    from electra_tokenizer import Tokenizer
    tokenizer = Tokenizer.from_directory(".")        # vocab.txt + tokenizer_config.json
    inputs = tokenizer(["The cat sat."], seq_len=128)  # token_ids, segment_ids, padding_mask (int32)
    inputs = tokenizer(["A question?"], ["Its context."], seq_len=128)   # sentence pairs

It reproduces BERT's FullTokenizer: text clean-up, CJK characters split apart, lower-casing
and accent stripping (each switchable), splitting on whitespace and punctuation, then greedy
longest-match WordPiece with "##" continuations; a word over 200 characters, or one with no
match, becomes [UNK]. Inputs are packed as BERT: [CLS] A [SEP] (B [SEP]), segment ids 0 then
1, truncated round robin (each text keeps at least half the room when both are long), padded
with 0 to seq_len.
"""

import json
import os
import unicodedata

import numpy as np


class Tokenizer:
    def __init__(self, vocab_path, lower_case=True, strip_accents=None, max_chars_per_word=200):
        with open(vocab_path, encoding="utf-8") as f:
            self.tokens = [line.rstrip("\n") for line in f if line.strip()]
        self.vocab = {token: i for i, token in enumerate(self.tokens)}
        self.lower_case = lower_case
        self.strip_accents = lower_case if strip_accents is None else strip_accents
        self.max_chars_per_word = max_chars_per_word
        self.unk, self.cls, self.sep, self.pad = (self.vocab[t] for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"))

    @classmethod
    def from_directory(cls, directory):
        settings = {}
        path = os.path.join(directory, "tokenizer_config.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                settings = json.load(f)
        return cls(os.path.join(directory, "vocab.txt"), settings.get("do_lower_case", True),
                   settings.get("strip_accents"))

    # ---- text -> word pieces
    def _normalize(self, text):
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                chars.append(" ")
            elif _is_cjk(cp):
                chars.extend((" ", ch, " "))
            else:
                chars.append(ch)
        text = "".join(chars)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lower_case:
            text = text.lower()
        return text

    def _words(self, text):
        for chunk in text.split():
            word = []
            for ch in chunk:
                if _is_punctuation(ch):
                    if word:
                        yield "".join(word)
                        word = []
                    yield ch
                else:
                    word.append(ch)
            if word:
                yield "".join(word)

    def _word_pieces(self, word):
        if len(word) > self.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text):
        return [p for w in self._words(self._normalize(text)) for p in self._word_pieces(w)]

    def encode(self, text):
        """Token ids of `text`, without [CLS]/[SEP]."""
        return [self.vocab.get(p, self.unk) for p in self.tokenize(text)]

    # ---- ids -> model inputs
    def pack(self, first, second=None, seq_len=128):
        """[CLS] first [SEP] (second [SEP]) -> (token ids, segment ids), truncated round robin."""
        budget = seq_len - (2 if second is None else 3)
        if second is None:
            first = first[:budget]
            return [self.cls, *first, self.sep], [0] * (len(first) + 2)
        na = nb = 0
        while na + nb < budget and (na < len(first) or nb < len(second)):
            if na < len(first):
                na += 1
            if na + nb < budget and nb < len(second):
                nb += 1
        ids = [self.cls, *first[:na], self.sep, *second[:nb], self.sep]
        return ids, [0] * (na + 2) + [1] * (nb + 1)

    def __call__(self, texts, pairs=None, seq_len=128):
        """Model inputs for a batch of texts (or text pairs), each (batch, seq_len) int32."""
        if isinstance(texts, str):
            texts = [texts]
        if isinstance(pairs, str):
            pairs = [pairs]
        if pairs is not None and len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pair texts")
        batch = {k: np.zeros((len(texts), seq_len), "int32") for k in ("token_ids", "segment_ids", "padding_mask")}
        for i, text in enumerate(texts):
            second = None if pairs is None else self.encode(pairs[i])
            ids, segments = self.pack(self.encode(text), second, seq_len)
            batch["token_ids"][i, : len(ids)] = ids
            batch["segment_ids"][i, : len(ids)] = segments
            batch["padding_mask"][i, : len(ids)] = 1
        return batch


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)
