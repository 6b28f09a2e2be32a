"""build-data: record layout, summary, determinism, atomic shards, resume, bad input."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import small_vocab, write_corpus
from electra_keras.data import build
from electra_keras.data.text import InputError
from electra_keras.data.tokenizer import WordPieceTokenizer

SEQ = 32
SHARD_MB = 0.002  # about 2 KB of text per shard: several shards from a small corpus


def read_shards(directory):
    """{shard file name: [(input_ids, input_mask, segment_ids) per record]}."""
    out = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.tfrecord"))):
        rows = []
        for record in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(record.numpy()).features.feature
            rows.append(tuple(tuple(example[k].int64_list.value) for k in ("input_ids", "input_mask", "segment_ids")))
        out[os.path.basename(path)] = rows
    return out


def shard_bytes(directory):
    return {os.path.basename(p): open(p, "rb").read() for p in sorted(glob.glob(os.path.join(directory, "*.tfrecord")))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    docs = write_corpus(root / "text.txt", num_docs=60, seed=3)
    with open(root / "text.txt", "a") as f:
        f.write("\nA zebra sees the cat.\n")  # "zebra" is not in the vocab: one [UNK]
        f.write("\n" + " ".join(["cat"] * 40) + ".\n")  # one sentence longer than the sequence
    tokenizer = WordPieceTokenizer(small_vocab(root / "vocab"))
    return root, docs, tokenizer


def test_records_follow_the_layout_and_the_summary_adds_up(corpus, tmp_path):
    root, docs, tokenizer = corpus
    summary = build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, seq_len=SEQ,
                                           shard_size_mb=SHARD_MB, num_workers=1, progress=False)
    shards = read_shards(tmp_path)
    assert len(shards) == summary["shards"] > 2
    rows = [r for rs in shards.values() for r in rs]
    assert summary["examples"] == len(rows)
    assert summary["documents"] == len(docs) + 2
    cls, sep = 101, 102
    for ids, mask, segments in rows:
        assert len(ids) == len(mask) == len(segments) == SEQ
        n = sum(mask)
        assert mask == (1,) * n + (0,) * (SEQ - n)
        assert ids[0] == cls and ids[n - 1] == sep and set(ids[n:]) <= {0} and set(segments[n:]) <= {0}
        first_sep = ids.index(sep)
        assert segments[: first_sep + 1] == (0,) * (first_sep + 1)
        assert segments[first_sep + 1 : n] == (1,) * (n - first_sep - 1)
        assert ids.count(sep) == (2 if first_sep < n - 1 else 1)
    tokens = sum(sum(mask) for _, mask, _ in rows)
    assert summary["tokens"] == tokens
    assert summary["padding_fraction"] == pytest.approx(1 - tokens / (len(rows) * SEQ))
    assert summary["unk_tokens"] == 1 and summary["unk_rate"] == pytest.approx(1 / tokens)
    assert summary["long_sentences"] == 1 and summary["dropped_tokens"] >= 41 - (SEQ - 2)
    # Every corpus token is in some example except the dropped overflow.
    corpus_tokens = sum(len(tokenizer.encode(s)) for doc in docs for s in doc) + 6 + 41
    assert tokens == corpus_tokens - summary["dropped_tokens"] + sum(ids.count(sep) + 1 for ids, _, _ in rows)
    assert sorted(os.listdir(tmp_path)) == sorted(
        list(shards) + [f"{n}.stats.json" for n in shards]
        + ["build_settings.json", "data_info.json", "vocab.txt", "tokenizer_config.json"]
    )


def test_output_depends_on_the_seed_not_on_the_number_of_workers(corpus, tmp_path, monkeypatch):
    """Spawned workers (how they start once TensorFlow runs here; the fork is the next test's)."""
    root, _, tokenizer = corpus
    kwargs = dict(seq_len=SEQ, shard_size_mb=SHARD_MB, progress=False)
    monkeypatch.setattr(build, "_worker_context", lambda: build.multiprocessing.get_context("spawn"))
    build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path / "one", num_workers=1, **kwargs)
    # a corpus this small is built before a worker has started: wait for it, so it builds the first shards
    monkeypatch.setattr(build, "_BUILD_WHILE_WORKERS_START", False)
    build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path / "two", num_workers=2, **kwargs)
    build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path / "seed1", num_workers=1,
                                 seed=1, **kwargs)
    assert shard_bytes(tmp_path / "one") == shard_bytes(tmp_path / "two")
    assert shard_bytes(tmp_path / "one") != shard_bytes(tmp_path / "seed1")


