"""Pretraining recipes: a TOML or YAML file with three sections, validated field by field.

    [model]   preset = "tiny" and any ElectraConfig field to override
    [data]    where the text or the shards are, the vocabulary, the sequence length
    [train]   steps, batch size, learning rate, precision, logging and checkpoints

The defaults below are the default recipe (recipes/tiny.toml says the same): the tiny model on
the default corpus, a few minutes on a 2-core CPU. Command-line overrides are "section.key=value"
strings. Errors name the file, the field, the value and what was expected.
"""

import dataclasses
import importlib.resources
import json
import os
import re
import tomllib

from electra_keras.config import ElectraConfig
from electra_keras.word_vectors import TOKEN_TABLES

DEFAULT_CORPUS = "wiki_leads"
# [model] of the default recipe, and of a recipe file without a [model] section: the tiny model,
# its generator sampling at temperature 3, no dropout (benchmarks/tiny_recipe_sweep.py).
DEFAULT_MODEL = {"preset": "tiny", "temperature": 3.0, "dropout": 0.0}
RECIPE_SUFFIXES = (".toml", ".yaml", ".yml")


@dataclasses.dataclass
class DataRecipe:
    corpus: list = dataclasses.field(default_factory=lambda: [DEFAULT_CORPUS])
    shards: str = ""  # a build-data directory; replaces corpus and vocab settings
    vocab: str = ""  # a vocab.txt or a directory with one; empty: learn it from the corpus
    vocab_size: int = 16000
    vocab_sample_mb: float = 100.0  # a learnt vocabulary reads a seeded sample of this much text; 0: all
    lower_case: bool = True
    strip_accents: bool = True
    seq_len: int = 128
    shard_size_mb: float = 1.0
    text_field: str = "text"
    encoding_errors: str = "strict"
    text_format: str = "auto"  # plain text: "lines", "paragraphs" (hard-wrapped prose) or "auto"
    document_separator: str = ""  # paragraphs: a regex for lines that end a document; empty: one per file
    shuffle_buffer: int = 10_000


@dataclasses.dataclass
class TrainRecipe:
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    dtype: str = "float32"
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    strategy: str = "auto"  # electra_keras.distribute: auto, none, mirrored, multi_worker, tpu, data_parallel, model_parallel
    jit_compile: str = "auto"  # XLA: "auto" (Keras's choice per backend), "true" or "false"
    steps_per_execution: int = 1  # training steps per call into the compiled function
    # The discriminator probe (electra_keras.probe): examples held out of training (the first of
    # every shard) and scored every log_every steps; 0 turns it off (and trains on every example).
    probe_examples: int = 128
    # The token table at the start: "random" (the original's), "counted" (word vectors counted
    # from the training examples, electra_keras.word_vectors) or "counted_frozen" (counted, and
    # held there: pretraining trains everything else).
    token_table: str = "random"


SECTIONS = {"data": DataRecipe, "train": TrainRecipe}
STRATEGIES = ("auto", "none", "mirrored", "multi_worker", "tpu", "data_parallel", "model_parallel")
CHOICES = {"encoding_errors": ("strict", "replace"),
           "text_format": ("auto", "lines", "paragraphs"),
           "dtype": ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16"),
           "strategy": STRATEGIES,
           "jit_compile": ("auto", "true", "false"),
           "token_table": TOKEN_TABLES}


@dataclasses.dataclass
class Recipe:
    name: str = "tiny"
    model: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_MODEL))
    data: DataRecipe = dataclasses.field(default_factory=DataRecipe)
    train: TrainRecipe = dataclasses.field(default_factory=TrainRecipe)

    def to_dict(self):
        return {"model": dict(self.model), "data": dataclasses.asdict(self.data),
                "train": dataclasses.asdict(self.train)}

    def model_config(self, **derived):
        """The ElectraConfig: the preset, the recipe's overrides, then `derived` (vocab, ids)."""
        values = {k: v for k, v in self.model.items() if k != "preset"}
        values.update(derived)
        return ElectraConfig.from_preset(self.model.get("preset", "tiny"), **values)


