"""Every private name of Keras, keras-hub or TensorFlow the package reads, in one place.

Checked against keras 3.15.1, keras-hub 0.32.0 and tensorflow 2.21.0; pyproject.toml caps
those three below their next minor versions, so a new release is taken up on purpose, with
this module's tests (tests/test_layers.py: the fast encoder layer against keras-hub's own
`call`, values and gradients; tests/test_distribute.py; tests/test_optimizers.py).

Private methods the package overrides live with their classes:

- `ElectraPretrainer._maybe_symbolic_build` (Keras's TensorFlow trainer): builds only the
  optimizer under a tf.distribute strategy, where Keras would pull a batch to build the model;
- `AdamWeightDecay._clip_gradients` and `_apply_weight_decay` (`keras.optimizers.Optimizer`):
  the clip factor of the summed gradient under tf.distribute, and weight decay at each
  variable's own rate.

One assumption rides on public API: the paired dropout (`layers.electra_transformer_encoder.
dropout`) takes a float32 `keras.random.uniform` to be k / 2^23 (k / 2^24 on PyTorch); its
tests check the kept fraction and the independence of the two halves on every backend.
"""


def attention_sublayers(attention):
    """A `keras.layers.MultiHeadAttention`'s (query, key, value, output) EinsumDense layers and
    its attention-probability Dropout."""
    return (attention._query_dense, attention._key_dense, attention._value_dense,
            attention._output_dense, attention._dropout_layer)


def encoder_sublayers(encoder):
    """A keras-hub `TransformerEncoder`'s sublayers, by role."""
    return dict(
        attention=encoder._self_attention_layer,
        attention_dropout=encoder._self_attention_dropout,
        attention_norm=encoder._self_attention_layer_norm,
        intermediate=encoder._feedforward_intermediate_dense,
        output=encoder._feedforward_output_dense,
        feedforward_dropout=encoder._feedforward_dropout,
        feedforward_norm=encoder._feedforward_layer_norm,
    )


def all_sublayers(model):
    """Every layer inside `model`, nested ones included (Keras's `_flatten_layers`)."""
    return model._flatten_layers(include_self=False)


def in_multi_worker_mode(strategy):
    """Whether a `tf.distribute.MultiWorkerMirroredStrategy` spans more than one worker."""
    return strategy.extended._in_multi_worker_mode()
