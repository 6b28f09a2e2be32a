"""Reading text (files, directories, JSON Lines, gzip, bad bytes) and the WordPiece vocabulary."""

import gzip
import json
import random

import numpy as np
import pytest

from conftest import WORDS, small_vocab, write_corpus
from electra_keras.data import text
from electra_keras.data import tokenizer as tok
from electra_keras.data.text import (InputError, ReadStats, find_text_files, iter_lines, looks_wrapped,
                                     sentences_of_lines, split_sentences)


def test_plain_text_stream_marks_each_document_end(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("One. Two!\nThree\n\n\nFour.\n")  # two blank lines are one boundary
    stats = ReadStats()
    assert list(iter_lines(str(path), stats=stats)) == ["One.", "Two!", "Three", "", "Four.", ""]
    assert (stats.documents, stats.lines) == (2, 5)
    assert list(iter_lines(str(path), sentences=False)) == ["One. Two!", "Three", "", "Four.", ""]


WRAPPED = """CHAPTER 1. Loomings.

Call me Ishmael. Some years ago, never mind how long precisely, having
little or no money in my purse, and nothing particular to interest me on
shore, I thought I would sail about a little.

It is a way I have of driving off the spleen and regulating the
circulation. Whenever I find myself growing grim about the mouth, I go.
CHAPTER 2. The Carpet-Bag.

I stuffed a shirt or two into my old carpet-bag.
"""


def test_paragraph_mode_joins_wrapped_lines_and_ends_documents_at_the_separator(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text(WRAPPED)
    stats = ReadStats()
    stream = list(iter_lines(path, text_format="paragraphs", document_separator=r"CHAPTER \d+\..*", stats=stats))
    assert stream == [
        "Call me Ishmael.",
        "Some years ago, never mind how long precisely, having little or no money in my purse, and nothing "
        "particular to interest me on shore, I thought I would sail about a little.",
        "It is a way I have of driving off the spleen and regulating the circulation.",
        "Whenever I find myself growing grim about the mouth, I go.",
        "",
        "I stuffed a shirt or two into my old carpet-bag.",
        "",
    ]
    assert (stats.documents, stats.lines) == (2, 11)
    # without a separator a file is one document, and the chapter titles are text
    stream = list(iter_lines(path, text_format="paragraphs", sentences=False))
    assert stream[0] == "CHAPTER 1. Loomings." and stream.count("") == 1 and stream[-1] == ""
    assert stream[1].startswith("Call me Ishmael. Some years ago") and stream[1].endswith("sail about a little.")
    # as lines, every wrapped line is a sentence and every paragraph a document (the old reading)
    lines = list(iter_lines(path, text_format="lines", sentences=False))
    assert lines[:3] == ["CHAPTER 1. Loomings.", "", "Call me Ishmael. Some years ago, never mind how long precisely, having"]
    with pytest.raises(ValueError, match=r"document_separator='\(': not a regular expression"):
        list(iter_lines(path, text_format="paragraphs", document_separator="("))


def test_auto_reads_hard_wrapped_prose_by_paragraph_and_anything_else_by_line(tmp_path):
    import random
    import textwrap

    rng = random.Random(0)
    sentences = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))).capitalize() + "." for _ in range(400)]
    paragraphs = [" ".join(sentences[i:i + 5]) for i in range(0, 400, 5)]
    wrapped = tmp_path / "wrapped.txt"
    wrapped.write_text("\n\n".join(textwrap.fill(p, 72) for p in paragraphs) + "\n")
    per_line = tmp_path / "sentences.txt"
    per_line.write_text("\n".join(sentences) + "\n")
    per_paragraph = tmp_path / "paragraphs.txt"
    per_paragraph.write_text("\n\n".join(paragraphs) + "\n")
    assert [looks_wrapped(p) for p in (wrapped, per_line, per_paragraph)] == [True, False, False]
    auto = list(iter_lines(wrapped, sentences=False))
    assert auto == list(iter_lines(wrapped, sentences=False, text_format="paragraphs"))
    assert auto[:-1] == paragraphs and auto[-1] == ""
    assert list(iter_lines(per_line)) == list(iter_lines(per_line, text_format="lines"))


