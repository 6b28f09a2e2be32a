"""The three WordPiece tokenizers give the same ids, BERT's (ELECTRA's model/tokenization.py):

- `WordPieceTokenizer` (Hugging Face `tokenizers`): pretraining data and fine-tuning, whose
  pairs `tasks.encode_examples` packs;
- the SavedModel's text signatures (`export.text_preprocessor`, TensorFlow ops in the graph);
- `electra_tokenizer.py`, the standard-library tokenizer shipped beside every export.

One battery of texts goes through all three with each lower-casing / accent-stripping setting.
The vocabulary holds most of the pieces, so the ids say which pieces were found, not just
[UNK]. The exported side tokenizes with TensorFlow whatever KERAS_BACKEND is: the file runs
the same on every backend.

`encode_batch`'s fast path (tensorflow-text's FastBertTokenizer, with the texts where it departs
from BERT sent to the exact path) is held to a transcription of BERT's FullTokenizer itself
(`bert_tokenize`) on a wider battery and on real text.

What still may differ: each implementation has its own Unicode tables (Python's unicodedata;
RE2 and ICU in TensorFlow; Oniguruma and the `tokenizers` crate's own), so a character assigned
or re-categorised in a recent Unicode version can be split, removed or lower-cased differently.
The battery keeps to characters all of them know.
"""

import json
import os
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from electra_keras.data import tasks
from electra_keras.data.tokenizer import BERT_RESERVED, FAST_PATH_MIN_CHARS, WordPieceTokenizer, build_vocab
from electra_keras.export import text_preprocessor
from electra_keras.export.electra_tokenizer import Tokenizer as StandaloneTokenizer

TEXTS = [
    "Café naïve RÉSUMÉ résumé Ångström façade",  # accents
    "Straße ﬁne ｆｕｌｌ ² İstanbul ΟΔΟΣ ΣΑΣ ΟΔΟΣ\x00Α",  # no compatibility folding; Python's lower-casing
    "中文字 and 中文, 日本語! 𫠠s",  # CJK characters split apart (U+2B820 too)
    "tab\there\rcarriage\nnew\x00null zero\u200bwidth non\xa0breaking",  # controls, whitespace
    "cat\x07s cat\u00ads cat\ufffds cat\ue000s cat\u0378s cat\x85s",  # removed: Cc, Cf, U+FFFD, Co, Cn
    "cat\u3000dog\u2028the\u1680cat\u2029dog\x0bthe",  # more whitespace
    "emoji 😀 hi😀 👍🏽 ❤️ 👨\u200d👩\u200d👧",  # emoji, skin tone, variation selector, ZWJ
    "MiXeD CaSe HeLLo WORLD Understand",
    "wait... what?!? (yes) -- ok!!! ¿qué? «hi»",  # punctuation runs
    "ab" * 75,  # 150 characters: word pieces
    "ab" * 101,  # 202 characters: [UNK]
    "ж" * 101,  # 202 bytes, 101 characters: word pieces
    "ア" * 70,  # 210 bytes, 70 characters: word pieces
    "é" * 101,  # 202 bytes when accents stay
    "ж" * 200 + " " + "ж" * 201,  # 200 characters, then 201
    "",
    " \t\n\r\xa0\u200b ",
]
PIECES = """
. , ! ? ( ) - ' ¿ « » … the cat ##s s dog hello world wait what yes ok and tab here carriage new null
zero width ##width non breaking emoji hi ##😀 😀 👍 ##🏽 ❤ ##\ufe0f 👨 ##👩 ##👧
cafe café Café Cafe naive naïve resume résumé RÉSUMÉ RESUME angstrom ångström Ångström Angstrom
facade façade straße Straße strasse ﬁne fine ｆｕｌｌ full ² 2 istanbul i̇stanbul İstanbul
οδος οδοσ ΟΔΟΣ σας σασ ΣΑΣ ##α ##Α 中 文 字 日 本 語 𫠠
mixed case Mi ##X ##e ##D Ca ##S HeLLo WORLD un ##der ##stand Un q ##u ##ue ##é
ab ##ab ж ##ж ア ##ア e ##e é ##é
""".split()
SETTINGS = [(True, True), (False, False), (True, False), (False, True)]  # (lower_case, strip_accents)


