"""The original's TF1 checkpoints (google-research/electra): read them, and write them back.

A TF1 checkpoint holds variables by name (REFERENCE.md section 6) and no configuration, so
the sizes are read from the tensor shapes: vocabulary and E from the word embeddings, H and
the depth from the encoder layers, the generator's width and depth from `generator/`. The
head count is not in any shape: it is H // 64 (every released model), or `num_heads`.

What the checkpoint holds decides what comes out:
  discriminator_predictions/* and a generator   ElectraPretrainer
      (generator/embeddings/* present: untied embeddings; no generator/encoder: one shared encoder)
  discriminator_predictions/* only              the discriminator
  generator_predictions/* only                  the MLM baseline (objective "mlm")
  neither                                       an ElectraBackbone
Optimizer slots (adam_m, adam_v) and global_step are skipped.
"""

import os
import re

from electra_keras.config import ElectraConfig
from electra_keras.convert import mapping
from electra_keras.convert.common import Converted, build_model, find_tokenizer, kind_of

_LAYER = re.compile(r"^(electra|generator)/encoder/layer_(\d+)/")


def checkpoint_prefix(path):
    """The checkpoint prefix of `path`: a prefix itself, or a directory with a checkpoint in it."""
    import tensorflow as tf

    if os.path.exists(path + ".index"):
        return path
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix:
            return prefix
        indexes = sorted(f for f in os.listdir(path) if f.endswith(".index"))
        if len(indexes) == 1:
            return os.path.join(path, indexes[0][: -len(".index")])
    return None


def is_tf1_checkpoint(path):
    return checkpoint_prefix(path) is not None


def read_checkpoint(path):
    """{name: shape} and a reader of a TF1 checkpoint; names the file when it is not one."""
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    if prefix is None:
        raise FileNotFoundError(f"{path} is not a TF1 checkpoint: expected <prefix>.index and "
                                f"<prefix>.data-* files, or a directory with a 'checkpoint' file")
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        raise ValueError(f"{prefix} is not a readable TF1 checkpoint: {str(e).splitlines()[0]}") from None
    return prefix, reader, reader.get_variable_to_shape_map()


def config_from_shapes(shapes, num_heads=None, tokenizer=None, path="checkpoint"):
    """(kind, ElectraConfig) from the variable shapes of an original checkpoint."""

    def shape(name):
        if name not in shapes:
            raise ValueError(f"{path}: no variable {name}; is this an ELECTRA (or BERT-style) checkpoint?")
        return shapes[name]

    vocab_size, embedding_dim = shape("electra/embeddings/word_embeddings")
    layers = {"electra": set(), "generator": set()}
    for name in shapes:
        match = _LAYER.match(name)
        if match:
            layers[match.group(1)].add(int(match.group(2)))
    if not layers["electra"]:
        raise ValueError(f"{path}: no electra/encoder/layer_* variables")
    hidden_dim = shape("electra/encoder/layer_0/attention/self/query/kernel")[1]
    values = dict(
        vocabulary_size=vocab_size,
        embedding_dim=embedding_dim,
        hidden_dim=hidden_dim,
        num_layers=max(layers["electra"]) + 1,
        num_heads=num_heads or max(1, hidden_dim // 64),
        intermediate_dim=shape("electra/encoder/layer_0/intermediate/dense/kernel")[1],
        max_sequence_length=shape("electra/embeddings/position_embeddings")[0],
        num_segments=shape("electra/embeddings/token_type_embeddings")[0],
    )
    values["sequence_length"] = min(128, values["max_sequence_length"])
    if tokenizer is not None:
        values.update({k: v for k, v in tokenizer.special_ids.items() if k != "unk_token_id"})
    has_disc_head = "discriminator_predictions/dense/kernel" in shapes
    has_gen_head = "generator_predictions/output_bias" in shapes
    if layers["generator"]:
        generator_hidden = shape("generator/encoder/layer_0/attention/self/query/kernel")[1]
        values.update(
            generator_hidden_fraction=generator_hidden / hidden_dim,
            generator_layer_fraction=(max(layers["generator"]) + 1) / values["num_layers"],
            weight_sharing="none" if "generator/embeddings/word_embeddings" in shapes else "embeddings",
        )
    elif has_gen_head and has_disc_head:
        values.update(generator_hidden_fraction=1.0, weight_sharing="all")
    if has_disc_head and (has_gen_head or layers["generator"]):
        kind = "pretrainer"
    elif has_disc_head:
        kind = "discriminator"
    elif has_gen_head:
        kind, values["objective"] = "generator", "mlm"
    else:
        kind = "backbone"
    return kind, ElectraConfig(**values)


def find_vocab(prefix):
    """vocab.txt next to a checkpoint (its directory or the one above, as in the releases)."""
    directory = os.path.dirname(os.path.abspath(prefix))
    for candidate in (directory, os.path.dirname(directory)):
        if os.path.exists(os.path.join(candidate, "vocab.txt")):
            return candidate
    return None


def load_tf1(path, vocab=None, lower_case=None, num_heads=None):
    """Convert an original TF1 checkpoint; returns a `Converted`.

    `vocab`: vocab.txt or a directory with one; by default the one next to the checkpoint
    (the released tarballs put it beside the model directory). Released models are uncased;
    pass lower_case=False for a cased vocabulary. `num_heads` when H // 64 is not the count.
    """
    prefix, reader, shapes = read_checkpoint(path)
    vocab = vocab or find_vocab(prefix)
    if vocab is None:
        raise FileNotFoundError(f"no vocab.txt next to {prefix}: pass the vocabulary the model was trained "
                                f"with (vocab=..., --vocab)")
    tokenizer = find_tokenizer(None, vocab, lower_case)
    kind, config = config_from_shapes(shapes, num_heads, tokenizer, path=prefix)
    if config.vocabulary_size != len(tokenizer):
        raise ValueError(f"{vocab}: {len(tokenizer)} tokens, but the checkpoint's word embeddings have "
                         f"{config.vocabulary_size} rows")
    model = build_model(kind, config)
    tensors = {name: reader.get_tensor(name) for name in shapes if not mapping.ignored(name)}
    entries = mapping.plan(mapping.Parts.of(model), "tf1")
    mapping.assign(entries, {"checkpoint": tensors}, "tf1", what=f"TF1 checkpoint {prefix}")
    return Converted(model, tokenizer, config, kind)


def save_tf1(model, prefix, step=0):
    """Write `model` as an original-style TF1 checkpoint at `prefix` (with global_step).

    The names are the original's, so google-research/electra's run_finetuning.py can start from
    it (`init_checkpoint`). Returns the prefix.
    """
    import numpy as np
    import tensorflow as tf

    kind_of(model)  # rejects models of other types early
    tensors = mapping.extract(mapping.plan(mapping.Parts.of(model), "tf1"), "tf1")["checkpoint"]
    tensors["global_step"] = np.asarray(step, dtype="int64")
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
    # The 'checkpoint' state file names the prefix relative to its directory, so the directory can move.
    with open(os.path.join(os.path.dirname(os.path.abspath(prefix)), "checkpoint"), "w") as f:
        name = os.path.basename(prefix)
        f.write(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    return prefix


__all__ = ["load_tf1", "save_tf1", "config_from_shapes", "checkpoint_prefix", "is_tf1_checkpoint"]
