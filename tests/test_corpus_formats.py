"""Corpus formats: compressed text and JSON Lines, Parquet and `datasets` Arrow directories read
as the same documents and built into the same shards; their errors name the file."""

import bz2
import glob
import gzip
import json
import lzma
import os
import re
import sys

import pytest

from conftest import small_vocab, write_corpus
from electra_keras.data import build
from electra_keras.data.text import InputError, ReadStats, find_text_files, iter_lines
from electra_keras.data.tokenizer import WordPieceTokenizer

SEQ = 32
SHARD_MB = 0.002  # about 2 KB of text per shard: several shards from the small corpus
MISSING = "pip install 'electra-keras[corpora]'"


def needs(module):
    return pytest.importorskip(module, reason=f"{module} is not installed ({MISSING})")


def zstd_compress(data):
    zstandard = needs("zstandard")
    half = len(data) // 2  # two frames, as `zstd` writes concatenated files and `pzstd` writes
    return zstandard.ZstdCompressor().compress(data[:half]) + zstandard.ZstdCompressor().compress(data[half:])


COMPRESS = {"": lambda d: d, ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress, ".zst": zstd_compress}


def plain_text(docs):
    return ("\n\n".join("\n".join(doc) for doc in docs) + "\n").encode("utf-8")


def json_lines(docs):
    return "".join(json.dumps({"id": i, "text": "\n".join(doc)}) + "\n" for i, doc in enumerate(docs)).encode("utf-8")


def table(docs, texts=None):
    pa = needs("pyarrow")
    texts = texts if texts is not None else ["\n".join(doc) for doc in docs]
    return pa.table({"id": pa.array(range(len(texts)), pa.int64()), "text": pa.array(texts, pa.string())})


def write_parquet(path, docs, texts=None):
    parquet = needs("pyarrow.parquet")
    parquet.write_table(table(docs, texts), path, row_group_size=7)  # several row groups and batches


def write_arrow_stream(path, rows, batch_rows=5):
    """An Arrow IPC stream as `datasets`' ArrowWriter writes it: its features in the schema's metadata."""
    pa = needs("pyarrow")
    features = {"id": {"dtype": "int64", "_type": "Value"}, "text": {"dtype": "string", "_type": "Value"}}
    schema = rows.schema.with_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in rows.replace_schema_metadata(schema.metadata).to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return features


