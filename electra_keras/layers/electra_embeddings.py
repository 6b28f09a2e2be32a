"""The embedding block that ELECTRA's generator and discriminator share."""

import keras
from keras_hub.layers import PositionEmbedding

from electra_keras.layers.electra_transformer_encoder import dropout


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraEmbeddings(keras.layers.Layer):
    """Word + position + segment embeddings, then LayerNorm and dropout.

    This is the whole block the original shares between its two networks under
    "tie embeddings" (`electra/embeddings/...`): the three tables and the LayerNorm. The
    E->H projection is not part of it; each encoder owns its own.

    Args:
        vocabulary_size: number of WordPiece entries.
        embedding_dim: width E of every table.
        max_sequence_length: number of position embeddings.
        num_segments: number of segment (token type) embeddings.
        dropout: rate applied after the LayerNorm.
        layer_norm_epsilon: LayerNorm epsilon (1e-12 in the original).
        initializer_range: stddev of the truncated-normal initializer.

    Example:
    >>> layer = ElectraEmbeddings(vocabulary_size=50, embedding_dim=8, max_sequence_length=16)
    >>> tuple(layer(keras.ops.ones((2, 5), "int32"), keras.ops.zeros((2, 5), "int32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim,
        max_sequence_length=512,
        num_segments=2,
        dropout=0.1,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        # The generator's MLM head reads this table in reverse (tied output matrix); the
        # reverse product runs in float32 so the softmax sees full-precision logits.
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size,
            embedding_dim,
            tie_weights=True,
            embeddings_initializer=initializer,
            reverse_dtype="float32",
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_embedding = PositionEmbedding(
            max_sequence_length,
            initializer=initializer,
            dtype=self.dtype_policy,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments,
            embedding_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(dropout, dtype=self.dtype_policy, name="dropout")

        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        embedded_shape = tuple(token_ids_shape) + (self.embedding_dim,)
        self.position_embedding.build(embedded_shape)
        self.segment_embedding.build(token_ids_shape)
        self.layer_norm.build(embedded_shape)
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        x = self.token_embedding(token_ids)  # (batch, seq, E)
        x = x + self.position_embedding(x) + self.segment_embedding(segment_ids)
        x = self.layer_norm(x)
        return dropout(x, self.dropout_layer, training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size,
            embedding_dim=self.embedding_dim,
            max_sequence_length=self.max_sequence_length,
            num_segments=self.num_segments,
            dropout=self.dropout,
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config
