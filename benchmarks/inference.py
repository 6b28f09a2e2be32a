"""Discriminator inference throughput: ours on each backend against Hugging Face's ElectraForPreTraining.

The ELECTRA-Small discriminator (encoder + replaced-token head, one logit per token) on packed
sequences of 128 tokens, at batch 1 (latency) and batch 32 (throughput), in float32 and
bfloat16. Each backend is called every way a user would call it, and the table names the
fastest way:

- ours: `ElectraPretrainer(config).discriminator` (the Keras model fine-tuning and export start
  from) under the float32 or mixed_bfloat16 policy, through `predict_on_batch` and through a
  compiled call of the model: `tf.function` (with and without XLA) on TensorFlow, `jax.jit` of
  `stateless_call` on JAX, the model itself under `torch.inference_mode` (eager) on PyTorch;
- hf: `transformers.ElectraForPreTraining` at the same sizes under `torch.inference_mode`:
  float32, `torch.autocast("cpu", torch.bfloat16)` and the model cast to bfloat16 outright, each
  eager and under `torch.compile`.

Every call includes bringing the logits to the host as a NumPy array. Each configuration runs
in its own process with a timeout; a failed one is a row with its error.

    python benchmarks/inference.py
    python benchmarks/inference.py --only ours --backends jax --precisions float32 --seconds 1

Results: benchmarks/results/inference.{md,json,png} (--out, --name).
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pretrain_step import (  # noqa: E402  (the shared harness)
    BACKEND_NAMES,
    BACKENDS,
    PRECISION_NAMES,
    PRECISIONS,
    RESULT_TAG,
    ROOT,
    add_run_flags,
    config_fields,
    hf_config,
    load_range,
    machine,
    make_config,
    packed_batches,
    peak_rss_mb,
    run_in_subprocess,
    source_version,
    split,
    worker_env,
)

KINDS = ("ours", "hf")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument("--only", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="our backends to run")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="float32, mixed_bfloat16")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed calls per way and batch size, at least")
    parser.add_argument("--min-calls", type=int, default=5)
    add_run_flags(parser, name="inference", timeout=1200, unit="way")
    return parser.parse_args(argv)


def time_calls(fn, seconds, min_calls, warmup=2):
    """Median seconds per call of `fn` after `warmup` calls (compilation happens there)."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < min_calls or (time.perf_counter() - start < seconds and len(times) < 2000):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times)


# ---- ours ----------------------------------------------------------------------------------------


def ours_ways(model):
    """{name: function of a batch dict -> NumPy logits}: the ways to run a Keras model here."""
    import keras
    import numpy as np

    backend = keras.backend.backend()
    ways = {"predict_on_batch": lambda x: model.predict_on_batch(x)}
    if backend == "tensorflow":
        import tensorflow as tf

        graph = tf.function(lambda x: model(x, training=False))
        xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
        ways["tf.function"] = lambda x: graph(x).numpy()
        ways["tf.function(jit_compile=True)"] = lambda x: xla(x).numpy()
    elif backend == "jax":
        import jax

        call = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
        state = []  # read when first called: predict_on_batch, measured before, replaces the arrays

        def jitted(x):
            if not state:
                state.extend([[v.value for v in model.trainable_variables],
                              [v.value for v in model.non_trainable_variables]])
            return np.asarray(call(*state, x))

        ways["jax.jit(stateless_call)"] = jitted
    else:
        import torch

        def eager(x):
            with torch.inference_mode():
                return keras.ops.convert_to_numpy(model(x, training=False))

        ways["model(x) under torch.inference_mode"] = eager
    return ways


def run_ours(spec):
    import keras

    from electra_keras.config import ElectraConfig
    from electra_keras.models import ElectraPretrainer

    config = ElectraConfig.from_dict(spec["config"])
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(spec["precision"])
    model = ElectraPretrainer(config, seed=0).discriminator
    backend = keras.backend.backend()
    inputs = {}
    for batch in spec["batch_sizes"]:
        data = packed_batches(config, batch, spec["seq_len"], num_batches=1)
        inputs[batch] = {k: keras.ops.convert_to_tensor(v) for k, v in data.items()}
    results = measure(ours_ways(model), inputs, spec)
    versions = {"keras": keras.__version__, backend: __import__(backend).__version__}
    return {"measurements": results, "peak_rss_mb": peak_rss_mb(), "versions": versions}


def measure(ways, inputs, spec):
    results = []
    for way, fn in ways.items():
        for batch, x in inputs.items():
            try:
                seconds, calls = time_calls(lambda: fn(x), spec["seconds"], spec["min_calls"])
                results.append({"way": way, "batch_size": batch, "ms_per_call": 1000 * seconds, "calls": calls,
                                "sequences_per_second": batch / seconds})
            except Exception as error:  # one way failing leaves the others' numbers
                results.append({"way": way, "batch_size": batch, "error": f"{type(error).__name__}: {error}"[:300]})
    return results


# ---- the Hugging Face peer -----------------------------------------------------------------------


