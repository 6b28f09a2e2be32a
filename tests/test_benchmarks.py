"""The step benchmark's own arithmetic: its batches, its job list, MFU, the peer ratios and the matmuls alone."""

import json
import os
import sys

import keras
import numpy as np
import pytest

from electra_keras.config import ElectraConfig
from electra_keras.flops import pretraining_flops_per_step, pretraining_matmuls

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import pretrain_step  # noqa: E402


def test_packed_batches_look_like_the_data_builder_output():
    config = pretrain_step.make_config("tiny", 1000, 32)
    data = pretrain_step.packed_batches(config, batch_size=4, seq_len=32, num_batches=2)
    ids, segments = data["token_ids"], data["segment_ids"]
    assert ids.shape == (8, 32) and data["padding_mask"].min() == 1
    assert (ids[:, 0] == config.cls_token_id).all() and (ids[:, -1] == config.sep_token_id).all()
    for row, seg in zip(ids, segments):
        first_sep = int(np.argmax(row == config.sep_token_id))
        assert 8 <= first_sep < 24  # segment A ends in the middle half
        np.testing.assert_array_equal(seg, (np.arange(32) > first_sep).astype("int32"))
        body = np.delete(row, [0, first_sep, 31])
        assert not np.isin(body, [config.pad_token_id, config.cls_token_id, config.sep_token_id,
                                  config.mask_token_id]).any()


def test_mfu_and_peer_ratios():
    args = pretrain_step.parse_args(["--batch-size", "4", "--seq-len", "10"])
    results = [
        dict(kind="hf", precision="float32", ms_per_step=800.0),
        dict(kind="hf", precision="mixed_bfloat16", ms_per_step=400.0),
        dict(kind="ours", precision="float32", ms_per_step=500.0),
        dict(kind="ours", precision="mixed_bfloat16", ms_per_step=250.0),
        dict(kind="ours", precision="float32", error="timed out"),
    ]
    pretrain_step.add_derived(results, args, flops_per_step=100e9, peaks={"float32": 400e9, "bfloat16": 800e9})
    ours32, ours16 = results[2], results[3]
    assert ours32["mfu"] == 100e9 / 0.5 / 400e9 == 0.5
    assert ours16["mfu"] == 100e9 / 0.25 / 800e9 == 0.5
    assert ours32["vs_best_peer"] == 800 / 500 and ours32["vs_best_peer_any"] == 400 / 500
    assert ours16["vs_best_peer"] == ours16["vs_best_peer_any"] == 400 / 250
    assert ours32["tokens_per_second"] == 40 / 0.5
    assert "mfu" not in results[4]  # a failed configuration gets no numbers
    table = "\n".join(pretrain_step.markdown_table([{**r, "peak_rss_mb": 1024, "cpu_seconds_per_step": 1.0,
                                                     "label": "x", "load_average": [1.0]} for r in results]))
    assert "| 250 | 4.00 | 160 | 50.0% |" in table and "failed: timed out" in table


def test_matmul_peak_is_the_best_framework_per_dtype():
    results = [dict(kind="gemm", gemm={"float32": {"1024": 4e11, "2048": 5e11}, "bfloat16": {"1024": 8e11}}),
               dict(kind="gemm", gemm={"float32": {"1024": 2e11}, "bfloat16": {"1024": 9e11}})]
    assert pretrain_step.matmul_peaks(results) == {"float32": 5e11, "bfloat16": 9e11}


def test_a_gpu_run_leaves_tensorflow_out_and_runs_true_float32():
    config = pretrain_step.make_config("tiny", 1000, 32)
    args = pretrain_step.parse_args(["--device", "cuda", "--peer-compile", "false", "--precisions", "float32"])
    jobs = pretrain_step.jobs_from_args(args, config)
    assert {j["framework"] for j in jobs if j["kind"] == "gemm"} == {"jax", "torch"}
    ours = [j for j in jobs if j["kind"] == "ours"]
    assert [j["backend"] for j in ours] == ["jax", "torch"] and all(j["device"] == "cuda" for j in jobs)
    env = pretrain_step.worker_env(args, ours[0])
    assert env["KERAS_BACKEND"] == "jax" and env["JAX_DEFAULT_MATMUL_PRECISION"] == "highest"


