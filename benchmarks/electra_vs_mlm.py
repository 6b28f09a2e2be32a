"""The paper's central claim in miniature: ELECTRA vs the MLM baseline at equal compute.

Both objectives pretrain the same tiny encoder (the default recipe, `recipes/tiny.toml`:
E 64, H 128, 2 layers) on the same corpus (../shared/data: wiki_leads + public_domain) with
the same vocabulary, batch, sequence length, learning rate and schedule; the MLM baseline
gets as many more steps as make its pretraining FLOPs equal ELECTRA's (`electra_keras.flops`).
Snapshots of each backbone at fractions of the budget (plus a randomly initialised one at
compute 0) are then evaluated on the downstream tasks (default: Rotten Tomatoes sentence
polarity; BoolQ with `--tasks`) with `--train-sizes` labelled examples each (the first n of
the shuffled training set; "all" for every one):

- fine-tuned, with several seeds (mean and standard deviation);
- as frozen features (`--linear-probe`): the mean of the last hidden states over the real
  tokens, standardised, into an L2-regularised logistic regression (deterministic).

Results are a table and a plot of dev accuracy against the number of labelled examples.

    python benchmarks/electra_vs_mlm.py [--data ../shared/data] [--steps 6000] [--seeds 3] \
        [--train-sizes 500 1000 2000 all] [--linear-probe] [--set model.field=value ...]

Everything is cached under --work (default ~/.cache/electra_keras/<--name>): a rerun
resumes the pretraining runs and skips finished fine-tuning runs. Results go to
benchmarks/results/<--name>.{md,png,json} (default name electra_vs_mlm).
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = ["wiki_leads/wiki_leads.jsonl", "public_domain/moby_dick.txt", "public_domain/state_of_the_union.txt"]
ALL_TASKS = {  # name: (max_seq_len, majority-class dev accuracy from ../shared/data/README.md)
    "rotten_tomatoes": (64, 747 / 1275),
    "boolq": (128, 2033 / 3270),
}
TASKS = dict(ALL_TASKS)  # the ones this run evaluates (--tasks)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--work", default=None, help="default: ~/.cache/electra_keras/<name>")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--corpus", nargs="*", default=CORPUS, metavar="FILE",
                        help="pretraining text, relative to --data (default: %(default)s); may be empty "
                             "with --task-text (pretraining on the task's own text alone)")
    parser.add_argument("--task-text", action="store_true",
                        help="also pretrain on the text (never the labels) of the tasks' training splits: "
                             "the few-label setting, where unlabelled in-domain text is plentiful")
    parser.add_argument("--steps", type=int, default=6000, help="ELECTRA pretraining steps (batch 32 x 128)")
    parser.add_argument("--pretrain-learning-rate", type=float, default=None,
                        help="peak pretraining rate of both objectives (default: the tiny recipe's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="more recipe overrides for both pretraining runs (e.g. model.weight_sharing=gdes)")
    parser.add_argument("--tasks", nargs="+", default=["rotten_tomatoes"], choices=sorted(ALL_TASKS))
    parser.add_argument("--train-sizes", nargs="+", default=["all"],
                        help="labelled training examples per task: numbers, or 'all'")
    parser.add_argument("--min-finetune-steps", type=int, default=0,
                        help="small training sets get more epochs, up to this many steps (batch 32)")
    parser.add_argument("--linear-probe", action="store_true", help="also score frozen features")
    parser.add_argument("--pooling", choices=("cls", "mean"), default="cls",
                        help="what the fine-tuned classifier reads: [CLS] (the original) or the tokens' mean")
    parser.add_argument("--head-first", action="store_true",
                        help="fit the classifier's head on frozen features before fine-tuning (finetune's head_first)")
    parser.add_argument("--objectives", nargs="+", default=["electra", "mlm"], choices=["electra", "mlm"],
                        help="the pretraining runs to make and evaluate (both by default)")
    parser.add_argument("--name", default="electra_vs_mlm", help="stem of the result files")
    parser.add_argument("--snapshots", type=int, default=3, help="points along the budget to fine-tune")
    parser.add_argument("--final-only", action="store_true",
                        help="fine-tune only the end of each pretraining run (and the random encoder)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="the paper's ELECTRA-Small rate")
    parser.add_argument("--train-examples", type=int, default=None, help="subset the training sets (quick runs)")
    return parser.parse_args(argv)


# ---- pretraining -------------------------------------------------------------------------------


def recipe(objective, steps, corpus, learning_rate, overrides=()):
    from electra_keras.recipes import load_recipe

    rate = [f"train.learning_rate={learning_rate}"] if learning_rate else []
    return load_recipe("tiny", [
        f"model.objective={objective}",
        "data.corpus=[" + ", ".join(f'"{c}"' for c in corpus) + "]",
        f"train.steps={steps}", "train.log_every=50", f"train.checkpoint_every={steps}",
        f"train.warmup_steps={steps // 10}", *rate, *overrides,
    ])


class Snapshots:
    """Keras callback factory: save the backbone (our model-directory layout) at given steps."""

    def __init__(self, run_dir, steps, log_every=50):
        import keras

        from electra_keras.convert.common import Converted
        from electra_keras.convert.native import save_model_directory
        from electra_keras.data.tokenizer import WordPieceTokenizer

        class Callback(keras.callbacks.Callback):
            def on_epoch_end(cb, epoch, logs=None):
                step = (epoch + 1) * log_every
                path = snapshot_dir(run_dir, step)
                if step in steps and not os.path.exists(os.path.join(path, "backbone.keras")):
                    tokenizer = WordPieceTokenizer.from_directory(run_dir)
                    config = cb.model.config
                    save_model_directory(Converted(cb.model.backbone, tokenizer, config, "backbone"), path)

        self.callback = Callback()


def snapshot_dir(run_dir, step):
    return os.path.join(run_dir, "snapshots", f"step-{step:06d}")


def pretrain_both(args, corpus):
    """Run (or resume) both pretraining runs; returns [(objective, step, flops, model dir)]."""
    from electra_keras.config import ElectraConfig
    from electra_keras.flops import pretraining_flops_per_step
    from electra_keras.training import pretrain

    base = recipe("electra", 50, corpus, None, args.overrides)
    sized = ElectraConfig.from_preset("tiny", vocabulary_size=base.data.vocab_size,
                                      **{k: v for k, v in base.model.items() if k != "preset"})
    per_step = {o: pretraining_flops_per_step(sized.replace(objective=o), 32) for o in ("electra", "mlm")}
    budget = args.steps * per_step["electra"]
    points = []
    for objective in args.objectives:
        steps = int(round(budget / per_step[objective] / 50)) * 50  # a multiple of log_every
        marks = sorted({int(round(steps * (i + 1) / args.snapshots / 50)) * 50 for i in range(args.snapshots)})
        run_dir = os.path.join(args.work, "pretraining", objective)
        done = all(os.path.exists(os.path.join(snapshot_dir(run_dir, m), "backbone.keras")) for m in marks)
        if not done:
            print(f"== pretraining {objective}: {steps} steps ({per_step[objective] / 1e9:.1f} GFLOP each), "
                  f"snapshots at {marks}", flush=True)
            pretrain(recipe(objective, steps, corpus, args.pretrain_learning_rate, args.overrides),
                     output_dir=os.path.dirname(run_dir), run_name=objective,
                     callbacks=[Snapshots(run_dir, marks).callback], verbose=2, demo=False)
        points += [(objective, m, m * per_step[objective], snapshot_dir(run_dir, m)) for m in marks]
    return points


def task_text(args, task):
    """The texts of `task`'s training split, one per line, as a text file in the work directory."""
    from electra_keras.data import tasks

    path = os.path.join(args.work, "task_text", f"{task}.txt")
    if not os.path.exists(path):
        spec, data_dir = task_spec(task, args.data)
        examples = tasks.read_examples(spec, data_dir, "train")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for example in examples:
                f.write(" ".join(t for t in (example.text_a, example.text_b) if t).replace("\n", " ") + "\n")
        os.replace(path + ".tmp", path)
    return path


