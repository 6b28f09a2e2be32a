"""Exported models against the Keras model they came from, on the same inputs.

SavedModel, TFLite and ONNX are traced with TensorFlow, so the exports are made under the
TensorFlow backend; from JAX and PyTorch `export` runs itself in a TensorFlow child process,
which test_export_from_another_backend checks. The reference outputs always come from the
Keras model in this process, whatever its backend.
"""

import json
import os

import keras
import numpy as np
import pytest

from electra_keras import ElectraConfig, convert, export
from electra_keras.data.tokenizer import BERT_RESERVED, WordPieceTokenizer
from electra_keras.export.electra_tokenizer import Tokenizer as StandaloneTokenizer

WORDS = ("the cat sat on mat dog ran far ##s ##ed a big red house tree by river old new stone un ##der "
         "##stand caf ##e naive . , ? ! ' - 中 文").split()
TOKENS = list(BERT_RESERVED) + WORDS
SEQ = 16
TEXTS = ["The cat sat on the mat.", "Old dogs ran far, by the river!", "Understand? Café naïve",
         "the big red house " * 6, "中文 stone-tree xyzzy"]
PAIRS = ["A red stone.", "the river " * 10, "Cats?", "new", "old house"]
tensorflow_only = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="exports are made in TensorFlow (other backends: see test_export_from_another_backend)")