def test_auto_judges_line_lengths_by_the_first_lines_not_the_shortest(tmp_path):
    # One sentence per line, lower case, no blank lines (a task's sentences): a third of the
    # lines are longer than any wrapped line would be. Its 100 shortest lines alone would
    # look wrapped.
    lines = [("a long sentence of the kind that runs on " * 5).strip() if i % 3 == 0 else "short one " * (4 + i % 5)
             for i in range(300)]
    path = tmp_path / "sentences.txt"
    path.write_text("\n".join(line.strip() for line in lines) + "\n")
    assert not looks_wrapped(path, sample=100)
    assert list(iter_lines(path, sentences=False)) == [line.strip() for line in lines] + [""]


def _looks_wrapped_reading_everything(path, sample):
    """`looks_wrapped`'s rule over its whole window of 3 * sample lines, each decoded whole."""
    from electra_keras.data import text

    lines = open(path, encoding="utf-8").read().split("\n")[:-1]
    return text._read_as_wrapped([line.strip() for line in lines[:3 * sample]], sample)


def test_looks_wrapped_stops_early_only_where_the_answer_is_settled(tmp_path, monkeypatch):
    import random

    from electra_keras.data import text

    rng, read, raw_lines = random.Random(0), [], text._raw_lines

    def counted(path, stats=None):
        for raw in raw_lines(path, stats):
            read.append(raw)
            yield raw

    monkeypatch.setattr(text, "_raw_lines", counted)
    answers = []
    for case in range(300):
        sample, share_long = rng.choice([20, 50, 101]), rng.choice([0.0, 0.05, 0.09, 0.1, 0.11, 0.2, 0.6])
        lines = ["" if rng.random() < 0.15 else "w" * (rng.randint(101, 130) if rng.random() < share_long
                                                        else rng.randint(60, 100))
                 for _ in range(rng.randint(10, 4 * sample))]
        # now and then a line of over a kilobyte: of wide characters (the first kilobyte ends inside
        # one), or blank but for a short word past its first kilobyte
        for i in rng.sample(range(len(lines)), min(len(lines), rng.choice([0, 0, 2, 30]))):
            lines[i] = rng.choice(["\u00e9" * rng.randint(500, 600),
                                   " " * rng.randint(1000, 3000) + "word" * rng.randint(1, 30)])
        path = tmp_path / f"{case}.txt"
        path.write_text("\n".join(lines) + "\n")
        answers.append(_looks_wrapped_reading_everything(path, sample))
        assert looks_wrapped(path, sample=sample) == answers[-1], (case, sample, share_long)
    assert 50 < sum(answers) < 250  # both answers are tried
    # a file of long lines is judged on its first lines: 401 of them are enough for the default sample
    path = tmp_path / "long.txt"
    path.write_text(("x" * 300 + "\n") * 20000)
    read.clear()
    assert not looks_wrapped(path) and len(read) == 401
    # and a file of a few long lines on their first kilobytes (the reference decodes them whole)
    path.write_text(("y" * 50_000 + "\n") * 100)
    assert not looks_wrapped(path) and not _looks_wrapped_reading_everything(path, 4000)
    # wrapped lines, every other one a short word behind a kilobyte and more of spaces: not blank
    path.write_text("".join("w" * 80 + "\n" + " " * 1500 + "end\n" for _ in range(100)))
    assert looks_wrapped(path) and _looks_wrapped_reading_everything(path, 4000)


def test_jsonl_and_gzip_documents(tmp_path):
    records = [{"text": "First doc. It has two sentences."}, {"text": "Para one.\nPara two."}]
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    assert list(iter_lines(str(path))) == [
        "First doc.", "It has two sentences.", "", "Para one.", "Para two.", ""
    ]


