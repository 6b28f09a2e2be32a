"""Private names of Keras are read in electra_keras/internals.py only (its docstring lists them
with the versions checked); everything else uses public API."""

import ast
import pathlib

import keras

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "electra_keras"
KERAS_BASES = (keras.layers.Layer, keras.Model, keras.optimizers.Optimizer,
               keras.optimizers.schedules.LearningRateSchedule, keras.metrics.Metric, keras.callbacks.Callback)


def keras_private_names():
    return {name for base in KERAS_BASES for name in dir(base) if name.startswith("_") and not name.startswith("__")}


def private_uses(source):
    """(line, name) of each private name a module reads or overrides: `x._name` on anything
    but `self`, and `self._name` or `def _name` where Keras's base classes have that name."""
    keras_names, uses = keras_private_names(), []
    tree = ast.parse(source)
    ours = {"self", "cls"}  # and this package's modules: their private helpers are ours to share
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("electra_keras"):
            ours.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            ours.update(a.asname for a in node.names if a.asname and a.name.startswith("electra_keras"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            on_ours = isinstance(node.value, ast.Name) and node.value.id in ours
            if not on_ours or node.attr in keras_names:
                uses.append((node.lineno, node.attr))
        elif isinstance(node, ast.FunctionDef) and node.name in keras_names:
            uses.append((node.lineno, node.name))
    return uses


def test_the_check_finds_private_reads_and_overrides():
    source = ("from electra_keras.data import build\n"
              "class A:\n    def _clip_gradients(self, g):\n        return self._use_weight_decay(g)\n"
              "    def own(self):\n        return self._mine, model._flatten_layers(), build._chunks\n")
    assert private_uses(source) == [(3, "_clip_gradients"), (4, "_use_weight_decay"), (6, "_flatten_layers")]


def test_private_keras_names_only_in_internals():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "internals.py":
            uses = private_uses(path.read_text())
            if uses:
                found[str(path.relative_to(PACKAGE))] = uses
    assert found == {}, f"private names outside internals.py: {found}"
