"""The sweep that chose the tiny recipe: which settings let a 3-minute run's discriminator learn.

Each candidate is the default recipe (`recipes/tiny.toml`) with a few fields overridden,
trained on the default corpus with the discriminator probe on (`electra_keras.probe`). The
table reports, at the end of each run, the held-out AUC against random replacements and
against the generator's samples, the lowest random-replacement AUC after warmup (a collapse
shows there), the training batches' discriminator recall, and the generator's MLM accuracy.
Beside them, `frequency_checks`: how much of each AUC word-piece frequency alone gives, and
the discriminator's AUC when the replacements are drawn by frequency, which only context
can tell apart.

    python benchmarks/tiny_recipe_sweep.py [--only NAME ...] [--steps N] [--extra NAME=OVERRIDES]
    python benchmarks/tiny_recipe_sweep.py --report     # the table of every finished run

Runs go to ~/.cache/electra_keras/tiny_sweep/<name>/; a finished run is not repeated.
Results: benchmarks/results/tiny_recipe_sweep.{md,json,png}.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Every candidate: the same length of run and the same logging, so only the named fields differ.
# The vocabulary the recipe had when these candidates ran (the default is now 16,000 pieces).
BASE = ["train.steps=800", "train.log_every=50", "train.checkpoint_every=800", "train.warmup_steps=80",
        "train.probe_examples=128", "data.vocab_size=8000"]
# name: overrides of BASE. "before" is the recipe as it was before this sweep, run for as long.
CANDIDATES = {
    "before": ["train.learning_rate=2e-3", "train.warmup_steps=30", "model.generator_hidden_fraction=0.25"],
    "lr1e-3": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25"],
    "lr5e-4": ["train.learning_rate=5e-4", "model.generator_hidden_fraction=0.25"],
    "lr1e-3_gen1/8": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.125"],
    "lr1e-3_mask0.25": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25", "model.mask_prob=0.25"],
    "lr1e-3_nodrop": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25", "model.dropout=0.0"],
    "lr1e-3_temp2": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25", "model.temperature=2.0"],
    "lr1e-3_temp3": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25", "model.temperature=3.0"],
    "lr2e-3_temp2": ["train.learning_rate=2e-3", "model.generator_hidden_fraction=0.25", "model.temperature=2.0"],
    "lr1e-3_temp3_nodrop": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25",
                            "model.temperature=3.0", "model.dropout=0.0"],
    # Gradient-disentangled embedding sharing against the row it modifies, at equal steps.
    "lr1e-3_temp2_gdes": ["train.learning_rate=1e-3", "model.generator_hidden_fraction=0.25",
                          "model.temperature=2.0", "model.weight_sharing=gdes"],
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="candidate names (default: all)")
    parser.add_argument("--extra", nargs="*", default=[], metavar="NAME=OVERRIDE;OVERRIDE",
                        help="more candidates, e.g. 'lr2e-3=train.learning_rate=2e-3'")
    parser.add_argument("--report", action="store_true",
                        help="train nothing: rewrite the table from every finished run under --work")
    parser.add_argument("--steps", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--parallel", type=int, default=1,
                        help="runs at a time (their minutes then count the sharing)")
    parser.add_argument("--work", default=os.path.join(os.path.expanduser("~"), ".cache", "electra_keras", "tiny_sweep"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    return parser.parse_args()


def record_path(name, args):
    return os.path.join(args.work, name.replace("/", "_"), "sweep.json")


def launch(name, overrides, args):
    """Start training one candidate in a fresh process (Keras keeps global state)."""
    overrides = BASE + overrides
    if args.steps:
        overrides = overrides + [f"train.steps={args.steps}", f"train.checkpoint_every={args.steps}"]
    command = [sys.executable, "-m", "electra_keras_cli", "pretrain", "--output-dir", args.work,
               "--run-name", name.replace("/", "_"), "--overwrite", "--no-demo"]
    for item in overrides:
        command += ["--set", item]
    print(f"== {name}: {' '.join(overrides)}", flush=True)
    return subprocess.Popen(command), overrides, time.perf_counter()


def collect(name, overrides, start, args):
    """The record of a finished candidate's run, written beside it."""
    from electra_keras.training import read_metrics

    run_dir = os.path.join(args.work, name.replace("/", "_"))
    rows = read_metrics(os.path.join(run_dir, "metrics.csv"))
    with open(os.path.join(run_dir, "recipe.json")) as f:
        warmup = json.load(f)["train"]["warmup_steps"]
    last = rows[-1]
    record = {
        "name": name, "overrides": overrides, "seconds": time.perf_counter() - start, "steps": last["step"],
        "eval_auc_random": last["eval_auc_random"], "eval_auc_generator": last["eval_auc_generator"],
        "min_eval_auc_random_after_warmup": min(r["eval_auc_random"] for r in rows if r["step"] > warmup),
        "disc_recall": last["disc_recall"], "disc_precision": last["disc_precision"],
        "disc_auc": last["disc_auc"], "mlm_accuracy": last["mlm_accuracy"],
        "curve": [(r["step"], r["eval_auc_random"], r["eval_auc_generator"]) for r in rows],
    }
    record.update(frequency_checks(run_dir))
    with open(record_path(name, args), "w") as f:
        json.dump(record, f)
    return record


