"""Text files to packed TFRecord shards (`electra-keras build-data`).

The input is read once, in order, and cut at document boundaries into chunks of about
`shard_size_mb` of text. Chunk i becomes shard ``pretrain-<i>.tfrecord``: its worker tokenizes,
packs (`packing.pack_arrays`, seeded by (seed, i)), shuffles and writes the examples under a
temporary name, then renames. So:
- the output is a function of the input, the settings and the seed only, never of the number
  of worker processes;
- memory stays bounded (a few chunks in flight), whatever the corpus size;
- an interrupted build leaves only whole shards; rerunning the same command skips them and
  writes the rest, so no example is written twice.

Each shard has a ``.stats.json`` sidecar; ``data_info.json`` sums them once all shards exist,
and the tokenizer (vocab.txt, tokenizer_config.json) is copied next to the shards.
"""

import dataclasses
import glob
import hashlib
import json
import multiprocessing
import os
import random
import sys
import threading
import time

import numpy as np

from electra_keras import internals
from electra_keras.atomic import atomic_json
from electra_keras.data.example_bytes import serialize_examples
from electra_keras.data.packing import pack_arrays
from electra_keras.data.text import InputError, ReadStats, find_text_files, iter_lines, sentences_of_lines
from electra_keras.data.tokenizer import VOCAB_FILE, WordPieceTokenizer, collector_off

SHARD_PREFIX = "pretrain"
INFO_FILE = "data_info.json"
SETTINGS_FILE = "build_settings.json"
# By default one worker per this much input begun, up to the cores (docs/speed.md): a forked
# worker starts at once (two beat one on 12 MB, lose on 5 MB), a spawned one imports TensorFlow
# first.
WORKER_BYTES = {"fork": 8 * 2**20, "spawn": 128 * 2**20}
# By default a shard holds the largest of these many MB that still cuts the input into
# `MIN_SHARDS`: a small input gives the workers many shards to share (docs/speed.md).
SHARD_MB_CHOICES, MIN_SHARDS = (4.0, 2.0, 1.0), 32
_BUILD_WHILE_WORKERS_START = True  # False: the driver waits for them (a test's way to give them shards)
# glibc's malloc gives each block over its mmap threshold a mapping of its own and returns the
# heap's free top past its trim threshold, so each shard's arrays would fault in fresh pages. The
# processes that build shards keep freed memory for the next shard instead (8% faster,
# docs/speed.md). At the end the driver hands it back (malloc_trim) and keeps what glibc's own
# thresholds grow to at most: 32 MB and twice that.
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 32 * 2**20, 512 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, glibc's malloc.h


def shard_name(index):
    return f"{SHARD_PREFIX}-{index:05d}.tfrecord"


def _chunks(files, shard_bytes, read_options):
    """Yield (index, lines, read_stats, last) cut at document ends after `shard_bytes` of text.

    A document longer than twice the chunk size is cut inside (packing restarts there), so a
    file without blank lines cannot make a chunk unbounded. A full chunk is handed out when the
    next line of text arrives, so that whether it is the last one is known without reading the
    next chunk, or at the end with what was read after its last line (blank lines, a file's last
    compressed bytes): the chunks' `input_bytes` add up to the input's size.
    """
    running, emitted = ReadStats(), ReadStats()

    def since_last_chunk():
        delta = ReadStats(**{k: v - getattr(emitted, k) for k, v in dataclasses.asdict(running).items()})
        emitted.add(delta)
        return delta

    index, lines, size, full = 0, [], 0, []
    for path in files:
        # Sentences are split in the workers: the reading process only decodes and cuts.
        for line in iter_lines(path, stats=running, **dict(read_options, sentences=False)):
            if full and line:
                for chunk in full:
                    yield *chunk, False
                full = []
            lines.append(line)
            size += len(line) + 1
            if (size >= shard_bytes and line == "") or size >= 2 * shard_bytes:
                full.append((index, lines, since_last_chunk()))
                index, lines, size = index + 1, [], 0
    if any(lines):
        full.append((index, lines, since_last_chunk()))
    elif full:
        full[-1][2].add(since_last_chunk())
    for i, chunk in enumerate(full, start=1):
        yield *chunk, i == len(full)


