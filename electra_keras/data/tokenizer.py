"""WordPiece vocabularies and the tokenizer, BERT-compatible.

Vocabularies are plain BERT ``vocab.txt`` files (one token per line, id = line number - 1).
New ones put the special tokens where BERT's do: [PAD] 0, [unused0..98] 1-99, [UNK] 100,
[CLS] 101, [SEP] 102, [MASK] 103, so the default `ElectraConfig` ids fit.

Training and tokenizing use Hugging Face `tokenizers` (Rust): it streams text, uses every core,
learns a vocabulary of gigabytes in minutes, and its `BertNormalizer` + `BertPreTokenizer` +
`WordPiece`, mended where they differ (`_bert_pipeline`, `_lower`), reproduce BERT's
`FullTokenizer` (clean-up, CJK splitting, lower-casing, accent stripping, punctuation
splitting, greedy longest-match, 200-character words become [UNK]).
The settings travel next to the vocab in ``tokenizer_config.json``.
"""

import json
import os
import unicodedata

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_RESERVED = ("[PAD]",) + tuple(f"[unused{i}]" for i in range(99)) + SPECIAL_TOKENS[1:]
VOCAB_FILE = "vocab.txt"
SETTINGS_FILE = "tokenizer_config.json"
MAX_CHARS_PER_WORD = 200  # BERT's FullTokenizer: longer words become [UNK]