FORKED_BUILD = """
import sys
from electra_keras import internals
from electra_keras.data import build

corpus, vocab, out = sys.argv[1:]
assert internals.runtimes_started() == [], internals.runtimes_started()
contexts = []
choose = build._worker_context
build._worker_context = lambda: contexts.append(choose()) or contexts[-1]
build._BUILD_WHILE_WORKERS_START = False  # a worker builds shards
build.build_pretraining_data(corpus, vocab, out, seq_len=32, shard_size_mb=0.1, num_workers=2, progress=False)
assert [c.get_start_method() for c in contexts] == ["fork"], contexts
assert "tensorflow" in internals.runtimes_started()  # this process tokenized after the fork
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_workers_forked_before_tensorflow_starts_build_the_same_shards(tmp_path):
    """In a fresh process the workers are forked (they start at once, with its imports) and
    tokenize through TensorFlow themselves: shards of 0.1 MB take the fast path."""
    write_corpus(tmp_path / "text.txt", num_docs=4000, seed=5)
    vocab = small_vocab(tmp_path / "vocab")
    build.build_pretraining_data(str(tmp_path / "text.txt"), os.path.dirname(vocab), tmp_path / "one",
                                 seq_len=32, shard_size_mb=0.1, num_workers=1, progress=False)
    script = tmp_path / "forked_build.py"
    script.write_text(FORKED_BUILD)
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "text.txt"), os.path.dirname(vocab),
                          str(tmp_path / "two")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    one = shard_bytes(tmp_path / "one")
    assert len(one) >= 4 and shard_bytes(tmp_path / "two") == one


def test_default_workers_one_per_8_mb_begun_when_forked():
    mb = 2**20
    assert build.default_workers(5 * mb, "fork", 2) == 1  # one worker was faster on 5 MB
    assert build.default_workers(12 * mb, "fork", 2) == 2  # two were faster on 12 MB
    assert build.default_workers(8 * mb + 1, "fork", 16) == 2
    assert build.default_workers(100 * mb, "fork", 16) == 13
    assert build.default_workers(12 * mb, "spawn", 2) == 1  # a spawned worker imports TensorFlow first
    assert build.default_workers(300 * mb, "spawn", 2) == 2
    assert build.default_workers(0, "fork", 2) == 1


def test_the_driver_hands_over_until_as_much_is_queued_as_it_would_build_and_the_last_only_to_an_idle_worker():
    mb = 2**20
    # one worker builds the oldest chunk handed over; the driver builds the next chunk itself once
    # about as much is queued behind it, a little less too (chunks end at document ends)
    assert build._hand_over([mb], workers=1, chunk=mb, last=False)
    assert not build._hand_over([mb, mb], workers=1, chunk=mb, last=False)
    assert not build._hand_over([mb, 0.8 * mb], workers=1, chunk=mb, last=False)
    # a chunk a long document made twice the size goes to the worker unless as much is queued
    assert build._hand_over([mb, mb], workers=1, chunk=2 * mb, last=False)
    assert not build._hand_over([mb, mb, mb], workers=1, chunk=2 * mb, last=False)
    # the chunk a worker builds may be nearly done, however large it is
    assert build._hand_over([2 * mb], workers=1, chunk=mb, last=False)
    # two workers build the two oldest
    assert build._hand_over([mb] * 3, workers=2, chunk=mb, last=False)
    assert not build._hand_over([mb] * 4, workers=2, chunk=mb, last=False)
    # the last chunk only to an idle worker, so that all end together
    assert build._hand_over([], workers=1, chunk=mb, last=True) and not build._hand_over([mb], 1, mb, last=True)
    assert build._hand_over([mb], workers=2, chunk=mb, last=True) and not build._hand_over([mb, mb], 2, mb, last=True)


def test_chunks_say_which_is_the_last_and_count_every_byte_when_a_long_document_is_cut_at_its_end(tmp_path):
    # documents of two 22-byte lines in 16-byte chunks: each is cut after its second line (twice
    # the size), so the document's end ("") comes after its chunk; the file ends in blank lines
    path = tmp_path / "docs.txt"
    docs = [[f"Line {i} of document {d}." for i in range(2)] for d in range(4)]
    path.write_text("\n\n".join("\n".join(doc) for doc in docs) + "\n\n\n\n")
    chunks = list(build._chunks([str(path)], 16, dict(text_format="lines", sentences=False)))
    assert [index for index, *_ in chunks] == [0, 1, 2, 3]
    assert [last for *_, last in chunks] == [False, False, False, True]
    assert [[line for line in lines if line] for _, lines, _, _ in chunks] == docs
    assert sum(stats.input_bytes for _, _, stats, _ in chunks) == os.path.getsize(path)
    assert sum(stats.bytes for _, _, stats, _ in chunks) == os.path.getsize(path)


def test_default_shard_size_gives_a_small_input_32_shards_or_more():
    mb = 2**20
    assert build.default_shard_mb(12 * mb) == 1.0  # 12 shards: two workers share them evenly
    assert build.default_shard_mb(64 * mb - 1) == 1.0
    assert build.default_shard_mb(64 * mb) == 2.0
    assert build.default_shard_mb(128 * mb) == 4.0
    assert build.default_shard_mb(40 * 2**30) == 4.0
    assert build.default_shard_mb(0) == 1.0


def test_a_build_without_a_shard_size_records_the_default_it_took(corpus, tmp_path, monkeypatch):
    root, _, tokenizer = corpus
    monkeypatch.setattr(build, "SHARD_MB_CHOICES", (0.0004, 0.0002, 0.0001))  # the rule at this corpus's scale
    size = os.path.getsize(root / "text.txt")
    summary = build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, seq_len=SEQ, num_workers=1,
                                           progress=False)
    taken = build.default_shard_mb(size)
    assert taken == 0.0002  # the corpus (about 9 KB) makes 32 shards of 0.0002 MB, not of 0.0004
    with open(tmp_path / build.INFO_FILE) as f:
        assert json.load(f)["settings"]["shard_size_mb"] == taken
    shards = sorted(glob.glob(os.path.join(tmp_path, "*.tfrecord")))
    assert summary["shards"] == len(shards) > 20
    read = [json.load(open(f"{path}.stats.json"))["bytes"] for path in shards]
    assert min(read[:-1]) >= taken * 2**20  # each cut at the first document end past the shard size


KEEPS_FREED_MEMORY = """
import ctypes
import numpy as np
from electra_keras.data import build


