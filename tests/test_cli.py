"""The command line: a short pretraining run end to end, and its errors."""

import json
import os

import keras
import numpy as np

from conftest import make_batch
from electra_keras import cli


def test_pretrain_writes_a_reloadable_discriminator(tmp_path, capsys):
    code = cli.main(
        ["pretrain", "--steps", "3", "--batch-size", "4", "--seq-len", "16", "--quiet",
         "--output-dir", str(tmp_path), "--run-name", "run"]
    )
    assert code == 0
    run = tmp_path / "run"
    assert {"pretrainer.keras", "discriminator.keras", "backbone.keras", "config.json",
            "history.json"} <= set(os.listdir(run))
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    assert json.loads((run / "config.json").read_text())["sequence_length"] == 16
    pretrainer = keras.saving.load_model(run / "pretrainer.keras")
    discriminator = keras.saving.load_model(run / "discriminator.keras")
    batch = make_batch(batch_size=2, seq_len=16)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(discriminator(batch)),
        keras.ops.convert_to_numpy(pretrainer.discriminator(batch)),
        atol=1e-5,
    )
    out = capsys.readouterr().out
    assert "tokens per step: 4 x 16 = 64" in out and "saved to" in out


def test_info_prints_the_paper_sizes(capsys):
    assert cli.main(["info", "--preset", "small"]) == 0
    out = capsys.readouterr().out
    assert "backbone parameters (fine-tuned): 13,483,008" in out
    assert "generator:     12 layers, hidden 64, 1 heads, FFN 256" in out


def test_bad_config_is_a_clear_error(tmp_path, capsys):
    code = cli.main(["pretrain", "--seq-len", "1024", "--output-dir", str(tmp_path)])
    assert code == 2
    assert "ElectraConfig.sequence_length=1024" in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # nothing written