@pytest.fixture(scope="module", params=SETTINGS, ids=lambda s: "lower=%s,strip=%s" % s)
def three(request, tmp_path_factory):
    """The three tokenizers over one vocab.txt, with one setting."""
    lower_case, strip_accents = request.param
    directory = tmp_path_factory.mktemp("vocab")
    WordPieceTokenizer(list(BERT_RESERVED) + list(dict.fromkeys(PIECES)), lower_case, strip_accents).save(directory)
    return WordPieceTokenizer.from_directory(directory), StandaloneTokenizer.from_directory(directory)


def in_graph(tokenizer, texts, seq_len=8):
    return text_preprocessor(tokenizer, seq_len).tokenize(tf.constant(texts, tf.string)).to_list()


def test_the_three_give_the_same_ids(three):
    ours, standalone = three
    graph = in_graph(ours, TEXTS)
    unknown = ours.vocab["[UNK]"]
    for text, ids in zip(TEXTS, graph):
        assert ours.encode(text) == standalone.encode(text) == ids, repr(text)
    assert ours.encode_batch(TEXTS) == graph
    # the battery means something: most pieces are found
    found = [i for ids in graph for i in ids]
    assert sum(i != unknown for i in found) > 0.8 * len(found)


def test_what_bert_gives(three):
    ours, standalone = three
    lower, strip = ours.lower_case, ours.strip_accents

    def pieces(text):
        tokens = ours.tokenize(text)
        assert [ours.vocab[t] for t in tokens] == in_graph(ours, [text])[0] == standalone.encode(text), repr(text)
        return tokens

    accents = {(True, True): "cafe naive resume resume angstrom facade",
               (False, False): "Café naïve RÉSUMÉ résumé Ångström façade",
               (True, False): "café naïve résumé résumé ångström façade",
               (False, True): "Cafe naive RESUME resume Angstrom facade"}
    assert pieces("Café naïve RÉSUMÉ résumé Ångström façade") == accents[lower, strip].split()
    assert pieces("ΟΔΟΣ ΣΑΣ") == (["οδος", "σας"] if lower else ["ΟΔΟΣ", "ΣΑΣ"])
    # BERT lower-cases after removing controls and U+FFFD: these sigmas are not word-final
    assert pieces("ΟΔΟΣ\x00Α ΣΑΣ\ufffdΑ") == (["οδοσ", "##α", "σασ", "##α"] if lower else ["ΟΔΟΣ", "##Α", "ΣΑΣ", "##Α"])
    assert pieces("中文字 𫠠s") == ["中", "文", "字", "𫠠", "s"]
    assert pieces("zero\u200bwidth cat\x00s cat\ue000s cat\u0378s cat\ufffds") == ["zero", "##width"] + ["cat", "##s"] * 4
    assert pieces("Straße ﬁne ｆｕｌｌ ²") == ["straße" if lower else "Straße", "ﬁne", "ｆｕｌｌ", "²"]  # no NFKC
    assert pieces("hi😀 👨\u200d👩\u200d👧") == ["hi", "##😀", "👨", "##👩", "##👧"]
    assert pieces("ж" * 200) == ["ж"] + ["##ж"] * 199
    assert pieces("ж" * 201) == pieces("ab" * 101) == ["[UNK]"]
    assert pieces("é" * 101) == (["e"] + ["##e"] * 100 if strip else ["é"] + ["##é"] * 100)
    assert pieces("") == pieces(" \t\n\r\xa0\u200b ") == []


@pytest.mark.parametrize("seq_len", [3, 5, 8, 13, 40])
def test_packing_and_truncation_are_the_same(three, seq_len):
    ours, standalone = three
    firsts, seconds = TEXTS, TEXTS[5:] + TEXTS[:5]
    preprocess = text_preprocessor(ours, seq_len)
    for pairs in (None, seconds):
        examples = [tasks.Example(f"x-{i}", a, None if pairs is None else pairs[i], None)
                    for i, a in enumerate(firsts)]
        expected = tasks.encode_examples(examples, ours, seq_len)
        got = standalone(firsts, pairs, seq_len=seq_len)
        graph = preprocess([tf.constant(firsts)] + ([] if pairs is None else [tf.constant(pairs)]))
        for name in ("token_ids", "segment_ids", "padding_mask"):
            assert got[name].tolist() == expected[name].tolist(), name
            assert graph[name].numpy().tolist() == expected[name].tolist(), name


# ---- encode_batch's fast path against BERT's own algorithm ------------------------------------


