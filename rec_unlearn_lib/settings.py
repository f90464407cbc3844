"""Profiles and the settings they fix, as frozen dataclasses, resolved once per run.

Every notebook and command runs in one of two *profiles* (the registry :data:`PROFILES`):

``quick``
    CPU, small data and few epochs; what the notebooks run by default and their tests execute (minutes).
``full``
    The papers' scale, meant for one GPU.

The profile is chosen by the ``REC_UNLEARN_PROFILE`` environment variable (or an explicit
argument), never by editing code. A method or command resolves profile, seed and device once,
into a frozen :class:`Runtime`: the environment is read in one place (:func:`get_profile`).

* :class:`Profile`: what a profile fixes (its data set, backbone and sharding settings);
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
import os
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import pandas as pd
import torch

from .config import check_seed, default_device, torch_generator
from .models import MODELS, OBJECTIVES, build_model, trainable_models
from .models.objectives import SAMPLINGS
from .models.base import Recommender
from .registry import Registry, UnknownChoiceError

PROFILE_ENV = "REC_UNLEARN_PROFILE"

@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimiser: its class and the options it takes on a GPU.

    Attributes:
        cls: the :class:`torch.optim.Optimizer` subclass.
        gpu_options: extra keyword arguments on a CUDA device (a fused kernel: one launch a step).
        graphable: it can run inside a captured CUDA graph (``capturable=True``).
    """

    cls: type[torch.optim.Optimizer]
    gpu_options: dict[str, Any]
    graphable: bool


CUDA_GRAPH_ENV = "REC_UNLEARN_CUDA_GRAPH"
COMPILE_ENV = "REC_UNLEARN_COMPILE"


OPTIMIZERS: Registry[OptimizerSpec] = Registry("optimizer")
OPTIMIZERS.add("adam", OptimizerSpec(torch.optim.Adam, {"fused": True}, True), "Adam (the book's default)")
OPTIMIZERS.add("adagrad", OptimizerSpec(torch.optim.Adagrad, {"foreach": True}, False), "AdaGrad (RecEraser's paper)")