def write_saved_dataset(directory, docs, texts=None, shards=2):
    """The layout of `datasets.Dataset.save_to_disk`: data-0000i-of-0000n.arrow, dataset_info.json,
    state.json; plus a cache file a later `map` left there, which is not part of the dataset."""
    rows = table(docs, texts)
    os.makedirs(directory, exist_ok=True)
    names, step = [], -(-rows.num_rows // shards)
    for i in range(shards):
        names.append(f"data-{i:05d}-of-{shards:05d}.arrow")
        features = write_arrow_stream(os.path.join(directory, names[-1]), rows.slice(i * step, step))
    with open(os.path.join(directory, "dataset_info.json"), "w") as f:
        json.dump({"citation": "", "description": "", "features": features, "homepage": "", "license": ""}, f)
    with open(os.path.join(directory, "state.json"), "w") as f:
        json.dump({"_data_files": [{"filename": name} for name in names], "_fingerprint": "0123456789abcdef",
                   "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
                   "_output_all_columns": False, "_split": "train"}, f)
    write_arrow_stream(os.path.join(directory, "cache-0123456789abcdef.arrow"), table([["Not in the dataset."]]))
    return directory


def write_arrow_file(path, docs):
    """The Arrow IPC file format (random access), as pyarrow's feather writer makes it."""
    pa = needs("pyarrow")
    rows = table(docs)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
        for batch in rows.to_batches(max_chunksize=4):
            writer.write_batch(batch)


FORMATS = [f"{base}{c}" for base in (".txt", ".jsonl") for c in COMPRESS] + [".parquet", "arrow-dir", ".arrow"]


def write_format(root, fmt, docs):
    """`docs` written in format `fmt` under `root`; returns the path to give build-data."""
    if fmt == "arrow-dir":
        return write_saved_dataset(os.path.join(root, "saved"), docs)
    path = os.path.join(root, f"corpus{fmt}")
    if fmt == ".parquet":
        write_parquet(path, docs)
    elif fmt == ".arrow":
        write_arrow_file(path, docs)
    else:
        base = ".jsonl" if fmt.startswith(".jsonl") else ".txt"
        compression = fmt[len(base):]
        data = json_lines(docs) if base == ".jsonl" else plain_text(docs)
        with open(path, "wb") as f:
            f.write(COMPRESS[compression](data))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    docs = write_corpus(root / "source.txt", num_docs=50, seed=5)
    docs[3].append("Crème brûlée, naïve café: 東京.")  # non-ASCII text travels through every format
    tokenizer = WordPieceTokenizer(small_vocab(root / "vocab"))
    return root, docs, tokenizer


def read(path, **options):
    stats, lines = ReadStats(), []
    for f in find_text_files(path):
        lines += iter_lines(f, stats=stats, text_format="lines", **options)
    return lines, stats


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_as_the_same_documents(corpus, tmp_path, fmt):
    _, docs, _ = corpus
    path = write_format(str(tmp_path), fmt, docs)
    lines, stats = read(path, sentences=False)
    assert lines == [line for doc in docs for line in doc + [""]]
    assert stats.documents == len(docs)
    # Every byte of the input is counted once the files are read: progress ends at 100%.
    assert stats.input_bytes == sum(os.path.getsize(f) for f in find_text_files(path))
    reference, _ = read(write_format(str(tmp_path), ".txt", docs))
    assert read(path)[0] == reference  # split into sentences alike


@pytest.fixture(scope="module")
def reference_shards(corpus, tmp_path_factory):
    root, docs, tokenizer = corpus
    out = tmp_path_factory.mktemp("reference")
    path = write_format(str(out), ".txt", docs)
    build.build_pretraining_data(path, tokenizer, out / "shards", seq_len=SEQ, shard_size_mb=SHARD_MB,
                                 num_workers=1, progress=False, text_format="lines")
    return shard_bytes(out / "shards")


def shard_bytes(directory):
    return {os.path.basename(p): open(p, "rb").read() for p in sorted(glob.glob(os.path.join(directory, "*.tfrecord")))}


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != ".txt"])
def test_every_format_builds_the_same_shards(corpus, reference_shards, tmp_path, fmt):
    _, docs, tokenizer = corpus
    path = write_format(str(tmp_path), fmt, docs)
    summary = build.build_pretraining_data(path, tokenizer, tmp_path / "shards", seq_len=SEQ, shard_size_mb=SHARD_MB,
                                           num_workers=1, progress=False, text_format="lines")
    assert len(reference_shards) > 2
    assert shard_bytes(tmp_path / "shards") == reference_shards
    assert summary["documents"] == len(docs)
    assert summary["input_bytes"] == sum(os.path.getsize(f) for f in find_text_files(path))


def test_two_workers_build_the_same_shards_from_compressed_input(corpus, reference_shards, tmp_path):
    _, docs, tokenizer = corpus
    path = write_format(str(tmp_path), ".jsonl.zst", docs)
    build.build_pretraining_data(path, tokenizer, tmp_path / "shards", seq_len=SEQ, shard_size_mb=SHARD_MB,
                                 num_workers=2, progress=False, text_format="lines")
    assert shard_bytes(tmp_path / "shards") == reference_shards


