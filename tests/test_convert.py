"""Checkpoint conversion against the reference models themselves.

Small random Hugging Face ELECTRA models are built here with `transformers` (PyTorch, CPU),
their weights spread out (std 0.3, so a transposed or misplaced tensor cannot hide behind a
near-zero init), saved, converted, and our outputs compared with theirs on the same inputs.
The TF1 checkpoint is written with tf.compat.v1 in graph mode under the original's variable
names, translated from the Hugging Face names by rules written here, independently of
electra_keras.convert's table.
"""

import json
import os
import re

import keras
import numpy as np
import pytest

from electra_keras import convert
from electra_keras.data.tokenizer import BERT_RESERVED, WordPieceTokenizer

torch = pytest.importorskip("torch", reason="the reference models are Hugging Face PyTorch models")
transformers = pytest.importorskip("transformers", reason="the reference models come from transformers")

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far", "##s", "##ed", "a", "big", "red", "house",
         "tree", "by", "river", "old", "new", "stone"]
TOKENS = list(BERT_RESERVED) + WORDS  # 124 entries, BERT's special ids
V = len(TOKENS)
ATOL = 1e-4  # the float32 parity bound


def np_(x):
    return keras.ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def tokenizer():
    return WordPieceTokenizer(TOKENS)


def hf_config(hidden, layers, heads, embedding=None, ffn=None):
    return transformers.ElectraConfig(
        vocab_size=V, embedding_size=embedding or hidden, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=ffn or 4 * hidden, max_position_embeddings=40,
    )


def spread(model, seed):
    """Every parameter ~ N(0, 0.3): a wrong layout shows up as an O(1) difference."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return model.eval()


def save_hf(model, directory, tokenizer):
    model.save_pretrained(directory)
    tokenizer.save(directory)
    return str(directory)


def make_pair(hidden, layers, heads, embedding, generator_hidden, seed=0):
    """An ElectraForPreTraining and an ElectraForMaskedLM sharing equal embeddings, as released."""
    disc = spread(transformers.ElectraForPreTraining(hf_config(hidden, layers, heads, embedding)), seed)
    gen = spread(transformers.ElectraForMaskedLM(
        hf_config(generator_hidden, layers, max(1, generator_hidden // 64), embedding)), seed + 1)
    gen.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
    return disc, gen


def inputs(batch=2, seq=11, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(104, V, (batch, seq)).astype("int32")
    ids[:, 0], ids[:, 5], ids[:, -1] = 101, 102, 102
    segments = np.zeros_like(ids)
    segments[:, 6:] = 1
    mask = np.ones_like(ids)
    mask[1, 8:] = 0  # the second row is padded
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


def torch_inputs(x):
    return dict(input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
                token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
                attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long))


def real(x, array):
    """The values at real (unpadded) tokens; padded positions carry no meaning in either model."""
    return array[x["padding_mask"].astype(bool)]


def assert_close(x, ours, reference, atol=ATOL):
    diff = np.max(np.abs(real(x, np_(ours)) - real(x, reference)))
    assert diff < atol, f"max abs diff {diff:.3g}"


def our_generator_logits(model, x):
    """Our generator's logits at every position (its head reads the positions it is given)."""
    positions = np.tile(np.arange(x["token_ids"].shape[1], dtype="int32"), (x["token_ids"].shape[0], 1))
    return model.mlm_head(model.generator_backbone(x), positions)


SIZES = [  # (embedding, hidden, layers, heads): E != H (projection) and E == H, several depths and heads
    (16, 32, 2, 2),
    (32, 32, 1, 4),
    (24, 48, 3, 3),
]


@pytest.mark.parametrize("embedding,hidden,layers,heads", SIZES)
def test_hugging_face_models_give_their_outputs(tmp_path, tokenizer, embedding, hidden, layers, heads):
    x, tx = inputs(), torch_inputs(inputs())
    disc = spread(transformers.ElectraForPreTraining(hf_config(hidden, layers, heads, embedding)), 1)
    gen = spread(transformers.ElectraForMaskedLM(hf_config(hidden, layers, heads, embedding)), 2)
    base = spread(transformers.ElectraModel(hf_config(hidden, layers, heads, embedding)), 3)

    converted = convert.load(save_hf(disc, tmp_path / "disc", tokenizer))
    assert converted.kind == "discriminator" and converted.config.num_heads == heads
    with torch.no_grad():
        reference = disc(**tx, output_hidden_states=True)
    assert_close(x, converted.model(x), reference.logits.numpy())
    backbone = convert.mapping.Parts.of(converted.model).backbone
    assert_close(x, backbone(x), reference.hidden_states[-1].numpy())

    converted = convert.load(save_hf(gen, tmp_path / "gen", tokenizer))
    assert converted.kind == "generator"
    with torch.no_grad():
        reference = gen(**tx).logits.numpy()
    assert_close(x, our_generator_logits(converted.model, x), reference)

    converted = convert.load(save_hf(base, tmp_path / "base", tokenizer))
    assert converted.kind == "backbone"
    with torch.no_grad():
        reference = base(**tx).last_hidden_state.numpy()
    assert_close(x, converted.model(x), reference)


