"""Export a discriminator for serving: SavedModel (ids and raw text), TFLite/LiteRT and ONNX.

    electra-keras export --model saved_models/<run> --format saved_model|tflite|onnx|keras_hub|hf

Everything lands in `saved_models/<run>/export/` with vocab.txt, tokenizer_config.json,
`electra_tokenizer.py` (tokenization with the standard library and NumPy, for the TFLite and
ONNX models) and MANIFEST.json (inputs, outputs, sequence length, format versions).

The served output is the discriminator's per-token probability that the token was replaced,
`replaced_probability` (batch, seq) float32.

SavedModel, TFLite and ONNX are TensorFlow-traced: the .keras file is loaded under the
TensorFlow backend. Called from another backend, `export` runs itself in a child process with
KERAS_BACKEND=tensorflow; a model trained on JAX or PyTorch exports the same way.
"""

import json
import os
import shutil
import subprocess
import sys

FORMATS = ("saved_model", "tflite", "onnx", "keras_hub", "hf")
QUANTIZATIONS = ("none", "float16", "int8")
EXPORT_DIR = "export"
OUTPUT_NAME = "replaced_probability"
INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


def export(model_dir, fmt, output_dir=None, quantize="none", seq_len=None):
    """Export the discriminator in `model_dir` (a run or converted-model directory); returns the path.

    quantize (TFLite only): "none" (float32), "float16" (weights), "int8" (dynamic range).
    seq_len: the static sequence length of the TFLite model and the text signatures' padding
        (default: the sequence length the model was trained at).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}: expected one of {FORMATS}")
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r}: expected one of {QUANTIZATIONS}")
    if quantize != "none" and fmt != "tflite":
        raise ValueError(f"--quantize {quantize} applies to TFLite only, not {fmt}")
    output_dir = output_dir or os.path.join(model_dir, EXPORT_DIR)
    if fmt in ("keras_hub", "hf"):
        from electra_keras import convert

        return convert.save(convert.load(model_dir, "electra_keras"), os.path.join(output_dir, fmt), to=fmt,
                             overwrite=True)

    import keras

    if keras.backend.backend() != "tensorflow":
        return _export_in_tensorflow(model_dir, fmt, output_dir, quantize, seq_len)
    from electra_keras.convert.native import load_model_directory

    converted = load_model_directory(model_dir, part="discriminator")
    seq_len = seq_len or converted.config.sequence_length
    if not 2 < seq_len <= converted.config.max_sequence_length:
        raise ValueError(f"seq_len={seq_len}: expected 3 to max_sequence_length={converted.config.max_sequence_length}")
    os.makedirs(output_dir, exist_ok=True)
    serving = serving_model(converted.model)
    if fmt == "saved_model":
        path = save_saved_model(serving, converted.tokenizer, os.path.join(output_dir, "saved_model"), seq_len)
    elif fmt == "tflite":
        path = save_tflite(serving, os.path.join(output_dir, f"discriminator_{_precision(quantize)}.tflite"),
                           seq_len, quantize)
    else:
        path = save_onnx(serving, os.path.join(output_dir, "discriminator.onnx"))
    _write_companions(output_dir, converted, fmt, path, seq_len, quantize)
    return path


def _precision(quantize):
    return {"none": "float32", "float16": "float16", "int8": "int8"}[quantize]


def _export_in_tensorflow(model_dir, fmt, output_dir, quantize, seq_len):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    command = [sys.executable, "-m", "electra_keras.export", model_dir, fmt, output_dir, quantize, str(seq_len or 0)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"export under the TensorFlow backend failed: {last}")
    return result.stdout.strip().splitlines()[-1]


# ---- the served model ----------------------------------------------------------------------------


def serving_model(discriminator):
    """The discriminator with a sigmoid: inputs -> {"replaced_probability": (batch, seq)}."""
    import keras

    inputs = {n: keras.Input(shape=(None,), dtype="int32", name=n) for n in INPUT_NAMES}
    probability = keras.ops.sigmoid(discriminator(inputs))
    return keras.Model(inputs, {OUTPUT_NAME: probability}, name="electra_discriminator_serving")


def _ids_signature(seq_len=None, batch=None):
    import tensorflow as tf

    return [{n: tf.TensorSpec((batch, seq_len), tf.int32, name=n) for n in INPUT_NAMES}]


def text_preprocessor(tokenizer, seq_len):
    """A tf.Module that tokenizes strings (or string pairs) in the graph with tensorflow-text."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    if tokenizer.lower_case and not tokenizer.strip_accents:
        raise ValueError("tensorflow-text lower-cases only together with accent stripping; this vocabulary "
                         "lower-cases and keeps accents, so the raw-text signature cannot match it")
    ids = tokenizer.special_ids

    class TextPreprocessor(tf.Module):
        def __init__(self):
            super().__init__()
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(tokenizer.tokens),
                                                    tf.range(len(tokenizer.tokens), dtype=tf.int64)),
                default_value=ids["unk_token_id"])
            self.table = table
            self.bert = tf_text.BertTokenizer(table, token_out_type=tf.int32, lower_case=tokenizer.lower_case,
                                              max_bytes_per_word=200)

        def __call__(self, texts):
            segments = [self.bert.tokenize(t).merge_dims(-2, -1) for t in texts]
            budget = seq_len - len(segments) - 1
            trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
            token_ids, segment_ids = tf_text.combine_segments(
                trimmed, start_of_sequence_id=ids["cls_token_id"], end_of_segment_id=ids["sep_token_id"])
            token_ids, padding_mask = tf_text.pad_model_inputs(token_ids, max_seq_length=seq_len)
            segment_ids, _ = tf_text.pad_model_inputs(segment_ids, max_seq_length=seq_len)
            return {"token_ids": tf.cast(token_ids, tf.int32), "segment_ids": tf.cast(segment_ids, tf.int32),
                    "padding_mask": tf.cast(padding_mask, tf.int32)}

    return TextPreprocessor()


