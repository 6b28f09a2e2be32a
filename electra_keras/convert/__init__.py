"""Checkpoint conversion: Google's TF1 releases, Hugging Face, keras-hub presets and our own.

    from electra_keras import convert
    converted = convert.load("electra_small/")          # any format, detected
    converted.model                                      # ElectraPretrainer / discriminator / ...
    convert.save(converted, "out/", to="hf")             # transformers.ElectraForPreTraining loads it

Weight names of every format sit in one table, `mapping.py`; loading checks that every tensor
the model needs is there with the right shape and that nothing in the checkpoint is left
unread, and names whatever is not. The vocabulary (vocab.txt + tokenizer_config.json) travels
with every converted model.
"""

import os
import shutil

from electra_keras.convert.common import Converted, build_model
from electra_keras.convert.hf import is_hf_directory, load_hf, save_hf
from electra_keras.convert.keras_hub import is_keras_hub_preset, load_keras_hub, save_keras_hub
from electra_keras.convert.mapping import ConversionError
from electra_keras.convert.native import is_model_directory, load_model_directory, save_model_directory
from electra_keras.convert.tf1 import is_tf1_checkpoint, load_tf1, save_tf1

FORMATS = ("electra_keras", "tf1", "hf", "keras_hub")


def detect_format(path):
    """Which format the checkpoint at `path` is in; a clear error when it is none of them."""
    if not os.path.exists(path) and not os.path.exists(path + ".index"):
        raise FileNotFoundError(f"{path} does not exist")
    if os.path.isdir(path):
        if is_model_directory(path):
            return "electra_keras"
        if is_keras_hub_preset(path):
            return "keras_hub"
        if is_hf_directory(path):
            return "hf"
    if is_tf1_checkpoint(path):
        return "tf1"
    raise ValueError(
        f"{path} is not a checkpoint this converter reads. Expected one of: an electra-keras model "
        "directory (*.keras + config.json), a keras-hub preset (metadata.json + config.json), a Hugging "
        "Face directory (config.json + model.safetensors or pytorch_model.bin), or an original TF1 "
        "checkpoint (<prefix>.index + <prefix>.data-*, or a directory with a 'checkpoint' file)"
    )


def load(path, source_format=None, vocab=None, lower_case=None, num_heads=None, generator=None):
    """Read a checkpoint in any supported format into our model; returns a `Converted`.

    vocab / lower_case override the tokenizer found with the model (TF1 checkpoints need a
    vocab.txt beside them or `vocab`); num_heads is for TF1 checkpoints whose head count is not
    H // 64; generator is a Hugging Face generator directory to pair with a discriminator
    (False: the discriminator alone, even with a generator/ beside it).
    """
    fmt = source_format or detect_format(path)
    if fmt == "tf1":
        return load_tf1(path, vocab=vocab, lower_case=lower_case, num_heads=num_heads)
    if fmt == "hf":
        return load_hf(path, generator=generator, vocab=vocab, lower_case=lower_case)
    if fmt == "keras_hub":
        return load_keras_hub(path)
    if fmt == "electra_keras":
        return load_model_directory(path)
    raise ValueError(f"unknown format {fmt!r}: expected one of {FORMATS}")


def save(converted, output, to="electra_keras", overwrite=False):
    """Write a `Converted` to directory `output` in format `to`; returns `output`.

    The directory is written beside its final name and renamed when complete, so an
    interrupted conversion leaves nothing half-written; an existing non-empty `output` is an
    error unless `overwrite`.
    """
    if to not in FORMATS:
        raise ValueError(f"unknown target format {to!r}: expected one of {FORMATS}")
    output = os.path.normpath(output)
    if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)) and not overwrite:
        raise FileExistsError(f"{output} exists and is not empty; choose another output or pass --overwrite")
    partial = output + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    if to == "electra_keras":
        save_model_directory(converted, partial)
    elif to == "hf":
        save_hf(converted.model, partial, converted.tokenizer)
    elif to == "keras_hub":
        save_keras_hub(converted.model, partial, converted.tokenizer)
    else:
        save_tf1(converted.model, os.path.join(partial, "model.ckpt"))
        if converted.tokenizer is not None:
            converted.tokenizer.save(partial)
    if os.path.exists(output):
        shutil.rmtree(output)
    os.replace(partial, output)
    return output


def convert(source, output, to="electra_keras", source_format=None, overwrite=False, **options):
    """load() then save(): returns the `Converted` that was written."""
    converted = load(source, source_format=source_format, **options)
    save(converted, output, to=to, overwrite=overwrite)
    return converted


__all__ = ["convert", "load", "save", "detect_format", "Converted", "ConversionError", "build_model",
           "load_tf1", "save_tf1", "load_hf", "save_hf", "load_keras_hub", "save_keras_hub",
           "load_model_directory", "save_model_directory", "FORMATS"]
