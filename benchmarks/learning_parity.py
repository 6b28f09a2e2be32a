"""Learning parity: our training dynamics against an independent PyTorch reference.

Two implementations of ELECTRA pretraining at the `tiny` size (E 64, H 128, 2 layers, 2 heads,
FFN 512; generator H 32, 1 head, FFN 128) train side by side on the very same batches, in the
same order, with the same schedule:

- ours: `electra_keras.ElectraPretrainer` compiled with `electra_keras.optimizers.electra_adamw`,
  trained one batch at a time with `train_on_batch` on the current Keras backend;
- the reference: written here, independently of electra_keras, in PyTorch on Hugging Face
  `transformers`' ELECTRA modules (`ElectraForMaskedLM` as the generator,
  `ElectraForPreTraining` as the discriminator) from the facts of the original
  (google-research/electra, ../shared/REFERENCE.md sections 1-3): the generator and the
  discriminator share the whole embedding block (word, position and segment tables and the
  embedding LayerNorm: one module) and the generator's output matrix is the word-embedding
  table; truncated-normal init (stddev 0.02, cut at 2 stddev) with a Glorot-uniform last
  discriminator dense, as the original's TF1 code; masking as `pretrain_helpers.mask`
  (per example max(1, min(N, round(real_tokens * 0.15))) positions among the real tokens
  other than [CLS]/[SEP]/[MASK], N = int(0.155 * seq_len); 85% shown as [MASK], 15% kept),
  drawn without replacement; Gumbel-max sampling with no gradient, the sample written into
  every chosen position; replaced = chosen and sample != original; loss = mean MLM
  cross-entropy over the chosen positions + 50 * sigmoid BCE over every non-padding token;
  the original's AdamWeightDecay (decoupled decay 0.01 except LayerNorm and biases, beta1 0.9,
  beta2 0.999, eps 1e-6, no bias correction, global-norm clipping 1.0), written out below,
  at lr = peak * min(1, step / warmup) * (1 - step / total).

Every `--log-every` steps both are measured the same way, by code in this file on NumPy arrays:
on the training batches of the interval, the mean MLM loss (per step, averaged), the MLM
accuracy (argmax at the chosen positions), the discriminator loss and its AUC over every
non-padding token (pooled over the interval, exact Mann-Whitney); on 128 held-out examples
(the first of the last shard, which is not trained on), `electra_keras.probe`'s fixed probe:
AUC against random replacements and against the generator's own samples drawn with fixed
uniforms. To read our model's per-step predictions, ours is trained as a subclass of
`ElectraPretrainer` whose `compute_metrics` also copies the step's outputs into a metric's
variables; that touches neither the loss nor the random state.

The two share the batches, the sizes, the objective and the schedule, but not the random draws:
initial weights, masked positions, [MASK]/keep choices, dropout and the generator's samples all
come from each framework's own generator. So the curves agree statistically, not bit for bit:
a gap of the size of the interval-to-interval noise is parity; a gap that grows, or one of
constant sign well above the noise, is a difference in the dynamics.

    python benchmarks/learning_parity.py [--steps 2000] [--learning-rate 1e-3] [--warmup-steps 200] \
        [--log-every 100] [--seed 0] [--shards DIR] [--out benchmarks/results] [--name learning_parity]

Results: <out>/<name>.md (command, date, versions, the table, the gaps), <name>.json (all the
numbers) and <name>.png (MLM loss, MLM accuracy, training AUC, the two probe AUCs and the
learning rate, both implementations per panel). Ours runs on KERAS_BACKEND (default: Keras's).
"""

import argparse
import datetime
import glob
import json
import math
import os
import platform
import re
import shlex
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# The tiny preset, written out from the sizes it stands for (REFERENCE.md section 1, scaled):
# the reference does not read our config; `check_sizes_agree` asserts the two match.
TINY = dict(embedding=64, hidden=128, layers=2, heads=2, ffn=512, generator_fraction=0.25)
SEQ_LEN = 128
BATCH_SIZE = 32
MASK_PROB = 0.15
MASK_TOKEN_RATE = 0.85  # chosen positions shown as [MASK]; the rest keep their token
DISC_WEIGHT = 50.0  # the paper's lambda
PROBE_EXAMPLES = 128

