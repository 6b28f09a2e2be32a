"""Models: the encoder and the pretraining model that wires generator and discriminator."""

from electra_keras.models.electra_backbone import ElectraBackbone
from electra_keras.models.electra_pretrainer import ElectraPretrainer, build_discriminator

__all__ = ["ElectraBackbone", "ElectraPretrainer", "build_discriminator"]
