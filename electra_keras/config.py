"""ElectraConfig: model sizes and objective settings, validated on construction.

The presets reproduce the table in google-research/electra (configure_pretraining.py and
the paper's appendix). The generator is sized as a fraction of the discriminator in one place,
`generator_sizes()`, exactly as the original's `get_generator_config`: width shrinks, depth stays.
"""

import dataclasses
import json
import math

OBJECTIVES = ("electra", "mlm")
INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")  # every encoder's inputs, int32 (batch, seq)
WEIGHT_SHARING = ("embeddings", "gdes", "none", "all")

# Each preset only lists what differs from the dataclass defaults (which are ELECTRA-Small's).
PRESETS = {
    # A few-minute CPU demo and the test size: 2 layers, hidden 128, generator 1/4 wide.
    "tiny": dict(
        embedding_dim=64,
        hidden_dim=128,
        num_layers=2,
        num_heads=2,
        intermediate_dim=512,
        generator_hidden_fraction=0.25,
        sequence_length=128,
    ),
    # The paper's ELECTRA-Small: generator at 1/4 width (hidden 64, 1 head), sequences of 128.
    "small": dict(),
    # The released "electra-small" checkpoints (Small++): full-size generator, sequences of 512.
    "small_plus": dict(generator_hidden_fraction=1.0, sequence_length=512),
    "base": dict(
        embedding_dim=768,
        hidden_dim=768,
        num_layers=12,
        num_heads=12,
        intermediate_dim=3072,
        generator_hidden_fraction=1 / 3,
        sequence_length=512,
    ),
    "large": dict(
        embedding_dim=1024,
        hidden_dim=1024,
        num_layers=24,
        num_heads=16,
        intermediate_dim=4096,
        generator_hidden_fraction=0.25,
        sequence_length=512,
        mask_prob=0.25,
    ),
}


