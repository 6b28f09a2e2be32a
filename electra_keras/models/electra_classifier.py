"""ElectraClassifier: a discriminator backbone with a sentence(-pair) classification head."""

import keras

from electra_keras.config import INPUT_NAMES


def sequence_output(backbone, inputs):
    """The backbone's (batch, seq, hidden) states: ours returns them, keras-hub's a dict."""
    outputs = backbone(inputs)
    return outputs["sequence_output"] if isinstance(outputs, dict) else outputs


def deserialize_task_config(config):
    """A task model's config with its backbone and dtype policy turned back into objects."""
    config = dict(config)
    config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
    return config


def check_head_arguments(num_classes, pooling):
    if num_classes < 1:
        raise ValueError(f"Expected num_classes >= 1 (1 for regression). Received: num_classes={num_classes}")
    if pooling not in ("cls", "mean"):
        raise ValueError(f"Expected pooling 'cls' or 'mean'. Received: pooling={pooling!r}")


def classifier_head(num_classes, dropout, seed=None, dtype=None, activation=None):
    """The head's layers: dropout, one dense layer, and the logits in float32 (`activation` on
    them, None for logits). The names are the weights' names in every model that has this head."""
    return (
        keras.layers.Dropout(dropout, seed=seed, dtype=dtype, name="classifier_dropout"),
        keras.layers.Dense(num_classes, dtype=dtype, name="classifier"),
        keras.layers.Activation(activation or "linear", dtype="float32", name="logits"),
    )


def pool(states, padding_mask, pooling):
    """(batch, hidden) from the (batch, seq, hidden) states: the [CLS] state, or the mean over
    the tokens of `padding_mask`."""
    if pooling == "cls":
        return states[:, 0, :]
    mask = keras.ops.cast(padding_mask, states.dtype)[:, :, None]
    return keras.ops.sum(states * mask, axis=1) / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1)


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraClassifier(keras.Model):
    """Classification or regression on the [CLS] state, as the original's GLUE head.

    backbone -> hidden state of [CLS] -> dropout -> one dense layer -> float32 logits
    (batch, num_classes). ELECTRA has no pooler; the original classifies the [CLS] state with
    dropout 0.1 and a single dense layer (google-research/electra, finetune/classification).
    For regression (STS-B) use `num_classes=1`: the output is the predicted value.
    `pooling="mean"` classifies the mean of the real tokens' states instead: a discriminator
    is never asked about [CLS] in pretraining, so its state there starts out uninformative.

    Args:
        backbone: our `ElectraBackbone` (pretrained, converted) or keras-hub's `ElectraBackbone`.
        num_classes: number of classes; 1 for regression.
        dropout: dropout on the [CLS] (or pooled) state while training.
        pooling: "cls" (the original's) or "mean" (over the tokens of `padding_mask`).
        seed: seed of the dropout's `SeedGenerator`.
        dtype: dtype policy of the head; logits come out in float32.

    Example:
    >>> import numpy as np
    >>> from electra_keras.models import ElectraBackbone
    >>> backbone = ElectraBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
    ...     intermediate_dim=32, max_sequence_length=16)
    >>> clf = ElectraClassifier(backbone, num_classes=3)
    >>> ids = np.ones((2, 8), "int32")
    >>> clf.predict({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": ids}, verbose=0).shape
    (2, 3)
    """

    def __init__(self, backbone, num_classes, dropout=0.1, seed=None, dtype=None, pooling="cls", **kwargs):
        check_head_arguments(num_classes, pooling)
        # A functional model keeps no policy of its own: the head's is remembered for get_config.
        policy = keras.dtype_policies.get(dtype) if dtype is not None else keras.config.dtype_policy()
        # === Layers ===
        head_dropout, head, to_float32 = classifier_head(num_classes, dropout, seed=seed, dtype=policy)

        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
        states = sequence_output(backbone, inputs)  # (batch, seq, hidden)
        pooled = pool(states, inputs["padding_mask"], pooling)  # (batch, hidden)
        logits = to_float32(head(head_dropout(pooled)))  # (batch, num_classes)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout
        self.pooling = pooling
        self.seed = seed
        self.head_policy = policy

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.head_policy),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "pooling": self.pooling,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_task_config(config))
