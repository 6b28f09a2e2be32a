"""Which part of a pretrained encoder helps or hurts fine-tuning with few labels?

Takes a pretrained backbone and the randomly initialised backbone of the same config and
vocabulary (both from an `electra_vs_mlm.py` work directory) and fine-tunes four encoders with
the same settings and seeds:

- random: every weight from the random initialisation;
- pretrained: every weight from pretraining;
- token table only: the random encoder with the pretrained token-embedding table;
- all but the token table: the pretrained encoder with the random token-embedding table.

Each run scores the dev set after every epoch, so the report also shows how fast each encoder
fits its labels (training loss) against how well it generalises (dev accuracy).

    python benchmarks/transfer_parts.py --work ~/.cache/electra_keras/electra_vs_mlm_in_domain_10k \
        --step 10000 [--train-size 1000] [--seeds 3]

Writes benchmarks/results/<--name>.{md,json,png}.
"""

import argparse
import csv
import datetime
import json
import math
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import electra_vs_mlm  # noqa: E402

VARIANTS = {  # name: which weights come from the pretrained encoder (the rest from the random one)
    "random": lambda path: False,
    "pretrained": lambda path: True,
    "token table only": lambda path: is_token_table(path),
    "all but the token table": lambda path: not is_token_table(path),
}


def is_token_table(path):
    return path.startswith("embeddings/token_embedding/")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="an electra_vs_mlm.py work directory")
    parser.add_argument("--objective", default="electra", choices=("electra", "mlm"))
    parser.add_argument("--step", type=int, required=True, help="the pretraining snapshot to take apart")
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--min-finetune-steps", type=int, default=200)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default="transfer_parts")
    return parser.parse_args(argv)


def mix(pretrained, random, take):
    """`random` with every weight whose path `take` accepts copied from `pretrained` (in place)."""
    for a, b in zip(pretrained.weights, random.weights):
        if a.path != b.path or tuple(a.shape) != tuple(b.shape):
            raise ValueError(f"the two encoders differ: {a.path} {tuple(a.shape)} vs {b.path} {tuple(b.shape)}")
        if take(a.path):
            b.assign(a.value)
    return random


def build_variants(args):
    from electra_keras.convert import native
    from electra_keras.convert.common import Converted

    pretrained_dir = electra_vs_mlm.snapshot_dir(os.path.join(args.work, "pretraining", args.objective), args.step)
    random_dir = electra_vs_mlm.snapshot_dir(os.path.join(args.work, "pretraining", "random"), 0)
    paths = {}
    for name, take in VARIANTS.items():
        path = os.path.join(args.work, "transfer_parts", f"{args.objective}-{args.step}", name.replace(" ", "_"))
        if not os.path.exists(os.path.join(path, "backbone.keras")):
            pretrained, random = native.load_model_directory(pretrained_dir), native.load_model_directory(random_dir)
            mixed = mix(pretrained.model, random.model, take)
            native.save_model_directory(Converted(mixed, random.tokenizer, random.config, "backbone"), path)
        paths[name] = path
    return paths


def finetune_all(args, paths):
    """{variant: [per-seed list of history rows]}, each row {epoch, train_loss, accuracy}."""
    from electra_keras.finetuning import finetune

    spec, data_dir = electra_vs_mlm.task_spec("rotten_tomatoes", args.data)
    epochs = max(2, math.ceil(args.min_finetune_steps * 32 / args.train_size))
    histories = {}
    for name, path in paths.items():
        histories[name] = []
        for seed in range(args.seeds):
            run_dir, _ = finetune(
                path, spec, data_dir, output_dir=os.path.join(os.path.dirname(path), "finetuning"),
                run_name=f"{os.path.basename(path)}-{seed}", overwrite=True, verbose=0, eval_every_epoch=True,
                epochs=epochs, learning_rate=args.learning_rate, max_seq_len=64, seed=seed,
                max_train_examples=args.train_size)
            with open(os.path.join(run_dir, "history.csv")) as f:
                rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
            histories[name].append(rows)
            print(f"{name:24s} seed {seed}: dev accuracy {rows[-1]['accuracy']:.4f}", flush=True)
    return histories


def summarize(histories):
    """{variant: {"final": (mean, sd), "epochs": [(mean train loss, mean dev accuracy) per epoch]}}"""
    table = {}
    for name, runs in histories.items():
        finals = [100 * run[-1]["accuracy"] for run in runs]
        per_epoch = [(statistics.mean(run[e]["train_loss"] for run in runs),
                      statistics.mean(100 * run[e]["accuracy"] for run in runs)) for e in range(len(runs[0]))]
        table[name] = {"final": (statistics.mean(finals), statistics.stdev(finals) if len(finals) > 1 else 0.0),
                       "epochs": per_epoch}
    return table


def write_report(args, table, command):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.name)
    epochs = len(next(iter(table.values()))["epochs"])
    lines = [f"`{command}` ({datetime.date.today()}): Rotten Tomatoes, {args.train_size} training examples, "
             f"fine-tuned on [CLS] at lr {args.learning_rate:g} for {epochs} epochs, {args.seeds} seeds; the "
             f"{args.objective} encoder after {args.step} steps taken apart against its random initialisation.",
             "", "| encoder | dev accuracy (mean ± sd) | " + " | ".join(f"epoch {e + 1}: loss / acc" for e in range(epochs))
             + " |", "|---|---|" + "---|" * epochs]
    for name, row in table.items():
        mean, sd = row["final"]
        lines.append(f"| {name} | {mean:.1f} ± {sd:.1f} | "
                     + " | ".join(f"{loss:.3f} / {acc:.1f}" for loss, acc in row["epochs"]) + " |")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(stem + ".json", "w") as f:
        json.dump({"command": command, "table": table}, f, indent=1)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, row in table.items():
        xs = range(1, epochs + 1)
        left.plot(xs, [loss for loss, _ in row["epochs"]], marker="o", label=name)
        right.plot(xs, [acc for _, acc in row["epochs"]], marker="o", label=name)
    left.set(xlabel="epoch", ylabel="training loss", title="fitting the labels")
    right.set(xlabel="epoch", ylabel="dev accuracy (%)", title="generalising")
    right.legend()
    fig.tight_layout()
    fig.savefig(stem + ".png", dpi=110)
    print("\n".join(lines))
    return stem


def main():
    args = parse_args()
    args.work = os.path.expanduser(args.work)
    command = "python benchmarks/transfer_parts.py " + " ".join(sys.argv[1:])
    histories = finetune_all(args, build_variants(args))
    write_report(args, summarize(histories), command)


if __name__ == "__main__":
    main()