def np_(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A discriminator of ours with random weights at a trained model's scale, saved as a model
    directory: kernels and tables ~N(0, 0.05), LayerNorm gains ~N(1, 0.1), biases ~N(0, 0.05)."""
    keras.utils.set_random_seed(3)
    config = ElectraConfig(vocabulary_size=len(TOKENS), embedding_dim=16, hidden_dim=32, num_layers=2,
                           num_heads=2, intermediate_dim=64, max_sequence_length=64, sequence_length=32)
    model = convert.build_model("discriminator", config)
    rng = np.random.default_rng(3)
    for v in model.trainable_variables:
        mean = 1.0 if v.name == "gamma" else 0.0
        v.assign(rng.normal(mean, 0.05, tuple(v.shape)).astype("float32"))
    # logits spread like a trained discriminator's (std 2 on a batch) and centred on it, so that
    # about half the tokens read as replaced and quantized decisions are tested where they can flip
    vocab_dir = tmp_path_factory.mktemp("vocab")
    WordPieceTokenizer(TOKENS).save(vocab_dir)
    batch = StandaloneTokenizer.from_directory(vocab_dir)(TEXTS, PAIRS, seq_len=SEQ)
    head = model.get_layer("discriminator_head").dense_prediction
    head.kernel.assign(head.kernel * (2.0 / np.std(real(batch, np_(model(batch))))))
    head.bias.assign(head.bias - np.median(real(batch, np_(model(batch)))))
    path = str(tmp_path_factory.mktemp("export") / "model")
    convert.save(convert.Converted(model, WordPieceTokenizer(TOKENS), config, "discriminator"), path)
    return path


@pytest.fixture(scope="module")
def reference(model_dir):
    model = convert.load(model_dir).model
    tokenizer = StandaloneTokenizer.from_directory(model_dir)

    def probabilities(batch):
        return np_(keras.ops.sigmoid(model(batch)))

    return tokenizer, probabilities


def real(batch, array):
    return array[batch["padding_mask"].astype(bool)]


def max_diff(batch, a, b):
    return float(np.max(np.abs(real(batch, a) - real(batch, b))))


def test_the_standalone_tokenizer_is_ours(model_dir):
    ours = WordPieceTokenizer.from_directory(model_dir)
    theirs = StandaloneTokenizer.from_directory(model_dir)
    texts = TEXTS + PAIRS + ["\tTabs\nand\x00 controls\u200b", "x" * 250, "Naïve CAFÉ", "don't-stop"]
    for text in texts:
        assert theirs.tokenize(text) == ours.tokenize(text), text
        assert theirs.encode(text) == ours.encode(text), text
    batch = theirs(TEXTS, PAIRS, seq_len=SEQ)
    # room for 13 pieces: 10 + 20 pieces share it round robin (7 + 6), 24 + 1 leave the long one 12
    first, second = ours.encode(TEXTS[1]), ours.encode(PAIRS[1])
    assert (len(first), len(second)) == (10, 20)
    assert list(batch["token_ids"][1]) == [101, *first[:7], 102, *second[:6], 102]
    assert list(batch["segment_ids"][1]) == [0] * 9 + [1] * 7
    first, second = ours.encode(TEXTS[3]), ours.encode(PAIRS[3])
    assert list(batch["token_ids"][3]) == [101, *first[:12], 102, *second, 102]
    short = theirs(["Cats?"], seq_len=SEQ)
    assert list(short["token_ids"][0]) == [101, *ours.encode("Cats?"), 102] + [0] * (SEQ - 5)
    assert list(short["padding_mask"][0]) == [1] * 5 + [0] * (SEQ - 5)


@tensorflow_only
def test_saved_model_signatures(model_dir, reference):
    import tensorflow as tf

    tokenizer, probabilities = reference
    path = export.export(model_dir, "saved_model", seq_len=SEQ)
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"serving_default", "text", "text_pair"}
    batch = tokenizer(TEXTS, seq_len=SEQ)
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in batch.items()})
    assert max_diff(batch, served["replaced_probability"].numpy(), probabilities(batch)) < 1e-5
    # raw text, tokenized in the graph, gives what tokenizing in Python gives
    from_text = loaded.signatures["text"](text=tf.constant(TEXTS))["replaced_probability"].numpy()
    assert max_diff(batch, from_text, probabilities(batch)) < 1e-5
    pairs = tokenizer(TEXTS, PAIRS, seq_len=SEQ)
    from_pairs = loaded.signatures["text_pair"](first=tf.constant(TEXTS), second=tf.constant(PAIRS))
    assert max_diff(pairs, from_pairs["replaced_probability"].numpy(), probabilities(pairs)) < 1e-5
    manifest = json.load(open(os.path.join(model_dir, "export", "MANIFEST.json")))
    assert manifest["saved_model"]["signatures"]["text"].endswith(f"padded to {SEQ}")


def run_tflite(path, batch):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    outputs = [runner(**{k: v[i : i + 1] for k, v in batch.items()})["replaced_probability"]
               for i in range(len(batch["token_ids"]))]
    return np.concatenate(outputs)


@tensorflow_only
def test_tflite_float32_float16_int8(model_dir, reference):
    tokenizer, probabilities = reference
    batch = tokenizer(TEXTS, PAIRS, seq_len=SEQ)
    expected = probabilities(batch)
    path = export.export(model_dir, "tflite", seq_len=SEQ)
    assert max_diff(batch, run_tflite(path, batch), expected) < 1e-4
    for quantize in ("float16", "int8"):
        path = export.export(model_dir, "tflite", quantize=quantize, seq_len=SEQ)
        got = run_tflite(path, batch)
        agreement = np.mean(real(batch, got > 0.5) == real(batch, expected > 0.5))
        print(f"tflite {quantize}: max abs diff {max_diff(batch, got, expected):.2e}, "
              f"replaced decision agreement {agreement:.2%}")
        assert agreement >= 0.99
    sizes = {q: os.path.getsize(os.path.join(model_dir, "export", f"discriminator_{q}.tflite"))
             for q in ("float32", "float16", "int8")}
    assert sizes["int8"] < sizes["float16"] < sizes["float32"]


@tensorflow_only
def test_onnx(model_dir, reference):
    import onnxruntime

    tokenizer, probabilities = reference
    path = export.export(model_dir, "onnx")
    session = onnxruntime.InferenceSession(path)
    for seq_len in (SEQ, 40):  # the ONNX model takes any length
        batch = tokenizer(TEXTS, PAIRS, seq_len=seq_len)
        got = session.run(["replaced_probability"], dict(batch))[0]
        assert max_diff(batch, got, probabilities(batch)) < 1e-5


@pytest.mark.skipif(keras.backend.backend() == "tensorflow", reason="checks the child process other backends use")
def test_export_from_another_backend(model_dir, reference):
    import onnxruntime

    tokenizer, probabilities = reference
    path = export.export(model_dir, "onnx")  # runs under KERAS_BACKEND=tensorflow in a child process
    batch = tokenizer(TEXTS, seq_len=SEQ)
    got = onnxruntime.InferenceSession(path).run(["replaced_probability"], dict(batch))[0]
    assert max_diff(batch, got, probabilities(batch)) < 1e-5


def test_bad_export_requests(model_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'pb'"):
        export.export(model_dir, "pb")
    with pytest.raises(ValueError, match="applies to TFLite only"):
        export.export(model_dir, "onnx", quantize="int8")
    with pytest.raises((FileNotFoundError, RuntimeError), match="holds no discriminator.keras"):
        export.export(str(tmp_path), "onnx")


def test_cli_export(model_dir, capsys):
    from electra_keras.cli import main

    assert main(["export", "--model", model_dir, "--format", "onnx"]) == 0
    assert "discriminator.onnx" in capsys.readouterr().out
    assert main(["export", "--model", model_dir, "--format", "onnx", "--quantize", "int8"]) == 2
    assert "applies to TFLite only" in capsys.readouterr().err


# ---- fine-tuned models ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """A classifier fine-tuned on a toy SST-2 and a SQuAD 2.0 span extractor, as run directories."""
    from test_finetuning import model_dir as pretrained, write_sst2, write_squad

    from electra_keras.finetuning import finetune

    tmp = tmp_path_factory.mktemp("finetuned")
    write_sst2(str(tmp / "SST-2"))
    classifier, _ = finetune(pretrained(tmp, "a"), "sst-2", str(tmp / "SST-2"), output_dir=str(tmp / "runs"),
                             run_name="sst", verbose=0, epochs=3, batch_size=8, max_seq_len=16, learning_rate=1e-3)
    (tmp / "squad").mkdir()
    for name in ("train-v2.0.json", "dev-v2.0.json"):
        write_squad(str(tmp / "squad" / name))
    span, _ = finetune(pretrained(tmp, "b"), "squad2", str(tmp / "squad"), output_dir=str(tmp / "runs"),
                       run_name="squad", verbose=0, epochs=2, batch_size=4, max_seq_len=24, doc_stride=8,
                       max_query_len=8)
    return classifier, span


def sentences(n=40, seed=0):
    from test_finetuning import WORDS as words

    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=rng.integers(2, 12))) for _ in range(n)]


def run_tflite_all(path, batch):
    """Every output of a batch-1 TFLite model, one example at a time, stacked."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path).get_signature_runner()
    rows = [runner(**{k: v[i : i + 1] for k, v in batch.items()}) for i in range(len(batch["token_ids"]))]
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


@tensorflow_only
def test_classifier_exports(finetuned):
    import onnxruntime
    import tensorflow as tf

    run = finetuned[0]
    model = keras.saving.load_model(os.path.join(run, "finetuned.keras"))
    tokenizer = StandaloneTokenizer.from_directory(run)
    texts = sentences()
    batch = tokenizer(texts, seq_len=16)
    expected = np_(keras.ops.softmax(model(batch), axis=-1))  # (batch, 2)

    loaded = tf.saved_model.load(export.export(run, "saved_model"))
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in batch.items()})
    assert np.abs(served["probabilities"].numpy() - expected).max() < 1e-5
    from_text = loaded.signatures["text"](text=tf.constant(texts))["probabilities"].numpy()
    assert np.abs(from_text - expected).max() < 1e-5
    session = onnxruntime.InferenceSession(export.export(run, "onnx"))
    assert np.abs(session.run(["probabilities"], dict(batch))[0] - expected).max() < 1e-5
    got = run_tflite_all(export.export(run, "tflite"), batch)["probabilities"]
    assert np.abs(got - expected).max() < 1e-4
    for quantize in ("float16", "int8"):
        got = run_tflite_all(export.export(run, "tflite", quantize=quantize), batch)["probabilities"]
        agreement = np.mean(got.argmax(-1) == expected.argmax(-1))
        print(f"classifier tflite {quantize}: max abs diff {np.abs(got - expected).max():.2e}, "
              f"argmax agreement {agreement:.2%}")
        assert agreement >= 0.99
    manifest = json.load(open(os.path.join(run, "export", "MANIFEST.json")))
    assert manifest["onnx"]["labels"] == ["0", "1"] and manifest["onnx"]["model"] == "classifier"
    assert set(manifest) == {"saved_model", "onnx", "tflite_float32", "tflite_float16", "tflite_int8"}


