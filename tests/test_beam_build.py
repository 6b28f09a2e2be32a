"""build-data --runner beam: the local build's shards, stats and data_info.json from a Beam pipeline.

Needs the beam extra (`pip install "electra-keras[beam]"`; .ci/beam.sh runs this file in such an
environment); without it only the test of the missing-extra message runs.
"""

import glob
import importlib.util
import json
import os
import pickle
import re
import sys

import pytest

import electra_keras.data
from conftest import small_vocab, write_corpus
from electra_keras import cli
from electra_keras.data import build
from electra_keras.data.text import InputError
from electra_keras.data.tokenizer import WordPieceTokenizer

SEQ = 32
SHARD_MB = 0.002  # about 2 KB of text per shard: several shards from a small corpus
# Two SDK worker processes, so every shard is built by a DoFn set up in another process.
TWO_WORKERS = "--direct_num_workers=2 --direct_running_mode=multi_processing"

needs_beam = pytest.mark.skipif(
    importlib.util.find_spec("apache_beam") is None,
    reason='apache_beam is not installed (pip install "electra-keras[beam]"; .ci/beam.sh runs these tests)',
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root / "text.txt", num_docs=60, seed=3)
    with open(root / "text.txt", "a") as f:
        f.write("\nA zebra sees the cat.\n")  # "zebra" is not in the vocab: one [UNK]
        f.write("\n" + " ".join(["cat"] * 40) + ".\n")  # one sentence longer than the sequence
    write_corpus(root / "more.txt", num_docs=20, seed=4)
    return [str(root / "text.txt"), str(root / "more.txt")], WordPieceTokenizer(small_vocab(root / "vocab"))


def build_data(corpus, output_dir, **kwargs):
    inputs, tokenizer = corpus
    return build.build_pretraining_data(inputs, tokenizer, output_dir, seq_len=SEQ, shard_size_mb=SHARD_MB,
                                        progress=False, **kwargs)


def directory(path):
    """{file name: bytes, or the parsed JSON without its timing field `seconds`}."""
    out = {}
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as f:
            content = f.read()
        if name.endswith(".json"):
            content = json.loads(content)
            content.pop("seconds", None)
            content.get("summary", {}).pop("seconds", None)
        out[name] = content
    return out


def without_seconds(summary):
    return {k: v for k, v in summary.items() if k != "seconds"}


@needs_beam
def test_the_beam_build_writes_the_local_build_byte_for_byte(corpus, tmp_path):
    local = build_data(corpus, tmp_path / "local", num_workers=1)
    beam = build_data(corpus, tmp_path / "beam", runner="beam", beam_options=TWO_WORKERS)
    assert without_seconds(beam) == without_seconds(local)
    assert local["shards"] > 4 and local["unk_tokens"] == 1 and local["long_sentences"] == 1
    # The same files: shards byte for byte, each shard's stats, data_info.json, settings, tokenizer.
    assert directory(tmp_path / "beam") == directory(tmp_path / "local")
    assert len(glob.glob(str(tmp_path / "beam" / "*.tfrecord"))) == local["shards"]


@needs_beam
def test_only_chunk_names_pass_through_the_shuffle_and_the_staged_chunks_go(corpus, tmp_path):
    """The reading step stages each chunk's lines as a file and hands on (index, path, stats), so
    no runner holds the corpus in memory; the build removes the staged files."""
    from electra_keras.data import beam_build

    inputs, _ = corpus
    read_options = dict(text_field="text", encoding_errors="strict", sentences=True, text_format="auto",
                        document_separator="")
    out = tmp_path / "out"
    os.makedirs(out / beam_build.STAGING_DIR)
    reader = beam_build._ReadChunks(inputs, int(SHARD_MB * 2**20), read_options, str(out))
    staged = list(reader.process(None))
    chunks = list(build._chunks(inputs, int(SHARD_MB * 2**20), read_options))
    assert [(i, stats) for i, _, stats in staged] == [(i, stats) for i, _, stats, _ in chunks]
    for (_, path, _), (_, lines, _, _) in zip(staged, chunks):
        assert isinstance(path, str) and pickle.load(open(path, "rb")) == lines

    build_data(corpus, tmp_path / "beam", runner="beam")
    assert not os.path.exists(tmp_path / "beam" / beam_build.STAGING_DIR)


