"""Models: the encoder, the pretraining model, and the fine-tuning heads."""

# A compiled model's .keras file names our optimizer and schedule: importing this package
# registers them too, so that `keras.saving.load_model` needs nothing more.
from electra_keras import optimizers  # noqa: F401
from electra_keras.models.electra_backbone import ElectraBackbone, folded_backbone
from electra_keras.models.electra_classifier import ElectraClassifier
from electra_keras.models.electra_pretrainer import ElectraPretrainer, build_discriminator, folded_discriminator
from electra_keras.models.electra_span_extractor import ElectraSpanExtractor

__all__ = ["ElectraBackbone", "ElectraClassifier", "ElectraPretrainer", "ElectraSpanExtractor",
           "build_discriminator", "folded_backbone", "folded_discriminator"]
