"""The command line: argument plumbing, build-vocab and build-data end to end, clear errors."""

import json
import os

import pytest

from conftest import write_corpus
from electra_keras import cli
from electra_keras.data import read_data_info


def test_info_prints_the_paper_sizes(capsys):
    assert cli.main(["info", "--preset", "small"]) == 0
    out = capsys.readouterr().out
    assert "backbone parameters (fine-tuned): 13,483,008" in out
    assert "generator:     12 layers, hidden 64, 1 heads, FFN 256" in out


def test_recipes_lists_every_packaged_recipe_with_its_settings(capsys):
    assert cli.main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines[1:] if line and not line.startswith("electra-keras")}
    assert set(rows) == {"tiny", "tiny_task_text", "electra_small", "electra_small_plus", "electra_base",
                         "electra_large", "mlm_small"}
    # name, preset, objective, steps, batch, seq len, rate, corpus: the files' own values
    assert rows["electra_small"][:7] == ["electra_small", "small", "electra", "1,000,000", "128", "128", "0.0005"]
    assert rows["mlm_small"][2] == "mlm"
    assert rows["tiny"][3:] == ["1,000", "32", "128", "0.001", "wiki_leads"]
    assert rows["tiny_task_text"][3:] == ["1,500", "64", "64", "0.001", "yours:", "--corpus", "FILES"]


def test_shortcut_flags_and_set_overrides_reach_the_recipe():
    args = cli.build_parser().parse_args(
        ["pretrain", "--recipe", "electra_small", "--steps", "2000", "--corpus", "a.txt", "b/",
         "--set", "train.log_every=100", "--dtype", "float32", "--objective", "mlm"]
    )
    recipe = cli.recipe_from_args(args)
    assert (recipe.train.steps, recipe.train.log_every, recipe.train.dtype) == (2000, 100, "float32")
    assert recipe.data.corpus == ["a.txt", "b/"] and recipe.model["objective"] == "mlm"
    assert recipe.train.learning_rate == 5e-4  # from the recipe file


def test_build_vocab_then_build_data(tmp_path, capsys):
    write_corpus(tmp_path / "a.txt", num_docs=40, seed=0)
    write_corpus(tmp_path / "b.txt", num_docs=40, seed=1)
    assert cli.main(["build-vocab", str(tmp_path), "--output", str(tmp_path / "vocab"),
                     "--vocab-size", "300", "--min-frequency", "1"]) == 0
    settings = json.loads((tmp_path / "vocab" / "tokenizer_config.json").read_text())
    assert settings["do_lower_case"] is True
    assert cli.main(["build-data", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--vocab",
                     str(tmp_path / "vocab"), "--output", str(tmp_path / "data"), "--seq-len", "48",
                     "--workers", "1"]) == 0
    info = read_data_info(tmp_path / "data")
    assert info["summary"]["documents"] == 80 and info["settings"]["seq_len"] == 48
    assert "80 documents ->" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pretrain", "--seq-len", "1024"], "data.seq_len = 1024 does not fit the model"),
        (["pretrain", "--set", "train.warmup=3"], "train.warmup: unknown key"),
        (["pretrain", "--recipe", "nope.toml"], "nope.toml: no such recipe file"),
        (["build-data", "missing.txt", "--vocab", "v", "--output", "o"], "no such vocabulary file"),
        (["build-vocab", "missing.txt", "--output", "o"], "missing.txt: no such file or directory"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_writes_nothing(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv + (["--output-dir", "runs"] if argv[0] == "pretrain" else [])) == 2
    assert message in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_pretrain_on_the_default_corpus(tmp_path, capsys):
    """The README's main job, shortened: the wiki_leads corpus, vocab, shards and a few steps."""
    code = cli.main(["pretrain", "--steps", "4", "--log-every", "2", "--checkpoint-every", "2",
                     "--output-dir", str(tmp_path / "out"), "--run-name", "run",
                     "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    run = tmp_path / "out" / "run"
    assert (run / "discriminator.keras").exists() and (run / "training.png").exists()
    (data_dir,) = (tmp_path / "cache" / "data").iterdir()
    summary = read_data_info(data_dir)["summary"]
    assert summary["documents"] == 10_033 and summary["unk_rate"] < 0.001
    assert len((run / "vocab.txt").read_text().splitlines()) == 16000
