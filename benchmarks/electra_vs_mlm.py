"""The paper's central claim in miniature: ELECTRA vs the MLM baseline at equal compute.

Both objectives pretrain the same tiny encoder (the `tiny` preset: E 64, H 128, 2 layers) on
the same corpus (../shared/data: wiki_leads + public_domain) with the same vocabulary,
batch, sequence length, learning rate and schedule; the MLM baseline gets as many more steps
as make its pretraining FLOPs equal ELECTRA's (`electra_keras.flops`). Snapshots of each
backbone at fractions of the budget (plus a randomly initialised one at compute 0) are then
fine-tuned on Rotten Tomatoes (sentence polarity) and BoolQ (question + passage) with several
seeds; the dev accuracy of each is reported as mean and spread, in a table and a plot of score
against pretraining compute.

    python benchmarks/electra_vs_mlm.py [--data ../shared/data] [--steps 6000] [--seeds 3]

Everything is cached under --work (default ~/.cache/electra_keras/<--name>): a rerun
resumes the pretraining runs and skips finished fine-tuning runs. Results go to
benchmarks/results/<--name>.{md,png,json} (default name electra_vs_mlm).
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = ["wiki_leads/wiki_leads.jsonl", "public_domain/moby_dick.txt", "public_domain/state_of_the_union.txt"]
TASKS = {  # name: (max_seq_len, majority-class dev accuracy from ../shared/data/README.md)
    "rotten_tomatoes": (64, 747 / 1275),
    "boolq": (128, 2033 / 3270),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--work", default=None, help="default: ~/.cache/electra_keras/<name>")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--steps", type=int, default=6000, help="ELECTRA pretraining steps (batch 32 x 128)")
    parser.add_argument("--pretrain-learning-rate", type=float, default=2e-3,
                        help="peak pretraining rate of both objectives (the tiny recipe's 2e-3; the paper's Small: 5e-4)")
    parser.add_argument("--name", default="electra_vs_mlm", help="stem of the result files")
    parser.add_argument("--snapshots", type=int, default=3, help="points along the budget to fine-tune")
    parser.add_argument("--final-only", action="store_true",
                        help="fine-tune only the end of each pretraining run (and the random encoder)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="the paper's ELECTRA-Small rate")
    parser.add_argument("--train-examples", type=int, default=None, help="subset the training sets (quick runs)")
    return parser.parse_args()


# ---- pretraining -------------------------------------------------------------------------------


def recipe(objective, steps, corpus, learning_rate):
    from electra_keras.recipes import load_recipe

    return load_recipe("tiny", [
        f"model.objective={objective}",
        "data.corpus=[" + ", ".join(f'"{c}"' for c in corpus) + "]",
        f"train.steps={steps}", "train.log_every=50", f"train.checkpoint_every={steps}",
        f"train.warmup_steps={steps // 10}", f"train.learning_rate={learning_rate}",
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

    probe = ElectraConfig.from_preset("tiny", vocabulary_size=8000)
    per_step = {o: pretraining_flops_per_step(probe.replace(objective=o), 32) for o in ("electra", "mlm")}
    budget = args.steps * per_step["electra"]
    points = []
    for objective in ("electra", "mlm"):
        steps = int(round(budget / per_step[objective] / 50)) * 50  # a multiple of log_every
        marks = sorted({int(round(steps * (i + 1) / args.snapshots / 50)) * 50 for i in range(args.snapshots)})
        run_dir = os.path.join(args.work, "pretraining", objective)
        done = all(os.path.exists(os.path.join(snapshot_dir(run_dir, m), "backbone.keras")) for m in marks)
        if not done:
            print(f"== pretraining {objective}: {steps} steps ({per_step[objective] / 1e9:.1f} GFLOP each), "
                  f"snapshots at {marks}", flush=True)
            pretrain(recipe(objective, steps, corpus, args.pretrain_learning_rate), output_dir=os.path.dirname(run_dir),
                     run_name=objective, callbacks=[Snapshots(run_dir, marks).callback], verbose=2)
        points += [(objective, m, m * per_step[objective], snapshot_dir(run_dir, m)) for m in marks]
    return points


def random_init(args, points):
    """A randomly initialised backbone of the same config and vocabulary: compute 0."""
    import keras

    from electra_keras.convert import native
    from electra_keras.convert.common import Converted
    from electra_keras.models import ElectraPretrainer

    path = os.path.join(args.work, "pretraining", "random", "snapshots", "step-000000")
    if not os.path.exists(os.path.join(path, "backbone.keras")):
        source = native.load_model_directory(points[0][3])
        keras.utils.set_random_seed(0)
        model = ElectraPretrainer(source.config, seed=0)
        native.save_model_directory(Converted(model.backbone, source.tokenizer, source.config, "backbone"), path)
    return [("none", 0, 0.0, path)]


# ---- fine-tuning -------------------------------------------------------------------------------


def task_spec(name, data):
    from electra_keras.data import tasks

    if name == "boolq":
        return tasks.get_task("boolq"), os.path.join(data, "boolq")
    folder = os.path.join(data, "rotten_tomatoes")
    spec = tasks.custom_task({"train": os.path.join(folder, "train.tsv"), "dev": os.path.join(folder, "dev.tsv")},
                             "sentence", "label", name="rotten_tomatoes")
    return spec, None


def finetune_all(args, points):
    """Fine-tune every (snapshot, task, seed) once; results are appended to results.jsonl."""
    from electra_keras.finetuning import finetune

    results_path = os.path.join(args.work, "results.jsonl")
    done = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            for line in f:
                r = json.loads(line)
                done[(r["objective"], r["step"], r["task"], r["seed"])] = r
    for task in TASKS:
        spec, data_dir = task_spec(task, args.data)
        for objective, step, flops, path in points:
            for seed in range(args.seeds):
                key = (objective, step, task, seed)
                if key in done:
                    continue
                start = time.perf_counter()
                run_dir, metrics = finetune(
                    path, spec, data_dir, output_dir=os.path.join(args.work, "finetuning"),
                    run_name=f"{objective}-{step}-{task}-{seed}", overwrite=True, verbose=0,
                    eval_every_epoch=False, epochs=args.epochs, learning_rate=args.learning_rate,
                    max_seq_len=TASKS[task][0], seed=seed, max_train_examples=args.train_examples)
                record = {"objective": objective, "step": step, "flops": flops, "task": task, "seed": seed,
                          "accuracy": metrics["accuracy"], "seconds": time.perf_counter() - start}
                print(f"{objective:8s} step {step:5d} {task:16s} seed {seed}: accuracy {metrics['accuracy']:.4f} "
                      f"({record['seconds']:.0f} s)", flush=True)
                with open(results_path, "a") as f:
                    f.write(json.dumps(record) + "\n")
                done[key] = record
    return [done[(o, s, t, seed)] for t in TASKS for o, s, _, _ in points for seed in range(args.seeds)]


# ---- report ------------------------------------------------------------------------------------


def summarize(results):
    """{(objective, step): {"flops", task: (mean, stdev, n)}}"""
    table = {}
    for r in results:
        row = table.setdefault((r["objective"], r["step"]), {"flops": r["flops"]})
        row.setdefault(r["task"], []).append(r["accuracy"])
    for row in table.values():
        for task in TASKS:
            scores = row[task]
            row[task] = (statistics.mean(scores), statistics.stdev(scores) if len(scores) > 1 else 0.0, len(scores))
    return table


def pretraining_summary(args):
    """The last logged metrics and the summed step time of each pretraining run."""
    from electra_keras.training import read_metrics

    summary = {}
    for objective in ("electra", "mlm"):
        rows = read_metrics(os.path.join(args.work, "pretraining", objective, "metrics.csv"))
        if rows:
            summary[objective] = {**rows[-1], "seconds": sum(r["seconds"] for r in rows)}
    return summary


def write_report(args, table, command, pretraining, finetuning_seconds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    lines = [
        "| pretraining | steps | compute (TFLOP) | " + " | ".join(f"{t} dev acc" for t in TASKS) + " |",
        "|---|---|---|" + "---|" * len(TASKS),
    ]
    for (objective, step), row in sorted(table.items(), key=lambda kv: (kv[1]["flops"], kv[0][0])):
        cells = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s, _ in (row[t] for t in TASKS)]
        lines.append(f"| {objective} | {step} | {row['flops'] / 1e12:.0f} | " + " | ".join(cells) + " |")
    lines.append("| majority class | | | " + " | ".join(f"{100 * TASKS[t][1]:.1f}" for t in TASKS) + " |")
    n = next(iter(table.values()))[next(iter(TASKS))][2]
    pretraining_seconds = sum(p["seconds"] for p in pretraining.values())
    notes = [f"- {o}: {p['step']} steps in {p['seconds'] / 60:.0f} min; at the end MLM loss {p['mlm_loss']:.2f}, "
             f"MLM accuracy {p['mlm_accuracy']:.3f}" + (f", discriminator AUC {p['disc_auc']:.3f}, accuracy "
                                                         f"{p['disc_accuracy']:.3f}" if "disc_auc" in p else "")
             for o, p in pretraining.items()]
    md = "\n".join([f"`{command}`: {(pretraining_seconds + finetuning_seconds) / 60:.0f} min of training and "
                    f"evaluation (pretraining {pretraining_seconds / 60:.0f}, fine-tuning {finetuning_seconds / 60:.0f}); "
                    f"dev accuracy, mean ± standard deviation over {n} fine-tuning seeds.",
                    "", *lines, "", "Pretraining runs:", *notes, ""])
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump([{"objective": o, "step": s, **row} for (o, s), row in table.items()], f, indent=1)

    fig, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 3.8))
    for ax, task in zip(axes, TASKS):
        for objective, color in (("electra", "tab:blue"), ("mlm", "tab:orange")):
            rows = sorted((row for (o, _), row in table.items() if o in (objective, "none")), key=lambda r: r["flops"])
            ax.errorbar([r["flops"] / 1e12 for r in rows], [100 * r[task][0] for r in rows],
                        yerr=[100 * r[task][1] for r in rows], marker="o", capsize=3, color=color,
                        label="ELECTRA" if objective == "electra" else "MLM baseline")
        ax.axhline(100 * TASKS[task][1], color="gray", linestyle="--", label="majority class")
        ax.set(title=task, xlabel="pretraining compute (TFLOP)", ylabel="dev accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{args.name}.png"), dpi=90)
    print(md)


def main():
    args = parse_args()
    args.work = args.work or os.path.join(os.path.expanduser("~"), ".cache", "electra_keras", args.name)
    corpus = [os.path.abspath(os.path.join(args.data, c)) for c in CORPUS]
    missing = [c for c in corpus if not os.path.exists(c)]
    if missing:
        sys.exit(f"missing corpus files (see ../shared/data/README.md): {', '.join(missing)}")
    points = pretrain_both(args, corpus)
    if args.final_only:
        points = [max((p for p in points if p[0] == o), key=lambda p: p[1]) for o in ("electra", "mlm")]
    points = random_init(args, points) + points
    results = finetune_all(args, points)
    import keras

    command = f"KERAS_BACKEND={keras.backend.backend()} python benchmarks/electra_vs_mlm.py " + " ".join(sys.argv[1:])
    write_report(args, summarize(results), command.strip(), pretraining_summary(args),
                 sum(r["seconds"] for r in results))


if __name__ == "__main__":
    main()