class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Mallinfo2


def free_in_heap_after(megabytes, count=1):  # MB of free memory malloc keeps once the arrays are freed
    blocks = [np.ones(megabytes * 2**18, np.float32) for _ in range(count)]
    del blocks
    return libc.mallinfo2().fordblks / 2**20


build._hand_back_memory()  # nothing kept yet: glibc's own thresholds stay
first, second = free_in_heap_after(24), free_in_heap_after(24)
build._init_worker(None, {}, tokenizer=object())
building = free_in_heap_after(24, 4)
build._hand_back_memory()
print(first, second, building, free_in_heap_after(24, 4))
"""


@pytest.mark.skipif(build._glibc() is None or not hasattr(build._glibc(), "mallinfo2"),
                    reason="the malloc settings are glibc's (2.33 or later reports them); other C libraries keep theirs")
def test_a_process_that_builds_shards_keeps_freed_memory_until_the_build_ends():
    # In a fresh process (the settings last for the process). A hand-back with nothing kept
    # leaves glibc's own thresholds: the first freed 24 MB array goes back to the system, and
    # the threshold grows so the second stays. Set up to build shards, malloc keeps four of them
    # (glibc's own would keep 48 MB at most); after the build, what passes 64 MB goes back again.
    run = subprocess.run([sys.executable, "-c", KEEPS_FREED_MEMORY], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second, building, after = map(float, run.stdout.split())
    assert first < 24 <= second and building >= 96 and after < 48


def test_text_bytes_count_utf8_and_a_newline_per_line():
    lines = ["Plain ASCII.", "", "Café ½ 東京 🙂.", "ς"]
    assert build._text_bytes(lines) == len("".join(f"{line}\n" for line in lines).encode("utf-8")) == 39
    assert build._text_bytes([]) == 0


def test_a_crash_mid_shard_leaves_whole_shards_and_the_rerun_adds_no_duplicates(corpus, tmp_path, monkeypatch):
    root, _, tokenizer = corpus
    kwargs = dict(seq_len=SEQ, shard_size_mb=SHARD_MB, num_workers=1, progress=False)
    build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path / "clean", **kwargs)
    clean = shard_bytes(tmp_path / "clean")

    # Die while writing the third shard, after some of its records went to disk.
    real_serialize, calls = build.serialize_examples, []
    first_two = sum(len(v) for k, v in sorted(read_shards(tmp_path / "clean").items())[:2])

    def dying_serialize(*arrays):
        for record in real_serialize(*arrays):
            calls.append(1)
            if len(calls) > first_two + 2:
                raise KeyboardInterrupt("killed")
            yield record

    monkeypatch.setattr(build, "serialize_examples", dying_serialize)
    with pytest.raises(KeyboardInterrupt):
        build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path / "crash", **kwargs)
    after_crash = shard_bytes(tmp_path / "crash")
    assert sorted(after_crash) == sorted(clean)[:2]  # only whole shards carry the final name
    assert all(after_crash[name] == clean[name] for name in after_crash)
    assert glob.glob(str(tmp_path / "crash" / "*.tmp-*"))  # the partial one is still a temp file

    monkeypatch.setattr(build, "serialize_examples", real_serialize)
    summary = build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path / "crash", **kwargs)
    assert shard_bytes(tmp_path / "crash") == clean
    assert not glob.glob(str(tmp_path / "crash" / "*.tmp-*"))
    rows = [r for rs in read_shards(tmp_path / "crash").values() for r in rs]
    assert summary["examples"] == len(rows) == len(
        [r for rs in read_shards(tmp_path / "clean").values() for r in rs]
    )


def test_undecodable_bytes_stop_the_build_naming_file_and_line(corpus, tmp_path):
    root, _, tokenizer = corpus
    bad = tmp_path / "bad.txt"
    bad.write_bytes((root / "text.txt").read_bytes() + b"\ncaf\xe9 noir\n")
    line = bad.read_bytes().count(b"\n")
    with pytest.raises(InputError, match=rf"bad.txt:{line}: not valid UTF-8"):
        build.build_pretraining_data(str(bad), tokenizer, tmp_path / "out", seq_len=SEQ,
                                     shard_size_mb=SHARD_MB, num_workers=1, progress=False)
    assert not glob.glob(str(tmp_path / "out" / "*.tmp-*"))
    assert read_shards(tmp_path / "out")  # the shards before the bad line are whole and kept
    summary = build.build_pretraining_data(str(bad), tokenizer, tmp_path / "replaced", seq_len=SEQ,
                                           shard_size_mb=SHARD_MB, num_workers=1, progress=False,
                                           encoding_errors="replace")
    assert summary["replaced_lines"] == 1


def test_other_settings_in_the_same_directory_are_an_error(corpus, tmp_path):
    root, _, tokenizer = corpus
    build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, seq_len=SEQ,
                                 shard_size_mb=SHARD_MB, num_workers=1, progress=False)
    with pytest.raises(ValueError, match=r"other settings \(seq_len: 32 then, 64 now\)"):
        build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, seq_len=64,
                                     shard_size_mb=SHARD_MB, num_workers=1, progress=False)


def test_a_build_with_the_old_default_shard_size_resumes_when_given_it(corpus, tmp_path):
    root, _, tokenizer = corpus
    kwargs = dict(seq_len=SEQ, num_workers=1, progress=False)
    first = build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, shard_size_mb=SHARD_MB, **kwargs)
    with pytest.raises(ValueError, match=rf"shard_size_mb: {SHARD_MB} then, 1.0 now\); to resume that build, pass"):
        build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, **kwargs)  # the default now
    again = build.build_pretraining_data(str(root / "text.txt"), tokenizer, tmp_path, shard_size_mb=SHARD_MB, **kwargs)
    assert again["examples"] == first["examples"] and again["shards"] == first["shards"]


def test_blank_input_is_an_error(tmp_path, corpus):
    _, _, tokenizer = corpus
    (tmp_path / "blank.txt").write_text("\n   \n\n")
    with pytest.raises(InputError, match="no text found"):
        build.build_pretraining_data(str(tmp_path / "blank.txt"), tokenizer, tmp_path / "out",
                                     num_workers=1, progress=False)


def test_a_real_corpus_has_few_unknown_tokens(tmp_path):
    """wiki_leads through a vocabulary learned from it (skips without ../shared/data)."""
    source = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "wiki_leads", "wiki_leads.jsonl")
    if not os.path.exists(source):
        pytest.skip("../shared/data/wiki_leads is not on this machine")
    from electra_keras.data import build_vocab, iter_lines

    lines = [line for _, line in zip(range(20_000), iter_lines(source))]
    (tmp_path / "part.txt").write_text("\n".join(lines) + "\n")
    tokenizer = build_vocab(lines, vocab_size=4000)
    summary = build.build_pretraining_data(str(tmp_path / "part.txt"), tokenizer, tmp_path / "out",
                                           seq_len=128, num_workers=1, progress=False)
    assert summary["unk_rate"] < 0.001
    assert 0.05 < summary["padding_fraction"] < 0.5
    assert np.isclose(summary["tokens"] / summary["examples"], 128 * (1 - summary["padding_fraction"]))