def bert_tokenize(text, vocab, lower_case, strip_accents, max_chars_per_word=200):
    """BERT's FullTokenizer, transcribed from ELECTRA's model/tokenization.py (accent stripping
    as its own switch, as Hugging Face's); word pieces as strings."""
    pieces = []
    for token in bert_basic_tokenize(text, lower_case, strip_accents):
        chars = list(token)
        if len(chars) > max_chars_per_word:
            pieces.append("[UNK]")
            continue
        is_bad, start, sub_tokens = False, 0, []
        while start < len(chars):
            end, current = len(chars), None
            while start < end:
                substr = "".join(chars[start:end])
                if start > 0:
                    substr = "##" + substr
                if substr in vocab:
                    current = substr
                    break
                end -= 1
            if current is None:
                is_bad = True
                break
            sub_tokens.append(current)
            start = end
        pieces += ["[UNK]"] if is_bad else sub_tokens
    return pieces


def bert_basic_tokenize(text, lower_case, strip_accents):
    """BERT's BasicTokenizer: the words WordPiece splits."""

    def is_control(char):
        return char not in "\t\n\r" and unicodedata.category(char).startswith("C")

    def is_whitespace(char):
        return char in " \t\n\r" or unicodedata.category(char) == "Zs"

    def is_punctuation(char):
        cp = ord(char)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(char).startswith("P")

    def is_chinese(cp):
        return any(a <= cp <= b for a, b in ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
                                             (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
                                             (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))

    cleaned = []
    for char in text:
        if ord(char) == 0 or ord(char) == 0xFFFD or is_control(char):
            continue
        cleaned.append(" " if is_whitespace(char) else char)
    text = "".join(f" {c} " if is_chinese(ord(c)) else c for c in cleaned)
    split_tokens = []
    for token in text.strip().split():
        if lower_case:
            token = token.lower()
        if strip_accents:
            token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        output, start_new_word = [], True
        for char in token:
            if is_punctuation(char):
                output.append([char])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(char)
        split_tokens += ["".join(x) for x in output]
    return " ".join(split_tokens).strip().split()


BATTERY = TEXTS + [
    "Ça Élan ÉCOLE naïveté Zoë Øresund Łódź Şişli Ærø ĳ Ǆ ǅ ǆ",  # accents, Latin extensions
    "e\u0301te\u0301 A\u030a a\u0308\u0301 \u0301lone x\u0323\u0302",  # combining marks
    "ﬁne ﬂow ² ³ ½ ª º µ ´ ¨ ¯ Straße STRASSE … ‥ ｆｕｌｌ ＡＢＣ ｱｲｳ ™ ℃ Ⅻ ①",  # compatibility forms
    "ΟΔΟΣ. ΟΔΟΣ's ΣΑΣ-ΣΑΣ Σ ς σ ΌΣΟΣ άλφα ὈΔΥΣΣΕΎΣ",  # Greek sigma in every position
    "中文字 𠀀𠀁 𪜀 𫝀 𫠠𫠡𬺰 𮯠 豈更 車 丽 𪘀 㐀 ⺀ ⼀ 々 〆",  # CJK: plane 2, rare ranges, compatibility
    "한국어 텍스트 ひらがな カタカナ ｶﾀｶﾅ 漢字かな交じり文",  # Hangul, kana, half-width
    "\x01a\x1fb\x7fc\x80d\x9fe \u200e\u200f\u202a\u2060\ufeff\u00ad x\U000e0001y",  # controls, format
    "\ufffd\ufffd a\ufffdb \ud7ff \ue000\U000f0000 \U0010ffff \u0378\u0380 end",  # U+FFFD, private, unassigned
    "😀😃 👍🏽 🇺🇸 🏳️‍🌈 ❤️ 1️⃣ 👩‍💻 🤷‍♀️ 🫠 🪿",  # emoji, flags, sequences, recent ones
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ a!b\"c#d$e%f&g'h(i)j*k+l,m-n.o/p",  # every ASCII punctuation
    "¡¿ ‘’ “” ‹› «» — – ‐ ‑ ‒ § ¶ † ‡ • · ‰ ′ ″ ‴ ※ ⁂ 〈〉 「」 『』 【】 〜 ・ ، ؛ ؟ । ॥",  # Unicode punctuation
    "$5 €5 £5 ¥5 ₹5 +−×÷ ≤≥ ^caret `tick` ~tilde| <tag> a^b a`b a~b a|b",  # symbols BERT splits or keeps
    "a\u3000b\u2028c\u2029d\u0085e\u00a0f\u1680g\u2000h\u200ai\u202fj\u205fk\u000bl\u000cm\u001cn",
    "[MASK] [UNK] [CLS]x [SEP] [PAD] ## #tag ##s",  # special tokens as text are split like words
    "Mixed ελληνικά русский עברית العربية हिन्दी ไทย ქართული Ελλάδα Москва",  # mixed scripts
    "x" * 200, "x" * 201, "é" * 150, "é" * 201, "ß" * 150, "한" * 67, "한" * 70,  # long words, bytes vs characters
    "İ" * 150, "ǅ" * 120, "a" * 199 + "é", "word " * 60 + "b" * 300 + " end",
    "https://example.org/a/very/long/path/with-many-segments/and?query=string&more=values#fragment-" + "z" * 120,
    "\u302e\u302f한 \U0001d165\U0001d16d \u0f39\u0e48a",  # combining characters that are not Mn
    "\u2e43 \u2e4f \u2e52 \u2e5d \U00011c41 \U00016fe2 \u166d",  # punctuation of recent Unicode versions
    "", " ", "\n", "\t\t", "a", "Z", "9", ".",
]


def _pieces_of(words):
    """Word pieces for `words`: a prefix and one-character suffixes, the whole of every fourth
    word, nothing of every seventh (left [UNK])."""
    pieces = []
    for i, word in enumerate(words):
        if i % 7 == 6:
            continue
        pieces += [word[:2]] + ["##" + c for c in word[2:]] + ([word] if i % 4 == 0 else [])
    return pieces


def _vocab(texts):
    words = list(dict.fromkeys(word for text in texts for setting in SETTINGS
                               for word in bert_basic_tokenize(text, *setting)))
    return list(BERT_RESERVED) + [p for p in dict.fromkeys(PIECES + _pieces_of(words)) if p not in BERT_RESERVED]


def _repeated(texts):
    """`texts` repeated until the batch takes the fast path."""
    return texts * (FAST_PATH_MIN_CHARS // max(1, sum(map(len, texts))) + 1)


def _check_fast_path(tokenizer, texts):
    vocab = set(tokenizer.tokens)
    expected = [[tokenizer.vocab[p] for p in bert_tokenize(t, vocab, tokenizer.lower_case, tokenizer.strip_accents)]
                for t in texts]
    got = tokenizer.encode_batch(_repeated(texts))
    assert (tokenizer._fast is not None) == (tokenizer.lower_case or not tokenizer.strip_accents)
    for text, ids, want in zip(texts, got, expected):
        assert ids == want, (repr(text), tokenizer.lower_case, tokenizer.strip_accents)
    values, splits = tokenizer.encode_arrays(_repeated(texts))  # build-data's path: the same ids, mended in place
    assert (values.dtype, splits.dtype) == (np.int32, np.int64)
    assert [values[a:b].tolist() for a, b in zip(splits[:-1], splits[1:])] == got
    return got


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "lower=%s,strip=%s" % s)
def test_fast_batch_gives_berts_ids_on_the_battery(setting):
    tokenizer = WordPieceTokenizer(_vocab(BATTERY), *setting)
    ids = _check_fast_path(tokenizer, BATTERY)
    unknown = tokenizer.vocab["[UNK]"]
    found = [i for row in ids[: len(BATTERY)] for i in row]
    assert sum(i != unknown for i in found) > 0.8 * len(found)  # the pieces mostly exist


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "lower=%s,strip=%s" % s)
def test_a_fast_path_started_before_the_first_batch_gives_berts_ids(setting):
    tokenizer = WordPieceTokenizer(_vocab(BATTERY), *setting)
    tokenizer.start_fast_path()  # what a build-data worker does first
    assert (tokenizer._fast is not None) == (tokenizer.lower_case or not tokenizer.strip_accents)
    _check_fast_path(tokenizer, BATTERY)


