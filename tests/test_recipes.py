"""Recipes: the shipped files, validation messages, YAML, command-line overrides."""

import dataclasses
import os

import pytest

from electra_keras import recipes, training

PAPER = {  # REFERENCE.md section 3: lr, batch, steps; section 1: sequence length
    "electra_small": ("small", "electra", 5e-4, 128, 1_000_000, 128),
    "electra_small_plus": ("small_plus", "electra", 5e-4, 128, 4_000_000, 512),
    "electra_base": ("base", "electra", 2e-4, 256, 766_000, 512),
    "electra_large": ("large", "electra", 2e-4, 2048, 400_000, 512),
    "mlm_small": ("small", "mlm", 5e-4, 128, 1_000_000, 128),
}


def test_the_default_recipe_is_recipes_tiny_toml():
    assert recipes.load_recipe("tiny") == recipes.load_recipe(None)
    assert recipes.load_recipe(None).data.corpus == ["wiki_leads"]


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_recipes_carry_the_paper_hyperparameters(name):
    recipe = recipes.load_recipe(name)
    preset, objective, lr, batch, steps, seq = PAPER[name]
    assert (recipe.model["preset"], recipe.model["objective"]) == (preset, objective)
    t = recipe.train
    assert (t.learning_rate, t.batch_size, t.steps, t.warmup_steps, t.weight_decay) == (lr, batch, steps, 10_000, 0.01)
    assert recipe.data.seq_len == seq and recipe.data.vocab_size == 30522
    config = recipe.model_config(sequence_length=seq)
    assert config.mask_prob == (0.25 if preset == "large" else 0.15)
    assert config.discriminator_loss_weight == 50.0


def write(tmp_path, text, name="r.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[train]\nstepz = 3\n", r"r.toml: train.stepz: unknown key; expected one of steps, "),
        ("[train]\nsteps = \"many\"\n", r"r.toml: train.steps = 'many' is str: expected an integer"),
        ("[train]\nsteps = 2.5\n", r"train.steps = 2.5 is float: expected an integer"),
        ("[data]\nlower_case = 1\n", r"data.lower_case = 1 is int: expected true or false"),
        ("[data]\ncorpus = [1, 2]\n", r"data.corpus = \[1, 2\] is list: expected a list of strings"),
        ("[train]\ndtype = \"float8\"\n", r"train.dtype = 'float8': expected one of float32, mixed_bfloat16"),
        ("[train]\nsteps = -1\n", r"train.steps = -1: expected a positive value"),
        ("[train]\nsteps = 10\nlog_every = 4\nsteps_per_execution = 4\n",
         r"train.steps_per_execution = 4 must divide train.log_every = 4 and train.steps = 10"),
        ("[model]\nhidden_size = 3\n", r"model.hidden_size: unknown key; expected preset or an ElectraConfig field"),
        ("[model]\nvocabulary_size = 3\n", r"model.vocabulary_size: comes from the vocabulary \(data.vocab_size\)"),
        ("[model]\npreset = \"huge\"\n", r"r.toml: \[model\]: .*huge"),
        ("[optimizer]\nlr = 1\n", r"unknown section \[optimizer\]"),
        ("[data]\nseq_len = 1024\n", r"data.seq_len = 1024 does not fit the model: ElectraConfig.sequence_length=1024"),
        ("[train\nsteps = 1\n", r"r.toml: not a valid recipe file"),
    ],
)
def test_bad_recipes_are_clear_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        recipes.load_recipe(write(tmp_path, text))


def test_yaml_recipes_and_overrides(tmp_path):
    path = write(tmp_path, "model:\n  preset: small\n  num_layers: 4\ntrain:\n  steps: 100\n  log_every: 10\n"
                 "  checkpoint_every: 50\n", name="r.yaml")
    recipe = recipes.load_recipe(path, ["train.learning_rate=1e-4", "data.corpus=a.txt", "train.checkpoint_every=20"])
    assert recipe.model == {"preset": "small", "num_layers": 4}
    assert recipe.model_config().num_layers == 4 and recipe.model_config().hidden_dim == 256
    assert (recipe.train.steps, recipe.train.learning_rate, recipe.train.checkpoint_every) == (100, 1e-4, 20)
    assert recipe.data.corpus == ["a.txt"]
    assert recipe.data == dataclasses.replace(recipes.DataRecipe(), corpus=["a.txt"])
    with pytest.raises(ValueError, match=r"override 'steps=3': expected section.key=value"):
        recipes.load_recipe(None, ["steps=3"])
    with pytest.raises(ValueError, match=r"train.steps = 'ten' is str"):
        recipes.load_recipe(None, ["train.steps=ten"])
    quoted = recipes.load_recipe(None, ['data.vocab="my vocab.txt"', 'data.corpus=["a b.txt", "c.txt"]'])
    assert (quoted.data.vocab, quoted.data.corpus) == ("my vocab.txt", ["a b.txt", "c.txt"])
    assert recipes.load_recipe(None, ['data.vocab=""']).data.vocab == ""
    assert recipes.load_recipe(None, ['data.vocab="C:\\data\\v.txt"']).data.vocab == "C:\\data\\v.txt"


def test_the_task_text_recipe_is_the_one_measured_in_docs_quality():
    """docs/quality.md section 5, "In the library": the benchmark's run of this recipe."""
    recipe = recipes.load_recipe("tiny_task_text", ["data.corpus=[\"sentences.txt\"]"])
    assert recipe.model == {"preset": "tiny", "temperature": 3.0, "dropout": 0.0}
    d, t = recipe.data, recipe.train
    assert (d.vocab_size, d.seq_len, t.batch_size, t.steps, t.warmup_steps, t.learning_rate) == (
        8000, 64, 64, 1500, 150, 1e-3)
    assert (t.dtype, t.token_table) == ("mixed_bfloat16", "counted_frozen")
    assert d.seq_len * t.batch_size == 128 * 32  # the default's token slots a step
    with pytest.raises(ValueError, match="data.corpus is empty"):
        training.prepare_data(recipes.load_recipe("tiny_task_text").data)


def test_unknown_recipe_names_list_the_shipped_ones():
    with pytest.raises(ValueError, match=r"no such recipe file or recipe name \(packaged: electra_base, .*tiny, tiny_task_text\)"):
        recipes.load_recipe("electra_huge")


def test_every_recipe_file_in_the_repository_ships_in_the_package():
    repository = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recipes")
    shipped = recipes.packaged_recipes()
    assert sorted(shipped) == sorted(os.path.splitext(n)[0] for n in os.listdir(repository) if n.endswith(".toml"))
    for name, path in shipped.items():
        with open(path, "rb") as packaged, open(os.path.join(repository, name + ".toml"), "rb") as source:
            assert packaged.read() == source.read()
