"""IFRU's evaluation (Zhang et al. 2024, Section 4): the attack setting, AUC0/1/2 and the completeness coefficient.

:func:`ifru_reproduction` poisons the training data (a random share of labelled rows flipped,
:func:`~rec_unlearn_lib.forget.attack_series`), trains the backbone once on it, erases the flipped rows with
every variant of :data:`IFRU_VARIANTS` from that same model, trains Retrain on the clean rows once per seed,
and yields tidy rows. :func:`completeness_table` turns such rows, or the paper's own
(:data:`PAPER_TABLE2_AMAZON`), into Table 2 with IFRU's completeness coefficient,
``(method - original) / (retrain - original)`` per AUC and averaged over the three.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator, Mapping, Sequence

import pandas as pd
import torch

from ..evaluation import evaluate
from ..forget import ForgetRequest, attack_series
from ..interactions import Interactions
from ..models.base import Recommender
from ..influence import SolverDidNotConverge
from ..splits import Split
from ..timing import timed
from .base import METHODS, SingleModelMethod
from .experiment import completeness
from .retrain import Retrain

AUCS: tuple[str, ...] = ("auc0", "auc1", "auc2")
"""IFRU's three AUCs: every test pair; pairs whose user OR item occurs in the request; user AND item."""

STEP_SCALES: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
"""Lengths of the influence step in :func:`step_length_sweep` (0: the original model, 1: the update itself)."""

IFRU_RATIOS: tuple[float, ...] = (0.01, 0.02, 0.04, 0.08)
"""The attack ratios of IFRU's Fig. 5 (the paper's defaults: 2 % for MF, 1 % for LightGCN)."""

IFRU_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "ifru": ("ifru", {}),
    "ifru, no spillover": ("ifru", {"spillover": False}),
    "scif": ("scif", {}),
}
"""What erases the request, by row label: a method of :data:`~.base.METHODS` and its options (IFRU; IFRU
without the spillover term, Fig. 6; SCIF, the baseline of Table 2)."""

#: IFRU's Table 2, the Amazon block (BookCrossing's block is garbled in the text we have): tidy rows
PAPER_TABLE2_AMAZON = pd.DataFrame(
    [(backbone, method, metric, value)
     for backbone, by_method in {
         "mf": {"original": (0.6192, 0.6314, 0.6359), "retrain": (0.6266, 0.6416, 0.6674),
                "sisa": (0.5447, 0.5572, 0.5553), "receraser": (0.5885, 0.6015, 0.6146),
                "scif": (0.6239, 0.6375, 0.6654), "ifru": (0.6263, 0.6403, 0.6608)},
         "lightgcn": {"original": (0.6498, 0.6669, 0.6661), "retrain": (0.6524, 0.6708, 0.6857),
                      "sisa": (0.5807, 0.5984, 0.6008), "receraser": (0.5911, 0.6075, 0.6109),
                      "scif": (0.6516, 0.6682, 0.6859), "ifru": (0.6524, 0.6706, 0.6888)}}.items()
     for method, values in by_method.items() for metric, value in zip(AUCS, values)],
    columns=["backbone", "method", "metric", "value"])

#: IFRU's Table 3 (BookCrossing, RTX 3090): seconds to erase a share of the training data, tidy rows
PAPER_TABLE3_SECONDS = pd.DataFrame(
    [(backbone, method, ratio, seconds)
     for backbone, by_method in {
         "mf": {"retrain": (15, 17, 17, 17, 16, 13, 16, 12), "receraser": (65, 69, 79, 76, 65, 65, 67, 72),
                "scif": (0.014, 0.004, 0.005, 0.006, 0.006, 0.013, 0.008, 0.012),
                "ifru": (0.011, 0.008, 0.008, 0.004, 0.011, 0.010, 0.011, 0.016)},
         "lightgcn": {"retrain": (121, 168, 148, 165, 173, 180, 161, 175),
                      "receraser": (315, 368, 267, 362, 318, 486, 616, 365),
                      "scif": (0.1, 0.2, 0.4, 0.3, 0.4, 0.5, 0.5, 0.6),
                      "ifru": (0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.6)}}.items()
     for method, values in by_method.items()
     for ratio, seconds in zip((0.00025, 0.0005, 0.00075, 0.001, 0.01, 0.02, 0.04, 0.08), values)],
    columns=["backbone", "method", "ratio", "seconds"])


def _metric_rows(common: dict[str, Any], metrics: Mapping[str, float]) -> Iterator[dict[str, Any]]:
    for metric in AUCS:
        yield {**common, "metric": metric, "value": float(metrics[metric])}


