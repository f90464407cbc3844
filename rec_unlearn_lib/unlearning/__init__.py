"""Unlearning methods behind one interface (:class:`UnlearningMethod`), Retrain as the reference.

* :mod:`.base`: :class:`UnlearningMethod` (``fit(split)``, ``model``, ``forget(request)``),
  :class:`UnlearnResult` (the unlearned model, wall seconds by phase, device, what was touched),
  and the registries :data:`METHODS` (every method by name) and :data:`MODES` (batch, sequential);
* :mod:`.retrain`: :class:`Retrain`, the same backbone trained from scratch on ``D \\ D_f``;
* :mod:`.partition`: random, UBP, IBP and InBP partitions (RecEraser Eq. 1-4);
* :mod:`.aggregation`: mean, static and attention aggregators (RecEraser Eq. 5-8), and the official
  code's LightGCN aggregator (attention over layer-0 embeddings, then propagation);
* :mod:`.sharded`: :class:`SISA`, :class:`RecEraser` and the general :class:`ShardedUnlearning`;
* :mod:`.ifru`: :class:`IFRU` and :class:`SCIF`, one influence-function step (:class:`InfluenceUnlearning`);
* :mod:`.ifru_tables`: IFRU's attack-setting evaluation (Table 2 with the completeness coefficient, seconds);
* :mod:`.ubpr`: :class:`UBPR`, the same step over BPR's fixed triplets, every embedding row;
* :mod:`.ubpr_tables`: UBPR's Table 3 with Retrain's seed spread, and its figures' measurements;
* :mod:`.reproduction`: RecEraser's Tables 3 and 4 (quality; seconds per deletion);
* :mod:`.experiment`: :func:`measure_forgetting` on a fitted method and :func:`unlearning_experiment`
  (fit, forget, compare with Retrain: the CLI's ``unlearn``).
"""

from __future__ import annotations

from typing import Any

from .aggregation import (AGGREGATIONS, Aggregator, AttentionAggregator, FrozenEmbeddings, GraphAttentionAggregator,
                          MeanAggregator, StaticAggregator, make_aggregator)
from .base import METHODS, MODES, SingleModelMethod, UnlearningMethod, UnlearnResult, one_at_a_time, sharding_caps
from .experiment import ForgettingReport, completeness, measure_forgetting, unlearning_experiment
from .partition import (PARTITIONS, Partition, balanced_assign, balanced_partition, history_concentration,
                        make_partition, max_shard_size, random_partition)
from .reproduction import (PAPER_TABLE3_ML1M, PAPER_TABLE4_ML1M, TABLE3_BACKBONES, TABLE3_KS, TABLE3_METHODS,
                           expected_shard_seconds, sharded_reproduction, table3_beside_paper,
                           table4_beside_paper)
from .retrain import Retrain
from .sharded import (RecEraser, ShardedUnlearning, ShardJob, SISA, SubModel, pretrained_embeddings, shard_seed,
                      train_shard)
from .ifru import CURVATURES, IFRU, SCIF, InfluenceUnlearning, averaged_labels  # registered after the exact methods
from .ifru_tables import (AUCS, IFRU_RATIOS, IFRU_VARIANTS, PAPER_TABLE2_AMAZON, PAPER_TABLE3_SECONDS, STEP_SCALES,
                          completeness_table, ifru_reproduction, ifru_speed_table, scaled_update, step_length_sweep)
from .ubpr import UBPR
from .ubpr_tables import (PAPER_UBPR_TABLE3, UBPR_KS, UBPR_METHODS, UBPR_RATIOS, percent, ubpr_reproduction,
                          ubpr_table3, ubpr_table3_paper,
                          user_erasure_pnpr)


def make_method(name: str, backbone: str = "bpr", **kwargs: Any) -> UnlearningMethod:
    """An unlearning method of :data:`METHODS` by name (``kwargs`` go to its constructor)."""
    return METHODS[name](backbone, **kwargs)


__all__ = ["AUCS", "CURVATURES", "IFRU_RATIOS", "IFRU_VARIANTS", "PAPER_TABLE2_AMAZON", "PAPER_TABLE3_SECONDS", "STEP_SCALES", "completeness", "completeness_table",
           "ifru_reproduction", "ifru_speed_table", "scaled_update", "step_length_sweep", "AGGREGATIONS", "Aggregator", "AttentionAggregator", "ForgettingReport", "FrozenEmbeddings", "GraphAttentionAggregator", "IFRU",
           "InfluenceUnlearning", "METHODS", "MODES", "MeanAggregator", "PARTITIONS", "Partition", "RecEraser",
           "Retrain", "SCIF", "SISA", "ShardJob", "ShardedUnlearning", "SingleModelMethod", "StaticAggregator",
           "PAPER_UBPR_TABLE3", "SubModel", "UBPR", "UBPR_KS", "UBPR_METHODS", "UBPR_RATIOS", "UnlearnResult", "UnlearningMethod", "averaged_labels",
           "PAPER_TABLE3_ML1M", "PAPER_TABLE4_ML1M", "TABLE3_BACKBONES", "TABLE3_KS", "TABLE3_METHODS", "balanced_assign", "balanced_partition", "history_concentration",
           "make_aggregator", "make_method", "make_partition", "max_shard_size", "measure_forgetting", "one_at_a_time", "percent",
           "expected_shard_seconds", "pretrained_embeddings", "random_partition", "shard_seed", "sharded_reproduction", "sharding_caps", "train_shard",
           "table3_beside_paper", "table4_beside_paper", "ubpr_reproduction", "ubpr_table3", "ubpr_table3_paper", "unlearning_experiment", "user_erasure_pnpr"]
