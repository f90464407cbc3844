"""RecEraser's Tables 3 and 4 on its own ML-1M split: quality and seconds per deletion.

:func:`sharded_reproduction` fits Retrain, SISA and RecEraser on one backbone and yields tidy
rows: one per (method, metric) for Table 3 (Recall and NDCG at 10, 20 and 50 on the test
users, all items ranked), one per fit for the training seconds, one per deletion for Table 4
(RecEraser's shard and aggregator seconds as random training interactions are forgotten one at
a time), and for each sharded fit what every shard and every epoch of the aggregator cost. A
deadline (``budget_seconds``) stops the deletions early, so a run fits a fixed window of GPU
time; the rows say how many deletions were made. RecEraser's
balanced partition depends on the data and the seed, not on the backbone: pass the partition
embeddings once (:func:`~.sharded.pretrained_embeddings`) to reuse them across backbones.
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ..evaluation import evaluate
from ..forget import ForgetRequest
from ..splits import Split
from ..timing import timed
from .base import METHODS, one_at_a_time, sharding_caps
from .sharded import ShardedUnlearning, aggregation_unsupported

TABLE3_KS: tuple[int, ...] = (10, 20, 50)
TABLE3_METHODS: tuple[str, ...] = ("retrain", "sisa", "receraser")
TABLE3_BACKBONES: tuple[str, ...] = ("bpr", "wmf", "lightgcn")
_METRICS = tuple(f"{m}@{k}" for m in ("recall", "ndcg") for k in TABLE3_KS)

#: RecEraser's Table 3, the ML-1M block (S = 10, InBP for RecEraser): tidy (backbone, method, metric, value)
PAPER_TABLE3_ML1M = pd.DataFrame(
    [(backbone, method, metric, value)
     for backbone, by_method in {
         "bpr": {"retrain": (0.1510, 0.2389, 0.4005, 0.3412, 0.3368, 0.3669),
                 "sisa": (0.1080, 0.1737, 0.2970, 0.2774, 0.2679, 0.2840),
                 "receraser": (0.1393, 0.2254, 0.3822, 0.3208, 0.3186, 0.3483)},
         "wmf": {"retrain": (0.1592, 0.2507, 0.4165, 0.3546, 0.3509, 0.3838),
                 "sisa": (0.0759, 0.1266, 0.2309, 0.2058, 0.1998, 0.2174),
                 "receraser": (0.1435, 0.2254, 0.3818, 0.3317, 0.3253, 0.3542)},
         "lightgcn": {"retrain": (0.1544, 0.2428, 0.4076, 0.3509, 0.3447, 0.3754),
                      "sisa": (0.1089, 0.1743, 0.3084, 0.2767, 0.2686, 0.2905),
                      "receraser": (0.1425, 0.2266, 0.3839, 0.3276, 0.3229, 0.3520)}}.items()
     for method, values in by_method.items() for metric, value in zip(_METRICS, values)],
    columns=["backbone", "method", "metric", "value"])

#: RecEraser's Table 4, ML-1M: minutes per deletion (shard, aggregator, total) and of Retrain, 100 deletions,
#: on an 8-core Xeon and a GTX TITAN X
PAPER_TABLE4_ML1M = pd.DataFrame({"shard": [12, 0.9, 17], "aggregator": [10, 0.2, 14], "total": [22, 1.1, 31],
                                  "retrain": [330, 13, 545]}, index=pd.Index(TABLE3_BACKBONES, name="backbone"))


def sharded_reproduction(backbone: str, split: Split, methods: Sequence[str] = TABLE3_METHODS,
                         deletions: int = 100, profile: str | None = None, seed: int = 0,
                         device: str | None = None, budget_seconds: float | None = None,
                         epochs: int | None = None, embeddings: tuple[np.ndarray, np.ndarray] | None = None,
                         sharding: dict[str, Any] | None = None, aggregations: Sequence[str] = (),
                         overrides: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Yield Table 3 rows (``table=3``: method, metric, value), fit rows (``table=fit``: seconds and the
    breakdown) and Table 4 rows (``table=4``: deletion index, shard, aggregator and total seconds). Fit and Table 4
    rows of a method with a trained aggregator also say how many epochs it trained (``aggregator_epochs``) and
    which it kept (``aggregator_best_epoch``). After a sharded method's fit come ``table=shards`` rows (one per
    ``shard``: its sub-model's training seconds, with ``shard_interactions``, ``shard_users``, ``shard_items``,
    ``shard_epochs`` and ``shard_best_epoch``) and ``table=aggregator`` rows (per ``epoch`` of the aggregator's
    training: ``loss``, ``seconds`` and the validation metrics), from which :func:`expected_shard_seconds`
    estimates a deletion's shard cost.

    Args:
        backbone: a trained backbone of :data:`~rec_unlearn_lib.models.MODELS`.
        split: the split (RecEraser's ML-1M in the full profile).
        methods: names of :data:`~.base.METHODS`, fitted in this order.
        deletions: random training interactions forgotten one at a time by each sharded method
            (RecEraser: 100), drawn once with ``seed``.
        profile, seed, device: as :class:`~.base.UnlearningMethod`.
        budget_seconds: stop deleting once this many seconds have passed since the call (the
            deletions made so far are kept; every other row is always produced).
        epochs: cap every training run (backbones, sub-models, the partition's embeddings, the
            aggregator) at this many epochs (``None``: the profile's).
        embeddings: ``(users [U, d], items [I, d])`` for the balanced partitions (``None``: each sharded
            method trains its own, and its fit row counts their seconds as ``fit_embeddings``).
        sharding: overrides of the sharded methods' settings (e.g. ``{"together": True}``).
        aggregations: names of :data:`~.aggregation.AGGREGATIONS` that each sharded method's sub-models are also
            scored under, before its deletions: only the aggregator is trained again
            (:meth:`~.sharded.ShardedUnlearning.with_aggregation`), and its fit and Table 3 rows are named
            ``"METHOD, NAME"`` (e.g. ``"receraser, attention-graph"``, the official code's LightGCN aggregator, or
            ``"sisa, attention"``, random shards under RecEraser's aggregator; skipped where it is the method's own
            or does not apply to ``backbone``, :func:`~.sharded.aggregation_unsupported`).
        overrides: backbone settings that replace the profile's for every method, sub-models included (e.g.
            ``{"sampling": "user-uniform"}``, RecEraser's official sampler; ``epochs`` is the cap above).
    """
    if "epochs" in (overrides or {}):
        raise ValueError("cap the epochs with epochs=, which also caps the partition's and the aggregator's, "
                         "not through overrides")
    start = time.perf_counter()
    request = ForgetRequest.random(split.train, count=deletions, seed=seed)
    for name in methods:
        caps: dict[str, Any] = {**(overrides or {}), **({} if epochs is None else {"epochs": epochs})}
        if "sharding" in METHODS[name].options:
            caps["sharding"] = {**(sharding or {}), **sharding_caps(name, epochs).get("sharding", {})}
            if embeddings is not None:
                caps["embeddings"] = embeddings
        method = METHODS[name](backbone, profile=profile, seed=seed, device=device, **caps)
        with timed(method.device) as clock:
            method.fit(split)
        common = {"backbone": backbone, "method": name, "device": str(method.device), "seed": seed}
        breakdown = getattr(method, "fit_seconds", {})
        yield {**common, "table": "fit", "metric": "seconds", "value": clock.seconds,
               **{f"fit_{k}": v for k, v in breakdown.items()}, **_aggregator_epochs(method)}
        for metric, value in evaluate(method.model, split, "test", ks=TABLE3_KS).items():
            yield {**common, "table": "3", "metric": metric, "value": value}
        if name == "retrain":
            continue
        sharded = "sharding" in METHODS[name].options
        if sharded:
            yield from _training_rows(method, common)
        for aggregation in aggregations if sharded else ():
            if aggregation == method.aggregation or aggregation_unsupported(aggregation, backbone):
                continue
            with timed(method.device) as clock:
                other = method.with_aggregation(aggregation)
            variant = {**common, "method": f"{name}, {aggregation}"}
            yield {**variant, "table": "fit", "metric": "seconds", "value": clock.seconds,
                   "fit_aggregator": other.fit_seconds["aggregator"], **_aggregator_epochs(other)}
            for metric, value in evaluate(other.model, split, "test", ks=TABLE3_KS).items():
                yield {**variant, "table": "3", "metric": metric, "value": value}
        for j, single in enumerate(one_at_a_time(request)):
            if budget_seconds is not None and time.perf_counter() - start > budget_seconds:
                break
            result = method.forget(single)
            yield {**common, "table": "4", "metric": "seconds", "deletion": j, "value": result.seconds,
                   **{f"delete_{k}": v for k, v in result.breakdown.items()}, **_aggregator_epochs(method)}