@pytest.mark.parametrize("sharing", ["embeddings", "none", "all"])
def test_step_flops_counted_by_hand(sharing):
    """Tiny: E 64, H 128, F 512, 2 layers; its generator H 32, F 128, 2 layers. An untied
    generator ("none") has embeddings of its own width: no projection, a 32-wide MLM head."""
    config = ElectraConfig.from_preset("tiny", vocabulary_size=1000, weight_sharing=sharing,
                                       **({"generator_hidden_fraction": 1.0} if sharing == "all" else {}))
    batch, seq = 2, 16
    tokens, masked = batch * seq, batch * config.max_predictions(seq)

    def layer(h, f):  # query/key/value, output, feed-forward; attention scores and values
        return tokens * (3 * h * h + h * h + 2 * h * f) + 2 * batch * seq * seq * h

    disc = 2 * layer(128, 512) + tokens * 64 * 128 + tokens * (128 * 128 + 128)
    if sharing == "all":  # one encoder, run as the generator and again as the discriminator
        gen = 2 * layer(128, 512) + tokens * 64 * 128 + masked * (128 * 64 + 64 * 1000)
    elif sharing == "none":
        gen = 2 * layer(32, 128) + masked * (32 * 32 + 32 * 1000)
    else:
        gen = 2 * layer(32, 128) + tokens * 64 * 32 + masked * (32 * 64 + 64 * 1000)
    assert pretraining_flops_per_step(config, batch, seq) == 6 * (gen + disc)
    mlm = config.replace(objective="mlm")
    assert pretraining_flops_per_step(mlm, batch, seq) == 6 * (disc - tokens * (128 * 128 + 128)
                                                              + masked * (128 * 64 + 64 * 1000))
    products = pretraining_matmuls(ElectraConfig.from_preset("small"), batch_size=8, seq_len=64)
    h = 256  # ELECTRA-Small's discriminator: its query, key and value; its attention scores
    assert (12, 1, 8 * 64, h, 3 * h) in products and (12, 8 * 4, 64, 64, 64) in products


def test_step_matmuls_function_runs_the_forward_and_both_backward_products():
    framework = keras.backend.backend()
    products = [(2, 1, 5, 4, 3), (1, 2, 6, 3, 4)]
    got = float(np.asarray(pretrain_step.step_matmuls_function(framework, "float32", products)()))
    rng, expected = np.random.default_rng(0), 0.0
    for repeats, b, m, k, n in products:
        for _ in range(repeats):
            shape = (lambda *dims: dims) if b == 1 else (lambda *dims: (b, *dims))
            x, w, dy = (rng.standard_normal(shape(*dims), dtype="float32") for dims in ((m, k), (k, n), (m, n)))
            for c in (x @ w, dy @ np.swapaxes(w, -1, -2), np.swapaxes(x, -1, -2) @ dy):
                expected += c.reshape(-1)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_step_matmul_table_gives_the_mfu_ceiling():
    results = [dict(kind="gemm", framework="tensorflow", step_matmul_seconds={"float32": 0.5, "bfloat16": 0.2})]
    table = "\n".join(pretrain_step.step_matmul_table(results, 100e9, {"float32": 400e9, "bfloat16": 1000e9}))
    assert "| TensorFlow | float32 | 500 | 200 | 50% |" in table
    assert "| TensorFlow | bfloat16 | 200 | 500 | 50% |" in table


import electra_vs_mlm  # noqa: E402


def test_logistic_regression_is_the_penalised_optimum():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 5))
    y = (x @ np.array([2.0, -1.0, 0.0, 0.5, 0.0]) + 0.3 + 0.5 * rng.standard_normal(400) > 0).astype(float)
    w, b = electra_vs_mlm.logistic_regression(x, y, l2=1e-2)
    p = 1 / (1 + np.exp(-(x @ w + b)))
    # The gradient of mean log-loss + (l2 / 2) |w|^2 (bias unpenalised) vanishes at the solution.
    np.testing.assert_allclose(x.T @ (p - y) / len(y) + 1e-2 * w, 0, atol=1e-8)
    assert abs(np.mean(p - y)) < 1e-8
    assert np.mean((p > 0.5) == y) > 0.85 and w[0] > 1 and w[1] < -0.4


