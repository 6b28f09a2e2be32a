"""The keras-hub task on raw text: ElectraTokenizer, ElectraTextClassifierPreprocessor,
ElectraTextClassifier and their from_preset on every model directory layout we accept."""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from electra_keras import convert
from electra_keras.convert.native import save_model_directory
from electra_keras.data.tokenizer import BERT_RESERVED, WordPieceTokenizer
from electra_keras.models import ElectraTextClassifier, ElectraTextClassifierPreprocessor, ElectraTokenizer
from electra_keras.optimizers import AdamWeightDecay
from conftest import tiny_config

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "a", "good", "bad", "film", "movie", "was", "very", "cafe", "naive",
         "resume", "hello", "world", "don", "t", "play", "un", "##known", "##s", "##ed", "##ing", "unk", "cls",
         "strasse", "straße", "and", "in", "text", "x", "##x", "soft", "##hyp", "##hen", "中", "国", ".", ",", "!",
         "?", "'", "-", "(", ")", "[", "]", ":"]
TOKENS = list(BERT_RESERVED) + WORDS
PAD, UNK, CLS, SEP = 0, 100, 101, 102
ID = {token: i for i, token in enumerate(TOKENS)}

BATTERY = [
    "The cat sat on the mat.",
    "Hello, World!",  # case and punctuation
    "Café naïve résumé; CAFÉ",  # accents, upper-case accents
    "Don't play (the) dog-movies?",  # apostrophes, brackets, hyphens, ## pieces
    "unknown words: zyx qqq",  # pieces and unknown words
    "[UNK] and [CLS] in text",  # bracketed special tokens are text: split as punctuation
    "Straße strasse",  # keras-hub case-folds ß to ss
    "hello\u00a0world and\u3000the\u2009cat",  # non-ASCII whitespace: BERT splits there
    "soft\u00adhyphen zero\u200bwidth bell\x07ed",  # format and control characters: BERT removes them
    "tab\tand\nnewline\r\n",
    "中国 dog",  # CJK characters are words of their own
    "x" * 150,  # over keras-hub's 100 bytes, within BERT's 200 characters
    "x" * 201,  # over BERT's 200 characters: [UNK]
    "ΟΔΟΣ bad\ufffdfilm",
    "",
    "   ",
]
GOOD = ["good film", "a good movie", "the film was good", "very good", "good good cat", "the dog was very good"]
BAD = ["bad film", "a bad movie", "the film was bad", "very bad", "bad bad cat", "the dog was very bad"]


def np_(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def wordpiece():
    return WordPieceTokenizer(TOKENS)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, wordpiece):
    """A tiny pretraining run's directory as `pretrain` leaves it (pretrainer, discriminator and
    backbone .keras files, config.json, vocab.txt, tokenizer_config.json)."""
    keras.utils.set_random_seed(3)
    config = tiny_config(vocabulary_size=len(TOKENS))
    pretrainer = ek.ElectraPretrainer(config, seed=0)
    path = tmp_path_factory.mktemp("saved_models") / "tiny-run"
    save_model_directory(convert.Converted(pretrainer, wordpiece, config, "pretrainer"), str(path))
    return str(path)


def graph_ids(tokenizer, texts):
    """The ids of the layer's TensorFlow path, as `Task.fit` and `predict` run it in tf.data."""
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(len(texts)).map(tokenizer)
    return next(iter(dataset)).to_list()


@pytest.mark.parametrize("lowercase,strip_accents", [(True, True), (False, False), (True, False)])
def test_tokenizer_gives_our_tokenizers_ids_on_both_paths(wordpiece, lowercase, strip_accents):
    ours = WordPieceTokenizer(TOKENS, lower_case=lowercase, strip_accents=strip_accents)
    layer = ElectraTokenizer(vocabulary=TOKENS, lowercase=lowercase, strip_accents=strip_accents)
    expected = [ours.encode(text) for text in BATTERY]
    assert layer(BATTERY) == expected  # eager: Python
    assert graph_ids(layer, BATTERY) == expected  # in tf.data: TensorFlow ops
    assert [np_(layer(text)).tolist() for text in BATTERY[:3]] == expected[:3]  # one string at a time


def test_tokenizer_ids_by_hand(wordpiece):
    layer = ElectraTokenizer(vocabulary=TOKENS)
    assert np_(layer("Hello, World!")).tolist() == [ID["hello"], ID[","], ID["world"], ID["!"]]
    assert np_(layer("CAFÉ naïve")).tolist() == [ID["cafe"], ID["naive"]]
    assert np_(layer("Playing zyx")).tolist() == [ID["play"], ID["##ing"], UNK]
    assert np_(layer("[UNK]")).tolist() == [ID["["], ID["unk"], ID["]"]]
    assert np_(layer("hello\u00a0world")).tolist() == [ID["hello"], ID["world"]]
    assert np_(layer("soft\u00adhyphen")).tolist() == [ID["soft"], ID["##hyp"], ID["##hen"]]
    assert np_(layer("Straße")).tolist() == [ID["straße"]]
    assert np_(layer("x" * 150)).tolist() == [ID["x"]] + [ID["##x"]] * 149
    assert np_(layer("x" * 201)).tolist() == [UNK]
    cased = ElectraTokenizer(vocabulary=TOKENS, lowercase=False)
    assert np_(cased("The cat")).tolist() == [UNK, ID["cat"]]
    padded = ElectraTokenizer(vocabulary=TOKENS, sequence_length=4)
    assert np_(padded(["the cat", "the cat sat on the mat"])).tolist() == [[ID["the"], ID["cat"], PAD, PAD],
                                                                           [ID["the"], ID["cat"], ID["sat"], ID["on"]]]


