"""keras-hub's Backbone features on our backbone: LoRA fine-tuning, int8 quantization, presets."""

import keras
import numpy as np
from keras_hub.layers import TransformerEncoder
from keras_hub.models import Backbone

from conftest import make_batch, tiny_config
from electra_keras.internals import attention_sublayers, encoder_sublayers
from electra_keras.models import ElectraBackbone, ElectraClassifier


def np_(x):
    return keras.ops.convert_to_numpy(x)


def backbone(num_layers=2):
    return ElectraBackbone.from_electra_config(tiny_config(num_layers=num_layers, dropout=0.0))


def query_dense(model, layer=0):
    return attention_sublayers(encoder_sublayers(model.transformer_layers[layer])["attention"])[0]


def keras_hub_path(model, batch):
    """The backbone's output computed by keras-hub's own encoder `call` (no fused path)."""
    x = model.embeddings(batch["token_ids"], batch["segment_ids"])
    x = model.embeddings_project(x)
    for layer in model.transformer_layers:
        x = TransformerEncoder.call(layer, x, padding_mask=batch["padding_mask"])
    return np_(x)


def test_backbone_is_a_keras_hub_backbone():
    model = backbone()
    assert isinstance(model, Backbone)
    assert model.token_embedding is model.embeddings.token_embedding


def test_lora_trains_only_the_low_rank_factors_and_the_head(tmp_path):
    model = backbone()
    classifier = ElectraClassifier(model, num_classes=2, dropout=0.0, pooling="mean")
    batch = make_batch(batch_size=8, seed=3)
    labels = np.array([0, 1] * 4, "int32")
    frozen_before = [np_(w) for w in model.weights]

    model.enable_lora(2)
    lora = sorted(w.path for w in classifier.trainable_weights if "lora" in w.path)
    expected = sorted(f"transformer_layer_{i}/self_attention_layer/{part}/lora_kernel_{ab}"
                      for i in range(2) for part in ("query", "value") for ab in "ab")
    assert lora == expected
    # As on keras-hub's models: the adapted projections keep their biases trainable.
    others = sorted(w.path for w in classifier.trainable_weights if "lora" not in w.path)
    biases = [name.replace("lora_kernel_a", "bias") for name in expected if name.endswith("_a")]
    assert others == sorted(biases + ["classifier/kernel", "classifier/bias"])

    classifier.compile(optimizer=keras.optimizers.Adam(3e-2),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = classifier.fit(batch, labels, epochs=30, batch_size=8, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0]
    # Every kernel, embedding and norm is unchanged; the update lives in the low-rank factors.
    originals = [w for w in model.weights if "lora" not in w.path]
    for before, after in zip(frozen_before, originals):
        if after.path not in biases:
            np.testing.assert_array_equal(np_(after), before, err_msg=after.path)
    b = query_dense(model).lora_kernel_b
    assert np.abs(np_(b)).max() > 0  # zero at initialisation
    # The fused encoder path sees the low-rank update (`.kernel` includes it).
    np.testing.assert_allclose(np_(model(batch)), keras_hub_path(model, batch), atol=2e-5)

    # Only the LoRA factors need saving; they restore the adapted model on a fresh copy.
    path = str(tmp_path / "adapter.lora.h5")
    model.save_lora_weights(path)
    fresh = backbone()
    fresh.set_weights([np_(w) for w in originals])
    fresh.load_lora_weights(path)
    np.testing.assert_allclose(np_(fresh(batch)), np_(model(batch)), atol=1e-5)


def test_int8_quantization_runs_keras_hubs_path_and_survives_saving(tmp_path):
    model = backbone()
    batch = make_batch(batch_size=4, seed=5)
    full = np_(model(batch))
    model.quantize("int8")
    query = query_dense(model)
    assert query.quantization_mode == "int8" and keras.backend.standardize_dtype(query.kernel.dtype) == "int8"

    quantized = np_(model(batch))
    # The quantized encoder is keras-hub's computation on the int8 kernels, not the fused
    # float path reading int8 values as if they were weights.
    np.testing.assert_allclose(quantized, keras_hub_path(model, batch), atol=1e-5)
    # Close to the float model (per-channel int8 of N(0, 0.02) kernels), yet not identical.
    error = np.abs(quantized - full)
    assert 0 < error.mean() < 0.02 * np.abs(full).mean()

    path = str(tmp_path / "int8.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, ElectraBackbone)
    assert query_dense(restored).quantization_mode == "int8"
    np.testing.assert_allclose(np_(restored(batch)), quantized, atol=1e-6)


def test_a_classifier_on_an_int8_backbone_saves_and_loads(tmp_path):
    classifier = ElectraClassifier(backbone(), num_classes=3)
    batch = make_batch(batch_size=4, seed=6)
    full = np_(classifier(batch))
    classifier.backbone.quantize("int8")
    quantized = np_(classifier(batch))
    assert 0 < np.abs(quantized - full).max() < 0.1
    path = str(tmp_path / "classifier.keras")
    classifier.save(path)
    np.testing.assert_allclose(np_(keras.saving.load_model(path)(batch)), quantized, atol=1e-6)


def test_a_backbone_saves_and_loads_as_a_keras_hub_preset(tmp_path):
    model = backbone()
    batch = make_batch(batch_size=3, seed=7)
    model.save_to_preset(str(tmp_path / "preset"))
    for loader in (ElectraBackbone, Backbone):  # keras-hub's base finds our class from the config
        restored = loader.from_preset(str(tmp_path / "preset"))
        assert isinstance(restored, ElectraBackbone)
        np.testing.assert_allclose(np_(restored(batch)), np_(model(batch)), atol=1e-6)