@pytest.mark.parametrize("fmt", [".jsonl.zst", ".txt.gz", "arrow-dir"])
def test_the_progress_bar_counts_input_bytes_to_the_end(corpus, tmp_path, fmt, capsys):
    _, docs, tokenizer = corpus
    path = write_format(str(tmp_path), fmt, docs)
    files = find_text_files(path)
    chunks = list(build._chunks(files, int(SHARD_MB * 2**20), dict(text_format="lines")))
    counted = [stats.input_bytes for _, _, stats, _ in chunks]
    assert len(chunks) > 2 and all(n >= 0 for n in counted)
    assert sum(counted) == sum(os.path.getsize(f) for f in files)  # compressed bytes, not text
    build.build_pretraining_data(path, tokenizer, tmp_path / "shards", seq_len=SEQ, shard_size_mb=SHARD_MB,
                                 num_workers=1, progress=True, text_format="lines")
    bar = capsys.readouterr().out.split("\r")[-1].split("\n")[0]  # the bar as it closed
    done, total = re.search(r"100%\|.*\| (\S+)B/(\S+)B \[.*<.*, \S+B/s\]", bar).groups()
    size = sum(os.path.getsize(f) for f in files)
    assert done == total and total.endswith("k") and float(total[:-1]) == pytest.approx(size / 1000, rel=0.01)


def test_blank_lines_read_after_the_last_full_chunk_are_counted(corpus, tmp_path):
    _, docs, _ = corpus
    tail = tmp_path / "tail.txt"
    tail.write_bytes(plain_text(docs) + b"\n" * 5)
    chunks = list(build._chunks([str(tail)], 1, dict(text_format="lines")))  # a chunk per line
    assert sum(stats.input_bytes for _, _, stats, _ in chunks) == os.path.getsize(tail)
    assert [line for _, lines, _, _ in chunks for line in lines] == [line for doc in docs for line in doc + [""]]
    assert [last for *_, last in chunks] == [False] * (len(chunks) - 1) + [True]


def test_a_text_column_that_is_missing_or_not_text_names_the_file_and_the_columns(tmp_path):
    docs = [["One."], ["Two."], ["Three."], ["Four."]]
    parquet = str(tmp_path / "docs.parquet")
    write_parquet(parquet, docs)
    saved = write_saved_dataset(str(tmp_path / "saved"), docs)
    for path in (parquet, os.path.join(saved, "data-00000-of-00002.arrow")):
        with pytest.raises(InputError, match=rf"{os.path.basename(path)}: no column 'body' \(columns: id, text\); "
                                             r"pass --text-field NAME"):
            list(iter_lines(path, text_field="body"))
        with pytest.raises(InputError, match=r"column 'id' holds int64, expected strings"):
            list(iter_lines(path, text_field="id"))
    write_parquet(parquet, None, texts=["One.", "Two.", "Three.", None, "Five."])
    with pytest.raises(InputError, match=r"docs.parquet: row 3 \(counting from 0\): column 'text' is null"):
        list(iter_lines(parquet))
    assert [line for f in find_text_files(saved) for line in iter_lines(f)] == ["One.", "", "Two.", "", "Three.", "", "Four.", ""]


@pytest.mark.parametrize("compression", [".gz", ".bz2", ".xz", ".zst"])
def test_a_damaged_compressed_file_names_the_file(tmp_path, compression):
    garbage = tmp_path / f"garbage.txt{compression}"
    garbage.write_bytes(b"plain words, not compressed at all\n" * 10)
    cut = tmp_path / f"cut.jsonl{compression}"
    cut.write_bytes(COMPRESS[compression](json_lines([["A long document."] * 100] * 30))[:-20])
    for path in (garbage, cut):
        with pytest.raises(InputError, match=rf"{path.name}: cannot be read"):
            list(iter_lines(str(path)))


