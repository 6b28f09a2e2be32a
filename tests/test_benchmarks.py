"""The step benchmark's own arithmetic: its batches, its job list, MFU, the peer ratios and the matmuls alone."""

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


@pytest.mark.parametrize("preset", ["small", "base", "large"])
@pytest.mark.parametrize("variant", [{}, {"objective": "mlm"}, {"weight_sharing": "none"},
                                     {"weight_sharing": "all", "generator_hidden_fraction": 1.0}])
def test_the_step_matmuls_add_up_to_the_analytic_flops(preset, variant):
    """Two derivations of a step's work: the list of products the benchmark times alone, and
    the per-token formula MFU divides by."""
    config = ElectraConfig.from_preset(preset, **variant)
    products = pretraining_matmuls(config, batch_size=8, seq_len=64)
    assert 6 * sum(r * b * m * k * n for r, b, m, k, n in products) == pretraining_flops_per_step(config, 8, 64)
    if preset == "small" and not variant:  # the discriminator's query, key and value; its scores
        h = config.hidden_dim
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