@tensorflow_only
def test_span_extractor_exports(finetuned):
    import onnxruntime
    import tensorflow as tf

    run = finetuned[1]
    model = keras.saving.load_model(os.path.join(run, "finetuned.keras"))
    tokenizer = StandaloneTokenizer.from_directory(run)
    questions = ["where is the " + w + " ?" for w in sentences(12, seed=1)]
    contexts = sentences(12, seed=2)
    batch = tokenizer(questions, contexts, seq_len=24)
    expected = {k: np_(v) for k, v in model(batch).items()}

    def check(got, atol):
        assert set(got) == set(expected)
        # the -1000 of masked tokens is kept exactly enough to compare at 1e-4 relative
        np.testing.assert_allclose(got["start_logits"], expected["start_logits"], rtol=1e-5, atol=atol)
        np.testing.assert_array_equal(got["start_top_index"][:, :3], expected["start_top_index"][:, :3])
        for key in ("start_top_log_probs", "end_top_log_probs", "answerable_logit"):
            np.testing.assert_allclose(got[key], expected[key], atol=atol, err_msg=key)

    loaded = tf.saved_model.load(export.export(run, "saved_model"))
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in batch.items()})
    check({k: v.numpy() for k, v in served.items()}, 1e-5)
    pairs = loaded.signatures["text_pair"](first=tf.constant(questions), second=tf.constant(contexts))
    check({k: v.numpy() for k, v in pairs.items()}, 1e-5)
    session = onnxruntime.InferenceSession(export.export(run, "onnx"))
    names = [o.name for o in session.get_outputs()]
    check(dict(zip(names, session.run(names, dict(batch)))), 1e-5)
    check(run_tflite_all(export.export(run, "tflite"), batch), 1e-4)
    for quantize in ("float16", "int8"):
        got = run_tflite_all(export.export(run, "tflite", quantize=quantize), batch)
        agreement = np.mean(got["start_top_index"][:, 0] == expected["start_top_index"][:, 0])
        diff = np.abs(got["start_top_log_probs"] - expected["start_top_log_probs"]).max()
        print(f"span tflite {quantize}: best start agreement {agreement:.2%}, max start log-prob diff {diff:.2e}")
        assert agreement >= 0.99
    manifest = json.load(open(os.path.join(run, "export", "MANIFEST.json")))
    assert "answerable_logit" in manifest["tflite_int8"]["outputs"]


def test_fine_tuned_models_do_not_go_to_checkpoint_formats(finetuned):
    with pytest.raises(ValueError, match="fine-tuned model"):
        export.export(finetuned[0], "hf")
