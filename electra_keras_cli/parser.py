"""The arguments of every `electra-keras` command (electra_keras/cli.py runs them)."""

import argparse


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _add_text_options(parser):
    parser.add_argument("inputs", nargs="+",
                        help="text files, directories or globs (.txt, .jsonl, either also as .gz .bz2 .xz .zst; "
                             ".parquet; a datasets save_to_disk directory)")
    parser.add_argument("--text-field", default="text",
                        help="the text field of .jsonl records, the text column of Parquet and Arrow files")
    parser.add_argument("--encoding-errors", default="strict", choices=("strict", "replace"),
                        help="undecodable bytes: stop naming the file and line, or replace them")
    parser.add_argument("--text-format", default="auto", choices=("auto", "lines", "paragraphs"),
                        help="plain text: a sentence or paragraph per line (lines), hard-wrapped prose with "
                             "blank lines between paragraphs (paragraphs), or detected per file (auto)")
    parser.add_argument("--document-separator", default="", metavar="REGEX",
                        help="paragraphs: lines matching this end a document (default: one per file)")


def _add_case_options(parser):
    parser.add_argument("--no-lower-case", dest="lower_case", action="store_false",
                        help="keep case (default: lower-case, as BERT uncased)")
    parser.add_argument("--no-strip-accents", dest="strip_accents", action="store_false",
                        help="keep accents (default: strip them)")


# Shortcut flags of `pretrain`: each sets one recipe field.
SHORTCUTS = {
    "preset": ("model.preset", str),
    "objective": ("model.objective", str),
    "corpus": ("data.corpus", None),
    "shards": ("data.shards", str),
    "vocab": ("data.vocab", str),
    "seq_len": ("data.seq_len", _positive_int),
    "steps": ("train.steps", _positive_int),
    "batch_size": ("train.batch_size", _positive_int),
    "learning_rate": ("train.learning_rate", float),
    "warmup_steps": ("train.warmup_steps", int),
    "dtype": ("train.dtype", str),
    "seed": ("train.seed", int),
    "log_every": ("train.log_every", _positive_int),
    "checkpoint_every": ("train.checkpoint_every", _positive_int),
    "strategy": ("train.strategy", str),  # checked against recipes.STRATEGIES by the recipe
}