@needs_beam
def test_a_rerun_skips_whole_shards_whichever_runner_wrote_them(corpus, tmp_path):
    out = tmp_path / "out"
    build_data(corpus, out, num_workers=1)
    expected = directory(out)
    lost = out / build.shard_name(1)
    os.remove(lost)  # as if the build had stopped before this shard was renamed into place
    (out / f"{build.shard_name(1)}.tmp-1234").write_bytes(b"partial")
    kept = {p: os.stat(p).st_mtime_ns for p in glob.glob(str(out / "*.tfrecord"))}

    build_data(corpus, out, runner="beam")
    assert directory(out) == expected
    assert {p: os.stat(p).st_mtime_ns for p in kept} == kept  # the whole shards were not rewritten
    assert os.path.exists(lost)


@needs_beam
def test_bad_beam_options_fail_before_anything_is_written(corpus, tmp_path):
    out = tmp_path / "out"
    for options, message in [
        ("--runnr=DataflowRunner", r"Apache Beam has no option --runnr"),
        ("--direct_num_workers=two", r"--direct_num_workers: invalid int value: 'two'"),
        ("--project='unclosed", r"No closing quotation"),
    ]:
        with pytest.raises(ValueError, match=message):
            build_data(corpus, out, runner="beam", beam_options=options)
    with pytest.raises(ValueError, match=r"num_workers=2: with the Beam runner, Beam decides"):
        build_data(corpus, out, runner="beam", num_workers=2)
    assert not out.exists()
    with pytest.raises(ValueError, match=r"Unexpected pipeline runner: NoSuchRunner"):
        build_data(corpus, out, runner="beam", beam_options=["--runner=NoSuchRunner"])


@needs_beam
def test_the_input_error_of_a_worker_reaches_the_caller(corpus, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(open(corpus[0][0], "rb").read() + b"\ncaf\xe9 noir\n")
    with pytest.raises(InputError, match=r"bad.txt:\d+: not valid UTF-8"):
        build.build_pretraining_data(str(bad), corpus[1], tmp_path / "out", seq_len=SEQ, shard_size_mb=SHARD_MB,
                                     progress=False, runner="beam")


def test_the_command_line_checks_the_runner_flags(corpus, tmp_path, capsys):
    inputs, tokenizer = corpus
    tokenizer.save(tmp_path / "vocab")
    command = ["build-data", *inputs, "--vocab", str(tmp_path / "vocab"), "--output", str(tmp_path / "out")]
    assert cli.main([*command, "--runner", "beam", "--workers", "2"]) == 2
    assert "--workers: with --runner beam, Beam decides the parallelism" in capsys.readouterr().err
    assert cli.main([*command, "--beam-options=--runner=DirectRunner"]) == 2
    assert "--beam-options: only with --runner beam" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"runner='spark': expected 'local' or 'beam'"):
        build_data(corpus, tmp_path / "out", runner="spark")
    with pytest.raises(ValueError, match=r"only with runner='beam'"):
        build_data(corpus, tmp_path / "out", beam_options="--runner=DirectRunner")
    assert not (tmp_path / "out").exists()


def test_without_beam_the_error_names_the_extra(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # what an environment without Beam imports
    monkeypatch.delitem(sys.modules, "electra_keras.data.beam_build", raising=False)
    monkeypatch.delattr(electra_keras.data, "beam_build", raising=False)
    with pytest.raises(ImportError, match=r'needs Apache Beam: pip install "electra-keras\[beam\]"'):
        build_data(corpus, tmp_path / "out", runner="beam")
    inputs, tokenizer = corpus
    tokenizer.save(tmp_path / "vocab")
    command = ["build-data", *inputs, "--vocab", str(tmp_path / "vocab"), "--output", str(tmp_path / "out"),
               "--runner", "beam"]
    assert cli.main(command) == 1
    assert 'pip install "electra-keras[beam]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@needs_beam
def test_the_documented_beam_options_parse():
    from electra_keras.data.beam_build import pipeline_options

    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "pretraining.md")).read()
    documented = re.findall(r'--beam-options="([^"]+)"', doc.replace("\\\n", " "))
    runners = set()
    for flags in documented:
        options = pipeline_options(flags).get_all_options()
        runners.add(options["runner"])
    assert runners == {None, "DataflowRunner", "FlinkRunner", "SparkRunner"}
    for flag in ("--setup_file=/src/pyproject.toml", "--requirements_file=requirements.txt",
                 "--environment_type=LOOPBACK", "--flink_job_server_jar=job-server.jar",
                 "--spark_job_server_jar=job-server.jar"):
        pipeline_options(flag)
