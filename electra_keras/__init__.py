"""electra_keras: ELECTRA pretraining and fine-tuning for Keras 3 (TensorFlow, JAX, PyTorch).

The names below load on first use (PEP 562), so `import electra_keras` and the command line's
`--help` do not import a framework; `ek.ElectraBackbone` or `from electra_keras import detect`
imports what it needs.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("convert", "data", "evaluation", "finetuning", "flops", "layers", "objectives", "optimizers",
               "probe")
_NAMES = {  # name: the module that defines it
    "ElectraConfig": "electra_keras.config",
    "ElectraBackbone": "electra_keras.models",
    "ElectraClassifier": "electra_keras.models",
    "ElectraPretrainer": "electra_keras.models",
    "ElectraSpanExtractor": "electra_keras.models",
    "detect": "electra_keras.detection",
}

__all__ = sorted([*_NAMES, *_SUBMODULES])


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"electra_keras.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'electra_keras' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
