"""Unlearning methods behind one interface (:class:`UnlearningMethod`), Retrain as the reference.

* :mod:`.base`: :class:`UnlearningMethod` (``fit(split)``, ``model``, ``forget(request)``) and
  :class:`UnlearnResult` (the unlearned model, wall seconds by phase, device, what was touched);
* :mod:`.retrain`: :class:`Retrain`, the same backbone trained from scratch on ``D \\ D_f``;
* :mod:`.partition`: random, UBP, IBP and InBP partitions (RecEraser Eq. 1-4);
* :mod:`.aggregation`: mean, static and attention aggregators (RecEraser Eq. 5-8);
* :mod:`.sharded`: :class:`SISA`, :class:`RecEraser` and the general :class:`ShardedUnlearning`;
* :mod:`.experiment`: :func:`unlearning_experiment`, fit / forget / compare with Retrain (the CLI's ``unlearn``).
"""

from __future__ import annotations

from typing import Any

from .aggregation import (AGGREGATIONS, Aggregator, AttentionAggregator, FrozenEmbeddings, MeanAggregator,
                          StaticAggregator, make_aggregator)
from .base import UnlearningMethod, UnlearnResult, one_at_a_time
from .partition import (PARTITIONS, Partition, balanced_assign, balanced_partition, history_concentration,
                        make_partition, max_shard_size, random_partition)
from .experiment import MODES, unlearning_experiment
from .retrain import Retrain
from .sharded import (RecEraser, ShardedUnlearning, ShardJob, SISA, SubModel, pretrained_embeddings, shard_seed,
                      train_shard)

METHODS: tuple[str, ...] = ("retrain", "sisa", "receraser")


def make_method(name: str, backbone: str = "bpr", **kwargs: Any) -> UnlearningMethod:
    """An unlearning method by name: ``retrain``, ``sisa`` or ``receraser`` (sharded keywords for the latter two)."""
    if name == "retrain":
        return Retrain(backbone, **kwargs)
    if name == "sisa":
        return SISA(backbone, **kwargs)
    if name == "receraser":
        return RecEraser(backbone, **kwargs)
    raise ValueError(f"unknown unlearning method {name!r}; choose one of {', '.join(METHODS)}")


__all__ = ["MODES", "unlearning_experiment", "AGGREGATIONS", "Aggregator", "AttentionAggregator", "FrozenEmbeddings", "METHODS", "MeanAggregator",
           "PARTITIONS", "Partition", "RecEraser", "Retrain", "SISA", "ShardJob", "ShardedUnlearning",
           "StaticAggregator", "SubModel", "UnlearnResult", "UnlearningMethod", "balanced_assign",
           "balanced_partition", "history_concentration", "make_aggregator", "make_method", "make_partition",
           "max_shard_size", "one_at_a_time", "pretrained_embeddings", "random_partition", "shard_seed",
           "train_shard"]