# ---- worker side -------------------------------------------------------------------------------

_WORKER = {}


def _init_worker(tokenizer_dir, settings, tokenizer=None):
    """Set up this process to build shards: `tokenizer`, or the one saved in `tokenizer_dir`."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    libc = _glibc()
    if libc:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
        _WORKER["keeps_memory"] = True
    _WORKER["tokenizer"] = tokenizer or WordPieceTokenizer.from_directory(tokenizer_dir)
    _WORKER["settings"] = settings


def _start_tokenizer():
    """A worker's first task: its tokenizer's fast path started (0.04 s), which its first shard
    would otherwise wait for."""
    _WORKER["tokenizer"].start_fast_path()


def _glibc():
    """The process's C library where it is glibc (whose mallopt parameters `_init_worker` sets), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # glibc's own function
        return libc
    except (OSError, AttributeError):
        return None


def _hand_back_memory():
    """After a build, in a process `_init_worker` set up: the memory kept for the next shard goes
    back to the system, and the trim threshold to what glibc's own grows to at most."""
    if _WORKER.pop("keeps_memory", False):
        libc = _glibc()
        libc.malloc_trim(0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD)


def _build_shard(index, lines, read_stats, output_dir):
    # A shard's objects (its sentences, plans and runs) hold no cycles; the collector's passes
    # over them cost a tenth of the build.
    with collector_off():
        return _pack_and_write(index, lines, read_stats, output_dir)


def _pack_and_write(index, lines, read_stats, output_dir):
    import tensorflow as tf

    tokenizer, settings = _WORKER["tokenizer"], _WORKER["settings"]
    seq_len, seed = settings["seq_len"], settings["seed"]
    ids = tokenizer.special_ids
    started = time.perf_counter()
    if settings["sentences"]:
        lines = sentences_of_lines(lines)
    values, row_splits = tokenizer.encode_arrays([line for line in lines if line])
    features, stats = pack_arrays(lines, values, row_splits, seq_len, ids["cls_token_id"], ids["sep_token_id"],
                                  ids["pad_token_id"], seed=f"{seed}/{index}")
    order = list(range(len(features[0])))
    random.Random(f"{seed}/{index}/order").shuffle(order)  # as shuffling the examples themselves
    features = [feature[order] for feature in features]
    path = os.path.join(output_dir, shard_name(index))
    tmp = f"{path}.tmp-{os.getpid()}"
    unk = int(np.count_nonzero((features[0] == ids["unk_token_id"]) & (features[1] == 1)))
    with tf.io.TFRecordWriter(tmp) as writer:
        for record in serialize_examples(*features):  # tf.train.Example bytes, as TensorFlow writes them
            writer.write(record)
    record = dict(
        dataclasses.asdict(stats),
        **dataclasses.asdict(read_stats),
        unk_tokens=unk,
        text_bytes=_text_bytes(lines),
        file_bytes=os.path.getsize(tmp),
        seconds=time.perf_counter() - started,
    )
    atomic_json(record, f"{path}.stats.json")
    os.replace(tmp, path)  # the shard exists only once it is whole
    return index, record


def _text_bytes(lines):
    """UTF-8 size of the lines with a newline after each (an ASCII line's length is its size)."""
    return sum(map(len, lines)) + len(lines) + sum(len(line.encode("utf-8")) - len(line)
                                                   for line in lines if not line.isascii())


# ---- driver ------------------------------------------------------------------------------------


def _settings(files, tokenizer, seq_len, seed, shard_size_mb, read_options):
    vocab_hash = hashlib.sha1("\n".join(tokenizer.tokens).encode("utf-8")).hexdigest()
    return dict(
        seq_len=seq_len,
        seed=seed,
        shard_size_mb=shard_size_mb,
        vocab_sha1=vocab_hash,
        vocab_size=len(tokenizer),
        lower_case=tokenizer.lower_case,
        strip_accents=tokenizer.strip_accents,
        inputs=[[os.path.abspath(f), os.path.getsize(f)] for f in files],
        **read_options,
    )