def save_backbone(backbone, source, path):
    """Write `backbone` with `source`'s (a loaded model directory's) vocabulary and config."""
    from electra_keras.convert import native
    from electra_keras.convert.common import Converted

    native.save_model_directory(Converted(backbone, source.tokenizer, source.config, "backbone"), path)
    return path


def random_backbone(source_dir, path, seed=0):
    """At `path` (made once), a randomly initialised backbone of `source_dir`'s config and vocabulary."""
    import keras

    from electra_keras.convert import native
    from electra_keras.models import ElectraPretrainer

    if not os.path.exists(os.path.join(path, "backbone.keras")):
        source = native.load_model_directory(source_dir)
        keras.utils.set_random_seed(seed)
        save_backbone(ElectraPretrainer(source.config, seed=seed).backbone, source, path)
    return path


def random_init(args, points):
    """A randomly initialised backbone of the same config and vocabulary: compute 0."""
    path = os.path.join(args.work, "pretraining", "random", "snapshots", "step-000000")
    return [("none", 0, 0.0, random_backbone(points[0][3], path))]


# ---- fine-tuning -------------------------------------------------------------------------------


def task_spec(name, data):
    from electra_keras.data import tasks

    if name == "boolq":
        return tasks.get_task("boolq"), os.path.join(data, "boolq")
    folder = os.path.join(data, "rotten_tomatoes")
    spec = tasks.custom_task({"train": os.path.join(folder, "train.tsv"), "dev": os.path.join(folder, "dev.tsv")},
                             "sentence", "label", name="rotten_tomatoes")
    return spec, None