def hand_built(first, second, sequence_length):
    """[CLS] first [SEP] second [SEP], segment ids and padding mask, padded with [PAD]."""
    ids = [CLS, *first, SEP, *second, SEP]
    pad = sequence_length - len(ids)
    return {"token_ids": ids + [PAD] * pad,
            "segment_ids": [0] * (len(first) + 2) + [1] * (len(second) + 1) + [0] * pad,
            "padding_mask": [1] * len(ids) + [0] * pad}


def test_preprocessor_packs_a_pair_as_bert():
    preprocessor = ElectraTextClassifierPreprocessor(ElectraTokenizer(vocabulary=TOKENS), sequence_length=12)
    first, second = "The cat sat.", "A dog!"
    expected = hand_built([ID["the"], ID["cat"], ID["sat"], ID["."]], [ID["a"], ID["dog"], ID["!"]], 12)
    eager = preprocessor(x=([first], [second]))  # a bare 2-tuple would be read as (x, y)
    dataset = tf.data.Dataset.from_tensor_slices(([first], [second])).batch(1)
    graph = next(iter(dataset.map(lambda a, b: preprocessor(x=(a, b)))))
    for x in (eager, graph):
        assert {k: np_(v).astype(int).tolist()[0] for k, v in x.items()} == expected
    # A long pair keeps what BERT's _truncate_seq_pair keeps: here 3 pieces of each.
    long_first = "the cat sat on the mat and the dog"  # 9 pieces
    expected = hand_built([ID["the"], ID["cat"], ID["sat"]], [ID["a"], ID["good"], ID["film"]], 9)
    preprocessor.sequence_length = 9
    x, y = preprocessor(([long_first], ["a good film"]), [1])
    assert np_(x["token_ids"]).tolist()[0] == expected["token_ids"] and np_(y).tolist() == [1]
    single = preprocessor("the cat sat on the mat and the dog")
    assert np_(single["token_ids"]).tolist() == [CLS, *[ID[w] for w in "the cat sat on the mat and".split()], SEP]


def head_on_ids(classifier, x):
    """The backbone and ElectraClassifier's head (the classifier's weights) on token ids."""
    reference = ek.ElectraClassifier(classifier.backbone, num_classes=classifier.num_classes)
    reference.get_layer("classifier").set_weights(classifier.get_layer("classifier").get_weights())
    return np_(reference.predict({k: np_(v).astype("int32") for k, v in x.items()}, verbose=0))


def test_classifier_from_a_run_directory_learns_strings_and_round_trips(run_dir, tmp_path):
    classifier = ElectraTextClassifier.from_preset(run_dir, num_classes=2)
    assert isinstance(classifier.optimizer, AdamWeightDecay)  # compiled with the defaults
    assert float(classifier.optimizer.learning_rate) == pytest.approx(5e-5)
    assert classifier.loss.get_config()["from_logits"] is True
    assert classifier.preprocessor.sequence_length == 64  # the tiny model's positions (< 128)

    texts, labels = GOOD + BAD, np.array([1] * len(GOOD) + [0] * len(BAD))
    classifier.compile(optimizer=AdamWeightDecay(3e-3, bias_correction=True))  # loss and metrics: defaults
    classifier.fit(texts, labels, batch_size=4, epochs=25, verbose=0)
    assert classifier.evaluate(texts, labels, verbose=0, return_dict=True)["sparse_categorical_accuracy"] == 1.0

    probe = ["a very good cat", "the bad dog", "zyx film"]
    logits = classifier.predict(probe, verbose=0)
    np.testing.assert_allclose(logits, head_on_ids(classifier, classifier.preprocessor(probe)), rtol=1e-5, atol=1e-6)
    ids = {k: np_(v) for k, v in classifier.preprocessor(probe).items()}  # packed ids skip the preprocessor
    np.testing.assert_allclose(classifier.predict(ids, verbose=0), logits, rtol=1e-5, atol=1e-6)
    pairs = (["the good film", "a bad cat"], ["was good", "very bad"])
    np.testing.assert_allclose(classifier.predict(pairs, verbose=0),
                               head_on_ids(classifier, classifier.preprocessor(x=pairs)), rtol=1e-5, atol=1e-6)

    classifier.save(tmp_path / "classifier.keras")
    loaded = keras.saving.load_model(tmp_path / "classifier.keras")
    assert type(loaded) is ElectraTextClassifier
    assert int(loaded.optimizer.iterations) == int(classifier.optimizer.iterations) == 75  # its state, restored
    np.testing.assert_array_equal(loaded.predict(probe, verbose=0), logits)

    classifier.save_to_preset(str(tmp_path / "preset"))
    for restored in (ElectraTextClassifier.from_preset(str(tmp_path / "preset")),
                     keras_hub.models.TextClassifier.from_preset(str(tmp_path / "preset"))):
        assert type(restored) is ElectraTextClassifier
        np.testing.assert_array_equal(restored.predict(probe, verbose=0), logits)
    fresh_head = ElectraTextClassifier.from_preset(str(tmp_path / "preset"), num_classes=3)
    assert fresh_head.predict(probe, verbose=0).shape == (3, 3)
    backbone = ek.ElectraBackbone.from_preset(str(tmp_path / "preset"))
    x = classifier.preprocessor(probe)
    np.testing.assert_array_equal(np_(backbone(x)), np_(classifier.backbone(x)))
    assert ElectraTokenizer.from_preset(str(tmp_path / "preset"))(BATTERY) == classifier.preprocessor.tokenizer(BATTERY)