def _check_settings(output_dir, settings):
    path = os.path.join(output_dir, SETTINGS_FILE)
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        changed = [k for k in settings if previous.get(k) != settings[k]]
        if changed:
            field = changed[0]
            raise ValueError(
                f"{output_dir} holds shards built with other settings ({field}: "
                f"{previous.get(field)!r} then, {settings[field]!r} now); to resume that build, pass "
                f"the settings it was built with (build_settings.json there lists them), else use another "
                f"output directory or delete this one"
            )
    else:
        atomic_json(settings, path)


def _remove_partial_files(output_dir):
    for tmp in glob.glob(os.path.join(output_dir, "*.tmp-*")):
        os.remove(tmp)


def _load_done(output_dir, index):
    path = os.path.join(output_dir, shard_name(index))
    stats_path = f"{path}.stats.json"
    if os.path.exists(path) and os.path.exists(stats_path):
        with open(stats_path) as f:
            return json.load(f)
    return None


def summarize(records, seq_len):
    """Totals over shard records: documents, examples, tokens, padding fraction, UNK rate."""
    keys = ("documents", "examples", "tokens", "unk_tokens", "dropped_tokens", "long_sentences",
            "single_segment", "replaced_lines", "lines", "bytes", "input_bytes", "text_bytes", "file_bytes")
    total = {k: sum(r.get(k, 0) for r in records) for k in keys}
    slots = total["examples"] * seq_len
    total["shards"] = len(records)
    total["padding_fraction"] = 1 - total["tokens"] / slots if slots else 0.0
    total["unk_rate"] = total["unk_tokens"] / total["tokens"] if total["tokens"] else 0.0
    return total


def format_summary(summary):
    return (
        f"{summary['documents']:,} documents -> {summary['examples']:,} examples in "
        f"{summary['shards']} shards; {summary['tokens']:,} tokens, padding "
        f"{summary['padding_fraction']:.1%}, UNK {summary['unk_rate']:.3%}; "
        f"{summary['long_sentences']:,} sentences longer than the sequence, "
        f"{summary['dropped_tokens']:,} tokens past the sequence length dropped; "
        f"{summary['replaced_lines']:,} lines with undecodable bytes replaced"
    )