def sizes(args):
    """--train-sizes as ints, None for "all"."""
    return [None if n == "all" else int(n) for n in args.train_sizes]


def size_name(size):
    return "all" if size is None else str(size)


def load_done(path):
    done = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                done[(r["method"], r["objective"], r["step"], r["task"], r.get("size", "all"), r["seed"])] = r
    return done


def finetune_epochs(size, epochs, min_steps):
    """`epochs`, or more for a small training set, so it gets at least `min_steps` steps of 32."""
    return max(epochs, math.ceil(min_steps * 32 / size)) if size and min_steps else epochs


def finetune_seeds(path, spec, data_dir, task, size, seeds, learning_rate, epochs, output_dir, run_name,
                   pooling="cls"):
    """Dev accuracies of the model at `path` fine-tuned with `size` examples, one per seed, its
    classifier on [CLS] or (`pooling="mean"`) on the mean of the tokens."""
    from electra_keras.finetuning import finetune

    accuracies = []
    for seed in range(seeds):
        _, metrics = finetune(path, spec, data_dir, output_dir=output_dir, run_name=f"{run_name}-{seed}",
                              overwrite=True, verbose=0, eval_every_epoch=False, epochs=epochs,
                              learning_rate=learning_rate, max_seq_len=ALL_TASKS[task][0], seed=seed,
                              max_train_examples=size, pooling=pooling)
        accuracies.append(metrics["accuracy"])
        print(f"{run_name} seed {seed}: dev accuracy {metrics['accuracy']:.4f}", flush=True)
    return accuracies


def fine_tuning_method(pooling, head_first):
    """The results' name for a way of fine-tuning: finetune, finetune_mean, finetune_head_first, ..."""
    return "finetune" + ("_mean" if pooling == "mean" else "") + ("_head_first" if head_first else "")


METHOD_TITLES = {  # method: (the report's table title, the plot's panel title)
    "finetune": ("fine-tuned on [CLS]", "fine-tuned ([CLS])"),
    "finetune_mean": ("fine-tuned on the tokens' mean", "fine-tuned (mean)"),
    "finetune_head_first": ("head fitted first, then fine-tuned on [CLS]", "head first, [CLS]"),
    "finetune_mean_head_first": ("head fitted first, then fine-tuned on the tokens' mean", "head first, mean"),
}


def evaluate_all(args, points):
    """Fine-tune (and probe) every (snapshot, task, size, seed) once; results go to results.jsonl."""
    from electra_keras.finetuning import finetune

    results_path = os.path.join(args.work, "results.jsonl")
    done = load_done(results_path)

    def record(result):
        with open(results_path, "a") as f:
            f.write(json.dumps(result) + "\n")
        done[(result["method"], result["objective"], result["step"], result["task"], result["size"],
              result["seed"])] = result
        print(f"{result['method']:9s} {result['objective']:8s} step {result['step']:5d} {result['task']:16s} "
              f"n={result['size']:>5s} seed {result['seed']}: accuracy {result['accuracy']:.4f} "
              f"({result['seconds']:.0f} s)", flush=True)

    for task in TASKS:
        spec, data_dir = task_spec(task, args.data)
        for size in sizes(args):
            for objective, step, flops, path in points:
                base = {"objective": objective, "step": step, "flops": flops, "task": task, "size": size_name(size)}
                if args.linear_probe and ("probe", objective, step, task, size_name(size), 0) not in done:
                    start = time.perf_counter()
                    accuracy = linear_probe(path, spec, data_dir, TASKS[task][0], size)
                    record({**base, "method": "probe", "seed": 0, "accuracy": accuracy,
                            "seconds": time.perf_counter() - start})
                epochs = finetune_epochs(size, args.epochs, args.min_finetune_steps)
                method = fine_tuning_method(args.pooling, args.head_first)
                for seed in range(args.seeds):
                    if (method, objective, step, task, size_name(size), seed) in done:
                        continue
                    start = time.perf_counter()
                    run_dir, metrics = finetune(
                        path, spec, data_dir, output_dir=os.path.join(args.work, "finetuning"),
                        run_name=f"{objective}-{step}-{task}-{size_name(size)}-{seed}", overwrite=True, verbose=0,
                        eval_every_epoch=False, epochs=epochs, learning_rate=args.learning_rate,
                        max_seq_len=TASKS[task][0], seed=seed, pooling=args.pooling, head_first=args.head_first,
                        max_train_examples=size or args.train_examples)
                    record({**base, "method": method, "seed": seed, "epochs": epochs,
                            "accuracy": metrics["accuracy"], "seconds": time.perf_counter() - start})
    return [r for r in done.values() if r["task"] in TASKS and r.get("size", "all") in map(size_name, sizes(args))
            and (r["objective"], r["step"]) in {(o, s) for o, s, _, _ in points}]


