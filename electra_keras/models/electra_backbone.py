"""ElectraBackbone: the encoder that both of ELECTRA's networks are made of."""

import keras
from keras_hub.models import Backbone

from electra_keras.layers import ElectraEmbeddings, ElectraGDESEmbeddings, ElectraTransformerEncoder


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraBackbone(Backbone):
    """BERT-style post-LayerNorm Transformer encoder as in ELECTRA.

    A keras-hub `Backbone`: `enable_lora(rank)` (LoRA on the attention's query and value
    projections, everything else frozen), `save_lora_weights`, `quantize("int8")` and the
    dtype-policy map that saves a quantized backbone all work as on keras-hub's models.

    embeddings (possibly shared) -> E->H projection when E != H -> `num_layers` x
    TransformerEncoder (exact GELU, LayerNorm epsilon 1e-12, truncated-normal(0.02) init).
    No pooler: a "pooled" output is the hidden state of [CLS].

    Inputs: dict of `token_ids`, `segment_ids`, `padding_mask`, each (batch, seq).
    Output: `sequence_output`, (batch, seq, hidden_dim).

    Args:
        vocabulary_size, embedding_dim, max_sequence_length, num_segments: embedding sizes.
        hidden_dim, num_layers, num_heads, intermediate_dim: encoder sizes.
        dropout: on hidden states and attention probabilities.
        layer_norm_epsilon, initializer_range: as in the original.
        embeddings: an existing `ElectraEmbeddings` to share (generator and discriminator),
            or an `ElectraGDESEmbeddings` (the discriminator under weight_sharing="gdes"); its
            sizes must match. When None the backbone makes its own. An `ElectraEmbeddings` is not
            serialized: the owner of a shared block (ElectraPretrainer) rebuilds the tie on load.
            An `ElectraGDESEmbeddings` is, with its shared block, so a GDES backbone saved alone
            loads back whole (untied, with its own copy of that block); `folded_backbone` gives
            the ordinary backbone that computes the same.
        dtype: dtype policy, e.g. "mixed_bfloat16".

    Example:
    >>> backbone = ElectraBackbone(vocabulary_size=50, embedding_dim=8, hidden_dim=16,
    ...     num_layers=1, num_heads=2, intermediate_dim=32, max_sequence_length=16)
    >>> ids = keras.ops.ones((2, 6), "int32")
    >>> out = backbone({"token_ids": ids, "segment_ids": ids * 0, "padding_mask": ids})
    >>> tuple(out.shape)
    (2, 6, 16)
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        embedding_dim=None,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        embeddings=None,
        dtype=None,
        **kwargs,
    ):
        embedding_dim = embedding_dim or hidden_dim
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)

        # === Layers ===
        if embeddings is None:
            embeddings = ElectraEmbeddings(
                vocabulary_size=vocabulary_size,
                embedding_dim=embedding_dim,
                max_sequence_length=max_sequence_length,
                num_segments=num_segments,
                dropout=dropout,
                layer_norm_epsilon=layer_norm_epsilon,
                initializer_range=initializer_range,
                dtype=dtype,
                name="embeddings",
            )
        _check_shared_embeddings(
            embeddings,
            vocabulary_size=vocabulary_size,
            embedding_dim=embedding_dim,
            max_sequence_length=max_sequence_length,
            num_segments=num_segments,
        )
        embeddings_project = None
        if embedding_dim != hidden_dim:
            embeddings_project = keras.layers.Dense(
                hidden_dim, kernel_initializer=initializer, dtype=dtype, name="embeddings_project"
            )
        transformer_layers = [
            ElectraTransformerEncoder(
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                dropout=dropout,
                activation="gelu",  # keras' gelu is the exact erf form by default
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=initializer,
                normalize_first=False,  # post-LN, as BERT and ELECTRA
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = embeddings(token_ids, segment_ids)  # (batch, seq, E)
        if embeddings_project is not None:
            x = embeddings_project(x)  # (batch, seq, H)
        for layer in transformer_layers:
            x = layer(x, padding_mask=padding_mask)
        super().__init__(
            inputs={"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            outputs=x,
            dtype=dtype,
            **kwargs,
        )

        # Sublayers become attributes only now: the torch backend allows no module
        # attributes before the functional model's __init__.
        self.embeddings = embeddings
        self.embeddings_project = embeddings_project
        self.transformer_layers = transformer_layers

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.embedding_dim = embedding_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    @classmethod
    def from_electra_config(cls, config, generator=False, embeddings=None, dtype=None, name="backbone"):
        """The discriminator's encoder (or, with `generator=True`, the generator's) of an
        `ElectraConfig`: the one place a backbone is built from a config."""
        sizes = config.generator_sizes() if generator else config.discriminator_sizes()
        return cls(
            vocabulary_size=config.vocabulary_size,
            max_sequence_length=config.max_sequence_length,
            num_segments=config.num_segments,
            dropout=config.dropout,
            layer_norm_epsilon=config.layer_norm_epsilon,
            initializer_range=config.initializer_range,
            embeddings=embeddings,
            dtype=dtype,
            name=name,
            **sizes,
        )

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """The backbone of a local model directory: a pretraining run or converted checkpoint of
        ours (backbone.keras, config.json, vocab.txt), a keras-hub preset written by
        `save_to_preset`, or a keras-hub preset of `keras_hub.models.ElectraBackbone` (its
        weights copied into ours). Nothing is downloaded; any other directory is a ValueError
        that names these layouts (`electra_keras.models.electra_presets`).

        Args:
            preset: the directory.
            load_weights: False gives a freshly initialized backbone of the same sizes.
            dtype: a dtype policy for the backbone, e.g. "mixed_bfloat16".
        """
        from electra_keras.models import electra_presets

        if electra_presets.layout(preset) == electra_presets.KERAS_HUB_OURS:
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        unknown = set(kwargs) - {"dtype"}
        if unknown:
            raise TypeError(f"from_preset got unexpected arguments {sorted(unknown)} (it takes load_weights, dtype)")
        backbone, _ = electra_presets.load_backbone(preset, load_weights, dtype=kwargs.get("dtype"))
        return backbone

    @property
    def token_embedding(self):
        return self.embeddings.token_embedding

    def get_config(self):
        # Backbone's: name, trainable and the dtype policy (a per-layer map once quantized).
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "embedding_dim": self.embedding_dim,
            "max_sequence_length": self.max_sequence_length,
            "num_segments": self.num_segments,
            "dropout": self.dropout,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "initializer_range": self.initializer_range,
            **({"embeddings": keras.layers.serialize(self.embeddings)} if self.is_gdes else {}),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.get(config["dtype"])
        if isinstance(config.get("embeddings"), dict):
            config["embeddings"] = keras.layers.deserialize(config["embeddings"])
        return cls(**config)

    @property
    def is_gdes(self):
        """Whether the embeddings are a GDES view (shared block + deltas) rather than a block."""
        return isinstance(self.embeddings, ElectraGDESEmbeddings)


def folded_backbone(backbone):
    """An ordinary `ElectraBackbone` computing what `backbone` computes, its GDES deltas folded in.

    Under weight_sharing="gdes" the discriminator's embeddings are stop_gradient(shared) + delta;
    the backbone returned here has its own `ElectraEmbeddings` holding shared + delta and copies of
    every other weight, so fine-tuning, conversion and export see a plain ELECTRA encoder. A
    backbone without GDES embeddings is returned as it is.

    Example:
    >>> from electra_keras import ElectraConfig, ElectraPretrainer
    >>> model = ElectraPretrainer(ElectraConfig.from_preset("tiny", vocabulary_size=200,
    ...     num_layers=1, weight_sharing="gdes"))
    >>> type(folded_backbone(model.backbone).embeddings).__name__
    'ElectraEmbeddings'
    """
    if not backbone.is_gdes:
        return backbone
    folded = ElectraBackbone.from_config(
        {k: v for k, v in backbone.get_config().items() if k != "embeddings"}
    )
    backbone.embeddings.fold_into(folded.embeddings)
    pairs = list(zip(backbone.transformer_layers, folded.transformer_layers))
    if backbone.embeddings_project is not None:
        pairs.append((backbone.embeddings_project, folded.embeddings_project))
    for source, target in pairs:
        target.set_weights(source.get_weights())
    return folded


def _check_shared_embeddings(embeddings, **expected):
    for name, value in expected.items():
        actual = getattr(embeddings, name)
        if actual != value:
            raise ValueError(
                f"The shared embeddings have {name}={actual}, but this backbone expects "
                f"{name}={value}."
            )
