"""What is the pretraining text worth to a few-label task without a neural encoder?

The reference line for `electra_vs_mlm.py`'s few-label results. From the same labelled
examples and the same text the encoders were pretrained on, three logistic regressions:

- bag of pieces: which of the vocabulary's word pieces the sentence contains (no pretraining:
  about what a randomly initialised encoder fine-tuned on the labels learns);
- count vectors: the mean over the sentence's pieces of word vectors made from a text by
  counting alone (co-occurrence within a window, positive PMI with the context distribution
  raised to 0.75, truncated SVD: Levy, Goldberg & Dagan, TACL 2015), counted twice: from the
  whole pretraining text, and from the task's training sentences alone (the in-domain part of
  it, one sentence per row, labels never read);
- the bag of pieces with each of them.

Each chooses its L2 penalty by 5-fold cross-validation on the labelled examples alone. If the
text's word co-occurrences add little to the bag of pieces, an encoder pretrained on that text
cannot be expected to add much either, whatever the objective.

Then the encoder side of the same question: the work directory's randomly initialised encoder
with the task-text count vectors as its token table (at the table's own scale), fine-tuned as
`electra_vs_mlm.py` fine-tunes. It says whether fine-tuning can use a token table that knows
what counting knows, that is, what the encoders would gain had pretraining learnt it.

    python benchmarks/count_vectors.py --work ~/.cache/electra_keras/electra_vs_mlm_in_domain_10k \
        [--train-sizes 1000] [--dims 64] [--window 5]

Reads the vocabulary and the training examples (the probe's held-out ones left out) of the work
directory's ELECTRA run, and the task's training sentences; writes benchmarks/results/<--name>.{md,json,png}, with the encoders'
results from the work directory's results.jsonl beside the count-based ones.
"""

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import electra_vs_mlm  # noqa: E402

from electra_keras.word_vectors import cooccurrence, counted_table, ppmi  # noqa: E402,F401
from electra_keras.word_vectors import randomized_svd_vectors as word_vectors  # noqa: E402

L2_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="an electra_vs_mlm.py work directory")
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--task", default="rotten_tomatoes", choices=["rotten_tomatoes"])
    parser.add_argument("--train-sizes", nargs="+", type=int, default=[1000])
    parser.add_argument("--dims", type=int, default=64, help="word-vector size (the tiny encoder's E: 64)")
    parser.add_argument("--window", type=int, default=5, help="co-occurrence window, pieces on each side")
    parser.add_argument("--table-seeds", type=int, default=3,
                        help="fine-tune the work directory's random encoder with the task-text count vectors "
                             "as its token table, this many seeds (0: skip)")
    parser.add_argument("--min-finetune-steps", type=int, default=200, help="as electra_vs_mlm.py's")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="fine-tuning rate, as electra_vs_mlm.py's")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default="count_vectors")
    return parser.parse_args(argv)


# ---- the pretraining text ----------------------------------------------------------------------


def training_rows(run_dir):
    """The token ids (padding dropped) of every example a pretraining run trained on, and its tokenizer."""
    from electra_keras.data.pretraining import list_shards, pretraining_dataset
    from electra_keras.recipes import recipe_from_dict
    from electra_keras.training import held_out_per_shard, prepare_data

    with open(os.path.join(run_dir, "recipe.json")) as f:
        recipe = recipe_from_dict(json.load(f), source=os.path.join(run_dir, "recipe.json"))
    shard_dir, tokenizer, _ = prepare_data(recipe.data, seed=recipe.train.seed, verbose=False, build=False)
    files = list_shards(shard_dir)
    held_out = held_out_per_shard(len(files), recipe.train.probe_examples)
    rows = []
    for batch in pretraining_dataset(files, 1, recipe.data.seq_len, shuffle=False, repeat=False,
                                     skip_examples=held_out).unbatch().batch(1024):
        for ids, mask in zip(batch["token_ids"].numpy(), batch["padding_mask"].numpy()):
            rows.append(ids[mask > 0])
    return rows, tokenizer


# ---- the classifiers ---------------------------------------------------------------------------


def bag_of_pieces(ids, vocab_size):
    """Binary (examples, V): whether each example contains each piece."""
    import scipy.sparse as sp

    sets = [sorted(set(row)) for row in ids]
    rows = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    return sp.csr_matrix((np.ones(len(rows)), (rows, np.concatenate(sets).astype(int))),
                         shape=(len(sets), vocab_size))


def mean_vectors(ids, vectors):
    return np.stack([vectors[row].mean(0) for row in ids])


