"""What differs by Keras backend, in one place (tf.distribute and JAX sharding: distribute.py).

- `exact_gelu`: the fastest exact GELU each backend has;
- `torch_rng`: PyTorch's global generator, which a resumed run must get back;
- `TensorBoardWriter`: scalars for TensorBoard, through TensorFlow whatever the backend.
"""

import math

import keras
import numpy as np
from keras import ops


def gelu_via_erf(x):
    """Exact GELU written with erf: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


def exact_gelu(x):
    """Exact GELU, as the original and Hugging Face; the same function on every backend.

    TensorFlow's `tf.nn.gelu` evaluates it through erfc, several times slower on CPU (and
    tf2onnx has no Erfc), so TensorFlow gets the erf form; the others their fused kernels.
    """
    if keras.backend.backend() == "tensorflow":
        return gelu_via_erf(x)
    return ops.gelu(x, approximate=False)


def torch_rng(state=None):
    """Get (or, given `state`, set) PyTorch's global generator; None on other backends.

    Keras's torch backend takes the dropout masks of unseeded layers (keras-hub's encoder)
    from it, so a resumed run needs it back to continue the same run.
    """
    if keras.backend.backend() != "torch":
        return None
    import torch

    if state is None:
        return torch.random.get_rng_state().numpy()
    torch.random.set_rng_state(torch.from_numpy(np.asarray(state, dtype=np.uint8)))
    return None


class TensorBoardWriter:
    """Scalars into `log_dir` as TensorBoard event files (TensorFlow writes them on any backend)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self._writer = None

    def scalars(self, values, step):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for key, value in values.items():
                tf.summary.scalar(key, value, step=step)
        self._writer.flush()
