"""Gradient-disentangled embedding sharing (DeBERTaV3): the discriminator's view of the shared block."""

import keras
from keras import ops

from electra_keras.layers.electra_embeddings import ElectraEmbeddings
from electra_keras.layers.electra_transformer_encoder import dropout

# The delta of each weight of the shared block: (delta name, the ElectraEmbeddings variable,
# whether it is read in the compute dtype): keras' Embedding autocasts its table, LayerNormalization
# keeps gamma and beta float32.
DELTAS = (
    ("token_embedding_delta", lambda e: e.token_embedding.embeddings, True),
    ("position_embedding_delta", lambda e: e.position_embedding.position_embeddings, True),
    ("segment_embedding_delta", lambda e: e.segment_embedding.embeddings, True),
    ("layer_norm_gamma_delta", lambda e: e.layer_norm.gamma, False),
    ("layer_norm_beta_delta", lambda e: e.layer_norm.beta, False),
)


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraGDESEmbeddings(keras.layers.Layer):
    """The shared embedding block as the discriminator sees it under GDES: stop_gradient(shared) + delta.

    DeBERTaV3 (He et al., 2021, arXiv 2111.09543, section 3.2) shares the generator's embeddings
    with the discriminator but keeps the discriminator's loss from pulling on them: each weight of
    the block (word, position and segment tables, LayerNorm gamma and beta) is read here as
    `stop_gradient(shared) + delta`, where `delta` is this layer's own zero-initialised weight of
    the same shape. The generator's MLM loss alone trains the shared block; the discriminator's
    loss trains only the deltas. At initialisation the output is the shared block's own.

    Dtypes follow `ElectraEmbeddings`: every weight and delta is a `variable_dtype` (float32)
    variable; the tables and their deltas are read in the compute dtype and the LayerNorm's
    gamma, beta and their deltas in float32, as keras' Embedding and LayerNormalization read
    theirs. In float32 this layer computes exactly what an `ElectraEmbeddings` holding
    shared + delta computes (`fold_into`: the folded discriminator that `discriminator.keras`
    of a run holds); under a mixed policy the two differ by the rounding of the sum, the
    folded tables being rounded once, here shared and delta each.

    Weight decay (`optimizers.AdamWeightDecay`) applies to the table deltas, pulling the
    discriminator's tables towards the shared ones, and not to the LayerNorm deltas, whose names
    hold "gamma" / "beta" as the original's exclusions ask.

    Args:
        shared_embeddings: the generator's `ElectraEmbeddings`, passed as the layer object (as
            keras-hub passes tied layers). Serialized with this layer; inside an
            `ElectraPretrainer` the tie is rebuilt from the pretrainer's config on load.

    Example:
    >>> shared = ElectraEmbeddings(vocabulary_size=50, embedding_dim=8, max_sequence_length=16)
    >>> layer = ElectraGDESEmbeddings(shared)
    >>> ids = keras.ops.ones((2, 5), "int32")
    >>> bool(keras.ops.all(layer(ids, ids * 0) == shared(ids, ids * 0)))  # deltas start at zero
    True
    """

    def __init__(self, shared_embeddings, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(shared_embeddings, ElectraEmbeddings):
            raise ValueError(
                "Expected shared_embeddings to be an ElectraEmbeddings layer. "
                f"Received: shared_embeddings={shared_embeddings!r}"
            )
        self.shared_embeddings = shared_embeddings
        self.dropout_layer = keras.layers.Dropout(
            shared_embeddings.dropout, dtype=self.dtype_policy, name="dropout"
        )

    # The sizes of the shared block, which ElectraBackbone checks against its own.
    @property
    def vocabulary_size(self):
        return self.shared_embeddings.vocabulary_size

    @property
    def embedding_dim(self):
        return self.shared_embeddings.embedding_dim

    @property
    def max_sequence_length(self):
        return self.shared_embeddings.max_sequence_length

    @property
    def num_segments(self):
        return self.shared_embeddings.num_segments

    def build(self, token_ids_shape, segment_ids_shape=None):
        if not self.shared_embeddings.built:
            self.shared_embeddings.build(token_ids_shape)
        for name, shared, autocast in DELTAS:
            delta = self.add_weight(
                name=name,
                shape=shared(self.shared_embeddings).shape,
                initializer="zeros",
                dtype=self.variable_dtype,
                autocast=autocast,
            )
            setattr(self, name, delta)
        self.built = True

    def _stopped_and_delta(self, index):
        """(stop_gradient(the shared weight), its delta), each read as its owner reads it."""
        name, shared, _ = DELTAS[index]
        stopped = ops.stop_gradient(ops.convert_to_tensor(shared(self.shared_embeddings)))
        return stopped, ops.convert_to_tensor(getattr(self, name))

    def call(self, token_ids, segment_ids, training=None):
        token_ids = ops.cast(token_ids, "int32")
        segment_ids = ops.cast(segment_ids, "int32")

        def lookup(index, ids):  # gather, then add: (batch, seq, E), never a (vocab, E) sum
            stopped, delta = self._stopped_and_delta(index)
            return ops.cast(ops.take(stopped, ids, axis=0) + ops.take(delta, ids, axis=0), self.compute_dtype)

        x = lookup(0, token_ids)  # (batch, seq, E)
        position = ops.slice(
            ops.add(*self._stopped_and_delta(1)), (0, 0), (ops.shape(token_ids)[1], self.embedding_dim)
        )  # (seq, E), as keras-hub's PositionEmbedding
        position = ops.broadcast_to(ops.cast(position, self.compute_dtype), ops.shape(x))
        x = x + position + lookup(2, segment_ids)  # the order of ElectraEmbeddings.call
        gamma, beta = (ops.add(*self._stopped_and_delta(i)) for i in (3, 4))  # float32
        # As keras' LayerNormalization: float32 statistics, output in the compute dtype.
        x = ops.layer_normalization(x, gamma, beta, epsilon=self.shared_embeddings.layer_norm_epsilon)
        x = ops.cast(x, self.compute_dtype)
        return dropout(x, self.dropout_layer, training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return tuple(token_ids_shape) + (self.embedding_dim,)

    def fold_into(self, embeddings):
        """Write shared + delta into `embeddings`, an `ElectraEmbeddings` of the same sizes.

        That layer then computes what this one does, as an ordinary embedding block.
        """
        if not embeddings.built:
            embeddings.build((None, None))
        for name, variable, _ in DELTAS:
            folded = ops.convert_to_numpy(variable(self.shared_embeddings)).astype("float32") + ops.convert_to_numpy(
                getattr(self, name)
            ).astype("float32")
            variable(embeddings).assign(folded)
        return embeddings

    def get_config(self):
        config = super().get_config()
        config.update(shared_embeddings=keras.layers.serialize(self.shared_embeddings))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["shared_embeddings"] = keras.layers.deserialize(config["shared_embeddings"])
        return cls(**config)
