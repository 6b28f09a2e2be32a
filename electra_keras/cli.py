"""`electra-keras`: a thin command line over the library.

    electra-keras info [--preset NAME]          sizes and parameter counts of a preset
    electra-keras pretrain [options]            pretrain, save the discriminator

`pretrain` trains on a synthetic corpus (`electra_keras.data.markov_corpus`) until the text
pipeline lands; everything else (model, objective, optimizer, saving) is the real thing.
"""

import argparse
import datetime
import json
import os
import sys


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="electra-keras", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="print the sizes and parameter counts of a preset")
    info.add_argument("--preset", default="small")

    pre = commands.add_parser("pretrain", help="pretrain ELECTRA and save the discriminator")
    pre.add_argument("--preset", default="tiny", help="tiny | small | small_plus | base | large")
    pre.add_argument("--objective", default="electra", choices=("electra", "mlm"))
    pre.add_argument("--steps", type=_positive_int, default=100)
    pre.add_argument("--batch-size", type=_positive_int, default=16)
    pre.add_argument("--seq-len", type=_positive_int, default=64)
    pre.add_argument("--learning-rate", type=float, default=1e-3)
    pre.add_argument("--warmup-steps", type=int, default=None, help="default: 10%% of --steps")
    pre.add_argument("--dtype", default=None, help="dtype policy, e.g. mixed_bfloat16")
    pre.add_argument("--seed", type=int, default=0)
    pre.add_argument("--output-dir", default="saved_models")
    pre.add_argument("--run-name", default=None, help="default: <preset>-<objective>-<time>")
    pre.add_argument("--quiet", action="store_true", help="no progress bar")
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


def run_pretrain(args):
    import keras
    import numpy as np

    from electra_keras.config import ElectraConfig
    from electra_keras.data import markov_corpus
    from electra_keras.optimizers import electra_adamw

    config = ElectraConfig.from_preset(
        args.preset, objective=args.objective, sequence_length=args.seq_len
    )
    keras.utils.set_random_seed(args.seed)
    if args.dtype:
        keras.config.set_dtype_policy(args.dtype)
    model, lines = describe(config)
    warmup = args.warmup_steps if args.warmup_steps is not None else max(1, args.steps // 10)
    optimizer = electra_adamw(args.learning_rate, warmup_steps=warmup, total_steps=args.steps)
    model.compile(optimizer=optimizer)
    decayed = sum(optimizer.decays(v) for v in model.trainable_weights)
    lines += [
        f"tokens per step: {args.batch_size} x {args.seq_len} = {args.batch_size * args.seq_len:,}",
        f"variables with weight decay: {decayed} of {len(model.trainable_weights)}",
        f"backend {keras.backend.backend()}, dtype policy {keras.config.dtype_policy().name}",
    ]
    print("\n".join(lines), flush=True)

    corpus_size = min(args.steps * args.batch_size, 4096)
    data = markov_corpus(corpus_size, args.seq_len, config.vocabulary_size, seed=args.seed)
    steps_per_epoch = max(1, corpus_size // args.batch_size)
    epochs = -(-args.steps // steps_per_epoch)
    history = model.fit(
        data,
        batch_size=args.batch_size,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        verbose=0 if args.quiet else 2 if epochs > 1 else 1,
    ).history

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = os.path.join(args.output_dir, args.run_name or f"{args.preset}-{args.objective}-{stamp}")
    os.makedirs(run_dir, exist_ok=True)
    model.save(os.path.join(run_dir, "pretrainer.keras"))
    if model.discriminator is not None:
        model.discriminator.save(os.path.join(run_dir, "discriminator.keras"))
    model.backbone.save(os.path.join(run_dir, "backbone.keras"))
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        f.write(config.to_json())
    with open(os.path.join(run_dir, "history.json"), "w") as f:
        json.dump({k: [float(x) for x in v] for k, v in history.items()}, f, indent=1)
    final = {k: round(float(np.asarray(v[-1])), 4) for k, v in history.items()}
    print(f"final metrics: {final}")
    print(f"saved to {run_dir}/")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return {"info": run_info, "pretrain": run_pretrain}[args.command](args)
    except ValueError as error:  # configuration errors carry a message naming the field
        print(f"electra-keras {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
