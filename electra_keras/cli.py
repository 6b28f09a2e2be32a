"""`electra-keras`: a thin command line over the library.

    electra-keras info [--preset NAME]                  sizes and parameter counts of a preset
    electra-keras recipes                               the packaged recipes and their key settings
    electra-keras build-vocab TEXT... --output DIR      learn a WordPiece vocabulary
    electra-keras build-data TEXT... --vocab V --output DIR   packed TFRecord shards
    electra-keras pretrain [--recipe R] [--set k=v]     pretrain, save the discriminator
    electra-keras convert SOURCE OUTPUT [--to FORMAT]   TF1 / Hugging Face / keras-hub checkpoints
    electra-keras finetune --task T --model DIR         GLUE-style tasks, BoolQ, SQuAD, CSV/TSV/JSONL
    electra-keras evaluate --model RUN [--split S]      score a fine-tuned run, write its predictions
    electra-keras export --model DIR --format F         SavedModel, TFLite, ONNX for serving
    electra-keras detect --model DIR "text" ...         P(replaced) of every word piece

`pretrain` with no arguments runs the default recipe (the tiny model on the default corpus).
"""

import argparse
import signal
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _add_text_options(parser):
    parser.add_argument("inputs", nargs="+", help="text files, directories or globs (.txt, .jsonl, .gz)")
    parser.add_argument("--text-field", default="text", help="the text field of .jsonl records")
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
    parser = argparse.ArgumentParser(prog="electra-keras", description=__doc__.split("\n")[0])
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

    data = commands.add_parser("build-data", parents=[common], help="pack text into TFRecord shards for pretraining")
    _add_text_options(data)
    _add_case_options(data)
    data.add_argument("--vocab", required=True,
                      help="a build-vocab directory, or a BERT-style vocab.txt (then say --no-lower-case if cased)")
    data.add_argument("--output", required=True, help="directory for the shards (rerun to resume)")
    data.add_argument("--seq-len", type=_positive_int, default=128)
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--shard-size-mb", type=float, default=4.0, help="text per shard")
    data.add_argument("--workers", type=_positive_int, default=None, help="processes (default: one per 16 MB of input, up to all cores)")
    data.add_argument("--no-sentence-split", dest="split_sentences", action="store_false",
                      help="take each line as one sentence (the original's input format)")

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


def describe(config):
    """The derived figures worth seeing before a run: sizes and parameter counts."""
    from electra_keras.models import ElectraPretrainer

    model = ElectraPretrainer(config)
    gen = model.generator_backbone
    lines = [
        f"objective {config.objective}, weight sharing {config.weight_sharing}",
        f"discriminator: {config.num_layers} layers, hidden {config.hidden_dim}, "
        f"{config.num_heads} heads, FFN {config.intermediate_dim}, embeddings {config.embedding_dim}",
        f"generator:     {gen.num_layers} layers, hidden {gen.hidden_dim}, "
        f"{gen.num_heads} heads, FFN {gen.intermediate_dim}",
        f"backbone parameters (fine-tuned): {model.backbone.count_params():,}",
        f"all pretraining parameters:       {model.count_params():,}",
        f"masked slots per sequence of {config.sequence_length}: {config.max_predictions()}",
    ]
    return model, lines


def run_info(args):
    from electra_keras.config import ElectraConfig

    _, lines = describe(ElectraConfig.from_preset(args.preset))
    print(f"preset {args.preset}")
    print("\n".join(lines))
    return 0


def run_recipes(args):
    from electra_keras.recipes import load_recipe, packaged_recipes

    rows = [("recipe", "preset", "objective", "steps", "batch", "seq len", "rate", "corpus")]
    for name, path in packaged_recipes().items():
        recipe = load_recipe(path)
        corpus = recipe.data.shards or ", ".join(recipe.data.corpus) or "yours: --corpus FILES"
        rows.append((name, recipe.model.get("preset", ""), recipe.model.get("objective", "electra"),
                     f"{recipe.train.steps:,}", str(recipe.train.batch_size), str(recipe.data.seq_len),
                     f"{recipe.train.learning_rate:g}", corpus))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    print("\nelectra-keras pretrain --recipe NAME runs one; --set section.key=value changes a field.")
    return 0


def run_build_vocab(args):
    from electra_keras.data.text import find_text_files, iter_lines
    from electra_keras.data.tokenizer import build_vocab

    files = find_text_files(args.inputs)
    read = dict(text_field=args.text_field, encoding_errors=args.encoding_errors, text_format=args.text_format,
                document_separator=args.document_separator)
    lines = (line for f in files for line in iter_lines(f, **read))
    tokenizer = build_vocab(lines, args.vocab_size, args.lower_case, args.strip_accents,
                            min_frequency=args.min_frequency, show_progress=True)
    tokenizer.save(args.output)
    print(f"build-vocab: {len(tokenizer):,} tokens from {len(files)} file(s) -> {args.output}/vocab.txt "
          f"(lower case {tokenizer.lower_case}, strip accents {tokenizer.strip_accents})")
    return 0