def test_mean_features_average_the_real_tokens_only():
    class Backbone:
        def predict(self, inputs, batch_size, verbose):
            ids = inputs["token_ids"].astype("float32")
            return np.stack([ids, 10 * ids], axis=-1)  # (examples, seq, 2)

    encoded = {"token_ids": np.array([[1, 2, 3, 0], [4, 0, 0, 0]]),
               "padding_mask": np.array([[1, 1, 1, 0], [1, 0, 0, 0]])}
    np.testing.assert_allclose(electra_vs_mlm.mean_features(Backbone(), encoded), [[2, 20], [4, 40]])


def test_the_few_label_report_has_a_row_per_encoder_and_a_column_per_size(tmp_path, monkeypatch):
    args = electra_vs_mlm.parse_args(["--out", str(tmp_path), "--name", "r", "--train-sizes", "500", "all"])
    monkeypatch.delitem(electra_vs_mlm.TASKS, "boolq")
    results = [dict(method=m, objective=o, step=s, flops=s * 1e10, task="rotten_tomatoes", size=n, seed=seed,
                    accuracy=acc + 0.01 * seed)
               for m in ("finetune", "probe") for o, s, acc in (("none", 0, 0.6), ("electra", 100, 0.7))
               for n in ("500", "all") for seed in ((0, 1, 2) if m == "finetune" else (0,))]
    table = electra_vs_mlm.summarize(results)
    assert table[("finetune", "rotten_tomatoes", "500", "electra", 100)]["mean"] == pytest.approx(0.71)
    assert table[("finetune", "rotten_tomatoes", "500", "electra", 100)]["stdev"] == pytest.approx(0.01)
    pretraining = {"electra": dict(step=100, seconds=60, mlm_loss=5.0, mlm_accuracy=0.2, eval_auc_random=0.9,
                                   eval_auc_generator=0.6)}
    electra_vs_mlm.write_report(args, table, "cmd", pretraining, 30)
    md = open(tmp_path / "r.md").read()
    assert "| electra | 100 | 1 | 71.0 ± 1.0 | 71.0 ± 1.0 |" in md
    assert "| none | 0 | 0 | 61.0 ± 1.0 | 61.0 ± 1.0 |" in md and "| electra | 100 | 1 | 70.0 | 70.0 |" in md
    assert os.path.exists(tmp_path / "r.png")
    assert "head fitted first" not in md  # a table only for the ways of fine-tuning that ran

    head_first = electra_vs_mlm.fine_tuning_method("cls", head_first=True)
    assert (head_first, electra_vs_mlm.fine_tuning_method("mean", False)) == ("finetune_head_first", "finetune_mean")
    table = electra_vs_mlm.summarize(results + [{**r, "method": head_first, "accuracy": r["accuracy"] + 0.05}
                                                for r in results if r["method"] == "finetune"])
    electra_vs_mlm.write_report(args, table, "cmd", pretraining, 30)
    md = open(tmp_path / "r.md").read()
    assert "**rotten_tomatoes, head fitted first, then fine-tuned on [CLS], dev accuracy" in md
    assert "| electra | 100 | 1 | 76.0 ± 1.0 | 76.0 ± 1.0 |" in md


import transfer_parts  # noqa: E402


def test_taking_an_encoder_apart_copies_exactly_the_chosen_weights():
    from electra_keras.models import ElectraBackbone

    config = ElectraConfig.from_preset("tiny", vocabulary_size=200, num_layers=1, dropout=0.0)
    keras.utils.set_random_seed(1)
    pretrained = ElectraBackbone.from_electra_config(config)
    keras.utils.set_random_seed(2)
    random = ElectraBackbone.from_electra_config(config)
    before = {w.path: keras.ops.convert_to_numpy(w.value) for w in random.weights}
    mixed = transfer_parts.mix(pretrained, random, transfer_parts.VARIANTS["all but the token table"])
    source = {w.path: keras.ops.convert_to_numpy(w.value) for w in pretrained.weights}
    for w in mixed.weights:
        expected = before[w.path] if w.path == "embeddings/token_embedding/embeddings" else source[w.path]
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(w.value), expected, err_msg=w.path)
    assert not np.array_equal(before["embeddings/token_embedding/embeddings"],
                              source["embeddings/token_embedding/embeddings"])
    other = ElectraBackbone.from_electra_config(config.replace(hidden_dim=64, intermediate_dim=128))
    with pytest.raises(ValueError, match="the two encoders differ"):
        transfer_parts.mix(pretrained, other, transfer_parts.VARIANTS["pretrained"])


