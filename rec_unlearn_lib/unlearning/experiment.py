"""One unlearning experiment end to end: fit, forget, retrain, evaluate (what ``python -m rec_unlearn_lib unlearn`` runs).

Two settings of forgetting, which the papers disagree on:

* ``batch`` (IFRU): the sampled interactions form one request, erased in one call (a random
  batch spreads over many shards);
* ``sequential`` (RecEraser Table 4): they are erased one at a time, each retraining its shard
  and then the aggregator; the reported ``unlearn`` seconds are the mean per deletion.

Retrain (the reference) is trained from scratch on ``D \\ D_f`` with the same backbone, settings
and seed. All models are evaluated on the same test data with the full training set masked.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..config import synchronize
from ..evaluation import evaluate
from ..forget import ForgetRequest
from ..splits import Split
from .base import UnlearningMethod
from .retrain import Retrain

MODES: tuple[str, ...] = ("batch", "sequential")


def unlearning_experiment(method: UnlearningMethod, split: Split, request: ForgetRequest,
                          mode: str = "batch") -> dict[str, Any]:
    """Fit ``method`` on ``split.train``, erase ``request``, compare with Retrain on ``D \\ D_f``.

    Returns:
        ``{"method", "metrics": {"original", "unlearned", "retrain"}, "seconds": {"fit", "unlearn",
        "retrain", ...}, "touched": {...}, "forget": {...}}``: metrics are flat dicts of metric to value
        on ``split.test``; ``seconds.unlearn`` is the whole call (``batch``) or the mean per deletion
        (``sequential``, with ``unlearn_total``); ``seconds.shards`` / ``seconds.aggregator`` split it
        for sharded methods.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    synchronize(method.device)
    start = time.perf_counter()
    method.fit(split)
    synchronize(method.device)
    fit_seconds = time.perf_counter() - start
    original = evaluate(method.model, split, "test")
    results = [method.forget(request)] if mode == "batch" else method.forget_sequentially(request)
    unlearned = evaluate(method.model, split, "test")
    total = float(sum(r.seconds for r in results))
    seconds: dict[str, float] = {"fit": fit_seconds, "unlearn": total / len(results)}
    if mode == "sequential":
        seconds["unlearn_total"] = total
    for phase in sorted({p for r in results for p in r.breakdown}):
        seconds[phase] = float(np.mean([r.breakdown.get(phase, 0.0) for r in results]))
    if isinstance(method, Retrain) and mode == "batch":
        retrain_metrics, seconds["retrain"] = unlearned, seconds["unlearn"]
    else:
        reference = Retrain(method.backbone, method.profile, method.seed, str(method.device), **_overrides(method))
        synchronize(method.device)
        start = time.perf_counter()
        reference.fit(split, request.split(split.train)[0])
        synchronize(method.device)
        seconds["retrain"] = time.perf_counter() - start
        retrain_metrics = evaluate(reference.model, split, "test")
    shards = sorted({k for r in results for k in r.touched.get("shards", [])})
    return {"method": method.name, "metrics": {"original": original, "unlearned": unlearned, "retrain": retrain_metrics},
            "seconds": seconds, "touched": {"shards": shards, "requests": len(results)},
            "forget": {"count": len(request), "mode": mode}, "device": str(method.device)}


def _overrides(method: UnlearningMethod) -> dict[str, Any]:
    """The method's backbone settings that differ from its profile's (so Retrain uses the same ones)."""
    from ..config import backbone_settings

    base = backbone_settings(method.backbone, method.profile)
    return {k: v for k, v in method.settings.items() if base.get(k, object()) != v}