def ifru_reproduction(split: Split, backbone: str = "mf", ratios: Sequence[float] = (0.02,),
                      variants: Mapping[str, tuple[str, dict[str, Any]]] = IFRU_VARIANTS, *,
                      retrain_seeds: Sequence[int] = (0,), profile: str | None = None, seed: int = 0,
                      device: str | torch.device | None = None, options: Mapping[str, Any] | None = None,
                      **overrides: Any) -> Iterator[dict[str, Any]]:
    """Yield IFRU's Table 2 and Fig. 5/6 measurements in the attack setting, one tidy row per number.

    For each ratio (nested requests: :func:`~rec_unlearn_lib.forget.attack_series` with ``seed``) the backbone is
    trained once on the poisoned data; every variant erases the flipped rows from that same model (a copy of
    the fitted state, :meth:`~.base.SingleModelMethod.adopt`); Retrain trains on the clean rows once per seed of
    ``retrain_seeds``, with the original's settings.

    Args:
        split: a labelled-protocol split (AUC0/1/2 are taken around each request's users and items).
        backbone: ``mf`` or ``lightgcn`` (with ``objective="bce"`` among ``overrides``, as IFRU trains it).
        ratios: shares of the training rows whose labels are flipped (each in (0, 1)).
        variants: row label -> (method name, its options), see :data:`IFRU_VARIANTS`.
        retrain_seeds: Retrain's seeds (its spread is training's own randomness).
        profile, seed, device, overrides: as :class:`~.base.UnlearningMethod` (``seed`` also draws the attack).
        options: options given to every variant (e.g. ``relative_damping``), before the variant's own.

    Yields:
        dicts with ``backbone``, ``ratio``, ``forgotten`` (rows), ``method`` (``original``, ``retrain`` or a
        variant's label), ``seed``, ``metric`` and ``value``. Metrics: ``auc0``, ``auc1``, ``auc2``;
        ``seconds`` (the original's fit, each Retrain's fit, each variant's unlearning call);
        ``converged`` (1 or 0) per variant: a solver that did not converge yields 0 and nothing else;
        ``rows moved`` (user plus item embedding rows the update may change), ``spillover rows``
        (:math:`|\\mathcal{D}_c|`) and ``damping`` (the absolute :math:`\\mu` the solve used) per variant.
    """
    if not variants:
        raise ValueError("give at least one variant to erase the request with")
    for ratio, (poisoned, request) in zip(ratios, attack_series(split.train, ratios, seed)):
        common = {"backbone": backbone, "ratio": float(ratio), "forgotten": len(request), "seed": seed}
        methods: dict[str, SingleModelMethod] = {
            label: METHODS[name](backbone, profile, seed, device, **{**dict(options or {}), **extra}, **overrides)
            for label, (name, extra) in variants.items()}
        first, *others = methods.values()
        with timed(first.device) as clock:
            first.fit(split, poisoned)
        for method in others:
            method.adopt(first)
        original = {**common, "method": "original"}
        yield {**original, "metric": "seconds", "value": clock.seconds}
        yield from _metric_rows(original, evaluate(first.model, split, "test", request=request))
        for label, method in methods.items():
            row = {**common, "method": label}
            try:
                result = method.forget(request)
            except SolverDidNotConverge:
                yield {**row, "metric": "converged", "value": 0.0}
                continue
            yield {**row, "metric": "converged", "value": 1.0}
            yield {**row, "metric": "seconds", "value": result.seconds}
            yield {**row, "metric": "rows moved", "value": float(result.touched["users"] + result.touched["items"])}
            yield {**row, "metric": "spillover rows", "value": float(result.touched["spillover_rows"])}
            yield {**row, "metric": "damping", "value": float(method.last_solve.damping)}
            yield from _metric_rows(row, evaluate(result.model, split, "test", request=request))
        retain = request.split(poisoned)[0]
        for retrain_seed in retrain_seeds:
            reference = Retrain(backbone, first.profile, retrain_seed, first.device, settings=first.settings)
            with timed(reference.device) as clock:
                reference.fit(split, retain)
            row = {**common, "method": "retrain", "seed": retrain_seed}
            yield {**row, "metric": "seconds", "value": clock.seconds}
            yield from _metric_rows(row, evaluate(reference.model, split, "test", request=request))


def scaled_update(original: Recommender, updated: Recommender, scale: float, train: Interactions) -> Recommender:
    r"""A copy of ``updated`` whose parameters are :math:`\hat\theta + c\,(\hat\theta' - \hat\theta)`, ``c = scale``:
    the influence step from ``original`` to ``updated`` shortened (``c < 1``) or lengthened (``c > 1``), scoring
    with the data ``train`` (LightGCN's graph of :math:`\mathcal{D}\setminus\mathcal{D}_f`).

    ``c = 0`` is the original model, ``c = 1`` the update itself. Raises ValueError when the two models do not
    have the same parameters."""
    before, after = original.state_dict(), updated.state_dict()
    if before.keys() != after.keys() or any(before[k].shape != after[k].shape for k in before):
        raise ValueError("the original and the updated model must have the same parameters")
    model = copy.deepcopy(updated)
    model.load_state_dict({k: before[k] + scale * (after[k] - before[k]) if after[k].is_floating_point() else after[k]
                           for k in after})
    model.fit_data(train)
    return model


