"""The original's optimizer: Adam with decoupled weight decay, no bias correction, clipping.

Backend-agnostic: a `keras.optimizers.Optimizer` subclass, so every backend's train step,
loss scaling and distribution strategy use it unchanged.
"""

import keras
from keras import ops

# Variables the original leaves undecayed ("LayerNorm", "layer_norm", "bias"), by Keras
# variable name: LayerNorm's gamma/beta and every bias (including the MLM output_bias).
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="electra_keras")
class AdamWeightDecay(keras.optimizers.Optimizer):
    """Adam with decoupled weight decay, as google-research/electra's `AdamWeightDecayOptimizer`.

    update = m / (sqrt(v) + epsilon) (+ weight_decay * w for decayed variables);
    w <- w - lr * update. The original applies no bias correction to m and v; set
    `bias_correction=True` for standard AdamW. Gradients are clipped to a global norm of 1.0
    by default.

    Args:
        learning_rate: float or a `LearningRateSchedule`.
        weight_decay: decoupled decay rate (0.01 in the original).
        beta_1, beta_2, epsilon: Adam constants (0.9, 0.999, 1e-6 in the original).
        bias_correction: apply Adam's bias correction (False in the original).
        exclude_from_weight_decay: regexes searched in variable names to exempt from decay.
        global_clipnorm: clip gradients to this global norm (None: no clipping).
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.bias_correction = bias_correction
        self.exclude_names = tuple(exclude_from_weight_decay or ())
        if self.exclude_names:
            self.exclude_from_weight_decay(var_names=list(self.exclude_names))

    def decays(self, variable):
        """Whether `variable` gets weight decay (False for LayerNorm weights and biases)."""
        return bool(self.weight_decay) and self._use_weight_decay(variable)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient, variable, learning_rate):
        # Decoupled weight decay (lr * weight_decay * w) is applied by the base class before
        # this step, to the variables `exclude_from_weight_decay` leaves in.
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        if self.bias_correction:
            step = ops.cast(self.iterations + 1, variable.dtype)
            lr = lr * ops.sqrt(1.0 - ops.power(self.beta_2, step)) / (1.0 - ops.power(self.beta_1, step))
        self.assign_sub(variable, lr * m / (ops.sqrt(v) + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update(
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            bias_correction=self.bias_correction,
            exclude_from_weight_decay=list(self.exclude_names),
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
