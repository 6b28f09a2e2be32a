"""The commands of `electra-keras` (the program is `electra_keras_cli`, which parses the
arguments without importing a framework and then calls `run`)."""

import signal
import sys

from electra_keras_cli.parser import SHORTCUTS, build_parser


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
    from electra_keras.data.text import find_text_files
    from electra_keras.data.tokenizer import VocabularySample, build_vocab

    if args.sample_mb < 0:
        raise ValueError(f"--sample-mb {args.sample_mb:g}: expected a size in MB, or 0 for all of the text")
    files = find_text_files(args.inputs)
    sample = VocabularySample(files, args.sample_mb, args.seed, text_field=args.text_field,
                              encoding_errors=args.encoding_errors, text_format=args.text_format,
                              document_separator=args.document_separator)
    tokenizer = build_vocab(sample, args.vocab_size, args.lower_case, args.strip_accents,
                            min_frequency=args.min_frequency, show_progress=True)
    tokenizer.save(args.output)
    print(f"build-vocab: {len(tokenizer):,} tokens from {sample.describe()} in {len(files)} file(s) -> "
          f"{args.output}/vocab.txt (lower case {tokenizer.lower_case}, strip accents {tokenizer.strip_accents})")
    return 0


def run_build_data(args):
    from electra_keras.data.build import build_pretraining_data
    from electra_keras.data.tokenizer import load_tokenizer

    if args.runner == "beam":
        if args.workers is not None:
            raise ValueError("--workers: with --runner beam, Beam decides the parallelism (the DirectRunner: "
                             "--beam-options=\"--direct_num_workers=N --direct_running_mode=multi_processing\")")
        try:
            import electra_keras.data.beam_build  # noqa: F401
        except ImportError as error:  # names the extra to install
            print(f"electra-keras build-data: error: {error}", file=sys.stderr)
            return 1
    elif args.beam_options:
        raise ValueError("--beam-options: only with --runner beam")
    tokenizer = load_tokenizer(args.vocab, args.lower_case, args.strip_accents)
    build_pretraining_data(
        args.inputs, tokenizer, args.output, seq_len=args.seq_len, seed=args.seed,
        shard_size_mb=args.shard_size_mb, num_workers=args.workers, text_field=args.text_field,
        encoding_errors=args.encoding_errors, split_sentences=args.split_sentences,
        text_format=args.text_format, document_separator=args.document_separator,
        runner=args.runner, beam_options=args.beam_options or None,
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
             "max_train_examples", "pooling", "head_first")
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


def run(args):
    """Run the parsed command `args`; returns the exit status (2 for bad input, named)."""
    commands = {"info": run_info, "recipes": run_recipes, "build-vocab": run_build_vocab, "build-data": run_build_data,
                "pretrain": run_pretrain, "convert": run_convert, "finetune": run_finetune,
                "evaluate": run_evaluate, "export": run_export, "detect": run_detect}
    from electra_keras.atomic import NoSpaceLeft
    from electra_keras.run_lock import RunDirectoryBusy

    try:
        return commands[args.command](args)
    except (ValueError, FloatingPointError, FileNotFoundError, FileExistsError) as error:
        # bad input: the message names the culprit
        print(f"electra-keras {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (RunDirectoryBusy, NoSpaceLeft) as error:  # the message says what to do
        print(f"electra-keras {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"electra-keras {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def main(argv=None):
    """`electra-keras ARGS` from Python: main(["pretrain", "--steps", "10"])."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    import electra_keras_cli

    sys.exit(electra_keras_cli.main())
