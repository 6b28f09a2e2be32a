"""Pretraining runs: data preparation, `model.fit`, checkpoints, resume, logs and the final save.

A run lives in one directory, ``<output_dir>/<run_name>/``:

    checkpoints/ckpt-<step>.npz   weights, optimizer state and RNG state (atomic writes)
    checkpoints/latest.json       the newest whole checkpoint
    metrics.csv, logs/            per-interval metrics (CSV and TensorBoard, x-axis = step)
    training.png                  loss and discriminator metrics against step
    recipe.json, config.json      what ran
    vocab.txt, tokenizer_config.json
    discriminator.keras, backbone.keras, pretrainer.keras   at the end

Resuming restores the weights, optimizer state, step and the random generators' state, and
the data position: the input pipeline is deterministic for a seed, so the run continues with
batch number `step` (`pretraining_dataset(skip_batches=step)`). A resumed run therefore ends
with the weights of an uninterrupted one.

Checkpoints are written every `train.checkpoint_every` steps and when the process gets SIGTERM
(a preempted VM or a cluster scheduler): the step in progress finishes, a checkpoint of it is
written, and `pretrain` raises `Preempted`. A loss that turns NaN or infinite stops the run
with the step and the last good checkpoint named.

With several replicas (`train.strategy`, see `electra_keras.distribute`) the model is built,
compiled and trained inside the strategy's scope; only the chief process (worker 0) writes the
run directory, and every worker resumes from it.
"""

import contextlib
import datetime
import hashlib
import json
import os

import keras
import numpy as np

from electra_keras import distribute, word_vectors
from electra_keras.atomic import NoSpaceLeft, atomic_json, atomic_text, is_disk_full
from electra_keras.cache import default_cache_dir
from electra_keras.checkpoints import CHECKPOINT_DIR, LATEST, latest_checkpoint, restore_checkpoint, save_checkpoint  # noqa: F401
from electra_keras.convert.native import save_models
from electra_keras.data import corpora
from electra_keras.data.build import build_pretraining_data, format_summary
from electra_keras.data.pretraining import first_examples, list_shards, pretraining_dataset, read_data_info, verify_shards
from electra_keras.data.text import find_text_files, read_as
from electra_keras.data.tokenizer import VocabularySample, WordPieceTokenizer, build_vocab, load_tokenizer
from electra_keras.monitor import Preempted, Preemption, RunMonitor, plot_metrics, read_metrics  # noqa: F401
from electra_keras.progress import StepProgress
from electra_keras.run_lock import LOCK_FILE, RunLock, describe

HOW_IT_RUNS = ("strategy", "jit_compile", "steps_per_execution")  # may change when a run resumes
PLOTTED = ("loss", "mlm_loss", "disc_loss", "mlm_accuracy", "sampled_accuracy", "disc_accuracy",
           "disc_precision", "disc_recall", "disc_auc", "eval_auc_generator", "eval_auc_random", "eval_auc_frequency",
           "learning_rate")


# ---- data --------------------------------------------------------------------------------------