class _Settings:
    """Shared behaviour of the frozen settings classes: checked ``replace`` and ``as_dict``."""

    kind: ClassVar[str] = "settings"

    def replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` applied.

        Raises:
            ValueError: a key is not a field (the message lists the unknown keys).
        """
        unknown = set(changes) - {f.name for f in fields(self)}  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown {self.kind} setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-friendly dict (a device as its name)."""
        return {k: str(v) if isinstance(v, torch.device) else v
                for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]


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
        cuda_graph: on a GPU, record one training step as a CUDA graph and replay it for every
            batch of the same shape (:class:`~rec_unlearn_lib.training.TrainStep`); needs a
            graphable optimiser (Adam). Ignored on the CPU. Default on, off where
            ``$REC_UNLEARN_CUDA_GRAPH`` is ``0`` (eager steps everywhere, e.g. to debug).
        compile: on a GPU, fuse the loss and its backward pass into a few kernels with
            :func:`torch.compile` before the step is recorded (fewer, larger kernels a step).
            Off by default, on where ``$REC_UNLEARN_COMPILE`` is ``1``: compiling takes tens of
            seconds per model, and a new model compiles again. Ignored on the CPU.
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
    device: torch.device | str | None = None
    progress: bool = True
    cuda_graph: bool = dataclasses.field(default_factory=lambda: os.environ.get(CUDA_GRAPH_ENV, "1") != "0")
    compile: bool = dataclasses.field(default_factory=lambda: os.environ.get(COMPILE_ENV, "0") == "1")

    def __post_init__(self) -> None:
        OPTIMIZERS.check(self.optimizer)
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.patience < 0:
            raise ValueError(f"lr must be positive and patience non-negative, got {self.lr}, {self.patience}")
        object.__setattr__(self, "device", default_device(self.device))

    @property
    def graphed(self) -> bool:
        """Whether training steps are replayed from a CUDA graph (a GPU, ``cuda_graph``, a graphable optimiser)."""
        return self.cuda_graph and self.device.type == "cuda" and OPTIMIZERS[self.optimizer].graphable

    @property
    def compiled(self) -> bool:
        """Whether the loss is compiled with :func:`torch.compile` (a GPU and ``compile``)."""
        return self.compile and self.device.type == "cuda"

    def make_optimizer(self, params, capturable: bool = False) -> torch.optim.Optimizer:
        """The configured optimiser over ``params`` (fused on a GPU; ``capturable`` to run inside a CUDA graph)."""
        spec = OPTIMIZERS[self.optimizer]
        options = spec.gpu_options if self.device.type == "cuda" else {}
        return spec.cls(params, lr=self.lr, **options, **({"capturable": True} if capturable else {}))


@dataclass(frozen=True)
class BackboneSettings(_Settings):
    """A backbone's model and training settings.

    Model: ``emb_dim`` (d), ``num_layers`` (LightGCN's K), ``reg`` (L2 weight), ``num_negatives``
    (negatives per positive: BCE on implicit data, BPR's triplets; ``None``: the objective's own, 4 for BCE
    as NCF, 1 for BPR as RecEraser and LightGCN), ``sampling`` (BPR: fresh
    negatives each ``"epoch"`` or one ``"fixed"`` triplet set, :data:`~rec_unlearn_lib.models.objectives.SAMPLINGS`),
    ``c0`` (WMF's weight of unobserved pairs), ``objective`` (``None``: the backbone's own),
    ``init_std`` (standard deviation of the initial embeddings). Training: the fields of
    :class:`TrainConfig` of the same names (``metric``: ``None`` selects on the protocol's).
    """

    kind: ClassVar[str] = "backbone"
    MODEL_FIELDS: ClassVar[tuple[str, ...]] = ("emb_dim", "num_layers", "reg", "num_negatives", "c0", "sampling",
                                               "objective", "init_std")
    TRAIN_FIELDS: ClassVar[tuple[str, ...]] = ("epochs", "lr", "batch_size", "optimizer", "eval_every", "patience",
                                               "metric")

    emb_dim: int = 64
    num_layers: int = 3
    reg: float = 1e-4
    num_negatives: int | None = None
    c0: float = 0.2
    sampling: str = "epoch"
    objective: str | None = None
    init_std: float = 0.1
    epochs: int = 30
    lr: float = 1e-2
    batch_size: int = 2048
    optimizer: str = "adam"
    eval_every: int = 1
    patience: int = 3
    metric: str | None = None

    def __post_init__(self) -> None:
        if self.emb_dim < 1 or self.num_layers < 0 or (self.num_negatives or 1) < 1 or self.reg < 0:
            raise ValueError(f"need emb_dim >= 1, num_layers >= 0, num_negatives >= 1 and reg >= 0, got "
                             f"{self.emb_dim}, {self.num_layers}, {self.num_negatives}, {self.reg}")
        if self.objective is not None:
            OBJECTIVES.check(self.objective)
        SAMPLINGS.check(self.sampling)
        self.train_config(seed=0, device="cpu")  # validates the training fields now, not at the first epoch

    def model_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`~rec_unlearn_lib.models.build_model`."""
        return {name: getattr(self, name) for name in self.MODEL_FIELDS}

    def train_config(self, seed: int, device: torch.device | str | None = None, progress: bool = False) -> TrainConfig:
        """The :class:`TrainConfig` of these settings for one run."""
        return TrainConfig(seed=seed, device=device, progress=progress,
                           **{name: getattr(self, name) for name in self.TRAIN_FIELDS})


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
        agg_reg: L2 on the aggregator's parameters, ``agg_reg / 2 * ||Theta||^2`` (twice Eq. 8's lambda).
        forget_count: interactions deleted one at a time in the Table 4 experiment (100 in the paper).
        together: train the sub-models side by side, one step for all of them
            (:func:`~rec_unlearn_lib.unlearning.sharded.train_shards_together`), instead of one after another;
            the sub-models are the same.
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
    together: bool = False

    def __post_init__(self) -> None:
        if self.num_shards < 1 or self.rounds < 1 or self.max_size_factor < 1.0:
            raise ValueError(f"need num_shards >= 1, rounds >= 1 and max_size_factor >= 1, got {self.num_shards}, "
                             f"{self.rounds}, {self.max_size_factor}")
        MODELS.subset(trainable_models(), "trained backbone").check(self.partition_backbone)


@dataclass(frozen=True)
class Profile:
    """What a profile fixes.

    Attributes:
        dataset: the data set it trains on unless told otherwise.
        backbone: the settings every backbone starts from.
        overrides: per backbone, what differs from ``backbone``.
        sharding: SISA's and RecEraser's settings.
    """

    dataset: str
    backbone: BackboneSettings
    overrides: dict[str, dict[str, Any]]
    sharding: ShardingSettings


PROFILES: Registry[Profile] = Registry("profile")
PROFILES.add("quick", Profile(
    "ml-100k",
    BackboneSettings(emb_dim=64, epochs=30, lr=1e-2, batch_size=2048, reg=1e-4, eval_every=1, patience=3),
    {"wmf": {"reg": 0.0, "batch_size": 256, "lr": 3e-2},            # WMF's batches count users
     "lightgcn": {"epochs": 20, "batch_size": 8192, "lr": 5e-2}},   # one graph propagation per 8192 triplets
    ShardingSettings()),
    "CPU, small data (ML-100K), few epochs: minutes (the default)")
PROFILES.add("full", Profile(
    "receraser-ml-1m",
    BackboneSettings(emb_dim=64, epochs=1000, lr=1e-3, batch_size=2048, reg=1e-4, eval_every=5, patience=10),
    {"wmf": {"lr": 5e-3, "reg": 0.0, "batch_size": 256}},
    ShardingSettings(agg_epochs=50, agg_patience=10, agg_batch_size=None, forget_count=100)),
    "the papers' scale (RecEraser's ML-1M: d = 64, 3 LightGCN layers, up to 1000 epochs), meant for one GPU")


PROFILES.add("receraser", Profile(
    "receraser-ml-1m",
    # RecEraser section 5.1.4: AdaGrad, lr 0.05, batch 512, d = 64, at most 1000 epochs, early stopping after
    # 10 epochs without improvement (here: evaluated every 5 epochs, patience 2). The paper gives no L2
    # weights or initialisation: those are the official code's (README: reg 0.01 for BPR, 1e-3 for LightGCN;
    # WMF has none; N(0, 0.01) initial embeddings).
    BackboneSettings(emb_dim=64, epochs=1000, lr=0.05, optimizer="adagrad", batch_size=512, reg=1e-2,
                     init_std=0.01, eval_every=5, patience=2),
    {"wmf": {"reg": 0.0}, "lightgcn": {"reg": 1e-3}},
    # the official code: the aggregator at most 50 epochs, evaluated every epoch, patience 10, the
    # backbone's optimiser, learning rate and batch
    ShardingSettings(attention_size=32, agg_epochs=50, agg_patience=10, agg_batch_size=None, forget_count=100)),
    "RecEraser's published settings on its ML-1M split (AdaGrad, lr 0.05, batch 512): Table 3 as printed")


PROFILES.add("ubpr", Profile(
    "receraser-ml-1m",
    # UBPR section IV.1.4: d = 8, Adam, batch 4096, lr 0.01, lambda = 1e-3, 50 epochs, the epoch of the best
    # NDCG@10 kept (every epoch evaluated, no early stop), 4 negatives per interaction drawn once (Table 2);
    # SISA and RecEraser with 5 shards and the backbone's settings
    BackboneSettings(emb_dim=8, epochs=50, lr=1e-2, optimizer="adam", batch_size=4096, reg=1e-3, num_negatives=4,
                     sampling="fixed", eval_every=1, patience=0, metric="ndcg@10"),
    {"wmf": {"reg": 0.0, "sampling": "epoch", "batch_size": 256}, "mf": {"sampling": "epoch", "num_negatives": None}},
    ShardingSettings(num_shards=5, agg_epochs=50, agg_patience=10, agg_batch_size=None)),
    "UBPR's published settings (BPR-MF, d = 8, 4 fixed negatives per interaction, 50 epochs) on RecEraser's ML-1M")


def get_profile(profile: str | None = None) -> str:
    """The active profile: ``profile`` if given, else ``$REC_UNLEARN_PROFILE``, else ``quick``.

    Case and surrounding blanks are ignored (``" Full"`` is ``full``).

    Raises:
        UnknownChoiceError: the name is not one of :data:`PROFILES`.
    """
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "quick")
    try:
        return PROFILES.check(name.strip().lower())
    except UnknownChoiceError as err:
        raise UnknownChoiceError(f"{err} (argument or ${PROFILE_ENV})") from None


def default_dataset(profile: str | None = None) -> str:
    """The data set ``profile`` trains on unless told otherwise (ML-100K quick, RecEraser's ML-1M full)."""
    return PROFILES[get_profile(profile)].dataset


def backbone_settings(model: str, profile: str | None = None) -> BackboneSettings:
    """The settings of backbone ``model`` in ``profile`` (default ``$REC_UNLEARN_PROFILE``).

    Raises:
        UnknownChoiceError: unknown model or profile.
    """
    MODELS.check(model)
    spec = PROFILES[get_profile(profile)]
    return spec.backbone.replace(**spec.overrides.get(model, {}))


def settings_table(profile: str | None = None) -> pd.DataFrame:
    """One row per trainable backbone, one column per setting, for ``profile``, as the backbone is built: the
    objective and its negatives per positive resolved (``None`` in the settings: the backbone's own), ``-`` where
    a setting does not apply (layers beyond LightGCN, ``c0`` beyond WMF's loss, negatives and sampling beyond
    the sampled losses), and ``metric`` ``None`` written as the protocol's."""
    rows = {}
    for name in trainable_models():
        settings = backbone_settings(name, profile)
        model = make_backbone(name, 1, 1, settings, seed=0)
        built = {"num_layers": model, "num_negatives": model.objective, "c0": model.objective,
                 "sampling": model.objective}
        row = settings.as_dict()
        for field, owner in built.items():
            row[field] = getattr(owner, field, "-")
        rows[name] = {**row, "objective": model.objective.name, "metric": settings.metric or "the protocol's"}
    return pd.DataFrame(rows).T


def make_backbone(name: str, num_users: int, num_items: int, settings: BackboneSettings, seed: int) -> Recommender:
    """A freshly initialised backbone ``name`` with ``settings``, initialised from its own generator.

    The same ``(name, settings, seed)`` always gives the same initial parameters, whatever ran
    before (no global generator is read or reseeded): the seed policy of every backbone, of
    Retrain and of every sub-model.
    """
    return build_model(name, num_users, num_items, generator=torch_generator(seed), **settings.model_kwargs())


def sharding_settings(profile: str | None = None) -> ShardingSettings:
    """The SISA / RecEraser settings of ``profile`` (default ``$REC_UNLEARN_PROFILE``)."""
    return PROFILES[get_profile(profile)].sharding


@dataclass(frozen=True)
class Runtime:
    """Profile, seed and device of one run, resolved once.

    Attributes:
        profile: a name of :data:`PROFILES` (validated, lower case).
        seed: non-negative; seeds every initialisation and every epoch's sampling.
        device: a :class:`torch.device` that exists on this machine.
    """

    profile: str
    seed: int
    device: torch.device

    @classmethod
    def resolve(cls, profile: str | None = None, seed: int = 0,
                device: str | torch.device | None = None) -> "Runtime":
        """Read the environment where an argument is ``None`` (see :func:`get_profile`, :func:`default_device`)."""
        return cls(get_profile(profile), check_seed(seed), default_device(device))
