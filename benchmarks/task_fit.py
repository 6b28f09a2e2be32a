"""What keras-hub's task route costs on token ids: one fine-tuning epoch of a tiny classifier.

The command line's fine-tuning trains an `ElectraTextClassifier` on token ids (its preprocessor
set aside). keras-hub's `Task.fit` turns in-memory arrays into a `tf.data` pipeline on every
backend, where `keras.Model.fit` (what `ElectraClassifier` gets) takes them as they are. This
times an epoch of 2,048 examples of 64 ids, batch 32, both ways on the same backbone sizes, the
fastest of 3 epochs after one to compile:

    for b in tensorflow jax torch; do KERAS_BACKEND=$b python benchmarks/task_fit.py; done
"""

import time

import keras
import keras_hub
import numpy as np

import electra_keras as ek


def model(cls):
    keras.utils.set_random_seed(0)
    backbone = ek.ElectraBackbone(vocabulary_size=1000, num_layers=2, num_heads=2, hidden_dim=128,
                                  intermediate_dim=512, max_sequence_length=64)
    extra = {"compile": False} if cls is ek.ElectraTextClassifier else {}
    classifier = cls(backbone, num_classes=2, **extra)
    classifier.compile(optimizer=keras.optimizers.Adam(1e-4),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return classifier


def main():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 1000, size=(2048, 64)).astype("int32")
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    y = rng.integers(0, 2, size=len(ids))
    ways = {
        "ElectraClassifier, keras.Model.fit": (ek.ElectraClassifier, lambda m: m.fit(x, y, batch_size=32, verbose=0)),
        "ElectraTextClassifier, keras-hub Task.fit": (ek.ElectraTextClassifier,
                                                      lambda m: m.fit(x, y, batch_size=32, verbose=0)),
        "ElectraTextClassifier, keras-hub's route unshuffled": (
            ek.ElectraTextClassifier, lambda m: keras_hub.models.TextClassifier.fit(m, x, y, batch_size=32, verbose=0)),
    }
    models = {name: model(cls) for name, (cls, _) in ways.items()}
    for name, (_, fit) in ways.items():
        fit(models[name])  # compiles
    seconds = {}
    for _ in range(3):
        for name, (_, fit) in ways.items():
            start = time.perf_counter()
            fit(models[name])
            seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - start)
    base = seconds["ElectraClassifier, keras.Model.fit"]
    print(f"backend {keras.backend.backend()}, {time.strftime('%Y-%m-%d')}\n")
    print("| way | seconds per epoch | against keras.Model.fit |\n|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {s:.2f} | {s / base:.2f}x |")


if __name__ == "__main__":
    main()
