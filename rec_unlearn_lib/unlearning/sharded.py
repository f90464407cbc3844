"""SISA and RecEraser: exact unlearning by sharding.

Training (RecEraser Fig. 2): partition the training data into ``K`` disjoint shards
(:mod:`.partition`), train one sub-model per shard from scratch, then combine them with an
aggregator (:mod:`.aggregation`) trained on all training data with the sub-models frozen.

Forgetting: the rows of the request are removed from their shards (the partition of every
other row is kept), each shard that held one of them is retrained from scratch with the same
seed, and the aggregator is retrained from scratch on the remaining data. Nothing else saw the
erased rows, so the result is exactly what training on ``D \\ D_f`` with this partition gives.
Both costs are measured apart (RecEraser Table 4).

The shard loop is one seam: :func:`train_shard` takes a picklable :class:`ShardJob` and
returns a :class:`SubModel`; ``ShardedUnlearning(shard_map=...)`` decides how the jobs run
(``map`` by default; :func:`rec_unlearn_lib.parallel.ray_shard_map` trains them as Ray tasks,
on this machine or a cluster). With the sharding setting ``together``, :func:`train_shards_together`
trains the jobs side by side instead, one optimisation step for all sub-models (the same sub-models).

One caveat the papers share: the balanced partitions are computed from embeddings pre-trained
on all of ``D`` (including rows later forgotten). The book, like RecEraser, keeps the partition
after a deletion; strictly, the *assignment* of the remaining rows still depends on ``D_f``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from ..config import torch_generator
from ..interactions import Interactions
from ..models import MODELS, make_objective
from ..models.base import InnerProductModel, Recommender
from ..models.lightgcn import LightGCN
from ..settings import BackboneSettings, ShardingSettings, TrainConfig, backbone_settings, make_backbone, \
    sharding_settings
from ..splits import Split
from ..timing import timed
from ..training import TrainResult, fit, fit_together
from .aggregation import AGGREGATIONS, Aggregator, FrozenEmbeddings, make_aggregator
from .base import METHODS, UnlearningMethod
from .partition import PARTITIONS, Partition, make_partition

ShardMap = Callable[[Callable[["ShardJob"], "SubModel"], Iterable["ShardJob"]], Iterable["SubModel"]]


def shard_seed(seed: int, shard: int) -> int:
    """The seed of sub-model ``shard``: fixed per shard, so a retrained shard starts from the same initialisation."""
    return seed * 1000 + shard + 1


@dataclass
class ShardJob:
    """Everything needed to train one sub-model (picklable, no shared state).

    Attributes:
        shard: shard index ``k``.
        backbone: backbone name; settings: its model and training settings.
        train: the shard's interactions (full id space). Validation masks these rows only, the
            only training data the sub-model sees: its selection (best epoch) does not depend on
            other shards, so a shard that keeps its rows after a deletion is exactly the sub-model a
            fresh fit on ``D \\ D_f`` gives.
        split: for validation (``split.valid``) and the id-space sizes.
        seed: the sub-model's seed (:func:`shard_seed`).
        device: where to train.
    """

    shard: int
    backbone: str
    settings: BackboneSettings
    train: Interactions
    split: Split
    seed: int
    device: torch.device


@dataclass
class SubModel:
    """A trained sub-model, kept as its final representations and layer-0 embeddings (CPU) and what its shard
    covers.

    Attributes:
        user_reps: float [U, d]; item_reps: float [I, d]: the final representations (the score's).
        user_ego: float [U, d]; item_ego: float [I, d]: the layer-0 embeddings (for a backbone without
            propagation, the same tensors as the representations).
        user_seen: bool [U]; item_seen: bool [I]: nodes with at least one interaction in the shard.
        seconds: wall time of the training (optimisation + validation).
        best_epoch, epochs_run: from early stopping.
    """

    shard: int
    user_reps: torch.Tensor
    item_reps: torch.Tensor
    user_ego: torch.Tensor
    item_ego: torch.Tensor
    user_seen: np.ndarray
    item_seen: np.ndarray
    seconds: float
    best_epoch: int
    epochs_run: int

    @classmethod
    def of(cls, job: ShardJob, model: Recommender, seconds: float, result: TrainResult) -> "SubModel":
        """The sub-model ``model`` trained for ``job``, kept as CPU copies of its tables."""
        users, items = frozen_representations(model)
        if isinstance(model, LightGCN):
            user_ego, item_ego = (t.detach().cpu().clone() for t in (model.user_emb, model.item_emb))
        else:
            user_ego, item_ego = users, items
        return cls(job.shard, users, items, user_ego, item_ego, job.train.user_counts() > 0,
                   job.train.item_counts() > 0, seconds, result.best_epoch, int(result.history["epoch"].max()))

    def recommender(self) -> FrozenEmbeddings:
        """This sub-model alone, as a recommender (unseen nodes keep their raw representations)."""
        return FrozenEmbeddings(self.user_reps, self.item_reps)


def frozen_representations(model: Recommender) -> tuple[torch.Tensor, torch.Tensor]:
    """Detached CPU copies of ``model``'s final ``(users [U, d], items [I, d])`` representations."""
    if not isinstance(model, InnerProductModel):
        raise TypeError(f"{type(model).__name__} has no user and item representations to shard or partition")
    with torch.no_grad():
        users, items = model.representations()
    return users.detach().cpu().clone(), items.detach().cpu().clone()


def train_shard(job: ShardJob) -> SubModel:
    """Train one sub-model from scratch on its shard: the unit of work of the shard loop."""
    with timed(job.device) as clock:
        model = make_backbone(job.backbone, job.split.num_users, job.split.num_items, job.settings, job.seed)
        result = fit(model, job.split, job.settings.train_config(job.seed, job.device), job.train)
    return SubModel.of(job, model, clock.seconds, result)


def train_shards_together(jobs: Sequence[ShardJob]) -> list[SubModel]:
    """The jobs' sub-models trained side by side (:func:`~rec_unlearn_lib.training.fit_together`): the same
    sub-models as :func:`train_shard` gives one job at a time, with one step for all of them instead of one
    per sub-model. A sub-model's ``seconds`` are its share of the joint run: the joint epochs it took part in
    and its own validation."""
    jobs = list(jobs)
    if not jobs:
        return []
    models = [make_backbone(j.backbone, j.split.num_users, j.split.num_items, j.settings, j.seed) for j in jobs]
    results = fit_together(models, jobs[0].split, [j.settings.train_config(j.seed, j.device) for j in jobs],
                           [j.train for j in jobs], desc=f"{len(jobs)} sub-models")
    return [SubModel.of(job, model, result.seconds, result) for job, model, result in zip(jobs, models, results)]


def pretrained_embeddings(split: Split, train: Interactions | None = None, backbone: str = "wmf",
                          profile: str | None = None, seed: int = 0, device: str | torch.device | None = None,
                          **overrides: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(users [U, d], items [I, d])`` final representations of ``backbone`` trained on ``train``.

    RecEraser partitions on WMF embeddings (any backbone's are allowed).
    """
    settings = backbone_settings(backbone, profile).replace(**overrides)
    train = split.train if train is None else train
    model = make_backbone(backbone, split.num_users, split.num_items, settings, seed)
    fit(model, split, settings.train_config(seed, device), train)
    users, items = frozen_representations(model)
    return users.numpy(), items.numpy()


def aggregation_unsupported(aggregation: str, backbone: str) -> str | None:
    """Why ``aggregation`` cannot combine sub-models of ``backbone``, or ``None``: one that propagates the
    sub-models' layer-0 embeddings over the training graph needs LightGCN sub-models."""
    if AGGREGATIONS[aggregation].reads == "layer-0" and backbone != "lightgcn":
        return (f"aggregation {aggregation!r} propagates the sub-models' layer-0 embeddings over the training "
                f"graph: it needs LightGCN sub-models, not {backbone!r}")
    return None


class ShardedUnlearning(UnlearningMethod):
    """Sharded exact unlearning: a partition, one sub-model per shard, an aggregator.

    Args:
        backbone: sub-model backbone (``mf``, ``bpr``, ``wmf``, ``lightgcn``).
        num_shards: ``K`` (default: the profile's, :class:`~rec_unlearn_lib.settings.ShardingSettings`).
        partition: a name of :data:`~.partition.PARTITIONS`.
        aggregation: a name of :data:`~.aggregation.AGGREGATIONS`.
        profile, seed, device, settings: as :class:`~.base.UnlearningMethod`.
        embeddings: ``(users, items)`` pre-trained embeddings for the balanced partitions; by
            default ``partition_backbone`` (WMF) is trained on the training data in :meth:`fit`.
        shard_map: how the shard jobs run (``map``: one after another; with ``sharding={"together": True}``
            they are trained side by side in this process instead, :func:`train_shards_together`).
        sharding: overrides of the profile's :class:`~rec_unlearn_lib.settings.ShardingSettings` (e.g. ``rounds=10``).
        overrides: backbone settings (e.g. ``emb_dim=32``), shared by sub-models and Retrain.
    """

    name = "sharded"
    options = ("num_shards", "partition", "aggregation", "sharding")

    def __init__(self, backbone: str = "bpr", num_shards: int | None = None, partition: str = "inbp",
                 aggregation: str = "attention", profile: str | None = None, seed: int = 0,
                 device: str | torch.device | None = None, embeddings: tuple[np.ndarray, np.ndarray] | None = None,
                 shard_map: ShardMap = map, sharding: dict[str, Any] | None = None, **overrides: Any) -> None:
        super().__init__(backbone, profile, seed, device, **overrides)
        self.partition_method = PARTITIONS.check(partition)
        self.aggregation = self._check_aggregation(aggregation)
        changes = dict(sharding or {})
        if num_shards is not None:
            changes["num_shards"] = num_shards
        self.sharding: ShardingSettings = sharding_settings(self.profile).replace(**changes)
        if self.sharding.together and shard_map is not map:
            raise ValueError("sub-models trained together run in this process: leave shard_map as map "
                             "(or set sharding together=False to train them through the shard_map)")
        self.embeddings = embeddings
        self.shard_map = shard_map
        self.partition: Partition | None = None
        self.submodels: list[SubModel] = []

    @property
    def num_shards(self) -> int:
        return self.sharding.num_shards

    def _check_aggregation(self, aggregation: str) -> str:
        """``aggregation``, validated (:func:`aggregation_unsupported`)."""
        reason = aggregation_unsupported(AGGREGATIONS.check(aggregation), self.backbone)
        if reason:
            raise ValueError(reason)
        return aggregation

    def describe(self) -> dict[str, Any]:
        return {"num_shards": self.num_shards, "partition": self.partition_method, "aggregation": self.aggregation}

    # ------------------------------------------------------------------ training
    def fit(self, split: Split, train: Interactions | None = None) -> "ShardedUnlearning":
        self._split = split
        self._train = split.train if train is None else train
        seconds: dict[str, float] = {}
        if self.partition_method != "random" and self.embeddings is None:
            extra = {} if self.sharding.partition_epochs is None else {"epochs": self.sharding.partition_epochs}
            with timed(self.device) as clock:
                self.embeddings = pretrained_embeddings(split, self._train, self.sharding.partition_backbone,
                                                        self.profile, self.seed, self.device, **extra)
            seconds["embeddings"] = clock.seconds
        users, items = self.embeddings if self.embeddings is not None else (None, None)
        with timed(self.device) as clock:
            self.partition = make_partition(self._train, self.partition_method, self.num_shards, users, items,
                                            self.sharding.max_size_factor, self.sharding.rounds, self.seed)
        seconds["partition"] = clock.seconds
        seconds["shards"], self.submodels = self._train_shards(range(self.num_shards))
        seconds["aggregator"], self._model = self._train_aggregator()
        self.fit_seconds = seconds
        return self

    def shard_jobs(self, shards: Iterable[int]) -> list[ShardJob]:
        """The jobs that (re)train the given shards on their current data."""
        partition = self._fitted(self.partition)
        return [ShardJob(k, self.backbone, self.settings, self.train.subset(partition.rows(k)), self.split,
                         shard_seed(self.seed, k), self.device) for k in shards]

    def _train_shards(self, shards: Iterable[int]) -> tuple[float, list[SubModel]]:
        with timed(self.device) as clock:
            jobs = self.shard_jobs(shards)
            trained = train_shards_together(jobs) if self.sharding.together else list(self.shard_map(train_shard, jobs))
        return clock.seconds, trained

    def aggregator_config(self) -> TrainConfig:
        """The aggregator's training run: the backbone's, with the sharding settings' epochs, patience, lr, batch."""
        base = self.settings.train_config(self.seed, self.device)
        return base.replace(epochs=self.sharding.agg_epochs, patience=self.sharding.agg_patience, eval_every=1,
                            lr=self.sharding.agg_lr or base.lr,
                            batch_size=self.sharding.agg_batch_size or base.batch_size)

    def _train_aggregator(self) -> tuple[float, Aggregator]:
        with timed(self.device) as clock:
            subs = sorted(self.submodels, key=lambda s: s.shard)
            objective = make_objective(self.settings.objective or str(MODELS[self.backbone].objective), 0.0,
                                       self.settings.num_negatives, self.settings.c0, self.settings.sampling)
            layer0 = AGGREGATIONS[self.aggregation].reads == "layer-0"
            agg = make_aggregator(self.aggregation, torch.stack([s.user_ego if layer0 else s.user_reps for s in subs]),
                                  torch.stack([s.item_ego if layer0 else s.item_reps for s in subs]),
                                  torch.as_tensor(np.stack([s.user_seen for s in subs])),
                                  torch.as_tensor(np.stack([s.item_seen for s in subs])), objective,
                                  self.sharding.agg_reg, self.sharding.attention_size, torch_generator(self.seed),
                                  self.settings.num_layers)
            agg.to(self.device)
            agg.fit_data(self.train)          # also for the untrained mean: users left without data rank by popularity
            self.aggregator_result = None
            if any(p.requires_grad for p in agg.parameters()):
                self.aggregator_result = fit(agg, self.split, self.aggregator_config(), self.train)
        return clock.seconds, agg

    # ------------------------------------------------------------------ forgetting
    def _forget_rows(self, rows: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        """Retrain the shards that held ``rows`` and the aggregator. All or nothing: if a shard's training
        fails (e.g. a cluster task), the method keeps its earlier data, partition and models."""
        partition = self._fitted(self.partition)
        shards = sorted(int(k) for k in np.unique(partition.assignment[rows]))
        before = (self._train, self.partition, self.submodels, self._model, self.aggregator_result)
        try:
            self.partition = partition.remove(self.train, rows)
            self._train = self.train.drop(rows)
            shard_seconds, retrained = self._train_shards(shards)
            by_shard = {s.shard: s for s in self.submodels}
            by_shard.update({s.shard: s for s in retrained})
            self.submodels = [by_shard[k] for k in range(self.num_shards)]
            agg_seconds, self._model = self._train_aggregator()
        except BaseException:
            self._train, self.partition, self.submodels, self._model, self.aggregator_result = before
            raise
        touched = {"shards": shards, "parameters": f"sub-models {shards} and the {self.aggregation} aggregator"}
        return touched, {"shards": shard_seconds, "aggregator": agg_seconds}

    def with_aggregation(self, aggregation: str) -> "ShardedUnlearning":
        """A copy with the same partition and sub-models and a new ``aggregation`` (only the aggregator is trained)."""
        other = copy.copy(self)
        other.aggregation, other.submodels = self._check_aggregation(aggregation), list(self.submodels)
        seconds, other._model = other._train_aggregator()
        other.fit_seconds = {**self.fit_seconds, "aggregator": seconds}
        return other


@METHODS.register("sisa", "random shards, one sub-model each, the mean of their scores (Bourtoule et al. 2021)")
class SISA(ShardedUnlearning):
    """SISA (Bourtoule et al. 2021) for recommendation: random shards, mean of the sub-models' scores."""

    name = "sisa"

    def __init__(self, backbone: str = "bpr", num_shards: int | None = None, partition: str = "random",
                 aggregation: str = "mean", **kwargs: Any) -> None:
        super().__init__(backbone, num_shards, partition, aggregation, **kwargs)


@METHODS.register("receraser", "balanced shards (InBP) and attention aggregation (Chen et al. 2022)")
class RecEraser(ShardedUnlearning):
    """RecEraser (Chen et al. 2022): balanced partition (InBP by default) and attention aggregation."""

    name = "receraser"

    def __init__(self, backbone: str = "bpr", num_shards: int | None = None, partition: str = "inbp",
                 aggregation: str = "attention", **kwargs: Any) -> None:
        super().__init__(backbone, num_shards, partition, aggregation, **kwargs)
