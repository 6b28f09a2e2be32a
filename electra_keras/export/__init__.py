"""Export a discriminator or a fine-tuned model for serving: SavedModel (ids and raw text),
TFLite/LiteRT and ONNX.

    electra-keras export --model saved_models/<run> --format saved_model|tflite|onnx|keras_hub|hf

Everything lands in `saved_models/<run>/export/` with vocab.txt, tokenizer_config.json,
`electra_tokenizer.py` (tokenization with the standard library and NumPy, for the TFLite and
ONNX models) and MANIFEST.json (inputs, outputs, sequence length, format versions).

What is served (float32 unless said):
- a pretraining run or converted checkpoint (the discriminator): `replaced_probability`
  (batch, seq), the probability that each token was replaced;
- a fine-tuned classifier: `probabilities` (batch, classes), with the class labels in the
  manifest; a regressor: `score` (batch,) on the label's scale (STS-B: 0 to 5);
- a fine-tuned span extractor: `start_logits` (batch, seq), the beam of `start_top_index` /
  `start_top_log_probs` (batch, K) and `end_top_index` / `end_top_log_probs` (batch, K, K),
  and `answerable_logit` (batch,) for SQuAD 2.0: what `electra_keras.data.squad.postprocess`
  turns into answer texts.

SavedModel, TFLite and ONNX are TensorFlow-traced: the .keras file is loaded under the
TensorFlow backend. Called from another backend, `export` runs itself in a child process with
KERAS_BACKEND=tensorflow; a model trained on JAX or PyTorch exports the same way.
"""

import json
import os
import shutil
import subprocess
import sys

from electra_keras.config import INPUT_NAMES
from electra_keras.export.text_graph import text_preprocessor

FORMATS = ("saved_model", "tflite", "onnx", "keras_hub", "hf")
QUANTIZATIONS = ("none", "float16", "int8")
EXPORT_DIR = "export"
OUTPUT_NAME = "replaced_probability"


