"""Training on several devices: the one module that knows tf.distribute and keras.distribution.

`resolve(name)` turns a recipe's `train.strategy` into a `Distribution` for the running backend:

    TensorFlow   none | mirrored (all GPUs, or the logical CPUs) | multi_worker (TF_CONFIG)
                 | tpu (TPUClusterResolver; TPU_NAME names a remote TPU)
    JAX          none | data_parallel (keras.distribution.DataParallel over every device)
                 | model_parallel (a (batch, model) mesh with the `layout_map` below)
                 multi-host through keras.distribution.initialize, from the
                 KERAS_DISTRIBUTION_* variables when they are set
    PyTorch      none: one device, one process
    auto         multi_worker when TF_CONFIG names several tasks, tpu when a TPU is there,
                 mirrored with several GPUs (TensorFlow); data_parallel with several devices
                 (JAX); otherwise none

The model is built and compiled inside `Distribution.scope()`. The recipe's batch size is the
global batch: each replica gets `batch_size / num_replicas` rows of it.

A step gives the same result whatever the number of replicas, up to float32 rounding: each
global batch is the one a single replica would see (`distribute_dataset` hands replica r rows
[r*b, (r+1)*b)), the losses are divided by global counts (`global_sum`), the random draws of
masking and sampling are made for the global batch and sliced (`replica_rows`), and the
optimizer sums the replicas' gradients. Dropout masks are the one exception: each replica draws
its own, as in any data-parallel run.
"""

import contextlib
import dataclasses
import json
import os

import keras

from electra_keras import internals
from electra_keras.objectives import Draws
from electra_keras.recipes import STRATEGIES

BY_BACKEND = {
    "tensorflow": ("none", "mirrored", "multi_worker", "tpu"),
    "jax": ("none", "data_parallel", "model_parallel"),
    "torch": ("none",),
}


