"""Hugging Face ELECTRA checkpoints: read and write config.json + model.safetensors.

Reads ElectraModel, ElectraForPreTraining (the discriminator), ElectraForMaskedLM (the
generator) and a discriminator/generator pair (into one ElectraPretrainer, embeddings tied),
from `model.safetensors` (also sharded) or `pytorch_model.bin` (loaded with
`torch.load(weights_only=True)`, never unpickled otherwise). Writes what
`transformers.ElectraForPreTraining.from_pretrained(dir)` loads; a pretrainer's generator goes
to `dir/generator/` as an ElectraForMaskedLM.
"""

import json
import os

from electra_keras.config import ElectraConfig
from electra_keras.convert import mapping
from electra_keras.convert.common import Converted, build_model, find_tokenizer, kind_of, token_settings

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
TORCH_FILE = "pytorch_model.bin"
GENERATOR_DIR = "generator"
ARCHITECTURES = {
    "discriminator": "ElectraForPreTraining",
    "generator": "ElectraForMaskedLM",
    "backbone": "ElectraModel",
}


def is_hf_directory(path):
    return os.path.isfile(os.path.join(path, CONFIG_FILE)) and any(
        os.path.exists(os.path.join(path, f)) for f in (SAFETENSORS_FILE, SAFETENSORS_INDEX, TORCH_FILE)
    )


# ---- reading ------------------------------------------------------------------------------------


def read_config(directory):
    """config.json of an ELECTRA model, checked: model type, activation, position embeddings."""
    path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory} is not a Hugging Face model directory: it has no {CONFIG_FILE}")
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if config.get("model_type") != "electra":
        raise ValueError(f"{path}: model_type is {config.get('model_type')!r}; this converter reads "
                         f"ELECTRA models (model_type 'electra')")
    checks = {"hidden_act": ("gelu",), "position_embedding_type": ("absolute",)}
    for field, allowed in checks.items():
        if config.get(field, allowed[0]) not in allowed:
            raise ValueError(f"{path}: {field} is {config[field]!r}; ELECTRA uses {allowed[0]!r} "
                             f"(exact GELU, absolute positions), which is all electra_keras builds")
    return config


def read_tensors(directory):
    """{name: float32 array} of model.safetensors (sharded too) or pytorch_model.bin."""
    single = os.path.join(directory, SAFETENSORS_FILE)
    index = os.path.join(directory, SAFETENSORS_INDEX)
    if os.path.exists(single):
        files = [single]
    elif os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            files = [os.path.join(directory, name) for name in sorted(set(json.load(f)["weight_map"].values()))]
    elif os.path.exists(os.path.join(directory, TORCH_FILE)):
        return _read_torch(os.path.join(directory, TORCH_FILE))
    else:
        raise FileNotFoundError(f"{directory} holds no {SAFETENSORS_FILE}, {SAFETENSORS_INDEX} or {TORCH_FILE}")
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    tensors = {}
    for path in files:
        try:
            loaded = load_file(path)
        except (SafetensorError, OSError) as e:
            raise ValueError(f"{path} is not a readable safetensors file ({e})") from None
        tensors.update({name: _float32(array) for name, array in loaded.items()})
    return tensors


def _float32(array):
    return array.astype("float32") if array.dtype.kind == "f" else array


def _read_torch(path):
    try:
        import torch
    except ImportError:
        raise ImportError(f"reading {path} needs PyTorch (pip install 'electra-keras[torch]'), "
                          "or save the model as model.safetensors") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt or non-weights file
        raise ValueError(f"{path} is not a PyTorch state dict that loads with weights_only=True ({e})") from None
    return {name: t.float().numpy() if t.is_floating_point() else t.numpy() for name, t in state.items()}


def _model_kind(tensors):
    """What a Hugging Face ELECTRA checkpoint is, from the tensors it holds."""
    names = set(tensors)
    if any(n.startswith("discriminator_predictions.") for n in names):
        return "discriminator"
    if any(n.startswith(("generator_predictions.", "generator_lm_head.")) for n in names):
        return "generator"
    return "backbone"