def export(model_dir, fmt, output_dir=None, quantize="none", seq_len=None):
    """Export the model in `model_dir`; returns the path written.

    `model_dir` is a pretraining run or converted-model directory (its discriminator is
    exported) or a fine-tuning run (its classifier or span extractor).

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

        if _is_finetuned(model_dir):
            raise ValueError(f"{model_dir} is a fine-tuned model: --format {fmt} writes pretrained "
                             f"discriminators only; use saved_model, tflite or onnx")

        return convert.save(convert.load(model_dir, "electra_keras"), os.path.join(output_dir, fmt), to=fmt,
                             overwrite=True)

    import keras

    if keras.backend.backend() != "tensorflow":
        return _export_in_tensorflow(model_dir, fmt, output_dir, quantize, seq_len)
    served = load_served(model_dir)
    seq_len = seq_len or served.seq_len
    if not 2 < seq_len <= served.max_len:
        raise ValueError(f"seq_len={seq_len}: expected 3 to the model's max_sequence_length={served.max_len}")
    os.makedirs(output_dir, exist_ok=True)
    name = served.kind if served.kind == "discriminator" else "model"
    if fmt == "saved_model":
        path = save_saved_model(served.model, served.tokenizer, os.path.join(output_dir, "saved_model"), seq_len)
    elif fmt == "tflite":
        path = save_tflite(served.model, os.path.join(output_dir, f"{name}_{_precision(quantize)}.tflite"),
                           seq_len, quantize)
    else:
        path = save_onnx(served.model, os.path.join(output_dir, f"{name}.onnx"))
    _write_companions(output_dir, served, fmt, path, seq_len, quantize)
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


class Served:
    """A serving model (inputs -> dict of named outputs) and what the manifest says of it."""

    def __init__(self, model, tokenizer, kind, seq_len, max_len, outputs, labels=None):
        self.model, self.tokenizer, self.kind = model, tokenizer, kind
        self.seq_len, self.max_len, self.outputs, self.labels = seq_len, max_len, outputs, labels


def _is_finetuned(model_dir):
    from electra_keras.finetuning import FINETUNED

    return os.path.isfile(os.path.join(model_dir, FINETUNED))


def load_served(model_dir):
    """The serving model of a pretraining run / converted directory, or of a fine-tuning run."""
    if not _is_finetuned(model_dir):
        from electra_keras.convert.native import load_model_directory

        converted = load_model_directory(model_dir, part="discriminator")
        config = converted.config
        return Served(serving_model(converted.model), converted.tokenizer, "discriminator",
                      config.sequence_length, config.max_sequence_length,
                      {OUTPUT_NAME: "float32 (batch, seq): probability that each token was replaced"})
    from electra_keras.convert.native import load_keras
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.finetuning import FINETUNED, SETTINGS

    with open(os.path.join(model_dir, SETTINGS)) as f:
        record = json.load(f)
    model = load_keras(os.path.join(model_dir, FINETUNED))
    tokenizer = WordPieceTokenizer.from_directory(model_dir)
    seq_len = record["settings"]["max_seq_len"]
    max_len = model.backbone.max_sequence_length
    task = record["task"]
    if "squad" in task:
        outputs = {"start_logits": "float32 (batch, seq)",
                   "start_top_index": "int32 (batch, K)", "start_top_log_probs": "float32 (batch, K)",
                   "end_top_index": "int32 (batch, K, K): the best ends for each start",
                   "end_top_log_probs": "float32 (batch, K, K)"}
        if task["v2"]:
            outputs["answerable_logit"] = "float32 (batch,): above -2.75 means no answer"
        return Served(serving_model(model, "span"), tokenizer, "span", seq_len, max_len, outputs)
    if task["kind"] == "regression":
        return Served(serving_model(model, "regression", task["regression_scale"]), tokenizer, "regression",
                      seq_len, max_len, {"score": f"float32 (batch,): the predicted {task['name']} value"})
    labels = list(task["labels"])
    return Served(serving_model(model, "classifier"), tokenizer, "classifier", seq_len, max_len,
                  {"probabilities": f"float32 (batch, {len(labels)}): class probabilities, in the order of "
                                    f"`labels`"}, labels)


def serving_model(model, kind="discriminator", scale=1.0):
    """`model` wrapped to serve named float outputs (probabilities rather than logits)."""
    import keras

    inputs = {n: keras.Input(shape=(None,), dtype="int32", name=n) for n in INPUT_NAMES}
    if kind == "discriminator":
        outputs = {OUTPUT_NAME: keras.ops.sigmoid(model(inputs))}
    elif kind == "classifier":
        outputs = {"probabilities": keras.ops.softmax(model(inputs), axis=-1)}
    elif kind == "regression":
        outputs = {"score": model(inputs)[:, 0] * scale}
    else:  # span: the beam outputs, unchanged
        outputs = dict(model(inputs))
    return keras.Model(inputs, outputs, name=f"electra_{kind}_serving")


def _ids_signature(seq_len=None, batch=None):
    import tensorflow as tf

    return [{n: tf.TensorSpec((batch, seq_len), tf.int32, name=n) for n in INPUT_NAMES}]


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

        from electra_keras.backends import gelu_via_erf
        from electra_keras.internals import all_sublayers

        for layer in all_sublayers(self.model):
            if getattr(layer, "activation", None) is keras.activations.gelu:
                self.swapped.append((layer, layer.activation))
                layer.activation = gelu_via_erf

    def __exit__(self, *exc):
        for layer, activation in self.swapped:
            layer.activation = activation


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


def _write_companions(output_dir, served, fmt, path, seq_len, quantize):
    import keras
    import tensorflow as tf

    served.tokenizer.save(output_dir)
    shutil.copy(os.path.join(os.path.dirname(__file__), "electra_tokenizer.py"), output_dir)
    manifest_path = os.path.join(output_dir, "MANIFEST.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    entry = {
        "path": os.path.relpath(path, output_dir),
        "inputs": {n: "int32 (batch, seq)" for n in INPUT_NAMES},
        "model": served.kind,
        "outputs": served.outputs,
        "sequence_length": seq_len if fmt == "tflite" else f"any up to {served.max_len}",
        "vocab": "vocab.txt",
        "lower_case": served.tokenizer.lower_case,
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
    }
    if served.labels is not None:
        entry["labels"] = served.labels
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