def prepare_data(data, seed=0, cache_dir=None, verbose=True, build=True):
    """Shards and tokenizer for a recipe's [data] section; returns (shard_dir, tokenizer, info).

    With `data.shards`, that build-data directory is used as is. Otherwise the corpus is
    turned into shards once, under the cache directory, keyed by the corpus files (paths and
    sizes) and every setting that changes the shards; a later run reuses them. `build=False`
    (the other workers of a cluster) expects them built already.
    """
    if data.shards:
        info = read_data_info(data.shards)
        list_shards(data.shards)  # a clear error when there are none
        return data.shards, WordPieceTokenizer.from_directory(data.shards), info
    cache_dir = cache_dir or default_cache_dir()
    if not data.corpus:
        raise ValueError("data.corpus is empty: give text files (--corpus FILES) or data.shards")
    files = find_text_files(corpora.resolve_corpus(data.corpus, os.path.join(cache_dir, "corpora")))
    read = dict(text_field=data.text_field, encoding_errors=data.encoding_errors, text_format=data.text_format,
                document_separator=data.document_separator)
    sample = None if data.vocab else VocabularySample(files, data.vocab_sample_mb, seed, **read)
    key = json.dumps(
        [[os.path.abspath(f), os.path.getsize(f), read_as(f, data.text_format)] for f in files]
        + [data.vocab and os.path.abspath(data.vocab), data.vocab_size, data.lower_case,
           data.strip_accents, data.seq_len, data.shard_size_mb, data.text_field,
           data.encoding_errors, data.text_format, data.document_separator, seed]
        + ([data.vocab_sample_mb] if sample and sample.sampled else [])  # a whole corpus: the key it had
    )
    name = "-".join(os.path.splitext(os.path.basename(f))[0] for f in files[:2])
    shard_dir = os.path.join(cache_dir, "data", f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}")
    info = read_data_info(shard_dir)
    if info is not None:
        if verbose:
            print(f"data: {shard_dir} (built before): {format_summary(info['summary'])}")
        return shard_dir, WordPieceTokenizer.from_directory(shard_dir), info

    if not build:
        raise ValueError(f"{shard_dir}: the shards are not built; with several workers, build them first "
                         f"(electra-keras build-data, then data.shards) or run the recipe once on one machine")
    if data.vocab:
        tokenizer = load_tokenizer(data.vocab, data.lower_case, data.strip_accents)
    else:
        tokenizer = build_vocab(sample, data.vocab_size, data.lower_case, data.strip_accents)
        if verbose:
            print(f"vocab: {len(tokenizer):,} WordPieces learnt from {sample.describe()} in {len(files)} file(s)",
                  flush=True)
    build_pretraining_data(files, tokenizer, shard_dir, seq_len=data.seq_len, seed=seed,
                           shard_size_mb=data.shard_size_mb, progress=verbose, **read)
    return shard_dir, tokenizer, read_data_info(shard_dir)