def _with_prefix(tensors):
    """ElectraModel's keys carry no "electra." prefix when saved alone; add it."""
    if any(n.startswith(mapping.HF_BACKBONE_PREFIX) for n in tensors):
        return tensors
    return {mapping.HF_BACKBONE_PREFIX + n: a for n, a in tensors.items()}


def config_from_hf(hf, tokenizer=None, generator=None):
    """Our ElectraConfig for a Hugging Face config dict (and its generator's, for a pair)."""
    values = dict(
        vocabulary_size=hf["vocab_size"],
        embedding_dim=hf.get("embedding_size", hf["hidden_size"]),
        hidden_dim=hf["hidden_size"],
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        intermediate_dim=hf["intermediate_size"],
        max_sequence_length=hf.get("max_position_embeddings", 512),
        num_segments=hf.get("type_vocab_size", 2),
        dropout=hf.get("hidden_dropout_prob", 0.1),
        layer_norm_epsilon=hf.get("layer_norm_eps", 1e-12),
        initializer_range=hf.get("initializer_range", 0.02),
        sequence_length=min(128, hf.get("max_position_embeddings", 512)),
        **token_settings(tokenizer),
    )
    if generator is not None:
        values.update(
            generator_hidden_fraction=generator["hidden_size"] / hf["hidden_size"],
            generator_layer_fraction=generator["num_hidden_layers"] / hf["num_hidden_layers"],
        )
    return ElectraConfig(**values)


def _check_generator(config, generator, path):
    """A Hugging Face generator must have the sizes our config derives from the discriminator."""
    derived = config.generator_sizes()
    actual = dict(
        hidden_dim=generator["hidden_size"],
        num_layers=generator["num_hidden_layers"],
        num_heads=generator["num_attention_heads"],
        intermediate_dim=generator["intermediate_size"],
        embedding_dim=generator.get("embedding_size", generator["hidden_size"]),
    )
    shared = (("vocab_size", config.vocabulary_size), ("max_position_embeddings", config.max_sequence_length),
              ("type_vocab_size", config.num_segments))
    for field, value in shared:
        if generator.get(field) != value:
            raise ValueError(f"{path}: the generator's {field} is {generator.get(field)}, the discriminator's {value}")
    for field, value in actual.items():
        if derived[field] != value:
            raise ValueError(
                f"{path}: the generator has {field}={value}, but an ElectraPretrainer with this "
                f"discriminator derives {field}={derived[field]} (the original's rule: generator width "
                f"= fraction x H, heads = max(1, width // 64), FFN = 4 x width, embeddings shared)"
            )


def load_hf(path, generator=None, vocab=None, lower_case=None):
    """Convert a Hugging Face ELECTRA directory to our model; returns a `Converted`.

    `path` holds an ElectraForPreTraining, ElectraForMaskedLM or ElectraModel (which one is
    read from its tensors). With `generator` (a second directory, or `path/generator/` when it
    exists) the pair becomes one ElectraPretrainer whose generator shares the discriminator's
    embeddings; the generator's copy of them must be equal (a weight_sharing="gdes" pretrainer's
    export has unequal ones: read its discriminator alone with `generator=False`, which pairs
    with nothing). The tokenizer is read from
    vocab.txt/tokenizer.json in `path` unless `vocab` is given.
    """
    config_hf = read_config(path)
    tensors = _with_prefix(read_tensors(path))
    kind = _model_kind(tensors)
    if generator is None and kind == "discriminator" and is_hf_directory(os.path.join(path, GENERATOR_DIR)):
        generator = os.path.join(path, GENERATOR_DIR)
    if generator is False:  # the discriminator alone, though a generator/ lies beside it
        generator = None
    tokenizer = find_tokenizer(path, vocab, lower_case)
    if tokenizer is None:
        raise FileNotFoundError(f"{path} has no vocab.txt or tokenizer.json: pass the model's vocabulary "
                                f"(vocab=..., --vocab); it travels with the converted model")
    sources = {"discriminator": tensors}
    if generator is not None:
        if kind != "discriminator":
            raise ValueError(f"{path}: a generator pairs with a discriminator (ElectraForPreTraining), "
                             f"but this is an {ARCHITECTURES[kind]}")
        generator_hf = read_config(generator)
        generator_tensors = _with_prefix(read_tensors(generator))
        if _model_kind(generator_tensors) != "generator":
            raise ValueError(f"{generator}: expected an ElectraForMaskedLM (generator_predictions.* tensors)")
        config = config_from_hf(config_hf, tokenizer, generator_hf)
        _check_generator(config, generator_hf, os.path.join(generator, CONFIG_FILE))
        sources["generator"] = generator_tensors
        kind = "pretrainer"
    else:
        config = config_from_hf(config_hf, tokenizer)
        if kind == "generator":
            config = config.replace(objective="mlm")
    model = build_model(kind, config)
    parts = mapping.Parts.of(model)
    mapping.assign(mapping.plan(parts, "hf"), sources, "hf", what=f"Hugging Face checkpoint {path}")
    return Converted(model, tokenizer, config, kind)