def test_a_hugging_face_pair_becomes_one_pretrainer(tmp_path, tokenizer):
    x, tx = inputs(), torch_inputs(inputs())
    disc, gen = make_pair(hidden=128, layers=2, heads=2, embedding=32, generator_hidden=64)
    converted = convert.load(save_hf(disc, tmp_path / "disc", tokenizer),
                             generator=save_hf(gen, tmp_path / "gen", tokenizer))
    model = converted.model
    assert converted.kind == "pretrainer"
    assert model.generator_backbone.embeddings is model.discriminator_backbone.embeddings
    assert model.generator_backbone.hidden_dim == 64 and model.generator_backbone.num_heads == 1
    with torch.no_grad():
        disc_out = disc(**tx, output_hidden_states=True)
        gen_out = gen(**tx, output_hidden_states=True)
    assert_close(x, model.discriminator(x), disc_out.logits.numpy())
    assert_close(x, model.backbone(x), disc_out.hidden_states[-1].numpy())
    assert_close(x, model.generator_backbone(x), gen_out.hidden_states[-1].numpy())
    assert_close(x, our_generator_logits(model, x), gen_out.logits.numpy())


def test_a_pair_with_different_embeddings_is_refused(tmp_path, tokenizer):
    disc, gen = make_pair(hidden=128, layers=1, heads=2, embedding=32, generator_hidden=64)
    with torch.no_grad():
        gen.electra.embeddings.LayerNorm.bias.add_(0.5)
    with pytest.raises(convert.ConversionError, match=r"electra\.embeddings\.LayerNorm\.bias \(generator\) differs"):
        convert.load(save_hf(disc, tmp_path / "disc", tokenizer), generator=save_hf(gen, tmp_path / "gen", tokenizer))


# ---- the original's TF1 checkpoints --------------------------------------------------------------


def tf1_name(hf_name, scope):
    """The original's variable name for a Hugging Face tensor name (rules from REFERENCE.md s.6)."""
    name = hf_name
    name = re.sub(r"^electra\.", scope + "/", name)
    name = re.sub(r"\.layer\.(\d+)\.", r"/layer_\1/", name)
    name = name.replace("discriminator_predictions.dense_prediction", "discriminator_predictions/dense_1")
    name = name.replace("generator_lm_head.bias", "generator_predictions/output_bias")
    name = re.sub(r"LayerNorm\.weight$", "LayerNorm/gamma", name)
    name = re.sub(r"LayerNorm\.bias$", "LayerNorm/beta", name)
    name = re.sub(r"_embeddings\.weight$", "_embeddings", name)
    name = re.sub(r"\.weight$", "/kernel", name)
    name = re.sub(r"\.bias$", "/bias", name)
    return name.replace(".", "/")


def write_tf1_checkpoint(directory, disc, gen):
    """A checkpoint as google-research/electra's run_pretraining.py leaves it."""
    import tensorflow as tf

    variables = {}
    for model, scope in ((disc, "electra"), (gen, "generator")):
        for hf_name, tensor in model.state_dict().items():
            if hf_name == "generator_lm_head.weight" or "position_ids" in hf_name:
                continue  # tied to the word embeddings / a buffer
            if scope == "generator" and ".embeddings." in hf_name:
                continue  # tied: the generator reads electra/embeddings
            array = tensor.numpy()
            if hf_name.endswith(".weight") and array.ndim == 2 and "embeddings." not in hf_name.replace(
                    "embeddings_project", ""):
                array = array.T  # torch Linear (out, in) -> TF (in, out)
            variables[tf1_name(hf_name, scope)] = array
    with tf.Graph().as_default():
        for name, array in variables.items():
            scope, leaf = name.rsplit("/", 1)
            with tf.compat.v1.variable_scope(scope):
                tf.compat.v1.get_variable(leaf, initializer=tf.constant(array))
                # the optimizer's slots, which a conversion must skip
                tf.compat.v1.get_variable(f"{leaf}/adam_m", initializer=tf.zeros_like(array))
        tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            os.makedirs(directory, exist_ok=True)
            saver.save(session, os.path.join(directory, "electra_small"))
    return variables