def held_out_per_shard(num_shards, probe_examples):
    """How many examples the probe holds out of each shard: ceil(probe_examples / shards).

    Shards are cut from the corpus in file order, so a whole shard held out would be the end of
    the last file, and with several files (a small one last) a different kind of text than the
    run trains on. The first examples of every shard (shuffled when built) are a sample of all
    of it. With one shard nothing is held out: the probe reads examples the run trains on.
    """
    if not probe_examples or num_shards < 2:
        return 0
    return -(-probe_examples // num_shards)


def make_probe(files, config, tokenizer, examples, seq_len, seed=0, counts=None):
    """A `DiscriminatorProbe` over `examples` examples, the first of every shard of `files`
    (`held_out_per_shard`); with `counts` (the training data's `token_counts`), replacements
    drawn by frequency too."""
    from electra_keras.probe import DiscriminatorProbe, make_probe_set

    per_shard = held_out_per_shard(len(files), examples) or examples
    batch = {k: v[:examples] for k, v in first_examples(files, per_shard, seq_len).items()}
    return DiscriminatorProbe(make_probe_set(batch, config, replacement_ids=tokenizer.ordinary_ids, seed=seed,
                                             token_counts=counts))


FREQUENCY_EXAMPLES = 4096


def token_counts(files, vocab_size, seq_len, examples=FREQUENCY_EXAMPLES, skip_examples=0):
    """(vocab_size,) occurrences of each id in the first `examples` training examples of `files`
    (fewer if short), those held out for the probe (`skip_examples` of every shard) left out."""
    counts = np.zeros(vocab_size, "int64")
    first = pretraining_dataset(files, 1, seq_len, shuffle=False, repeat=False,
                                skip_examples=skip_examples).take(examples)
    for batch in first.unbatch().batch(256):  # the last batch may be short: every example counts
        ids, mask = batch["token_ids"].numpy(), batch["padding_mask"].numpy()
        counts += np.bincount(ids[mask > 0], minlength=vocab_size)[:vocab_size]
    return counts


# ---- monitoring --------------------------------------------------------------------------------


# ---- the run -----------------------------------------------------------------------------------


def pretrain(recipe, output_dir="saved_models", run_name=None, cache_dir=None, overwrite=False,
             verbose=1, callbacks=(), resume=False, demo=True):
    """Run a recipe end to end (or resume it); returns the run directory.

    The run directory is ``output_dir/run_name``; if it holds a checkpoint of the same recipe
    the run resumes from it, a different recipe there is an error (or `overwrite=True`).
    `resume=True` without a run name picks the newest unfinished run of this recipe in
    `output_dir`. `callbacks` are extra Keras callbacks; one Keras epoch is `train.log_every`
    steps. Raises `Preempted` after checkpointing when the process gets SIGTERM. With `verbose`
    and `demo`, an ELECTRA run ends by showing its discriminator on two held-out sentences with
    one word swapped (`electra_keras.detection.print_demo`).
    """
    train = recipe.train
    # First: a multi-worker strategy has to exist before TensorFlow runs anything.
    dist = distribute.resolve(train.strategy)
    if resume and not run_name:
        run_name = _latest_unfinished_run(output_dir, recipe.name)
    if not run_name and dist.num_workers > 1:
        raise ValueError(f"strategy {dist.name!r} with {dist.num_workers} workers: give every worker "
                         f"the same --run-name")
    run_name = run_name or f"{recipe.name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    run_dir = os.path.join(output_dir, run_name)
    if resume and latest_checkpoint(os.path.join(run_dir, CHECKPOINT_DIR))[0] is None:
        raise ValueError(f"--resume: {run_dir} has no checkpoint to resume from")
    say = print if verbose and dist.is_chief else (lambda *a, **k: None)
    # The chief alone writes the run directory, and holds its lock while it does.
    with RunLock(run_dir) if dist.is_chief else contextlib.nullcontext() as lock:
        if lock is not None and lock.took_over:
            say(f"run directory: took over the lock of a run that ended without releasing it "
                f"({describe(lock.took_over)})")
        try:
            return _pretrain_in(run_dir, run_name, recipe, dist, say, cache_dir, overwrite, verbose, callbacks, demo)
        except Exception as error:
            if not is_disk_full(error):
                raise
            _, step = latest_checkpoint(os.path.join(run_dir, CHECKPOINT_DIR))
            where = (f"step {step} in {os.path.join(run_dir, CHECKPOINT_DIR)}" if step is not None
                     else "none yet, so the run starts again")
            path = getattr(error, "path", None) or getattr(error, "filename", None) or run_dir
            raise NoSpaceLeft(path, f"{path}: no space left on the device; the last whole checkpoint is {where}; "
                                    f"free some space, then rerun the same command with --run-name {run_name} "
                                    f"to resume") from error


def _pretrain_in(run_dir, run_name, recipe, dist, say, cache_dir, overwrite, verbose, callbacks, demo):
    """The run itself, in its (locked) run directory."""
    from electra_keras.models import ElectraPretrainer
    from electra_keras.optimizers import electra_adamw

    train, data = recipe.train, recipe.data
    _check_run_dir(run_dir, recipe, overwrite and dist.is_chief)
    say(f"run directory: {run_dir} (rerun with --run-name {run_name} to resume after a crash)")

    shard_dir, tokenizer, info = prepare_data(data, seed=train.seed, cache_dir=cache_dir, verbose=bool(verbose),
                                              build=dist.is_chief)
    files = list_shards(shard_dir)
    verify_shards(files, data.seq_len)
    held_out = held_out_per_shard(len(files), train.probe_examples)
    ids = {k: v for k, v in tokenizer.special_ids.items() if k != "unk_token_id"}
    config = recipe.model_config(vocabulary_size=len(tokenizer), sequence_length=data.seq_len, **ids)
    dist.per_replica_batch(train.batch_size)  # a clear error before anything is written
    checkpoint, step = latest_checkpoint(os.path.join(run_dir, CHECKPOINT_DIR))
    vectors = None  # a resumed run has its token table in its checkpoint
    if train.token_table != "random" and checkpoint is None:
        vectors = _counted_vectors(config, files, tokenizer, data.seq_len, held_out, train.token_table, say)
    if dist.is_chief:
        tokenizer.save(run_dir)
        atomic_json(recipe.to_dict(), os.path.join(run_dir, "recipe.json"))
        atomic_text(config.to_json(), os.path.join(run_dir, "config.json"))

    keras.utils.set_random_seed(train.seed)
    keras.config.set_dtype_policy(train.dtype)
    with dist.scope():
        model = ElectraPretrainer(config, seed=train.seed, freeze_token_table=train.token_table == "counted_frozen")
        if vectors is not None:
            word_vectors.set_token_table(model, vectors)
        optimizer = electra_adamw(train.learning_rate, warmup_steps=train.warmup_steps,
                                  total_steps=train.steps, weight_decay=train.weight_decay)
        model.compile(optimizer=optimizer, steps_per_execution=train.steps_per_execution,
                      jit_compile={"true": True, "false": False}.get(train.jit_compile, "auto"))
    torch_rng = None
    if checkpoint:
        torch_rng = restore_checkpoint(checkpoint, model)
        say(f"resuming from step {step} ({checkpoint})")
    examples = info["summary"]["examples"] if info else None
    say(f"model: {config.num_layers} layers, hidden {config.hidden_dim}, vocab {config.vocabulary_size:,}; "
        f"{model.backbone.count_params():,} discriminator parameters; backend {keras.backend.backend()}, "
        f"{train.dtype}, strategy {dist.describe()}")
    if examples:
        say(f"training: {train.steps} steps of {train.batch_size} x {data.seq_len} = "
            f"{train.steps * train.batch_size / examples:.1f} epochs of {examples:,} examples", flush=True)

    def batches(skip):
        return dist.distribute_dataset(
            lambda: pretraining_dataset(files, train.batch_size, data.seq_len, seed=train.seed,
                                        shuffle_buffer=data.shuffle_buffer, skip_batches=skip,
                                        skip_examples=held_out),
            train.batch_size)

    probe = None
    # A probe of its own on the chief would run collectives the other workers never join.
    if train.probe_examples and config.objective == "electra" and dist.num_workers == 1:
        probe = make_probe(files, config, tokenizer, train.probe_examples, data.seq_len, seed=train.seed,
                           counts=token_counts(files, len(tokenizer), data.seq_len, skip_examples=held_out))
        where = (f"the first {held_out} of each of the {len(files)} shards, held out" if held_out
                 else "also trained on: the data has one shard")
        say(f"probe: {train.probe_examples} examples ({where}), scored every {train.log_every} steps")
    monitor = RunMonitor(run_dir, train.log_every, train.checkpoint_every, train.keep_checkpoints,
                         step=step, total_steps=train.steps, torch_rng=torch_rng, chief=dist.is_chief,
                         preemption=Preemption(), probe=probe)
    shown = [StepProgress(train.steps, step)] if verbose and dist.is_chief else []
    fit = dict(callbacks=[monitor, *callbacks, *shown], shuffle=False, verbose=0)
    with monitor.preemption, dist.scope():
        # Intervals of log_every steps (Keras epochs); when log_every does not divide the steps,
        # a last shorter one, so the last step is always logged and checkpointed.
        whole = train.steps - train.steps % train.log_every
        if step < train.steps and step % train.log_every:  # stopped inside an interval: finish it
            end = min(step - step % train.log_every + train.log_every, train.steps)
            model.fit(batches(step), epochs=1, steps_per_epoch=end - step, **fit)
            step = monitor.step
        if step < whole and not monitor.preempted_at:
            model.fit(batches(step), epochs=whole // train.log_every, initial_epoch=step // train.log_every,
                      steps_per_epoch=train.log_every, **fit)
            step = monitor.step
        if step < train.steps and not monitor.preempted_at:
            model.fit(batches(step), epochs=1, steps_per_epoch=train.steps - step, **fit)
    if monitor.preempted_at:
        say(f"SIGTERM: stopped after step {monitor.preempted_at} and wrote its checkpoint to "
            f"{run_dir}/{CHECKPOINT_DIR}; rerun the same command to resume")
        raise Preempted(f"stopped by SIGTERM after step {monitor.preempted_at}; {run_dir} resumes from it")
    if not dist.is_chief:
        return run_dir
    save_models(model, run_dir)
    plot_metrics(os.path.join(run_dir, "metrics.csv"), os.path.join(run_dir, "training.png"))
    last = read_metrics(os.path.join(run_dir, "metrics.csv"))
    if last:
        shown = {k: round(v, 4) for k, v in last[-1].items() if k in PLOTTED}
        say(f"step {last[-1]['step']}: {shown}")
        if "eval_auc_random" in last[-1]:
            say(f"held-out discriminator AUC: {last[-1]['eval_auc_random']:.3f} against random replacements, "
                f"{last[-1].get('eval_auc_frequency', float('nan')):.3f} against replacements as frequent as "
                f"the words they replace, {last[-1]['eval_auc_generator']:.3f} against the generator's samples; "
                f"recall on the last training batches {last[-1].get('disc_recall', float('nan')):.3f}")
    say(f"saved the discriminator, backbone and pretrainer with vocab and config to {run_dir}/ "
        f"(metrics.csv, training.png, TensorBoard logs/ beside them)")
    if probe is not None and verbose and demo:
        import sys

        from electra_keras.detection import print_demo

        print_demo(model.discriminator, tokenizer, probe.probe_set.token_ids, color=sys.stdout.isatty(),
                   seed=train.seed)
    say("next:\n"
        f"  electra-keras detect --model {run_dir} \"the cat sat on the river.\"\n"
        f"  electra-keras finetune --model {run_dir} --task custom --train train.csv --dev dev.csv "
        f"--text-columns text\n"
        f"  electra-keras export --model {run_dir} --format onnx")
    return run_dir


def _counted_vectors(config, files, tokenizer, seq_len, held_out, token_table, say):
    """`train.token_table` "counted" or "counted_frozen": word vectors counted from the training
    examples, as wide as the widest token table (the generator's, when it has its own)."""
    dims = max(config.embedding_dim, config.generator_sizes()["embedding_dim"])
    vectors, tokens = word_vectors.count_vectors(files, tokenizer, dims, seq_len, skip_examples=held_out)
    say(f"token table: word vectors counted from {tokens:,} training tokens (positive PMI within "
        f"{word_vectors.WINDOW} pieces, SVD to {dims} dimensions)"
        + (", held there for the whole run" if token_table == "counted_frozen" else ""), flush=True)
    return vectors


def _latest_unfinished_run(output_dir, recipe_name):
    """The newest run directory of `recipe_name` under `output_dir` with a checkpoint and no
    final model: what `--resume` without `--run-name` continues."""
    candidates = []
    for name in os.listdir(output_dir) if os.path.isdir(output_dir) else ():
        run_dir = os.path.join(output_dir, name)
        if name.startswith(f"{recipe_name}-") and os.path.exists(os.path.join(run_dir, CHECKPOINT_DIR, LATEST)) \
                and not os.path.exists(os.path.join(run_dir, "pretrainer.keras")):
            candidates.append((os.path.getmtime(os.path.join(run_dir, CHECKPOINT_DIR, LATEST)), name))
    if not candidates:
        raise ValueError(f"--resume: no unfinished run of recipe {recipe_name!r} with a checkpoint in {output_dir}")
    return max(candidates)[1]


# Recipe fields added after runs were written: a run's recipe.json without one had its default.
NEW_FIELD_DEFAULTS = {"data": {"vocab_sample_mb": 100.0}}


def _check_run_dir(run_dir, recipe, overwrite):
    """A run directory may hold a run of this recipe only (resumed); `overwrite` empties it."""
    import shutil

    recipe_path = os.path.join(run_dir, "recipe.json")
    if os.path.exists(recipe_path) and not overwrite:
        with open(recipe_path) as f:
            previous = json.load(f)
        current = json.loads(json.dumps(recipe.to_dict()))
        for section in current:
            for key in sorted(set(current[section]) | set(previous.get(section, {}))):
                if section == "train" and key in HOW_IT_RUNS:
                    continue  # the same run, resumed on other hardware
                before = previous.get(section, {}).get(key, NEW_FIELD_DEFAULTS.get(section, {}).get(key))
                if before != current[section].get(key):
                    raise ValueError(
                        f"{run_dir} holds a run of another recipe ({section}.{key}: "
                        f"{before!r} there, {current[section].get(key)!r} now); "
                        f"pick another --run-name, or pass --overwrite to start it again"
                    )
    elif overwrite and os.path.isdir(run_dir):
        for name in os.listdir(run_dir):  # all but the lock this process holds
            path = os.path.join(run_dir, name)
            if name != LOCK_FILE:
                shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)


__all__ = ["pretrain", "Preempted", "prepare_data", "save_checkpoint", "restore_checkpoint", "latest_checkpoint",
           "plot_metrics", "read_metrics", "RunMonitor"]