# name: (label, higher is better). Measured for both implementations at every interval.
METRICS = {
    "mlm_loss": "MLM loss",
    "mlm_accuracy": "MLM accuracy",
    "disc_loss": "disc. loss",
    "disc_auc": "training disc. AUC",
    "probe_auc_random": "probe AUC (random)",
    "probe_auc_generator": "probe AUC (generator)",
}
PLOTTED = ("mlm_loss", "mlm_accuracy", "disc_auc", "probe_auc_random", "probe_auc_generator")
IMPLS = ("ours", "reference")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="peak learning rate of both")
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--log-every", type=int, default=100, help="steps per measured interval")
    parser.add_argument("--seed", type=int, default=0, help="data order, probe, and each side's own draws")
    parser.add_argument("--shards", default=None,
                        help="directory of pretrain-*.tfrecord, vocab.txt, tokenizer_config.json "
                             "(default: the cached default corpus, ~/.cache/electra_keras/data/wiki_leads-*)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--name", default="learning_parity", help="stem of the result files")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.log_every < 1 or args.warmup_steps < 0:
        parser.error("--steps and --log-every must be >= 1, --warmup-steps >= 0")
    return args


# ---- data ----------------------------------------------------------------------------------------


def find_shards(shards):
    """The shard directory: --shards, or the cached default corpus that `electra-keras pretrain` builds."""
    if shards is None:
        cache = os.environ.get("ELECTRA_KERAS_CACHE") or os.path.expanduser("~/.cache/electra_keras")
        # The cache names a build "<first two corpus files>-<10-hex key>": the default corpus
        # alone is exactly "wiki_leads-<key>" ("wiki_leads-moby_dick-<key>" is another corpus).
        found = [d for d in glob.glob(os.path.join(cache, "data", "wiki_leads-*"))
                 if re.fullmatch(r"wiki_leads-[0-9a-f]{10}", os.path.basename(d))
                 and glob.glob(os.path.join(d, "pretrain-*.tfrecord"))]
        if not found:
            sys.exit(f"error: no default corpus under {os.path.join(cache, 'data')}/wiki_leads-*; "
                     f"run `electra-keras pretrain` once to build it, or pass --shards DIR")
        shards = max(found, key=os.path.getmtime)  # the newest build if settings differ
        if len(found) > 1:
            print(f"note: {len(found)} builds of the default corpus in the cache; using the newest, {shards} "
                  f"(--shards picks another)", flush=True)
    files = sorted(glob.glob(os.path.join(shards, "pretrain-*.tfrecord")))
    if len(files) < 2:
        sys.exit(f"error: {shards} holds {len(files)} pretrain-*.tfrecord shard(s); need 2 or more "
                 f"(the last one is held out for the probe)")
    if not os.path.exists(os.path.join(shards, "vocab.txt")):
        sys.exit(f"error: {shards} has no vocab.txt")
    return shards, files


def numpy_batch(batch):
    return {k: v.numpy() for k, v in batch.items()}


def probe_batch(files):
    """The first PROBE_EXAMPLES examples of the held-out shard(s), in file order."""
    from electra_keras.data import pretraining_dataset

    dataset = pretraining_dataset(files, PROBE_EXAMPLES, SEQ_LEN, shuffle=False, repeat=True)
    return numpy_batch(next(iter(dataset)))


# ---- the reference: PyTorch + Hugging Face modules -----------------------------------------------