def save_saved_model(serving, tokenizer, path, seq_len):
    """A SavedModel with signatures `serving_default` (ids), `text` and `text_pair` (strings)."""
    import keras
    import tensorflow as tf

    preprocess = text_preprocessor(tokenizer, seq_len)
    archive = keras.export.ExportArchive()
    archive.track(serving)
    archive.track(preprocess)
    archive.add_endpoint("serving_default", lambda x: serving(x), input_signature=_ids_signature())

    def text(texts):
        return serving(preprocess([texts]))

    def text_pair(first, second):
        return serving(preprocess([first, second]))

    archive.add_endpoint("text", text, input_signature=[tf.TensorSpec((None,), tf.string, name="text")])
    archive.add_endpoint("text_pair", text_pair, input_signature=[
        tf.TensorSpec((None,), tf.string, name="first"), tf.TensorSpec((None,), tf.string, name="second")])
    _replace(path, lambda tmp: archive.write_out(tmp, verbose=False))
    return path


def save_tflite(serving, path, seq_len, quantize="none"):
    """A TFLite model with static sequence length `seq_len`, via Keras's LiteRT exporter."""
    import tensorflow as tf

    options = {}
    if quantize != "none":
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]  # alone: dynamic-range int8 weights
    if quantize == "float16":
        options["target_spec"] = {"supported_types": [tf.float16]}
    _replace(path, lambda tmp: serving.export(tmp, format="litert", input_signature=_ids_signature(seq_len, 1),
                                              verbose=False, **options))
    return path


def save_onnx(serving, path):
    """An ONNX model (dynamic batch and sequence) via Keras's exporter (tf2onnx)."""
    with _erf_gelu(serving):  # tf2onnx has no Erfc, which tf.nn.gelu uses; erf is the same function
        _replace(path, lambda tmp: serving.export(tmp, format="onnx", input_signature=_ids_signature(),
                                                  verbose=False))
    return path


class _erf_gelu:
    """Swap exact GELU for 0.5 x (1 + erf(x / sqrt 2)) in every Dense while exporting."""

    def __init__(self, model):
        self.model = model
        self.swapped = []

    def __enter__(self):
        import keras

        for layer in self.model._flatten_layers(include_self=False):
            if getattr(layer, "activation", None) is keras.activations.gelu:
                self.swapped.append((layer, layer.activation))
                layer.activation = _gelu_via_erf

    def __exit__(self, *exc):
        for layer, activation in self.swapped:
            layer.activation = activation


def _gelu_via_erf(x):
    import math

    from keras import ops

    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


def _replace(path, write):
    """Write to a temporary sibling, then rename onto `path`: no half-written export survives."""
    tmp = path + ".partial" + (os.path.splitext(path)[1] if os.path.splitext(path)[1] else "")
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    write(tmp)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.replace(tmp, path)


# ---- what travels with the model -----------------------------------------------------------------


def _write_companions(output_dir, converted, fmt, path, seq_len, quantize):
    import keras
    import tensorflow as tf

    converted.tokenizer.save(output_dir)
    shutil.copy(os.path.join(os.path.dirname(__file__), "electra_tokenizer.py"), output_dir)
    manifest_path = os.path.join(output_dir, "MANIFEST.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    entry = {
        "path": os.path.relpath(path, output_dir),
        "inputs": {n: "int32 (batch, seq)" for n in INPUT_NAMES},
        "outputs": {OUTPUT_NAME: "float32 (batch, seq): probability that each token was replaced"},
        "sequence_length": seq_len if fmt == "tflite" else f"any up to {converted.config.max_sequence_length}",
        "vocab": "vocab.txt",
        "lower_case": converted.tokenizer.lower_case,
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    if fmt == "saved_model":
        entry["signatures"] = {
            "serving_default": "token_ids, segment_ids, padding_mask",
            "text": f"text: string (batch,), tokenized in the graph, padded to {seq_len}",
            "text_pair": f"first, second: string (batch,), packed [CLS] first [SEP] second [SEP], padded to {seq_len}",
        }
    if fmt == "tflite":
        entry["quantization"] = {"none": "float32", "float16": "float16 weights",
                                 "int8": "dynamic-range int8 weights"}[quantize]
    if fmt == "onnx":
        import onnx

        entry["versions"]["onnx"] = onnx.__version__
    key = fmt if fmt != "tflite" else f"tflite_{_precision(quantize)}"
    manifest[key] = entry
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)


def main(argv):
    model_dir, fmt, output_dir, quantize, seq_len = argv
    print(export(model_dir, fmt, output_dir, quantize, int(seq_len) or None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