@dataclasses.dataclass(frozen=True)
class ElectraConfig:
    """Sizes of the two networks and the settings of the pretraining objective.

    Field names follow keras-hub (`hidden_dim`, `num_layers`, ...). Defaults are ELECTRA-Small
    as in the paper; `from_preset` gives the other sizes.

    Example:
    >>> cfg = ElectraConfig.from_preset("tiny", vocabulary_size=1000)
    >>> cfg.generator_sizes()["hidden_dim"]
    32
    """

    # --- Encoder (the discriminator; the generator derives from it) ---
    vocabulary_size: int = 30522  # BERT uncased WordPiece
    embedding_dim: int = 128  # E: the shared embedding width; projected to H when E != H
    hidden_dim: int = 256  # H
    num_layers: int = 12
    num_heads: int = 4  # head size 64, as every released ELECTRA
    intermediate_dim: int = 1024  # 4H
    max_sequence_length: int = 512  # number of position embeddings
    num_segments: int = 2
    dropout: float = 0.1  # hidden states and attention probabilities
    layer_norm_epsilon: float = 1e-12  # the original's (and Hugging Face's) value
    initializer_range: float = 0.02  # truncated-normal stddev

    # --- Generator ---
    generator_hidden_fraction: float = 0.25  # generator H = round(H * fraction)
    generator_layer_fraction: float = 1.0  # the original keeps the full depth
    # "embeddings": generator and discriminator share word/position/segment embeddings and
    # their LayerNorm (the paper's default); "gdes": DeBERTaV3's gradient-disentangled sharing,
    # the discriminator reads stop_gradient(shared) + its own zero-initialised deltas, so only
    # the generator's loss trains the shared block (layers.ElectraGDESEmbeddings); "none": each
    # has its own; "all": one encoder serves as both (requires generator_hidden_fraction == 1).
    weight_sharing: str = "embeddings"

    # --- Objective ---
    objective: str = "electra"  # or "mlm": the BERT-style baseline, no discriminator
    sequence_length: int = 128  # training length; sets max_predictions_per_seq
    mask_prob: float = 0.15
    max_predictions_per_seq: int | None = None  # None: int((mask_prob + 0.005) * seq_len)
    mask_token_rate: float = 0.85  # chosen positions shown as [MASK]; the rest keep their token
    random_token_rate: float = 0.0  # BERT's 10% random tokens; ELECTRA uses none
    temperature: float = 1.0  # Gumbel sampling temperature
    generator_loss_weight: float = 1.0
    discriminator_loss_weight: float = 50.0  # the paper's lambda

    # --- Special token ids (BERT uncased layout) ---
    pad_token_id: int = 0
    cls_token_id: int = 101
    sep_token_id: int = 102
    mask_token_id: int = 103

    def __post_init__(self):
        self._validate()

    @classmethod
    def from_preset(cls, name, **overrides):
        """A preset (`tiny`, `small`, `small_plus`, `base`, `large`) with optional overrides."""
        if name not in PRESETS:
            raise ValueError(
                f"Unknown ElectraConfig preset {name!r}. Expected one of {sorted(PRESETS)}."
            )
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict, rejecting unknown keys by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown ElectraConfig field(s) {unknown}. Expected fields: {sorted(known)}."
            )
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def replace(self, **changes):
        return self.from_dict({**self.to_dict(), **changes})

    # ------------------------------------------------------------------ derived sizes
    def generator_sizes(self):
        """Generator encoder sizes, as the original's `get_generator_config`.

        With `objective="mlm"` or `weight_sharing="all"` the generator is the full-size encoder.
        """
        if self.objective == "mlm" or self.weight_sharing == "all":
            return self.discriminator_sizes()
        hidden_dim = int(round(self.hidden_dim * self.generator_hidden_fraction))
        return dict(
            hidden_dim=hidden_dim,
            num_layers=int(round(self.num_layers * self.generator_layer_fraction)),
            num_heads=max(1, hidden_dim // 64),
            intermediate_dim=4 * hidden_dim,
            # An untied generator gets its own embeddings at its own width, as the original.
            embedding_dim=hidden_dim if self.weight_sharing == "none" else self.embedding_dim,
        )

    def discriminator_sizes(self):
        return dict(
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            intermediate_dim=self.intermediate_dim,
            embedding_dim=self.embedding_dim,
        )

    def max_predictions(self, sequence_length=None):
        """Masked slots per sequence: 19 at 0.15/128, 79 at 0.15/512, 130 at 0.25/512."""
        if self.max_predictions_per_seq is not None:
            return self.max_predictions_per_seq
        sequence_length = sequence_length or self.sequence_length
        return int((self.mask_prob + 0.005) * sequence_length)

    # ------------------------------------------------------------------ validation
    def _validate(self):
        def fail(field, expected):
            value = getattr(self, field)
            raise ValueError(f"ElectraConfig.{field}={value!r} is invalid: expected {expected}.")

        for field in (
            "vocabulary_size",
            "embedding_dim",
            "hidden_dim",
            "num_layers",
            "num_heads",
            "intermediate_dim",
            "max_sequence_length",
            "num_segments",
            "sequence_length",
        ):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(field, "a positive integer")
        if self.hidden_dim % self.num_heads:
            fail("hidden_dim", f"a multiple of num_heads={self.num_heads}")
        for field in ("dropout", "mask_token_rate", "random_token_rate"):
            if not 0.0 <= getattr(self, field) <= 1.0:
                fail(field, "a rate in [0, 1]")
        if self.mask_token_rate + self.random_token_rate > 1.0:
            fail("random_token_rate", f"at most 1 - mask_token_rate = {1 - self.mask_token_rate}")
        if not 0.0 < self.mask_prob < 1.0:
            fail("mask_prob", "a probability in (0, 1)")
        for field in ("generator_hidden_fraction", "generator_layer_fraction"):
            if not 0.0 < getattr(self, field) <= 1.0:
                fail(field, "a fraction in (0, 1]")
        if self.objective not in OBJECTIVES:
            fail("objective", f"one of {OBJECTIVES}")
        if self.weight_sharing not in WEIGHT_SHARING:
            fail("weight_sharing", f"one of {WEIGHT_SHARING}")
        if self.weight_sharing == "all" and self.generator_hidden_fraction != 1.0:
            fail(
                "generator_hidden_fraction",
                "1.0 when weight_sharing='all' (one encoder serves as both networks)",
            )
        if self.sequence_length > self.max_sequence_length:
            fail("sequence_length", f"at most max_sequence_length={self.max_sequence_length}")
        if not self.temperature > 0:
            fail("temperature", "a positive number")
        for field in ("generator_loss_weight", "discriminator_loss_weight"):
            if not math.isfinite(getattr(self, field)) or getattr(self, field) < 0:
                fail(field, "a finite number >= 0")
        for field in ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id"):
            if not 0 <= getattr(self, field) < self.vocabulary_size:
                fail(field, f"a token id in [0, vocabulary_size={self.vocabulary_size})")
        if self.max_predictions_per_seq is not None and not (
            1 <= self.max_predictions_per_seq <= self.sequence_length
        ):
            fail("max_predictions_per_seq", f"None or in [1, sequence_length={self.sequence_length}]")
        gen = self.generator_sizes()
        if gen["hidden_dim"] < 1 or gen["num_layers"] < 1:
            fail("generator_hidden_fraction", f"a fraction that leaves a generator (got {gen})")
