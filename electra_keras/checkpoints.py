"""Training checkpoints: everything a resumed run needs, in one .npz per step, matched by name.

A checkpoint holds the model's variables (weights and random-generator states), the
optimizer's (step, slots) and, on PyTorch, torch's global generator. Each array is stored
under a name that does not depend on the order Keras lists variables in, nor on the numbers
Keras gives auto-named layers in a process (`state_names`): a model variable is named by the
chain of attributes that holds it (``generator_backbone/transformer_layers/0/
_self_attention_layer/_query_dense/_kernel`` on every backend), an optimizer slot by its variable's name and the slot
(``optimizer/<variable name>/momentum``). Restoring matches names; a mismatch is an error that
lists the missing, unexpected and misshapen variables.
"""

import collections
import collections.abc
import json
import os
import time

import keras
import numpy as np

from electra_keras.atomic import atomic_json, atomic_path
from electra_keras.backends import torch_rng
from electra_keras.internals import is_bookkeeping, layer_attributes

CHECKPOINT_DIR = "checkpoints"  # in a run directory
LATEST = "latest.json"

def _walk(root):
    """{id(variable): attribute path} for every variable reachable from `root`'s layers."""
    names, seen = {}, set()

    def visit(obj, path):
        if isinstance(obj, keras.Variable):
            names.setdefault(id(obj), path)
            return
        if id(obj) in seen:
            return
        if isinstance(obj, collections.abc.Sequence) and not isinstance(obj, (str, bytes)):
            seen.add(id(obj))
            for i, item in enumerate(obj):
                visit(item, f"{path}/{i}")
        elif isinstance(obj, collections.abc.Mapping):
            seen.add(id(obj))
            for key in sorted(obj, key=str):
                visit(obj[key], f"{path}/{key}")
        elif isinstance(obj, (keras.layers.Layer, keras.random.SeedGenerator)):
            seen.add(id(obj))
            # Keras's bookkeeping attributes are walked last, for what nothing else reached,
            # so that a variable's name is the attribute (or functional layer name) that owns it.
            attributes = sorted(layer_attributes(obj).items())
            for name, value in attributes:
                if not is_bookkeeping(name):
                    visit(value, f"{path}/{name}" if path else name)
            # a functional model's layers: by their names, which are unique in the model
            for layer in obj.layers if isinstance(obj, keras.Model) else ():
                visit(layer, f"{path}/{layer.name}" if path else layer.name)
            for name, value in attributes:
                if is_bookkeeping(name):
                    visit(value, f"{path}/{name}" if path else name)

    visit(root, "")
    return names


def state_variables(model):
    """Everything a resumed run needs: weights, RNG states, optimizer slots and step."""
    return list(model.variables) + list(model.optimizer.variables)


def state_names(model):
    """The names of `state_variables(model)`, in that order: unique and stable across processes."""
    by_id = _walk(model)
    names = []
    for variable in model.variables:
        if id(variable) not in by_id:
            raise ValueError(f"variable {variable.path} is not held by an attribute of the model's layers")
        names.append(by_id[id(variable)])
    # Keras names an optimizer slot "<its variable's path, / as _>_<slot>"; several variables can
    # share a path (the generator's and the discriminator's "transformer_layer_0/..."), and
    # their slots are made in the order of model.trainable_variables, which is kept here.
    owners = collections.defaultdict(list)
    for variable in model.trainable_variables:
        owners[variable.path.replace("/", "_")].append(by_id[id(variable)])
    used = collections.Counter()
    for variable in model.optimizer.variables:
        prefix = max((p for p in owners if variable.name.startswith(p + "_")), key=len, default=None)
        if prefix is None:
            names.append(f"optimizer/{variable.name}")
            continue
        slot = variable.name[len(prefix) + 1:]
        index = used[prefix, slot]
        used[prefix, slot] += 1
        names.append(f"optimizer/{owners[prefix][index]}/{slot}")
    repeated = [n for n, count in collections.Counter(names).items() if count > 1]
    if repeated:
        raise ValueError(f"checkpoint names are not unique: {', '.join(repeated[:5])}")
    return names


def save_checkpoint(directory, model, step, keep=2):
    """Write ckpt-<step>.npz atomically, point latest.json at it, drop the oldest beyond `keep`."""
    os.makedirs(directory, exist_ok=True)
    variables = state_variables(model)
    arrays = {f"v{i:05d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(variables)}
    arrays["names"] = np.array(state_names(model))
    if torch_rng() is not None:
        arrays["torch_rng"] = torch_rng()
    name = f"ckpt-{step:09d}.npz"
    with atomic_path(os.path.join(directory, name)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    atomic_json({"checkpoint": name, "step": step, "time": time.time()}, os.path.join(directory, LATEST))
    for old in sorted(n for n in os.listdir(directory) if n.startswith("ckpt-") and n.endswith(".npz"))[:-keep]:
        os.remove(os.path.join(directory, old))
    return os.path.join(directory, name)


def latest_checkpoint(directory):
    """(path, step) of the newest whole checkpoint, or (None, 0)."""
    latest = os.path.join(directory, LATEST)
    if not os.path.exists(latest):
        return None, 0
    with open(latest) as f:
        record = json.load(f)
    return os.path.join(directory, record["checkpoint"]), int(record["step"])


def _listed(title, names, limit=8):
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return f"{title} ({len(names)}): {shown}"


def restore_checkpoint(path, model):
    """Load a checkpoint into a compiled model (the optimizer is built here if needed), by name.

    Returns torch's global generator state when the checkpoint has one: set it with
    `RunMonitor(torch_rng=...)` once `fit` has built the model (building draws from it).
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    variables = state_variables(model)
    with np.load(path) as arrays:
        if "names" not in arrays.files:
            raise ValueError(f"{path}: a checkpoint without variable names (written by an older version); "
                             f"start the run again with --overwrite")
        saved = {str(name): arrays[f"v{i:05d}"] for i, name in enumerate(arrays["names"])}
        here = dict(zip(state_names(model), variables))
        missing = [n for n in here if n not in saved]
        unexpected = [n for n in saved if n not in here]
        misshapen = [f"{n} {tuple(saved[n].shape)} saved, {tuple(v.shape)} here" for n, v in here.items()
                     if n in saved and tuple(saved[n].shape) != tuple(v.shape)]
        if missing or unexpected or misshapen:
            problems = [_listed(title, names) for title, names in (
                ("missing from the checkpoint", missing), ("in the checkpoint, not in the model", unexpected),
                ("of another shape", misshapen)) if names]
            raise ValueError(f"{path}: the checkpoint does not fit this model; was the recipe or the code "
                             f"changed? " + "; ".join(problems))
        for name, variable in here.items():
            variable.assign(saved[name])
        return arrays["torch_rng"] if "torch_rng" in arrays.files else None