def test_the_parts_report_averages_seeds_per_epoch(tmp_path):
    histories = {"random": [[{"epoch": 0, "train_loss": 0.6, "accuracy": 0.60},
                             {"epoch": 1, "train_loss": 0.2, "accuracy": 0.64}],
                            [{"epoch": 0, "train_loss": 0.8, "accuracy": 0.62},
                             {"epoch": 1, "train_loss": 0.4, "accuracy": 0.68}]]}
    table = transfer_parts.summarize(histories)
    assert table["random"]["final"] == pytest.approx((66.0, 2 ** 0.5 * 2))
    np.testing.assert_allclose(table["random"]["epochs"], [(0.7, 61.0), (0.3, 66.0)])
    args = transfer_parts.parse_args(["--work", "w", "--step", "7", "--out", str(tmp_path), "--name", "p"])
    transfer_parts.write_report(args, table, "cmd")
    assert "| random | 66.0 ± 2.8 | 0.700 / 61.0 | 0.300 / 66.0 |" in open(tmp_path / "p.md").read()
    assert os.path.exists(tmp_path / "p.png")


import count_vectors  # noqa: E402


def test_bag_of_pieces_marks_presence_once():
    bags = count_vectors.bag_of_pieces([[3, 1, 3], [2]], 4).toarray()
    np.testing.assert_array_equal(bags, [[0, 1, 0, 1], [0, 0, 1, 0]])


def test_feature_sets_give_each_text_its_own_mean_vectors_beside_the_bag():
    train, dev = [[1, 2], [3]], [[2, 2, 3]]
    tables = {"a": np.arange(8.0).reshape(4, 2), "b": -np.arange(4.0)[:, None]}
    sets = count_vectors.feature_sets(train, dev, tables, 4)
    assert list(sets) == ["bag of pieces", "count vectors from a", "bag of pieces + count vectors from a",
                          "count vectors from b", "bag of pieces + count vectors from b"]
    # means of rows, standardised on the training set: train a = [3, 4], [6, 7]; dev a = [14/3, 17/3]
    np.testing.assert_allclose(sets["count vectors from a"][0], [[-1, -1], [1, 1]])
    np.testing.assert_allclose(sets["count vectors from a"][1], [[(14 / 3 - 4.5) / 1.5] * 2])
    np.testing.assert_allclose(sets["bag of pieces + count vectors from b"][1].toarray(),
                               [[0, 0, 1, 1, (-7 / 3 + 2.25) / 0.75]])


def test_sparse_logistic_regression_matches_the_newton_solution():
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, 4))
    y = (x @ np.array([1.5, -1.0, 0.0, 0.5]) + 0.4 * rng.standard_normal(300) > 0).astype(float)
    w_newton, b_newton = electra_vs_mlm.logistic_regression(x, y, l2=1e-2)  # mean loss; ours: summed
    for features in (x, sp.csr_matrix(x)):
        w, b = count_vectors.fit_logistic(features, y, l2=1e-2 * len(y))
        np.testing.assert_allclose(w, w_newton, atol=1e-4)
        assert b == pytest.approx(b_newton, abs=1e-4)
    assert count_vectors.accuracy(x, y, w, b) > 0.85


