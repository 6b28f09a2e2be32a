"""Which model directory `from_preset` was given, and reading the layouts keras-hub cannot.

Three layouts are read, told apart by their files (both ours and keras-hub's have a
config.json, in different formats):

    electra_keras   a model directory of ours: a pretraining run (saved_models/<run>) or a
                    converted checkpoint; backbone.keras (or discriminator.keras,
                    pretrainer.keras), config.json (an ElectraConfig), vocab.txt,
                    tokenizer_config.json
    keras_hub       a keras-hub preset of our classes (`save_to_preset`): metadata.json and a
                    config.json naming electra_keras>ElectraBackbone; keras-hub's loader reads it
    keras_hub_electra   a keras-hub preset of `keras_hub.models.ElectraBackbone` (other layer
                    names, tanh GELU): converted to our backbone (`convert.keras_hub`)

Nothing is downloaded: presets are local directories.
"""

import json
import os

ELECTRA_KERAS = "electra_keras"
KERAS_HUB_OURS = "keras_hub"
KERAS_HUB_ELECTRA = "keras_hub_electra"
LAYOUTS = (ELECTRA_KERAS, KERAS_HUB_OURS, KERAS_HUB_ELECTRA)

ACCEPTED = (
    "Expected one of: (a) an electra-keras model directory, as a pretraining run (saved_models/<run>) or "
    "`electra-keras convert` leaves it: backbone.keras (or discriminator.keras / pretrainer.keras), "
    "config.json, vocab.txt, tokenizer_config.json; (b) a keras-hub preset written by `save_to_preset` of "
    "these classes: metadata.json, config.json (electra_keras>ElectraBackbone), model.weights.h5, "
    "tokenizer.json and assets/; (c) a keras-hub preset of keras_hub.models.ElectraBackbone (metadata.json, "
    "config.json, model.weights.h5, tokenizer.json and assets/). A Hugging Face or original TF1 checkpoint "
    "becomes (a) with `electra-keras convert`."
)


def layout(preset):
    """ELECTRA_KERAS, KERAS_HUB_OURS or KERAS_HUB_ELECTRA; a ValueError naming the accepted
    layouts for anything else."""
    from electra_keras.convert.native import is_model_directory

    preset = os.fspath(preset)
    if not os.path.isdir(preset):
        where = "does not exist" if not os.path.exists(preset) else "is not a directory"
        raise ValueError(f"{preset} {where}: from_preset reads a local model directory (nothing is "
                         f"downloaded). {ACCEPTED}")
    if is_model_directory(preset):
        return ELECTRA_KERAS
    has = {name: os.path.isfile(os.path.join(preset, name)) for name in ("metadata.json", "config.json")}
    if all(has.values()):
        with open(os.path.join(preset, "config.json"), encoding="utf-8") as f:
            name = json.load(f).get("registered_name")
        if name == "electra_keras>ElectraBackbone":
            return KERAS_HUB_OURS
        if name == "keras_hub>ElectraBackbone":
            return KERAS_HUB_ELECTRA
        raise ValueError(f"{preset} is a keras-hub preset of {name!r}, not of an ELECTRA backbone. {ACCEPTED}")
    found = ", ".join(sorted(os.listdir(preset))[:12]) or "nothing"
    hint = (" Its config.json alone does not say which model this is: our model directories have a .keras "
            "file beside it, keras-hub presets a metadata.json." if has["config.json"] else "")
    raise ValueError(f"{preset} is not a model directory from_preset reads (it holds {found}).{hint} {ACCEPTED}")


def load_converted(preset):
    """A `convert.Converted` holding our backbone and our `WordPieceTokenizer`, from a directory of
    layout ELECTRA_KERAS or KERAS_HUB_ELECTRA."""
    from electra_keras.convert.keras_hub import load_keras_hub
    from electra_keras.convert.mapping import Parts
    from electra_keras.convert.native import load_model_directory

    kind = layout(preset)
    if kind == KERAS_HUB_ELECTRA:
        return load_keras_hub(preset)
    if kind != ELECTRA_KERAS:
        raise ValueError(f"{preset}: a keras-hub preset of our classes is read by keras-hub's loader")
    has_backbone = os.path.isfile(os.path.join(preset, "backbone.keras"))
    converted = load_model_directory(preset, part="backbone" if has_backbone else None)
    if converted.kind == "generator":
        raise ValueError(f"{preset} holds an MLM generator only: there is no discriminator to fine-tune")
    converted.model = Parts.of(converted.model).backbone
    converted.kind = "backbone"
    return converted


def load_backbone(preset, load_weights=True, dtype=None):
    """Our `ElectraBackbone` from a directory of layout ELECTRA_KERAS or KERAS_HUB_ELECTRA, and
    the `Converted` it came in; under `dtype` (a policy) if given, freshly initialized unless
    `load_weights`."""
    from electra_keras.models.electra_backbone import ElectraBackbone

    converted = load_converted(preset)
    backbone = converted.model
    if dtype is not None or not load_weights:
        config = backbone.get_config()
        rebuilt = ElectraBackbone.from_config({**config, "dtype": dtype if dtype is not None else config["dtype"]})
        if load_weights:
            rebuilt.set_weights(backbone.get_weights())
        backbone = rebuilt
    return backbone, converted


def load_wordpiece(preset):
    """Our `WordPieceTokenizer` of a directory of any layout."""
    from electra_keras.convert.common import find_tokenizer
    from electra_keras.convert.keras_hub import keras_hub_tokenizer

    kind = layout(preset)
    if kind == ELECTRA_KERAS:
        tokenizer = find_tokenizer(os.fspath(preset))
        if tokenizer is None:
            raise FileNotFoundError(f"{preset} has a model but no vocab.txt: the vocabulary travels with the model")
        return tokenizer
    return keras_hub_tokenizer(preset)


def default_sequence_length(preset):
    """Fine-tuning's default: 128 tokens, or the model's positions if fewer (as the CLI's)."""
    with open(os.path.join(preset, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    if layout(preset) != ELECTRA_KERAS:
        config = config["config"]  # a serialized backbone
    return min(128, config.get("max_sequence_length", 512))  # ElectraConfig's default


__all__ = ["layout", "load_converted", "load_backbone", "load_wordpiece", "default_sequence_length", "LAYOUTS"]