@pytest.mark.parametrize("hidden,generator_hidden,num_heads", [
    (128, 64, None),  # the paper's Small shape: generator at half width here, heads from H // 64
    (64, 64, 2),  # a ++ model: the full-size generator; a head count that is not H // 64
])
def test_tf1_checkpoints_give_the_reference_outputs(tmp_path, tokenizer, hidden, generator_hidden, num_heads):
    x, tx = inputs(), torch_inputs(inputs())
    disc, gen = make_pair(hidden=hidden, layers=2, heads=num_heads or hidden // 64, embedding=32,
                          generator_hidden=generator_hidden)
    variables = write_tf1_checkpoint(tmp_path / "release" / "model", disc, gen)
    assert "electra/encoder/layer_1/attention/self/query/kernel" in variables
    tokenizer.save(tmp_path / "release")  # the releases put vocab.txt beside the model directory

    converted = convert.load(str(tmp_path / "release" / "model"), num_heads=num_heads)
    model = converted.model
    assert converted.kind == "pretrainer" and converted.config.weight_sharing == "embeddings"
    assert converted.tokenizer.tokens == TOKENS
    with torch.no_grad():
        disc_out = disc(**tx, output_hidden_states=True)
        gen_logits = gen(**tx).logits.numpy()
    assert_close(x, model.discriminator(x), disc_out.logits.numpy())
    assert_close(x, model.backbone(x), disc_out.hidden_states[-1].numpy())
    assert_close(x, our_generator_logits(model, x), gen_logits)


def test_tf1_discriminator_only_and_missing_vocab(tmp_path, tokenizer):
    import tensorflow as tf

    x, tx = inputs(), torch_inputs(inputs())
    disc, gen = make_pair(hidden=64, layers=1, heads=1, embedding=64, generator_hidden=64)
    variables = write_tf1_checkpoint(tmp_path / "ckpt", disc, gen)
    with pytest.raises(FileNotFoundError, match="no vocab.txt next to"):
        convert.load(str(tmp_path / "ckpt"))
    # keep the discriminator only: the same names minus generator*
    kept = {n: a for n, a in variables.items() if not n.startswith("generator")}
    with tf.Graph().as_default():
        for name, array in kept.items():
            tf.compat.v1.Variable(array, name=name)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, str(tmp_path / "disc" / "model.ckpt"))
    converted = convert.load(str(tmp_path / "disc"), vocab=_vocab(tmp_path, tokenizer))
    assert converted.kind == "discriminator"
    with torch.no_grad():
        reference = disc(**tx).logits.numpy()
    assert_close(x, converted.model(x), reference)


def _vocab(tmp_path, tokenizer):
    tokenizer.save(tmp_path / "vocab")
    return str(tmp_path / "vocab" / "vocab.txt")


# ---- writing: Hugging Face, keras-hub, TF1, and back ---------------------------------------------


@pytest.fixture(scope="module")
def pretrainer(tokenizer):
    """A pretrainer of ours, weights spread out, with an E->H projection in both encoders."""
    from electra_keras import ElectraConfig, ElectraPretrainer

    keras.utils.set_random_seed(7)
    config = ElectraConfig(vocabulary_size=V, embedding_dim=32, hidden_dim=128, num_layers=2, num_heads=2,
                           intermediate_dim=256, max_sequence_length=40, sequence_length=32,
                           generator_hidden_fraction=0.5)
    model = ElectraPretrainer(config)
    rng = np.random.default_rng(7)
    for v in model.trainable_variables:
        v.assign(rng.normal(0, 0.3, tuple(v.shape)).astype("float32"))
    return convert.Converted(model, tokenizer, config, "pretrainer")


def assert_same_weights(a, b):
    wa, wb = [np_(v) for v in a.weights], [np_(v) for v in b.weights]
    assert len(wa) == len(wb)
    for va, vb in zip(wa, wb):
        np.testing.assert_array_equal(va, vb)


