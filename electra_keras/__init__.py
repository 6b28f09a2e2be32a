"""electra_keras: ELECTRA pretraining and fine-tuning for Keras 3 (TensorFlow, JAX, PyTorch)."""

from electra_keras import convert, data, evaluation, finetuning, flops, layers, objectives, optimizers
from electra_keras import probe
from electra_keras.config import ElectraConfig
from electra_keras.detection import detect
from electra_keras.models import ElectraBackbone, ElectraClassifier, ElectraPretrainer, ElectraSpanExtractor

__version__ = "0.1.0"

__all__ = [
    "ElectraConfig",
    "ElectraBackbone",
    "ElectraClassifier",
    "ElectraPretrainer",
    "ElectraSpanExtractor",
    "convert",
    "detect",
    "data",
    "evaluation",
    "finetuning",
    "flops",
    "layers",
    "objectives",
    "optimizers",
    "probe",
]
