"""The one table of weight names: ours, the original TF1 checkpoints' and Hugging Face's.

Every converter goes through `plan()`, which lists, for the parts of one of our models, each
variable with its name in the other format and how its array is laid out there. Loading
(`assign`) then checks that every expected tensor is present with the expected shape and that
nothing unexplained is left over, and names what is not; writing (`extract`) is the inverse.

Array layouts ("kind" in the table):
  table    the same array in every format (embedding tables, LayerNorm gamma/beta)
  vector   flattened there (attention biases are (heads, head_dim) here, (H,) there)
  kernel   a dense kernel; TF1 keeps (in, out), Hugging Face (out, in). Ours may split the
           `out` side over heads: query/key/value kernels are (H, heads, head_dim).
  kernel2  like kernel, with the `in` side split over heads: the attention output kernel
           is (heads, head_dim, H) here.
"""

import dataclasses
import math

import numpy as np

# (ours, TF1, Hugging Face, kind). Ours is "<component>/<variable path inside it>", where the
# component is a sublayer of ElectraBackbone or a head of ElectraPretrainer; TF1 names sit
# under the network's scope ("electra/", "generator/"), Hugging Face names under "electra.".
BACKBONE_TABLE = (
    ("embeddings/token_embedding/embeddings", "embeddings/word_embeddings",
     "embeddings.word_embeddings.weight", "table"),
    ("embeddings/position_embedding/embeddings", "embeddings/position_embeddings",
     "embeddings.position_embeddings.weight", "table"),
    ("embeddings/segment_embedding/embeddings", "embeddings/token_type_embeddings",
     "embeddings.token_type_embeddings.weight", "table"),
    ("embeddings/layer_norm/gamma", "embeddings/LayerNorm/gamma", "embeddings.LayerNorm.weight", "table"),
    ("embeddings/layer_norm/beta", "embeddings/LayerNorm/beta", "embeddings.LayerNorm.bias", "table"),
    ("embeddings_project/kernel", "embeddings_project/kernel", "embeddings_project.weight", "kernel"),
    ("embeddings_project/bias", "embeddings_project/bias", "embeddings_project.bias", "vector"),
)
LAYER_TABLE = (  # once per encoder layer; {i} is the layer number
    ("self_attention_layer/query/kernel", "attention/self/query/kernel", "attention.self.query.weight", "kernel"),
    ("self_attention_layer/query/bias", "attention/self/query/bias", "attention.self.query.bias", "vector"),
    ("self_attention_layer/key/kernel", "attention/self/key/kernel", "attention.self.key.weight", "kernel"),
    ("self_attention_layer/key/bias", "attention/self/key/bias", "attention.self.key.bias", "vector"),
    ("self_attention_layer/value/kernel", "attention/self/value/kernel", "attention.self.value.weight", "kernel"),
    ("self_attention_layer/value/bias", "attention/self/value/bias", "attention.self.value.bias", "vector"),
    ("self_attention_layer/attention_output/kernel", "attention/output/dense/kernel",
     "attention.output.dense.weight", "kernel2"),
    ("self_attention_layer/attention_output/bias", "attention/output/dense/bias",
     "attention.output.dense.bias", "vector"),
    ("self_attention_layer_norm/gamma", "attention/output/LayerNorm/gamma", "attention.output.LayerNorm.weight", "table"),
    ("self_attention_layer_norm/beta", "attention/output/LayerNorm/beta", "attention.output.LayerNorm.bias", "table"),
    ("feedforward_intermediate_dense/kernel", "intermediate/dense/kernel", "intermediate.dense.weight", "kernel"),
    ("feedforward_intermediate_dense/bias", "intermediate/dense/bias", "intermediate.dense.bias", "vector"),
    ("feedforward_output_dense/kernel", "output/dense/kernel", "output.dense.weight", "kernel"),
    ("feedforward_output_dense/bias", "output/dense/bias", "output.dense.bias", "vector"),
    ("feedforward_layer_norm/gamma", "output/LayerNorm/gamma", "output.LayerNorm.weight", "table"),
    ("feedforward_layer_norm/beta", "output/LayerNorm/beta", "output.LayerNorm.bias", "table"),
)
GENERATOR_HEAD_TABLE = (
    ("generator_head/dense/kernel", "generator_predictions/dense/kernel", "generator_predictions.dense.weight", "kernel"),
    ("generator_head/dense/bias", "generator_predictions/dense/bias", "generator_predictions.dense.bias", "vector"),
    ("generator_head/layer_norm/gamma", "generator_predictions/LayerNorm/gamma",
     "generator_predictions.LayerNorm.weight", "table"),
    ("generator_head/layer_norm/beta", "generator_predictions/LayerNorm/beta",
     "generator_predictions.LayerNorm.bias", "table"),
    ("generator_head/output_bias", "generator_predictions/output_bias", "generator_lm_head.bias", "vector"),
)
DISCRIMINATOR_HEAD_TABLE = (
    ("discriminator_head/dense/kernel", "discriminator_predictions/dense/kernel",
     "discriminator_predictions.dense.weight", "kernel"),
    ("discriminator_head/dense/bias", "discriminator_predictions/dense/bias",
     "discriminator_predictions.dense.bias", "vector"),
    ("discriminator_head/dense_prediction/kernel", "discriminator_predictions/dense_1/kernel",
     "discriminator_predictions.dense_prediction.weight", "kernel"),
    ("discriminator_head/dense_prediction/bias", "discriminator_predictions/dense_1/bias",
     "discriminator_predictions.dense_prediction.bias", "vector"),
)
TF1_SCOPE = {"discriminator": "electra/", "generator": "generator/"}
HF_BACKBONE_PREFIX = "electra."