def reference_sizes():
    """Discriminator and generator sizes by the original's rule: the generator keeps the depth,
    shrinks the width, heads = max(1, H // 64), FFN = 4H."""
    gen_hidden = int(round(TINY["hidden"] * TINY["generator_fraction"]))
    disc = dict(hidden=TINY["hidden"], layers=TINY["layers"], heads=TINY["heads"], ffn=TINY["ffn"])
    gen = dict(hidden=gen_hidden, layers=TINY["layers"], heads=max(1, gen_hidden // 64), ffn=4 * gen_hidden)
    return disc, gen


def hf_config(sizes, vocab_size, pad_id):
    from transformers import ElectraConfig as HFConfig

    return HFConfig(
        vocab_size=vocab_size,
        embedding_size=TINY["embedding"],
        hidden_size=sizes["hidden"],
        num_hidden_layers=sizes["layers"],
        num_attention_heads=sizes["heads"],
        intermediate_size=sizes["ffn"],
        hidden_act="gelu",  # exact (erf) GELU in transformers
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=pad_id,
        tie_word_embeddings=True,
    )


def init_like_original(module):
    """The original's TF1 init: truncated normal, stddev 0.02, cut at 2 stddev (transformers
    draws an untruncated normal and zeros the [PAD] row); zero biases; LayerNorm 1 and 0."""
    import torch
    from torch import nn

    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(layer.weight, std=0.02, a=-0.04, b=0.04)
            if isinstance(layer, nn.Linear) and layer.bias is not None:
                nn.init.zeros_(layer.bias)
            if isinstance(layer, nn.LayerNorm):
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)


def build_reference(vocab_size, special):
    """Generator + discriminator, tied as the original's default ("tie embeddings")."""
    import torch
    from torch import nn
    from transformers import ElectraForMaskedLM, ElectraForPreTraining

    disc_sizes, gen_sizes = reference_sizes()
    model = nn.Module()
    model.discriminator = ElectraForPreTraining(hf_config(disc_sizes, vocab_size, special["pad"]))
    model.generator = ElectraForMaskedLM(hf_config(gen_sizes, vocab_size, special["pad"]))
    # One embedding block for both (tables and LayerNorm); each keeps its own E->H projection.
    shared = model.discriminator.electra.embeddings
    model.generator.electra.embeddings = shared
    # transformers tied the output matrix to the generator's own (now discarded) table: re-tie.
    model.generator.generator_lm_head.weight = shared.word_embeddings.weight
    init_like_original(model)
    with torch.no_grad():  # the original's last discriminator dense is a default tf.layers.dense
        nn.init.xavier_uniform_(model.discriminator.discriminator_predictions.dense_prediction.weight)
    assert model.generator.generator_lm_head.weight is shared.word_embeddings.weight
    model.train()
    return model


def no_decay(name):
    """The original's exclude_from_weight_decay: ["LayerNorm", "layer_norm", "bias"]."""
    return "LayerNorm" in name or "layer_norm" in name or "bias" in name


class OriginalAdamW:
    """google-research/electra's AdamWeightDecayOptimizer with its global-norm clipping.

    m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; update = m / (sqrt(v) + eps)
    (+ wd * w where decayed); w -= lr * update. No bias correction. g is first clipped to a
    global norm of `clip` (tf.clip_by_global_norm: g * clip / max(norm, clip)).
    """

    def __init__(self, named_parameters, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 clip=1.0):
        import torch

        # named_parameters() lists a shared tensor once, so the tied tables get one update.
        self.params = [(p, weight_decay if not no_decay(n) else 0.0) for n, p in named_parameters]
        self.m = [torch.zeros_like(p) for p, _ in self.params]
        self.v = [torch.zeros_like(p) for p, _ in self.params]
        self.beta_1, self.beta_2, self.epsilon, self.clip = beta_1, beta_2, epsilon, clip

    def step(self, lr):
        import torch

        with torch.no_grad():
            grads = [torch.zeros_like(p) if p.grad is None else p.grad for p, _ in self.params]
            norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
            scale = self.clip / torch.maximum(norm, torch.tensor(self.clip))
            for (p, decay), g, m, v in zip(self.params, grads, self.m, self.v):
                g = g * scale
                m.mul_(self.beta_1).add_(g, alpha=1.0 - self.beta_1)
                v.mul_(self.beta_2).addcmul_(g, g, value=1.0 - self.beta_2)
                update = m / (torch.sqrt(v) + self.epsilon)
                if decay:
                    update = update + decay * p
                p.sub_(lr * update)
                p.grad = None


def reference_learning_rate(step, peak, warmup, total):
    """The original's schedule at the update with 0-based index `step`: decay and warmup at once."""
    warm = min(1.0, step / warmup) if warmup else 1.0
    return peak * warm * max(0.0, 1.0 - step / total)


def original_masking(ids, padding, special, generator):
    """pretrain_helpers.mask: the chosen positions (bool (B, L)) and the generator's input."""
    import torch

    batch, seq_len = ids.shape
    max_predictions = int((MASK_PROB + 0.005) * seq_len)
    candidates = padding.bool()
    for token in (special["cls"], special["sep"], special["mask"]):
        candidates &= ids != token
    # num_real_tokens counts [CLS]/[SEP]; float32 product, round half to even, as tf.round.
    counts = torch.round(padding.sum(-1).float() * torch.tensor(MASK_PROB, dtype=torch.float32))
    counts = counts.clamp(1, max_predictions).long()
    chosen = torch.zeros_like(candidates)
    for b in range(batch):  # n distinct candidates per example (fewer if it has fewer)
        where = torch.nonzero(candidates[b]).squeeze(-1)
        pick = torch.randperm(len(where), generator=generator)[: int(counts[b])]
        chosen[b, where[pick]] = True
    show_mask = chosen & (torch.rand(ids.shape, generator=generator) < MASK_TOKEN_RATE)
    return chosen, torch.where(show_mask, torch.full_like(ids, special["mask"]), ids)


def generator_logits(generator, input_ids, padding, segments, select):
    """The MLM head's logits at the selected positions only, as the original (gather, then head).

    `select` is a (B, L) bool mask (rows in row-major order) or a (B, P) index tensor.
    """
    import torch

    hidden = generator.electra(input_ids, attention_mask=padding, token_type_ids=segments).last_hidden_state
    if select.dtype == torch.bool:
        hidden = hidden[select]  # (M, Hg)
    else:
        hidden = torch.take_along_dim(hidden, select[..., None], dim=1)  # (B, P, Hg)
    return generator.generator_lm_head(generator.generator_predictions(hidden))


def gumbel_max(logits, generator):
    """argmax(logits + g), g = -log(-log(u + 1e-9) + 1e-9), no gradient (the original's sampler)."""
    import torch

    with torch.no_grad():
        u = torch.rand(logits.shape, generator=generator)
        return torch.argmax(logits.detach() + -torch.log(-torch.log(u + 1e-9) + 1e-9), dim=-1)


def reference_step(model, optimizer, batch, lr, special, generator):
    """One training step of the reference; returns the step's arrays for the interval metrics."""
    import torch
    import torch.nn.functional as F

    ids = torch.from_numpy(batch["token_ids"]).long()
    segments = torch.from_numpy(batch["segment_ids"]).long()
    padding = torch.from_numpy(batch["padding_mask"]).long()

    chosen, generator_input = original_masking(ids, padding, special, generator)
    logits = generator_logits(model.generator, generator_input, padding, segments, chosen)  # (M, V)
    targets = ids[chosen]
    nll = F.cross_entropy(logits, targets, reduction="none")
    mlm_loss = nll.mean()

    corrupted = ids.clone()
    corrupted[chosen] = gumbel_max(logits, generator)  # into every chosen position
    replaced = chosen & (corrupted != ids)
    disc_logits = model.discriminator(corrupted, attention_mask=padding, token_type_ids=segments).logits
    weights = padding.float()
    bce = F.binary_cross_entropy_with_logits(disc_logits, replaced.float(), reduction="none")
    disc_loss = (bce * weights).sum() / weights.sum()

    (mlm_loss + DISC_WEIGHT * disc_loss).backward()
    optimizer.step(lr)
    real = padding.bool()
    return dict(
        mlm_nll=nll.detach().numpy(),
        mlm_correct=(logits.detach().argmax(-1) == targets).numpy(),
        disc_logits=disc_logits.detach()[real].numpy(),
        disc_labels=replaced[real].numpy(),
    )


def reference_probe(model, probe_set):
    """`DiscriminatorProbe`'s computation on the reference, in eval mode (no dropout)."""
    import torch

    from electra_keras.probe import detection_auc, sample_by_inverse_cdf

    s = probe_set
    padding = torch.from_numpy(s.padding_mask).long()
    segments = torch.from_numpy(s.segment_ids).long()

    def disc_logits(token_ids):
        out = model.discriminator(torch.from_numpy(token_ids).long(), attention_mask=padding,
                                  token_type_ids=segments)
        return out.logits.numpy()

    model.eval()
    try:
        with torch.no_grad():
            logits = generator_logits(model.generator, torch.from_numpy(s.generator_input).long(), padding,
                                      segments, torch.from_numpy(s.mask_positions).long())  # (B, P, V)
            sampled = sample_by_inverse_cdf(logits.numpy(), s.sample_uniforms)
            corrupted = s.token_ids.copy()
            rows = np.nonzero(s.mask_weights)[0]
            corrupted[rows, s.mask_positions[s.mask_weights]] = sampled[s.mask_weights]
            labels = (corrupted != s.token_ids).astype("int32")
            return {
                "probe_auc_generator": detection_auc(disc_logits(corrupted), labels, s.scored),
                "probe_auc_random": detection_auc(disc_logits(s.random_ids), s.random_labels, s.scored),
            }
    finally:
        model.train()


# ---- ours ----------------------------------------------------------------------------------------


def build_ours(config, args, batch_size, seq_len):
    """`ElectraPretrainer` + `electra_adamw`, with the step's outputs kept for measurement."""
    import keras
    from keras import ops

    from electra_keras import ElectraPretrainer
    from electra_keras.optimizers import electra_adamw

    max_predictions = min(config.max_predictions(seq_len), seq_len)

    class LastStep(keras.metrics.Metric):
        """Holds the last training step's arrays in its variables (metric state travels out of
        the compiled train step on every backend); its result is a dummy 0."""

        def __init__(self):
            super().__init__(name="last_step")
            shapes = dict(mlm_nll=(batch_size, max_predictions), mlm_correct=(batch_size, max_predictions),
                          mask_weights=(batch_size, max_predictions), disc_logits=(batch_size, seq_len),
                          disc_labels=(batch_size, seq_len), padding=(batch_size, seq_len))
            self.arrays = {n: self.add_variable(shape=s, initializer="zeros", dtype="float32", name=n)
                           for n, s in shapes.items()}

        def update_state(self, **values):
            for name, value in values.items():
                self.arrays[name].assign(ops.cast(value, "float32"))

        def result(self):
            return ops.zeros(())

        def numpy(self):
            return {n: ops.convert_to_numpy(v) for n, v in self.arrays.items()}

    class RecordingPretrainer(ElectraPretrainer):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.last_step = LastStep()

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            predicted = ops.argmax(y_pred["mlm_logits"], axis=-1)
            self.last_step.update_state(
                mlm_nll=y_pred["mlm_nll"],
                mlm_correct=ops.equal(ops.cast(predicted, "int32"), ops.cast(y_pred["mask_ids"], "int32")),
                mask_weights=y_pred["mask_weights"],
                disc_logits=y_pred["disc_logits"],
                disc_labels=y_pred["replaced_labels"],
                padding=x["padding_mask"],
            )
            return super().compute_metrics(x, y, y_pred, sample_weight)

    model = RecordingPretrainer(config, seed=args.seed)
    model.compile(optimizer=electra_adamw(args.learning_rate, warmup_steps=args.warmup_steps,
                                          total_steps=args.steps))
    return model


def ours_step(model, batch):
    model.train_on_batch(batch)
    a = model.last_step.numpy()
    used, real = a["mask_weights"] > 0, a["padding"] > 0
    return dict(
        mlm_nll=a["mlm_nll"][used],
        mlm_correct=a["mlm_correct"][used] > 0,
        disc_logits=a["disc_logits"][real],
        disc_labels=a["disc_labels"][real] > 0,
    )


def ours_probe(probe):
    def run(model):
        scores = probe(model)
        return {"probe_auc_generator": scores["eval_auc_generator"], "probe_auc_random": scores["eval_auc_random"]}

    return run


# ---- measurement ---------------------------------------------------------------------------------


def interval_metrics(steps):
    """The training metrics of one interval from its steps' arrays, computed alike for both."""
    from electra_keras.probe import detection_auc

    logits = np.concatenate([s["disc_logits"] for s in steps]).astype("float64")
    labels = np.concatenate([s["disc_labels"] for s in steps]).astype("float64")
    # Stable sigmoid BCE, as both losses are defined; averaged over the interval's tokens.
    bce = np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))
    return {
        "mlm_loss": float(np.mean([s["mlm_nll"].mean() for s in steps])),  # each step's mean, averaged
        "mlm_accuracy": float(np.concatenate([s["mlm_correct"] for s in steps]).mean()),
        "disc_loss": float(bce.mean()),
        "disc_auc": detection_auc(logits, labels),  # logits: same ranks as probabilities, fewer ties
        "replaced_fraction": float(labels.mean()),
    }