def _training_rows(method: ShardedUnlearning, common: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """What a sharded method's fit spent where. ``table=shards``: one row per shard, ``value`` its sub-model's
    training seconds (``NaN`` for sub-models trained together, whose steps were shared), with what the shard
    holds (``shard_interactions``, ``shard_users``, ``shard_items``) and how its training ran (``shard_epochs``,
    ``shard_best_epoch``). ``table=aggregator``: one row per epoch of the aggregator's training and column of its
    history (``loss``, ``seconds``, the validation metrics where evaluated)."""
    partition = method.partition
    assert partition is not None, "rows of a fitted method"
    for sub in sorted(method.submodels, key=lambda s: s.shard):
        yield {**common, "table": "shards", "shard": sub.shard, "metric": "seconds",
               "value": math.nan if method.sharding.together else sub.seconds,
               "shard_interactions": len(partition.rows(sub.shard)), "shard_users": int(sub.user_seen.sum()),
               "shard_items": int(sub.item_seen.sum()), "shard_epochs": sub.epochs_run,
               "shard_best_epoch": sub.best_epoch}
    history = pd.DataFrame() if method.aggregator_result is None else method.aggregator_result.history
    for record in history.to_dict("records"):
        for metric, value in record.items():
            if metric != "epoch" and pd.notna(value):
                yield {**common, "table": "aggregator", "epoch": int(record["epoch"]), "metric": metric,
                       "value": value}


def _aggregator_epochs(method: Any) -> dict[str, int]:
    """``aggregator_epochs`` (how many it trained) and ``aggregator_best_epoch`` (the one kept) of the aggregator
    ``method`` trained last (its fit's, or its last deletion's); nothing for methods without a trained one."""
    result = getattr(method, "aggregator_result", None)
    if result is None:
        return {}
    return {"aggregator_epochs": len(result.history), "aggregator_best_epoch": result.best_epoch}


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` indexed by (backbone, method), in the paper's order of backbones and methods."""
    order = {name: j for j, name in enumerate(TABLE3_BACKBONES + TABLE3_METHODS)}
    return frame.sort_index(key=lambda level: level.map(lambda name: order.get(name, len(order))))


def table3_beside_paper(rows: pd.DataFrame) -> pd.DataFrame:
    """Our Table 3 (the ``table == "3"`` rows of :func:`sharded_reproduction`) beside the paper's ML-1M block.

    Returns:
        one row per (backbone, method) of either source, columns (metric, ``ours`` / ``paper``); a
        method we did not run is NaN on our side.
    """
    quality = rows[rows["table"].astype(str) == "3"]
    ours = quality.pivot_table(index=["backbone", "method"], columns="metric", values="value")
    paper = PAPER_TABLE3_ML1M.pivot_table(index=["backbone", "method"], columns="metric", values="value")
    both = pd.concat({"ours": ours, "paper": paper}, axis=1).swaplevel(0, 1, axis=1)
    columns = pd.MultiIndex.from_product([[m for m in _METRICS if m in both.columns.get_level_values(0)],
                                          ["ours", "paper"]])
    return _ordered(both.reindex(columns=columns))


def table4_beside_paper(rows: pd.DataFrame, method: str = "receraser") -> pd.DataFrame:
    """Seconds per deletion (the ``table == "4"`` rows of ``method``) against Retrain's fit, beside the paper's minutes.

    Our columns: ``deletions`` (how many were timed), mean ``shard_s``, ``aggregator_s`` and ``total_s``
    with its standard deviation, ``expected_shard_s`` (:func:`expected_shard_seconds`: the shard seconds of an
    average random deletion, estimated from the fit's per-shard times; a backbone with a fit but no deletions
    gets its row too), ``retrain_s`` (Retrain's training time, the mean over the runs in ``rows``) and
    ``speedup`` = ``retrain_s / total_s``; the paper's: minutes and its own speed-up.
    """
    kinds = rows["table"].astype(str)
    deletions = rows[(kinds == "4") & (rows["method"] == method)].reindex(
        columns=["backbone", "value", "delete_shards", "delete_aggregator"])
    ours = deletions.groupby("backbone").agg(deletions=("value", "size"), shard_s=("delete_shards", "mean"),
                                             aggregator_s=("delete_aggregator", "mean"), total_s=("value", "mean"),
                                             total_sd=("value", "std"))
    ours = ours.join(expected_shard_seconds(rows, method), how="outer")
    ours["retrain_s"] = rows[(kinds == "fit") & (rows["method"] == "retrain")].groupby("backbone")["value"].mean()
    ours["speedup"] = ours["retrain_s"] / ours["total_s"]
    paper = PAPER_TABLE4_ML1M.add_prefix("paper_").add_suffix("_min")
    paper["paper_speedup"] = PAPER_TABLE4_ML1M["retrain"] / PAPER_TABLE4_ML1M["total"]
    both = ours.join(paper, how="outer")
    return both.loc[[b for b in TABLE3_BACKBONES if b in both.index] + [b for b in both.index
                                                                         if b not in TABLE3_BACKBONES]]


def expected_shard_seconds(rows: pd.DataFrame, method: str = "receraser") -> pd.Series:
    """Per backbone, an estimate of the shard seconds a random deletion costs ``method``: its sub-models' training
    seconds ``t_k`` in the fit weighted by their interactions ``n_k``, ``sum_k n_k t_k / sum_k n_k`` over the
    ``table == "shards"`` rows of :func:`sharded_reproduction` (several fits' rows are pooled). A deletion
    retrains the one shard that held the row, and a random training row lies in shard ``k`` with probability
    ``n_k / n``, so an unbalanced partition makes this differ from the plain mean over shards. The ``t_k`` are the
    fit's, before any deletion: a shard retrained without one row may stop at another epoch. ``NaN`` for a backbone
    with a shard whose seconds were not measured alone (sub-models trained together), or without shard rows."""
    columns = ["table", "method", "backbone", "value", "shard_interactions"]     # older tables lack the last
    shards = rows.reindex(columns=columns)
    shards = shards[(shards["table"].astype(str) == "shards") & (shards["method"] == method)]
    weights = shards["shard_interactions"].astype(float)
    weighted = (shards["value"] * weights).groupby(shards["backbone"]).agg(lambda v: v.sum(skipna=False))
    return (weighted / weights.groupby(shards["backbone"]).sum()).rename("expected_shard_s")