def step_length_sweep(method: SingleModelMethod, request: ForgetRequest, scales: Sequence[float] = STEP_SCALES
                      ) -> Iterator[dict[str, Any]]:
    r"""Yield the AUCs of the influence step of ``method`` for ``request`` at several lengths ``c`` (tidy rows).

    The fitted ``method`` (IFRU or SCIF, not changed) forgets ``request`` once; each length ``c`` of ``scales``
    is then scored (:func:`scaled_update`): validation AUC on the data left (``auc``, the signal the trainer
    selects epochs on) and IFRU's test AUC0/1/2. Not in the paper: the step's length is what the damping
    decides, and in the attack setting a step beyond ``c = 1`` weights the flipped rows negatively, i.e. trains
    on their corrected labels, so test AUC can pass Retrain's.

    Yields:
        dicts with ``scale``, ``split`` (``valid`` or ``test``), ``metric`` and ``value``.
    """
    original = method.model
    step = method.at(original)                 # a copy forgets: ``method`` keeps its data and model
    result = step.forget(request)
    retain = step.train                        # the data left
    for scale in scales:
        model = scaled_update(original, result.model, float(scale), retain)
        valid = evaluate(model, method.split, "valid", train=retain)
        yield {"scale": float(scale), "split": "valid", "metric": "auc", "value": float(valid["auc"])}
        yield from _metric_rows({"scale": float(scale), "split": "test"},
                                evaluate(model, method.split, "test", request=request))


def completeness_table(rows: pd.DataFrame, by: Sequence[str] = ("backbone",)) -> pd.DataFrame:
    """IFRU's Table 2 with its completeness coefficient, from tidy rows (ours or :data:`PAPER_TABLE2_AMAZON`).

    Args:
        rows: columns ``method``, ``metric``, ``value`` and those of ``by``; ``original`` and ``retrain`` among
            the methods (Retrain's rows may come from several seeds: their mean is the reference).
        by: the columns that identify one setting (e.g. ``("backbone", "ratio")``).

    Returns:
        One row per (setting, method): the mean of each AUC over seeds, ``completeness auc0/1/2`` =
        ``(method - original) / (retrain - original)`` (``nan`` where Retrain equals the original) and
        ``completeness`` (their mean, IFRU's "average coefficient", over the coefficients that are defined:
        an AUC that Retrain did not move drops out of it). Methods are in the order of ``rows``.
    """
    aucs = rows[rows.metric.isin(AUCS)]
    wide = aucs.pivot_table(index=[*by, "method"], columns="metric", values="value", aggfunc="mean", sort=False)
    out = []
    for key, group in wide.groupby(level=list(range(len(by))), sort=False):
        methods = group.droplevel(list(range(len(by))))
        if not {"original", "retrain"} <= set(methods.index):
            raise ValueError(f"{key}: completeness needs both 'original' and 'retrain' rows")
        aucs = methods[list(AUCS)]
        ratio = completeness(aucs, aucs.loc["original"], aucs.loc["retrain"])
        ratio.columns = [f"completeness {m}" for m in AUCS]
        ratio["completeness"] = ratio.mean(axis=1)
        out.append(pd.concat([group, ratio.set_axis(group.index)], axis=1))
    return pd.concat(out)


def ifru_speed_table(rows: pd.DataFrame, by: Sequence[str] = ("backbone", "ratio")) -> pd.DataFrame:
    """Seconds of each variant's unlearning call beside Retrain's median fit in the same run, and the speed-up.

    Returns:
        One row per (setting, method other than the original and Retrain): ``seconds``, ``retrain seconds``
        (median over Retrain's seeds) and ``speed-up`` (their ratio; below 1: slower than retraining).
    """
    seconds = rows[rows.metric == "seconds"]
    retrain = seconds[seconds.method == "retrain"].groupby(list(by))["value"].median().rename("retrain seconds")
    methods = seconds[~seconds.method.isin(["original", "retrain"])]
    table = methods.groupby([*by, "method"], sort=False)["value"].mean().rename("seconds").reset_index()
    table = table.join(retrain, on=list(by))
    table["speed-up"] = table["retrain seconds"] / table["seconds"]
    return table.set_index([*by, "method"])