def test_jsonl_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"body": "no text field"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: no 'text' field"):
        list(iter_lines(str(path)))
    path.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not a JSON object"):
        list(iter_lines(str(path)))
    assert next(iter_lines(str(path))) == "ok"  # lines before the bad one stream out


def test_undecodable_bytes_name_the_line_or_are_replaced(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("fine line\n".encode() + "caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt:2: not valid UTF-8 \(byte 0xe9 at column 4\)"):
        list(iter_lines(str(path)))
    stats = ReadStats()
    lines = list(iter_lines(str(path), encoding_errors="replace", stats=stats))
    assert lines == ["fine line", "caf\ufffd au lait", ""] and stats.replaced_lines == 1


def test_find_text_files_errors(tmp_path):
    with pytest.raises(InputError, match="no such file or directory"):
        find_text_files([str(tmp_path / "missing.txt")])
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(InputError, match="holds no text files"):
        find_text_files([str(tmp_path)])
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputError, match="the input is empty"):
        find_text_files([str(tmp_path / "empty.txt")])
    with pytest.raises(InputError, match="matches no files"):
        find_text_files([str(tmp_path / "*.jsonl")])
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b\n")
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"a\n"))
    assert [p.rsplit("/", 1)[1] for p in find_text_files(str(tmp_path))] == ["a.txt.gz", "empty.txt", "b.txt"]


def test_gzip_that_is_not_gzip_names_the_file(tmp_path):
    path = tmp_path / "fake.txt.gz"
    path.write_bytes(b"plain text, not gzip\n")
    with pytest.raises(InputError, match="fake.txt.gz: cannot be read"):
        list(iter_lines(str(path)))


def test_split_sentences_cuts_where_the_lookbehind_rule_does():
    # The rule as first written (a split at spaces behind . ! ? and at most one closing mark):
    # the faster pattern must cut at exactly the same places.
    import re

    rule = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")
    texts = ['He said "Go." Then left.', "Why?! No. 3 men.  (Yes.) [A] x", 'End.") Next. a.\tB', "a.\u00a0B. ?  C",
             "One... Two!! 'Three' . Four", "", "   lead. Trail   "]
    for text in texts:
        assert split_sentences(text) == [s for s in (p.strip() for p in rule.split(text)) if s], text


def test_split_sentences_keeps_abbreviations_of_lowercase_words():
    assert split_sentences('He said "Go." Then left. e.g. this stays') == [
        'He said "Go."', "Then left. e.g. this stays"
    ]


def _sentences_line_by_line(lines):
    return [s for line in lines for s in (split_sentences(line) if line else [""])]


def test_block_slices_cut_after_the_item_that_reaches_each_multiple():
    sizes = np.array([3, 4, 10, 1, 1, 2, 0])
    # running totals 3 7 17 18 19 21 21; multiples of 5: 5, 10, 15, 20
    assert text.block_slices(sizes, 5) == [slice(0, 2), slice(2, 3), slice(3, 6), slice(6, 7)]
    assert text.block_slices(sizes, 100) == [slice(0, 7)]
    assert text.block_slices(np.array([], np.int64), 5) == []


@pytest.mark.parametrize("batch_chars", [text.SENTENCE_BATCH_CHARS, 40])  # the lines split in one batch, or in many
def test_sentences_of_lines_cut_where_split_sentences_does(batch_chars, monkeypatch):
    monkeypatch.setattr(text, "SENTENCE_BATCH_CHARS", batch_chars)
    lines = ["It rains. The sky is grey!", "", "   ", "  Is it? yes.  ", 'He said "Go." Then left.', "x.) Y",
             'x.") Y', "x. (Y", "x. (", "q? ", "Z.  \t A", "a.\u00a0B", "x.\u3000Y", "x.\u2028Y", "é. Ü. 3. 4",
             "\ud800. B", "Ω. Ж", "end.", "a.\x00B", "东京。 A. 𝔘. Б"]
    assert sentences_of_lines(lines[:4]) == ["It rains.", "The sky is grey!", "", "Is it? yes."]
    assert sentences_of_lines(lines) == _sentences_line_by_line(lines)
    assert sentences_of_lines([]) == [] and sentences_of_lines([""]) == [""]
    # Random lines over the characters the rule looks at, in text of one byte a character
    # (ASCII, Latin-1) and of four (anything wider switches the whole text to UTF-32)
    rng = random.Random(0)
    ascii_chars = list(".!?\"')]([ \t\x1cAZaz09\x00") + ["Ab", "..", " . "]
    for extra in ([], ["é", "\u00a0", "\x85"], ["\u2003", "\u3000", "\u3001", "Ж", "😀", "\u00a0"]):
        batch = ["".join(rng.choice(ascii_chars + extra) for _ in range(rng.randrange(12))) for _ in range(3000)]
        assert sentences_of_lines(batch) == _sentences_line_by_line(batch)