def largest_gaps(rows, warmup_steps):
    """Per metric, over the intervals that start at or after the end of warmup: the largest
    |ours - reference| and the mean signed difference (a constant sign hints at a bias)."""
    gaps = {}
    for metric in METRICS:
        diffs = [(r["step"], r["ours"][metric] - r["reference"][metric]) for r in rows
                 if r["step"] - r["interval"] >= warmup_steps
                 and math.isfinite(r["ours"][metric]) and math.isfinite(r["reference"][metric])]
        if not diffs:
            gaps[metric] = None
            continue
        step, worst = max(diffs, key=lambda d: abs(d[1]))
        gaps[metric] = dict(max_abs_gap=abs(worst), at_step=step, mean_diff=float(np.mean([d for _, d in diffs])),
                            intervals=len(diffs))
    return gaps


# ---- report --------------------------------------------------------------------------------------


def fmt(value, metric=None):
    if value is None or not math.isfinite(value):
        return "nan"
    if metric == "lr":
        return f"{value:.2e}"
    return f"{value:.3f}" if metric in ("mlm_loss", "disc_loss") else f"{value:.4f}"


def progress_bar(total):
    """A tqdm bar over the steps (the table rows print above it), or None without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="step", dynamic_ncols=True, file=sys.stdout)


def console_header():
    cells = [f"{'step':>6}", f"{'lr':>9}"] + [f"{name + ' o/r':>19}" for name in METRICS] + [f"{'s/step o/r':>13}"]
    return " ".join(cells)


def console_row(row):
    cells = [f"{row['step']:>6}", f"{fmt(row['lr']['ours'], 'lr'):>9}"]
    cells += [f"{fmt(row['ours'][m], m) + '/' + fmt(row['reference'][m], m):>19}" for m in METRICS]
    cells.append(f"{row['seconds_per_step']['ours']:.3f}/{row['seconds_per_step']['reference']:.3f}".rjust(13))
    return " ".join(cells)


def markdown_table(rows):
    head = ["step", "lr"] + [f"{m} {side}" for m in METRICS for side in ("ours", "ref")]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in rows:
        cells = [str(r["step"]), fmt(r["lr"]["ours"], "lr")]
        cells += [fmt(r[side][m], m) for m in METRICS for side in IMPLS]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def gap_table(gaps):
    lines = ["| metric | largest abs. gap | at step | mean (ours - ref) | intervals |", "|---|---:|---:|---:|---:|"]
    for metric, gap in gaps.items():
        if gap is None:
            lines.append(f"| {metric} | n/a | | | 0 |")
        else:
            lines.append(f"| {metric} | {gap['max_abs_gap']:.4f} | {gap['at_step']} | {gap['mean_diff']:+.4f} "
                         f"| {gap['intervals']} |")
    return lines


def versions():
    import keras
    import tensorflow as tf
    import torch
    import transformers

    return {"python": platform.python_version(), "platform": platform.platform(), "keras": keras.__version__,
            "keras_backend": keras.backend.backend(), "tensorflow": tf.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__}


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    panels = list(PLOTTED) + ["lr"]
    for ax, metric in zip(axes.ravel(), panels):
        for side, style in (("ours", dict(color="C0", marker="o")), ("reference", dict(color="C3", marker="x",
                                                                                         linestyle="--"))):
            values = [r["lr"][side] if metric == "lr" else r[side][metric] for r in rows]
            ax.plot(steps, values, label="ours (electra_keras)" if side == "ours" else "reference (HF torch)",
                    markersize=4, **style)
        ax.set_title("learning rate" if metric == "lr" else METRICS[metric])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(args, result):
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, args.name)
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    rows, gaps = result["intervals"], result["gaps"]
    t, c = result["seconds_per_step"], result["cpu_seconds_per_step"]
    init = result["initial_probe"]
    md = [
        f"# Learning parity: electra_keras vs a Hugging Face / PyTorch reference ({args.name})",
        "",
        f"Command: `{result['command']}`  ",
        f"Date: {result['date']}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + "  ",
        f"Data: {result['shards']} (training: {len(result['train_files'])} shards; probe: "
        f"first {PROBE_EXAMPLES} examples of {os.path.basename(result['probe_files'][0])})  ",
        f"Model: tiny, vocabulary {result['vocabulary_size']}; trainable parameters: ours "
        f"{result['parameters']['ours']:,}, reference {result['parameters']['reference']:,}  ",
        f"Batch {BATCH_SIZE} x {SEQ_LEN}, {args.steps} steps, peak lr {args.learning_rate}, warmup "
        f"{args.warmup_steps}, seed {args.seed}  ",
        f"Per step (median, first step excluded): ours {t['ours']:.3f} s wall, {c['ours']:.3f} s CPU; "
        f"reference {t['reference']:.3f} s wall, {c['reference']:.3f} s CPU (both in one process, one after "
        f"the other; CPU time includes the data pipeline's background threads)",
        "",
        "Both implementations see the same batches in the same order but draw their own random numbers "
        "(init, masking, dropout, sampling): the curves should agree statistically, not bit for bit. "
        "Training metrics are over the interval's batches (loss: mean of the steps; accuracy and AUC "
        "pooled); probe AUCs are on held-out data at the end of the interval.",
        "",
        f"Probe at step 0 (before training): ours random {fmt(init['ours']['probe_auc_random'])}, generator "
        f"{fmt(init['ours']['probe_auc_generator'])}; reference random {fmt(init['reference']['probe_auc_random'])}, "
        f"generator {fmt(init['reference']['probe_auc_generator'])}.",
        "",
        *markdown_table(rows),
        "",
        f"Largest gaps over the intervals that start at or after step {args.warmup_steps} (end of warmup):",
        "",
        *gap_table(gaps),
        "",
        f"![curves]({args.name}.png)",
        "",
    ]
    with open(stem + ".md", "w") as f:
        f.write("\n".join(md))
    plot(rows, stem + ".png", f"electra_keras ({result['versions']['keras_backend']}) vs HF/PyTorch reference, "
                              f"tiny, lr {args.learning_rate}, warmup {args.warmup_steps}")
    return stem


# ---- main ----------------------------------------------------------------------------------------


def check_sizes_agree(config):
    """The reference's hand-written sizes are those of our `tiny` preset."""
    disc, gen = reference_sizes()
    ours_disc, ours_gen = config.discriminator_sizes(), config.generator_sizes()
    for ref, our in ((disc, ours_disc), (gen, ours_gen)):
        assert (ref["hidden"], ref["layers"], ref["heads"], ref["ffn"]) == (
            our["hidden_dim"], our["num_layers"], our["num_heads"], our["intermediate_dim"]), (ref, our)
    assert ours_disc["embedding_dim"] == ours_gen["embedding_dim"] == TINY["embedding"]
    assert config.max_predictions(SEQ_LEN) == int((MASK_PROB + 0.005) * SEQ_LEN) == 19
    assert (config.mask_prob, config.mask_token_rate, config.random_token_rate) == (MASK_PROB, MASK_TOKEN_RATE, 0.0)
    assert (config.discriminator_loss_weight, config.generator_loss_weight) == (DISC_WEIGHT, 1.0)
    # The reference ties the embedding block as the original's default, and nothing else.
    assert (config.objective, config.weight_sharing, config.temperature) == ("electra", "embeddings", 1.0), config
    assert (config.dropout, config.layer_norm_epsilon, config.initializer_range) == (0.1, 1e-12, 0.02), config