def _real_lines(limit):
    """Lines of Moby Dick and sentences of Wikipedia leads from ../shared/data."""
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "..", "shared", "data")
    moby = os.path.join(data, "public_domain", "moby_dick.txt")
    wiki = os.path.join(data, "wiki_leads", "wiki_leads.jsonl")
    if not (os.path.exists(moby) and os.path.exists(wiki)):
        pytest.skip(f"the shared corpora are not in {os.path.abspath(data)}")
    with open(moby, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f][2000: 2000 + limit]
    with open(wiki, encoding="utf-8") as f:
        for line in f:
            lines += json.loads(line)["text"].split(". ")
            if len(lines) >= 2 * limit:
                break
    return lines


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "lower=%s,strip=%s" % s)
def test_fast_batch_gives_berts_ids_on_real_text(setting):
    lines = _real_lines(2000)
    tokenizer = build_vocab(lines, vocab_size=3000, lower_case=setting[0], strip_accents=setting[1])
    ids = _check_fast_path(tokenizer, lines)
    assert ids[: len(lines)] == tokenizer._encode_exact(lines)


def test_the_detector_sends_each_departing_class_to_the_exact_path():
    def departing_rows(tokenizer, texts):
        fast = tokenizer._fast
        return fast.departing_rows(texts, fast.encode(texts)[1])

    uncased, cased = (WordPieceTokenizer(_vocab(BATTERY), lower_case=lower) for lower in (True, False))
    for tokenizer in (uncased, cased):
        tokenizer.encode_batch(_repeated(["plain text"]))
    # controls (a space there), U+FFFD (kept there), compatibility forms and case folding (folded
    # there), Σ and ς (final sigma), a word within BERT's 200 characters but over 200 bytes, and
    # Hangul whose NFD passes 200 characters
    departing = ["cat\x00s", "tab\x0bhere", "bad\ufffdbyte", "ﬁne", "x²", "Straße", "wait…", "ｆｕｌｌ",
                 "ΟΔΟΣ", "σας ς", "ж" * 150, "한" * 67]
    alike = ["plain ASCII text, with punctuation!", "tab\there", "café naïve", "中文 𫠠", "emoji 😀", "x" * 201,
             "é" * 150, "ж" * 100, "한" * 20, "word\u00a0space zero\u2060joiner", ""]
    assert departing_rows(uncased, departing + alike) == list(range(len(departing)))
    # cased: format characters are kept there, compatibility forms and sigma are as BERT's
    departing = ["cat\x00s", "bad\ufffdbyte", "zero\u2060joiner", "soft\u00adhyphen", "é" * 150]
    alike = ["ﬁne x² Straße wait… ΟΔΟΣ ς ｆｕｌｌ", "é" * 100, "plain"]
    assert departing_rows(cased, departing + alike) == list(range(len(departing)))


