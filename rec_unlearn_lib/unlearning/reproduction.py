"""RecEraser's Tables 3 and 4 on its own ML-1M split: quality and seconds per deletion.

:func:`sharded_reproduction` fits Retrain, SISA and RecEraser on one backbone and yields tidy
rows: one per (method, metric) for Table 3 (Recall and NDCG at 10, 20 and 50 on the test
users, all items ranked), one per fit for the training seconds, and one per deletion for
Table 4 (RecEraser's shard and aggregator seconds as random training interactions are
forgotten one at a time). A deadline (``budget_seconds``) stops the deletions early, so a
run fits a fixed window of GPU time; the rows say how many deletions were made. RecEraser's
balanced partition depends on the data and the seed, not on the backbone: pass the partition
embeddings once (:func:`~.sharded.pretrained_embeddings`) to reuse them across backbones.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Sequence

import numpy as np

from ..evaluation import evaluate
from ..forget import ForgetRequest
from ..splits import Split
from ..timing import timed
from .base import METHODS, one_at_a_time

TABLE3_KS: tuple[int, ...] = (10, 20, 50)
TABLE3_METHODS: tuple[str, ...] = ("retrain", "sisa", "receraser")


def sharded_reproduction(backbone: str, split: Split, methods: Sequence[str] = TABLE3_METHODS,
                         deletions: int = 100, profile: str | None = None, seed: int = 0,
                         device: str | None = None, budget_seconds: float | None = None,
                         epochs: int | None = None, embeddings: tuple[np.ndarray, np.ndarray] | None = None
                         ) -> Iterator[dict[str, Any]]:
    """Yield Table 3 rows (``table=3``: method, metric, value), fit rows (``table=fit``: seconds and the
    breakdown) and Table 4 rows (``table=4``: deletion index, shard, aggregator and total seconds).

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
    """
    start = time.perf_counter()
    request = ForgetRequest.random(split.train, count=deletions, seed=seed)
    for name in methods:
        caps: dict[str, Any] = {}
        if epochs is not None:
            caps["epochs"] = epochs
            if "sharding" in METHODS[name].options:
                caps["sharding"] = {"partition_epochs": epochs, "agg_epochs": epochs}
        if embeddings is not None and "sharding" in METHODS[name].options:
            caps["embeddings"] = embeddings
        method = METHODS[name](backbone, profile=profile, seed=seed, device=device, **caps)
        with timed(method.device) as clock:
            method.fit(split)
        common = {"backbone": backbone, "method": name, "device": str(method.device), "seed": seed}
        breakdown = getattr(method, "fit_seconds", {})
        yield {**common, "table": "fit", "metric": "seconds", "value": clock.seconds,
               **{f"fit_{k}": v for k, v in breakdown.items()}}
        for metric, value in evaluate(method.model, split, "test", ks=TABLE3_KS).items():
            yield {**common, "table": "3", "metric": metric, "value": value}
        if name == "retrain":
            continue
        for j, single in enumerate(one_at_a_time(request)):
            if budget_seconds is not None and time.perf_counter() - start > budget_seconds:
                break
            result = method.forget(single)
            yield {**common, "table": "4", "metric": "seconds", "deletion": j, "value": result.seconds,
                   **{f"delete_{k}": v for k, v in result.breakdown.items()}}
