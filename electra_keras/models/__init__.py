"""Models: the encoder, the pretraining model, the fine-tuning heads, and the keras-hub task
(tokenizer, preprocessor, text classifier) that takes raw text."""

# A compiled model's .keras file names our optimizer and schedule: importing this package
# registers them too, so that `keras.saving.load_model` needs nothing more.
from electra_keras import optimizers  # noqa: F401
from electra_keras.models.electra_backbone import ElectraBackbone, folded_backbone
from electra_keras.models.electra_classifier import ElectraClassifier
from electra_keras.models.electra_pretrainer import ElectraPretrainer, build_discriminator, folded_discriminator
from electra_keras.models.electra_span_extractor import ElectraSpanExtractor
from electra_keras.models.electra_text_classifier import ElectraTextClassifier
from electra_keras.models.electra_text_classifier_preprocessor import ElectraTextClassifierPreprocessor
from electra_keras.models.electra_tokenizer import ElectraTokenizer

__all__ = ["ElectraBackbone", "ElectraClassifier", "ElectraPretrainer", "ElectraSpanExtractor",
           "ElectraTextClassifier", "ElectraTextClassifierPreprocessor", "ElectraTokenizer", "build_discriminator",
           "folded_backbone", "folded_discriminator"]
