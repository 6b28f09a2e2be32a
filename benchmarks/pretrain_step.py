"""Pretraining step throughput: ours on each backend against Hugging Face peers and the machine's limit.

One ELECTRA pretraining step (the paper's ELECTRA-Small: `ElectraConfig.from_preset("small")`,
batch 32 x 128 by default) is timed for:

- ours: `ElectraPretrainer` compiled with `electra_adamw` and trained by `model.fit` on a
  tf.data dataset of packed ids, the path `electra-keras pretrain` takes, once per backend
  (TensorFlow, JAX, PyTorch) and precision (float32, mixed_bfloat16);
- hf: the same two networks built from Hugging Face `ElectraForMaskedLM` (generator) and
  `ElectraForPreTraining` (discriminator) in PyTorch, tied as ours, the same masking, Gumbel
  sampling and loss, `torch.optim.AdamW` and global-norm clipping, eager and under
  `torch.compile`, in float32 and under `torch.autocast("cpu", torch.bfloat16)`;
- electra-pytorch: the PyPI package (lucidrains) wrapping the same Hugging Face models;
- gemm: the matmul FLOP/s of the machine (large square GEMMs in torch, TensorFlow and JAX),
  the peak against which every step's model FLOP utilization (MFU) is computed.

Every configuration runs in its own process (KERAS_BACKEND is read when keras is imported),
with a timeout; a failed one is a row with its error. Steps are timed after warm-up, one by
one, and each timed step ends with the loss read back to the host, so no backend's
asynchronous dispatch can move work out of the timed span. On cores shared with other
processes, timings are noisy: `--rounds` runs the list again in reverse order and keeps each
configuration's fastest round, and OpenMP threads wait passively (`--omp-wait-policy`).

    python benchmarks/pretrain_step.py                          # everything once
    python benchmarks/pretrain_step.py --rounds 2 --steps 5 --jit-compile auto,tensorflow:true
    python benchmarks/pretrain_step.py --only ours --backends jax --steps 3 --warmup 1

On a GPU machine, `--device cuda` runs ours on JAX and PyTorch (TensorFlow is left out), the
peers and the matmul peak on the GPU, float32 without TF32 on every side. Where TensorFlow is not
installed, ours reads the same batches from a Python generator, and KERAS_BACKEND must name
another backend for the driver to import electra_keras:

    KERAS_BACKEND=jax python benchmarks/pretrain_step.py --device cuda --batch-size 128

Results: benchmarks/results/pretrain_step.{md,json,png} (--out, --name).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_bfloat16")
KINDS = ("ours", "hf", "electra_pytorch", "gemm")
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
# What jit_compile="auto" gives on a CPU-only machine (keras Trainer._resolve_auto_jit_compile).
AUTO_JIT = {"tensorflow": False, "jax": True, "torch": False}
RESULT_TAG = "RESULT_JSON "


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", help="ElectraConfig preset (default: the paper's Small)")
    parser.add_argument("--vocab-size", type=int, default=30522, help="BERT uncased WordPiece")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation, caches)")
    parser.add_argument("--only", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="our backends to run")
    parser.add_argument("--precisions", default=",".join(PRECISIONS), help="float32, mixed_bfloat16")
    parser.add_argument("--jit-compile", default="auto",
                        help="ours: comma-separated compile(jit_compile=...) values to run: auto, true, false "
                             "(the recipe's train.jit_compile), for every backend or as BACKEND:VALUE for one "
                             "(auto,tensorflow:true); a value equal to a backend's auto runs once")
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="ours: compile(steps_per_execution=...) (the recipe's train.steps_per_execution)")
    parser.add_argument("--peer-compile", default="false,true",
                        help="hf: eager (false) and/or torch.compile (true)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where every configuration runs: cpu, or cuda (one GPU; ours on the JAX and PyTorch "
                             "backends, the peers in PyTorch, the matmul peak in PyTorch and JAX)")
    add_run_flags(parser, name="pretrain_step", timeout=1500, unit="row")
    return parser.parse_args(argv)


def add_run_flags(parser, name, timeout, unit):
    """The flags every benchmark of this harness takes: rounds, timeout, OpenMP waits, outputs."""
    parser.add_argument("--rounds", type=int, default=1,
                        help=f"run the list this many times, alternating its order; each {unit} keeps its fastest round")
    parser.add_argument("--timeout", type=float, default=timeout, help="seconds per configuration")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default=name, help="stem of the result files")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--omp-wait-policy", default="PASSIVE", choices=("PASSIVE", "ACTIVE", "unset"),
                        help="OMP_WAIT_POLICY of every configuration's process (PyTorch's OpenMP threads): "
                             "PASSIVE by default, since on cores shared with other processes spinning threads "
                             "stall at every barrier; 'unset' leaves the library default (spinning)")


def worker_env(args, job):
    """Environment of a configuration's process: its Keras backend and the OpenMP wait policy."""
    env = {"KERAS_BACKEND": job["backend"]} if job["kind"] == "ours" else {}
    if job.get("device") == "cuda" and job.get("precision") == "float32":
        # JAX rounds float32 matmul inputs to TF32 on a GPU by default; PyTorch does not. Both sides
        # (and the float32 matmul peak) compute true float32 here.
        env["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
    policy = job.get("omp_wait_policy", args.omp_wait_policy)
    if policy != "unset":
        env["OMP_WAIT_POLICY"] = policy
    return env


def split(value):
    return [v.strip() for v in value.split(",") if v.strip()]


# ---- shared by the workers ---------------------------------------------------------------------


def make_config(preset, vocab_size, seq_len):
    from electra_keras.config import ElectraConfig

    return ElectraConfig.from_preset(preset, vocabulary_size=vocab_size, sequence_length=seq_len,
                                     max_sequence_length=max(512, seq_len))


def config_fields(config, seq_len):
    """What a worker needs of the config, as JSON: peers read it without importing electra_keras
    (which imports TensorFlow) so that their process holds PyTorch alone."""
    return {"config": config.to_dict(), "generator_sizes": config.generator_sizes(),
            "discriminator_sizes": config.discriminator_sizes(),
            "max_predictions": min(config.max_predictions(seq_len), seq_len)}


def packed_batches(config, batch_size, seq_len, num_batches=4, seed=0):
    """Random packed examples as the data builder writes them: [CLS] A [SEP] B [SEP], no padding.

    Returns a dict of (num_batches * batch_size, seq_len) int32 arrays.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n = num_batches * batch_size
    specials = (config.pad_token_id, config.cls_token_id, config.sep_token_id, config.mask_token_id)
    low = max(specials) + 1 if max(specials) + 1 < config.vocabulary_size // 2 else 1
    token_ids = rng.integers(low, config.vocabulary_size, size=(n, seq_len)).astype("int32")
    first_sep = rng.integers(seq_len // 4, 3 * seq_len // 4, size=n)  # end of segment A
    positions = np.arange(seq_len)[None, :]
    token_ids[:, 0] = config.cls_token_id
    token_ids[np.arange(n), first_sep] = config.sep_token_id
    token_ids[:, -1] = config.sep_token_id
    segment_ids = (positions > first_sep[:, None]).astype("int32")
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": np.ones_like(token_ids)}


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def cpu_seconds():
    """CPU time of this process, all threads (user + system)."""
    user, system = os.times()[:2]
    return user + system


def step_stats(times, cpu_times):
    """Median and spread of per-step wall seconds, and the median CPU seconds per step.

    With no other load, CPU s/step is about cores x wall s/step; other processes on the cores
    stretch the wall time more than the CPU time.
    """
    return {"ms_per_step": 1000 * statistics.median(times), "ms_min": 1000 * min(times),
            "ms_max": 1000 * max(times), "timed_steps": len(times),
            "cpu_seconds_per_step": statistics.median(cpu_times)}


# ---- ours: ElectraPretrainer through model.fit -------------------------------------------------


def input_batches(data, batch):
    """The batches `fit` reads: a prefetching tf.data pipeline, as `electra-keras pretrain` reads
    its TFRecords, or where TensorFlow is not installed (a GPU machine with JAX or PyTorch alone)
    an endless generator of the same numpy batches."""
    try:
        import tensorflow as tf
    except ImportError:
        import itertools

        n = len(data["token_ids"]) // batch
        return (({k: v[i * batch:(i + 1) * batch] for k, v in data.items()},) for i in itertools.cycle(range(n)))
    dataset = tf.data.Dataset.from_tensor_slices(data).repeat().batch(batch, drop_remainder=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def device_peak_memory_mb(framework):
    """Peak accelerator memory of this process in MB, or None on a CPU."""
    if framework == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    if framework == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "cpu":
            return None
        return (device.memory_stats() or {}).get("peak_bytes_in_use", 0) / 2**20
    return None


def run_ours(spec):
    import keras

    from electra_keras.config import ElectraConfig
    from electra_keras.models import ElectraPretrainer
    from electra_keras.optimizers import electra_adamw

    config = ElectraConfig.from_dict(spec["config"])
    batch, seq, per_call = spec["batch_size"], spec["seq_len"], spec["steps_per_execution"]
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(spec["precision"])  # as training.pretrain does
    model = ElectraPretrainer(config, seed=0)
    # As training.pretrain: the paper's schedule (a warmup rate > 0 from step 1 on).
    model.compile(optimizer=electra_adamw(5e-4, warmup_steps=10_000, total_steps=1_000_000),
                  steps_per_execution=per_call,
                  jit_compile={"true": True, "false": False}.get(spec["jit_compile"], "auto"))
    dataset = input_batches(packed_batches(config, batch, seq), batch)

    class StepTimer(keras.callbacks.Callback):
        """A timestamp per call into the train function, after its loss is on the host.

        A callback with `on_train_batch_end` makes Keras call it synchronously with its logs
        converted to Python floats, so the loss of every step has been computed when it runs.
        """

        def __init__(self):
            super().__init__()
            self.stamps, self.cpu, self.losses = [], [], []

        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))
            self.stamps.append(time.perf_counter())
            self.cpu.append(cpu_seconds())

    calls_warmup = max(1, -(-spec["warmup"] // per_call))
    calls_timed = max(1, -(-spec["steps"] // per_call))
    timer = StepTimer()
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=(calls_warmup + calls_timed) * per_call, callbacks=[timer],
              verbose=0)
    stamps, cpu = timer.stamps[calls_warmup - 1:], timer.cpu[calls_warmup - 1:]
    times = [(b - a) / per_call for a, b in zip(stamps, stamps[1:])]
    return {**step_stats(times, [(b - a) / per_call for a, b in zip(cpu, cpu[1:])]), "first_loss": timer.losses[0], "last_loss": timer.losses[-1],
            "warmup_seconds": timer.stamps[calls_warmup - 1] - start,
            "jit_compile": bool(model.jit_compile), "peak_rss_mb": peak_rss_mb(),
            "peak_device_mb": device_peak_memory_mb(keras.backend.backend()),
            "versions": {"keras": keras.__version__, keras.backend.backend(): backend_version()}}


def backend_version():
    import keras

    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[keras.backend.backend()]
    return __import__(module).__version__


# ---- the Hugging Face peer (PyTorch) -----------------------------------------------------------


def hf_config(config, sizes, attn_implementation="sdpa"):
    """A Hugging Face `ElectraConfig` for one of our networks (`config.generator_sizes()` or
    `discriminator_sizes()`, as a dict); `config` may be a namespace of ElectraConfig's fields."""
    from transformers import ElectraConfig as HFConfig

    return HFConfig(vocab_size=config.vocabulary_size, embedding_size=sizes["embedding_dim"],
                    hidden_size=sizes["hidden_dim"], num_hidden_layers=sizes["num_layers"],
                    num_attention_heads=sizes["num_heads"], intermediate_size=sizes["intermediate_dim"],
                    hidden_act="gelu", hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
                    max_position_embeddings=config.max_sequence_length, type_vocab_size=config.num_segments,
                    layer_norm_eps=config.layer_norm_epsilon, initializer_range=config.initializer_range,
                    pad_token_id=config.pad_token_id, attn_implementation=attn_implementation)


def hf_models(config, generator_sizes, discriminator_sizes):
    """Generator and discriminator from Hugging Face transformers at our sizes, tied as ours.

    The generator uses the discriminator's embedding block (word, position, segment tables and
    LayerNorm; each keeps its own E->H projection) and its LM head's output matrix is the word
    embedding table, as `weight_sharing="embeddings"`.
    """
    from transformers import ElectraForMaskedLM, ElectraForPreTraining

    discriminator = ElectraForPreTraining(hf_config(config, discriminator_sizes))
    generator = ElectraForMaskedLM(hf_config(config, generator_sizes))
    generator.electra.embeddings = discriminator.electra.embeddings
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight
    return generator, discriminator


def hf_pretraining_module(config, generator, discriminator, max_predictions, device="cpu"):
    """Our objective in PyTorch around the two Hugging Face networks: forward(ids) -> loss.

    Masking as `objectives.mask_tokens` (top-k of uniform scores over the candidates, at most
    `max_predictions` per sequence, 85% [MASK], the rest kept), generator logits at the masked
    positions only, Gumbel-max sampling, loss = MLM + 50 x BCE.
    """
    import torch
    import torch.nn.functional as F

    specials = torch.tensor([config.pad_token_id, config.cls_token_id, config.sep_token_id, config.mask_token_id],
                            device=device)

    class ElectraPretraining(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.generator = generator
            self.discriminator = discriminator

        def forward(self, token_ids, segment_ids, padding_mask):
            # --- masking ---
            candidates = padding_mask.bool() & ~torch.isin(token_ids, specials)  # (batch, seq)
            counts = torch.round(padding_mask.float().sum(-1) * config.mask_prob).clamp(1, max_predictions)
            scores = torch.rand(token_ids.shape, device=device).masked_fill(~candidates, -1.0)
            values, positions = scores.topk(max_predictions, dim=-1)  # (batch, preds)
            weights = (torch.arange(max_predictions, device=device)[None, :] < counts[:, None]) & (values >= 0)
            positions = torch.where(weights, positions, 0)
            mask_ids = torch.where(weights, token_ids.gather(1, positions), 0)
            show_mask = torch.rand(positions.shape, device=device) < config.mask_token_rate
            updates = torch.where(show_mask, config.mask_token_id, mask_ids)
            masked_ids = token_ids.scatter(1, positions, torch.where(weights, updates, token_ids.gather(1, positions)))

            # --- generator: encoder, then the MLM head on the masked positions only ---
            hidden = self.generator.electra(input_ids=masked_ids, attention_mask=padding_mask,
                                            token_type_ids=segment_ids).last_hidden_state  # (batch, seq, h_gen)
            picked = hidden.gather(1, positions[:, :, None].expand(-1, -1, hidden.shape[-1]))  # (batch, preds, h_gen)
            logits = self.generator.generator_lm_head(self.generator.generator_predictions(picked))
            logits = logits.float()  # (batch, preds, vocab)
            nll = -F.log_softmax(logits, dim=-1).gather(-1, mask_ids[:, :, None]).squeeze(-1)  # (batch, preds)
            w = weights.float()
            mlm = (nll * w).sum() / (w.sum() + 1e-6)

            # --- Gumbel-max sample, written into every chosen position ---
            with torch.no_grad():
                u = torch.rand(logits.shape, device=device)
                sampled = (logits / config.temperature - torch.log(-torch.log(u + 1e-9) + 1e-9)).argmax(-1)
                current = masked_ids.gather(1, positions)
                corrupted = masked_ids.scatter(1, positions, torch.where(weights, sampled, current))
                chosen = torch.zeros_like(token_ids, dtype=torch.bool).scatter(1, positions, weights)
                replaced = (chosen & (corrupted != token_ids)).float()

            # --- discriminator ---
            disc_logits = self.discriminator(input_ids=corrupted, attention_mask=padding_mask,
                                             token_type_ids=segment_ids).logits.float()  # (batch, seq)
            bce = F.binary_cross_entropy_with_logits(disc_logits, replaced, reduction="none")
            pad = padding_mask.float()
            disc = (bce * pad).sum() / (pad.sum() + 1e-6)
            return config.generator_loss_weight * mlm + config.discriminator_loss_weight * disc

    return ElectraPretraining()


def torch_optimizer(modules, steps_total=1_000_000, warmup=10_000):
    """AdamW (0.01 decay, not on LayerNorm weights and biases) on the paper's warmup + linear decay."""
    import torch

    params = {}
    for module in modules:
        for name, p in module.named_parameters():
            params.setdefault(id(p), (name, p))  # tied tensors once
    decay = [p for n, p in params.values() if not ("bias" in n or "LayerNorm" in n)]
    no_decay = [p for n, p in params.values() if "bias" in n or "LayerNorm" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=5e-4, betas=(0.9, 0.999), eps=1e-6, fused=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / steps_total))
    return optimizer, schedule, [p for _, p in params.values()]


def run_torch_peer(spec):
    """The Hugging Face peer (`kind == "hf"`) or electra-pytorch wrapping the same models."""
    import numpy as np
    import torch
    import transformers

    config = types.SimpleNamespace(**spec["config"])
    batch, seq = spec["batch_size"], spec["seq_len"]
    torch.manual_seed(0)
    device = spec.get("device", "cpu")
    generator, discriminator = hf_models(config, spec["generator_sizes"], spec["discriminator_sizes"])
    generator.to(device)
    discriminator.to(device)
    generator.train()
    discriminator.train()
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    if spec["kind"] == "hf":
        loss_fn = hf_pretraining_module(config, generator, discriminator, spec["max_predictions"], device)
        if spec["torch_compile"]:
            loss_fn = torch.compile(loss_fn)
    else:
        import importlib.metadata

        from electra_pytorch import Electra

        class Logits(torch.nn.Module):  # electra-pytorch wants modules that return logits
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, **kwargs):
                return self.model(input_ids=input_ids, **kwargs).logits

        trainer = Electra(Logits(generator), Logits(discriminator), num_tokens=config.vocabulary_size,
                          mask_prob=config.mask_prob, replace_prob=config.mask_token_rate,
                          random_token_prob=config.random_token_rate, mask_token_id=config.mask_token_id,
                          pad_token_id=config.pad_token_id,
                          mask_ignore_token_ids=[config.cls_token_id, config.sep_token_id],
                          disc_weight=config.discriminator_loss_weight, gen_weight=config.generator_loss_weight,
                          temperature=config.temperature).to(device)
        versions["electra-pytorch"] = importlib.metadata.version("electra-pytorch")

        def loss_fn(token_ids, segment_ids, padding_mask):
            return trainer(token_ids, token_type_ids=segment_ids, attention_mask=padding_mask).loss

    optimizer, schedule, params = torch_optimizer([generator, discriminator])
    data = {k: torch.from_numpy(v.astype(np.int64)).to(device) for k, v in packed_batches(config, batch, seq).items()}
    batches = [{k: v[i:i + batch] for k, v in data.items()} for i in range(0, len(data["token_ids"]), batch)]
    bf16 = spec["precision"] == "mixed_bfloat16"

    def step(i):
        x = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(x["token_ids"], x["segment_ids"], x["padding_mask"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        return loss.item()

    start = time.perf_counter()
    losses = [step(i) for i in range(spec["warmup"])]
    warmup_seconds = time.perf_counter() - start
    times, cpu = [], []
    for i in range(spec["steps"]):
        t0, c0 = time.perf_counter(), cpu_seconds()
        losses.append(step(i))
        times.append(time.perf_counter() - t0)
        cpu.append(cpu_seconds() - c0)
    result = {**step_stats(times, cpu), "first_loss": losses[0], "last_loss": losses[-1], "warmup_seconds": warmup_seconds,
              "torch_threads": torch.get_num_threads(), "peak_rss_mb": peak_rss_mb(),
              "peak_device_mb": device_peak_memory_mb("torch"), "versions": versions}
    if spec.get("profile_steps"):  # after the peak RSS is taken: the profiler holds memory of its own
        result["profile"] = profile_torch(step, spec["profile_steps"])
    return result


def profile_torch(step, steps):
    """The top operators of `steps` steps by self CPU time (share of the total, in %)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            step(i)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    top = sorted(events, key=lambda e: -e.self_cpu_time_total)[:12]
    return [{"op": e.key, "share": 100 * e.self_cpu_time_total / total, "calls": e.count // steps,
             "ms_per_step": e.self_cpu_time_total / 1000 / steps} for e in top]


# ---- the machine's limit: matmul FLOP/s --------------------------------------------------------


GEMM_SIZES = {"cpu": (1024, 2048, 4096), "cuda": (2048, 4096, 8192)}


def run_gemm(spec):
    """Best FLOP/s of square matmuls (2 n^3 FLOPs each) per dtype in one framework."""
    framework, device = spec["framework"], spec.get("device", "cpu")
    results = {}
    for dtype in ("float32", "bfloat16"):
        for n in GEMM_SIZES[device]:
            matmul = gemm_function(framework, dtype, n, device)
            time_once(matmul)  # compilation, caches
            times, start = [], time.perf_counter()
            while len(times) < 2 or (len(times) < 20 and time.perf_counter() - start < 4):
                times.append(time_once(matmul))
            best = min(times)  # other processes only ever slow a GEMM down
            results.setdefault(dtype, {})[str(n)] = 2 * n**3 / best
    step = {}
    for dtype in ("float32", "bfloat16") if spec.get("matmuls") else ():
        matmuls = step_matmuls_function(framework, dtype, spec["matmuls"], device)
        time_once(matmuls)
        step[dtype] = min(time_once(matmuls) for _ in range(3))
    return {"gemm": results, "step_matmul_seconds": step, "peak_rss_mb": peak_rss_mb()}


def gemm_function(framework, dtype, n, device="cpu"):
    """A zero-argument function that multiplies two n x n matrices and waits for the result.

    float32 is true float32 everywhere: on a GPU neither PyTorch nor JAX may round the inputs to
    TF32 (that would be a third precision, with its own peak).
    """
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n)).astype("float32")
    if framework == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        x = torch.from_numpy(a).to(device=device, dtype=getattr(torch, dtype))
        if device == "cuda":
            return lambda: (torch.mm(x, x), torch.cuda.synchronize())
        return lambda: torch.mm(x, x)
    if framework == "tensorflow":
        import tensorflow as tf

        x = tf.cast(tf.constant(a), dtype)
        fn = tf.function(lambda: tf.reduce_sum(tf.matmul(x, x)[:1, :1]))
        return lambda: fn().numpy()
    import jax
    import jax.numpy as jnp

    x = jnp.asarray(a, dtype=dtype)
    fn = jax.jit(lambda m: jnp.matmul(m, m, precision="highest" if dtype == "float32" else None))
    return lambda: fn(x).block_until_ready()


def step_matmuls_function(framework, dtype, products, device="cpu"):
    """A zero-argument function that runs every matmul of one training step, and waits for them.

    `products` is `electra_keras.flops.pretraining_matmuls`: per forward product X W (its own
    matrices for each repeat, as each layer has its own), the two of the backward pass too,
    dY W^T and X^T dY. A scalar taken from every product keeps each one needed.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    shapes = [(b, m, k, n) for repeats, b, m, k, n in products for _ in range(repeats)]

    def squeeze(b, *dims):  # batch 1: a plain 2-D product, as our encoder runs its dense layers
        return dims if b == 1 else (b, *dims)

    host = [[rng.standard_normal(squeeze(b, *dims), dtype="float32") for dims in ((m, k), (k, n), (m, n))]
            for b, m, k, n in shapes]
    if framework == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        mats = [[torch.from_numpy(a).to(device=device, dtype=getattr(torch, dtype)) for a in triple] for triple in host]

        def run():
            total = 0
            for x, w, dy in mats:
                for c in (x @ w, dy @ w.transpose(-1, -2), x.transpose(-1, -2) @ dy):
                    total = total + c.reshape(-1)[0]
            return total.item()

        return run
    if framework == "tensorflow":
        import tensorflow as tf

        mats = [[tf.cast(tf.constant(a), dtype) for a in triple] for triple in host]

        @tf.function
        def step():
            total = tf.zeros((), dtype)
            for x, w, dy in mats:
                for c in (tf.matmul(x, w), tf.matmul(dy, w, transpose_b=True), tf.matmul(x, dy, transpose_a=True)):
                    total += tf.reshape(c, [-1])[0]
            return total

        return lambda: step().numpy()
    import jax
    import jax.numpy as jnp

    mats = [[jnp.asarray(a, dtype=dtype) for a in triple] for triple in host]
    precision = "highest" if dtype == "float32" else None

    @jax.jit
    def all_products(mats):
        total = jnp.zeros((), dtype)
        for x, w, dy in mats:
            for c in (jnp.matmul(x, w, precision=precision), jnp.matmul(dy, jnp.swapaxes(w, -1, -2), precision=precision),
                      jnp.matmul(jnp.swapaxes(x, -1, -2), dy, precision=precision)):
                total += c.reshape(-1)[0]
        return total

    return lambda: all_products(mats).block_until_ready()


def time_once(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---- the driver --------------------------------------------------------------------------------


def worker(spec_json):
    sys.path.insert(0, ROOT)  # measure the electra_keras beside this script, whatever is installed
    spec = json.loads(spec_json)
    run = {"ours": run_ours, "hf": run_torch_peer, "electra_pytorch": run_torch_peer, "gemm": run_gemm}
    result = run[spec["kind"]](spec)
    print(RESULT_TAG + json.dumps(result), flush=True)


def run_in_subprocess(script, spec, timeout, env=None):
    """Runs `script --worker spec` and returns its result dict, or {"error": ...} on failure."""
    command = [sys.executable, script, "--worker", json.dumps(spec)]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    start, load = time.perf_counter(), os.getloadavg()[0]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "wall_seconds": time.perf_counter() - start}
    # The 1-minute load average before and after: above the core count, other processes competed.
    wall, load = time.perf_counter() - start, [load, os.getloadavg()[0]]
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return {**json.loads(line[len(RESULT_TAG):]), "wall_seconds": wall, "load_average": load}
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error" in line]
    return {"error": (errors or lines or [f"exit status {done.returncode}"])[-1][:300], "wall_seconds": wall,
            "load_average": load, "stderr_tail": "\n".join(lines[-30:])}


def load_range(results):
    """'a-b': the range of 1-minute load averages seen around the configurations' processes."""
    loads = [x for r in results for x in r.get("load_average", [])]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a"


def jobs_from_args(args, config):
    """The configurations to run, in order: the limit first, then the peers, then ours."""
    shape = dict(batch_size=args.batch_size, seq_len=args.seq_len, steps=args.steps, warmup=args.warmup,
                 **config_fields(config, args.seq_len))
    only, precisions = split(args.only), split(args.precisions)
    unknown = sorted(set(only) - set(KINDS)) + sorted(set(precisions) - set(PRECISIONS))
    unknown += sorted(set(split(args.backends)) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"unknown value(s) {unknown}: expected kinds {KINDS}, backends {BACKENDS}, "
                         f"precisions {PRECISIONS}")
    jobs = []
    backends = split(args.backends)
    if args.device == "cuda":  # a GPU machine has no TensorFlow build for it here
        backends = [b for b in backends if b != "tensorflow"]
    shape["device"] = args.device
    if "gemm" in only:
        frameworks = [f for f in BACKENDS if f in backends or f == "torch"]
        from electra_keras.flops import pretraining_matmuls

        matmuls = pretraining_matmuls(config, args.batch_size, args.seq_len)
        jobs += [dict(kind="gemm", framework=f, device=args.device, matmuls=matmuls,
                      label=f"matmul peak and the step's matmuls alone, {BACKEND_NAMES[f]}") for f in frameworks]
    for precision in precisions:
        if "hf" in only:
            for compiled in split(args.peer_compile):
                compiled = compiled == "true"
                label = "HF transformers (PyTorch), " + ("torch.compile" if compiled else "eager")
                jobs.append(dict(shape, kind="hf", precision=precision, torch_compile=compiled, label=label,
                                 profile_steps=0 if compiled else 2))
                if not compiled and args.omp_wait_policy != "unset":  # the library default too: spinning
                    jobs.append(dict(jobs[-1], label=label + ", OMP_WAIT_POLICY unset", omp_wait_policy="unset",
                                     profile_steps=0))
        if "electra_pytorch" in only:
            jobs.append(dict(shape, kind="electra_pytorch", precision=precision, torch_compile=False, profile_steps=1,
                             label="electra-pytorch on HF (PyTorch), eager; generator logits at every position"))
    for precision in precisions:
        if "ours" not in only:
            break
        for backend in backends:
            seen = set()
            values = [v.split(":")[-1] for v in split(args.jit_compile) if ":" not in v or v.startswith(backend + ":")]
            for jit in values:
                if jit not in ("auto", "true", "false"):
                    raise SystemExit(f"--jit-compile: expected auto, true or false. Received: {jit!r}")
                resolved = AUTO_JIT[backend] if jit == "auto" else jit == "true"
                if resolved in seen:
                    continue
                seen.add(resolved)
                how = {"tensorflow": ("tf.function", "tf.function + XLA, jit_compile=True"),
                       "jax": ("eager, jit_compile=False", "jax.jit, XLA"),
                       "torch": ("eager", "torch.compile, jit_compile=True")}[backend][resolved]
                label = f"ours, {BACKEND_NAMES[backend]}, fit ({how}" + (
                    f", steps_per_execution={args.steps_per_execution})" if args.steps_per_execution > 1 else ")")
                jobs.append(dict(shape, kind="ours", backend=backend, precision=precision, jit_compile=jit,
                                 steps_per_execution=args.steps_per_execution, label=label))
    return jobs


def run_all(jobs, args, script):
    """Runs every job `args.rounds` times (order reversed every other round); keeps each job's fastest."""
    rounds = {i: [] for i in range(len(jobs))}
    for r in range(args.rounds):
        order = list(range(len(jobs)))
        if r % 2:
            order.reverse()
        for i in order:
            job = jobs[i]
            env = worker_env(args, job)
            print(f"[round {r + 1}/{args.rounds}] {job['label']}"
                  + (f", {job['precision']}" if "precision" in job else ""), flush=True)
            result = run_in_subprocess(script, job, args.timeout, env)
            summary = result.get("error") or (
                f"{result['ms_per_step']:.0f} ms/step (loss {result['first_loss']:.2f} -> {result['last_loss']:.2f})"
                if "ms_per_step" in result else "done")
            print(f"    {summary}  [{result['wall_seconds']:.0f} s, load {result.get('load_average')}]", flush=True)
            rounds[i].append(result)
    results = []
    for i, job in enumerate(jobs):
        ok = [r for r in rounds[i] if "error" not in r]
        if job["kind"] == "gemm":
            best = ok[0] if ok else rounds[i][-1]
            if len(ok) > 1:  # per size, the best round
                best = {**best, "gemm": {d: {n: max(r["gemm"][d][n] for r in ok) for n in best["gemm"][d]}
                                         for d in best["gemm"]}}
        else:
            best = min(ok, key=lambda r: r["ms_per_step"]) if ok else rounds[i][-1]
        job = {k: v for k, v in job.items() if k not in ("config", "generator_sizes", "discriminator_sizes")}
        results.append({**job, **best, "rounds": [r.get("ms_per_step", r.get("error")) for r in rounds[i]]})
    return results


def matmul_peaks(results):
    """{"float32": FLOP/s, "bfloat16": FLOP/s}: the best GEMM of any framework, per dtype."""
    peaks = {}
    for r in results:
        for dtype, sizes in r.get("gemm", {}).items():
            peaks[dtype] = max(peaks.get(dtype, 0.0), max(sizes.values()))
    return peaks


def add_derived(results, args, flops_per_step, peaks):
    """tokens/s, steps/s, MFU and speed relative to the fastest peer of the same precision."""
    tokens = args.batch_size * args.seq_len
    steps = [r for r in results if "ms_per_step" in r]
    for r in steps:
        seconds = r["ms_per_step"] / 1000
        r["steps_per_second"] = 1 / seconds
        r["tokens_per_second"] = tokens / seconds
        r["flops_per_step"] = flops_per_step
        peak = peaks.get("bfloat16" if r["precision"] == "mixed_bfloat16" else "float32")
        r["mfu"] = flops_per_step / seconds / peak if peak else None
    for r in steps:
        peers = [p for p in steps if p["kind"] != "ours"]
        same = [p["ms_per_step"] for p in peers if p["precision"] == r["precision"]]
        r["vs_best_peer"] = min(same) / r["ms_per_step"] if same else None
        r["vs_best_peer_any"] = min(p["ms_per_step"] for p in peers) / r["ms_per_step"] if peers else None


PRECISION_NAMES = {"float32": "float32", "mixed_bfloat16": "bf16 mixed"}


def markdown_table(results):
    lines = ["| configuration | precision | ms/step | steps/s | tokens/s | MFU | CPU s/step | peak memory (GB) | "
             "x best peer | x best peer, any precision | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["kind"] == "gemm":
            continue
        precision = PRECISION_NAMES[r["precision"]]
        if "error" in r:
            lines.append(f"| {r['label']} | {precision} | failed: {r['error'].replace('|', '/')} | | | | | | | | |")
            continue
        mfu = f"{100 * r['mfu']:.1f}%" if r.get("mfu") else "n/a"
        peer = f"{r['vs_best_peer']:.2f}" if r.get("vs_best_peer") else "n/a"
        peer_any = f"{r['vs_best_peer_any']:.2f}" if r.get("vs_best_peer_any") else "n/a"
        lines.append(f"| {r['label']} | {precision} | {r['ms_per_step']:.0f} | {r['steps_per_second']:.2f} | "
                     f"{r['tokens_per_second']:,.0f} | {mfu} | {r['cpu_seconds_per_step']:.2f} | {peak_memory_gb(r):.2f} | "
                     f"{peer} | {peer_any} | {max(r['load_average']):.1f} |")
    return lines


def peak_memory_gb(result):
    """The GPU's peak allocation where the step ran on one, else the process's peak RSS."""
    return (result.get("peak_device_mb") or result["peak_rss_mb"]) / 1024


def gemm_table(results):
    rows = [r for r in results if r["kind"] == "gemm"]
    if not rows:
        return []
    sizes_run = GEMM_SIZES[rows[0].get("device", "cpu")]
    lines = ["| framework | dtype | " + " | ".join(f"n={n}" for n in sizes_run) + " |",
             "|---|---|" + "---|" * len(sizes_run)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {BACKEND_NAMES[r['framework']]} | | failed: {r['error'].replace('|', '/')} |")
            continue
        for dtype, sizes in r["gemm"].items():
            cells = [f"{sizes[str(n)] / 1e9:,.0f}" for n in sizes_run]
            lines.append(f"| {BACKEND_NAMES[r['framework']]} | {dtype} | " + " | ".join(cells) + " |")
    return lines


def step_matmul_table(results, flops_per_step, peaks):
    """Each framework's time for the step's matmuls alone, and the MFU that time caps a step at."""
    rows = [r for r in results if r.get("step_matmul_seconds")]
    if not rows:
        return []
    lines = ["| framework | dtype | ms | GFLOP/s | MFU at most |", "|---|---|---|---|---|"]
    for r in rows:
        for dtype, seconds in r["step_matmul_seconds"].items():
            rate = flops_per_step / seconds
            lines.append(f"| {BACKEND_NAMES[r['framework']]} | {dtype} | {1000 * seconds:,.0f} | {rate / 1e9:,.0f} | "
                         f"{100 * rate / peaks[dtype]:.0f}% |")
    return lines


def profile_lines(results):
    lines = []
    for r in results:
        if r.get("profile"):
            lines += ["", f"{r['label']}, {PRECISION_NAMES[r['precision']]}: top operators by self CPU time "
                          f"(torch.profiler, {r['profile_steps']} step(s))", "", "| operator | share | calls/step | ms/step |",
                      "|---|---|---|---|"]
            lines += [f"| `{p['op']}` | {p['share']:.1f}% | {p['calls']} | {p['ms_per_step']:.0f} |"
                      for p in r["profile"]]
    return lines


def source_version():
    """The commit of the electra_keras measured, marked when the package has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "electra_keras"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" with uncommitted changes" if changed else "")


def machine(device="cpu"):
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor())
    if device == "cuda":
        try:
            gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[0]
        except (OSError, subprocess.CalledProcessError, IndexError):
            gpu = "a CUDA GPU"
        return f"{gpu} ({os.cpu_count()} CPU cores)"
    return f"{model}, {os.cpu_count()} cores"


def plot(results, path, title, value="tokens_per_second", xlabel="tokens per second (higher is better)"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if value in r]
    if not rows:
        return
    colors = {"ours": "tab:blue", "hf": "tab:orange", "electra_pytorch": "tab:green"}
    labels = [f"{r['label']}, {PRECISION_NAMES.get(r.get('precision'), r.get('precision'))}" for r in rows]
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.4))
    y = list(range(len(rows)))[::-1]
    bars = ax.barh(y, [r[value] for r in rows], color=[colors.get(r["kind"], "gray") for r in rows],
                   hatch=None)
    for bar, r in zip(bars, rows):
        if r.get("precision") == "mixed_bfloat16":
            bar.set_hatch("//")
        note = f" {r[value]:,.0f}  ({r['ms_per_step']:,.0f} ms/step" + (
            f", MFU {100 * r['mfu']:.1f}%)" if r.get("mfu") else ")")
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, note, va="center", fontsize=8)
    ax.set_yticks(y, [label.replace("; generator logits at every position", "") for label in labels], fontsize=8)
    ax.set_xlim(0, 1.5 * max(r[value] for r in rows))
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def load_previous_peaks(path):
    """Matmul peaks from an earlier run's JSON, for runs that skip `gemm`."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f).get("matmul_peak_flops", {})


def main():
    args = parse_args()
    if args.worker:
        return worker(args.worker)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, ROOT)
    from electra_keras.flops import pretraining_flops_per_step

    config = make_config(args.preset, args.vocab_size, args.seq_len)
    jobs = jobs_from_args(args, config)
    started, source = datetime.datetime.now(), source_version()
    results = run_all(jobs, args, os.path.abspath(__file__))
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, f"{args.name}.json")
    peaks = matmul_peaks(results)
    peaks_note = "measured in this run"
    if not peaks:
        peaks, peaks_note = load_previous_peaks(json_path), f"from the previous {os.path.basename(json_path)}"
    # The useful work of a step, one analytic count for us and every peer (electra_keras.flops):
    # 6 x batch x [seq x (generator encoder + discriminator encoder MACs per token, each layer
    # 4 h^2 + 2 h f + 2 seq h, plus the E->H projections) + RTD head (h^2 + h per token)
    # + max_predictions x (h_gen E + E V) for the MLM head at the masked positions]: 2 FLOPs
    # per multiply-add, backward = 2 x forward. Logits a peer computes at unmasked positions
    # are not useful work and not counted.
    flops_per_step = pretraining_flops_per_step(config, args.batch_size, args.seq_len)
    add_derived(results, args, flops_per_step, peaks)

    command = "python benchmarks/pretrain_step.py " + " ".join(sys.argv[1:])
    header = (f"`{command.strip()}` ({started:%Y-%m-%d}; {machine(args.device)}, shared with other jobs: 1-minute load "
              f"average {load_range(results)} during the run; OMP_WAIT_POLICY={args.omp_wait_policy}; electra_keras at "
              f"{source}): "
              f"ELECTRA-{args.preset} (`ElectraConfig.from_preset({args.preset!r}, vocabulary_size={args.vocab_size}, "
              f"sequence_length={args.seq_len})`), batch {args.batch_size} x {args.seq_len}, one pretraining step "
              f"= {flops_per_step / 1e9:.1f} GFLOP (analytic, `electra_keras.flops`); median of {args.steps} timed "
              f"steps after {args.warmup} warm-up steps"
              + (f", fastest of {args.rounds} rounds" if args.rounds > 1 else "") + ". MFU = those FLOPs / step time / "
              f"the matmul peak of the precision ({', '.join(f'{d} {v / 1e9:,.0f} GFLOP/s' for d, v in peaks.items())}; "
              f"{peaks_note}). x best peer: the fastest peer step of the same precision (any precision) / this step time. "
              f"peak memory: the GPU's peak allocation on a GPU, else the process's peak RSS. CPU s/step: "
              f"CPU time of the process per step (all threads). load: the 1-minute load average before or after the "
              f"kept round, whichever is higher (above {os.cpu_count()}, other processes competed for the cores).")
    md = [header, "", *markdown_table(results)]
    gemms, ceiling = gemm_table(results), step_matmul_table(results, flops_per_step, peaks)
    if gemms:
        md += ["", "Matmul FLOP/s of the machine (GFLOP/s, best of several n x n GEMMs):", "", *gemms]
    if ceiling:
        md += ["", "The step's matmuls alone (`electra_keras.flops.pretraining_matmuls`: each forward product and "
                   "its two backward ones at the step's shapes, nothing else; best of 3): a step that did only these "
                   "would reach this MFU.", "", *ceiling]
    md += profile_lines(results)
    md_text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, f"{args.name}.md"), "w") as f:
        f.write(md_text)
    with open(json_path, "w") as f:
        json.dump({"command": command.strip(), "date": f"{started:%Y-%m-%d %H:%M}", "machine": machine(args.device),
                   "electra_keras": source, "omp_wait_policy": args.omp_wait_policy,
                   "config": config.to_dict(), "batch_size": args.batch_size, "seq_len": args.seq_len,
                   "flops_per_step": flops_per_step, "matmul_peak_flops": peaks, "results": results}, f, indent=1)
    plot(results, os.path.join(args.out, f"{args.name}.png"),
         f"ELECTRA-{args.preset} pretraining step, batch {args.batch_size} x {args.seq_len}, {machine(args.device)}\n"
         f"blue: ours, orange: HF transformers, green: electra-pytorch; hatched: bf16 mixed precision")
    print(md_text)


if __name__ == "__main__":
    main()