# ---- frozen features ---------------------------------------------------------------------------


def mean_features(backbone, encoded, batch_size=128):
    """The mean of the last hidden states over each example's real tokens: (examples, hidden)."""
    import numpy as np

    hidden = np.asarray(backbone.predict(encoded, batch_size=batch_size, verbose=0), "float64")
    mask = encoded["padding_mask"][..., None].astype("float64")
    return (hidden * mask).sum(1) / mask.sum(1)


def logistic_regression(x, y, l2=1e-2, iterations=50):
    """Binary logistic regression by Newton's method; returns (weights, bias). x: (n, d), y in {0, 1}."""
    import numpy as np

    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = l2 * n * np.eye(d + 1)
    penalty[-1, -1] = 0.0  # no penalty on the bias
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-xb @ w))
        gradient = xb.T @ (p - y) + penalty @ w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], w[-1]


def linear_probe(path, spec, data_dir, max_seq_len, size):
    """Dev accuracy of a logistic regression on the frozen backbone's mean features."""
    import numpy as np

    from electra_keras.data import tasks
    from electra_keras.finetuning import load_backbone

    backbone, tokenizer, _ = load_backbone(path)
    splits = {}
    for split in ("train", "dev"):
        examples = tasks.read_examples(spec, data_dir, split)
        if split == "train" and size:
            examples = examples[:size]
        features = mean_features(backbone, tasks.encode_examples(examples, tokenizer, max_seq_len))
        splits[split] = (features, tasks.label_ids(spec, examples))
    (x, y), (x_dev, y_dev) = splits["train"], splits["dev"]
    mean, std = x.mean(0), x.std(0) + 1e-8
    w, b = logistic_regression((x - mean) / std, y.astype("float64"))
    predictions = (((x_dev - mean) / std) @ w + b > 0).astype("int32")
    return float(np.mean(predictions == y_dev))


# ---- report ------------------------------------------------------------------------------------


def summarize(results):
    """{(method, task, size, objective, step): {"flops", "mean", "stdev", "n"}}"""
    groups = {}
    for r in results:
        key = (r["method"], r["task"], r.get("size", "all"), r["objective"], r["step"])
        groups.setdefault(key, {"flops": r["flops"], "scores": []})["scores"].append(r["accuracy"])
    for row in groups.values():
        scores = row.pop("scores")
        row.update(mean=statistics.mean(scores), stdev=statistics.stdev(scores) if len(scores) > 1 else 0.0,
                   n=len(scores))
    return groups


def pretraining_summary(args):
    """The last logged metrics and the summed step time of each pretraining run."""
    from electra_keras.training import read_metrics

    summary = {}
    for objective in ("electra", "mlm"):
        rows = read_metrics(os.path.join(args.work, "pretraining", objective, "metrics.csv"))
        if rows:
            summary[objective] = {**rows[-1], "seconds": sum(r["seconds"] for r in rows)}
    return summary


