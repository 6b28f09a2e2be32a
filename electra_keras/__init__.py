"""electra_keras: ELECTRA pretraining and fine-tuning for Keras 3 (TensorFlow, JAX, PyTorch).

`import electra_keras` imports Keras and registers every class and schedule that a `.keras`
file of this project names, so `keras.saving.load_model(path)` needs nothing more (as
`import keras_hub` does for its models). The submodules below and `detect` load on first use
(PEP 562). The command line lives beside the package (`electra_keras_cli`), so that
`electra-keras --help` imports no framework.
"""

import importlib

from electra_keras.config import ElectraConfig
from electra_keras.models import (ElectraBackbone, ElectraClassifier, ElectraPretrainer, ElectraSpanExtractor,
                                  ElectraTextClassifier, ElectraTextClassifierPreprocessor, ElectraTokenizer)

__version__ = "0.1.0"

_SUBMODULES = ("convert", "data", "evaluation", "finetuning", "flops", "layers", "objectives", "optimizers",
               "probe")
_NAMES = {"detect": "electra_keras.detection"}  # name: the module that defines it

__all__ = sorted(["ElectraBackbone", "ElectraClassifier", "ElectraConfig", "ElectraPretrainer",
                  "ElectraSpanExtractor", "ElectraTextClassifier", "ElectraTextClassifierPreprocessor",
                  "ElectraTokenizer", *_NAMES, *_SUBMODULES])


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"electra_keras.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'electra_keras' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
