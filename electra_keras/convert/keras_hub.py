"""keras-hub presets: our discriminator backbone as `keras_hub.models.ElectraBackbone`, and back.

The two backbones have the same layers (keras-hub's embeddings, TransformerEncoder and
PositionEmbedding), so the conversion copies weights layer by layer and is exact both ways.
Two differences remain, and the README states them:
  - keras-hub's ElectraBackbone uses the tanh approximation of GELU (ours is exact, as the
    original and Hugging Face), so its outputs differ slightly from ours on the same weights;
  - it has a `pooled_dense` layer (tanh dense on [CLS]) that ELECTRA does not have: a preset
    written here keeps keras-hub's fresh initialization there, and reading one ignores it.
"""

import os

from electra_keras.config import ElectraConfig
from electra_keras.convert.common import Converted, build_model, token_settings


def is_keras_hub_preset(path):
    return os.path.isfile(os.path.join(path, "metadata.json")) and os.path.isfile(os.path.join(path, "config.json"))


def _layer_pairs(ours, theirs):
    """(our layer, keras-hub layer) pairs that hold the same weights."""
    pairs = [
        (ours.embeddings.token_embedding, theirs.token_embedding),
        (ours.embeddings.position_embedding, theirs.position_embedding),
        (ours.embeddings.segment_embedding, theirs.segment_embedding),
        (ours.embeddings.layer_norm, theirs.embeddings_layer_norm),
    ]
    if ours.embeddings_project is not None:
        pairs.append((ours.embeddings_project, theirs.embeddings_projection))
    pairs += list(zip(ours.transformer_layers, theirs.transformer_layers))
    return pairs


def _copy(pairs, to_keras_hub):
    for a, b in pairs:
        source, target = (a, b) if to_keras_hub else (b, a)
        weights = source.get_weights()
        shapes = [tuple(w.shape) for w in target.get_weights()]
        if [tuple(w.shape) for w in weights] != shapes:
            raise ValueError(f"layer {source.name}: weight shapes {[w.shape for w in weights]} do not fit "
                             f"{target.name} {shapes}")
        target.set_weights(weights)


def to_keras_hub_backbone(backbone):
    """A `keras_hub.models.ElectraBackbone` with the weights of our `backbone` (GDES deltas folded in)."""
    import keras_hub

    from electra_keras.models import folded_backbone

    backbone = folded_backbone(backbone)

    theirs = keras_hub.models.ElectraBackbone(
        vocab_size=backbone.vocabulary_size,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim,
        embedding_dim=backbone.embedding_dim,
        intermediate_dim=backbone.intermediate_dim,
        dropout=backbone.dropout,
        max_sequence_length=backbone.max_sequence_length,
        num_segments=backbone.num_segments,
    )
    _copy(_layer_pairs(backbone, theirs), to_keras_hub=True)
    return theirs


def save_keras_hub(model, directory, tokenizer):
    """Write the backbone of `model` and its tokenizer as a keras-hub preset directory.

    Loads with `keras_hub.models.ElectraBackbone.from_preset(directory)` and
    `keras_hub.models.ElectraTokenizer.from_preset(directory)`.
    """
    import keras_hub

    from electra_keras.convert.mapping import Parts

    if tokenizer is None:
        raise ValueError("a keras-hub preset needs the vocabulary: pass the model's tokenizer")
    theirs = to_keras_hub_backbone(Parts.of(model).backbone)
    theirs.save_to_preset(directory)
    keras_hub.models.ElectraTokenizer(
        vocabulary=list(tokenizer.tokens), lowercase=tokenizer.lower_case, strip_accents=tokenizer.strip_accents
    ).save_to_preset(directory)
    return directory


def load_keras_hub(directory, layer_norm_epsilon=1e-12):
    """Our ElectraBackbone (and tokenizer) from a keras-hub ElectraBackbone preset directory."""
    import keras_hub

    if not is_keras_hub_preset(directory):
        raise FileNotFoundError(f"{directory} is not a keras-hub preset: it needs metadata.json and config.json")
    theirs = keras_hub.models.ElectraBackbone.from_preset(directory)
    tokenizer = keras_hub_tokenizer(directory)
    config = ElectraConfig(
        vocabulary_size=theirs.vocab_size,
        embedding_dim=theirs.embedding_dim,
        hidden_dim=theirs.hidden_dim,
        num_layers=theirs.num_layers,
        num_heads=theirs.num_heads,
        intermediate_dim=theirs.intermediate_dim,
        max_sequence_length=theirs.max_sequence_length,
        num_segments=theirs.num_segments,
        dropout=theirs.dropout,
        layer_norm_epsilon=layer_norm_epsilon,
        sequence_length=min(128, theirs.max_sequence_length),
        **token_settings(tokenizer),
    )
    ours = build_model("backbone", config)
    _copy(_layer_pairs(ours, theirs), to_keras_hub=False)
    return Converted(ours, tokenizer, config, "backbone")


def keras_hub_tokenizer(directory):
    """Our `WordPieceTokenizer` with the vocabulary and settings of a keras-hub preset's tokenizer."""
    import keras_hub

    from electra_keras.data.tokenizer import WordPieceTokenizer

    try:
        theirs = keras_hub.models.ElectraTokenizer.from_preset(directory)
    except Exception as e:  # keras-hub raises ValueError, FileNotFoundError or KeyError here
        raise ValueError(f"{directory}: the preset has no readable ElectraTokenizer ({e})") from None
    return WordPieceTokenizer(theirs.get_vocabulary(), lower_case=theirs.lowercase,
                              strip_accents=theirs.strip_accents)


__all__ = ["save_keras_hub", "load_keras_hub", "to_keras_hub_backbone", "is_keras_hub_preset", "keras_hub_tokenizer"]
