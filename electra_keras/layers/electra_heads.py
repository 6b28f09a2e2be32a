"""The generator's masked-LM head and the discriminator's replaced-token-detection head."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraMaskedLMHead(keras.layers.Layer):
    """Generator head, applied at the masked positions only.

    gather -> dense to E with GELU -> LayerNorm -> logits = h @ word_embeddings^T + output_bias.
    The output matrix is the (shared) word embedding table, passed in as the layer object
    (`token_embedding`) so the tie survives serialization. Logits come out in float32.

    Args:
        token_embedding: the `keras.layers.ReversibleEmbedding` whose table is the output matrix.
        layer_norm_epsilon: LayerNorm epsilon.
        initializer_range: stddev of the truncated-normal initializer of the dense layer.

    Call args:
        sequence_output: (batch, seq, hidden) encoder output.
        mask_positions: (batch, num_predictions) int positions to predict.

    Returns:
        (batch, num_predictions, vocabulary_size) float32 logits.
    """

    def __init__(self, token_embedding, layer_norm_epsilon=1e-12, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.dense = keras.layers.Dense(
            token_embedding.output_dim,
            activation="gelu",  # exact (erf) GELU, as the original
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, sequence_output_shape, mask_positions_shape=None):
        gathered_shape = (sequence_output_shape[0], None, sequence_output_shape[-1])
        self.dense.build(gathered_shape)
        self.layer_norm.build(gathered_shape[:-1] + (self.token_embedding.output_dim,))
        self.output_bias = self.add_weight(
            name="output_bias",
            shape=(self.token_embedding.input_dim,),
            initializer="zeros",
        )
        self.built = True

    def call(self, sequence_output, mask_positions):
        positions = ops.expand_dims(ops.cast(mask_positions, "int32"), -1)
        x = ops.take_along_axis(sequence_output, positions, axis=1)  # (batch, preds, hidden)
        x = self.layer_norm(self.dense(x))  # (batch, preds, E)
        logits = self.token_embedding(x, reverse=True)  # (batch, preds, vocab), float32
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return tuple(mask_positions_shape) + (self.token_embedding.input_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            token_embedding=keras.layers.serialize(self.token_embedding),
            layer_norm_epsilon=self.layer_norm_epsilon,
            initializer_range=self.initializer_range,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["token_embedding"] = keras.layers.deserialize(config["token_embedding"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraDiscriminatorHead(keras.layers.Layer):
    """Replaced-token-detection head: dense H->H with GELU, then dense H->1 (one logit a token).

    As the original's `discriminator_predictions`, the last dense keeps Keras's default
    Glorot-uniform initializer. Logits come out in float32.

    Example:
    >>> head = ElectraDiscriminatorHead(hidden_dim=8)
    >>> tuple(head(keras.ops.ones((2, 5, 8))).shape)
    (2, 5)
    """

    def __init__(self, hidden_dim, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            hidden_dim,
            activation="gelu",
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense_prediction = keras.layers.Dense(1, dtype=self.dtype_policy, name="dense_prediction")
        self.hidden_dim = hidden_dim
        self.initializer_range = initializer_range

    def build(self, sequence_output_shape):
        self.dense.build(sequence_output_shape)
        self.dense_prediction.build(tuple(sequence_output_shape[:-1]) + (self.hidden_dim,))
        self.built = True

    def call(self, sequence_output):
        logits = self.dense_prediction(self.dense(sequence_output))  # (batch, seq, 1)
        return ops.cast(ops.squeeze(logits, -1), "float32")

    def compute_output_shape(self, sequence_output_shape):
        return tuple(sequence_output_shape[:-1])

    def get_config(self):
        config = super().get_config()
        config.update(hidden_dim=self.hidden_dim, initializer_range=self.initializer_range)
        return config
