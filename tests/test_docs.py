"""The Python examples of the README and docs/ run as written, so they cannot rot.

Each page's ```python blocks run in order, in one namespace, in a directory holding the files
the examples name: `shards/` (build-data output), `electra_small/` (a checkpoint in the
original's TF1 format), `saved_models/tiny-1` (a model directory) and `glue_data/SST-2`. The
models there are tiny and untrained; the examples' own sizes stay as written.
"""

import contextlib
import glob
import io
import os
import re

import pytest

from conftest import corpus_and_vocab

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ["README.md", *sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def python_blocks(path):
    return re.findall(r"^```python\n(.*?)^```", open(os.path.join(ROOT, path)).read(), re.S | re.M)


def test_every_page_is_linked_from_the_readme_and_every_link_resolves():
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert len(readme.splitlines()) <= 250
    for page in PAGES[1:] + ["benchmarks/README.md"]:
        assert f"]({page})" in readme, f"{page} is not linked from the README"
    for page in PAGES + ["benchmarks/README.md"]:
        folder = os.path.dirname(os.path.join(ROOT, page))
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", open(os.path.join(ROOT, page)).read()):
            if not target.startswith("http"):
                assert os.path.exists(os.path.join(folder, target)), f"{page}: broken link {target}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A directory with the files the examples name."""
    import keras

    from electra_keras import convert
    from electra_keras.config import ElectraConfig
    from electra_keras.convert.common import Converted
    from electra_keras.convert.native import save_model_directory
    from electra_keras.data.build import build_pretraining_data
    from electra_keras.data.tokenizer import WordPieceTokenizer
    from electra_keras.models import ElectraPretrainer

    root = tmp_path_factory.mktemp("docs")
    (root / "text").mkdir()
    text = corpus_and_vocab(root / "text")
    build_pretraining_data([str(text / "corpus.txt")], str(text / "vocab"), str(root / "shards"), seq_len=128,
                           num_workers=1, progress=False)
    tokenizer = WordPieceTokenizer.from_directory(str(text / "vocab"))
    config = ElectraConfig.from_preset("tiny", vocabulary_size=len(tokenizer), embedding_dim=16, hidden_dim=32,
                                       num_layers=1, num_heads=2, intermediate_dim=64)
    keras.utils.set_random_seed(0)
    model = ElectraPretrainer(config, seed=0)
    convert.save(Converted(model, tokenizer, config, "pretrainer"), str(root / "electra_small"), to="tf1")
    save_model_directory(Converted(model, tokenizer, config, "pretrainer"), str(root / "saved_models" / "tiny-1"))
    sst = root / "glue_data" / "SST-2"
    sst.mkdir(parents=True)
    rows = ["sentence\tlabel"] + [f"{w} the cat\t{i % 2}" for i, w in enumerate(["big", "small", "old", "new"] * 4)]
    for split in ("train.tsv", "dev.tsv"):
        (sst / split).write_text("\n".join(rows) + "\n")
    return root


# Once, in the slow pass (torch): the examples call what the model tests check on every backend;
# running them keeps them true, and once is enough for that.
@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)])
def test_the_python_examples_run(page, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    namespace = {"__name__": "__docs__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for number, block in enumerate(python_blocks(page), 1):
            try:
                exec(compile(block, f"{page} (python block {number})", "exec"), namespace)
            except Exception as error:
                raise AssertionError(f"{page}, python block {number}: {type(error).__name__}: {error}") from error