def main(argv=None):
    args = parse_args(argv)
    shards, files = find_shards(args.shards)
    train_files, probe_files = files[:-1], files[-1:]

    import keras
    import torch

    import electra_keras as ek
    from electra_keras.data import pretraining_dataset
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.probe import DiscriminatorProbe, make_probe_set

    torch.set_num_threads(2)
    tokenizer = WordPieceTokenizer.from_directory(shards)
    ids = tokenizer.special_ids
    special = {"pad": ids["pad_token_id"], "cls": ids["cls_token_id"], "sep": ids["sep_token_id"],
               "mask": ids["mask_token_id"]}
    config = ek.ElectraConfig.from_preset(
        "tiny", vocabulary_size=len(tokenizer), **{k: v for k, v in ids.items() if k != "unk_token_id"})
    check_sizes_agree(config)

    # Probe: fixed corruptions of held-out text, scored identically for both.
    probe_set = make_probe_set(probe_batch(probe_files), config, replacement_ids=tokenizer.ordinary_ids,
                               seed=args.seed)
    probes = {"ours": ours_probe(DiscriminatorProbe(probe_set)),
              "reference": lambda model: reference_probe(model, probe_set)}

    keras.utils.set_random_seed(args.seed)
    torch.manual_seed(args.seed)  # the reference's init and dropout
    draws = torch.Generator().manual_seed(args.seed)  # the reference's masking and sampling
    models = {"ours": build_ours(config, args, BATCH_SIZE, SEQ_LEN), "reference": build_reference(len(tokenizer),
                                                                                                  special)}
    optimizer = OriginalAdamW(models["reference"].named_parameters())
    parameters = {"ours": int(sum(np.prod(v.shape) for v in models["ours"].trainable_variables)),
                  "reference": int(sum(p.numel() for p in models["reference"].parameters()))}
    print(f"shards: {shards} (train {len(train_files)}, probe {os.path.basename(probe_files[0])}); "
          f"vocabulary {len(tokenizer)}; parameters ours {parameters['ours']:,}, reference {parameters['reference']:,}; "
          f"backend {keras.backend.backend()}", flush=True)

    initial_probe = {side: probes[side](models[side]) for side in IMPLS}
    print("probe at step 0: " + "; ".join(
        f"{side} random {fmt(p['probe_auc_random'])} generator {fmt(p['probe_auc_generator'])}"
        for side, p in initial_probe.items()), flush=True)

    batches = iter(pretraining_dataset(train_files, BATCH_SIZE, SEQ_LEN, seed=args.seed))
    steps = {"ours": lambda batch, step, lr: ours_step(models["ours"], batch),
             "reference": lambda batch, step, lr: reference_step(models["reference"], optimizer, batch, lr,
                                                                 special, draws)}
    rows, interval = [], {side: [] for side in IMPLS}
    times, cpu_times = {side: [] for side in IMPLS}, {side: [] for side in IMPLS}
    progress = progress_bar(args.steps)
    say = progress.write if progress else print
    say(console_header())
    for step in range(args.steps):
        batch = numpy_batch(next(batches))  # the same arrays for both
        lrs = {"ours": float(keras.ops.convert_to_numpy(models["ours"].optimizer.learning_rate)),
               "reference": reference_learning_rate(step, args.learning_rate, args.warmup_steps, args.steps)}
        for side in IMPLS:
            # CPU time too: on shared cores the wall clock mostly measures the neighbours.
            wall, cpu = time.perf_counter(), time.process_time()
            interval[side].append(steps[side](batch, step, lrs[side]))
            times[side].append(time.perf_counter() - wall)
            cpu_times[side].append(time.process_time() - cpu)
        if progress:
            progress.update(1)

        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            n = len(interval["ours"])
            row = {"step": done, "interval": n, "lr": lrs,  # lr of the interval's last update
                   "seconds_per_step": {side: float(np.mean(times[side][-n:])) for side in IMPLS},
                   "cpu_seconds_per_step": {side: float(np.mean(cpu_times[side][-n:])) for side in IMPLS}}
            for side in IMPLS:
                row[side] = {**interval_metrics(interval[side]), **probes[side](models[side])}
                interval[side] = []
            rows.append(row)
            say(console_row(row))
    if progress:
        progress.close()

    gaps = largest_gaps(rows, args.warmup_steps)
    print(f"\nlargest |ours - reference| over intervals starting at or after step {args.warmup_steps}:")
    for metric, gap in gaps.items():
        print(f"  {metric:>20}: " + ("n/a (no interval after warmup)" if gap is None else
                                      f"{gap['max_abs_gap']:.4f} at step {gap['at_step']} "
                                      f"(mean ours - ref {gap['mean_diff']:+.4f} over {gap['intervals']})"))
    # Medians without the first step (tracing, allocation).
    seconds = {side: float(np.median(times[side][1:] or times[side])) for side in IMPLS}
    cpu_seconds = {side: float(np.median(cpu_times[side][1:] or cpu_times[side])) for side in IMPLS}
    print("per step (median, first excluded): " + ", ".join(
        f"{s} {seconds[s]:.3f} s wall, {cpu_seconds[s]:.3f} s CPU" for s in IMPLS))

    command = " ".join(filter(None, [f"KERAS_BACKEND={keras.backend.backend()}",
                                     "python benchmarks/learning_parity.py", shlex.join(sys.argv[1:] if argv is None
                                                                                       else argv)]))
    result = {
        "command": command,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "versions": versions(),
        "args": vars(args),
        "shards": shards,
        "train_files": train_files,
        "probe_files": probe_files,
        "vocabulary_size": len(tokenizer),
        "parameters": parameters,
        "seconds_per_step": seconds,
        "cpu_seconds_per_step": cpu_seconds,
        "initial_probe": initial_probe,
        "intervals": rows,
        "gaps": gaps,
    }
    stem = write_report(args, result)
    print(f"wrote {stem}.md, {stem}.json, {stem}.png")


if __name__ == "__main__":
    main()