def write_report(args, table, command, pretraining, evaluation_seconds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    encoders = sorted({(o, s, row["flops"]) for (_, _, _, o, s), row in table.items()}, key=lambda e: (e[2], e[0]))
    size_names = [size_name(n) for n in sizes(args)]
    methods = [m for m in (*METHOD_TITLES, "probe") if any(k[0] == m for k in table)]
    lines = []
    for task in TASKS:
        for method in methods:
            title = ("frozen features + logistic regression, dev accuracy" if method == "probe"
                     else f"{METHOD_TITLES[method][0]}, dev accuracy (mean ± sd over seeds)")
            lines += [f"**{task}, {title}**", "",
                      "| pretraining | steps | compute (TFLOP) | " + " | ".join(f"n = {n}" for n in size_names) + " |",
                      "|---|---|---|" + "---|" * len(size_names)]
            for objective, step, flops in encoders:
                cells = []
                for n in size_names:
                    row = table.get((method, task, n, objective, step))
                    cells.append("" if row is None else f"{100 * row['mean']:.1f}" + (
                        f" ± {100 * row['stdev']:.1f}" if row["n"] > 1 else ""))
                lines.append(f"| {objective} | {step} | {flops / 1e12:.0f} | " + " | ".join(cells) + " |")
            lines += ["| majority class | | | " + " | ".join(f"{100 * TASKS[task][1]:.1f}" for _ in size_names) + " |",
                      ""]
    pretraining_seconds = sum(p["seconds"] for p in pretraining.values())
    notes = [f"- {o}: {p['step']} steps in {p['seconds'] / 60:.0f} min; at the end MLM loss {p['mlm_loss']:.2f}, "
             f"MLM accuracy {p['mlm_accuracy']:.3f}" + (
                 f", held-out discriminator AUC {p['eval_auc_random']:.3f} (random replacements), "
                 f"{p['eval_auc_generator']:.3f} (generator samples)" if "eval_auc_random" in p else "")
             for o, p in pretraining.items()]
    md = "\n".join([f"`{command}`, {time.strftime('%Y-%m-%d')}: {(pretraining_seconds + evaluation_seconds) / 60:.0f} "
                    f"min of training and evaluation (pretraining {pretraining_seconds / 60:.0f}, "
                    f"downstream {evaluation_seconds / 60:.0f}).", "", *lines, "Pretraining runs:", *notes, ""])
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump([{"method": k[0], "task": k[1], "size": k[2], "objective": k[3], "step": k[4], **row}
                   for k, row in table.items()], f, indent=1)

    panels = [(task, method) for task in TASKS for method in methods]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    positions = list(range(len(size_names)))
    for ax, (task, method) in zip(axes[0], panels):
        finals = {o: max((e for e in encoders if e[0] == o), key=lambda e: e[1]) for o, _, _ in encoders}
        for objective, color in (("none", "tab:gray"), ("electra", "tab:blue"), ("mlm", "tab:orange")):
            if objective not in finals:
                continue
            _, step, _ = finals[objective]
            rows = [table.get((method, task, n, objective, step)) for n in size_names]
            ax.errorbar([p for p, r in zip(positions, rows) if r], [100 * r["mean"] for r in rows if r],
                        yerr=[100 * r["stdev"] for r in rows if r], marker="o", capsize=3, color=color,
                        label={"none": "random init", "electra": "ELECTRA", "mlm": "MLM baseline"}[objective])
        ax.axhline(100 * TASKS[task][1], color="gray", linestyle="--", label="majority class")
        ax.set_xticks(positions, size_names)
        ax.set(title=f"{task}: " + ("linear probe" if method == "probe" else METHOD_TITLES[method][1]),
               xlabel="labelled training examples", ylabel="dev accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{args.name}.png"), dpi=90)
    print(md)


def main():
    args = parse_args()
    for name in list(TASKS):
        if name not in args.tasks:
            del TASKS[name]
    args.work = args.work or os.path.join(os.path.expanduser("~"), ".cache", "electra_keras", args.name)
    corpus = [os.path.abspath(os.path.join(args.data, c)) for c in args.corpus]
    missing = [c for c in corpus if not os.path.exists(c)]
    if missing:
        sys.exit(f"missing corpus files (see ../shared/data/README.md): {', '.join(missing)}")
    if args.task_text:
        corpus += [task_text(args, task) for task in TASKS]
    if not corpus:
        sys.exit("nothing to pretrain on: give --corpus files, --task-text, or both")
    points = pretrain_both(args, corpus)
    if args.final_only:
        points = [max((p for p in points if p[0] == o), key=lambda p: p[1]) for o in args.objectives]
    points = random_init(args, points) + points
    results = evaluate_all(args, points)
    import keras

    command = f"KERAS_BACKEND={keras.backend.backend()} python benchmarks/electra_vs_mlm.py " + " ".join(sys.argv[1:])
    write_report(args, summarize(results), command.strip(), pretraining_summary(args),
                 sum(r["seconds"] for r in results))


if __name__ == "__main__":
    main()