def frequency_checks(run_dir):
    """How much of the probe's AUCs word-piece frequency alone explains, and the AUC without it.

    It rebuilds the run's probe from its saved pretrainer (the same shard, positions, random ids
    and generator samples) and returns `eval_auc_frequency` (replacements drawn by frequency,
    as runs now log it) and `rarity_auc_{random,generator,frequency}`: the AUC of a detector
    that knows no context and scores each token by its rarity in the training shards,
    -log(count + 1). Uniformly random pieces are mostly rare ones, the more so in a larger
    vocabulary: that part of `eval_auc_random` needs no context.
    """
    import keras
    import numpy as np

    import electra_keras.models  # noqa: F401 (registers the classes the saved pretrainer names)
    from electra_keras.data.pretraining import list_shards
    from electra_keras.probe import detection_auc
    from electra_keras.recipes import recipe_from_dict
    from electra_keras.training import held_out_per_shard, make_probe, prepare_data, token_counts

    with open(os.path.join(run_dir, "recipe.json")) as f:
        recipe = recipe_from_dict(json.load(f))
    shard_dir, tokenizer, _ = prepare_data(recipe.data, seed=recipe.train.seed, verbose=False, build=False)
    files = list_shards(shard_dir)
    pretrainer = keras.saving.load_model(os.path.join(run_dir, "pretrainer.keras"), compile=False)
    counts = token_counts(files, len(tokenizer), recipe.data.seq_len,
                          skip_examples=held_out_per_shard(len(files), recipe.train.probe_examples))
    probe = make_probe(files, pretrainer.config, tokenizer, recipe.train.probe_examples,
                       recipe.data.seq_len, seed=recipe.train.seed, counts=counts)
    s = probe.probe_set
    generated, generated_labels = probe.generator_samples(pretrainer)
    rarity = lambda ids: -np.log(counts[ids] + 1.0)  # noqa: E731
    return {
        "eval_auc_frequency": probe(pretrainer)["eval_auc_frequency"],
        "rarity_auc_random": detection_auc(rarity(s.random_ids), s.random_labels, s.scored),
        "rarity_auc_generator": detection_auc(rarity(generated), generated_labels, s.scored),
        "rarity_auc_frequency": detection_auc(rarity(s.frequency_ids), s.frequency_labels, s.scored),
    }


def run_all(names, candidates, args):
    """Every candidate once, `args.parallel` at a time; finished ones are read back."""
    pending = [n for n in names if not os.path.exists(record_path(n, args))]
    running = {}
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            running[name] = launch(name, candidates[name], args)
        time.sleep(2)
        for name, (process, overrides, start) in list(running.items()):
            if process.poll() is not None:
                del running[name]
                if process.returncode:
                    raise SystemExit(f"{name}: pretrain exited with {process.returncode}")
                collect(name, overrides, start, args)
    return [read_record(name, args) for name in names]


def read_record(name, args):
    """A finished candidate's record, its frequency checks added if it predates them."""
    with open(record_path(name, args)) as f:
        record = json.load(f)
    if "eval_auc_frequency" not in record:
        record.update(frequency_checks(os.path.dirname(record_path(name, args))))
        with open(record_path(name, args), "w") as f:
            json.dump(record, f)
    return record


def finished_names(args):
    """Every finished run under --work: those of the last report in its order, then the rest."""
    done = {os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(args.work, "*", "sweep.json"))}
    names = []
    report = os.path.join(args.out, "tiny_recipe_sweep.json")
    if os.path.exists(report):
        with open(report) as f:
            names = [r["name"] for r in json.load(f) if r["name"].replace("/", "_") in done]
    known = {n.replace("/", "_") for n in names}
    return names + sorted(done - known)


def write_report(records, args):
    os.makedirs(args.out, exist_ok=True)
    lines = [f"`python benchmarks/tiny_recipe_sweep.py`, {time.strftime('%Y-%m-%d')}: the default recipe "
             f"with each row's overrides, probe on 128 held-out examples. \"Rarity alone\": the AUC of a "
             f"detector that scores each token by its rarity in the training shards; \"by frequency\": the "
             f"discriminator's AUC when the replacements are drawn by their frequency (`eval_auc_frequency`; "
             f"for runs older than that probe, computed afterwards from the saved pretrainer).", "",
             "| candidate | overrides | steps | eval AUC random | rarity alone | min after warmup "
             "| eval AUC generator | rarity alone | eval AUC by frequency | disc recall | disc precision "
             "| MLM acc | minutes |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['name']} | `{' '.join(r['overrides'])}` | {r['steps']} | {r['eval_auc_random']:.3f} | "
                     f"{r['rarity_auc_random']:.3f} | {r['min_eval_auc_random_after_warmup']:.3f} | "
                     f"{r['eval_auc_generator']:.3f} | {r['rarity_auc_generator']:.3f} | "
                     f"{r['eval_auc_frequency']:.3f} | {r['disc_recall']:.3f} | {r['disc_precision']:.3f} | "
                     f"{r['mlm_accuracy']:.3f} | {r['seconds'] / 60:.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    with open(os.path.join(args.out, "tiny_recipe_sweep.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "tiny_recipe_sweep.json"), "w") as f:
        json.dump(records, f, indent=1)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    for r in records:
        steps, random_auc, generator_auc = zip(*r["curve"])
        line, = axes[0].plot(steps, random_auc, marker=".", label=r["name"])
        axes[1].plot(steps, generator_auc, marker=".", color=line.get_color(), label=r["name"])
    for ax, title in zip(axes, ("held-out AUC, random replacements", "held-out AUC, generator samples")):
        ax.axhline(0.5, color="grey", lw=0.8)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "tiny_recipe_sweep.png"), dpi=90)


def main():
    args = parse_args()
    candidates = dict(CANDIDATES)
    for item in args.extra:
        name, overrides = item.split("=", 1)
        candidates[name] = overrides.split(";")
    if args.report:
        records = [read_record(name, args) for name in finished_names(args)]
    else:
        records = run_all(args.only or list(candidates), candidates, args)
    write_report(records, args)


if __name__ == "__main__":
    main()