def test_compiled_models_are_kept_and_checked(tmp_path, monkeypatch):
    """tensorflow-text's compiled models are kept in the cache directory: a later tokenizer
    reads them instead of compiling, with BERT's ids; a damaged file is compiled again; another
    vocabulary gets its own; a cache that cannot be written still tokenizes."""
    from electra_keras import cache, internals

    monkeypatch.setenv("ELECTRA_KERAS_CACHE", str(tmp_path / "cache"))
    normalizer, wordpiece = internals.tf_text_model_builders()
    compiled = []

    def counted(build):
        return lambda *args: compiled.append(build.__name__) or build(*args)

    monkeypatch.setattr(internals, "tf_text_model_builders", lambda: (counted(normalizer), counted(wordpiece)))
    vocab = _vocab(BATTERY)
    _check_fast_path(WordPieceTokenizer(vocab), BATTERY)
    files = sorted((tmp_path / "cache" / "tokenizers").iterdir())
    assert len(compiled) == len(files) == 3  # the normalizer, the vocabulary, the splitter

    compiled.clear()
    _check_fast_path(WordPieceTokenizer(vocab), BATTERY)
    assert compiled == []

    damaged = max(files, key=lambda f: f.stat().st_size)
    kept = damaged.read_bytes()
    damaged.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
    _check_fast_path(WordPieceTokenizer(vocab), BATTERY)
    assert len(compiled) == 1 and damaged.read_bytes() == kept

    compiled.clear()
    _check_fast_path(WordPieceTokenizer(vocab[:-1]), BATTERY)  # one piece fewer: its own model
    assert compiled == ["build_fast_wordpiece_model"]
    assert len(list((tmp_path / "cache" / "tokenizers").iterdir())) == 4

    (tmp_path / "not_a_directory").write_text("")
    monkeypatch.setenv("ELECTRA_KERAS_CACHE", str(tmp_path / "not_a_directory"))
    _check_fast_path(WordPieceTokenizer(vocab), BATTERY)
    assert cache.cached_bytes("kind", ["key"], lambda: b"built") == b"built"