def run_build_data(args):
    from electra_keras.data.build import build_pretraining_data
    from electra_keras.data.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(args.vocab, args.lower_case, args.strip_accents)
    build_pretraining_data(
        args.inputs, tokenizer, args.output, seq_len=args.seq_len, seed=args.seed,
        shard_size_mb=args.shard_size_mb, num_workers=args.workers, text_field=args.text_field,
        encoding_errors=args.encoding_errors, split_sentences=args.split_sentences,
        text_format=args.text_format, document_separator=args.document_separator,
    )
    print(f"build-data: shards, vocab.txt and data_info.json in {args.output}/")
    return 0


def recipe_from_args(args):
    """The recipe file (or the default) with --set overrides, then the shortcut flags."""
    from electra_keras.recipes import load_recipe

    overrides = list(args.overrides)
    for flag, (field, _) in SHORTCUTS.items():
        value = getattr(args, flag, None)
        if value is not None:
            if isinstance(value, list):
                value = "[" + ", ".join(f'"{v}"' for v in value) + "]"
            overrides.append(f"{field}={value}")
    return load_recipe(args.recipe, overrides)


def run_pretrain(args):
    from electra_keras.training import Preempted, pretrain

    recipe = recipe_from_args(args)
    try:
        pretrain(recipe, output_dir=args.output_dir, run_name=args.run_name, cache_dir=args.cache_dir,
                 overwrite=args.overwrite, verbose=0 if args.quiet else 1, resume=args.resume, demo=args.demo)
    except Preempted as stopped:
        print(f"electra-keras pretrain: {stopped}", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0


def run_convert(args):
    from electra_keras import convert

    converted = convert.convert(
        args.source, args.output, to=args.to, source_format=args.source_format, overwrite=args.overwrite,
        vocab=args.vocab, lower_case=args.lower_case, num_heads=args.num_heads, generator=args.generator,
    )
    config = converted.config
    model = {"pretrainer": "ElectraPretrainer (generator + discriminator)", "generator": "MLM generator",
             "discriminator": "discriminator", "backbone": "backbone"}[converted.kind]
    print(f"convert: {model}: {config.num_layers} layers, hidden {config.hidden_dim}, {config.num_heads} heads, "
          f"embeddings {config.embedding_dim}, vocab {config.vocabulary_size:,} -> {args.output}/ ({args.to})")
    if args.to == "hf":
        written = "ElectraForMaskedLM" if converted.kind == "generator" else (
            "ElectraModel" if converted.kind == "backbone" else "ElectraForPreTraining")
        extra = f" and {args.output}/generator/ (ElectraForMaskedLM)" if converted.kind == "pretrainer" else ""
        print(f"convert: transformers.{written}.from_pretrained({args.output!r}) loads it{extra}")
    return 0


def run_finetune(args):
    from electra_keras.data import tasks
    from electra_keras.finetuning import finetune, summary_line

    task = args.task
    if task.lower() == "custom":
        if not (args.train and args.text_columns):
            raise ValueError("--task custom needs --train FILE and --text-columns NAME [NAME] (and usually --dev)")
        files = {split: path for split, path in (("train", args.train), ("dev", args.dev), ("test", args.test)) if path}
        kind = tasks.REGRESSION if args.regression else tasks.CLASSIFICATION
        task = tasks.custom_task(files, args.text_columns, args.label_column, kind=kind,
                                 labels=tuple(args.labels) if args.labels else None)
    elif not args.data_dir:
        raise ValueError(f"--task {args.task} needs --data-dir: the directory with the task's files")
    names = ("epochs", "learning_rate", "layer_decay", "batch_size", "max_seq_len", "seed", "dtype",
             "max_train_examples", "pooling")
    overrides = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    run_dir, metrics = finetune(args.model, task, args.data_dir, output_dir=args.output_dir,
                                run_name=args.run_name, overwrite=args.overwrite,
                                verbose=0 if args.quiet else 1, **overrides)
    if args.quiet:
        print(summary_line(args.task, metrics, run_dir))
    return 0


def run_evaluate(args):
    from electra_keras.finetuning import evaluate

    evaluate(args.model, args.data_dir, args.split)
    return 0


def run_export(args):
    from electra_keras.export import export

    path = export(args.model, args.format, args.output_dir, args.quantize, args.seq_len)
    print(f"export: {args.format} -> {path} (see MANIFEST.json beside it)")
    return 0


def run_detect(args):
    from electra_keras.detection import detect

    texts = args.texts or [line.strip() for line in sys.stdin if line.strip()]
    if not texts:
        raise ValueError("no text: give texts as arguments or one per line on standard input")
    color = {"auto": sys.stdout.isatty(), "always": True, "never": False}[args.color]
    for found in detect(args.model, texts, max_length=args.max_length):
        print(found.format(color=color, threshold=args.threshold))
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if argv is None and not args.verbose:  # the program, not a call from Python
        from electra_keras.quiet import filter_framework_logging

        filter_framework_logging()
    commands = {"info": run_info, "recipes": run_recipes, "build-vocab": run_build_vocab, "build-data": run_build_data,
                "pretrain": run_pretrain, "convert": run_convert, "finetune": run_finetune,
                "evaluate": run_evaluate, "export": run_export, "detect": run_detect}
    try:
        return commands[args.command](args)
    except (ValueError, FloatingPointError, FileNotFoundError, FileExistsError) as error:
        # bad input: the message names the culprit
        print(f"electra-keras {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"electra-keras {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