def test_written_hugging_face_models_load_in_transformers(tmp_path, pretrainer):
    x, tx = inputs(), torch_inputs(inputs())
    model = pretrainer.model
    out = convert.save(pretrainer, str(tmp_path / "hf"), to="hf")

    disc = transformers.ElectraForPreTraining.from_pretrained(out).eval()
    gen = transformers.ElectraForMaskedLM.from_pretrained(os.path.join(out, "generator")).eval()
    with torch.no_grad():
        assert_close(x, model.discriminator(x), disc(**tx).logits.numpy())
        assert_close(x, our_generator_logits(model, x), gen(**tx).logits.numpy())
    # the tokenizer travels too, and Hugging Face's reading of it tokenizes as ours
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    text = "The old dogs sat by the river"
    assert hf_tokenizer(text)["input_ids"] == [101, *pretrainer.tokenizer.encode(text), 102]

    back = convert.load(out)  # discriminator + generator/ -> one pretrainer again
    assert back.kind == "pretrainer"
    assert_same_weights(model, back.model)


def test_discriminator_and_backbone_round_trip_through_hugging_face(tmp_path, pretrainer, tokenizer):
    for kind, model in (("discriminator", pretrainer.model.discriminator), ("backbone", pretrainer.model.backbone)):
        out = convert.save(convert.Converted(model, tokenizer, pretrainer.config, kind), str(tmp_path / kind), to="hf")
        with open(os.path.join(out, "config.json")) as f:
            assert json.load(f)["architectures"] == [{"discriminator": "ElectraForPreTraining",
                                                      "backbone": "ElectraModel"}[kind]]
        back = convert.load(out)
        assert back.kind == kind
        assert_same_weights(model, back.model)


def test_tf1_round_trip(tmp_path, pretrainer):
    out = convert.save(pretrainer, str(tmp_path / "tf1"), to="tf1")
    back = convert.load(out)
    assert back.kind == "pretrainer"
    assert_same_weights(pretrainer.model, back.model)


def test_keras_hub_preset_round_trip_and_outputs(tmp_path, pretrainer):
    import keras_hub

    x = inputs()
    out = convert.save(pretrainer, str(tmp_path / "preset"), to="keras_hub")
    theirs = keras_hub.models.ElectraBackbone.from_preset(out)
    their_tokenizer = keras_hub.models.ElectraTokenizer.from_preset(out)
    assert their_tokenizer.get_vocabulary() == TOKENS

    ours = pretrainer.model.backbone
    diff = np.max(np.abs(real(x, np_(ours(x))) - real(x, np_(theirs(x)["sequence_output"]))))
    # keras-hub's GELU is the tanh approximation: close, not equal (the README states the figure)
    print(f"keras-hub vs ours: max abs diff {diff:.2e}")
    assert 0 < diff < 2e-3, diff

    back = convert.load(out)
    assert back.kind == "backbone" and back.tokenizer.tokens == TOKENS
    assert_same_weights(ours, back.model)


def test_our_model_directory_round_trip(tmp_path, pretrainer):
    out = convert.save(pretrainer, str(tmp_path / "ours"))
    assert sorted(f for f in os.listdir(out) if f.endswith(".keras")) == [
        "backbone.keras", "discriminator.keras", "pretrainer.keras"]
    back = convert.load(out)
    assert back.kind == "pretrainer" and back.config == pretrainer.config
    assert_same_weights(pretrainer.model, back.model)


# ---- bad input -----------------------------------------------------------------------------------


def test_a_checkpoint_of_another_size_names_the_tensor_and_both_shapes(tmp_path, tokenizer):
    disc = spread(transformers.ElectraForPreTraining(hf_config(32, 1, 2, 16)), 0)
    path = save_hf(disc, tmp_path / "disc", tokenizer)
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    config["intermediate_size"] = 48  # the config now disagrees with the tensors (128)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    with pytest.raises(convert.ConversionError) as error:
        convert.load(path)
    message = str(error.value)
    assert "electra.encoder.layer.0.intermediate.dense.weight: the checkpoint has (128, 32), " \
           "the model expects (48, 32)" in message
    assert "electra.encoder.layer.0.output.dense.weight: the checkpoint has (32, 128)" in message