def test_the_count_vector_report_puts_encoders_beside_counting(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with open(work / "results.jsonl", "w") as f:
        for seed, acc in enumerate((0.60, 0.64)):
            f.write(json.dumps(dict(method="finetune", objective="none", step=0, flops=0.0, task="rotten_tomatoes",
                                    size="1000", seed=seed, accuracy=acc)) + "\n")
        f.write(json.dumps(dict(method="finetune", objective="none", step=0, flops=0.0, task="rotten_tomatoes",
                                size="500", seed=0, accuracy=0.5)) + "\n")
    encoders = count_vectors.encoder_results(str(work), "rotten_tomatoes", 1000)
    assert list(encoders) == ["random initialisation, fine-tuned on [CLS]"]
    assert encoders["random initialisation, fine-tuned on [CLS]"] == pytest.approx((0.62, 0.02 * 2 ** 0.5, 2))
    args = count_vectors.parse_args(["--work", str(work), "--out", str(tmp_path), "--name", "c"])
    results = [{"features": "bag of pieces", "size": 1000, "l2": 0.1, "accuracy": 0.663},
               {"features": "random initialisation, fine-tuned on [CLS]", "size": 1000, "accuracy": 0.62,
                "stdev": 0.0283, "seeds": 2}]
    count_vectors.write_report(args, results, {"the pretraining text": 1234, "the task's sentences": 56}, "cmd")
    md = open(tmp_path / "c.md").read()
    assert "the pretraining text (1,234 tokens) and the task's sentences (56 tokens)" in md
    assert "| bag of pieces | 1000 | 66.3 |" in md and "| random initialisation, fine-tuned on [CLS] | 1000 | 62.0 ± 2.8 |" in md
    assert os.path.exists(tmp_path / "c.png")


import task_text_screen  # noqa: E402


def test_task_text_screen_reads_the_last_probe_and_reports_each_setting(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "metrics.csv", "w") as f:
        f.write("step,eval_auc_random,eval_auc_frequency,eval_auc_generator\n250,0.8,0.5,0.7\n500,0.91,0.52,0.85\n")
    assert task_text_screen.probe_aucs(str(run)) == [0.91, 0.52, 0.85]
    assert task_text_screen.probe_aucs(str(tmp_path)) is None
    with open(tmp_path / "metrics.csv", "w") as f:
        f.write("step,mlm_accuracy\n250,0.2\n")
    assert task_text_screen.probe_aucs(str(tmp_path)) is None  # an MLM run
    args = task_text_screen.parse_args(["--out", str(tmp_path), "--name", "s", "--seeds", "2"])
    results = [{"setting": "random", "what": "random initialisation, no pretraining", "token table": 0.598,
                "last layer": 0.5945, "fine_tuned": [0.66, 0.64], "probe": None},
               {"setting": "electra", "what": "ELECTRA, the default recipe", "token table": 0.59,
                "last layer": 0.568, "fine_tuned": [0.58, 0.6], "probe": [0.91, 0.52, 0.85]}]
    task_text_screen.write_report(args, results, "cmd", majority=0.5859)
    md = open(tmp_path / "s.md").read()
    assert "majority class scores 58.6." in md
    assert "| random initialisation, no pretraining | 59.8 | 59.5 | 65.0 ± 1.4 |  |" in md
    assert "| ELECTRA, the default recipe | 59.0 | 56.8 | 59.0 ± 1.4 | 0.910 / 0.520 / 0.850 |" in md
    assert "| fine-tuned on [CLS] |" in md
    assert os.path.exists(tmp_path / "s.png")
    args = task_text_screen.parse_args(["--out", str(tmp_path), "--name", "m", "--pooling", "mean"])
    task_text_screen.write_report(args, results, "cmd")
    md = open(tmp_path / "m.md").read()
    assert "| fine-tuned on the mean of the tokens |" in md and "[CLS]" not in md
    assert json.load(open(tmp_path / "m.json"))["pooling"] == "mean"


def test_task_text_screen_makes_each_sentence_its_own_pretraining_example(tmp_path):
    from electra_keras.data import packing, text

    lines = ["a gorgeous , witty film .", "dull , dull . very dull and slow .", "it works ."]
    source = tmp_path / "task.txt"
    source.write_text("\n".join(lines) + "\n\n", encoding="utf-8")  # a trailing blank line is dropped
    path = task_text_screen.one_per_document(str(source))
    assert open(path, encoding="utf-8").read() == "".join(line + "\n\n" for line in lines)
    assert task_text_screen.one_per_document(str(source)) == path  # made once

    words = {}
    encode = lambda texts: [[words.setdefault(w, 10 + len(words)) for w in t.split()] for t in texts]  # noqa: E731
    examples, _ = packing.pack_lines(text.iter_lines(path), encode, 64, cls_id=2, sep_id=3, seed=0)
    assert [len(ids) - 2 for ids, _ in examples] == [6, 9, 3]  # one sentence each, between [CLS] and [SEP]
    packed, _ = packing.pack_lines(text.iter_lines(str(source)), encode, 64, cls_id=2, sep_id=3, seed=0)
    assert len(packed) == 1  # without the blank lines the three pack into one example


def test_small_training_sets_get_enough_fine_tuning_epochs():
    assert electra_vs_mlm.finetune_epochs(1000, 2, 200) == 7  # ceil(200 * 32 / 1000)
    assert electra_vs_mlm.finetune_epochs(50_000, 2, 200) == 2
    assert electra_vs_mlm.finetune_epochs(None, 2, 200) == 2  # every example
    assert electra_vs_mlm.finetune_epochs(1000, 2, 0) == 2


def test_task_text_screen_draws_replacements_by_frequency_and_puts_the_sampler_back():
    from electra_keras import objectives

    from electra_keras.data.tokenizer import WordPieceTokenizer

    tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "dull"])
    counts = task_text_screen.piece_counts([np.array([2, 5, 6, 5, 3]), np.array([2, 5, 7, 3, 1])], tokenizer)
    np.testing.assert_array_equal(counts, [0, 0, 0, 0, 0, 3, 1, 1])  # specials ([UNK] too) never drawn
    sample = objectives.blockwise_gumbel_sample
    logits = np.zeros((2, 3, 6), "float32")
    logits[..., 4] = 50.0  # the generator is sure of "film"
    with task_text_screen.replacements_by_frequency(np.array([0, 0, 0, 0, 0, 7.0])):
        drawn = objectives.blockwise_gumbel_sample(logits, 3.0, objectives.as_draws(0), 2)
    np.testing.assert_array_equal(np.asarray(keras.ops.convert_to_numpy(drawn)), np.full((2, 3), 5))
    assert objectives.blockwise_gumbel_sample is sample
    with task_text_screen.replacements_by_frequency(None):
        drawn = objectives.blockwise_gumbel_sample(logits, 1.0, objectives.as_draws(0), 2)
    np.testing.assert_array_equal(np.asarray(keras.ops.convert_to_numpy(drawn)), np.full((2, 3), 4))