# Tensors a checkpoint may hold that carry nothing to convert: the original's optimizer slots
# and step counter; Hugging Face's position-id buffer and the generator's output matrix,
# which is the word embedding table (tied).
IGNORED_SUFFIXES = ("/adam_m", "/adam_v", "position_ids", "generator_lm_head.weight")
IGNORED_NAMES = ("global_step",)


class ConversionError(ValueError):
    """A checkpoint that does not fit the model: names what is missing, unexpected or misshapen."""


@dataclasses.dataclass
class Parts:
    """The pieces of one of our models that carry weights (None where absent)."""

    backbone: object = None  # the discriminator's, or the only encoder
    discriminator_head: object = None
    generator_backbone: object = None  # when the generator has its own encoder
    mlm_head: object = None
    shared_embeddings: bool = False  # the generator uses the backbone's embedding block
    gdes: bool = False  # weight_sharing="gdes": `backbone` and its head are folded copies

    @classmethod
    def of(cls, model):
        """Parts of an ElectraPretrainer, a discriminator model or an ElectraBackbone.

        A discriminator under weight_sharing="gdes" (embeddings = stop_gradient(shared) + delta)
        is given folded (`folded_discriminator`): an ordinary backbone whose embeddings hold
        shared + delta, which is what every other format can hold. Those parts are copies, to
        read from and never to load into; checkpoints are only ever loaded into models that
        `build_model` makes, which have no GDES.
        """
        from electra_keras.layers import ElectraDiscriminatorHead
        from electra_keras.models import ElectraBackbone, ElectraPretrainer, folded_backbone, folded_discriminator

        if isinstance(model, ElectraPretrainer):
            if model.discriminator is not None and model.discriminator_backbone.is_gdes:
                folded = cls.of(folded_discriminator(model))
                return cls(
                    backbone=folded.backbone,
                    discriminator_head=folded.discriminator_head,
                    generator_backbone=model.generator_backbone,  # owns the shared block
                    mlm_head=model.mlm_head,
                    gdes=True,
                )
            generator = model.generator_backbone
            own_generator = generator is not model.backbone
            return cls(
                backbone=model.backbone,
                discriminator_head=getattr(model, "discriminator_head", None),
                generator_backbone=generator if own_generator else None,
                mlm_head=model.mlm_head,
                shared_embeddings=own_generator and generator.embeddings is model.embeddings,
            )
        if isinstance(model, ElectraBackbone):
            return cls(backbone=folded_backbone(model), gdes=model.is_gdes)
        backbones = [l for l in model.layers if isinstance(l, ElectraBackbone)]
        heads = [l for l in model.layers if isinstance(l, ElectraDiscriminatorHead)]
        if len(backbones) == 1 and len(heads) == 1:
            if backbones[0].is_gdes:
                return cls.of(folded_discriminator(model))
            return cls(backbone=backbones[0], discriminator_head=heads[0])
        raise TypeError(
            f"expected an ElectraPretrainer, a discriminator (ElectraBackbone + ElectraDiscriminatorHead) "
            f"or an ElectraBackbone, got {type(model).__name__} {model.name!r}"
        )


