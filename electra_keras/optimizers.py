"""The original's optimizer: Adam with decoupled weight decay, no bias correction, clipping.

Backend-agnostic: a `keras.optimizers.Optimizer` subclass, so every backend's train step,
loss scaling and distribution strategy use it unchanged.
"""

import re

import keras
from keras import ops

from electra_keras import distribute
from electra_keras.internals import GlobalClipOwnDecay, uses_weight_decay, variable_index

# Variables the original leaves undecayed ("LayerNorm", "layer_norm", "bias"), by Keras
# variable name: LayerNorm's gamma/beta and every bias (including the MLM output_bias).
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="electra_keras")
class AdamWeightDecay(GlobalClipOwnDecay, keras.optimizers.Optimizer):
    """Adam with decoupled weight decay, as google-research/electra's `AdamWeightDecayOptimizer`.

    update = m / (sqrt(v) + epsilon) (+ weight_decay * w for decayed variables);
    w <- w - lr * multiplier * update. The original applies no bias correction to m and v; set
    `bias_correction=True` for standard AdamW. Gradients are clipped to a global norm of 1.0
    by default. The multiplier is 1 unless `learning_rate_multipliers` names the variable:
    that is how fine-tuning gives each layer its own rate (`layerwise_learning_rate_multipliers`);
    as in the original, a variable's weight decay is scaled by its rate too.

    Args:
        learning_rate: float or a `LearningRateSchedule`.
        weight_decay: decoupled decay rate (0.01 in the original).
        beta_1, beta_2, epsilon: Adam constants (0.9, 0.999, 1e-6 in the original).
        bias_correction: apply Adam's bias correction (False in the original).
        exclude_from_weight_decay: regexes searched in variable names to exempt from decay.
        global_clipnorm: clip gradients to this global norm (None: no clipping).
        learning_rate_multipliers: {variable path: factor} for per-variable rates; variables
            not named get factor 1.
    """

    def __init__(
        self,
        learning_rate=1e-4,
        weight_decay=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        bias_correction=False,
        exclude_from_weight_decay=NO_DECAY_NAMES,
        global_clipnorm=1.0,
        learning_rate_multipliers=None,
        name="adam_weight_decay",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.learning_rate_multipliers = dict(learning_rate_multipliers or {})
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.bias_correction = bias_correction
        self.exclude_names = tuple(exclude_from_weight_decay or ())
        if self.exclude_names:
            self.exclude_from_weight_decay(var_names=list(self.exclude_names))

    def decays(self, variable):
        """Whether `variable` gets weight decay (False for LayerNorm weights and biases)."""
        return bool(self.weight_decay) and uses_weight_decay(self, variable)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        unknown = set(self.learning_rate_multipliers) - {v.path for v in var_list}
        if unknown:
            raise ValueError(f"learning_rate_multipliers names variables the model does not train: "
                             f"{', '.join(sorted(unknown)[:5])}")
        self._multipliers = [float(self.learning_rate_multipliers.get(v.path, 1.0)) for v in var_list]

    def clip_scale(self, grads):
        """The factor that clips the summed gradient under tf.distribute (None: Keras clips)."""
        return distribute.global_clip_scale(grads, self.global_clipnorm)

    def update_step(self, gradient, variable, learning_rate):
        index = variable_index(self, variable)
        lr = ops.cast(learning_rate, variable.dtype) * self._multipliers[index]
        gradient = ops.cast(gradient, variable.dtype)
        m = self._momentums[index]
        v = self._velocities[index]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        update = m / (ops.sqrt(v) + self.epsilon)
        if self.bias_correction:
            step = ops.cast(self.iterations + 1, variable.dtype)
            update = update * ops.sqrt(1.0 - ops.power(self.beta_2, step)) / (1.0 - ops.power(self.beta_1, step))
        if self.decays(variable):  # decoupled: on the weights, not through m and v
            update = update + ops.cast(self.weight_decay, variable.dtype) * variable
        self.assign_sub(variable, lr * update)

    def get_config(self):
        config = super().get_config()
        config.update(
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            bias_correction=self.bias_correction,
            exclude_from_weight_decay=list(self.exclude_names),
            learning_rate_multipliers=dict(self.learning_rate_multipliers),
        )
        return config


@keras.saving.register_keras_serializable(package="electra_keras")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak * min(1, step / warmup_steps) * max(0, 1 - step / total_steps).

    As the original, warmup and decay run at once: linear decay to 0 over all steps,
    multiplied by the linear warmup factor. Step 0 (the first update) has rate 0.
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps):
        if total_steps < 1:
            raise ValueError(f"Expected total_steps >= 1. Received: total_steps={total_steps}")
        if warmup_steps < 0:
            raise ValueError(f"Expected warmup_steps >= 0. Received: warmup_steps={warmup_steps}")
        self.peak_learning_rate = peak_learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay = 1.0 - ops.minimum(step, self.total_steps) / self.total_steps
        warmup = ops.minimum(1.0, step / self.warmup_steps) if self.warmup_steps else 1.0
        return self.peak_learning_rate * decay * warmup

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