def load_vocab(path):
    """Read and check a BERT-style vocab.txt; returns the list of tokens (index = id)."""
    if os.path.isdir(path):
        path = os.path.join(path, VOCAB_FILE)
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such vocabulary file (expected a BERT-style vocab.txt)")
    with open(path, encoding="utf-8", errors="strict") as f:
        try:
            tokens = [line.rstrip("\n").rstrip("\r") for line in f]
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text; expected a BERT-style vocab.txt") from None
    if not tokens:
        raise ValueError(f"{path}: the vocabulary is empty")
    seen = {}
    for line, token in enumerate(tokens, start=1):
        if not token.strip():
            raise ValueError(f"{path}:{line}: empty token; expected one token per line")
        if token in seen:
            raise ValueError(f"{path}:{line}: {token!r} repeats line {seen[token]}")
        seen[token] = line
    missing = [t for t in SPECIAL_TOKENS if t not in seen]
    if missing:
        raise ValueError(
            f"{path}: the vocabulary lacks the special tokens {' '.join(missing)} "
            f"(expected all of {' '.join(SPECIAL_TOKENS)})"
        )
    return tokens


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer over a vocab.txt.

    Args:
      vocab: path to a vocab.txt (or a directory holding one), or a list of tokens.
      lower_case: lower-case the text (BERT uncased, ELECTRA's default).
      strip_accents: remove accents; None follows `lower_case`, as BERT does.
    """

    def __init__(self, vocab, lower_case=True, strip_accents=None):
        from tokenizers import Tokenizer, decoders, models

        self.tokens = load_vocab(vocab) if isinstance(vocab, (str, os.PathLike)) else list(vocab)
        self.lower_case = bool(lower_case)
        self.strip_accents = self.lower_case if strip_accents is None else bool(strip_accents)
        self.vocab = {token: i for i, token in enumerate(self.tokens)}
        missing = [t for t in SPECIAL_TOKENS if t not in self.vocab]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {' '.join(missing)}")
        tokenizer = Tokenizer(
            models.WordPiece(self.vocab, unk_token="[UNK]", max_input_chars_per_word=MAX_CHARS_PER_WORD)
        )
        _bert_pipeline(tokenizer, self.lower_case, self.strip_accents)
        tokenizer.decoder = decoders.WordPiece(prefix="##")
        self._tokenizer = tokenizer

    @classmethod
    def from_directory(cls, directory):
        """Load vocab.txt and the settings in tokenizer_config.json (lower case by default)."""
        settings = {}
        settings_path = os.path.join(directory, SETTINGS_FILE)
        if os.path.exists(settings_path):
            with open(settings_path) as f:
                settings = json.load(f)
        return cls(
            os.path.join(directory, VOCAB_FILE),
            lower_case=settings.get("do_lower_case", True),
            strip_accents=settings.get("strip_accents"),
        )

    def save(self, directory):
        """Write vocab.txt and tokenizer_config.json into `directory`."""
        os.makedirs(directory, exist_ok=True)
        write_vocab(self.tokens, os.path.join(directory, VOCAB_FILE))
        settings = {
            "do_lower_case": self.lower_case,
            "strip_accents": self.strip_accents,
            "vocab_size": len(self.tokens),
            "tokenizer_class": "ElectraTokenizer",
        }
        with open(os.path.join(directory, SETTINGS_FILE), "w") as f:
            json.dump(settings, f, indent=2)

    def __len__(self):
        return len(self.tokens)

    def token_id(self, token):
        return self.vocab[token]

    @property
    def special_ids(self):
        """The ids ElectraConfig takes (pad/cls/sep/mask_token_id), and unk_token_id."""
        names = ("pad", "unk", "cls", "sep", "mask")
        return {f"{name}_token_id": self.vocab[f"[{name.upper()}]"] for name in names}

    @property
    def ordinary_ids(self):
        """Ids of the ordinary word pieces: every one but the bracketed [PAD], [UNK], [CLS],
        [SEP], [MASK] and [unusedN] (what random replacements and token counts draw from)."""
        return [i for i, t in enumerate(self.tokens) if not (t.startswith("[") and t.endswith("]"))]

    def tokenize(self, text):
        """Word pieces of `text`, without [CLS]/[SEP]."""
        return self._tokenizer.encode(_lower(text, self.lower_case), add_special_tokens=False).tokens

    def encode(self, text):
        """Token ids of `text`, without [CLS]/[SEP]."""
        return self._tokenizer.encode(_lower(text, self.lower_case), add_special_tokens=False).ids

    def encode_batch(self, texts):
        """Token ids of each text (tokenized in parallel threads)."""
        texts = [_lower(text, self.lower_case) for text in texts]
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids):
        return self._tokenizer.decode(list(ids), skip_special_tokens=False)


def _bert_pipeline(tokenizer, lower_case, strip_accents):
    """Give `tokenizer` BERT's clean-up and word splitting: the `tokenizers` Bert normalizer and
    pre-tokenizer, mended where they depart from BERT's FullTokenizer. BERT removes every
    character of category C, `BertNormalizer` keeps unassigned ones (Cn); `BertPreTokenizer`
    does not split off the CJK characters U+2B820-U+2B91F (a typo in its CJK ranges)."""
    from tokenizers import Regex, normalizers, pre_tokenizers

    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(r"[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\t\n\r]"), ""),
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=strip_accents,
                                   lowercase=lower_case),
    ])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"[\x{2B820}-\x{2B91F}]"), "isolated"),
        pre_tokenizers.BertPreTokenizer(),
    ])


def _lower(text, lower_case):
    """BERT's lower-casing, Python's `str.lower`: `BertNormalizer` lower-cases one character at a
    time, so a word-final capital sigma would become σ where BERT gives ς. BERT lower-cases after
    its clean-up, so what the clean-up removes goes first where it could sit beside a sigma."""
    if not lower_case:
        return text
    if "Σ" in text and (not text.isprintable() or "\ufffd" in text):
        text = "".join(c for c in text if c in "\t\n\r" or (c != "\ufffd" and unicodedata.category(c)[0] != "C"))
    return text.lower()


def write_vocab(tokens, path):
    """Write a vocab.txt atomically (a temporary name, then a rename)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{token}\n" for token in tokens)
    os.replace(tmp, path)


def build_vocab(lines, vocab_size=30522, lower_case=True, strip_accents=None, min_frequency=2,
                limit_alphabet=1000, show_progress=False):
    """Learn a WordPiece vocabulary from an iterable of text lines.

    The first 104 ids are BERT's reserved tokens (`BERT_RESERVED`); the learned word pieces
    follow. Returns a `WordPieceTokenizer` (call `.save(directory)` to write it).
    """
    from tokenizers import Tokenizer, models, trainers

    if vocab_size <= len(BERT_RESERVED):
        raise ValueError(f"vocab_size={vocab_size}: expected more than the {len(BERT_RESERVED)} reserved tokens")
    strip_accents = lower_case if strip_accents is None else strip_accents
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    _bert_pipeline(tokenizer, lower_case, strip_accents)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(BERT_RESERVED),
        limit_alphabet=limit_alphabet,
        continuing_subword_prefix="##",
        show_progress=show_progress,
    )
    tokenizer.train_from_iterator((_lower(line, lower_case) for line in lines if line), trainer=trainer)
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    if tokens[: len(BERT_RESERVED)] != list(BERT_RESERVED):
        raise RuntimeError("the trainer did not keep the reserved tokens at BERT's ids")
    # The trainer orders tokens of equal frequency by hash-map order, which changes from run to
    # run (and so can the choice between merges of equal count). WordPiece only needs the set,
    # so the learned tokens are sorted (words, then ## pieces): one set, one vocab.txt.
    learned = sorted(tokens[len(BERT_RESERVED):], key=lambda t: (t.startswith("##"), t))
    tokens = list(BERT_RESERVED) + learned
    if len(tokens) < vocab_size:
        print(f"build_vocab: the text supports {len(tokens)} tokens, fewer than {vocab_size}")
    return WordPieceTokenizer(tokens, lower_case=lower_case, strip_accents=strip_accents)


def load_tokenizer(vocab, lower_case=True, strip_accents=True):
    """A tokenizer from a directory (vocab.txt + tokenizer_config.json) or a vocab.txt file."""
    if os.path.isdir(vocab):
        return WordPieceTokenizer.from_directory(vocab)
    return WordPieceTokenizer(vocab, lower_case=lower_case, strip_accents=strip_accents)