def run_hf(spec):
    import numpy as np
    import torch
    import transformers
    from transformers import ElectraForPreTraining

    config = types.SimpleNamespace(**spec["config"])
    torch.manual_seed(0)
    model = ElectraForPreTraining(hf_config(config, spec["discriminator_sizes"])).eval()
    inputs = {}
    for batch in spec["batch_sizes"]:
        data = packed_batches(config, batch, spec["seq_len"], num_batches=1)
        inputs[batch] = {k: torch.from_numpy(v.astype(np.int64)) for k, v in data.items()}
    bf16 = spec["precision"] == "mixed_bfloat16"

    def way(module, autocast):
        def call(x):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                logits = module(input_ids=x["token_ids"], token_type_ids=x["segment_ids"],
                                attention_mask=x["padding_mask"]).logits
                return logits.float().numpy()

        return call

    if bf16:
        cast = ElectraForPreTraining(hf_config(config, spec["discriminator_sizes"])).eval()
        cast.load_state_dict(model.state_dict())
        cast = cast.to(torch.bfloat16)
        ways = {"autocast(bfloat16)": way(model, True), "torch.compile, autocast(bfloat16)": way(torch.compile(model), True),
                "model.to(bfloat16)": way(cast, False), "torch.compile, model.to(bfloat16)": way(torch.compile(cast), False)}
    else:
        ways = {"eager": way(model, False), "torch.compile": way(torch.compile(model), False)}
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    return {"measurements": measure(ways, inputs, spec), "peak_rss_mb": peak_rss_mb(),
            "torch_threads": torch.get_num_threads(), "versions": versions}


# ---- the driver ----------------------------------------------------------------------------------


def worker(spec_json):
    sys.path.insert(0, ROOT)  # measure the electra_keras beside this script, whatever is installed
    spec = json.loads(spec_json)
    result = {"ours": run_ours, "hf": run_hf}[spec["kind"]](spec)
    print(RESULT_TAG + json.dumps(result), flush=True)


def jobs_from_args(args, config):
    common = dict(seq_len=args.seq_len, batch_sizes=[int(b) for b in split(args.batch_sizes)], seconds=args.seconds,
                  min_calls=args.min_calls, **config_fields(config, args.seq_len))
    only, precisions = split(args.only), split(args.precisions)
    unknown = sorted(set(only) - set(KINDS)) + sorted(set(precisions) - set(PRECISIONS))
    unknown += sorted(set(split(args.backends)) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"unknown value(s) {unknown}: expected kinds {KINDS}, backends {BACKENDS}, "
                         f"precisions {PRECISIONS}")
    jobs = []
    for precision in precisions:
        if "hf" in only:
            jobs.append(dict(common, kind="hf", precision=precision, label="HF ElectraForPreTraining (PyTorch)"))
        if "ours" in only:
            jobs += [dict(common, kind="ours", backend=b, precision=precision, label=f"ours, {BACKEND_NAMES[b]}")
                     for b in split(args.backends)]
    return jobs


def merge_rounds(result):
    """Per (way, batch size), the fastest measurement of any round; an error only if every round failed."""
    ok = [r for r in result["rounds"] if "error" not in r]
    if not ok:
        result.update({k: v for k, v in result["rounds"][-1].items() if k != "measurements"})
        return
    merged = {}
    for r in ok:
        for m in r["measurements"]:
            key = (m["way"], m["batch_size"])
            if key not in merged or "error" in merged[key] or (
                    "error" not in m and m["ms_per_call"] < merged[key]["ms_per_call"]):
                merged[key] = m
    result.update({k: v for k, v in ok[0].items() if k != "measurements"}, measurements=list(merged.values()))
    result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    result["load_average"] = [x for r in result["rounds"] for x in r.get("load_average", [])]


def best_by_batch(result):
    """{batch size: the fastest measurement}"""
    best = {}
    for m in result.get("measurements", []):
        if "error" not in m and m["sequences_per_second"] > best.get(m["batch_size"], {}).get("sequences_per_second", 0):
            best[m["batch_size"]] = m
    return best


def tables(results, batch_sizes):
    head = "| configuration | precision | " + " | ".join(
        f"batch {b}: sequences/s (ms/call) | fastest way at {b} | x HF at {b}" for b in batch_sizes) + " | peak RSS (GB) |"
    lines = [head, "|---|---|" + "---|---|---|" * len(batch_sizes) + "---|"]
    hf_best = {r["precision"]: best_by_batch(r) for r in results if r["kind"] == "hf"}
    for r in results:
        precision = PRECISION_NAMES[r["precision"]]
        if "error" in r:
            lines.append(f"| {r['label']} | {precision} | failed: {r['error'].replace('|', '/')} |")
            continue
        best, cells = best_by_batch(r), []
        for b in batch_sizes:
            m = best.get(b)
            peer = hf_best.get(r["precision"], {}).get(b)
            if m is None:
                cells.append("failed | | ")
                continue
            ratio = f"{m['sequences_per_second'] / peer['sequences_per_second']:.2f}" if peer else "n/a"
            cells.append(f"{m['sequences_per_second']:,.1f} ({m['ms_per_call']:.1f}) | {m['way']} | {ratio}")
        lines.append(f"| {r['label']} | {precision} | " + " | ".join(cells) + f" | {r['peak_rss_mb'] / 1024:.2f} |")

    every = ["| configuration | precision | way | batch | ms/call | sequences/s | calls timed |", "|---|---|---|---|---|---|---|"]
    for r in results:
        for m in r.get("measurements", []):
            if "error" in m:
                every.append(f"| {r['label']} | {PRECISION_NAMES[r['precision']]} | {m['way']} | {m['batch_size']} | "
                             f"failed: {m['error'].replace('|', '/')} | | |")
            else:
                every.append(f"| {r['label']} | {PRECISION_NAMES[r['precision']]} | {m['way']} | {m['batch_size']} | "
                             f"{m['ms_per_call']:.1f} | {m['sequences_per_second']:,.1f} | {m['calls']} |")
    return lines, every