def electra_adamw(learning_rate=5e-4, warmup_steps=10_000, total_steps=1_000_000, **kwargs):
    """The pretraining optimizer of the original: `AdamWeightDecay` on `WarmupLinearDecay`.

    Example:
    >>> opt = electra_adamw(learning_rate=5e-4, warmup_steps=10, total_steps=100)
    >>> round(float(opt.learning_rate), 6)  # step 0: warmup factor 0
    0.0
    """
    schedule = WarmupLinearDecay(learning_rate, warmup_steps, total_steps)
    return AdamWeightDecay(learning_rate=schedule, **kwargs)


def layerwise_learning_rate_multipliers(model, backbone, layer_decay=0.8, original_off_by_one=False):
    """Fine-tuning rates by depth: {variable path: layer_decay ** depth_from_top}.

    Encoder layer i of n sits at depth n - i (the top layer at 1), the embeddings (and their
    E->H projection) below the bottom layer at n + 1, and everything outside `backbone` (the
    task head) at depth 0, the full rate. The original counts one deeper for every backbone
    variable (its top layer gets layer_decay ** 2: `_get_layer_lrs` in
    google-research/electra's model/optimization.py); `original_off_by_one=True` reproduces that.

    Works for our `ElectraBackbone` and keras-hub's `ElectraBackbone`: both name their encoder
    layers `transformer_layer_<i>`.

    Example:
    >>> from electra_keras.models import ElectraBackbone
    >>> backbone = ElectraBackbone(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16,
    ...     intermediate_dim=32, embedding_dim=8, max_sequence_length=16)
    >>> rates = layerwise_learning_rate_multipliers(backbone, backbone, layer_decay=0.5)
    >>> sorted(set(rates.values()))
    [0.125, 0.25, 0.5]
    """
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"Expected 0 < layer_decay <= 1. Received: layer_decay={layer_decay}")
    num_layers = backbone.num_layers
    extra = 1 if original_off_by_one else 0
    in_backbone = {id(v) for v in backbone.trainable_variables}
    multipliers = {}
    for variable in model.trainable_variables:
        if id(variable) not in in_backbone:
            depth = 0
        else:
            layer = re.search(r"(?:^|/)transformer_layer_(\d+)/", variable.path)
            depth = (num_layers - int(layer.group(1)) if layer else num_layers + 1) + extra
        multipliers[variable.path] = layer_decay**depth
    return multipliers


def finetuning_adamw(model, backbone, learning_rate=1e-4, total_steps=1000, warmup_fraction=0.1,
                     layer_decay=0.8, weight_decay=0.01, original_off_by_one=False, **kwargs):
    """The original's fine-tuning optimizer: `AdamWeightDecay` with layer-wise rates.

    Warmup over `warmup_fraction` of the steps, linear decay to 0, rates
    `layerwise_learning_rate_multipliers(model, backbone, layer_decay)`; layer_decay 1.0 turns
    the layer-wise decay off. REFERENCE defaults: lr 1e-4 (Large 5e-5), decay 0.8 (Large 0.9),
    warmup 10%, weight decay 0.01.
    """
    schedule = WarmupLinearDecay(learning_rate, int(round(warmup_fraction * total_steps)), total_steps)
    multipliers = layerwise_learning_rate_multipliers(model, backbone, layer_decay, original_off_by_one)
    return AdamWeightDecay(learning_rate=schedule, weight_decay=weight_decay,
                           learning_rate_multipliers=multipliers, **kwargs)