def test_the_pretrainer_takes_its_replacements_from_the_screens_counts():
    """Guards the screen's by-frequency setting against a pretrainer that stops calling the
    sampler through `objectives`: then the setting would silently train on generator samples."""
    from electra_keras.config import ElectraConfig
    from electra_keras.models.electra_pretrainer import ElectraPretrainer

    config = ElectraConfig.from_preset("tiny", vocabulary_size=300)
    model = ElectraPretrainer(config, seed=0)
    ids = np.random.default_rng(0).integers(200, 300, size=(2, 32))
    batch = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    counts = np.zeros(300)
    counts[150] = 1.0  # the only piece to draw
    with task_text_screen.replacements_by_frequency(counts):
        out = {k: keras.ops.convert_to_numpy(v) for k, v in model(batch).items()}
    chosen = out["mask_weights"] > 0
    assert chosen.sum() > 0
    np.testing.assert_array_equal(out["sampled_ids"][chosen], 150)
    rows = np.repeat(np.arange(2)[:, None], out["mask_positions"].shape[1], 1)[chosen]
    cols = out["mask_positions"][chosen]
    np.testing.assert_array_equal(out["corrupted_ids"][rows, cols], 150)
    assert out["replaced_labels"][rows, cols].all()  # every original lies in 200-299


def test_build_table_ratios_against_raw_tokenization_and_worker_speedups():
    import data_pipeline

    def run(mb, seconds):
        return dict(mb=mb, seconds=seconds, driver_mb=900.0, worker_mb=0.0)

    result = dict(raw={"lists": 20.0, "arrays": 30.0, "fresh": 10.0}, big_mb=500, beam=True, runs={
        "12 MB, 1 worker": run(12, 1.2),
        "4x, 1 worker": run(48, 3.0), "4x, 2 workers": run(48, 2.0), "4x, 2 workers, spawned": run(48, 4.0),
        "500 MB, 1 worker": run(500, 30.0), "500 MB, 2 workers": run(500, 16.0),
        "500 MB, 2 workers, spawned": run(500, 20.0)})
    table, speedup = data_pipeline.build_table(result)
    # 12 MB in 1.2 s is 10 MB/s: 2x, 3x and 1x the three raw rates
    assert "| 12 MB, 1 worker | 12 | 1.2 | 10.00 | 2.00x | 3.00x | 1.00x | 900 | - |" in table
    assert speedup == 30 / 16
    assert "1.50x on 48 MB and 1.88x on 500 MB with forked workers; 0.75x and 1.50x with spawned" in table
