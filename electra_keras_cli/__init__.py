"""`electra-keras`: a thin command line over the library.

This package sits beside `electra_keras`, not in it: `import electra_keras` imports Keras (it
registers every class a saved `.keras` file names), while `electra-keras --help` and a bad
argument should answer at once, with no framework loaded. So the arguments are parsed here and
only a command that runs imports `electra_keras.cli`.

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

import sys

from electra_keras_cli.parser import build_parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if argv is None and not args.verbose:  # the program, not a call from Python
        from electra_keras_cli.quiet import filter_framework_logging

        filter_framework_logging()  # before any framework loads
    from electra_keras.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