def _type_name(kind):
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            list: "a list of strings"}[kind]


def _coerce(where, value, kind):
    """Check one value against the field's type; ints pass as floats, a string as a 1-list."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is list and isinstance(value, str):
        return [value]
    if kind is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    elif isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ValueError(f"{where} = {value!r} is {type(value).__name__}: expected {_type_name(kind)}")


def _check_section(source, section, values, cls):
    if not isinstance(values, dict):
        raise ValueError(f"{source}: [{section}] must be a table of key = value")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    result = {}
    for key, value in values.items():
        where = f"{source}: {section}.{key}"
        if key == "jit_compile" and isinstance(value, bool):  # TOML true / false
            value = str(value).lower()
        if key not in fields:
            raise ValueError(f"{where}: unknown key; expected one of {', '.join(fields)}")
        value = _coerce(where, value, fields[key].type)
        if key in CHOICES and value not in CHOICES[key]:
            raise ValueError(f"{where} = {value!r}: expected one of {', '.join(CHOICES[key])}")
        result[key] = value
    section_value = cls(**result)
    _check_numbers(source, section, section_value)
    return section_value


def _check_numbers(source, section, value):
    positive = {"data": ("vocab_size", "seq_len", "shard_size_mb", "shuffle_buffer"),
                "train": ("steps", "batch_size", "learning_rate", "log_every", "checkpoint_every",
                          "keep_checkpoints", "steps_per_execution")}[section]
    for key in positive:
        if getattr(value, key) <= 0:
            raise ValueError(f"{source}: {section}.{key} = {getattr(value, key)!r}: expected a positive value")
    if section == "data" and value.vocab_sample_mb < 0:
        raise ValueError(f"{source}: data.vocab_sample_mb = {value.vocab_sample_mb!r}: expected a size in MB, "
                         f"or 0 for all of the text")
    if section == "data" and value.document_separator:
        try:
            re.compile(value.document_separator)
        except re.error as error:
            raise ValueError(f"{source}: data.document_separator = {value.document_separator!r}: not a regular "
                             f"expression ({error})") from None
    if section == "train":
        t = value
        if t.warmup_steps < 0 or t.weight_decay < 0 or t.probe_examples < 0:
            raise ValueError(f"{source}: train.warmup_steps, train.weight_decay and train.probe_examples "
                             f"must be >= 0")
        if t.log_every % t.steps_per_execution or t.steps % t.steps_per_execution:
            raise ValueError(f"{source}: train.steps_per_execution = {t.steps_per_execution} must divide "
                             f"train.log_every = {t.log_every} and train.steps = {t.steps}")
        if t.checkpoint_every % t.log_every:
            raise ValueError(f"{source}: train.checkpoint_every = {t.checkpoint_every} must be a "
                             f"multiple of train.log_every = {t.log_every}")


# Fields the data decide: the sequence length and the vocabulary (size and special ids).
FROM_DATA = {"sequence_length": "data.seq_len", "vocabulary_size": "the vocabulary (data.vocab_size)",
             "pad_token_id": "the vocabulary", "cls_token_id": "the vocabulary",
             "sep_token_id": "the vocabulary", "mask_token_id": "the vocabulary"}


def _check_model(source, values, seq_len):
    if not isinstance(values, dict):
        raise ValueError(f"{source}: [model] must be a table of key = value")
    fields = {f.name for f in dataclasses.fields(ElectraConfig)}
    for key in values:
        if key in FROM_DATA:
            raise ValueError(f"{source}: model.{key}: comes from {FROM_DATA[key]}, not [model]")
        if key != "preset" and key not in fields:
            raise ValueError(f"{source}: model.{key}: unknown key; expected preset or an ElectraConfig "
                             f"field ({', '.join(sorted(fields - set(FROM_DATA)))})")
    overrides = {k: v for k, v in values.items() if k != "preset"}
    try:
        ElectraConfig.from_preset(values.get("preset", "tiny"), **overrides, sequence_length=seq_len)
    except (ValueError, TypeError) as error:
        if "sequence_length" in str(error):
            raise ValueError(f"{source}: data.seq_len = {seq_len} does not fit the model: {error}") from None
        raise ValueError(f"{source}: [model]: {error}") from None
    return dict(values)


def recipe_from_dict(values, source="recipe", name="recipe"):
    """Validate a nested dict {model, data, train} into a Recipe."""
    unknown = [k for k in values if k not in ("model", "data", "train")]
    if unknown:
        raise ValueError(f"{source}: unknown section [{unknown[0]}]; expected [model], [data] and [train]")
    data = _check_section(source, "data", values.get("data", {}), DataRecipe)
    train = _check_section(source, "train", values.get("train", {}), TrainRecipe)
    model = _check_model(source, values.get("model", dict(DEFAULT_MODEL)), data.seq_len)
    return Recipe(name=name, model=model, data=data, train=train)


def packaged_recipes():
    """{name: path} of the recipes that ship inside the package (recipes/ in the repository)."""
    folder = importlib.resources.files("electra_keras.recipe_files")
    found = {}
    for entry in folder.iterdir():
        name, suffix = os.path.splitext(entry.name)
        if suffix in RECIPE_SUFFIXES:
            found[name] = os.fspath(entry)
    return dict(sorted(found.items()))


def resolve_recipe_path(name_or_path):
    """A path to a .toml/.yaml/.yml file, or the name of a packaged recipe (e.g. electra_small)."""
    if os.path.isfile(name_or_path):
        return name_or_path
    known = packaged_recipes()
    if name_or_path in known:
        return known[name_or_path]
    raise ValueError(f"{name_or_path}: no such recipe file or recipe name (packaged: {', '.join(known)})")


def parse_recipe_file(path):
    """Read a TOML or YAML file into a dict, naming the file on a syntax error."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        if path.endswith(RECIPE_SUFFIXES[1:]):
            import yaml

            values = yaml.safe_load(raw.decode("utf-8")) or {}
        else:
            values = tomllib.loads(raw.decode("utf-8"))
    except Exception as error:  # tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError
        raise ValueError(f"{path}: not a valid recipe file ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected sections [model], [data] and [train]")
    return values