@dataclasses.dataclass
class Entry:
    """One of our variables and where it lives in the other format."""

    variable: object
    ours: str  # e.g. "generator/transformer_layer_3/self_attention_layer/query/kernel"
    source: str  # which file of the other format: "checkpoint", "discriminator", "generator"
    name: str  # its name there
    kind: str
    duplicate: bool = False  # a second copy there of a tensor loaded from elsewhere (checked, not loaded)


def _relative(variable, layer):
    """The variable's path below `layer`, e.g. "self_attention_layer/query/kernel"."""
    *scopes, name = variable.path.split("/")
    if layer.name in scopes:  # drop everything up to the layer's own (last) scope
        scopes = scopes[len(scopes) - scopes[::-1].index(layer.name):]
    return "/".join([*scopes, name])


def _component_variables(backbone):
    """{"embeddings/token_embedding/embeddings": variable, "transformer_layer_0/...": ...}."""
    if backbone.is_gdes:  # its embedding variables are the shared block's and deltas: not one table
        raise ValueError(f"{backbone.name!r} has GDES embeddings; convert folded_backbone(backbone)")
    found = {}
    components = [backbone.embeddings, backbone.embeddings_project, *backbone.transformer_layers]
    for component in components:
        if component is None:
            continue
        for variable in component.weights:
            found[f"{component.name}/{_relative(variable, component)}"] = variable
    return found


def _backbone_entries(backbone, network, fmt, source, embeddings):
    """Entries of one encoder. `embeddings`: "own", "skip" (tied, loaded elsewhere) or "duplicate"."""
    variables = _component_variables(backbone)
    rows = list(BACKBONE_TABLE)
    for i in range(backbone.num_layers):
        rows += [(f"transformer_layer_{i}/{o}", f"encoder/layer_{i}/{t}", f"encoder.layer.{i}.{h}", k)
                 for o, t, h, k in LAYER_TABLE]
    entries = []
    for ours, tf1_name, hf_name, kind in rows:
        if ours not in variables:  # the projection exists only when E != H
            continue
        is_embedding = ours.startswith("embeddings/")
        if is_embedding and embeddings == "skip":
            continue
        if fmt == "tf1":
            scope = TF1_SCOPE["discriminator"] if is_embedding and embeddings != "own" else TF1_SCOPE[network]
            name = scope + tf1_name
        else:
            name = HF_BACKBONE_PREFIX + hf_name
        entries.append(Entry(variables[ours], f"{network}/{ours}", source, name, kind,
                             duplicate=is_embedding and embeddings == "duplicate"))
    return entries


def _head_entries(head, table, fmt, source):
    variables = {f"{head.name}/{_relative(v, head)}": v for v in head.weights}
    return [Entry(variables[ours], ours, source, tf1_name if fmt == "tf1" else hf_name, kind)
            for ours, tf1_name, hf_name, kind in table]


def plan(parts, fmt):
    """Every variable of `parts` with its place in format `fmt` ("tf1" or "hf").

    TF1: one checkpoint ("checkpoint"), generator under "generator/", tied embeddings once
    under "electra/embeddings". Hugging Face: two models, the discriminator (or the only model)
    and the generator; the generator's file holds its own copy of tied embeddings.
    """
    if fmt not in ("tf1", "hf"):
        raise ValueError(f"unknown format {fmt!r}: expected 'tf1' or 'hf'")
    if fmt == "tf1" and parts.gdes and parts.generator_backbone is not None:
        # The original's checkpoint holds one embedding block that both networks read
        # ("electra/embeddings"); a GDES pretrainer has two (the generator's, and the
        # discriminator's shared + delta), and the original's untied form has generator-wide tables.
        raise ValueError(
            "a weight_sharing='gdes' pretrainer has no TF1 checkpoint form: its discriminator's "
            "embeddings are the generator's plus learned deltas, and the original's checkpoint holds one "
            "embedding block for both networks. Convert the discriminator instead: the "
            "discriminator.keras a run saves (or electra_keras.models.folded_discriminator(model)), "
            "which holds the folded embeddings"
        )
    one_file = fmt == "tf1"
    main_source = "checkpoint" if one_file else "discriminator"
    gen_source = "checkpoint" if one_file else "generator"
    entries = _backbone_entries(parts.backbone, "discriminator", fmt, main_source, "own")
    if parts.discriminator_head is not None:
        entries += _head_entries(parts.discriminator_head, DISCRIMINATOR_HEAD_TABLE, fmt, main_source)
    if parts.generator_backbone is not None:
        tied = "skip" if one_file else "duplicate"
        entries += _backbone_entries(parts.generator_backbone, "generator", fmt, gen_source,
                                     tied if parts.shared_embeddings else "own")
    if parts.mlm_head is not None:
        # Without a generator encoder (MLM baseline, or one shared encoder) the head sits on
        # the only encoder: in Hugging Face terms that model is an ElectraForMaskedLM.
        source = gen_source if parts.generator_backbone is not None or parts.discriminator_head is not None \
            else main_source
        entries += _head_entries(parts.mlm_head, GENERATOR_HEAD_TABLE, fmt, source)
    return entries