def test_missing_and_unexpected_tensors_are_listed(tmp_path, tokenizer):
    from safetensors.numpy import load_file, save_file

    classifier = spread(transformers.ElectraForSequenceClassification(hf_config(32, 1, 2, 16)), 0)
    path = save_hf(classifier, tmp_path / "cls", tokenizer)
    tensors = load_file(os.path.join(path, "model.safetensors"))
    del tensors["electra.encoder.layer.0.attention.self.key.bias"]
    save_file(tensors, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(convert.ConversionError) as error:
        convert.load(path)
    message = str(error.value)
    assert "lacks:\n  electra.encoder.layer.0.attention.self.key.bias" in message
    assert "no place for:\n  classifier.dense.bias\n  classifier.dense.weight" in message


def test_not_a_checkpoint_and_another_model_type(tmp_path, tokenizer):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a checkpoint this converter reads"):
        convert.load(str(tmp_path / "empty"))
    (tmp_path / "fake.index").write_bytes(b"not an index")
    (tmp_path / "fake.data-00000-of-00001").write_bytes(b"")
    with pytest.raises(ValueError, match="fake is not a readable TF1 checkpoint"):
        convert.load(str(tmp_path / "fake"), vocab=_vocab(tmp_path, tokenizer))
    bert = transformers.BertModel(transformers.BertConfig(vocab_size=V, hidden_size=32, num_hidden_layers=1,
                                                         num_attention_heads=2, intermediate_size=64))
    path = save_hf(bert, tmp_path / "bert", tokenizer)
    with pytest.raises(ValueError, match="model_type is 'bert'; this converter reads ELECTRA"):
        convert.load(path)
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(b"\x00" * 16)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        convert.hf.read_tensors(path)


def test_an_existing_output_is_kept(tmp_path, pretrainer):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="exists and is not empty"):
        convert.save(pretrainer, str(out), to="hf")
    assert (out / "keep.txt").read_text() == "mine" and not (tmp_path / "out.partial").exists()


def test_cli_convert(tmp_path, pretrainer, capsys):
    from electra_keras.cli import main

    source = convert.save(pretrainer, str(tmp_path / "run"))
    assert main(["convert", source, str(tmp_path / "hf"), "--to", "hf"]) == 0
    assert "ElectraForPreTraining" in capsys.readouterr().out
    disc = transformers.ElectraForPreTraining.from_pretrained(str(tmp_path / "hf")).eval()
    x = inputs()
    with torch.no_grad():
        assert_close(x, pretrainer.model.discriminator(x), disc(**torch_inputs(x)).logits.numpy())
    assert main(["convert", str(tmp_path / "nothing"), str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_vocabulary_is_found_in_tokenizer_json_or_required(tmp_path, tokenizer):
    base = spread(transformers.ElectraModel(hf_config(32, 1, 2, 16)), 0)
    base.save_pretrained(tmp_path / "bare")
    with pytest.raises(FileNotFoundError, match="has no vocab.txt or tokenizer.json"):
        convert.load(str(tmp_path / "bare"))
    # Hugging Face's fast tokenizer, saved as tokenizer.json only
    tokenizer.save(tmp_path / "vocab")
    fast = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "vocab"))
    fast.save_pretrained(tmp_path / "bare")
    if (tmp_path / "bare" / "vocab.txt").exists():
        (tmp_path / "bare" / "vocab.txt").unlink()
    converted = convert.load(str(tmp_path / "bare"))
    assert converted.tokenizer.tokens == TOKENS and converted.tokenizer.lower_case
    text = "The old dogs sat by the river"
    assert converted.tokenizer.encode(text) == tokenizer.encode(text)


def test_pytorch_model_bin_is_read_with_weights_only(tmp_path, tokenizer):
    x, tx = inputs(), torch_inputs(inputs())
    disc = spread(transformers.ElectraForPreTraining(hf_config(32, 2, 2, 16)), 4)
    path = save_hf(disc, tmp_path / "bin", tokenizer)
    os.remove(os.path.join(path, "model.safetensors"))
    torch.save(disc.state_dict(), os.path.join(path, "pytorch_model.bin"))  # the older format
    converted = convert.load(path)
    with torch.no_grad():
        assert_close(x, converted.model(x), disc(**tx).logits.numpy())
    with open(os.path.join(path, "pytorch_model.bin"), "wb") as f:
        f.write(b"not a zip")
    with pytest.raises(ValueError, match="not a PyTorch state dict that loads with weights_only=True"):
        convert.load(path)


def test_a_generator_off_the_size_rule_is_named(tmp_path, tokenizer):
    disc = spread(transformers.ElectraForPreTraining(hf_config(128, 1, 2, 32)), 0)
    gen = spread(transformers.ElectraForMaskedLM(hf_config(64, 1, 2, 32)), 1)  # the rule gives 1 head at width 64
    gen.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
    with pytest.raises(ValueError, match=r"the generator has num_heads=2, but .* derives num_heads=1"):
        convert.load(save_hf(disc, tmp_path / "disc", tokenizer), generator=save_hf(gen, tmp_path / "gen", tokenizer))
