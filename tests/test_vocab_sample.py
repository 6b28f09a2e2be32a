"""A vocabulary learnt from a seeded sample of a large corpus: which blocks, how much, and the
same for the same seed; a run directory written before the setting existed still resumes."""

import json

import pytest

from electra_keras import recipes, training
from electra_keras.data import tokenizer as tokenizer_module
from electra_keras.data.tokenizer import VocabularySample
from electra_keras_cli import main as cli_main


def write_documents(path, num_docs=60):
    """Documents of three lines each ('d<i> s<j> ...'), a blank line after each: 30-byte lines."""
    with open(path, "w") as f:
        for d in range(num_docs):
            f.write("".join(f"d{d:03d} s{j} word word word word word\n" for j in range(3)) + "\n")
    return path


def expected_blocks(lines, block_bytes, fraction, seed):
    """The documented rule, written out: blocks of >= block_bytes ending at a blank line."""
    import random

    kept, block, size = [], 0, 0
    keep = random.Random(f"{seed}/0").random() < fraction
    for line in lines:
        size += len(line.encode()) + 1
        if keep:
            kept.append(line)
        if (size >= block_bytes and line == "") or size >= 2 * block_bytes:
            block, size = block + 1, 0
            keep = random.Random(f"{seed}/{block}").random() < fraction
    return kept


def test_a_corpus_larger_than_the_sample_gives_seeded_scattered_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(tokenizer_module, "SAMPLE_BLOCK_BYTES", 300)
    path = write_documents(tmp_path / "corpus.txt")
    lines = path.read_text().split("\n")[:-1]
    size = path.stat().st_size
    sample = VocabularySample([str(path)], sample_mb=size / 3 / 2**20, seed=7, text_format="lines")
    assert sample.sampled and sample.fraction == pytest.approx(1 / 3)
    kept = list(sample)
    assert kept == expected_blocks(lines, 300, 1 / 3, seed=7)
    assert 0 < len(kept) < len(lines)
    assert kept != lines[: len(kept)]  # scattered, not the first blocks
    assert sample.kept_bytes == sum(len(line) + 1 for line in kept) and sample.total_bytes == size
    assert list(sample) == kept  # the same seed, the same sample
    assert list(VocabularySample([str(path)], size / 3 / 2**20, seed=8, text_format="lines")) != kept
    assert sample.describe().startswith(f"a {sample.kept_bytes / 2**20:,.1f} MB sample (seed 7,")


def test_a_corpus_within_the_sample_is_read_whole(tmp_path):
    path = write_documents(tmp_path / "corpus.txt", num_docs=5)
    sample = VocabularySample([str(path)], sample_mb=1.0, text_format="lines")
    assert not sample.sampled
    assert list(sample) == path.read_text().split("\n")[:-1]
    assert sample.describe() == "all 0.0 MB of the text"
    assert list(VocabularySample([str(path)], sample_mb=0, text_format="lines")) == list(sample)  # 0: all


def test_build_vocab_says_what_it_read(tmp_path, capsys):
    path = write_documents(tmp_path / "corpus.txt")
    assert cli_main(["build-vocab", str(path), "--output", str(tmp_path / "vocab"), "--vocab-size", "120",
                     "--sample-mb", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "MB sample (seed 0, scattered blocks of about 64 KB) of 0.0 MB in 1 file(s)" in out
    assert cli_main(["build-vocab", str(path), "--output", str(tmp_path / "v"), "--sample-mb", "-1"]) == 2
    assert "--sample-mb -1: expected a size in MB, or 0 for all of the text" in capsys.readouterr().err


def test_the_recipe_field_is_checked_and_an_older_run_directory_still_resumes(tmp_path):
    with pytest.raises(ValueError, match=r"data.vocab_sample_mb = -1.0: expected a size in MB"):
        recipes.recipe_from_dict({"data": {"vocab_sample_mb": -1.0}}, name="bad")
    recipe = recipes.recipe_from_dict({}, name="old")
    written = recipe.to_dict()
    del written["data"]["vocab_sample_mb"]  # a recipe.json from before the field
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "recipe.json").write_text(json.dumps(written))
    training._check_run_dir(str(tmp_path / "run"), recipe, overwrite=False)  # the same recipe: no error
    changed = recipes.recipe_from_dict({"data": {"vocab_sample_mb": 5.0}}, name="old")
    with pytest.raises(ValueError, match=r"data.vocab_sample_mb: 100.0 there, 5.0 now"):
        training._check_run_dir(str(tmp_path / "run"), changed, overwrite=False)
