"""Measuring forgetting: erase a request from a fitted method, evaluate, compare with Retrain.

* :func:`measure_forgetting` works on an already fitted method: it evaluates the model, erases
  the request in one of the :data:`~.base.MODES`, evaluates again and (optionally) trains the
  Retrain reference on what is left, timing everything on the method's device;
* :func:`unlearning_experiment` fits the method first (what ``python -m rec_unlearn_lib unlearn`` runs).

Two settings of forgetting, which the papers disagree on:

* ``batch`` (IFRU): the sampled interactions form one request, erased in one call (a random
  batch spreads over many shards);
* ``sequential`` (RecEraser Table 4): they are erased one at a time, each retraining its shard
  and then the aggregator; the reported ``unlearn`` seconds are the mean per deletion.

Retrain (the reference) is trained from scratch on ``D \\ D_f`` (the method's training data after
forgetting) with the same backbone, settings and seed. All models are evaluated on the same test
data with the full training set masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..evaluation import evaluate
from ..forget import ForgetRequest
from ..interactions import Interactions
from ..splits import Split
from ..timing import timed
from .base import MODES, UnlearningMethod, UnlearnResult
from .retrain import Retrain


def completeness(value: pd.Series | pd.DataFrame, original: pd.Series, retrain: pd.Series) -> pd.Series | pd.DataFrame:
    """IFRU's completeness coefficient (Section 4.2.1), ``(value - original) / (retrain - original)`` per metric
    (1: as Retrain; 0: as before forgetting; ``nan`` where Retrain does not move the metric).

    Args:
        value: one method's metrics (a Series indexed by metric), or several methods' (rows of a frame whose
            columns are the metrics).
        original, retrain: the metrics before forgetting and of Retrain, indexed by metric.
    """
    gain = retrain - original
    return (value - original) / gain.where(gain != 0)


@dataclass
class ForgettingReport:
    """What forgetting one request cost and changed.

    Attributes:
        method: the method's name; mode: ``batch`` or ``sequential``.
        results: one :class:`~.base.UnlearnResult` per ``forget`` call (one, or one per interaction).
        metrics: ``original``, ``unlearned`` and (when measured) ``retrain``: flat dicts of test metrics
            (labelled protocol: IFRU's ``auc0``, ``auc1``, ``auc2`` around the request's users and items).
        seconds: ``unlearn`` (per call: the whole request in ``batch``, the mean per deletion in
            ``sequential``), ``unlearn_total`` (all calls), the mean seconds of each phase of the breakdown
            (e.g. ``shards``, ``aggregator``), ``retrain`` when measured and ``fit`` when fitted here.
        device: where it ran.
        describe: the method's own configuration (:meth:`~.base.UnlearningMethod.describe`).
    """

    method: str
    mode: str
    results: list[UnlearnResult]
    metrics: dict[str, dict[str, float]]
    seconds: dict[str, float]
    device: str
    describe: dict[str, Any] = field(default_factory=dict)

    @property
    def num_forgotten(self) -> int:
        return sum(r.num_forgotten for r in self.results)

    def timings(self) -> pd.DataFrame:
        """One row per ``forget`` call: ``method``, ``call``, ``shards touched``, each phase and ``total`` seconds."""
        return pd.DataFrame([{"method": self.method, "call": j, "shards touched": r.touched.get("shards", []),
                              **r.breakdown, "total": r.seconds} for j, r in enumerate(self.results)])

    def completeness(self) -> dict[str, float]:
        """IFRU's completeness coefficient per metric, ``(unlearned - original) / (retrain - original)``, and
        its ``mean`` over the metrics where it is defined (1: as Retrain; 0: as before forgetting).

        Empty when Retrain was not measured; ``nan`` for a metric that Retrain does not move.
        """
        if "retrain" not in self.metrics:
            return {}
        original, unlearned, retrain = (pd.Series(self.metrics[k], dtype=float)
                                        for k in ("original", "unlearned", "retrain"))
        ratio = completeness(unlearned, original, retrain[original.index])
        return {**{k: float(v) for k, v in ratio.items()}, "mean": float(ratio.mean())}

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly dict (what the command line prints)."""
        shards = sorted({k for r in self.results for k in r.touched.get("shards", [])})
        return {"method": self.method, **self.describe, "metrics": self.metrics,
                "completeness": self.completeness(), "seconds": self.seconds,
                "touched": {"shards": shards, "requests": len(self.results)},
                "forget": {"count": self.num_forgotten, "mode": self.mode}, "device": self.device}


def measure_forgetting(method: UnlearningMethod, request: ForgetRequest, mode: str = "batch",
                       retrain: bool = True) -> ForgettingReport:
    """Erase ``request`` from the fitted ``method`` in ``mode``; evaluate before and after.

    Args:
        method: a fitted method (its state moves forward: afterwards it has forgotten ``request``).
        request: interactions of the method's current training data.
        mode: a name of :data:`~.base.MODES`.
        retrain: also fit the Retrain reference on the remaining data and time it (for a
            :class:`~.retrain.Retrain` in ``batch`` mode the method *is* the reference).
    """
    run = MODES[mode]
    split: Split = method.split
    original = evaluate(method.model, split, "test", request=request)
    results = run(method, request)
    metrics = {"original": original, "unlearned": evaluate(method.model, split, "test", request=request)}
    total = float(sum(r.seconds for r in results))
    seconds: dict[str, float] = {"unlearn": total / len(results), "unlearn_total": total}
    for phase in sorted({p for r in results for p in r.breakdown}):
        seconds[phase] = float(np.mean([r.breakdown.get(phase, 0.0) for r in results]))
    if retrain and isinstance(method, Retrain) and mode == "batch":
        metrics["retrain"], seconds["retrain"] = metrics["unlearned"], seconds["unlearn"]
    elif retrain:
        reference = Retrain(method.backbone, method.profile, method.seed, method.device, settings=method.settings)
        with timed(method.device) as clock:
            reference.fit(split, method.train)
        seconds["retrain"] = clock.seconds
        metrics["retrain"] = evaluate(reference.model, split, "test", request=request)
    return ForgettingReport(method.name, mode, results, metrics, seconds, str(method.device), method.describe())


def unlearning_experiment(method: UnlearningMethod, split: Split, request: ForgetRequest,
                          mode: str = "batch", train: Interactions | None = None) -> ForgettingReport:
    """Fit ``method`` on ``train`` (default ``split.train``; IFRU's attack: the poisoned training data), then
    :func:`measure_forgetting` (with Retrain); ``seconds.fit`` is added."""
    MODES.check(mode)
    with timed(method.device) as clock:
        method.fit(split, train)
    report = measure_forgetting(method, request, mode)
    report.seconds = {"fit": clock.seconds, **report.seconds}
    return report
