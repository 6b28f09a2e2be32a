"""Which pretraining on the task's own text leaves an encoder that knows what counting knows?

`count_vectors.py` finds that word vectors counted from Rotten Tomatoes' training sentences
(text only) carry sentiment a bag of pieces does not, and that a random encoder given them as
its token table fine-tunes better than a random one. This screen asks whether pretraining on
the same sentences learns it: the tiny encoder pretrained on them alone (the default recipe,
mixed bfloat16, 8,000 pieces) under several settings, then

- frozen: logistic regressions on 1,000 labelled examples (L2 by 5-fold cross-validation) on
  the mean of the encoder's token-table rows over a sentence, and on the mean of its last
  hidden states;
- fine-tuned with the same 1,000 examples, as `electra_vs_mlm.py` fine-tunes, over seeds: the
  classifier on [CLS], or with `--pooling mean` on the mean of the tokens.

The settings: ELECTRA as the default recipe has it, MLM, gdes, a full-width generator, a
three times higher rate, and replacements drawn by frequency instead of the generator's
samples (the paper's unigram generator: nothing to give a replacement away but its context).
Beside them: the random encoder, the random encoder with the count vectors as its token table,
and ELECTRA pretraining started from that table, or held at it. Then the same questions with
pretraining examples as long as the fine-tuning ones, 64 tokens (packed, or one sentence each),
instead of the default packing of about five sentences into 128.

    KERAS_BACKEND=tensorflow python benchmarks/task_text_screen.py [--steps 1500] [--seeds 3]

Writes benchmarks/results/<--name>.{md,json,png}; pretraining runs are kept (and reused) in
--work.
"""

import argparse
import collections
import contextlib
import datetime
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import count_vectors  # noqa: E402
import electra_vs_mlm  # noqa: E402

TASK = "rotten_tomatoes"
# Pretraining examples as long as the fine-tuning ones (64 tokens); batch 64 x 64 keeps the token
# slots (and so nearly the compute) of the default 32 x 128, whose examples pack about five
# sentences. With `sentences`, each sentence is its own document, so an example holds one.
SEQ_64 = ["data.seq_len=64", "train.batch_size=64"]


class Setting(collections.namedtuple("Setting", "what overrides table replacements sentences",
                                     defaults=(False, None, False))):
    """One row of the screen. `overrides`: recipe overrides, None for no pretraining; `table`:
    the token table from count vectors (False, "start" or "fixed"); `replacements`: "generator"
    or "frequency"; `sentences`: pretrain on one sentence per example (with SEQ_64)."""


SETTINGS = {
    "random": Setting("random initialisation, no pretraining", None),
    "counted": Setting("random, count-vector token table, no pretraining", None, "start"),
    "electra": Setting("ELECTRA, the default recipe", [], replacements="generator"),
    "mlm": Setting("MLM (the same steps)", ["model.objective=mlm"]),
    "gdes": Setting("ELECTRA, weight_sharing=gdes", ["model.weight_sharing=gdes"], replacements="generator"),
    "generator_full": Setting("ELECTRA, generator as wide as the discriminator",
                              ["model.generator_hidden_fraction=1.0"], replacements="generator"),
    "lr3e-3": Setting("ELECTRA, rate 3e-3", ["train.learning_rate=3e-3"], replacements="generator"),
    "by_frequency": Setting("ELECTRA, replacements drawn by frequency", [], replacements="frequency"),
    "electra_from_counts": Setting("ELECTRA, token table started from count vectors", [], "start", "generator"),
    "electra_on_counts": Setting("ELECTRA, token table held at count vectors", [], "fixed", "generator"),
    "one_sentence": Setting("ELECTRA, one sentence per example", SEQ_64, replacements="generator",
                            sentences=True),
    "packed_64": Setting("ELECTRA, packed into 64 tokens (about two sentences)", SEQ_64, replacements="generator"),
    "one_sentence_temp1": Setting("ELECTRA, one sentence per example, samples at temperature 1",
                                  ["model.temperature=1.0", *SEQ_64], replacements="generator", sentences=True),
    "mlm_one_sentence": Setting("MLM, one sentence per example", ["model.objective=mlm", *SEQ_64],
                                sentences=True),
    "one_sentence_from_counts": Setting("ELECTRA, one sentence per example, token table started from count vectors",
                                        SEQ_64, "start", "generator", sentences=True),
    "one_sentence_on_counts": Setting("ELECTRA, one sentence per example, token table held at count vectors",
                                      SEQ_64, "fixed", "generator", sentences=True),
    "one_sentence_on_counts_seed1": Setting("the same, pretraining seed 1", ["train.seed=1", *SEQ_64], "fixed",
                                            "generator", sentences=True),
    "one_sentence_on_counts_3000": Setting("the same, twice the steps (3,000)",
                                           ["train.steps=3000", "train.warmup_steps=300", "train.checkpoint_every=3000",
                                            *SEQ_64], "fixed", "generator", sentences=True),
    "packed_64_on_counts": Setting("ELECTRA, packed into 64 tokens, token table held at count vectors", SEQ_64,
                                   "fixed", "generator"),
    "mlm_one_sentence_on_counts": Setting("MLM, one sentence per example, token table held at count vectors",
                                          ["model.objective=mlm", *SEQ_64], "fixed", sentences=True),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--work", default=os.path.join(os.path.expanduser("~"), ".cache", "electra_keras",
                                                       "task_text_screen"))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, default=1500, help="pretraining steps (batch 32 x 128)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--size", type=int, default=1000, help="labelled training examples")
    parser.add_argument("--seeds", type=int, default=3, help="fine-tuning seeds")
    parser.add_argument("--learning-rate", type=float, default=3e-4, help="fine-tuning rate")
    parser.add_argument("--min-finetune-steps", type=int, default=200)
    parser.add_argument("--pooling", choices=("cls", "mean"), default="cls",
                        help="what the fine-tuned classifier reads: [CLS] or the mean of the tokens")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default="task_text_screen")
    return parser.parse_args(argv)


