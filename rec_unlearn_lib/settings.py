"""Settings per profile, as frozen dataclasses, and the functions that turn them into models and runs.

* :class:`BackboneSettings`: a backbone's model and training settings (:func:`backbone_settings`
  gives a profile's, ``settings.replace(epochs=5)`` overrides one, unknown keys rejected);
* :class:`TrainConfig`: what the trainer needs for one run (the settings plus seed and device);
* :class:`ShardingSettings`: SISA's and RecEraser's settings (:func:`sharding_settings`);
* :func:`make_backbone`: a freshly initialised backbone from a name, settings and a seed;
* :data:`OPTIMIZERS`: the optimisers by name.

Every value is set here once, per profile; notebooks and commands read them, never copy them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import pandas as pd
import torch

from .config import default_device, get_profile, torch_generator
from .models import MODELS, build_model
from .models.base import Recommender
from .registry import Registry

OPTIMIZERS: Registry[type[torch.optim.Optimizer]] = Registry("optimizer")
OPTIMIZERS.add("adam", torch.optim.Adam, "Adam (the book's default)")
OPTIMIZERS.add("adagrad", torch.optim.Adagrad, "AdaGrad (RecEraser's paper)")


class _Settings:
    """Shared behaviour of the frozen settings classes: checked ``replace`` and ``as_dict``."""

    kind: ClassVar[str] = "settings"

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied.

        Raises:
            ValueError: a key is not a field (the message lists the unknown keys).
        """
        unknown = set(changes) - {f.name for f in fields(self)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown {self.kind} setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class TrainConfig(_Settings):
    """Settings of one training run (defaults: the quick profile's BPR-MF).

    Attributes:
        epochs: maximum epochs.
        batch_size: rows (or users, for WMF) per step.
        lr: learning rate.
        optimizer: a name of :data:`OPTIMIZERS`.
        eval_every: epochs between validation evaluations.
        patience: evaluations without improvement before stopping (0: never stop early).
        metric: validation metric to select on; default by protocol
            (``recall@20``, ``hr@10`` or ``auc``).
        seed: seeds every epoch's sampling (the initialisation is seeded by :func:`make_backbone`).
        device: where to train; ``None`` or a name is resolved at construction
            (:func:`~rec_unlearn_lib.config.default_device`), so the field is always a ``torch.device``.
        progress: show a tqdm bar over epochs.
    """

    kind: ClassVar[str] = "training"

    epochs: int = 30
    batch_size: int = 2048
    lr: float = 1e-2
    optimizer: str = "adam"
    eval_every: int = 1
    patience: int = 3
    metric: str | None = None
    seed: int = 0
    device: Any = None
    progress: bool = True

    def __post_init__(self) -> None:
        OPTIMIZERS.check(self.optimizer)
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.patience < 0:
            raise ValueError(f"lr must be positive and patience non-negative, got {self.lr}, {self.patience}")
        object.__setattr__(self, "device", default_device(self.device))

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        """The configured optimiser over ``params``."""
        return OPTIMIZERS[self.optimizer](params, lr=self.lr)


@dataclass(frozen=True)
class BackboneSettings(_Settings):
    """A backbone's model and training settings.

    Model: ``emb_dim`` (d), ``num_layers`` (LightGCN's K), ``reg`` (L2 weight), ``num_negatives``
    (BCE on implicit data), ``c0`` (WMF's weight of unobserved pairs), ``objective`` (``None``:
    the backbone's own). Training: the fields of :class:`TrainConfig` of the same names.
    """

    kind: ClassVar[str] = "backbone"
    MODEL_FIELDS: ClassVar[tuple[str, ...]] = ("emb_dim", "num_layers", "reg", "num_negatives", "c0", "objective")
    TRAIN_FIELDS: ClassVar[tuple[str, ...]] = ("epochs", "lr", "batch_size", "optimizer", "eval_every", "patience")

    emb_dim: int = 64
    num_layers: int = 3
    reg: float = 1e-4
    num_negatives: int = 4
    c0: float = 0.2
    objective: str | None = None
    epochs: int = 30
    lr: float = 1e-2
    batch_size: int = 2048
    optimizer: str = "adam"
    eval_every: int = 1
    patience: int = 3

    def __post_init__(self) -> None:
        self.train_config(seed=0, device="cpu")  # validates the training fields now, not at the first epoch

    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~rec_unlearn_lib.models.build_model`."""
        return {name: getattr(self, name) for name in self.MODEL_FIELDS}

    def train_config(self, seed: int, device: torch.device | str | None = None, progress: bool = False) -> TrainConfig:
        """The :class:`TrainConfig` of these settings for one run."""
        return TrainConfig(seed=seed, device=device, progress=progress,
                           **{name: getattr(self, name) for name in self.TRAIN_FIELDS})


_QUICK = BackboneSettings(emb_dim=64, epochs=30, lr=1e-2, batch_size=2048, reg=1e-4, eval_every=1, patience=3)
_FULL = BackboneSettings(emb_dim=64, epochs=1000, lr=1e-3, batch_size=2048, reg=1e-4, eval_every=5, patience=10)

PROFILE_SETTINGS: dict[str, BackboneSettings] = {"quick": _QUICK, "full": _FULL}
"""Per profile, the settings every backbone starts from.

``quick`` is tuned to run every backbone on ML-100K on 2 CPU cores in seconds; ``full``
follows RecEraser's ML-1M runs (d = 64, 3 LightGCN layers, up to 1000 epochs, validation
every 5 epochs with patience 10) with Adam at 1e-3.
"""

BACKBONE_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {"wmf": {"reg": 0.0, "batch_size": 256, "lr": 3e-2},
              "lightgcn": {"epochs": 20, "batch_size": 8192, "lr": 5e-2}},
    "full": {"wmf": {"lr": 5e-3, "reg": 0.0, "batch_size": 256}},
}
"""Per profile and backbone, what differs from :data:`PROFILE_SETTINGS` (WMF's batches count
users; quick LightGCN uses large batches: one graph propagation per 8192 triplets)."""


def backbone_settings(model: str, profile: str | None = None) -> BackboneSettings:
    """The settings of backbone ``model`` in ``profile`` (default ``$REC_UNLEARN_PROFILE``).

    Raises:
        UnknownChoiceError: unknown model or profile.
    """
    MODELS.check(model)
    profile = get_profile(profile)
    return PROFILE_SETTINGS[profile].replace(**BACKBONE_OVERRIDES[profile].get(model, {}))


def settings_table(profile: str | None = None) -> pd.DataFrame:
    """One row per trainable backbone, one column per setting, for ``profile``."""
    rows = {name: backbone_settings(name, profile).as_dict() for name in MODELS if MODELS[name].objective}
    return pd.DataFrame(rows).T


def make_backbone(name: str, num_users: int, num_items: int, settings: BackboneSettings, seed: int) -> Recommender:
    """A freshly initialised backbone ``name`` with ``settings``, initialised from its own generator.

    The same ``(name, settings, seed)`` always gives the same initial parameters, whatever ran
    before (no global generator is read or reseeded): the seed policy of every backbone, of
    Retrain and of every sub-model.
    """
    return build_model(name, num_users, num_items, generator=torch_generator(seed), **settings.model_kwargs())


@dataclass(frozen=True)
class ShardingSettings(_Settings):
    """SISA's and RecEraser's settings.

    Attributes:
        num_shards: K.
        max_size_factor: t = ``max_size_factor`` x the mean shard size (1.2, as RecEraser).
        rounds: rounds of balanced partitioning (or until the assignment stops changing).
        partition_backbone: whose embeddings are partitioned (WMF, as RecEraser).
        partition_epochs: its epochs (``None``: its profile's).
        attention_size: k, the attention network's size (Eq. 7).
        agg_epochs, agg_patience: the aggregator's epochs and early-stopping patience.
        agg_lr, agg_batch_size: its learning rate and batch size (``None``: the backbone's).
        agg_reg: lambda of Eq. 8 (L2 on the aggregator's parameters).
        forget_count: interactions deleted one at a time in the Table 4 experiment (100 in the paper).
    """

    kind: ClassVar[str] = "sharding"

    num_shards: int = 10
    max_size_factor: float = 1.2
    rounds: int = 50
    partition_backbone: str = "wmf"
    partition_epochs: int | None = None
    attention_size: int = 32
    agg_epochs: int = 3
    agg_patience: int = 0
    agg_lr: float | None = None
    agg_batch_size: int | None = 8192
    agg_reg: float = 1e-5
    forget_count: int = 3

    def __post_init__(self) -> None:
        if self.num_shards < 1:
            raise ValueError(f"num_shards must be positive, got {self.num_shards}")
        MODELS.check(self.partition_backbone)


SHARDING_SETTINGS: dict[str, ShardingSettings] = {
    "quick": ShardingSettings(),
    "full": ShardingSettings(agg_epochs=50, agg_patience=10, agg_batch_size=None, forget_count=100),
}
"""Per profile: SISA / RecEraser settings (RecEraser's official ML-1M runs in ``full``)."""


def sharding_settings(profile: str | None = None) -> ShardingSettings:
    """:data:`SHARDING_SETTINGS` of ``profile`` (default ``$REC_UNLEARN_PROFILE``)."""
    return SHARDING_SETTINGS[get_profile(profile)]

