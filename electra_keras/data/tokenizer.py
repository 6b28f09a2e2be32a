"""WordPiece vocabularies and the tokenizer, BERT-compatible.

Vocabularies are plain BERT ``vocab.txt`` files (one token per line, id = line number - 1).
New ones put the special tokens where BERT's do: [PAD] 0, [unused0..98] 1-99, [UNK] 100,
[CLS] 101, [SEP] 102, [MASK] 103, so the default `ElectraConfig` ids fit.

Training and tokenizing use Hugging Face `tokenizers` (Rust): it streams text, uses every core,
learns a vocabulary of gigabytes in minutes, and its `BertNormalizer` + `BertPreTokenizer` +
`WordPiece`, mended where they differ (`_bert_pipeline`, `_lower`), reproduce BERT's
`FullTokenizer` (clean-up, CJK splitting, lower-casing, accent stripping, punctuation
splitting, greedy longest-match, 200-character words become [UNK]).
`encode_batch` runs large batches through tensorflow-text's FastBertTokenizer instead, about ten
times faster, with BERT's ids: each text it would tokenize otherwise takes the exact path
(`_FastWordPiece`).
The settings travel next to the vocab in ``tokenizer_config.json``.
"""

import contextlib
import gc
import itertools
import json
import os
import random
import re
import unicodedata

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_RESERVED = ("[PAD]",) + tuple(f"[unused{i}]" for i in range(99)) + SPECIAL_TOKENS[1:]
VOCAB_FILE = "vocab.txt"
SETTINGS_FILE = "tokenizer_config.json"
MAX_CHARS_PER_WORD = 200  # BERT's FullTokenizer: longer words become [UNK]
# Smaller batches take the exact path: starting TensorFlow costs more than they take.
FAST_PATH_MIN_CHARS = 1 << 16
FAST_PATH_CHUNK = 8192  # texts per FastBertTokenizer call: larger calls convert their ids slower


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
        self._fast = None  # the FastBertTokenizer path, built by the first large batch (`_fast_path`)

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
        """Token ids of each text, without [CLS]/[SEP]: BERT's, as `encode` gives them.

        A batch of `FAST_PATH_MIN_CHARS` characters or more goes through tensorflow-text's
        FastBertTokenizer, except the texts where it would depart from BERT (`_FastWordPiece`),
        which take the exact path with smaller batches. Accent stripping without lower-casing has
        no FastBertTokenizer setting: it always takes the exact path.
        """
        texts = list(texts)
        if sum(map(len, texts)) < FAST_PATH_MIN_CHARS or not self._fast_path_applies():
            return self._encode_exact(texts)
        ids, unknown_rows = self._fast_path().encode(texts)
        exact_rows = self._fast.departing_rows(texts, unknown_rows)
        for i, row_ids in zip(exact_rows, self._encode_exact([texts[i] for i in exact_rows])):
            ids[i] = row_ids
        return ids

    def encode_arrays(self, texts):
        """The ids `encode_batch` gives, as NumPy arrays: (values, row_splits), text i's ids being
        values[row_splits[i]:row_splits[i + 1]] (int32 values, int64 splits). Without the Python
        lists, a third faster on the fast path."""
        import numpy as np

        texts = list(texts)
        if sum(map(len, texts)) < FAST_PATH_MIN_CHARS or not self._fast_path_applies():
            return _ragged(self._encode_exact(texts))
        values, splits, unknown_rows = self._fast_path().encode_arrays(texts)
        exact_rows = self._fast.departing_rows(texts, unknown_rows)
        if not exact_rows:
            return values, splits
        pieces, lengths, after = [], np.diff(splits), 0  # the fast ids between the rows mended
        for i, row_ids in zip(exact_rows, self._encode_exact([texts[i] for i in exact_rows])):
            pieces += [values[splits[after]:splits[i]], np.asarray(row_ids, np.int32)]
            lengths[i], after = len(row_ids), i + 1
        pieces.append(values[splits[after]:])
        return np.concatenate(pieces), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def _encode_exact(self, texts):
        """Token ids through the Hugging Face pipeline, mended (parallel threads)."""
        texts = [_lower(text, self.lower_case) for text in texts]
        return [e.ids for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def start_fast_path(self):
        """Start the fast path now rather than with the first large batch: tensorflow-text's models
        built and run once, about 0.04 s. A no-op where the fast path does not apply."""
        if self._fast_path_applies():
            self._fast_path().encode_arrays(["."])

    def _fast_path(self):
        if self._fast is None:
            self._fast = _FastWordPiece(self.tokens, self.lower_case, self.strip_accents)
        return self._fast

    def _fast_path_applies(self):
        # FastBertTokenizer strips accents only with lower-casing; its ids are list positions
        return (self.lower_case or not self.strip_accents) and len(self.vocab) == len(self.tokens)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_fast"] = None  # TensorFlow objects do not pickle; the copy builds its own
        return state

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
    """BERT's clean-up by Python's Unicode tables, then its lower-casing (`str.lower`).

    BERT removes every character of category C and U+FFFD; the normalizer's tables are not
    Python's (it keeps a character assigned after Python's Unicode version, which BERT removes
    as unassigned), so they go first here, in a text that holds one. `BertNormalizer`
    lower-cases one character at a time, so a word-final capital sigma would become σ where
    BERT gives ς; BERT lower-cases after its clean-up, which could have joined a sigma to a
    letter.
    """
    if not text.isprintable() or "\ufffd" in text:
        text = "".join(c for c in text if c in "\t\n\r" or (c != "\ufffd" and unicodedata.category(c)[0] != "C"))
    return text.lower() if lower_case else text


class _FastWordPiece:
    """tensorflow-text's FastBertTokenizer over a vocabulary, and the texts it would tokenize
    unlike BERT's FullTokenizer.

    Uncased with accent stripping uses its lower_case_nfd_strip_accents normalizer, cased its
    plain one, lower-casing without stripping lower-cases in Python (`str.lower`) and then the
    plain one. Both split on BERT's whitespace, punctuation and CJK characters and take greedy
    longest-match word pieces; the measured departures from BERT, each of which sends a text to
    the exact path, are:
    - characters: its normalizer replaces control characters with a space where BERT removes
      them, keeps U+FFFD and some format characters, folds compatibility forms and cases
      (ﬁ -> fi, ² -> 2, ß -> ss, … -> ..., ｆ -> f, ς -> σ) where BERT only lower-cases and
      strips marks, and its Unicode tables (ICU's) differ from Python's for recent characters.
      Each character a batch holds is probed once, the first time it is seen: the words it
      gives between two letters ("a" + c + "a") there and in BERT's BasicTokenizer (Python's
      Unicode tables, as the original's; `squad_answers.basic_tokenize`) must be equal;
    - Σ when lower-casing: BERT lower-cases whole words (a word-final Σ becomes ς), the
      normalizer one character at a time;
    - a combining character other than Mn when stripping accents: BERT's NFD of a whole word
      may reorder it among marks, the normalizer maps one character at a time;
    - long words: BERT makes a word of over `MAX_CHARS_PER_WORD` characters [UNK],
      tensorflow-text one of over that many bytes (`max_bytes_per_word`). Only a text with
      [UNK] there and a run without whitespace long enough to reach that many bytes can
      differ (never an ASCII one: its characters are one byte).
    """

    def __init__(self, tokens, lower_case, strip_accents):
        tf, tf_text = _tensorflow()
        self.lower_case, self.strip_accents = lower_case, strip_accents
        self.lower_in_python = lower_case and not strip_accents
        self.unknown_id = tokens.index("[UNK]")
        # tensorflow-text refuses pieces over 256 bytes. One over MAX_CHARS_PER_WORD bytes only
        # fits a word as long, which it makes [UNK] and `departing_rows` sends to the exact path,
        # so such a piece is renamed to what no word can match (brackets are punctuation).
        known = set(tokens)
        tokens = [t if len(t.encode("utf-8")) - 2 * t.startswith("##") <= MAX_CHARS_PER_WORD
                  else next(n for n in (f"[long-piece-{i}-{k}]" for k in itertools.count()) if n not in known)
                  for i, t in enumerate(tokens)]
        normalizer, wordpiece, splitter = _compiled_models(tokens, lower_case and strip_accents)
        with tf.device("/CPU:0"):
            self.tokenizer = tf_text.FastBertTokenizer(token_out_type=tf.int32, fast_wordpiece_model_buffer=wordpiece,
                                                       fast_bert_normalizer_model_buffer=normalizer)
            self.normalizer = tf_text.FastBertNormalizer(model_buffer=normalizer)
            self.splitter = tf_text.FastWordpieceTokenizer(model_buffer=splitter, token_out_type=tf.int32)
        self.probed, self.departing = set(), {"Σ"} if lower_case else set()
        self.growth = 1  # the most UTF-8 bytes one probed character becomes in a word
        self._probe(map(chr, range(128)))
        self.printable_ascii_agrees = not any(" " <= c <= "~" for c in self.departing)

    def _inputs(self, texts):
        return [text.lower() for text in texts] if self.lower_in_python else texts

    def _probe(self, chars):
        """Compare each character's words between two letters with BERT's; note departures."""
        import tensorflow as tf

        from electra_keras.data.squad_answers import basic_tokenize  # BERT's BasicTokenizer

        chars = sorted(chars)
        probes = ["a" + c + "a" for c in chars]
        with tf.device("/CPU:0"):
            normalized = self.normalizer.normalize(tf.constant(self._inputs(probes)))
            _, starts, ends = self.splitter.tokenize_with_offsets(normalized)
            normalized, starts, ends = normalized.numpy(), starts.to_list(), ends.to_list()
        for c, probe, text, first, last in zip(chars, probes, normalized, starts, ends):
            words = basic_tokenize(probe, self.lower_case, self.strip_accents)
            if ([text[s:e].decode("utf-8", "replace") for s, e in zip(first, last)] != words
                    or (self.strip_accents and _reorders(c, self.lower_case))):
                self.departing.add(c)
            else:
                self.growth = max(self.growth, len("".join(words).encode("utf-8")) - 2)
        self.probed.update(chars)
        self._departs = re.compile("[" + "".join(re.escape(c) for c in sorted(self.departing)) + "]"
                                   if self.departing else "(?!)").search
        # BERT's whitespace (Zs, \t\n\r) and what str.split() splits on besides (Zl, Zp)
        self._long_run = re.compile(
            "[^ \t\n\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{%d,}"
            % (MAX_CHARS_PER_WORD // self.growth + 1)).search

    def departing_rows(self, texts, unknown_rows):
        """Indices of the texts FastBertTokenizer tokenizes unlike BERT, given those where it
        gave [UNK] (`encode`)."""
        unseen = set().union(*(text for text in texts if not text.isascii())) - self.probed
        if unseen:
            self._probe(unseen)
        plain, departs = self.printable_ascii_agrees, self._departs
        # most texts are printable ASCII, where no character departs
        rows = {i for i, text in enumerate(texts)
                if not (plain and text.isascii() and text.isprintable()) and departs(text)}
        rows.update(i for i in unknown_rows if not texts[i].isascii() and self._long_run(texts[i]))
        return sorted(rows)

    def encode_arrays(self, texts):
        """FastBertTokenizer's ids of the texts as (values, row_splits) arrays, and the indices
        of the texts with [UNK]."""
        import numpy as np
        import tensorflow as tf

        values, splits = [], [np.zeros(1, np.int64)]
        with tf.device("/CPU:0"):
            for start in range(0, len(texts), FAST_PATH_CHUNK):
                pieces = self.tokenizer.tokenize(tf.constant(self._inputs(texts[start:start + FAST_PATH_CHUNK])))
                values.append(pieces.flat_values.numpy())
                splits.append(pieces.row_splits.numpy()[1:] + splits[-1][-1])
        values, splits = np.concatenate(values).astype(np.int32, copy=False), np.concatenate(splits)
        unknown = np.searchsorted(splits, np.flatnonzero(values == self.unknown_id), side="right") - 1
        return values, splits, np.unique(unknown).tolist()

    def encode(self, texts):
        """FastBertTokenizer's ids of each text, as lists, and the indices of those with [UNK]."""
        values, splits, unknown_rows = self.encode_arrays(texts)
        with collector_off():  # run every few hundred new lists, it would take most of the time
            values, splits = values.tolist(), splits.tolist()
            ids = [values[a:b] for a, b in zip(splits[:-1], splits[1:])]
        return ids, unknown_rows


@contextlib.contextmanager
def collector_off():
    """Python's cyclic garbage collector paused, then restored as it was: for making many objects
    that hold no cycles (strings, lists of ints), where each of its passes would scan every object
    of the process, TensorFlow's too."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _compiled_models(tokens, normalize):
    """tensorflow-text's models as uint8 tensors on the CPU: the normalizer (lower-casing,
    NFD and accent stripping when `normalize`), the vocabulary's word pieces (words over
    MAX_CHARS_PER_WORD bytes are [UNK]) and the splitter (one word, one token: "a" or [UNK], its
    offsets give the words). Compiling them takes about 0.35 s a process (the normalizer's table
    of every code point 0.2 s, 30,522 pieces 0.1 s), so they are kept in the cache directory
    (`electra_keras.cache`), keyed by what they are compiled from and tensorflow-text's version."""
    import hashlib

    import numpy as np

    from electra_keras import internals
    from electra_keras.cache import cached_bytes

    tf, tf_text = _tensorflow()
    build_normalizer, build_wordpiece = internals.tf_text_model_builders()
    vocab = hashlib.sha256("\n".join(tokens).encode("utf-8")).hexdigest()
    built = [
        cached_bytes("tokenizers", ["normalizer", tf_text.__version__, normalize], lambda: build_normalizer(normalize)),
        cached_bytes("tokenizers", ["wordpiece", tf_text.__version__, vocab, MAX_CHARS_PER_WORD],
                     lambda: build_wordpiece(tokens, MAX_CHARS_PER_WORD, "##", "[UNK]", False, False)),
        cached_bytes("tokenizers", ["wordpiece", tf_text.__version__, "[UNK] a", 1 << 16],
                     lambda: build_wordpiece(["[UNK]", "a"], 1 << 16, "##", "[UNK]", False, False)),
    ]
    with tf.device("/CPU:0"):
        return [tf.constant(np.frombuffer(model, np.uint8)) for model in built]


def _ragged(rows):
    """(values, row_splits) arrays of a list of id sequences."""
    import numpy as np

    lengths = np.fromiter(map(len, rows), np.int64, count=len(rows))
    splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = np.fromiter(itertools.chain.from_iterable(rows), np.int32, count=int(splits[-1]))
    return values, splits


def _tensorflow():
    """TensorFlow and tensorflow-text for tokenizing on the CPU; on another Keras backend,
    TensorFlow is kept off the GPUs (it would reserve their memory) if it has not started yet."""
    import keras
    import tensorflow as tf
    import tensorflow_text as tf_text

    if keras.backend.backend() != "tensorflow":
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # TensorFlow has started: its devices are set
            pass
    return tf, tf_text


def _reorders(char, lower_case):
    """Whether NFD may move a character of `char`'s that accent stripping keeps (combining, not Mn)."""
    char = char.lower() if lower_case else char
    return any(unicodedata.combining(c) and unicodedata.category(c) != "Mn" for c in unicodedata.normalize("NFD", char))


def write_vocab(tokens, path):
    """Write a vocab.txt atomically (a temporary name, then a rename)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{token}\n" for token in tokens)
    os.replace(tmp, path)


VOCAB_SAMPLE_MB = 100.0  # build-vocab's default sample (docs/data.md: how the vocabulary moves with it)
SAMPLE_BLOCK_BYTES = 2**16


class VocabularySample:
    """The lines a vocabulary is learnt from: all of `files`, or for a corpus larger than
    `sample_mb`, a seeded sample of it, streamed.

    The text is cut into blocks of about 64 KB at document ends (128 KB at most), and each block
    is kept with probability sample_mb / (the files' size on disk), drawn from (seed, block
    index): the sample is scattered over the whole corpus, the same for the same input and
    seed, and nothing is held in memory. Compressed files count at their size on disk, so the
    sample of a compressed corpus comes out larger than asked. After iterating, `kept_bytes` and
    `total_bytes` say how much of the text was read into the vocabulary.
    """

    def __init__(self, files, sample_mb=VOCAB_SAMPLE_MB, seed=0, **read_options):
        self.files = list(files)
        self.read_options = read_options
        self.seed = seed
        self.disk_bytes = sum(os.path.getsize(f) for f in self.files)
        self.fraction = 1.0 if not sample_mb or self.disk_bytes <= sample_mb * 2**20 else \
            sample_mb * 2**20 / self.disk_bytes
        self.kept_bytes = self.total_bytes = 0

    @property
    def sampled(self):
        return self.fraction < 1.0

    def __iter__(self):
        from electra_keras.data.text import iter_lines

        self.kept_bytes = self.total_bytes = 0
        block, size, keep = 0, 0, self._keep(0)
        for path in self.files:
            for line in iter_lines(path, **self.read_options):
                n = len(line.encode("utf-8")) + 1
                self.total_bytes += n
                size += n
                if keep:
                    self.kept_bytes += n
                    yield line
                if (size >= SAMPLE_BLOCK_BYTES and line == "") or size >= 2 * SAMPLE_BLOCK_BYTES:
                    block, size = block + 1, 0
                    keep = self._keep(block)

    def _keep(self, block):
        return self.fraction >= 1.0 or random.Random(f"{self.seed}/{block}").random() < self.fraction

    def describe(self):
        """'a 100.2 MB sample (seed 0, ...) of 40,123.0 MB', or 'all 57.3 MB of the text'."""
        mb = 2**20
        if not self.sampled:
            return f"all {self.total_bytes / mb:,.1f} MB of the text"
        return (f"a {self.kept_bytes / mb:,.1f} MB sample (seed {self.seed}, scattered blocks of about 64 KB) "
                f"of {self.total_bytes / mb:,.1f} MB")


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