# ---- the encoders ------------------------------------------------------------------------------


def pretrain_setting(args, text, name, overrides, table=None, fixed=False, vocab="", counts=None):
    """Pretrain (or reuse) one setting; returns the run directory. `table`: count vectors to
    start the token table from (`count_vectors.counted_table`), or None; `fixed`: put it back
    after every step, so pretraining trains everything but the token table; `vocab`: a
    vocabulary file to use instead of learning one (the reference run's, so every setting and
    the count vectors share the piece ids); `counts`: piece counts to draw the discriminator's
    replacements from instead of the generator's samples (`replacements_by_frequency`)."""
    import keras

    from electra_keras.recipes import load_recipe
    from electra_keras.training import pretrain

    run = os.path.join(args.work, name)
    if os.path.exists(os.path.join(run, "backbone.keras")):
        return run
    recipe = load_recipe("tiny", [f'data.corpus=["{text}"]', f"data.vocab_size={args.vocab_size}",
                                  f"train.steps={args.steps}", f"train.checkpoint_every={args.steps}",
                                  f"train.warmup_steps={args.steps // 10}", "train.dtype=mixed_bfloat16",
                                  "train.log_every=250", f'data.vocab="{vocab}"', *overrides])
    callbacks = []
    if table is not None:
        class FromCounts(keras.callbacks.Callback):
            def on_train_begin(cb, logs=None):
                cb.embeddings = cb.model.embeddings.token_embedding.embeddings
                cb.table = count_vectors.counted_table(np.asarray(cb.embeddings), table).astype(cb.embeddings.dtype)
                cb.embeddings.assign(cb.table)

            def on_train_batch_end(cb, batch, logs=None):
                if fixed:
                    cb.embeddings.assign(cb.table)

        callbacks.append(FromCounts())
    with replacements_by_frequency(counts):
        pretrain(recipe, output_dir=args.work, run_name=name, callbacks=callbacks, verbose=2, demo=False)
    return run


@contextlib.contextmanager
def replacements_by_frequency(counts):
    """With `counts` (one per piece id; 0 for pieces never to draw), the pretrainer's sampler
    ignores the generator's logits and draws every replacement by frequency: the unigram
    generator the paper tries beside its small ones, a replacement as common as the words it replaces, which rarity
    cannot give away. The generator still trains as an MLM on the shared embeddings. None:
    the generator's samples, unchanged."""
    from keras import ops

    from electra_keras import objectives

    if counts is None:
        yield
        return
    log_counts = np.where(counts > 0, np.log(np.maximum(counts, 1)), -1e9).astype("float32")
    sample = objectives.blockwise_gumbel_sample

    def by_frequency(logits, temperature=1.0, seed=None, block_size=128):
        return sample(ops.broadcast_to(ops.convert_to_tensor(log_counts), ops.shape(logits)), 1.0, seed, block_size)

    objectives.blockwise_gumbel_sample = by_frequency
    try:
        yield
    finally:
        objectives.blockwise_gumbel_sample = sample


