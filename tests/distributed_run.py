"""A pretraining process for tests/test_distribute.py (run as a script, never imported by pytest).

    python distributed_run.py RECIPE.json OUTPUT_DIR RUN_NAME [--strategy S] [--devices N]
                              [--signal KILL|TERM --at-step K] [--weights OUT.npz]

--synthetic trains `fit` on 6 hand-made batches of 8 (conftest.make_batch) instead of the
recipe's corpus, with the recipe's model and optimizer settings.
--devices N splits the CPU into N logical devices (TensorFlow) or N host devices (JAX) before
the backend starts. --signal sends that signal to this very process at the start of step K,
as a scheduler or the kernel would. --weights saves the trained weights in variable order.
The exit status is 143 when SIGTERM stopped the run, as the CLI's.
"""

import argparse
import json
import os
import signal
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("output_dir")
    parser.add_argument("run_name")
    parser.add_argument("--cache-dir")
    parser.add_argument("--strategy", default="none")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--signal", choices=("KILL", "TERM"))
    parser.add_argument("--at-step", type=int, default=0)
    parser.add_argument("--weights")
    parser.add_argument("--synthetic", action="store_true")
    args = parser.parse_args()

    if args.devices > 1 and os.environ.get("KERAS_BACKEND") == "jax":
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"
    if args.devices > 1 and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices)

    import keras
    import numpy as np

    from electra_keras import recipes, training


    class SendSignal(keras.callbacks.Callback):
        def __init__(self, name, at_step):
            super().__init__()
            self.signum, self.at_step = getattr(signal, f"SIG{name}"), at_step
            self.step = None

        def on_train_batch_begin(self, batch, logs=None):
            self.step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) + 1
            if self.step == self.at_step:
                os.kill(os.getpid(), self.signum)


    if args.synthetic:
        return synthetic(args)
    with open(args.recipe) as f:
        values = json.load(f)
    values["train"]["strategy"] = args.strategy
    recipe = recipes.recipe_from_dict(values, name="test")
    callbacks = [SendSignal(args.signal, args.at_step)] if args.signal else []
    try:
        training.pretrain(recipe, output_dir=args.output_dir, run_name=args.run_name, cache_dir=args.cache_dir,
                          verbose=0, callbacks=callbacks)
    except training.Preempted:
        sys.exit(128 + signal.SIGTERM)
    if args.weights:
        model = keras.saving.load_model(os.path.join(args.output_dir, args.run_name, "pretrainer.keras"))
        np.savez(args.weights, *[keras.ops.convert_to_numpy(v) for v in model.weights])



def synthetic(args):
    """`fit` on in-memory batches under the strategy, as pretrain builds and compiles it."""
    import keras
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from conftest import make_batch, tiny_config

    import electra_keras as ek
    from electra_keras import distribute
    from electra_keras.optimizers import electra_adamw

    keras.utils.set_random_seed(0)
    dist = distribute.resolve(args.strategy)
    with dist.scope():
        model = ek.ElectraPretrainer(tiny_config(dropout=0.0), seed=0)
        model.compile(optimizer=electra_adamw(1e-3, warmup_steps=2, total_steps=6, weight_decay=0.01))
    batches = [make_batch(8, 32, seed=i) for i in range(6)]
    stacked = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
    dataset = dist.distribute_dataset(lambda: tf.data.Dataset.from_tensor_slices(stacked), 8)
    with dist.scope():
        model.fit(dataset, epochs=1, steps_per_epoch=6, verbose=0)
    if args.weights and dist.is_chief:
        np.savez(args.weights, *[keras.ops.convert_to_numpy(v) for v in model.weights])


if __name__ == "__main__":
    main()