@dataclasses.dataclass
class Distribution:
    """What `resolve` chose: the strategy's name, its replicas and this process's place."""

    name: str
    num_replicas: int = 1
    num_workers: int = 1
    worker_index: int = 0
    strategy: object = None  # a tf.distribute.Strategy (TensorFlow)
    distribution: object = None  # a keras.distribution.Distribution (JAX)

    @property
    def is_chief(self):
        """Whether this process writes the run directory (checkpoints, logs, models)."""
        return self.worker_index == 0

    def scope(self):
        """Build and compile the model in here."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    def per_replica_batch(self, global_batch):
        if global_batch % self.num_replicas:
            raise ValueError(f"train.batch_size = {global_batch} does not split over {self.num_replicas} "
                             f"replicas ({self.name}): use a multiple of {self.num_replicas}")
        return global_batch // self.num_replicas

    def distribute_dataset(self, make_dataset, global_batch):
        """The input for `fit`: `make_dataset()` yields global batches of `global_batch` rows.

        Under a tf.distribute strategy every worker reads the same deterministic stream and
        keeps its replicas' rows of each global batch, so the batches (and a resumed run's data
        position) do not depend on the number of workers. JAX's distributions shard the global
        batch themselves.
        """
        if self.strategy is None:
            return make_dataset()
        import tensorflow as tf

        per_replica = self.per_replica_batch(global_batch)

        def replica_stream(context):
            local = context.num_replicas_in_sync // context.num_input_pipelines
            start = context.input_pipeline_id * local * per_replica

            def rows(batch):
                return {k: v[start:start + local * per_replica] for k, v in batch.items()}

            # The worker's rows, then one batch per local replica, handed out in replica order.
            dataset = make_dataset().map(rows).unbatch().batch(per_replica, drop_remainder=True)
            return dataset.prefetch(tf.data.AUTOTUNE)

        options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
        return self.strategy.distribute_datasets_from_function(replica_stream, options)

    def describe(self):
        where = f", worker {self.worker_index + 1} of {self.num_workers}" if self.num_workers > 1 else ""
        return f"{self.name} ({self.num_replicas} replica{'s' * (self.num_replicas != 1)}{where})"


def resolve(name="auto"):
    """The `Distribution` for strategy `name` on the running Keras backend (see the module doc)."""
    backend = keras.backend.backend()
    if name not in STRATEGIES:
        raise ValueError(f"strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = _auto(backend)
    if name not in BY_BACKEND[backend]:
        raise ValueError(
            f"strategy {name!r} is not available on the {backend} backend, which supports "
            f"{', '.join(BY_BACKEND[backend])}. " + {
                "tensorflow": "data_parallel and model_parallel are JAX's keras.distribution: "
                              "set KERAS_BACKEND=jax, or use mirrored, multi_worker or tpu.",
                "jax": "mirrored, multi_worker and tpu are tf.distribute strategies: set "
                       "KERAS_BACKEND=tensorflow, or use data_parallel (one host or several).",
                "torch": "The PyTorch backend trains on one device in one process; for several "
                         "devices use TensorFlow (mirrored, multi_worker, tpu) or JAX "
                         "(data_parallel, model_parallel).",
            }[backend]
        )
    if name == "none":
        return Distribution("none")
    if backend == "tensorflow":
        return _tensorflow(name)
    return _jax(name)


def _tf_config():
    try:
        return json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error})") from None


def _auto(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        cluster = _tf_config().get("cluster", {})
        if sum(len(tasks) for kind, tasks in cluster.items() if kind in ("chief", "worker")) > 1:
            return "multi_worker"
        if tf.config.list_logical_devices("TPU") or os.environ.get("TPU_NAME"):
            return "tpu"
        return "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "none"
    if backend == "jax":
        _initialize_jax_hosts()
        return "data_parallel" if len(keras.distribution.list_devices()) > 1 else "none"
    return "none"


def _tensorflow(name):
    import tensorflow as tf

    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = devices or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
        return Distribution(name, strategy.num_replicas_in_sync, strategy=strategy)
    if name == "multi_worker":
        config = _tf_config()
        if not config.get("cluster"):
            raise ValueError("strategy 'multi_worker' needs TF_CONFIG: a JSON with \"cluster\" "
                             "({\"worker\": [\"host:port\", ...]}) and \"task\" ({\"type\": \"worker\", "
                             "\"index\": i}) on every worker")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        resolver = strategy.cluster_resolver
        workers = sum(len(resolver.cluster_spec().as_dict().get(k, [])) for k in ("chief", "worker"))
        index = resolver.task_id + (1 if resolver.task_type == "worker" and "chief" in config["cluster"] else 0)
        return Distribution(name, strategy.num_replicas_in_sync, workers, index, strategy=strategy)
    # tpu
    # TPU_NAME names a remote TPU; Colab's older TPU runtimes give COLAB_TPU_ADDR; on a TPU VM
    # the chips are "local".
    tpu = os.environ.get("TPU_NAME") or ("" if os.environ.get("COLAB_TPU_ADDR") else "local")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        if tpu not in ("", "local"):
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as error:
        raise ValueError(f"strategy 'tpu': no TPU found (TPU_NAME={tpu!r}): {error}") from None
    strategy = tf.distribute.TPUStrategy(resolver)
    return Distribution(name, strategy.num_replicas_in_sync, strategy=strategy)


def _initialize_jax_hosts():
    """Join a multi-host JAX job when the launcher set KERAS_DISTRIBUTION_* (once per process)."""
    if int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1")) > 1:
        import jax

        if not jax.distributed.is_initialized():
            keras.distribution.initialize()


def _jax(name):
    import jax

    _initialize_jax_hosts()
    devices = keras.distribution.list_devices()
    processes = dict(num_workers=jax.process_count(), worker_index=jax.process_index())
    if name == "data_parallel":
        distribution = keras.distribution.DataParallel(devices=devices)
    else:
        model = 2 if len(devices) % 2 == 0 else 1
        mesh = keras.distribution.DeviceMesh((len(devices) // model, model), ("batch", "model"), devices)
        distribution = _DivisibleModelParallel(layout_map=layout_map(mesh), batch_dim_name="batch")
    return Distribution(name, len(devices), distribution=distribution, **processes)


def layout_map(mesh):
    """Megatron-style sharding of the encoders over the mesh's "model" axis.

    Attention heads and the feed-forward's inner dimension are split across devices, so each
    device holds 1/m of every layer's big matrices; the word embeddings are split by vocabulary
    row. LayerNorms, biases of outputs and everything else are replicated.
    """
    layouts = keras.distribution.LayoutMap(mesh)  # keys are regexes matched to whole variable paths
    layouts[r".*token_embedding/embeddings"] = ("model", None)
    layouts[r".*token_embedding_delta"] = ("model", None)  # weight_sharing="gdes": the table's delta
    layouts[r".*self_attention_layer/(query|key|value)/kernel"] = (None, "model", None)
    layouts[r".*self_attention_layer/(query|key|value)/bias"] = ("model", None)
    layouts[r".*self_attention_layer/attention_output/kernel"] = ("model", None, None)
    layouts[r".*feedforward_intermediate_dense/kernel"] = (None, "model")
    layouts[r".*feedforward_intermediate_dense/bias"] = ("model",)
    layouts[r".*feedforward_output_dense/kernel"] = ("model", None)
    return layouts


class _DivisibleModelParallel(keras.distribution.ModelParallel):
    """ModelParallel that replicates a variable whose sharded dimension does not divide evenly
    (a generator with one attention head, say) instead of failing."""

    def get_variable_layout(self, variable):
        layout = super().get_variable_layout(variable)
        sizes = dict(zip(self.device_mesh.axis_names, self.device_mesh.shape))
        for dim, axis in zip(variable.shape, layout.axes):
            if axis is not None and dim % sizes[axis]:
                return keras.distribution.TensorLayout([None] * len(variable.shape), self.device_mesh)
        return layout


# ---- inside the step: what the model calls ------------------------------------------------------


def _replica():
    """(number of replicas, this replica's index) inside a tf.distribute step, else (1, 0)."""
    if keras.backend.backend() != "tensorflow":
        return 1, 0
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def global_sum(value):
    """The sum of `value` over the replicas of a tf.distribute step (`value` elsewhere).

    Losses divide by it, so each replica's loss is its share of the global mean and the
    summed gradients are those of the global batch.
    """
    replicas, _ = _replica()
    if replicas == 1:
        return value
    import tensorflow as tf

    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


def replica_rows(draw, shape):
    """`draw(shape)` as this replica's rows of the same draw for the global batch.

    `shape[0]` is the replica's batch; the draw is made for `replicas * shape[0]` rows and
    sliced, so the random numbers of a row do not depend on how the batch is split.
    """
    replicas, index = _replica()
    if replicas == 1:
        return draw(shape)
    rows = shape[0]
    return draw((replicas * rows, *shape[1:]))[index * rows:(index + 1) * rows]


class ReplicaDraws(Draws):
    """The objective's random numbers (`objectives.Draws`) drawn for the global batch and
    sliced to this replica's rows (`replica_rows`): a row's masking and samples do not depend
    on how the batch is split over replicas."""

    def uniform(self, shape):
        return replica_rows(super().uniform, shape)

    def integers(self, shape, high):
        draw = super().integers
        return replica_rows(lambda full: draw(full, high), shape)


def global_clip_scale(gradients, clipnorm):
    """The factor that clips the replicas' summed gradient to `clipnorm`, or None outside a
    tf.distribute step (where the optimizer clips as usual).

    Each replica multiplies its part by it; the sum of the parts is then the clipped global
    gradient. It costs one extra all-reduce of the gradients.
    """
    replicas, _ = _replica()
    if replicas == 1 or not clipnorm:
        return None
    import tensorflow as tf

    present = [g for g in gradients if g is not None]
    summed = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, present)
    norm = tf.linalg.global_norm([tf.cast(g, tf.float32) for g in summed])
    return tf.minimum(1.0, clipnorm / tf.maximum(norm, 1e-12))


def loggable(logs):
    """The step's logs in the shape Keras's TensorFlow trainer can reduce across workers.

    Under a multi-worker strategy Keras 3 reduces each log with `reduce("MEAN", v, axis=0)`,
    which fails on a scalar; one-element vectors reduce to the same scalars.
    """
    if keras.backend.backend() != "tensorflow":
        return logs
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and internals.in_multi_worker_mode(strategy)):
        return logs
    return {k: tf.reshape(v, [1]) for k, v in logs.items()}