# ---- writing ------------------------------------------------------------------------------------


def hf_config(backbone, architecture, dropout=None, pad_token_id=0):
    """A Hugging Face ElectraConfig dict with the sizes of one of our backbones."""
    dropout = backbone.dropout if dropout is None else dropout
    return {
        "architectures": [architecture],
        "model_type": "electra",
        "vocab_size": backbone.vocabulary_size,
        "embedding_size": backbone.embedding_dim,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": "gelu",
        "hidden_dropout_prob": dropout,
        "attention_probs_dropout_prob": dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": backbone.initializer_range,
        "layer_norm_eps": backbone.layer_norm_epsilon,
        "position_embedding_type": "absolute",
        "pad_token_id": pad_token_id,
        "tie_word_embeddings": True,
        "dtype": "float32",
    }


def save_hf(model, directory, tokenizer=None):
    """Write `model` as a Hugging Face ELECTRA directory; returns the directories written.

    A pretrainer gives `directory` (ElectraForPreTraining) and `directory/generator`
    (ElectraForMaskedLM, its own copy of the tied embeddings); a discriminator, generator or
    backbone gives one directory. vocab.txt and tokenizer_config.json go into each.
    """
    from safetensors.numpy import save_file

    kind = kind_of(model)
    parts = mapping.Parts.of(model)
    tensors = mapping.extract(mapping.plan(parts, "hf"), "hf")
    pad = tokenizer.special_ids["pad_token_id"] if tokenizer is not None else 0
    outputs = []
    if kind == "pretrainer":
        targets = [(directory, "discriminator", parts.backbone, "discriminator"),
                   (os.path.join(directory, GENERATOR_DIR), "generator", parts.generator_backbone or parts.backbone,
                    "generator")]
    else:
        source = "generator" if kind == "generator" else "discriminator"
        targets = [(directory, kind, parts.backbone, source)]
    for target, target_kind, backbone, source in targets:
        os.makedirs(target, exist_ok=True)
        held = tensors.get(source, {})
        if target_kind == "generator" and parts.generator_backbone is None and kind == "pretrainer":
            # One shared encoder ("all"): the generator file holds that encoder again.
            held = {**{n: a for n, a in tensors["discriminator"].items() if n.startswith(mapping.HF_BACKBONE_PREFIX)},
                    **held}
        if target_kind == "backbone":  # ElectraModel saves its keys without the prefix
            held = {n[len(mapping.HF_BACKBONE_PREFIX):]: a for n, a in held.items()}
        partial = os.path.join(target, SAFETENSORS_FILE + ".partial")
        save_file(held, partial, metadata={"format": "pt"})
        os.replace(partial, os.path.join(target, SAFETENSORS_FILE))
        with open(os.path.join(target, CONFIG_FILE), "w") as f:
            json.dump(hf_config(backbone, ARCHITECTURES[target_kind], pad_token_id=pad), f, indent=2)
        if tokenizer is not None:
            tokenizer.save(target)
        outputs.append(target)
    return outputs


__all__ = ["load_hf", "save_hf", "read_config", "read_tensors", "config_from_hf", "hf_config", "is_hf_directory"]