def _parse_scalar(text):
    """'200' -> 200, '1e-3' -> 0.001, 'true' -> True, '["a", "b"]' -> ['a', 'b'], '"a b"' -> 'a b'
    (quoted as in TOML: '""' is the empty string; backslashes kept where they escape nothing),
    else the string as it is."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    quoted = len(text) >= 2 and text[0] == text[-1] == '"'
    if text.startswith("[") or quoted:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return text[1:-1] if quoted else text  # a quoted value json cannot read (C:\dir): literal


def apply_overrides(values, overrides):
    """Apply "section.key=value" strings to a nested recipe dict (a copy)."""
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for item in overrides:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ValueError(f"override {item!r}: expected section.key=value, e.g. train.steps=200")
        key, text = item.split("=", 1)
        section, field = key.strip().split(".", 1)
        values.setdefault(section, {})[field] = _parse_scalar(text.strip())
    return values


def load_recipe(name_or_path=None, overrides=()):
    """The default recipe, or a recipe file / name, with "section.key=value" overrides."""
    if name_or_path is None:
        values, source, name = {}, "default recipe", "tiny"
    else:
        path = resolve_recipe_path(name_or_path)
        values, source = parse_recipe_file(path), path
        name = os.path.splitext(os.path.basename(path))[0]
    if overrides:
        values = apply_overrides(values, overrides)
        source = f"{source} (with overrides)"
    return recipe_from_dict(values, source=source, name=name)
