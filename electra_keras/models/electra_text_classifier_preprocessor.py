"""ElectraTextClassifierPreprocessor: strings or string pairs in, the backbone's inputs out."""

import keras
import keras_hub

from electra_keras.models.electra_backbone import ElectraBackbone
from electra_keras.models.electra_tokenizer import ElectraTokenizer


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraTextClassifierPreprocessor(keras_hub.models.TextClassifierPreprocessor):
    """Tokenizes and packs texts as BERT: [CLS] a [SEP] (b [SEP]), padded to `sequence_length`.

    A keras-hub `TextClassifierPreprocessor`: it takes a string, a batch of strings or a tuple
    (firsts, seconds) of batches, with labels and sample weights passed through, and gives
    `token_ids`, `segment_ids` (0 for [CLS], a and its [SEP]; 1 for b and its [SEP]) and
    `padding_mask` (batch, sequence_length). Pairs are truncated round robin, which keeps the
    lengths BERT's `_truncate_seq_pair` keeps (the fine-tuning CLI's packing); a single text
    keeps its first sequence_length - 2 pieces.

    Args:
        tokenizer: an `ElectraTokenizer`.
        sequence_length: the padded length (at most the backbone's `max_sequence_length`).
        truncate: "round_robin" (BERT's) or "waterfall".

    Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "."]
    >>> preprocessor = ElectraTextClassifierPreprocessor(ElectraTokenizer(vocabulary=vocab),
    ...     sequence_length=12)
    >>> x = preprocessor(x=(["The cat sat."], ["The cat."]))  # a bare 2-tuple is (x, y)
    >>> [int(i) for i in x["token_ids"][0]]
    [2, 5, 6, 7, 8, 3, 5, 6, 8, 3, 0, 0]
    >>> [int(i) for i in x["segment_ids"][0]]
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    """

    backbone_cls = ElectraBackbone
    tokenizer_cls = ElectraTokenizer

    def __init__(self, tokenizer, sequence_length=128, truncate="round_robin", **kwargs):
        super().__init__(tokenizer=tokenizer, sequence_length=sequence_length, truncate=truncate, **kwargs)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """From a model directory of ours, a keras-hub preset of these classes, or a keras-hub
        ElectraBackbone preset (`electra_keras.models.electra_presets` says which is which);
        `sequence_length` defaults to fine-tuning's (128, or the model's positions if fewer)."""
        from electra_keras.models import electra_presets

        if electra_presets.layout(preset) == electra_presets.KERAS_HUB_OURS:
            return super().from_preset(preset, **kwargs)
        kwargs.setdefault("sequence_length", electra_presets.default_sequence_length(preset))
        return cls(tokenizer=ElectraTokenizer.from_wordpiece(electra_presets.load_wordpiece(preset)), **kwargs)