def plot(results, batch_sizes, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if "error" not in r]
    fig, axes = plt.subplots(1, len(batch_sizes), figsize=(6 * len(batch_sizes), 0.45 * len(rows) + 1.6), squeeze=False)
    for ax, b in zip(axes[0], batch_sizes):
        labels, values, colors, hatches = [], [], [], []
        for r in rows:
            m = best_by_batch(r).get(b)
            labels.append(f"{r['label']}, {PRECISION_NAMES[r['precision']]}")
            values.append(m["sequences_per_second"] if m else 0.0)
            colors.append("tab:orange" if r["kind"] == "hf" else "tab:blue")
            hatches.append("//" if r["precision"] == "mixed_bfloat16" else None)
        y = list(range(len(rows)))[::-1]
        bars = ax.barh(y, values, color=colors)
        for bar, value, hatch, r in zip(bars, values, hatches, rows):
            bar.set_hatch(hatch)
            m = best_by_batch(r).get(b)
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {value:,.1f}" + (f" ({m['way']})" if m else " failed"), va="center", fontsize=7)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlim(0, 1.6 * max(values + [1e-9]))
        ax.set_xlabel(f"sequences/s at batch {b} x 128 (higher is better)")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    args = parse_args()
    if args.worker:
        return worker(args.worker)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, ROOT)
    config = make_config(args.preset, args.vocab_size, args.seq_len)
    jobs = jobs_from_args(args, config)
    batch_sizes = jobs[0]["batch_sizes"] if jobs else []
    started, source = datetime.datetime.now(), source_version()
    results = [dict({k: v for k, v in job.items() if k not in ("config", "generator_sizes")}, rounds=[])
               for job in jobs]
    for r in range(args.rounds):
        for i in (range(len(jobs)) if r % 2 == 0 else reversed(range(len(jobs)))):
            job = jobs[i]
            print(f"[round {r + 1}/{args.rounds}] {job['label']}, {job['precision']}", flush=True)
            result = run_in_subprocess(os.path.abspath(__file__), job, args.timeout, worker_env(args, job))
            for m in result.get("measurements", []):
                shown = m.get("error") or f"{m['sequences_per_second']:,.1f} sequences/s ({m['ms_per_call']:.1f} ms)"
                print(f"    {m['way']}, batch {m['batch_size']}: {shown}", flush=True)
            if "error" in result:
                print(f"    failed: {result['error']}", flush=True)
            results[i]["rounds"].append(result)
    for r in results:
        merge_rounds(r)

    os.makedirs(args.out, exist_ok=True)
    command = "python benchmarks/inference.py " + " ".join(sys.argv[1:])
    best, every = tables(results, batch_sizes)
    md = [f"`{command.strip()}` ({started:%Y-%m-%d}; {machine()}, shared with other jobs: 1-minute load average "
          f"{load_range(results)} during the run; OMP_WAIT_POLICY={args.omp_wait_policy}; electra_keras at {source}): "
          f"the ELECTRA-{args.preset} "
          f"discriminator (encoder + replaced-token head) on packed sequences of {args.seq_len} tokens; median time "
          f"of a call (logits back on the host as NumPy) over at least {args.seconds:g} s after 2 warm-up calls" + (f", fastest of {args.rounds} rounds" if args.rounds > 1 else "") + ". "
          "Each row shows its fastest way of calling the model; every way measured is in the second table. "
          "x HF: sequences/s over the fastest HF way of the same precision.", "", *best, "",
          "Every way measured:", "", *every]
    md_text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(md_text)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump({"command": command.strip(), "date": f"{started:%Y-%m-%d %H:%M}", "machine": machine(),
                   "electra_keras": source, "omp_wait_policy": args.omp_wait_policy,
                   "config": config.to_dict(), "seq_len": args.seq_len, "results": results}, f, indent=1)
    plot(results, batch_sizes, os.path.join(args.out, f"{args.name}.png"),
         f"ELECTRA-{args.preset} discriminator inference, sequences of {args.seq_len}, {machine()}\n"
         "blue: ours, orange: HF transformers; hatched: bfloat16; each bar its fastest way of calling the model")
    print(md_text)


if __name__ == "__main__":
    main()