def piece_counts(rows, tokenizer):
    """How often each of `tokenizer`'s ordinary pieces occurs in `rows` (lists of ids); the
    special pieces ([PAD], [CLS], [unused0], ...) count 0, so they are never drawn."""
    counts = np.zeros(len(tokenizer))
    ordinary = tokenizer.ordinary_ids
    counts[ordinary] = np.bincount(np.concatenate(rows), minlength=len(tokenizer))[ordinary]
    return counts


def one_per_document(text):
    """Beside `text` (one sentence per line), the same sentences with a blank line after each,
    so packing makes each its own example."""
    path = os.path.splitext(text)[0] + "_one_per_document.txt"
    if not os.path.exists(path):
        with open(text, encoding="utf-8") as f, open(path + ".tmp", "w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in f if line.strip())
        os.replace(path + ".tmp", path)
    return path


def mlm_encoder(run):
    """An MLM run keeps its encoder inside the generator: a model directory of the encoder alone."""
    from electra_keras.convert import native
    from electra_keras.convert.mapping import Parts

    path = os.path.join(run, "encoder")
    if not os.path.exists(os.path.join(path, "backbone.keras")):
        source = native.load_model_directory(run)
        electra_vs_mlm.save_backbone(Parts.of(source.model).backbone, source, path)
    return path


# ---- the questions -----------------------------------------------------------------------------


def frozen(path, train, dev, spec):
    """Dev accuracies of logistic regressions on the mean token-table row and the mean last state."""
    from electra_keras.data import tasks
    from electra_keras.finetuning import load_backbone

    backbone, tokenizer, _ = load_backbone(path)
    table = np.asarray(backbone.token_embedding.embeddings, "float64")
    y, y_dev = (tasks.label_ids(spec, e).astype(float) for e in (train, dev))
    ids = [tokenizer.encode_batch([e.text_a for e in part]) for part in (train, dev)]
    encoded = [tasks.encode_examples(part, tokenizer, electra_vs_mlm.ALL_TASKS[TASK][0]) for part in (train, dev)]
    features = {"token table": [count_vectors.mean_vectors(i, table) for i in ids],
                "last layer": [electra_vs_mlm.mean_features(backbone, e) for e in encoded]}
    scores = {}
    for what, (x, x_dev) in features.items():
        x, x_dev = count_vectors.standardised(x, x_dev)
        scores[what] = count_vectors.cv_accuracy(x, y, x_dev, y_dev)[1]
    return scores


def probe_aucs(run):
    """The held-out probe's last AUCs (random, frequency, generator) from metrics.csv, or None
    (no metrics, or an MLM run, which has no discriminator to probe)."""
    import csv

    path = os.path.join(run, "metrics.csv")
    keys = ("eval_auc_random", "eval_auc_frequency", "eval_auc_generator")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        last = list(csv.DictReader(f))[-1]
    return [float(last[k]) for k in keys] if all(last.get(k) for k in keys) else None


def main():
    from electra_keras.data import tasks
    from electra_keras.data.tokenizer import WordPieceTokenizer

    args = parse_args()
    os.makedirs(args.work, exist_ok=True)
    spec, data_dir = electra_vs_mlm.task_spec(TASK, args.data)
    examples = {split: tasks.read_examples(spec, data_dir, split) for split in ("train", "dev")}
    text = electra_vs_mlm.task_text(argparse.Namespace(work=args.work, data=args.data), TASK)

    reference = pretrain_setting(args, text, "electra", [])  # its vocabulary and config serve all
    tokenizer = WordPieceTokenizer.from_directory(reference)
    rows = [np.asarray(r) for r in tokenizer.encode_batch([e.text_a for e in examples["train"]])]
    table = count_vectors.word_vectors(count_vectors.ppmi(count_vectors.cooccurrence(rows, len(tokenizer), 5)), 64)
    results_path = os.path.join(args.work, f"results-{args.steps}{'' if args.pooling == 'cls' else '-mean'}.jsonl")
    done = {}
    if os.path.exists(results_path):
        with open(results_path) as f:
            done = {r["setting"]: r for r in map(json.loads, f)}
    for name in args.settings:
        if name in done:
            continue
        start = time.perf_counter()
        what, overrides, from_counts, replacements, sentences = SETTINGS[name]
        if overrides is None:
            run, path = None, electra_vs_mlm.random_backbone(reference, os.path.join(args.work, "random"))
            if from_counts:
                path = count_vectors.counted_encoder(path, table, os.path.join(args.work, name))
        else:
            run = pretrain_setting(args, one_per_document(text) if sentences else text, name, overrides,
                                   table if from_counts else None, from_counts == "fixed",
                                   vocab=os.path.join(reference, "vocab.txt"),
                                   counts=piece_counts(rows, tokenizer) if replacements == "frequency" else None)
            path = mlm_encoder(run) if "model.objective=mlm" in overrides else run
        result = {"setting": name, "what": what, **frozen(path, examples["train"][:args.size], examples["dev"], spec),
                  "fine_tuned": electra_vs_mlm.finetune_seeds(
                      path, spec, data_dir, TASK, args.size, args.seeds, args.learning_rate,
                      electra_vs_mlm.finetune_epochs(args.size, 2, args.min_finetune_steps),
                      os.path.join(args.work, "finetuning"), name, args.pooling),
                  "probe": probe_aucs(run) if run else None, "seconds": time.perf_counter() - start}
        done[name] = result
        with open(results_path, "a") as f:
            f.write(json.dumps(result) + "\n")
        print(f"{name:20s} token table {result['token table']:.4f}  last layer {result['last layer']:.4f}  "
              f"fine-tuned {np.mean(result['fine_tuned']):.4f}", flush=True)
    command = " ".join(["python", "benchmarks/task_text_screen.py", *sys.argv[1:]])
    majority = np.bincount(tasks.label_ids(spec, examples["dev"])).max() / len(examples["dev"])
    write_report(args, [done[n] for n in SETTINGS if n in done], command, majority)


def write_report(args, results, command, majority=None):
    """The table (.md), the numbers (.json) and the plot (.png); `majority`: the dev set's
    majority-class accuracy, drawn as a line and stated under the table."""
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.name)
    tuned = "fine-tuned on [CLS]" if args.pooling == "cls" else "fine-tuned on the mean of the tokens"
    with open(stem + ".json", "w") as f:
        json.dump({"command": command, "steps": args.steps, "size": args.size, "pooling": args.pooling,
                   "majority": majority, "results": results}, f, indent=1)
    lines = [f"# Pretraining on the task's own text: what the encoder knows ({datetime.date.today()})", "",
             f"`KERAS_BACKEND=tensorflow {command}`", "",
             f"Rotten Tomatoes' training sentences alone, {args.steps} steps; {args.size} labelled examples; "
             "dev accuracy (%). Frozen: logistic regressions, L2 by 5-fold cross-validation. Fine-tuned: "
             f"mean ± standard deviation over {args.seeds} seeds. Probe: the held-out AUC at the end of "
             "pretraining against random replacements / by frequency / the generator's samples.", "",
             f"| setting | token table, frozen | last layer, frozen | {tuned} | probe |",
             "|---|---|---|---|---|"]
    for r in results:
        runs = 100 * np.asarray(r["fine_tuned"])
        spread = f" ± {runs.std(ddof=1):.1f}" if len(runs) > 1 else ""
        probe = " / ".join(f"{a:.3f}" for a in r["probe"]) if r["probe"] else ""
        lines.append(f"| {r['what']} | {100 * r['token table']:.1f} | {100 * r['last layer']:.1f} | "
                     f"{runs.mean():.1f}{spread} | {probe} |")
    if majority is not None:
        lines += ["", f"Always answering the majority class scores {100 * majority:.1f}."]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 0.45 * len(results) + 1.6))
    rows = np.arange(len(results))
    runs = [100 * np.asarray(r["fine_tuned"]) for r in results]
    ax.barh(rows, [r.mean() for r in runs], xerr=[r.std(ddof=1) if len(r) > 1 else 0 for r in runs],
            color="tab:blue", label=tuned)
    ax.plot([100 * r["token table"] for r in results], rows, "o", color="tab:green", label="token table, frozen")
    ax.plot([100 * r["last layer"] for r in results], rows, "s", color="tab:orange", label="last layer, frozen")
    if majority is not None:
        ax.axvline(100 * majority, color="grey", linestyle="--", label="majority class")
    random = [run.mean() for r, run in zip(results, runs) if r["setting"] == "random"]
    if random:  # the baseline and the few-label target (docs/quality.md, section 5)
        ax.axvline(random[0], color="black", linestyle=":", label="random initialisation, fine-tuned")
        ax.axvline(random[0] + 3, color="tab:red", linestyle=":", label="random initialisation + 3")
    ax.set_yticks(rows, [r["what"] for r in results])
    ax.invert_yaxis()
    ax.set_xlim(50, max(max(r.max() for r in runs), 100 * max(r["token table"] for r in results)) + 3)
    ax.set_xlabel(f"Rotten Tomatoes dev accuracy (%), {args.size} labelled examples")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=3, fontsize=8)
    fig.savefig(stem + ".png", dpi=100, bbox_inches="tight")
    print(f"wrote {stem}.md, .json, .png")


if __name__ == "__main__":
    main()
