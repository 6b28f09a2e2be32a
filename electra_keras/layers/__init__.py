"""Layers that hold ELECTRA's math; the encoder layers themselves come from keras-hub."""

from electra_keras.layers.electra_embeddings import ElectraEmbeddings
from electra_keras.layers.electra_gdes_embeddings import ElectraGDESEmbeddings
from electra_keras.layers.electra_heads import ElectraDiscriminatorHead, ElectraMaskedLMHead
from electra_keras.layers.electra_transformer_encoder import ElectraTransformerEncoder

__all__ = ["ElectraEmbeddings", "ElectraGDESEmbeddings", "ElectraTransformerEncoder", "ElectraMaskedLMHead",
           "ElectraDiscriminatorHead"]
