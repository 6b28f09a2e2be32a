"""Data pipeline throughput: WordPiece tokenizers and build-data end to end, in one run.

    python benchmarks/data_pipeline.py [--data ../shared/data] [--big-mb 500] [--beam-python PYTHON]
    python benchmarks/data_pipeline.py --tokenizers-only | --build-only
    python benchmarks/data_pipeline.py --reader [--presets tiny,small]

The default run measures, on the public-domain corpus (12 MB):
- the WordPiece tokenizers (ours, Hugging Face's, tensorflow-text's, BERT's Python algorithm):
  results/tokenizers.md;
- build-data end to end (read, split, tokenize, pack, serialize, write) against raw tokenization
  (our tokenizer started, and in a fresh process with its start), with 1 and 2 worker processes,
  and on Beam's DirectRunner (with `--beam-python`, an interpreter that has the `beam` extra, or
  this one if it has Apache Beam); scaling from 1 to 2 workers, forked and spawned, on the corpus
  four times over and on `--big-mb`; peak memory (RSS
  of the driver and of any one worker) at `--small-mb` and `--big-mb`; and the core-hours that
  20 and 40 GB would take: results/build_data.{md,png}. The larger corpora are directories of
  copies of the two files, each read as its source is. Runs read the tokenizer's compiled
  models from a cache of the benchmark's own, except the one that compiles them.

`--reader` measures, per corpus, vocabulary learning, build-data and the tf.data reader against
what a training step consumes: results/data_pipeline.{md,png}.
The corpora are the real ones in ../shared/data (not part of the repository).
"""

import argparse
import json
import os
import shutil
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = {
    "wiki_leads (jsonl)": "wiki_leads/wiki_leads.jsonl",
    "moby_dick (txt)": "public_domain/moby_dick.txt",
    "state_of_the_union (txt)": "public_domain/state_of_the_union.txt",
}


def megabytes(path):
    return os.path.getsize(path) / 2**20


def bench_vocab(path, vocab_size):
    from electra_keras.data import build_vocab, iter_lines

    start = time.perf_counter()
    tokenizer = build_vocab(iter_lines(path), vocab_size=vocab_size)
    return tokenizer, time.perf_counter() - start


def bench_build(path, tokenizer, workers, seq_len, out):
    from electra_keras.data import build_pretraining_data

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    summary = build_pretraining_data(path, tokenizer, out, seq_len=seq_len, shard_size_mb=1.0,
                                     num_workers=workers, progress=False)
    return summary, time.perf_counter() - start


def bench_reader(shard_dir, batch_size, seq_len, batches=300):
    from electra_keras.data import pretraining_dataset

    dataset = pretraining_dataset(shard_dir, batch_size, seq_len)
    iterator = iter(dataset)
    for _ in range(20):  # warm-up: fill the shuffle buffer
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def bench_train_step(preset, shard_dir, vocab_size, batch_size, seq_len, steps=6):
    import keras

    import electra_keras as ek

    config = ek.ElectraConfig.from_preset(preset, vocabulary_size=vocab_size, sequence_length=seq_len)
    model = ek.ElectraPretrainer(config, seed=0)
    model.compile(optimizer=ek.optimizers.electra_adamw(5e-4, 10, 1000))
    dataset = ek.data.pretraining_dataset(shard_dir, batch_size, seq_len)
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # compile
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    keras.backend.clear_session()
    return steps * batch_size / (time.perf_counter() - start)


def best_seconds(function, repeat):
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return min(seconds), result