def test_wordpiece_follows_bert(tmp_path):
    vocab = small_vocab(tmp_path, tokens=["un", "##aff", "##able", "hello", "##s"])
    tokenizer = tok.WordPieceTokenizer(vocab)
    assert tokenizer.tokenize("UNAFFABLE Héllos, cat!") == ["un", "##aff", "##able", "hello", "##s", ",", "cat", "[UNK]"]
    ids = tokenizer.encode("the cat")
    assert ids == [tokenizer.vocab["the"], tokenizer.vocab["cat"]]
    assert tokenizer.special_ids == {"pad_token_id": 0, "unk_token_id": 100, "cls_token_id": 101,
                                     "sep_token_id": 102, "mask_token_id": 103}
    cased = tok.WordPieceTokenizer(vocab, lower_case=False)
    assert cased.tokenize("Hello hello") == ["[UNK]", "hello"]
    assert cased.strip_accents is False  # follows lower_case, as BERT


def test_tokenizer_settings_travel_with_the_vocab(tmp_path):
    vocab = small_vocab(tmp_path / "src")
    tok.WordPieceTokenizer(vocab, lower_case=False, strip_accents=True).save(tmp_path / "out")
    loaded = tok.WordPieceTokenizer.from_directory(tmp_path / "out")
    assert (loaded.lower_case, loaded.strip_accents) == (False, True)
    assert loaded.tokens == tok.load_vocab(vocab)


def test_build_vocab_puts_special_tokens_where_bert_has_them(tmp_path):
    docs = write_corpus(tmp_path / "c.txt", num_docs=40)
    lines = list(iter_lines(str(tmp_path / "c.txt")))
    tokenizer = tok.build_vocab(lines, vocab_size=400, min_frequency=1)
    assert tokenizer.tokens[0] == "[PAD]" and tokenizer.tokens[1] == "[unused0]"
    assert tokenizer.tokens[100:104] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 104 < len(tokenizer) <= 400
    # Every corpus word is in the vocabulary whole (they are frequent), so nothing is [UNK].
    ids = [i for sentence in docs[0] for i in tokenizer.encode(sentence)]
    assert tok.BERT_RESERVED.index("[UNK]") not in ids
    assert set(WORDS) <= set(tokenizer.tokens)
    with pytest.raises(ValueError, match="more than the 104 reserved tokens"):
        tok.build_vocab(lines, vocab_size=50)


def test_vocab_errors_name_the_file_and_the_problem(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[CLS]\n[SEP]\nhello\n")
    with pytest.raises(ValueError, match=r"vocab.txt: the vocabulary lacks the special tokens \[UNK\] \[MASK\]"):
        tok.load_vocab(str(path))
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nhello\n")
    with pytest.raises(ValueError, match=r"vocab.txt:7: 'hello' repeats line 6"):
        tok.load_vocab(str(path))
    with pytest.raises(ValueError, match="no such vocabulary file"):
        tok.load_vocab(str(tmp_path / "nope.txt"))
    path.write_text("")
    with pytest.raises(ValueError, match="the vocabulary is empty"):
        tok.load_vocab(str(path))