def fit_logistic(x, y, l2):
    """Weights and bias minimising the summed log-loss + (l2 / 2) |w|^2 (bias unpenalised), by L-BFGS."""
    from scipy.optimize import minimize

    def loss_and_gradient(wb):
        z = x @ wb[:-1] + wb[-1]
        p = 1 / (1 + np.exp(-z))
        loss = np.logaddexp(0, z).sum() - y @ z + 0.5 * l2 * wb[:-1] @ wb[:-1]
        return loss, np.append(x.T @ (p - y) + l2 * wb[:-1], np.sum(p - y))

    wb = minimize(loss_and_gradient, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B",
                  options={"maxiter": 2000}).x
    return wb[:-1], wb[-1]


def accuracy(x, y, w, b):
    return float(np.mean(((x @ w + b) > 0) == y))


def choose_l2(x, y, grid=L2_GRID, folds=FOLDS):
    """The penalty of `grid` with the best mean accuracy over `folds` interleaved folds."""
    fold = np.arange(len(y)) % folds

    def score(l2):
        return np.mean([accuracy(x[fold == k], y[fold == k], *fit_logistic(x[fold != k], y[fold != k], l2))
                        for k in range(folds)])

    return max(grid, key=score)


def standardised(x, x_dev):
    """`x` and `x_dev` centred and scaled by `x`'s column means and standard deviations."""
    centre, scale = x.mean(0), x.std(0) + 1e-8
    return (x - centre) / scale, (x_dev - centre) / scale


def cv_accuracy(x, y, x_dev, y_dev):
    """(L2 penalty chosen by `choose_l2`, dev accuracy of the regression fitted with it)."""
    l2 = choose_l2(x, y)
    return l2, accuracy(x_dev, y_dev, *fit_logistic(x, y, l2))


def feature_sets(train_ids, dev_ids, vectors, vocab_size):
    """{name: (train features, dev features)} for the bag of pieces and each of `vectors` ({text:
    word vectors}), alone and beside the bag; the mean vectors standardised on the training set."""
    import scipy.sparse as sp

    bags = bag_of_pieces(train_ids, vocab_size), bag_of_pieces(dev_ids, vocab_size)
    sets = {"bag of pieces": bags}
    for text, table in vectors.items():
        means = standardised(mean_vectors(train_ids, table), mean_vectors(dev_ids, table))
        sets[f"count vectors from {text}"] = means
        sets[f"bag of pieces + count vectors from {text}"] = tuple(sp.hstack([b, m]).tocsr() for b, m in zip(bags, means))
    return sets


# ---- an encoder that starts from counting ------------------------------------------------------


def counted_encoder(source_dir, vectors, path):
    """At `path` (made once), the backbone of `source_dir` with `counted_table(.., vectors)` as its token table."""
    from electra_keras.convert import native
    from electra_keras.convert.mapping import Parts

    if not os.path.exists(os.path.join(path, "backbone.keras")):
        source = native.load_model_directory(source_dir)
        backbone = Parts.of(source.model).backbone
        table = backbone.token_embedding.embeddings
        table.assign(counted_table(np.asarray(table), vectors).astype(table.dtype))
        electra_vs_mlm.save_backbone(backbone, source, path)
    return path


def finetune_counted(args, spec, data_dir, vectors, size):
    """Dev accuracies of the work directory's random encoder, its token table replaced by
    `counted_table(.., vectors)`, fine-tuned as electra_vs_mlm.py fine-tunes (one per seed)."""
    random_dir = electra_vs_mlm.snapshot_dir(os.path.join(args.work, "pretraining", "random"), 0)
    path = counted_encoder(random_dir, vectors,
                           os.path.join(args.work, "pretraining", "counted", f"table-{args.dims}-{args.window}"))
    return electra_vs_mlm.finetune_seeds(path, spec, data_dir, args.task, size, args.table_seeds, args.learning_rate,
                                         electra_vs_mlm.finetune_epochs(size, 2, args.min_finetune_steps),
                                         os.path.join(args.work, "finetuning"), f"counted-{size}")


# ---- the run -----------------------------------------------------------------------------------


def encoder_results(work, task, size):
    """{label: (mean, stdev, seeds)} of the work directory's fine-tuned and probed encoders."""
    done = electra_vs_mlm.load_done(os.path.join(work, "results.jsonl")).values()
    table = electra_vs_mlm.summarize([r for r in done if r["method"] in ("finetune", "probe")])
    rows = {}
    for (method, task_name, size_name, objective, step), row in table.items():
        if task_name == task and size_name == str(size):
            how = "fine-tuned on [CLS]" if method == "finetune" else "linear probe"
            who = "random initialisation" if objective == "none" else f"{objective}, {step} steps"
            rows[f"{who}, {how}"] = (row["mean"], row["stdev"], row["n"])
    return dict(sorted(rows.items()))