# ---- array layouts -------------------------------------------------------------------------------


def external_shape(shape, kind, fmt):
    """The shape a tensor of our `shape` has in format `fmt`."""
    shape = tuple(int(d) for d in shape)
    if kind == "table":
        return shape
    if kind == "vector":
        return (math.prod(shape),)
    split = 2 if kind == "kernel2" else 1
    in_out = (math.prod(shape[:split]), math.prod(shape[split:]))
    return in_out if fmt == "tf1" else in_out[::-1]


def to_ours(array, shape, kind, fmt):
    array = np.asarray(array, dtype="float32")
    if kind.startswith("kernel") and fmt == "hf":
        array = array.T
    return array.reshape(shape)


def to_external(array, kind, fmt):
    array = np.asarray(array, dtype="float32")
    array = array.reshape(external_shape(array.shape, kind, "tf1"))
    if kind.startswith("kernel") and fmt == "hf":
        array = array.T
    return np.ascontiguousarray(array)


def ignored(name):
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


# ---- loading and writing -------------------------------------------------------------------------


def assign(entries, tensors, fmt, what="checkpoint", duplicate_atol=1e-6):
    """Load `tensors` ({source: {name: array}}) into the entries' variables, all or nothing.

    Raises ConversionError listing every missing tensor, every shape mismatch (ours and the
    checkpoint's) and every tensor the checkpoint holds that nothing reads.
    """
    missing, misshapen, differing, values = [], [], [], []
    for entry in entries:
        held = tensors.get(entry.source, {})
        if entry.name not in held:
            missing.append(f"{entry.source}: {entry.name}" if len(tensors) > 1 else entry.name)
            continue
        array = held[entry.name]
        expected = external_shape(entry.variable.shape, entry.kind, fmt)
        if tuple(array.shape) != expected:
            misshapen.append(f"{entry.name}: the checkpoint has {tuple(array.shape)}, the model expects "
                             f"{expected} (for {entry.ours})")
            continue
        values.append((entry, to_ours(array, tuple(entry.variable.shape), entry.kind, fmt)))
    used = {(e.source, e.name) for e in entries}
    unexpected = sorted(f"{source}: {name}" if len(tensors) > 1 else name
                        for source, held in tensors.items() for name in held
                        if (source, name) not in used and not ignored(name))
    problems = []
    if misshapen:
        problems.append("shapes that do not match the model:\n  " + "\n  ".join(misshapen))
    if missing:
        problems.append("tensors the model needs that the checkpoint lacks:\n  " + "\n  ".join(missing))
    if unexpected:
        problems.append("tensors in the checkpoint that the model has no place for:\n  " + "\n  ".join(unexpected))
    if problems:
        raise ConversionError(f"the {what} does not fit the model; " + "\n".join(problems))

    # A duplicate (the generator file's copy of tied embeddings) must equal the loaded one.
    primary = {id(e.variable): v for e, v in values if not e.duplicate}
    for entry, value in values:
        if entry.duplicate:
            diff = float(np.max(np.abs(primary[id(entry.variable)] - value))) if value.size else 0.0
            if diff > duplicate_atol:
                differing.append(f"{entry.name} ({entry.source}) differs from the copy loaded "
                                 f"for {entry.ours} by up to {diff:.3g}")
    if differing:
        raise ConversionError(
            f"the {what} has untied embeddings where the model shares one block between the generator "
            "and the discriminator (a weight_sharing='gdes' pretrainer is written so: its discriminator "
            "holds the shared embeddings plus its deltas; read the discriminator alone with "
            "convert.load(path, generator=False)):\n  " + "\n  ".join(differing))
    for entry, value in values:
        if not entry.duplicate:
            entry.variable.assign(value)


def extract(entries, fmt):
    """{source: {name: array}} of the entries' variables, laid out for `fmt`."""
    import keras

    tensors = {}
    for entry in entries:
        value = keras.ops.convert_to_numpy(entry.variable).astype("float32")
        tensors.setdefault(entry.source, {})[entry.name] = to_external(value, entry.kind, fmt)
    return tensors