def build_parser():
    parser = argparse.ArgumentParser(prog="electra-keras", description="a thin command line over the library")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="let the frameworks' C++ start-up logging through (hidden by default)")

    info = commands.add_parser("info", parents=[common], help="print the sizes and parameter counts of a preset")
    info.add_argument("--preset", default="small")

    commands.add_parser("recipes", parents=[common], help="list the packaged recipes (pretrain --recipe NAME) with their key settings")

    vocab = commands.add_parser("build-vocab", parents=[common], help="learn a WordPiece vocabulary from text")
    _add_text_options(vocab)
    _add_case_options(vocab)
    vocab.add_argument("--output", required=True, help="directory for vocab.txt and tokenizer_config.json")
    vocab.add_argument("--vocab-size", type=_positive_int, default=30522)
    vocab.add_argument("--min-frequency", type=_positive_int, default=2)
    vocab.add_argument("--sample-mb", type=float, default=100.0, metavar="MB",
                       help="learn from a seeded sample of this much text, scattered over a larger corpus "
                            "(default 100; 0: all of it)")
    vocab.add_argument("--seed", type=int, default=0, help="which blocks the sample takes")

    data = commands.add_parser("build-data", parents=[common], help="pack text into TFRecord shards for pretraining")
    _add_text_options(data)
    _add_case_options(data)
    data.add_argument("--vocab", required=True,
                      help="a build-vocab directory, or a BERT-style vocab.txt (then say --no-lower-case if cased)")
    data.add_argument("--output", required=True, help="directory for the shards (rerun to resume)")
    data.add_argument("--seq-len", type=_positive_int, default=128)
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--shard-size-mb", type=float, default=None,
                      help="text per shard (default: 4, or 2 or 1 for an input under 128 MB, so it makes 32 shards or more)")
    data.add_argument("--workers", type=_positive_int, default=None, help="processes (default: one per 8 MB of input begun, per 128 MB "
                      "where they must be spawned; up to all cores)")
    data.add_argument("--no-sentence-split", dest="split_sentences", action="store_false",
                      help="take each line as one sentence (the original's input format)")
    data.add_argument("--runner", default="local", choices=("local", "beam"),
                      help="local: worker processes here; beam: an Apache Beam pipeline (the beam extra) "
                           "writing the same shards")
    data.add_argument("--beam-options", default="", metavar='"FLAGS"',
                      help="with --runner beam: Beam pipeline flags, written with '=' "
                           "(--beam-options=\"--runner=DataflowRunner --project=...\"; default: the DirectRunner)")

    pre = commands.add_parser("pretrain", parents=[common], help="pretrain ELECTRA and save the discriminator")
    pre.add_argument("--recipe", default=None, help="a .toml/.yaml recipe, or a name in recipes/ (default: tiny)")
    pre.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                     help="override a recipe field, e.g. --set train.steps=200 (repeatable)")
    pre.add_argument("--preset", help="model.preset: tiny | small | small_plus | base | large")
    pre.add_argument("--objective", choices=("electra", "mlm"), help="model.objective")
    pre.add_argument("--corpus", nargs="+", help="data.corpus: text files, directories, globs or wiki_leads")
    pre.add_argument("--shards", help="data.shards: a build-data directory")
    pre.add_argument("--vocab", help="data.vocab: a vocab.txt or a directory with one")
    for flag in ("seq_len", "steps", "batch_size", "learning_rate", "warmup_steps", "dtype", "seed",
                 "log_every", "checkpoint_every", "strategy"):
        pre.add_argument("--" + flag.replace("_", "-"), type=SHORTCUTS[flag][1], help=SHORTCUTS[flag][0])
    pre.add_argument("--output-dir", default="saved_models")
    pre.add_argument("--run-name", default=None, help="default: <recipe>-<time>; an existing run resumes")
    pre.add_argument("--overwrite", action="store_true", help="start the named run again from scratch")
    pre.add_argument("--resume", action="store_true",
                     help="continue the run named by --run-name, or the newest unfinished run of the recipe")
    pre.add_argument("--cache-dir", default=None, help="where prepared corpora go (default ~/.cache/electra_keras)")
    pre.add_argument("--quiet", action="store_true", help="no progress bar")
    pre.add_argument("--no-demo", dest="demo", action="store_false",
                     help="skip the closing demo (the discriminator on two held-out sentences with a word swapped)")

    conv = commands.add_parser("convert", parents=[common], help="convert checkpoints: TF1 releases, Hugging Face, keras-hub, ours")
    conv.add_argument("source", help="a checkpoint in any supported format (detected)")
    conv.add_argument("output", help="the directory to write (must not exist, or be empty)")
    conv.add_argument("--to", default="electra_keras", choices=("electra_keras", "hf", "keras_hub", "tf1"),
                      help="output format (default: electra_keras, the .keras files pretrain writes)")
    conv.add_argument("--from", dest="source_format", choices=("electra_keras", "hf", "keras_hub", "tf1"),
                      help="source format (default: detected)")
    conv.add_argument("--vocab", help="vocab.txt for a TF1 checkpoint (default: the one beside it)")
    conv.add_argument("--no-lower-case", dest="lower_case", action="store_const", const=False, default=None,
                      help="a cased vocabulary (TF1 checkpoints are taken as uncased otherwise)")
    conv.add_argument("--num-heads", type=_positive_int, help="TF1: attention heads, when not hidden // 64")
    conv.add_argument("--generator", help="Hugging Face: a generator directory to pair with the discriminator "
                                          "(default: SOURCE/generator when present)")
    conv.add_argument("--overwrite", action="store_true", help="replace an existing output directory")

    fine = commands.add_parser("finetune", parents=[common], help="fine-tune a discriminator: GLUE, BoolQ, SQuAD, your CSV/TSV/JSONL")
    fine.add_argument("--task", required=True,
                      help="cola, sst-2, mrpc, sts-b, qqp, mnli, qnli, rte, wnli, boolq, squad, squad2, or custom")
    fine.add_argument("--model", required=True, help="a pretraining run (saved_models/<run>) or any checkpoint "
                                                     "electra-keras convert reads")
    fine.add_argument("--data-dir", help="the task's files as distributed (GLUE: train.tsv, dev.tsv, test.tsv; "
                                         "BoolQ: train.jsonl, val.jsonl; SQuAD: train-v1.1.json, dev-v1.1.json)")
    custom = fine.add_argument_group("custom tasks (--task custom): CSV, TSV or JSONL files with a header / fields")
    custom.add_argument("--train", help="training file")
    custom.add_argument("--dev", help="dev file (scored after every epoch)")
    custom.add_argument("--test", help="unlabeled file to predict (electra-keras evaluate --split test)")
    custom.add_argument("--text-columns", nargs="+", help="one column, or two for sentence pairs")
    custom.add_argument("--label-column", default="label")
    custom.add_argument("--regression", action="store_true", help="a numeric target instead of classes")
    custom.add_argument("--labels", nargs="+", help="the class labels in order (default: sorted as found)")
    hyper = fine.add_argument_group("hyperparameters (default: the original's for the task and model size)")
    hyper.add_argument("--epochs", type=float)
    hyper.add_argument("--learning-rate", type=float)
    hyper.add_argument("--layer-decay", type=float, help="layer-wise rate decay; 1.0 turns it off")
    hyper.add_argument("--batch-size", type=_positive_int)
    hyper.add_argument("--max-seq-len", type=_positive_int)
    hyper.add_argument("--seed", type=int)
    hyper.add_argument("--pooling", choices=("cls", "mean"),
                       help="what a classifier reads: the [CLS] state (default, the original) or the tokens' mean")
    hyper.add_argument("--head-first", action="store_true", default=None,
                       help="fit the classifier's head on the frozen encoder's features before fine-tuning it all "
                            "(linear probing, then fine-tuning; docs/quality.md shows what it is worth)")
    hyper.add_argument("--dtype", choices=("float32", "mixed_bfloat16", "mixed_float16"))
    hyper.add_argument("--max-train-examples", type=_positive_int, help="train on the first N examples")
    fine.add_argument("--output-dir", default="saved_models")
    fine.add_argument("--run-name", help="default: <model>-<task>-<time>")
    fine.add_argument("--overwrite", action="store_true", help="replace an existing fine-tuned run of that name")
    fine.add_argument("--quiet", action="store_true", help="no progress bar")

    ev = commands.add_parser("evaluate", parents=[common], help="score a fine-tuned run on a split and write its predictions")
    ev.add_argument("--model", required=True, help="a fine-tuned run directory (what finetune wrote)")
    ev.add_argument("--data-dir", help="the task's files (default: those the run was fine-tuned on)")
    ev.add_argument("--split", default="dev", help="dev (default), test, dev_mismatched, ...")

    exp = commands.add_parser("export", parents=[common], help="export a discriminator or fine-tuned model: SavedModel, TFLite, ONNX, keras-hub, hf")
    exp.add_argument("--model", required=True, help="a model directory: a pretraining or fine-tuning run")
    exp.add_argument("--format", required=True, choices=("saved_model", "tflite", "onnx", "keras_hub", "hf"))
    exp.add_argument("--quantize", default="none", choices=("none", "float16", "int8"), help="TFLite only")
    exp.add_argument("--seq-len", type=_positive_int, default=None,
                     help="TFLite's static length and the text signatures' padding (default: the model's)")
    exp.add_argument("--output-dir", default=None, help="default: MODEL/export")

    det = commands.add_parser("detect", parents=[common], help="P(replaced) of every word piece: a discriminator on your text")
    det.add_argument("texts", nargs="*", help="texts to score (default: one per line from standard input)")
    det.add_argument("--model", required=True, help="a pretraining run, or a directory electra-keras convert wrote")
    det.add_argument("--threshold", type=float, default=0.5, help="P(replaced) shown in red from here")
    det.add_argument("--max-length", type=_positive_int, default=None, help="longest input in pieces")
    det.add_argument("--color", default="auto", choices=("auto", "always", "never"),
                     help="auto: on a terminal, plain when piped")
    return parser
