"""The three WordPiece tokenizers give the same ids, BERT's (ELECTRA's model/tokenization.py):

- `WordPieceTokenizer` (Hugging Face `tokenizers`): pretraining data and fine-tuning, whose
  pairs `tasks.encode_examples` packs;
- the SavedModel's text signatures (`export.text_preprocessor`, TensorFlow ops in the graph);
- `electra_tokenizer.py`, the standard-library tokenizer shipped beside every export.

One battery of texts goes through all three with each lower-casing / accent-stripping setting.
The vocabulary holds most of the pieces, so the ids say which pieces were found, not just
[UNK]. The exported side tokenizes with TensorFlow whatever KERAS_BACKEND is: the file runs
the same on every backend.

What still may differ: each implementation has its own Unicode tables (Python's unicodedata;
RE2 and ICU in TensorFlow; Oniguruma and the `tokenizers` crate's own), so a character assigned
or re-categorised in a recent Unicode version can be split, removed or lower-cased differently.
The battery keeps to characters all of them know.
"""

import pytest
import tensorflow as tf

from electra_keras.data import tasks
from electra_keras.data.tokenizer import BERT_RESERVED, WordPieceTokenizer
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