def test_every_class_reads_our_model_directories(run_dir, wordpiece):
    backbone = ek.ElectraBackbone.from_preset(run_dir)
    saved = keras.saving.load_model(f"{run_dir}/backbone.keras")
    for a, b in zip(backbone.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ElectraTokenizer.from_preset(run_dir)(BATTERY) == [wordpiece.encode(t) for t in BATTERY]
    preprocessor = ElectraTextClassifierPreprocessor.from_preset(run_dir)
    assert preprocessor.sequence_length == 64
    fresh = ek.ElectraBackbone.from_preset(run_dir, load_weights=False)
    assert not np.array_equal(fresh.get_weights()[0], saved.get_weights()[0])
    with pytest.raises(ValueError, match="pass num_classes"):
        ElectraTextClassifier.from_preset(run_dir)


def test_from_a_keras_hub_electra_preset(run_dir, tmp_path):
    """keras-hub's own ElectraBackbone layout (other layer names): weights copied into ours."""
    converted = convert.load(run_dir)
    preset = convert.save(converted, str(tmp_path / "keras_hub_preset"), to="keras_hub")
    with open(f"{preset}/config.json") as f:
        assert json.load(f)["registered_name"] == "keras_hub>ElectraBackbone"
    classifier = ElectraTextClassifier.from_preset(preset, num_classes=2)
    ours = ElectraTextClassifier.from_preset(run_dir, num_classes=2)
    x = ours.preprocessor(["the good film", "a bad cat sat"])
    assert {k: np_(v).tolist() for k, v in classifier.preprocessor(["the good film", "a bad cat sat"]).items()} == \
        {k: np_(v).tolist() for k, v in x.items()}
    np.testing.assert_allclose(np_(classifier.backbone(x)), np_(ours.backbone(x)), rtol=1e-5, atol=1e-5)
    assert ElectraTokenizer.from_preset(preset)(BATTERY) == ours.preprocessor.tokenizer(BATTERY)


def test_an_unknown_layout_names_the_accepted_ones(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hi")
    (tmp_path / "hf_like").mkdir()
    (tmp_path / "hf_like" / "config.json").write_text('{"model_type": "electra"}')
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"registered_name": "keras_hub>BertBackbone", "config": {}}')
    (tmp_path / "bert" / "metadata.json").write_text("{}")
    cases = {"notes": "holds readme.txt", "hf_like": "config.json alone does not say", "missing": "does not exist",
             "bert": "preset of 'keras_hub>BertBackbone'"}
    for name, detail in cases.items():
        for load in (ElectraTextClassifier.from_preset, ek.ElectraBackbone.from_preset, ElectraTokenizer.from_preset,
                     ElectraTextClassifierPreprocessor.from_preset):
            with pytest.raises(ValueError) as error:
                load(str(tmp_path / name), **({"num_classes": 2} if load == ElectraTextClassifier.from_preset else {}))
            message = str(error.value)
            assert detail in message and "backbone.keras" in message and "metadata.json" in message, message


def test_a_regressor_compiles_with_mean_squared_error():
    backbone = ek.ElectraBackbone(vocabulary_size=len(TOKENS), num_layers=1, num_heads=2, hidden_dim=16,
                                  intermediate_dim=32, max_sequence_length=16)
    preprocessor = ElectraTextClassifierPreprocessor(ElectraTokenizer(vocabulary=TOKENS), sequence_length=8)
    regressor = ElectraTextClassifier(backbone, num_classes=1, preprocessor=preprocessor, pooling="mean")
    assert isinstance(regressor.loss, keras.losses.MeanSquaredError)
    regressor.fit(["good film", "bad film"], np.array([4.5, 0.5], "float32"), epochs=1, verbose=0)
    assert regressor.predict(["good film"], verbose=0).shape == (1, 1)
