"""ElectraTokenizer: keras-hub's tokenizer layer with BERT's WordPiece ids."""

import keras
import keras_hub
import numpy as np

from electra_keras.internals import keras_hub_tensor_utils, uses_tf_workflow
from electra_keras.models.electra_backbone import ElectraBackbone

_utils = keras_hub_tensor_utils()


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraTokenizer(keras_hub.models.ElectraTokenizer):
    """A keras-hub tokenizer layer over a BERT vocab.txt that gives BERT's FullTokenizer ids.

    A `keras_hub.models.ElectraTokenizer` (vocabulary assets, special tokens, `detokenize`,
    presets, `.keras` saving), whose `tokenize` gives the ids of
    `electra_keras.data.tokenizer.WordPieceTokenizer.encode`, the tokenizer the model was
    pretrained with. Called eagerly it runs that tokenizer; inside `tf.data` or a `tf.function`
    (where `Task.fit` and `predict` preprocess strings) it runs the same steps as TensorFlow ops
    (`electra_keras.export.text_graph`, also held to BERT by tests/test_wordpiece_parity.py).

    keras-hub's own WordPiece pre-tokenization departs from BERT's on these inputs, which is why
    `tokenize` is replaced rather than configured:
    - whitespace other than ASCII (no-break space U+00A0, U+2009, U+3000, U+2028): BERT splits
      words there, keras-hub keeps it inside the word (which then becomes [UNK]);
    - control and format characters (U+0007, soft hyphen U+00AD, zero-width space U+200B):
      BERT removes them and joins the word, keras-hub splits the word there;
    - lower-casing: keras-hub case-folds (ß -> ss, ﬁ -> fi, ς -> σ), BERT lower-cases
      (`str.lower`);
    - long words: keras-hub makes a word of over 100 UTF-8 bytes [UNK], BERT one of over 200
      characters;
    - U+FFFD: BERT removes it, keras-hub keeps it.
    Lower-casing and accent stripping of ordinary text, punctuation, CJK characters, unknown
    words and bracketed text such as "[UNK]" (split as punctuation by both) agree.

    Args:
        vocabulary: a list of word pieces or the path of a vocab.txt (one piece a line).
        lowercase: lower-case the text (BERT uncased and ELECTRA's default).
        strip_accents: remove accents; None follows `lowercase`, as BERT does.
        **kwargs: keras-hub's (`sequence_length`, `dtype`, `name`, ...).

    Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "##s", "!"]
    >>> tokenizer = ElectraTokenizer(vocabulary=vocab)
    >>> [int(i) for i in tokenizer("The Cafés!")]
    [5, 6, 7, 8]
    """

    backbone_cls = ElectraBackbone

    def __init__(self, vocabulary=None, lowercase=True, strip_accents=None, **kwargs):
        strip_accents = lowercase if strip_accents is None else strip_accents
        super().__init__(vocabulary=vocabulary, lowercase=bool(lowercase), strip_accents=bool(strip_accents),
                         **kwargs)

    @classmethod
    def from_wordpiece(cls, tokenizer, **kwargs):
        """The layer for one of our `WordPieceTokenizer`s (vocabulary and settings)."""
        return cls(vocabulary=list(tokenizer.tokens), lowercase=tokenizer.lower_case,
                   strip_accents=tokenizer.strip_accents, **kwargs)

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """From a model directory of ours, a keras-hub preset of these classes, or a keras-hub
        ElectraBackbone preset (`electra_keras.models.electra_presets` says which is which)."""
        from electra_keras.models import electra_presets

        if electra_presets.layout(preset) == electra_presets.KERAS_HUB_OURS:
            return super().from_preset(preset, **kwargs)
        return cls.from_wordpiece(electra_presets.load_wordpiece(preset), **kwargs)

    def set_vocabulary(self, vocabulary):
        super().set_vocabulary(vocabulary)
        self._reference = self._graph = None
        if self.vocabulary is None:
            return
        from electra_keras.data.tokenizer import WordPieceTokenizer

        self._reference = WordPieceTokenizer(self.vocabulary, lower_case=self.lowercase,
                                             strip_accents=self.strip_accents)
        if _utils.tf is not None:
            # Built here, outside any tf.data function, as keras-hub builds its own lookup. Only
            # its `tokenize` is used: the packing is the preprocessor's.
            from electra_keras.export.text_graph import text_preprocessor

            self._graph = text_preprocessor(self._reference, seq_len=512)

    def tokenize(self, inputs):
        self.get_vocabulary()  # a clear error when no vocabulary was set
        if uses_tf_workflow(self):
            return self._tokenize_graph(inputs)
        return self._tokenize_eager(inputs)

    def _tokenize_eager(self, inputs):
        texts, batched, outer_shape = _utils.canonicalize_python_string_inputs(inputs)
        ids = [list(row) for row in self._reference.encode_batch(texts)]
        if self.sequence_length:
            ids = np.array([row[: self.sequence_length] + [0] * max(0, self.sequence_length - len(row))
                            for row in ids], dtype=self.compute_dtype)
        if outer_shape is not None:
            return _utils.restore_outer_shape(ids, outer_shape)
        if not batched:
            return np.asarray(ids[0], dtype=self.compute_dtype)
        return ids

    @_utils.preprocessing_function
    def _tokenize_graph(self, texts):
        tf = _utils.tf
        if not isinstance(texts, tf.RaggedTensor):
            texts = tf.convert_to_tensor(texts)
        unbatched = texts.shape.rank == 0
        if unbatched:
            texts = tf.expand_dims(texts, 0)
        ids = tf.cast(self._graph.tokenize(texts), self.compute_dtype)  # (batch, None), ragged
        if self.sequence_length:
            ids = ids.to_tensor(shape=[None, self.sequence_length])
        return tf.squeeze(ids, 0) if unbatched else ids
