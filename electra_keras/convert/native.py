"""Our own model directory, as `pretrain` leaves it and `convert` writes it.

    pretrainer.keras      generator + discriminator (absent for a discriminator or backbone)
    discriminator.keras   backbone + RTD head (absent for the MLM baseline and a backbone)
    backbone.keras        the encoder to fine-tune
    config.json           the ElectraConfig
    vocab.txt, tokenizer_config.json
"""

import json
import os

from electra_keras.atomic import atomic_path
from electra_keras.config import ElectraConfig
from electra_keras.convert.common import Converted, find_tokenizer, kind_of

CONFIG_FILE = "config.json"
MODEL_FILES = ("pretrainer", "discriminator", "backbone")  # most complete first


def is_model_directory(path):
    return any(os.path.isfile(os.path.join(path, f"{name}.keras")) for name in MODEL_FILES)


def model_files(model):
    """{"pretrainer": model, "discriminator": ..., "backbone": ...}: the parts saved for `model`.

    The discriminator and backbone are ordinary ELECTRA models: under weight_sharing="gdes" the
    discriminator's embedding deltas are folded into its own embeddings (`folded_discriminator`),
    so fine-tuning, conversion and export of those files see a plain encoder. The pretrainer
    is saved as it is.
    """
    from electra_keras.convert.mapping import Parts
    from electra_keras.models import folded_backbone, folded_discriminator

    kind = kind_of(model)
    if kind == "generator":
        return {"pretrainer": model, "discriminator": None, "backbone": model.backbone}
    if kind in ("pretrainer", "discriminator"):
        discriminator = folded_discriminator(model)
        files = {"pretrainer": model} if kind == "pretrainer" else {}
        return {**files, "discriminator": discriminator, "backbone": Parts.of(discriminator).backbone}
    return {"backbone": folded_backbone(model)}


def save_models(model, directory):
    """Each .keras file is written under a temporary name and renamed when whole."""
    os.makedirs(directory, exist_ok=True)
    for name, part in model_files(model).items():
        if part is not None:
            with atomic_path(os.path.join(directory, f"{name}.keras"), suffix=".keras") as tmp:
                part.save(tmp)


def save_model_directory(converted, directory):
    """Write a `Converted` as our model directory."""
    save_models(converted.model, directory)
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        f.write(converted.config.to_json())
    if converted.tokenizer is not None:
        converted.tokenizer.save(directory)
    return directory


def load_keras(path):
    """`keras.saving.load_model` (importing electra_keras has registered our classes)."""
    import keras

    return keras.saving.load_model(path)


def load_model_directory(directory, part=None):
    """The most complete model in `directory` (or `part`: pretrainer, discriminator, backbone)."""
    names = [part] if part else [n for n in MODEL_FILES if os.path.isfile(os.path.join(directory, f"{n}.keras"))]
    if not names or not os.path.isfile(os.path.join(directory, f"{names[0]}.keras")):
        wanted = f"{part}.keras" if part else " or ".join(f"{n}.keras" for n in MODEL_FILES)
        raise FileNotFoundError(f"{directory} holds no {wanted}")
    model = load_keras(os.path.join(directory, f"{names[0]}.keras"))
    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{directory} has a model but no {CONFIG_FILE} (the ElectraConfig it was made with)")
    with open(config_path) as f:
        config = ElectraConfig.from_dict(json.load(f))
    tokenizer = find_tokenizer(directory)
    if tokenizer is None:
        raise FileNotFoundError(f"{directory} has a model but no vocab.txt: the vocabulary travels with the model")
    return Converted(model, tokenizer, config, kind_of(model))


__all__ = ["save_models", "save_model_directory", "load_model_directory", "is_model_directory"]
