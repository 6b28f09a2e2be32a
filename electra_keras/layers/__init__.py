"""Layers that hold ELECTRA's math; the encoder layers themselves come from keras-hub."""

from electra_keras.layers.electra_embeddings import ElectraEmbeddings
from electra_keras.layers.electra_heads import ElectraDiscriminatorHead, ElectraMaskedLMHead

__all__ = ["ElectraEmbeddings", "ElectraMaskedLMHead", "ElectraDiscriminatorHead"]