def bench_tokenizers(data, vocab_size, work, bert_sample=5000):
    """MB/s of each WordPiece tokenizer on the public-domain corpus's sentences (one thread of
    ours: tensorflow-text's kernel and Hugging Face's threads use what cores they get)."""
    import glob

    import tensorflow as tf
    import tensorflow_text as tf_text
    from tokenizers import BertWordPieceTokenizer

    from electra_keras.data import build_vocab, iter_lines
    from electra_keras.export.electra_tokenizer import Tokenizer as PythonBert

    files = sorted(glob.glob(os.path.join(data, "public_domain", "*.txt")))
    sentences = [line for path in files for line in iter_lines(path) if line]
    size = sum(len(s.encode("utf-8")) for s in sentences) / 2**20
    ours = build_vocab(sentences, vocab_size=vocab_size)
    directory = os.path.join(work, "tokenizer")
    ours.save(directory)
    vocab_file = os.path.join(directory, "vocab.txt")
    ours.encode_batch(sentences[:1000] * 100)  # TensorFlow started, the sentences' characters not yet probed

    rows, ids = [], {}

    def row(name, seconds, megabytes=size):
        rows.append((name, megabytes / seconds))
        print(f"{name}: {megabytes / seconds:.2f} MB/s", flush=True)

    seconds, ids["new"] = best_seconds(lambda: ours.encode_batch(sentences), 3)
    row("ours: `encode_batch` (FastBertTokenizer, departing texts on the exact path)", seconds)
    seconds, _ = best_seconds(lambda: ours.encode_arrays(sentences), 3)
    row("ours: `encode_arrays` (the same ids as NumPy arrays, what build-data uses)", seconds)
    fast = ours._fast
    exact_rows = fast.departing_rows(sentences, fast.encode(sentences)[1])
    seconds, _ = best_seconds(lambda: fast.encode(sentences), 3)
    row("ours without the detector (FastBertTokenizer alone, not exact)", seconds)
    seconds, ids["old"] = best_seconds(lambda: ours._encode_exact(sentences), 1)
    row("ours, exact path (Hugging Face tokenizers + mends; `encode_batch` before)", seconds)
    plain = BertWordPieceTokenizer(vocab_file, lowercase=True)
    seconds, _ = best_seconds(lambda: plain.encode_batch(sentences, add_special_tokens=False), 1)
    row("Hugging Face `BertWordPieceTokenizer`, plain", seconds)
    fast_bert = tf_text.FastBertTokenizer(ours.tokens, token_out_type=tf.int32, lower_case_nfd_strip_accents=True)
    seconds, _ = best_seconds(lambda: fast_bert.tokenize(tf.constant(sentences)), 3)
    row("tensorflow-text `FastBertTokenizer`, raw (ids as a RaggedTensor)", seconds)
    seconds, _ = best_seconds(lambda: fast_bert.tokenize(tf.constant(sentences)).to_list(), 1)
    row("tensorflow-text `FastBertTokenizer`, raw (ids as lists, `to_list()`)", seconds)
    step = max(1, len(sentences) // bert_sample)
    sample = sentences[::step]
    python_bert = PythonBert(vocab_file, lower_case=True)
    seconds, expected = best_seconds(lambda: [python_bert.encode(s) for s in sample], 1)
    row(f"BERT's algorithm in Python (electra_tokenizer.py, {len(sample):,} sentences)", seconds,
        sum(len(s.encode("utf-8")) for s in sample) / 2**20)
    same = ids["new"] == ids["old"] and ids["new"][::step] == expected
    return dict(rows=rows, sentences=len(sentences), megabytes=size, exact_rows=len(exact_rows), same_ids=same)


BUILD_CHILD = """
import glob, json, os, sys, threading, time
from electra_keras.data.build import build_pretraining_data


def high_water_mb(pid="self"):
    # VmHWM: the peak RSS of the process since it started its program (ru_maxrss would carry the
    # parent's over fork and exec)
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return 0.0


def children():
    mine = str(os.getpid())
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                if f.read().rsplit(")", 1)[1].split()[1] == mine:
                    yield stat.split("/")[2]
        except (OSError, IndexError):
            pass


worker_mb, done = [0.0], threading.Event()


def watch_workers():
    while not done.wait(0.2):
        worker_mb[0] = max([worker_mb[0], *map(high_water_mb, children())])


inputs, vocab, out, workers, runner, start_method, shard_mb = sys.argv[1:8]
workers, shard_mb = int(workers), (float(shard_mb) if shard_mb != "default" else None)
if __name__ == "__main__":
    if start_method != "auto":  # how the workers start, whatever build-data would choose
        import multiprocessing
        from electra_keras.data import build
        build._worker_context = lambda: multiprocessing.get_context(start_method)
    threading.Thread(target=watch_workers, daemon=True).start()
    start = time.perf_counter()
    build_pretraining_data(inputs, vocab, out, seq_len=128, shard_size_mb=shard_mb, num_workers=workers or None,
                           progress=False, runner=runner)
    seconds = time.perf_counter() - start
    done.set()
    print(json.dumps({"seconds": seconds, "driver_mb": high_water_mb(), "worker_mb": worker_mb[0]}))
"""


TOKENIZE_CHILD = """
import json, os, sys, time
from electra_keras.data import iter_lines
from electra_keras.data.tokenizer import WordPieceTokenizer

files, vocab = sys.argv[1].split(os.pathsep), sys.argv[2]
sentences = [line for path in files for line in iter_lines(path) if line]
start = time.perf_counter()
WordPieceTokenizer.from_directory(vocab).encode_arrays(sentences)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def run_child(source, work, name, args, python=None):
    """Run `source` as a script in a fresh process; returns the JSON of its last line of output."""
    import subprocess
    import sys

    script = os.path.join(work, f"{name}.py")
    with open(script, "w") as f:
        f.write(source)
    result = subprocess.run([python or sys.executable, script, *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def tokenize_in_child(files, vocab_dir, work):
    """Seconds to start our tokenizer and tokenize `files`' sentences with `encode_arrays` in a
    fresh process, as build-data's time counts them (the sentences read beforehand)."""
    return run_child(TOKENIZE_CHILD, work, "tokenize_child", [os.pathsep.join(files), vocab_dir])["seconds"]


def build_in_child(inputs, vocab_dir, out, workers, runner="local", python=None, start_method="auto", shard_mb=None):
    """build-data in a fresh process (its time, and the peak RSS of the driver and of one worker);
    workers 0 lets the runner decide (Beam); start_method "spawn" or "fork" overrides how the
    workers start; shard_mb None takes build-data's default shard size."""
    shutil.rmtree(out, ignore_errors=True)
    return run_child(BUILD_CHILD, os.path.dirname(out), f"build_child_{runner}",
                     [inputs, vocab_dir, out, str(workers), runner, start_method, str(shard_mb or "default")], python)


def beam_python(args):
    """The interpreter for the Beam row: --beam-python, or this one if it has Apache Beam, else None."""
    import importlib.util
    import sys

    if args.beam_python:
        return args.beam_python
    return sys.executable if importlib.util.find_spec("apache_beam") else None


def copies(sources, megabytes, directory):
    """A corpus of about `megabytes` MB: a directory of copies of the source files, each copy read
    as its source is (a plain-text file's format is found per file)."""
    os.makedirs(directory)
    size, copy = 0, 0
    while size < megabytes * 2**20:
        for source in sources:
            shutil.copy(source, os.path.join(directory, f"copy-{copy:04d}-{os.path.basename(source)}"))
            size += os.path.getsize(source)
        copy += 1
    return directory


def bench_end_to_end(args, work):
    import glob

    from electra_keras.data import build_vocab, iter_lines
    from electra_keras.data.tokenizer import WordPieceTokenizer

    files = sorted(glob.glob(os.path.join(args.data, "public_domain", "*.txt")))
    sentences = [line for path in files for line in iter_lines(path) if line]
    vocab_dir = os.path.join(work, "vocab")
    build_vocab(sentences, vocab_size=args.vocab_size).save(vocab_dir)
    tokenizer = WordPieceTokenizer.from_directory(vocab_dir)
    tokenizer.encode_batch(sentences[:1000] * 100)  # started, as a worker's tokenizer is once it runs
    text_mb = sum(map(os.path.getsize, files)) / 2**20
    raw = {"lists": text_mb / best_seconds(lambda: tokenizer.encode_batch(sentences), 3)[0],
           "arrays": text_mb / best_seconds(lambda: tokenizer.encode_arrays(sentences), 3)[0],
           "fresh": text_mb / min(tokenize_in_child(files, vocab_dir, work) for _ in range(3))}
    corpus = copies(files, text_mb, os.path.join(work, "public_domain"))
    four = copies(files, 4 * text_mb, os.path.join(work, "four"))
    big = copies(files, args.big_mb, os.path.join(work, "big"))
    runs = {"12 MB, 1 worker": (corpus, 1, "local"), "12 MB, 2 workers": (corpus, 2, "local"),
            "12 MB, 2 workers, 4 MB shards": (corpus, 2, "4 MB shards"),
            "12 MB, 1 worker, tokenizer models compiled": (corpus, 1, "compile")}
    python = beam_python(args)
    if python:
        runs["12 MB, Beam DirectRunner"] = (corpus, 0, "beam")
    small = copies(files, args.small_mb, os.path.join(work, "small"))
    runs.update({"4x, 1 worker": (four, 1, "local"), "4x, 2 workers": (four, 2, "local"),
                 "4x, 2 workers, spawned": (four, 2, "spawn"), f"{args.small_mb} MB, 2 workers": (small, 2, "local"),
                 f"{args.big_mb} MB, 1 worker": (big, 1, "local"), f"{args.big_mb} MB, 2 workers": (big, 2, "local"),
                 f"{args.big_mb} MB, 2 workers, spawned": (big, 2, "spawn")})
    if python:  # the Beam DirectRunner's memory as the input grows
        runs.update({f"{args.small_mb} MB, Beam DirectRunner": (small, 0, "beam"),
                     f"{args.big_mb} MB, Beam DirectRunner": (big, 0, "beam")})
    results = {}
    for name, (inputs, workers, how) in runs.items():
        runner, start_method = ("beam", "auto") if how == "beam" else ("local", "spawn" if how == "spawn" else "auto")
        size = sum(map(os.path.getsize, glob.glob(os.path.join(inputs, "*")))) / 2**20

        def build():
            if how == "compile":
                shutil.rmtree(os.environ["ELECTRA_KERAS_CACHE"], ignore_errors=True)
            return build_in_child(inputs, vocab_dir, os.path.join(work, "out"), workers, runner,
                                  python if runner == "beam" else None, start_method,
                                  4.0 if how == "4 MB shards" else None)

        # runs of seconds are taken 3 times, the fastest kept: the first of a session pays for cold caches
        tries = [build() for _ in range(3 if size < 100 else 1)]
        measured = min(tries, key=lambda r: r["seconds"])
        results[name] = dict(measured, mb=size, workers=workers,
                             driver_mb=max(r["driver_mb"] for r in tries), worker_mb=max(r["worker_mb"] for r in tries))
        print(name, results[name], flush=True)
    return dict(raw=raw, text_mb=text_mb, runs=results, big_mb=args.big_mb, beam=bool(python))


def build_table(result):
    runs, raw = result["runs"], result["raw"]
    lines = [f"build-data end to end (read, split, tokenize, pack, serialize, write; shards of the default size "
             f"(1 MB under 64 MB of input, 2 MB under 128 MB, else 4 MB) unless the run says, seq_len 128, "
             f"30,522 pieces) on {os.cpu_count()} cores, each run in a fresh process (its time includes starting "
             f"the tokenizer; under 100 MB the fastest of 3 runs, peak RSS the largest; workers forked unless the "
             f"run says spawned), {time.strftime('%Y-%m-%d')}. Raw tokenization of the 12 MB corpus's sentences: "
             f"{raw['lists']:.1f} MB/s with `encode_batch` (ids as lists) and {raw['arrays']:.1f} MB/s with "
             f"`encode_arrays` (ids as NumPy arrays, what build-data uses), tokenizer started; "
             f"{raw['fresh']:.1f} MB/s with `encode_arrays` in a fresh process, starting the tokenizer included "
             "(as build-data's time counts it).", "",
             "| run | MB | seconds | MB/s | end to end / `encode_batch` | end to end / `encode_arrays` | "
             "end to end / `encode_arrays` in a fresh process | peak RSS, driver (MB) | peak RSS, one worker (MB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        rate = r["mb"] / r["seconds"]
        worker = f"{r['worker_mb']:.0f}" if r["worker_mb"] else "-"
        lines.append(f"| {name} | {r['mb']:.0f} | {r['seconds']:.1f} | {rate:.2f} | {raw['lists'] / rate:.2f}x | "
                     f"{raw['arrays'] / rate:.2f}x | {raw['fresh'] / rate:.2f}x | {r['driver_mb']:.0f} | {worker} |")
    if not result["beam"]:
        lines += ["", "Beam DirectRunner: not measured (no Apache Beam here; pass --beam-python)."]
    big = f"{result['big_mb']} MB"

    def speedup(size, how=""):
        return runs[f"{size}, 1 worker"]["seconds"] / runs[f"{size}, 2 workers{how}"]["seconds"]

    cores = os.cpu_count() or 1
    big_two = runs[f"{big}, 2 workers"]
    per_core = big_two["mb"] / big_two["seconds"] / cores
    lines += ["", f"2 workers against 1: {speedup('4x'):.2f}x on {runs['4x, 1 worker']['mb']:.0f} MB and "
                  f"{speedup(big):.2f}x on {big_two['mb']:.0f} MB with forked workers; {speedup('4x', ', spawned'):.2f}x "
                  f"and {speedup(big, ', spawned'):.2f}x with spawned ones (each imports TensorFlow first). At "
                  f"{per_core:.2f} MB/s per core (2 workers on {cores} cores, {big_two['mb']:.0f} MB), 20 GB take "
                  f"{20 * 1024 / per_core / 3600:.1f} core-hours and 40 GB {40 * 1024 / per_core / 3600:.1f}."]
    return "\n".join(lines), speedup(big)


def plot_build(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = list(runs)
    left.barh(names, [r["mb"] / r["seconds"] for r in runs.values()])
    left.axvline(result["raw"]["lists"], color="k", linestyle="--", label="raw tokenization, `encode_batch`")
    left.axvline(result["raw"]["arrays"], color="k", linestyle=":", label="raw tokenization, `encode_arrays`")
    left.axvline(result["raw"]["fresh"], color="gray", linestyle="-.", label="`encode_arrays` in a fresh process")
    left.set(xlabel="MB of text per second", title="build-data end to end")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=7)
    right.barh(names, [max(r["driver_mb"], r["worker_mb"]) for r in runs.values()])
    right.set(xlabel="peak RSS of one process (MB)", title="memory")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def tokenizer_table(result):
    lines = [f"WordPiece tokenizers on the public-domain corpus: {result['sentences']:,} sentences, "
             f"{result['megabytes']:.1f} MB, uncased vocabulary of 30,522 learned from it, one process "
             f"({time.strftime('%Y-%m-%d')})", "", "| tokenizer | MB/s |", "|---|---|"]
    lines += [f"| {name} | {rate:.2f} |" for name, rate in result["rows"]]
    lines += ["", f"Texts on the exact path: {result['exact_rows']:,} of {result['sentences']:,} "
                  f"({result['exact_rows'] / result['sentences']:.3%}); ids of `encode_batch` equal to the exact "
                  f"path's and to BERT's on the sample: {'yes' if result['same_ids'] else 'NO'}"]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--presets", default="tiny,small")
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=4, help="copies in the combined corpus")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--tokenizers-only", action="store_true", help="only the tokenizer table")
    parser.add_argument("--build-only", action="store_true", help="only build-data end to end, scaling and memory")
    parser.add_argument("--reader", action="store_true",
                        help="only the per-corpus build, reader and training-step table (data_pipeline.md)")
    parser.add_argument("--beam-python", default=None,
                        help="a Python with the beam extra installed, for the Beam DirectRunner row")
    parser.add_argument("--small-mb", type=int, default=50)
    parser.add_argument("--big-mb", type=int, default=500)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    cores = os.cpu_count() or 1
    work = tempfile.mkdtemp(prefix="electra-bench-")
    # The tokenizer's compiled models are kept in a cache of the benchmark's own: the first
    # tokenizer compiles them, every run after it reads them, except the build-data run that
    # says "models compiled", which starts from an empty cache.
    os.environ["ELECTRA_KERAS_CACHE"] = os.path.join(work, "cache")
    rows, build_rows = [], []
    try:
        if not args.reader:
            if not args.build_only:
                tokenizers = tokenizer_table(bench_tokenizers(args.data, args.vocab_size, work))
                print(tokenizers)
                with open(os.path.join(args.out, "tokenizers.md"), "w") as f:
                    f.write(tokenizers + "\n")
            if not args.tokenizers_only:
                result = bench_end_to_end(args, work)
                table, _ = build_table(result)
                print(table)
                with open(os.path.join(args.out, "build_data.md"), "w") as f:
                    f.write(table + "\n")
                with open(os.path.join(args.out, "build_data.json"), "w") as f:
                    json.dump(result, f, indent=1)
                plot_build(result, os.path.join(args.out, "build_data.png"))
            return
        paths = {name: os.path.join(args.data, rel) for name, rel in CORPORA.items()}
        missing = [p for p in paths.values() if not os.path.exists(p)]
        if missing:
            raise SystemExit(f"{missing[0]} not found: pass --data with the shared corpora")
        # Worker processes take seconds to start; a larger input shows the steady-state scaling.
        combined = os.path.join(work, "combined.txt")
        with open(combined, "wb") as out:
            for _ in range(args.repeat):
                for name, path in paths.items():
                    if path.endswith(".txt"):
                        out.write(open(path, "rb").read() + b"\n\n")
        paths[f"sotu + moby_dick x{args.repeat} (txt)"] = combined
        for name, path in paths.items():
            size = megabytes(path)
            tokenizer, vocab_s = bench_vocab(path, args.vocab_size)
            timings = {}
            for workers in sorted({1, cores}):
                summary, seconds = bench_build(path, tokenizer, workers, args.seq_len, os.path.join(work, name))
                timings[workers] = seconds
            build_rows.append((name, size, summary["examples"], summary["padding_fraction"],
                               summary["unk_rate"], size / vocab_s, size / timings[1], size / timings[cores],
                               size / timings[cores] / cores))
            print(f"{name}: {size:.1f} MB, vocab {vocab_s:.1f} s, build 1 worker {timings[1]:.1f} s, "
                  f"{cores} workers {timings[cores]:.1f} s", flush=True)
        shard_dir = os.path.join(work, next(iter(n for n, *_ in build_rows)))
        read_rate = bench_reader(shard_dir, args.batch_size, args.seq_len)
        for preset in args.presets.split(","):
            consumed = bench_train_step(preset, shard_dir, args.vocab_size, args.batch_size, args.seq_len)
            rows.append((preset, consumed, read_rate, read_rate / consumed))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import keras

    lines = [
        f"build-data on {cores} cores, seq_len {args.seq_len}, vocab {args.vocab_size:,} (keras backend "
        f"{keras.backend.backend()}, {time.strftime('%Y-%m-%d')})",
        "",
        "| corpus | MB | examples | padding | UNK | vocab MB/s | build MB/s, 1 worker | build MB/s, "
        f"{cores} workers | MB/s per core |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {s:.1f} | {e:,} | {p:.1%} | {u:.3%} | {v:.2f} | {b1:.2f} | {bn:.2f} | {pc:.2f} |"
              for n, s, e, p, u, v, b1, bn, pc in build_rows]
    lines += ["", f"| model (batch {args.batch_size} x {args.seq_len}) | training consumes ex/s | "
                  "reader delivers ex/s | headroom |", "|---|---|---|---|"]
    lines += [f"| {p} | {c:,.0f} | {r:,.0f} | {h:,.0f}x |" for p, c, r, h in rows]
    table = "\n".join(lines)
    print(table)
    with open(os.path.join(args.out, "data_pipeline.md"), "w") as f:
        f.write(table + "\n")
    plot(build_rows, rows, cores, os.path.join(args.out, "data_pipeline.png"))


def plot(build_rows, rows, cores, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    names = [r[0].split(" ")[0] for r in build_rows]
    x = range(len(names))
    left.bar([i - 0.2 for i in x], [r[6] for r in build_rows], 0.4, label="1 worker")
    left.bar([i + 0.2 for i in x], [r[7] for r in build_rows], 0.4, label=f"{cores} workers")
    left.set_xticks(list(x), names)
    left.set_ylabel("MB of text per second")
    left.set_title("build-data throughput")
    left.legend()
    presets = [r[0] for r in rows]
    right.bar(presets, [r[1] for r in rows], label="training step consumes")
    right.axhline(rows[0][2] if rows else 0, color="k", linestyle="--", label="reader delivers")
    right.set_yscale("log")
    right.set_ylabel("examples per second")
    right.set_title("reader vs training")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
