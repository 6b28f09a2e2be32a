"""Every private name of Keras, keras-hub or TensorFlow the package reads, in one place.

Checked against keras 3.15.1, keras-hub 0.32.0 and tensorflow 2.21.0; pyproject.toml caps
those three below their next minor versions, so a new release is taken up on purpose, with
this module's tests (tests/test_layers.py: the fast encoder layer against keras-hub's own
`call`, values and gradients; tests/test_distribute.py; tests/test_optimizers.py;
tests/test_text_classifier.py: `ElectraTokenizer` on both of keras-hub's preprocessing paths).

Private methods the package overrides are here too, as mixins its classes inherit first:

- `OptimizerOnlySymbolicBuild._maybe_symbolic_build` (Keras's TensorFlow trainer), for
  `ElectraPretrainer`: builds only the optimizer under a tf.distribute strategy, where Keras
  would pull a batch to build the model;
- `GlobalClipOwnDecay._clip_gradients` and `_apply_weight_decay` (`keras.optimizers.Optimizer`),
  for `AdamWeightDecay`: the clip factor of the summed gradient under tf.distribute, and weight
  decay at each variable's own rate (in its `update_step`).

`runtimes_started` reads TensorFlow's and JAX's private state to tell whether build-data may
fork its workers (tests/test_build_data.py builds with forked workers in a fresh process).
`tf_text_model_builders` are tensorflow-text's model compilers, whose bytes the tokenizer
keeps on disk (tests/test_wordpiece_parity.py: the ids from kept models equal BERT's).

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


# ---- optimizers ---------------------------------------------------------------------------------


def uses_weight_decay(optimizer, variable):
    """Whether `optimizer.exclude_from_weight_decay(...)` leaves `variable` decayed."""
    return optimizer._use_weight_decay(variable)


def variable_index(optimizer, variable):
    """`variable`'s position in the optimizer's built variable list (its slots' index)."""
    return optimizer._get_variable_index(variable)


class GlobalClipOwnDecay:
    """Mixin for a `keras.optimizers.Optimizer` subclass with a `clip_scale(grads)` method
    (None: Keras's own clipping) and weight decay applied in its own `update_step`."""

    def _clip_gradients(self, grads):
        # Under tf.distribute each replica holds its part of the gradient and Keras clips
        # before summing them; the clip factor has to come from the summed gradient's norm.
        scale = self.clip_scale(grads)
        if scale is None:
            return super()._clip_gradients(grads)
        import keras

        return [None if g is None else g * keras.ops.cast(scale, g.dtype) for g in grads]

    def _apply_weight_decay(self, variables):
        # The base class would decay every variable at the global rate before `update_step`.
        return


# ---- models -------------------------------------------------------------------------------------


class OptimizerOnlySymbolicBuild:
    """Mixin for a `keras.Model` whose layers and metrics are built in `__init__`.

    Under a tf.distribute strategy, Keras's TensorFlow trainer takes a batch off the training
    iterator and reduces it across replicas to build the model symbolically (which fails for
    dict inputs under MultiWorkerMirroredStrategy and shifts the data by a batch); here only
    the optimizer is built."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        import keras

        if keras.backend.backend() == "tensorflow" and self.optimizer is not None:
            if not self.optimizer.built:
                with self.distribute_strategy.scope():
                    self.optimizer.build(self.trainable_variables)
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


# ---- keras-hub preprocessing --------------------------------------------------------------------


def keras_hub_tensor_utils():
    """keras-hub's helpers for the two paths of its preprocessing layers (`keras_hub.src.utils.
    tensor_utils`): `tf` (None without TensorFlow), `preprocessing_function` (the graph path's
    conversions), `canonicalize_python_string_inputs` and `restore_outer_shape` (the eager path's),
    for `ElectraTokenizer.tokenize`."""
    from keras_hub.src.utils import tensor_utils

    return tensor_utils


def uses_tf_workflow(layer):
    """Whether a keras-hub preprocessing layer runs its TensorFlow path (inside tf.data or a
    tf.function, or when built with `_allow_python_workflow=False`) rather than plain Python."""
    return layer._use_tf_workflow()


# ---- checkpoints --------------------------------------------------------------------------------

# Attributes through which Keras (and TensorFlow's tracking) reaches sublayers and variables a
# second time: its tracking lists and a functional model's graph.
BOOKKEEPING = ("_layers", "_trainable_variables", "_non_trainable_variables", "_seed_generators", "_tracker",
               "_metrics", "_loss_tracker")
BOOKKEEPING_PREFIXES = ("_operations", "_nodes", "_inbound", "_outbound", "_functional",
                        "_self_unconditional", "_self_saveable")  # the last two: TensorFlow's


def is_bookkeeping(name):
    """Whether a layer attribute named `name` is Keras's second path to what it holds."""
    return name in BOOKKEEPING or name.startswith(BOOKKEEPING_PREFIXES)


def layer_attributes(layer):
    """A layer's attributes by name; on PyTorch a layer is a torch module, whose sublayers sit
    in its `_modules` instead."""
    attributes = dict(vars(layer))
    attributes.update(attributes.pop("_modules", None) or {})
    return attributes


def runtimes_started():
    """Which of TensorFlow's and JAX's runtimes (their thread pools) have started in this process;
    a process forked from one that has them may hang in its first op. Reads TensorFlow's
    `context.context_safe()._context_handle` and JAX's `xla_bridge._backends`; a name that is
    gone counts as started."""
    import sys

    started = []
    if "tensorflow" in sys.modules:
        try:
            from tensorflow.python.eager import context

            ctx = context.context_safe()
            if ctx is not None and ctx._context_handle is not None:
                started.append("tensorflow")
        except (ImportError, AttributeError):
            started.append("tensorflow")
    if "jax" in sys.modules:
        try:
            from jax._src import xla_bridge

            if xla_bridge._backends:
                started.append("jax")
        except (ImportError, AttributeError):
            started.append("jax")
    return started


def tf_text_model_builders():
    """tensorflow-text's compilers of its tokenizer models to bytes, as its own classes call
    them: (normalizer(lower_case_nfd_strip_accents), wordpiece(vocab, max_bytes_per_word,
    suffix_indicator, unknown_token, no_pretokenization, support_detokenization)). Their
    bytes are what `FastBertNormalizer` and `FastWordpieceTokenizer` take as `model_buffer`."""
    from tensorflow_text.core.pybinds import pywrap_fast_bert_normalizer_model_builder as normalizer
    from tensorflow_text.core.pybinds import pywrap_fast_wordpiece_tokenizer_model_builder as wordpiece

    return normalizer.build_fast_bert_normalizer_model, wordpiece.build_fast_wordpiece_model