def build_pretraining_data(
    inputs,
    tokenizer,
    output_dir,
    seq_len=128,
    seed=0,
    shard_size_mb=None,
    num_workers=None,
    text_field="text",
    encoding_errors="strict",
    split_sentences=True,
    progress=True,
    text_format="auto",
    document_separator="",
    runner="local",
    beam_options=None,
):
    """Write packed pretraining examples as TFRecord shards; returns the summary dict.

    Args:
      inputs: text files, directories or globs (see `electra_keras.data.text`).
      tokenizer: a `WordPieceTokenizer`, or a directory with vocab.txt (+ tokenizer_config.json).
      output_dir: where shards, data_info.json and the tokenizer go. Rerunning the same build
        into the same directory resumes it; other settings there are an error.
      seq_len: tokens per example, [CLS] and [SEP] included.
      seed: fixes packing and shard order.
      shard_size_mb: text per shard (the unit of work and of resumption). Default
        (`default_shard_mb`): 4 MB, or 2 or 1 MB for an input under 128 MB, so that it is
        cut into 32 shards or more.
      num_workers: processes that build shards, this one included; 1 builds in this process
        alone. Workers are forked on Linux when neither TensorFlow nor JAX has run an op in this
        process yet (they start at once), else spawned (each imports TensorFlow, about 4 s, and
        the calling script: call this under `if __name__ == "__main__":`). Default: one per
        8 MB of input begun when forked, per 128 MB when spawned, up to every core
        (`default_workers`).
      text_field, encoding_errors, split_sentences, text_format, document_separator: how text is
        read (see `iter_lines`; "auto" reads hard-wrapped prose by paragraph).
      runner: "local" (worker processes here) or "beam": an Apache Beam pipeline
        (`electra_keras.data.beam_build`, the `beam` extra) writes the same shards, stats and
        data_info.json; inputs and output_dir must then be paths every Beam worker reaches.
      beam_options: with runner="beam", Beam's pipeline flags as one string or a list
        ("--runner=DataflowRunner --project=..."); default: Beam's DirectRunner.
    """
    if runner not in ("local", "beam"):
        raise ValueError(f"runner={runner!r}: expected 'local' or 'beam'")
    if runner == "beam":
        from electra_keras.data import beam_build

        beam_options = beam_build.pipeline_options(beam_options, num_workers)  # bad flags fail before any write
    elif beam_options:
        raise ValueError(f"beam_options={beam_options!r}: only with runner='beam'")
    if not isinstance(tokenizer, WordPieceTokenizer):
        tokenizer = WordPieceTokenizer.from_directory(tokenizer)
    if seq_len < 8:
        raise ValueError(f"seq_len={seq_len}: expected at least 8")
    if shard_size_mb is not None and shard_size_mb <= 0:
        raise ValueError(f"shard_size_mb={shard_size_mb}: expected a positive size")
    files = find_text_files(inputs)
    total_bytes = sum(map(os.path.getsize, files))
    if shard_size_mb is None:
        shard_size_mb = default_shard_mb(total_bytes)
    read_options = dict(text_field=text_field, encoding_errors=encoding_errors, sentences=split_sentences,
                        text_format=text_format, document_separator=document_separator)
    settings = _settings(files, tokenizer, seq_len, seed, shard_size_mb, read_options)
    os.makedirs(output_dir, exist_ok=True)
    _check_settings(output_dir, settings)
    _remove_partial_files(output_dir)
    tokenizer.save(output_dir)
    if runner == "beam":
        started = time.perf_counter()
        try:
            records = beam_build.run_pipeline(files, int(shard_size_mb * 2**20), read_options, settings, output_dir,
                                              beam_options)
        finally:
            _hand_back_memory()  # the DirectRunner builds in this process
        return _write_info(records, files, settings, output_dir, started, progress)
    expected_shards = -(-total_bytes // int(shard_size_mb * 2**20))  # compressed inputs: a lower bound
    context = _worker_context()  # before this process's tokenizer starts TensorFlow
    if num_workers is None:
        num_workers = default_workers(total_bytes, context.get_start_method(), os.cpu_count() or 1)
    num_workers = min(num_workers, expected_shards)

    bar = _progress_bar(total_bytes, progress)
    records, started = {}, time.perf_counter()

    def finished(index, record):
        records[index] = record
        # Input bytes, as total_bytes counts them: compressed files by their compressed size.
        bar.update(record.get("input_bytes", record["bytes"]))

    chunks = _chunks(files, int(shard_size_mb * 2**20), read_options)
    try:
        if num_workers == 1:
            _init_worker(output_dir, settings, tokenizer)
            for index, lines, read_stats, _ in chunks:
                record = _load_done(output_dir, index)
                finished(*((index, record) if record else _build_shard(index, lines, read_stats, output_dir)))
        else:
            if multiprocessing.parent_process() is not None:
                raise RuntimeError(
                    "build_pretraining_data starts worker processes, which import the calling script "
                    "again: call it under `if __name__ == '__main__':`, or pass num_workers=1"
                )
            # This process is one of the workers: it builds shards itself until the others have
            # started (a spawned one imports TensorFlow, which takes seconds) and whenever they have
            # enough queued (`_hand_over`), so a small input is not held up by their start and memory
            # stays bounded (a few chunks in flight). Workers still starting at the end are stopped,
            # not awaited.
            _init_worker(output_dir, settings, tokenizer)
            # A forked worker has this process's tokenizer already (loading it again takes 0.03 s); a
            # spawned one loads the copy saved in output_dir.
            forked = tokenizer if context.get_start_method() == "fork" else None
            pool = context.Pool(num_workers - 1, _init_worker, (output_dir, settings, forked))
            try:
                started_up = pool.apply_async(os.getpid)  # answered once a worker is up
                for _ in range(num_workers - 1):  # while this process reads the first chunks
                    pool.apply_async(_start_tokenizer)
                if not _BUILD_WHILE_WORKERS_START:
                    started_up.wait()
                in_flight = {}  # the chunks handed over and not collected, oldest first: result -> text bytes

                def collect(ready_only=True):
                    for result in [r for r in in_flight if r.ready() or not ready_only]:
                        finished(*result.get())
                        del in_flight[result]

                for index, lines, read_stats, last in chunks:
                    collect()
                    record = _load_done(output_dir, index)
                    if record:
                        finished(index, record)
                    elif started_up.ready() and _hand_over(list(in_flight.values()), num_workers - 1,
                                                           read_stats.bytes, last):
                        task = pool.apply_async(_build_shard, (index, lines, read_stats, output_dir))
                        in_flight[task] = read_stats.bytes
                    else:
                        finished(*_build_shard(index, lines, read_stats, output_dir))
                collect(ready_only=False)
            except BaseException:
                pool.terminate()
                raise
            # Every shard is built: the workers are stopped, and waiting for them to exit (about
            # 0.02 s, a process unmapping its memory) is left to a thread.
            threading.Thread(target=pool.terminate, daemon=True).start()
    finally:
        bar.close()
        _hand_back_memory()
    return _write_info(records, files, settings, output_dir, started, progress)


def _hand_over(unfinished, workers, chunk, last):
    """Whether the driving process hands a chunk of `chunk` bytes of text to its `workers` (else
    builds it itself), with chunks of `unfinished` bytes (oldest first) handed over and not yet
    built: unless those queued behind the ones the workers build come to three quarters of the
    chunk each, so none runs dry while the driver builds it (a chunk that a long document made
    twice the size goes to them); the last chunk only while a worker may be idle, so they all
    finish together."""
    if last:
        return len(unfinished) < workers
    return sum(unfinished[workers:]) < 0.75 * workers * chunk


def default_shard_mb(total_bytes):
    """Text per shard by default for an input of `total_bytes` (compressed files by their size):
    the largest of `SHARD_MB_CHOICES` that gives `MIN_SHARDS` shards, else the smallest. So
    12 MB is cut into 12 shards of 1 MB (the last shard's time, alone on one core, stays
    small), and an input of 128 MB or more into shards of 4 MB."""
    for megabytes in SHARD_MB_CHOICES:
        if total_bytes >= MIN_SHARDS * megabytes * 2**20:
            return megabytes
    return SHARD_MB_CHOICES[-1]


def default_workers(total_bytes, start_method, cores):
    """Worker processes for an input of `total_bytes`: one per `WORKER_BYTES` begun (so 12 MB
    has two forked workers, 5 MB one), up to `cores`."""
    return max(1, min(cores, -(-total_bytes // WORKER_BYTES[start_method])))


def _worker_context():
    """How worker processes start: forked where that is safe (Linux, and neither TensorFlow's nor
    JAX's runtime started in this process; the fork then happens before this process tokenizes),
    so they have this process's imports at once; otherwise spawned, each importing TensorFlow
    afresh (about 4 s)."""
    if sys.platform.startswith("linux") and not internals.runtimes_started():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _write_info(records, files, settings, output_dir, started, progress):
    """data_info.json from the shards' records ({index: record}); returns the summary."""
    if not records:
        raise InputError(f"{', '.join(files[:3])}: no text found (every line is blank)")

    ordered = [records[i] for i in sorted(records)]
    summary = summarize(ordered, settings["seq_len"])
    summary["seconds"] = time.perf_counter() - started
    info = dict(
        summary=summary,
        settings=settings,
        shards=[
            dict(file=shard_name(i), examples=records[i]["examples"], bytes=records[i]["file_bytes"])
            for i in sorted(records)
        ],
        vocab=VOCAB_FILE,
        features=dict(input_ids="int64", input_mask="int64", segment_ids="int64"),
    )
    atomic_json(info, os.path.join(output_dir, INFO_FILE))
    if progress:
        print(f"build-data: {format_summary(summary)}", flush=True)
    return summary


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(total, enabled):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    # Bytes of the whole input (compressed files by their size on disk): "1.20GB/4.80GB [05:01<15:03, 4.0MB/s]".
    return tqdm(total=total, unit="B", unit_scale=True, desc="build-data", file=sys.stdout,
                bar_format="{l_bar}{bar}| {n_fmt}B/{total_fmt}B [{elapsed}<{remaining}, {rate_fmt}]")
