"""ElectraTextClassifier: keras-hub's TextClassifier on our backbone, raw text in, logits out."""

import keras
import keras_hub
import numpy as np

from electra_keras.config import INPUT_NAMES
from electra_keras.data.tasks import shuffled_batches
from electra_keras.models.electra_backbone import ElectraBackbone
from electra_keras.models.electra_classifier import check_head_arguments, classifier_head, pool, sequence_output
from electra_keras.models.electra_text_classifier_preprocessor import ElectraTextClassifierPreprocessor
from electra_keras.models.electra_tokenizer import ElectraTokenizer

LEARNING_RATE = 5e-5  # keras-hub's TextClassifier default; the original fine-tunes at 1e-4 with warmup
WEIGHT_DECAY = 0.01  # the original's fine-tuning decay, LayerNorm and biases exempt


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraTextClassifier(keras_hub.models.TextClassifier):
    """Sentence(-pair) classification or regression on raw strings, the keras-hub way.

    A keras-hub `TextClassifier` (a `Task`): `fit`, `evaluate` and `predict` take strings or
    (firsts, seconds) string pairs and run them through `preprocessor`
    (`ElectraTextClassifierPreprocessor`); a dict of token_ids / segment_ids / padding_mask
    (what the preprocessor gives) is taken as it is, with or without a preprocessor. The head is `ElectraClassifier`'s
    (dropout, one dense layer named "classifier", float32 "logits"; [CLS] or mean pooling),
    so on the same weights both give the same logits.

    Compiled on construction (`compile=False` to skip) with `compile()`'s defaults: AdamW as
    the original's `AdamWeightDecay` (learning rate 5e-5, weight decay 0.01 off LayerNorm and
    biases, gradients clipped to norm 1, with bias correction since there is no warmup), sparse
    categorical cross-entropy from logits and accuracy; mean squared error for regression
    (`num_classes=1`).

    `from_preset(path, num_classes=...)` reads a pretraining run or converted checkpoint of
    ours, a keras-hub preset written by `save_to_preset` (its head included: leave out
    `num_classes` to keep it), or a keras-hub `ElectraBackbone` preset.

    Args:
        backbone: our `ElectraBackbone`.
        num_classes: number of classes; 1 for regression.
        preprocessor: an `ElectraTextClassifierPreprocessor`, or None for token-id inputs.
        activation: applied to the float32 logits, e.g. "softmax"; None gives logits.
        dropout: dropout on the pooled state while training.
        pooling: "cls" (the original's) or "mean" (over the tokens of `padding_mask`).
        seed: seed of the dropout's `SeedGenerator`.

    Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "!"]
    >>> backbone = ElectraBackbone(vocabulary_size=len(vocab), num_layers=1, num_heads=2,
    ...     hidden_dim=16, intermediate_dim=32, max_sequence_length=16)
    >>> preprocessor = ElectraTextClassifierPreprocessor(ElectraTokenizer(vocabulary=vocab),
    ...     sequence_length=8)
    >>> classifier = ElectraTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    >>> classifier.predict(["Good film!", "Bad film."], verbose=0).shape
    (2, 2)
    """

    backbone_cls = ElectraBackbone
    preprocessor_cls = ElectraTextClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, activation=None, dropout=0.1, pooling="cls",
                 seed=None, compile=True, **kwargs):
        check_head_arguments(num_classes, pooling)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout, self.output_dense, self.output_logits = classifier_head(
            num_classes, dropout, seed=seed, dtype=backbone.dtype_policy, activation=activation)

        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in INPUT_NAMES}
        states = sequence_output(backbone, inputs)  # (batch, seq, hidden)
        pooled = pool(states, inputs["padding_mask"], pooling)  # (batch, hidden)
        outputs = self.output_logits(self.output_dense(self.output_dropout(pooled)))  # (batch, num_classes)
        super().__init__(inputs=inputs, outputs=outputs, compile=False, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.dropout = dropout
        self.pooling = pooling
        self.seed = seed
        if compile:
            self.compile()

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """keras-hub's `TextClassifier.compile` with AdamW as the original's for "auto", and mean
        squared error (no metric) for a regressor."""
        if optimizer == "auto":
            from electra_keras.optimizers import AdamWeightDecay

            optimizer = AdamWeightDecay(LEARNING_RATE, weight_decay=WEIGHT_DECAY, bias_correction=True)
        if self.num_classes == 1:
            loss = keras.losses.MeanSquaredError() if loss == "auto" else loss
            metrics = None if metrics == "auto" else metrics
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, sample_weight=None, shuffle=True, **kwargs):
        """keras-hub's `Task.fit`, with strings and arrays shuffled every epoch as `keras.Model.fit`
        shuffles arrays (keras-hub hands them to tf.data in their order and ignores `shuffle`).
        A `tf.data.Dataset` is used as it is; packed token ids skip the preprocessor (`packed`)."""
        if packed(x):
            return keras.Model.fit(self, x, y, batch_size=batch_size, sample_weight=sample_weight, shuffle=shuffle,
                                   **kwargs)
        in_memory = isinstance(x, (list, tuple, dict, np.ndarray)) or keras.ops.is_tensor(x)
        if not shuffle or not in_memory or kwargs.get("validation_split"):
            return super().fit(x, y, batch_size=batch_size, sample_weight=sample_weight, shuffle=shuffle, **kwargs)
        return super().fit(shuffled_batches(x, y, sample_weight, batch_size or 32), shuffle=False, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """keras-hub's `Task.evaluate`; packed token ids skip the preprocessor (`packed`)."""
        if packed(x):
            return keras.Model.evaluate(self, x, y, **kwargs)
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, **kwargs):
        """keras-hub's `Task.predict`; packed token ids skip the preprocessor (`packed`)."""
        if packed(x):
            return keras.Model.predict(self, x, **kwargs)
        return super().predict(x, **kwargs)

    def compile_from_config(self, config):
        """On loading a `.keras` file: the saved optimizer (its state follows), loss and metrics,
        as Keras restores them for a model whose `compile` is its own."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)  # its variables, for the saved state to fill

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "activation": keras.activations.serialize(self.activation),
            "dropout": self.dropout,
            "pooling": self.pooling,
            "seed": self.seed,
        }

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """A classifier on the backbone (and vocabulary) of a local model directory.

        Reads a pretraining run or converted checkpoint of ours (backbone.keras, config.json,
        vocab.txt, tokenizer_config.json), a keras-hub preset written by `save_to_preset`, or a
        keras-hub `ElectraBackbone` preset; any other directory is a ValueError naming these
        layouts. Nothing is downloaded. The preprocessor packs to 128 tokens (or the model's
        positions if fewer): set `classifier.preprocessor.sequence_length` to change it.

        Args:
            preset: the directory.
            load_weights: False gives freshly initialized weights of the same sizes.
            **kwargs: the constructor's (`num_classes`, `dropout`, `pooling`, ...) and `dtype`.
        """
        from electra_keras.models import electra_presets

        if electra_presets.layout(preset) == electra_presets.KERAS_HUB_OURS:
            return super().from_preset(preset, load_weights=load_weights, **kwargs)
        if "num_classes" not in kwargs:
            raise ValueError(f"{preset} holds an encoder without a classification head: pass num_classes")
        backbone, converted = electra_presets.load_backbone(preset, load_weights, dtype=kwargs.pop("dtype", None))
        if "preprocessor" not in kwargs:
            kwargs["preprocessor"] = ElectraTextClassifierPreprocessor(
                ElectraTokenizer.from_wordpiece(converted.tokenizer),
                sequence_length=electra_presets.default_sequence_length(preset))
        return cls(backbone=backbone, **kwargs)


def packed(x):
    """Whether `x` is already the backbone's inputs, in memory: a dict with `token_ids` (and
    segment_ids, padding_mask) as the preprocessor would give. `fit`, `evaluate` and `predict`
    take those as they are, preprocessor or not, as an `ElectraClassifier` would."""
    return isinstance(x, dict) and "token_ids" in x