def main():
    from electra_keras.data import tasks

    args = parse_args()
    run_dir = os.path.join(args.work, "pretraining", "electra")
    start = time.perf_counter()
    rows, tokenizer = training_rows(run_dir)
    vocab_size = len(tokenizer)
    spec, data_dir = electra_vs_mlm.task_spec(args.task, args.data)
    examples = {split: tasks.read_examples(spec, data_dir, split) for split in ("train", "dev")}
    texts = {"the pretraining text": rows,
             "the task's sentences": [np.asarray(r) for r in tokenizer.encode_batch([e.text_a for e in examples["train"]])]}
    vectors, tokens = {}, {}
    for text, text_rows in texts.items():
        vectors[text] = word_vectors(ppmi(cooccurrence(text_rows, vocab_size, args.window)), args.dims)
        tokens[text] = int(sum(len(r) for r in text_rows))
        print(f"count vectors from {text}: {len(text_rows)} rows, {tokens[text]:,} tokens, "
              f"{time.perf_counter() - start:.0f} s", flush=True)

    dev_ids = tokenizer.encode_batch([e.text_a for e in examples["dev"]])
    y_dev = tasks.label_ids(spec, examples["dev"]).astype(float)
    results = []
    for size in args.train_sizes:
        train = examples["train"][:size]
        train_ids = tokenizer.encode_batch([e.text_a for e in train])
        y = tasks.label_ids(spec, train).astype(float)
        for name, (x, x_dev) in feature_sets(train_ids, dev_ids, vectors, vocab_size).items():
            l2, score = cv_accuracy(x, y, x_dev, y_dev)
            results.append({"features": name, "size": size, "l2": l2, "accuracy": score})
            print(f"n={size:5d} {name:30s} l2 {l2:<5g} dev accuracy {score:.4f}", flush=True)
        if args.table_seeds:
            runs = finetune_counted(args, spec, data_dir, vectors["the task's sentences"], size)
            results.append({"features": "random encoder, count-vector token table, fine-tuned on [CLS]",
                            "size": size, "accuracy": float(np.mean(runs)),
                            "stdev": float(np.std(runs, ddof=1)) if len(runs) > 1 else 0.0, "seeds": len(runs)})
        for label, (mean, stdev, n) in encoder_results(args.work, args.task, size).items():
            results.append({"features": label, "size": size, "accuracy": mean, "stdev": stdev, "seeds": n})
    command = " ".join(["python", "benchmarks/count_vectors.py", *sys.argv[1:]])
    write_report(args, results, tokens, command.replace(os.path.expanduser("~"), "~"))


def write_report(args, results, tokens, command):
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.name)
    with open(stem + ".json", "w") as f:
        json.dump({"command": command, "tokens": tokens, "dims": args.dims, "window": args.window,
                   "results": results}, f, indent=1)
    counted = " and ".join(f"{text} ({n:,} tokens)" for text, n in tokens.items())
    lines = [f"# What the pretraining text is worth without a neural encoder ({datetime.date.today()})", "",
             f"`{command}`", "",
             f"Count vectors: {args.dims} dimensions, window {args.window}, counted from {counted} of "
             f"`{os.path.basename(os.path.normpath(args.work))}`. Logistic regressions "
             "choose their L2 penalty by 5-fold cross-validation on the labelled examples; encoders from "
             "the work directory's results.jsonl (mean ± standard deviation over fine-tuning seeds).", "",
             "| features | labelled examples | dev accuracy |", "|---|---|---|"]
    for r in results:
        spread = f" ± {100 * r['stdev']:.1f}" if r.get("seeds", 1) > 1 else ""
        lines.append(f"| {r['features']} | {r['size']} | {100 * r['accuracy']:.1f}{spread} |")
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = args.train_sizes[0]
    shown = [r for r in results if r["size"] == size]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(shown) + 1))
    colours = ["tab:green" if "stdev" not in r else "tab:blue" for r in shown]
    ax.barh(range(len(shown)), [100 * r["accuracy"] for r in shown], color=colours,
            xerr=[100 * r.get("stdev", 0) for r in shown])
    ax.set_yticks(range(len(shown)), [r["features"] for r in shown])
    ax.invert_yaxis()
    ax.set_xlim(50, max(100 * r["accuracy"] for r in shown) + 3)
    ax.set_xlabel(f"dev accuracy (%), {size} labelled examples\ngreen: counting, blue: encoders")
    fig.tight_layout()
    fig.savefig(stem + ".png", dpi=110)
    print(f"wrote {stem}.md, .json, .png")


if __name__ == "__main__":
    main()
