"""What every converter shares: the result type, model construction and tokenizer discovery."""

import dataclasses
import json
import os

from electra_keras.config import ElectraConfig
from electra_keras.data.tokenizer import VOCAB_FILE, WordPieceTokenizer

KINDS = ("pretrainer", "discriminator", "generator", "backbone")


@dataclasses.dataclass
class Converted:
    """A converted model with its vocabulary and configuration.

    kind: "pretrainer" (generator + discriminator, an `ElectraPretrainer`), "discriminator"
    (backbone + RTD head, a functional model), "generator" (an `ElectraPretrainer` with
    objective "mlm": one encoder and the MLM head) or "backbone" (an `ElectraBackbone`).
    """

    model: object
    tokenizer: WordPieceTokenizer
    config: ElectraConfig
    kind: str


def build_model(kind, config):
    """A freshly initialized model of `kind` with the sizes of `config`."""
    from electra_keras.models import ElectraBackbone, ElectraPretrainer, build_discriminator

    if kind == "pretrainer":
        return ElectraPretrainer(config)
    if kind == "generator":
        return ElectraPretrainer(config.replace(objective="mlm"))
    if kind not in ("discriminator", "backbone"):
        raise ValueError(f"unknown model kind {kind!r}: expected one of {KINDS}")
    backbone = ElectraBackbone.from_electra_config(config)
    return build_discriminator(backbone) if kind == "discriminator" else backbone


def kind_of(model):
    from electra_keras.models import ElectraBackbone, ElectraPretrainer

    if isinstance(model, ElectraPretrainer):
        return "pretrainer" if model.config.objective == "electra" else "generator"
    return "backbone" if isinstance(model, ElectraBackbone) else "discriminator"


def token_settings(tokenizer):
    """The special token ids ElectraConfig takes, from the tokenizer (BERT's when there is none)."""
    if tokenizer is None:
        return {}
    return {k: v for k, v in tokenizer.special_ids.items() if k != "unk_token_id"}


def find_tokenizer(directory, vocab=None, lower_case=None):
    """The tokenizer that travels with a model in `directory`, or from `vocab` when given.

    Looks for vocab.txt (+ tokenizer_config.json), then a Hugging Face tokenizer.json
    (WordPiece). `vocab` is a vocab.txt or a directory holding one; `lower_case` overrides the
    settings file. Returns None when nothing is found.
    """
    if vocab is not None:
        if os.path.isdir(vocab):
            tokenizer = _from_directory(vocab)
            if tokenizer is None:
                raise FileNotFoundError(f"{vocab} holds no {VOCAB_FILE} or tokenizer.json")
        else:
            tokenizer = WordPieceTokenizer(vocab, lower_case=True if lower_case is None else lower_case)
    else:
        tokenizer = _from_directory(directory) if directory else None
    if tokenizer is not None and lower_case is not None and tokenizer.lower_case != lower_case:
        tokenizer = WordPieceTokenizer(tokenizer.tokens, lower_case=lower_case)
    return tokenizer


def _from_directory(directory):
    if os.path.exists(os.path.join(directory, VOCAB_FILE)):
        return WordPieceTokenizer.from_directory(directory)
    path = os.path.join(directory, "tokenizer.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    model = spec.get("model") or {}
    if model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        raise ValueError(f"{path}: expected a WordPiece tokenizer (model.type 'WordPiece' with a vocab), "
                         f"got model.type {model.get('type')!r}")
    vocab = model["vocab"]
    tokens = sorted(vocab, key=vocab.get)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError(f"{path}: the WordPiece ids are not 0..{len(tokens) - 1} without gaps")
    normalizer = spec.get("normalizer") or {}
    lower_case = bool(normalizer.get("lowercase", True))
    return WordPieceTokenizer(tokens, lower_case=lower_case, strip_accents=normalizer.get("strip_accents"))


__all__ = ["Converted", "build_model", "find_tokenizer", "kind_of", "token_settings"]
