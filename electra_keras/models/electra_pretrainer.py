"""ElectraPretrainer: generator + discriminator + the replaced-token-detection objective."""

import keras
from keras import ops

from electra_keras import distribute, objectives
from electra_keras.config import INPUT_NAMES, ElectraConfig
from electra_keras.distribute import global_sum
from electra_keras.internals import OptimizerOnlySymbolicBuild
from electra_keras.layers import ElectraDiscriminatorHead, ElectraGDESEmbeddings, ElectraMaskedLMHead
from electra_keras.models.electra_backbone import ElectraBackbone, folded_backbone


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraPretrainer(OptimizerOnlySymbolicBuild, keras.Model):
    """ELECTRA pretraining as a Keras model: `fit` trains it on every backend.

    `call()` masks the batch (dynamic masking, in the model as the original), runs the
    generator and its MLM head at the masked positions only, samples replacements by
    Gumbel-max with no gradient, writes them in, and runs the discriminator. `compute_loss()`
    returns generator_loss_weight * MLM + discriminator_loss_weight * BCE, which Keras's own
    train step differentiates; `compute_metrics()` tracks the original's metrics.

    With `config.objective == "mlm"` the same class trains a BERT-style masked LM (dynamic
    masking, no NSP) at the discriminator's size: the paper's baseline.

    With `config.weight_sharing == "gdes"` (DeBERTaV3's gradient-disentangled embedding sharing)
    the generator owns the embedding block (`self.embeddings`) and the discriminator reads it
    through `ElectraGDESEmbeddings`, stop_gradient(block) + its own deltas; `folded_discriminator`
    gives the ordinary discriminator that computes the same, as a run saves it.

    Args:
        config: an `ElectraConfig`.
        seed: seed of the masking and sampling `SeedGenerator` (None: from the global seed).
        dtype: dtype policy, e.g. "mixed_bfloat16". Losses are computed in float32.
        freeze_token_table: keep the token tables (`token_tables()`) out of training, as
            `train.token_table = "counted_frozen"` does; saved with the pretrainer, not with
            the discriminator or backbone it gives, which fine-tune their table as usual.

    Inputs: dict of `token_ids`, `segment_ids`, `padding_mask`, each (batch, seq) int.

    Example:
    >>> import numpy as np
    >>> cfg = ElectraConfig.from_preset("tiny", vocabulary_size=200, num_layers=1)
    >>> model = ElectraPretrainer(cfg, seed=0)
    >>> batch = {"token_ids": np.full((2, 16), 7, "int32"),
    ...          "segment_ids": np.zeros((2, 16), "int32"), "padding_mask": np.ones((2, 16), "int32")}
    >>> tuple(model(batch)["disc_logits"].shape)
    (2, 16)
    """

    def __init__(self, config, seed=None, dtype=None, freeze_token_table=False, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        if isinstance(config, dict):
            config = ElectraConfig.from_dict(config)
        self.config = config
        self.seed = seed
        self.freeze_token_table = freeze_token_table
        cfg = config

        # === Layers ===
        def make_backbone(generator, embeddings, name):
            return ElectraBackbone.from_electra_config(cfg, generator, embeddings, dtype=dtype, name=name)

        electra = cfg.objective == "electra"
        if electra and cfg.weight_sharing == "gdes":
            # GDES: the generator owns the block and its MLM loss alone trains it; the
            # discriminator reads stop_gradient(block) + its own deltas.
            self.generator_backbone = make_backbone(True, None, "generator_backbone")
            self.embeddings = self.generator_backbone.embeddings
            gdes = ElectraGDESEmbeddings(self.embeddings, dtype=dtype, name="embeddings")
            self.discriminator_backbone = make_backbone(False, gdes, "discriminator_backbone")
        else:
            # The discriminator (or, for "mlm", the one encoder) owns the embedding block; under
            # "tie embeddings" the generator reuses all of it but the E->H projection.
            main = make_backbone(False, None, "discriminator_backbone" if electra else "backbone")
            self.embeddings = main.embeddings
            self.discriminator_backbone = main if electra else None
            if not electra or cfg.weight_sharing == "all":
                self.generator_backbone = main
            else:
                shared = None if cfg.weight_sharing == "none" else self.embeddings
                self.generator_backbone = make_backbone(True, shared, "generator_backbone")
        self.discriminator = None
        self.mlm_head = ElectraMaskedLMHead(
            token_embedding=self.generator_backbone.token_embedding,
            layer_norm_epsilon=cfg.layer_norm_epsilon,
            initializer_range=cfg.initializer_range,
            dtype=dtype,
            name="generator_head",
        )
        self.mlm_head.build((None, None, self.generator_backbone.hidden_dim))
        if electra:
            self.discriminator = build_discriminator(self.discriminator_backbone, dtype=dtype)
            self.discriminator_head = self.discriminator.get_layer("discriminator_head")
        self.seed_generator = keras.random.SeedGenerator(seed, name="masking_seed")
        for table in self.token_tables() if freeze_token_table else ():
            table.trainable = False

        # === Metrics (the original's `metric_fn`) ===
        self.mlm_loss_tracker = keras.metrics.Mean(name="mlm_loss")
        self.mlm_accuracy = keras.metrics.Mean(name="mlm_accuracy")
        if electra:
            self.sampled_accuracy = keras.metrics.Mean(name="sampled_accuracy")
            self.disc_loss_tracker = keras.metrics.Mean(name="disc_loss")
            self.disc_accuracy = keras.metrics.Mean(name="disc_accuracy")
            self.disc_precision = keras.metrics.Precision(name="disc_precision")
            self.disc_recall = keras.metrics.Recall(name="disc_recall")
            self.disc_auc = keras.metrics.AUC(name="disc_auc")
        self.built = True

    def token_tables(self):
        """The distinct token-embedding variables: one when generator and discriminator share
        embeddings (or under GDES, where the discriminator's view adds its own delta), two when
        they do not."""
        tables = [self.embeddings.token_embedding.embeddings, self.generator_backbone.token_embedding.embeddings]
        return [t for i, t in enumerate(tables) if all(t is not u for u in tables[:i])]

    @property
    def backbone(self):
        """The encoder to fine-tune: the discriminator's, or the MLM encoder for `mlm`."""
        if self.discriminator_backbone is not None:
            return self.discriminator_backbone
        return self.generator_backbone

    # ------------------------------------------------------------------ forward
    def call(self, inputs, training=False):
        cfg = self.config
        token_ids = ops.cast(inputs["token_ids"], "int32")
        segment_ids = ops.cast(inputs["segment_ids"], "int32")
        padding_mask = ops.cast(inputs["padding_mask"], "int32")
        seq_len = token_ids.shape[1] or cfg.sequence_length
        # The model hands the objective its random numbers: the global batch's, sliced per replica.
        draws = distribute.ReplicaDraws(self.seed_generator)
        masked = objectives.mask_tokens(
            token_ids,
            padding_mask,
            max_predictions=min(cfg.max_predictions(seq_len), seq_len),
            mask_prob=cfg.mask_prob,
            special_token_ids=(cfg.pad_token_id, cfg.cls_token_id, cfg.sep_token_id, cfg.mask_token_id),
            mask_token_id=cfg.mask_token_id,
            vocabulary_size=cfg.vocabulary_size,
            mask_token_rate=cfg.mask_token_rate,
            random_token_rate=cfg.random_token_rate,
            seed=draws,
        )
        generator_output = self.generator_backbone(
            {"token_ids": masked.token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            training=training,
        )  # (batch, seq, generator hidden)
        mlm_logits = self.mlm_head(generator_output, masked.mask_positions)  # (batch, preds, vocab)
        outputs = {
            "mlm_logits": mlm_logits,
            "mlm_nll": objectives.mlm_nll(mlm_logits, masked.mask_ids),  # (batch, preds)
            "mask_positions": masked.mask_positions,
            "mask_ids": masked.mask_ids,
            "mask_weights": masked.mask_weights,
        }
        if cfg.objective == "mlm":
            return outputs

        sampled_ids = objectives.blockwise_gumbel_sample(mlm_logits, cfg.temperature, draws)
        corrupted_ids, replaced = objectives.replace_with_samples(
            masked.token_ids, token_ids, masked.mask_positions, masked.mask_weights, sampled_ids
        )
        disc_logits = self.discriminator(
            {"token_ids": corrupted_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            training=training,
        )  # (batch, seq)
        outputs.update(
            sampled_ids=sampled_ids,
            corrupted_ids=corrupted_ids,
            replaced_labels=replaced,
            disc_logits=disc_logits,
            disc_bce=objectives.rtd_bce(disc_logits, replaced),  # (batch, seq)
        )
        return outputs

    # ------------------------------------------------------------------ objective
    def _named_losses(self, x, y_pred):
        # The per-slot and per-token terms come from call(), so compute_loss and
        # compute_metrics only average them (no second softmax over the vocabulary).
        # Under tf.distribute each replica returns its share of the global batch's mean
        # (`global_sum` is the identity elsewhere), so the summed gradients do not depend
        # on the number of replicas.
        losses = {"mlm_loss": objectives.weighted_mean(y_pred["mlm_nll"], y_pred["mask_weights"], global_sum)}
        if self.config.objective == "electra":
            losses["disc_loss"] = objectives.weighted_mean(y_pred["disc_bce"], x["padding_mask"], global_sum)
        return losses

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        losses = self._named_losses(x, y_pred)
        total = self.config.generator_loss_weight * losses["mlm_loss"]
        if "disc_loss" in losses:
            total = total + self.config.discriminator_loss_weight * losses["disc_loss"]
        for extra in self.losses:  # regularizers, if a user adds any
            total = total + ops.cast(extra, "float32")
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        losses = {k: global_sum(v) for k, v in self._named_losses(x, y_pred).items()}  # global means
        mask_weights = y_pred["mask_weights"]
        mlm_predictions = ops.cast(ops.argmax(y_pred["mlm_logits"], axis=-1), "int32")
        self.mlm_loss_tracker.update_state(losses["mlm_loss"])
        self.mlm_accuracy.update_state(
            ops.cast(ops.equal(mlm_predictions, y_pred["mask_ids"]), "float32"), mask_weights
        )
        if self.config.objective == "electra":
            padding = ops.cast(x["padding_mask"], "float32")
            labels = y_pred["replaced_labels"]
            probs = ops.sigmoid(y_pred["disc_logits"])
            predicted = ops.cast(probs > 0.5, "int32")
            self.sampled_accuracy.update_state(
                ops.cast(ops.equal(y_pred["sampled_ids"], y_pred["mask_ids"]), "float32"),
                mask_weights,
            )
            self.disc_loss_tracker.update_state(losses["disc_loss"])
            self.disc_accuracy.update_state(
                ops.cast(ops.equal(predicted, labels), "float32"), padding
            )
            self.disc_precision.update_state(labels, probs, padding)
            self.disc_recall.update_state(labels, probs, padding)
            self.disc_auc.update_state(labels, probs, padding)
        return distribute.loggable(self.get_metrics_result())

    # ------------------------------------------------------------------ serialization
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "config": self.config.to_dict(),
            "seed": self.seed,
            **({"freeze_token_table": True} if self.freeze_token_table else {}),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(ElectraConfig.from_dict(config.pop("config")), **config)


def folded_discriminator(model):
    """The discriminator of `model` as an ordinary model, GDES deltas folded into its embeddings.

    Under weight_sharing="gdes" the discriminator's embeddings are stop_gradient(shared) +
    delta (`ElectraGDESEmbeddings`); the model returned here is `build_discriminator` over a
    plain `ElectraBackbone` whose own embedding tables and LayerNorm hold shared + delta, with
    copies of every other weight: the same logits, and what `discriminator.keras` of a run
    holds. Otherwise the discriminator itself is returned.

    Args:
        model: an `ElectraPretrainer` (objective "electra"), or a discriminator made by
            `build_discriminator`.

    Returns:
        A keras.Model: {token_ids, segment_ids, padding_mask} -> (batch, seq) float32 logits.

    Example:
    >>> import numpy as np
    >>> cfg = ElectraConfig.from_preset("tiny", vocabulary_size=200, num_layers=1, weight_sharing="gdes")
    >>> model = ElectraPretrainer(cfg, seed=0)
    >>> batch = {"token_ids": np.full((2, 16), 7, "int32"),
    ...          "segment_ids": np.zeros((2, 16), "int32"), "padding_mask": np.ones((2, 16), "int32")}
    >>> folded = keras.ops.convert_to_numpy(folded_discriminator(model)(batch))
    >>> bool(np.allclose(folded, keras.ops.convert_to_numpy(model.discriminator(batch)), atol=1e-6))
    True
    """
    discriminator = model.discriminator if isinstance(model, ElectraPretrainer) else model
    if discriminator is None:
        raise ValueError(
            f"{model.name!r} has no discriminator (objective {model.config.objective!r}); "
            "only an ELECTRA pretrainer has one to fold"
        )
    backbones = [l for l in discriminator.layers if isinstance(l, ElectraBackbone)]
    heads = [l for l in discriminator.layers if isinstance(l, ElectraDiscriminatorHead)]
    if len(backbones) != 1 or len(heads) != 1:
        raise TypeError(
            f"expected an ElectraPretrainer or a discriminator (ElectraBackbone + ElectraDiscriminatorHead), "
            f"got {type(discriminator).__name__} {discriminator.name!r}"
        )
    backbone, head = backbones[0], heads[0]
    if not backbone.is_gdes:
        return discriminator
    folded = build_discriminator(folded_backbone(backbone), dtype=head.dtype_policy)
    folded.get_layer(head.name).set_weights(head.get_weights())
    return folded


def build_discriminator(backbone, dtype=None):
    """The discriminator as a standalone model: `backbone` -> RTD head, one logit per token.

    This is the model that fine-tuning and export start from (`discriminator.keras` of a run).
    Inputs are the backbone's; the output is (batch, seq) float32 logits.
    """
    head = ElectraDiscriminatorHead(
        backbone.hidden_dim, backbone.initializer_range, dtype=dtype, name="discriminator_head"
    )
    inputs = {n: keras.Input(shape=(None,), dtype="int32", name=n) for n in INPUT_NAMES}
    return keras.Model(inputs, head(backbone(inputs)), name="discriminator")
