"""ElectraSpanExtractor: SQuAD 1.1 / 2.0 answer spans with the original's joint prediction."""

import keras
from keras import ops

from electra_keras.models.electra_classifier import deserialize_task_config, sequence_output
from electra_keras.config import INPUT_NAMES

NEG = 1000.0  # the original pushes tokens outside the context down by 1000 logits


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraSpanExtractor(keras.Model):
    """Start and end of the answer span, and (SQuAD 2.0) whether there is one.

    As google-research/electra's `finetune/qa/qa_tasks.py` with its defaults
    (`joint_prediction`, `answerable_uses_start_logits`):
    - start logits: one dense unit per token, over the context tokens and [CLS] only;
    - end logits conditioned on the start: dense(512, GELU) on [start state, token state], then
      one unit. Training uses the gold start (`start_positions` in the inputs); inference takes
      the `beam_size` best starts and, for each, the `beam_size` best ends;
    - answerability (SQuAD 2.0): dense(512, GELU) on [[CLS] state, start-probability-weighted
      state], then one logit that predicts "no answer", with loss weight 0.5.
    loss = (start CE + end CE) / 2 + answerable_weight * answerability BCE.

    Training: `fit(x, y)` with x = the three inputs plus `start_positions` (batch,), and
    y = {"start_positions", "end_positions", "is_impossible"}.

    Inference (`predict` without `start_positions`) returns, in float32 / int32:
    `start_logits` (batch, seq), `start_top_log_probs` (batch, K), `start_top_index` (batch, K), `end_top_log_probs`
    (batch, K, K), `end_top_index` (batch, K, K) and `answerable_logit` (batch,), the inputs
    of `electra_keras.data.squad.postprocess`.

    Args:
        backbone: our `ElectraBackbone` or keras-hub's.
        beam_size: K, the number of starts and of ends per start (20 in the original).
        hidden_dim: width of the end and answerability hidden layers (512 in the original).
        answerable: add the answerability head (SQuAD 2.0).
        answerable_weight: its loss weight (0.5 in the original).
        dtype: dtype policy of the heads; outputs are float32.
    """

    def __init__(self, backbone, beam_size=20, hidden_dim=512, answerable=True, answerable_weight=0.5,
                 dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        if beam_size < 1:
            raise ValueError(f"Expected beam_size >= 1. Received: beam_size={beam_size}")
        # === Layers ===
        self.backbone = backbone
        width = backbone.hidden_dim
        dense = lambda units, name, activation=None: keras.layers.Dense(  # noqa: E731
            units, activation=activation, dtype=dtype, name=name)
        self.start_dense = dense(1, "start_logits")
        self.end_hidden = dense(hidden_dim, "end_hidden", "gelu")  # applied by hand: `_end_logits`
        self.end_dense = dense(1, "end_logits")
        self.start_dense.build((None, None, width))
        self.end_hidden.build((None, None, 2 * width))
        self.end_dense.build((None, None, hidden_dim))
        if answerable:
            self.answerable_hidden = dense(hidden_dim, "answerable_hidden", "gelu")
            self.answerable_dense = dense(1, "answerable_logit")
            self.answerable_hidden.build((None, 2 * width))
            self.answerable_dense.build((None, hidden_dim))
        self.built = True

        # === Config ===
        self.beam_size = beam_size
        self.hidden_dim = hidden_dim
        self.answerable = answerable
        self.answerable_weight = answerable_weight

    def _end_logits(self, start_states, hidden, answer_mask):
        """End logits (batch, [K,] seq) given start states (batch, [K,] hidden).

        dense(concat[start, token]) is computed as start @ W_start + token @ W_token, which
        is the same sum without materializing a (batch, K, seq, 2 * hidden) concatenation.
        """
        kernel = ops.cast(self.end_hidden.kernel, self.compute_dtype)
        width = ops.shape(hidden)[-1]
        from_start = ops.matmul(start_states, kernel[:width])  # (batch, [K,] hidden_dim)
        from_token = ops.matmul(hidden, kernel[width:]) + ops.cast(self.end_hidden.bias, self.compute_dtype)
        if len(start_states.shape) == 3:  # a beam of starts: (batch, K, 1, d) + (batch, 1, seq, d)
            from_token = ops.expand_dims(from_token, 1)
            answer_mask = ops.expand_dims(answer_mask, 1)
        features = self.end_hidden.activation(ops.expand_dims(from_start, -2) + from_token)  # exact GELU
        logits = ops.cast(ops.squeeze(self.end_dense(features), -1), "float32")
        return logits - NEG * (1.0 - answer_mask)

    def call(self, inputs, training=False):
        hidden = sequence_output(self.backbone, {name: inputs[name] for name in INPUT_NAMES})
        # The answer lies in the context (segment 1) or is [CLS] (no answer). (batch, seq)
        answer_mask = ops.cast(inputs["padding_mask"], "float32") * ops.cast(inputs["segment_ids"], "float32")
        answer_mask = ops.maximum(answer_mask, ops.one_hot(ops.zeros_like(answer_mask[:, 0], "int32"),
                                                           ops.shape(answer_mask)[1]))
        start_logits = ops.cast(ops.squeeze(self.start_dense(hidden), -1), "float32")
        start_logits = start_logits - NEG * (1.0 - answer_mask)  # (batch, seq)

        outputs = {"start_logits": start_logits}
        if "start_positions" in inputs:  # teacher forcing: the end given the gold start
            start = ops.expand_dims(ops.cast(inputs["start_positions"], "int32"), -1)  # (batch, 1)
            start_states = ops.take_along_axis(hidden, ops.expand_dims(start, -1), axis=1)[:, 0]
            outputs["end_logits"] = self._end_logits(start_states, hidden, answer_mask)  # (batch, seq)
        else:  # beam: the K best starts, and for each the K best ends
            k = self.beam_size
            start_log_probs = ops.log_softmax(start_logits, axis=-1)
            start_top_log_probs, start_top_index = ops.top_k(start_log_probs, k)  # (batch, K)
            start_states = ops.take_along_axis(hidden, ops.expand_dims(start_top_index, -1), axis=1)
            end_logits = self._end_logits(start_states, hidden, answer_mask)  # (batch, K, seq)
            end_top_log_probs, end_top_index = ops.top_k(ops.log_softmax(end_logits, axis=-1), k)
            outputs.update(start_top_log_probs=start_top_log_probs,
                           start_top_index=ops.cast(start_top_index, "int32"),
                           end_top_log_probs=end_top_log_probs,
                           end_top_index=ops.cast(end_top_index, "int32"))
        if self.answerable:
            start_probs = ops.softmax(start_logits, axis=-1)
            weighted = ops.sum(ops.expand_dims(start_probs, -1) * ops.cast(hidden, "float32"), axis=1)
            features = ops.concatenate([ops.cast(hidden[:, 0], "float32"), weighted], axis=-1)
            logit = self.answerable_dense(self.answerable_hidden(ops.cast(features, self.compute_dtype)))
            outputs["answerable_logit"] = ops.cast(ops.squeeze(logit, -1), "float32")  # (batch,)
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y is None or "end_logits" not in y_pred:
            raise ValueError("ElectraSpanExtractor trains on x with `start_positions` and "
                             "y = {start_positions, end_positions, is_impossible}")

        def cross_entropy(positions, logits):  # (batch,)
            return keras.losses.sparse_categorical_crossentropy(
                ops.cast(positions, "int32"), logits, from_logits=True)

        losses = 0.5 * (cross_entropy(y["start_positions"], y_pred["start_logits"])
                        + cross_entropy(y["end_positions"], y_pred["end_logits"]))
        if self.answerable:
            labels = ops.cast(ops.reshape(y["is_impossible"], (-1, 1)), "float32")
            logits = ops.reshape(y_pred["answerable_logit"], (-1, 1))
            losses = losses + self.answerable_weight * keras.losses.binary_crossentropy(
                labels, logits, from_logits=True)
        if sample_weight is not None:
            losses = losses * ops.cast(sample_weight, "float32")
        return ops.mean(losses)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "beam_size": self.beam_size,
            "hidden_dim": self.hidden_dim,
            "answerable": self.answerable,
            "answerable_weight": self.answerable_weight,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_task_config(config))