@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_a_damaged_columnar_file_names_the_file(tmp_path, suffix):
    needs("pyarrow")
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"PAR1 this is not a columnar file at all\n" * 3)
    with pytest.raises(InputError, match=rf"broken{suffix}: cannot be read as {suffix[1:]}"):
        list(iter_lines(str(path)))
    good = tmp_path / f"good{suffix}"
    (write_parquet if suffix == ".parquet" else write_arrow_file)(str(good), [["One."]] * 40)
    good_bytes = good.read_bytes()
    good.write_bytes(good_bytes[: len(good_bytes) // 2])  # cut in the middle
    with pytest.raises(InputError, match=rf"good{suffix}: cannot be read as {suffix[1:]}"):
        list(iter_lines(str(good)))


def test_a_missing_optional_package_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "a.txt.zst").write_bytes(b"(\xb5/\xfd")
    (tmp_path / "b.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if not installed: import fails
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(InputError, match=r"a.txt.zst: reading this file needs the zstandard package: "
                                         r"pip install 'electra-keras\[corpora\]'"):
        find_text_files(str(tmp_path))
    with pytest.raises(InputError, match=r"b.parquet: reading this file needs the pyarrow package"):
        list(iter_lines(str(tmp_path / "b.parquet")))
    with pytest.raises(InputError, match=r"a.txt.zst: .* needs the zstandard package"):
        list(iter_lines(str(tmp_path / "a.txt.zst")))


def test_a_compressed_columnar_file_is_an_error(tmp_path):
    (tmp_path / "docs.parquet.gz").write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(InputError, match=r"docs.parquet.gz: parquet files are read as they are"):
        find_text_files(str(tmp_path / "docs.parquet.gz"))


def test_directory_search_takes_every_format_in_a_fixed_order(tmp_path):
    needs("pyarrow")
    docs = [["One."], ["Two."], ["Three."]]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt.zst").write_bytes(COMPRESS[".zst"](b"Zst.\n"))
    (tmp_path / "b" / "y.jsonl.bz2").write_bytes(bz2.compress(json_lines([["Bz2."]])))
    (tmp_path / "a.txt.xz").write_bytes(lzma.compress(b"Xz.\n"))
    (tmp_path / "notes.csv").write_text("not,text\n")
    (tmp_path / "page.html.gz").write_bytes(gzip.compress(b"<p>not taken</p>\n"))
    write_parquet(str(tmp_path / "b" / "rows.parquet"), docs)
    write_saved_dataset(str(tmp_path / "c" / "train"), docs, shards=2)
    names = [os.path.relpath(p, tmp_path) for p in find_text_files(str(tmp_path))]
    assert names == ["a.txt.xz", "b/rows.parquet", "b/x.txt.zst", "b/y.jsonl.bz2",
                     "c/train/data-00000-of-00002.arrow", "c/train/data-00001-of-00002.arrow"]
    lines = [line for f in find_text_files(str(tmp_path)) for line in iter_lines(f, text_format="lines")]
    assert lines == ["Xz.", "", "One.", "", "Two.", "", "Three.", "", "Zst.", "", "Bz2.", "",
                     "One.", "", "Two.", "", "Three.", ""]  # no "Not in the dataset." (a cache file)
    with open(tmp_path / "c" / "train" / "state.json", "w") as f:
        json.dump({"_data_files": [{"filename": "data-00000-of-00003.arrow"}]}, f)
    with pytest.raises(InputError, match=r"state.json: lists data-00000-of-00003.arrow, which is not in"):
        find_text_files(str(tmp_path))


def test_thousands_of_files_stream_in_sorted_order(tmp_path):
    import random

    numbers = list(range(1500))
    random.Random(0).shuffle(numbers)  # created in no particular order
    for n in numbers:
        folder = tmp_path / f"part-{n // 500}"
        folder.mkdir(exist_ok=True)
        (folder / f"doc-{n:05d}.txt.gz").write_bytes(gzip.compress(f"Document {n}.\n".encode()))
    files = find_text_files(str(tmp_path))
    assert files == find_text_files(str(tmp_path / "part-*" / "*.txt.gz"))
    lines = [line for f in files for line in iter_lines(f, text_format="lines")]
    assert lines[::2] == [f"Document {n}." for n in range(1500)] and set(lines[1::2]) == {""}
