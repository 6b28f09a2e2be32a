"""Deployment formats side by side: size on disk, single-example latency and agreement with Keras.

    python benchmarks/export.py --model saved_models/<run> [--model saved_models/<finetuned run>]
                                [--seq-len 128] [--repeats 200] [--texts FILE]

For each model (a pretraining run's discriminator, or a fine-tuned classifier) it exports
SavedModel, TFLite float32 / float16 / int8 and ONNX, then times one example (batch 1,
`--seq-len` tokens) through Keras (`predict_on_batch`), `tf.saved_model.load`, the LiteRT
interpreter and onnxruntime on this CPU: the median of `--repeats` calls after warm-up. On
real sentences (`--texts`, default ../shared/data/rotten_tomatoes/dev.tsv; for a discriminator
with 15% of the words swapped for random ones) it reports how far
each format's outputs are from Keras's and how often its decision agrees (replaced or not per
token; the class for a classifier). Writes benchmarks/results/export.{md,png}.
"""

import argparse
import csv
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"  # the exports are traced and served with TensorFlow
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(os.path.expanduser("~"), ".cache", "electra_keras", "electra_vs_mlm", "pretraining",
                             "electra")
FORMATS = [("saved_model", "none"), ("tflite", "none"), ("tflite", "float16"), ("tflite", "int8"), ("onnx", "none")]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="a run directory (repeatable)")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--texts", default=os.path.join(HERE, "..", "..", "shared", "data", "rotten_tomatoes", "dev.tsv"))
    parser.add_argument("--num-texts", type=int, default=200)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    return parser.parse_args()


def size_mb(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files) / 1e6
    return os.path.getsize(path) / 1e6


def median_ms(call, repeats):
    for _ in range(10):  # warm-up: tracing, allocation, caches
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def runners(path, fmt, output):
    """A function batch -> the named output (numpy), running the exported model."""
    import numpy as np

    if fmt == "saved_model":
        import tensorflow as tf

        signature = tf.saved_model.load(path).signatures["serving_default"]
        return lambda batch: signature(**{k: tf.constant(v) for k, v in batch.items()})[output].numpy()
    if fmt == "tflite":
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=path).get_signature_runner()

        def run(batch):  # the TFLite model takes one example at a time
            rows = [runner(**{k: v[i : i + 1] for k, v in batch.items()})[output] for i in range(len(batch["token_ids"]))]
            return np.concatenate(rows)

        return run
    import onnxruntime

    session = onnxruntime.InferenceSession(path)
    return lambda batch: session.run([output], dict(batch))[0]


def read_texts(path, limit):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows[:limit]]


def bench_model(model_dir, args, texts):
    import numpy as np

    from electra_keras.export import export, load_served
    from electra_keras.export.electra_tokenizer import Tokenizer

    served = load_served(model_dir)
    output = next(iter(served.outputs))
    tokenizer = Tokenizer.from_directory(os.path.join(model_dir))
    one = tokenizer([texts[0]], seq_len=args.seq_len)
    real = tokenizer(texts, seq_len=args.seq_len)
    mask = real["padding_mask"].astype(bool)
    if served.kind == "discriminator":  # replace 15% of the words at random, as a generator would
        rng = np.random.default_rng(0)
        words = mask & (real["token_ids"] > max(tokenizer.cls, tokenizer.sep))
        swap = words & (rng.random(mask.shape) < 0.15)
        real["token_ids"] = np.where(swap, rng.integers(1000, len(tokenizer.tokens), mask.shape),
                                     real["token_ids"]).astype("int32")

    def decisions(values):
        return values[mask] > 0.5 if served.kind == "discriminator" else values.argmax(-1)

    keras_file = os.path.join(model_dir, "finetuned.keras" if served.kind != "discriminator" else "discriminator.keras")
    expected = served.model.predict_on_batch(real)[output]
    rows = [{"model": served.kind, "format": "keras", "size_mb": size_mb(keras_file),
             "latency_ms": median_ms(lambda: served.model.predict_on_batch(one), args.repeats),
             "max_diff": 0.0, "agreement": 1.0}]
    for fmt, quantize in FORMATS:
        path = export(model_dir, fmt, quantize=quantize, seq_len=args.seq_len)
        run = runners(path, fmt, output)
        got = run(real)
        diff = np.abs(got[mask] - expected[mask]) if served.kind == "discriminator" else np.abs(got - expected)
        rows.append({"model": served.kind, "format": fmt if fmt != "tflite" else f"tflite {quantize if quantize != 'none' else 'float32'}",
                     "size_mb": size_mb(path), "latency_ms": median_ms(lambda: run(one), args.repeats),
                     "max_diff": float(diff.max()),
                     "agreement": float(np.mean(decisions(got) == decisions(expected)))})
        print(rows[-1], flush=True)
    positive = float(np.mean(decisions(expected))) if served.kind == "discriminator" else None
    return rows, positive


def main():
    args = parse_args()
    models = args.model or [DEFAULT_MODEL]
    if not os.path.exists(args.texts):
        sys.exit(f"{args.texts}: no such file (give --texts, a TSV with a `sentence` column)")
    texts = read_texts(args.texts, args.num_texts)
    rows, notes = [], []
    for model_dir in models:
        model_rows, positive = bench_model(model_dir, args, texts)
        rows += model_rows
        if positive is not None:
            notes.append(f"The discriminator's input has 15% of its words replaced at random; Keras calls "
                         f"{positive:.1%} of the tokens replaced.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tensorflow as tf

    lines = [f"`python benchmarks/export.py {' '.join(sys.argv[1:])}`: batch 1 x {args.seq_len} tokens, "
             f"median of {args.repeats} calls; {len(texts)} real sentences for the agreement; "
             f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores.", "",
             "| model | format | size (MB) | latency (ms) | max abs diff vs Keras | decisions agreeing |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['format']} | {r['size_mb']:.2f} | {r['latency_ms']:.2f} | "
                     f"{r['max_diff']:.1e} | {100 * r['agreement']:.2f}% |")
    md = "\n".join(lines + [""] + notes + [""])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "export.md"), "w") as f:
        f.write(md)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    labels = [f"{r['model']}\n{r['format']}" for r in rows]
    for ax, key, title in ((axes[0], "latency_ms", "single-example latency (ms)"), (axes[1], "size_mb", "size on disk (MB)")):
        ax.barh(labels, [r[key] for r in rows], color="tab:blue")
        ax.set_title(title)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "export.png"), dpi=90)
    print(md)


if __name__ == "__main__":
    main()
