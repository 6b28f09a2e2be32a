"""How a WordPiece vocabulary learnt from a sample of a corpus differs from one learnt from all of it.

The corpus is all the running text in ../shared/data that no held-out measure reads: the
Wikipedia lead sections, Moby-Dick, the State of the Union addresses, BoolQ's training passages
and questions and Rotten Tomatoes' training sentences, one file. For each sample size (the
seeded, scattered blocks of `VocabularySample`, as build-vocab takes them) a vocabulary of
`--vocab-size` pieces is learnt and compared with the one learnt from the whole text: the
share of the whole text's pieces it also has, and word pieces per word and the [UNK] rate on
text it never saw (BoolQ's validation passages, Rotten Tomatoes' dev sentences).

    python benchmarks/vocab_sample.py [--sizes 1 2 4 8 16] [--vocab-size 30522]

Results: benchmarks/results/vocab_sample.{md,png}.
"""

import argparse
import csv
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    parser.add_argument("--work", default=os.path.join(os.path.expanduser("~"), ".cache", "electra_keras", "vocab_sample"))
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--sizes", nargs="+", type=float, default=[1, 2, 4, 8, 16], help="sample sizes in MB")
    parser.add_argument("--vocab-size", type=int, default=30522)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def jsonl_texts(path, *fields):
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            yield from (record[field] for field in fields if record.get(field))


def tsv_texts(path, column="sentence"):
    with open(path, encoding="utf-8", newline="") as f:
        yield from (row[column] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def corpus_file(args):
    """The pretraining-side text as one file of documents (a blank line after each)."""
    from electra_keras.data.text import iter_lines

    path = os.path.join(args.work, "corpus.txt")
    if os.path.exists(path):
        return path
    os.makedirs(args.work, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        for name in ("wiki_leads/wiki_leads.jsonl", "public_domain/moby_dick.txt", "public_domain/state_of_the_union.txt"):
            for line in iter_lines(os.path.join(args.data, name), sentences=False):
                out.write(line + "\n")
            out.write("\n")
        for text in jsonl_texts(os.path.join(args.data, "boolq", "train.jsonl"), "passage", "question"):
            out.write(text.replace("\n", " ") + "\n\n")
        for text in tsv_texts(os.path.join(args.data, "rotten_tomatoes", "train.tsv")):
            out.write(text + "\n\n")
    os.replace(path + ".tmp", path)
    return path


def unseen_text(args):
    return (list(jsonl_texts(os.path.join(args.data, "boolq", "val.jsonl"), "passage"))
            + list(tsv_texts(os.path.join(args.data, "rotten_tomatoes", "dev.tsv"))))


def learn(path, sample_mb, args):
    from electra_keras.data.tokenizer import VocabularySample, build_vocab

    sample = VocabularySample([path], sample_mb, args.seed, text_format="lines")
    started = time.perf_counter()
    tokenizer = build_vocab(sample, args.vocab_size)
    return tokenizer, sample, time.perf_counter() - started


def main():
    args = parse_args()
    path = corpus_file(args)
    texts = unseen_text(args)
    words = sum(len(t.split()) for t in texts)
    full, full_sample, full_seconds = learn(path, 0, args)
    full_pieces = set(full.tokens)
    rows = []
    for size in [*sorted(args.sizes), 0]:
        tokenizer, sample, seconds = (full, full_sample, full_seconds) if size == 0 else learn(path, size, args)
        ids = tokenizer.encode_batch(texts)
        pieces = sum(len(i) for i in ids)
        unk = sum(i.count(tokenizer.special_ids["unk_token_id"]) for i in ids)
        rows.append(dict(sample_mb=sample.kept_bytes / 2**20, corpus_mb=sample.total_bytes / 2**20, pieces=len(tokenizer),
                         shared=len(full_pieces & set(tokenizer.tokens)) / len(full_pieces),
                         pieces_per_word=pieces / words, unk_rate=unk / pieces, seconds=seconds))
        print(rows[-1], flush=True)
    write_report(args, rows, len(texts), words)


def write_report(args, rows, texts, words):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    full = rows[-1]
    lines = [f"`python benchmarks/vocab_sample.py {' '.join(sys.argv[1:])}`, {time.strftime('%Y-%m-%d')}: "
             f"{args.vocab_size:,}-piece vocabularies learnt from seeded samples (seed {args.seed}) of a "
             f"{full['corpus_mb']:.1f} MB corpus, against the one learnt from all of it; pieces per word and "
             f"[UNK] on {texts:,} texts ({words:,} words) no vocabulary saw.", "",
             "| sample (MB) | share of the corpus | pieces learnt | pieces shared with the whole text's vocabulary | "
             "pieces per unseen word | vs the whole text's | [UNK] | seconds to learn |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['sample_mb']:.1f} | {r['sample_mb'] / r['corpus_mb']:.0%} | {r['pieces']:,} | {r['shared']:.1%} | "
                     f"{r['pieces_per_word']:.4f} | {r['pieces_per_word'] / full['pieces_per_word'] - 1:+.2%} | "
                     f"{r['unk_rate']:.4%} | {r['seconds']:.0f} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vocab_sample.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    xs = [r["sample_mb"] for r in rows]
    axes[0].plot(xs, [100 * r["shared"] for r in rows], marker="o")
    axes[0].set(xscale="log", xlabel="sample (MB)", ylabel="% of the whole text's pieces",
                title="pieces shared with the whole text's vocabulary")
    axes[1].plot(xs, [100 * (r["pieces_per_word"] / full["pieces_per_word"] - 1) for r in rows], marker="o")
    axes[1].set(xscale="log", xlabel="sample (MB)", ylabel="% more pieces per word",
                title="unseen text: pieces per word vs the whole text's")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "vocab_sample.png"), dpi=90)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
