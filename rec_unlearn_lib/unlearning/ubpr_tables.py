"""UBPR's experiments on one split: Table 3 with Retrain's seed spread, Figures 3, 5 and 6.

:func:`ubpr_reproduction` fits the original BPR-MF on UBPR's fixed triplets and the sharded
baselines once, then, for each forget ratio, erases one random request with every method
(each from a copy of its fitted state) and trains Retrain on what is left with several seeds.
It yields tidy rows (``ratio``, ``method``, ``seed``, ``metric``, ``value``): HR@K and NDCG@K on
the test users (sampled protocol), the seconds of each unlearning call and of each Retrain
(Fig. 3), and the weight distance of each model to the one it started from (Fig. 6).

:func:`user_erasure_pnpr` erases whole users with UBPR and with Retrain and gives each user's PNPR
before and after (UBPR Eq. 16, Fig. 5).
"""

from __future__ import annotations

import copy
import io
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from ..diagnostics import user_pnpr, weight_distance
from ..evaluation import evaluate
from ..forget import ForgetRequest
from ..influence import SolverDidNotConverge
from ..sampling import fixed_triplets
from ..settings import make_backbone
from ..splits import Split
from ..timing import timed
from .base import METHODS, UnlearningMethod
from .retrain import Retrain
from .ubpr import UBPR

UBPR_KS: tuple[int, ...] = (1, 5, 10, 20, 25, 30, 40, 50, 60, 80, 100)
"""The cut-offs of UBPR's figures (Section IV.1.3)."""
UBPR_RATIOS: tuple[float, ...] = (1e-4, 1.5e-4, 2e-4, 2.5e-4, 3e-4, 3.5e-4)
"""The forget ratios of UBPR's Tables 2 and 3 (0.01 % to 0.035 % of the triplets, i.e. of the interactions)."""
UBPR_METHODS: tuple[str, ...] = ("sisa", "receraser", "ubpr")
"""The methods of UBPR's Table 3 beside Retrain (SISA: random shards, mean; RecEraser: user-based shards)."""
UBPR_METHOD_OPTIONS: dict[str, dict[str, Any]] = {"receraser": {"partition": "ubp"}}
"""What UBPR's baselines change from the methods' defaults: RecEraser on user-based shards (Section IV.1.4)."""


def _rows(common: dict[str, Any], metrics: dict[str, float]) -> Iterator[dict[str, Any]]:
    for metric, value in metrics.items():
        yield {**common, "metric": metric, "value": float(value)}


def ubpr_reproduction(split: Split, ratios: Sequence[float] = UBPR_RATIOS, methods: Sequence[str] = UBPR_METHODS,
                      retrain_seeds: Sequence[int] = (0, 1, 2), profile: str | None = "ubpr", seed: int = 0,
                      device: str | torch.device | None = None, ks: Sequence[int] = UBPR_KS,
                      original: UBPR | None = None, solver_options: dict[str, Any] | None = None,
                      **overrides: Any) -> Iterator[dict[str, Any]]:
    """Yield UBPR's Table 3 rows, with Retrain over several seeds, the seconds and the weight distances.

    Args:
        split: a sampled-protocol split (HR@K and NDCG@K against the test negatives).
        ratios: forget ratios, each a share of the training interactions (= of the triplets); one random
            request per ratio, drawn with ``seed``, erased by every method.
        methods: the fitted methods that forget (names of :data:`~.base.METHODS`; ``ubpr``'s model is also the
            original BPR-MF, the ``bpr`` rows).
        retrain_seeds: Retrain is trained on what is left once per seed: the spread of training itself.
        profile, seed, device, overrides: as :class:`~.base.UnlearningMethod` (default the ``ubpr`` profile);
            every method and every Retrain uses the original's backbone settings (UBPR's fixed triplets).
        ks: the cut-offs.
        original: a fitted :class:`~.ubpr.UBPR` to start from (not refitted, never changed); default: fit one.
        solver_options: UBPR's solver options (e.g. ``{"damping": 1e-4}``) when it is fitted here.

    Yields:
        dicts with ``ratio`` (``nan`` for the fitted models), ``forgotten`` (interactions), ``method`` (``bpr`` is
        the original), ``seed``, ``metric`` and ``value``. Metrics: ``hr@K``, ``ndcg@K``; ``seconds`` (of the fit,
        of the unlearning call, of each Retrain); ``converged`` (1 or 0) for every unlearning call: an
        influence method whose solver did not converge yields 0 and nothing else for that request; ``weight_distance``, the l2 distance of the model's embeddings
        to those it started from (UBPR Fig. 6): for ``bpr`` to its initialisation (O/I), for Retrain and UBPR to
        the original (R/O, U/O), for a sharded method to its own ensemble before forgetting.
    """
    if original is None:
        original = UBPR("bpr", profile, seed, device, solver_options=solver_options, **overrides)
        original.fit(split)
    fitted: dict[str, UnlearningMethod] = {"ubpr": original}
    common = {"ratio": float("nan"), "forgotten": 0, "method": "bpr", "seed": original.seed}
    initial = make_backbone("bpr", split.num_users, split.num_items, original.settings, original.seed)
    yield {**common, "metric": "seconds", "value": original.fit_seconds["total"]}
    yield {**common, "metric": "weight_distance", "value": weight_distance(original.model, initial)}
    yield from _rows(common, evaluate(original.model, split, "test", ks=ks))
    for name in methods:
        if name in fitted:
            continue
        method = METHODS[name]("bpr", profile=original.profile, seed=original.seed, device=original.device,
                               settings=original.settings, **UBPR_METHOD_OPTIONS.get(name, {}))
        with timed(method.device) as clock:
            fitted[name] = method.fit(split)
        common = {**common, "method": name}
        yield {**common, "metric": "seconds", "value": clock.seconds}
        yield from _rows(common, evaluate(method.model, split, "test", ks=ks))
    for ratio in ratios:
        request = ForgetRequest.random(split.train, ratio, original.seed)
        retain = request.split(split.train)[0]
        for retrain_seed in retrain_seeds:
            reference = Retrain("bpr", original.profile, retrain_seed, original.device, settings=original.settings)
            with timed(reference.device) as clock:
                reference.fit(split, retain)
            common = {"ratio": ratio, "forgotten": len(request), "method": "retrain", "seed": retrain_seed}
            yield {**common, "metric": "seconds", "value": clock.seconds}
            yield {**common, "metric": "weight_distance", "value": weight_distance(reference.model, original.model)}
            yield from _rows(common, evaluate(reference.model, split, "test", ks=ks))
        for name in methods:
            method = copy.deepcopy(fitted[name])
            common = {"ratio": ratio, "forgotten": len(request), "method": name, "seed": original.seed}
            try:
                result = method.forget(request)
            except SolverDidNotConverge:       # an influence method whose CG met negative curvature: no model
                yield {**common, "metric": "converged", "value": 0.0}
                continue
            yield {**common, "metric": "converged", "value": 1.0}
            yield {**common, "metric": "seconds", "value": result.seconds}
            yield {**common, "metric": "weight_distance", "value": weight_distance(result.model, fitted[name].model)}
            yield from _rows(common, evaluate(result.model, split, "test", ks=ks))


#: UBPR's Table 3 as printed, one line per printed row (HR@10 and NDCG@10 of BPR-MF and of each method after
#: forgetting a share of the interactions, one column per share); the paper's Delta rows, UBPR minus Retrain
#: (one run each), are derived by :func:`ubpr_table3_paper`, not stored
_PAPER_UBPR_TABLE3_TEXT = """
dataset   metric  method    0.0001 0.00015 0.0002 0.00025 0.0003 0.00035
movielens hr@10   bpr       0.643  0.643   0.643  0.643   0.643  0.643
movielens hr@10   retrain   0.627  0.623   0.619  0.623   0.616  0.615
movielens hr@10   sisa      0.598  0.594   0.595  0.595   0.595  0.594
movielens hr@10   receraser 0.607  0.606   0.609  0.609   0.607  0.600
movielens hr@10   ubpr      0.630  0.625   0.621  0.619   0.616  0.614
movielens ndcg@10 bpr       0.369  0.369   0.369  0.369   0.369  0.369
movielens ndcg@10 retrain   0.353  0.354   0.354  0.355   0.352  0.351
movielens ndcg@10 sisa      0.334  0.333   0.334  0.335   0.335  0.333
movielens ndcg@10 receraser 0.342  0.340   0.344  0.341   0.340  0.337
movielens ndcg@10 ubpr      0.356  0.352   0.348  0.345   0.340  0.333
pinterest hr@10   bpr       0.839  0.839   0.839  0.839   0.839  0.839
pinterest hr@10   retrain   0.839  0.836   0.838  0.838   0.838  0.838
pinterest hr@10   sisa      0.810  0.811   0.809  0.808   0.810  0.809
pinterest hr@10   receraser 0.838  0.839   0.839  0.839   0.838  0.837
pinterest hr@10   ubpr      0.838  0.837   0.837  0.836   0.836  0.836
pinterest ndcg@10 bpr       0.510  0.510   0.510  0.510   0.510  0.510
pinterest ndcg@10 retrain   0.506  0.506   0.506  0.507   0.506  0.507
pinterest ndcg@10 sisa      0.480  0.480   0.479  0.478   0.480  0.479
pinterest ndcg@10 receraser 0.508  0.507   0.508  0.507   0.507  0.506
pinterest ndcg@10 ubpr      0.508  0.507   0.507  0.507   0.506  0.505
"""
PAPER_UBPR_TABLE3 = (pd.read_csv(io.StringIO(_PAPER_UBPR_TABLE3_TEXT), sep=r"\s+")
                     .melt(id_vars=["dataset", "metric", "method"], var_name="ratio", value_name="value")
                     .astype({"ratio": float}))
"""UBPR's Table 3 (MovieLens: NCF's ML-1M; Pinterest), tidy rows ``dataset, metric, method, ratio, value``."""


def ubpr_table3_paper(dataset: str = "movielens", ratios: Sequence[float] | None = None) -> pd.DataFrame:
    """UBPR's published Table 3 for ``dataset`` (``movielens``: NCF's ML-1M; ``pinterest``) in the layout of
    :func:`ubpr_table3`: rows ``(metric, method)`` with ``delta (ubpr - retrain)`` last, one column per ratio
    (in percent). The paper's Retrain is one run, so its rows are ``retrain`` and carry no range.

    Args:
        dataset: a dataset of :data:`PAPER_UBPR_TABLE3`.
        ratios: the columns, a subset of :data:`UBPR_RATIOS` (default: all six).

    Raises:
        ValueError: an unknown dataset, or a ratio the paper did not print.
    """
    rows = PAPER_UBPR_TABLE3[PAPER_UBPR_TABLE3["dataset"] == dataset]
    if rows.empty:
        raise ValueError(f"UBPR's Table 3 has no data set {dataset!r}: {sorted(PAPER_UBPR_TABLE3['dataset'].unique())}")
    ratios = list(UBPR_RATIOS if ratios is None else ratios)
    missing = sorted(set(ratios) - set(UBPR_RATIOS))
    if missing:
        raise ValueError(f"UBPR's Table 3 has no ratios {missing}: it printed {list(UBPR_RATIOS)}")
    table = rows[rows["ratio"].isin(ratios)].pivot_table(index=["metric", "method"], columns="ratio", values="value")
    for metric in table.index.unique("metric"):
        table.loc[(metric, DELTA), :] = table.loc[(metric, "ubpr")] - table.loc[(metric, "retrain")]
    order = [(metric, method) for metric in ("hr@10", "ndcg@10")
             for method in ("bpr", "retrain", "sisa", "receraser", "ubpr", DELTA)]
    table = table.loc[order, ratios]
    table.columns = [percent(r) for r in table.columns]
    return table


RETRAIN_MEAN, RETRAIN_RANGE, DELTA = "retrain (mean over seeds)", "retrain range (max - min)", "delta (ubpr - retrain)"
"""The rows of :func:`ubpr_table3` that summarise Retrain's seeds and UBPR's difference to them."""


def ubpr_table3(rows: pd.DataFrame, metrics: Sequence[str] = ("hr@10", "ndcg@10")) -> pd.DataFrame:
    """UBPR's Table 3 from :func:`ubpr_reproduction`'s rows: one row per (metric, method), one column per ratio
    (in percent).

    Retrain is its mean over seeds (:data:`RETRAIN_MEAN`), with its range over seeds (:data:`RETRAIN_RANGE`,
    max - min) beside it; :data:`DELTA` is UBPR minus Retrain's mean, signed; ``bpr`` (the original) is repeated
    in every column.
    """
    quality = rows[rows["metric"].isin(metrics)]
    forgotten = quality[quality["ratio"].notna()]
    mean = forgotten.groupby(["metric", "method", "ratio"])["value"].mean().unstack("ratio")
    spread = (forgotten[forgotten["method"] == "retrain"].groupby(["metric", "ratio"])["value"]
              .agg(lambda v: v.max() - v.min()).unstack("ratio"))
    original = quality[(quality["method"] == "bpr") & quality["ratio"].isna()].set_index("metric")["value"]
    blocks = []
    for metric in metrics:
        block = mean.loc[metric].rename(index={"retrain": RETRAIN_MEAN})
        block.loc["bpr"] = original[metric]
        block.loc[RETRAIN_RANGE] = spread.loc[metric]
        if "ubpr" in block.index:
            block.loc[DELTA] = block.loc["ubpr"] - block.loc[RETRAIN_MEAN]
        order = [m for m in ("bpr", RETRAIN_MEAN, RETRAIN_RANGE, "sisa", "receraser", "ubpr", DELTA)
                 if m in block.index]
        blocks.append(block.loc[order].assign(metric=metric).set_index("metric", append=True).swaplevel())
    table = pd.concat(blocks)
    table.columns = [percent(r) for r in table.columns]
    table.index.names = ["metric", "method"]
    return table


def percent(ratio: float) -> str:
    """A forget ratio as the papers print it: ``1e-4 -> "0.01 %"``."""
    return f"{100 * ratio:.3g} %"


def user_erasure_pnpr(method: UBPR, users: Sequence[int], retrain_seed: int | None = None) -> pd.DataFrame:
    """Erase every interaction of ``users`` (one request) with UBPR and with Retrain; each user's PNPR.

    Args:
        method: a fitted :class:`~.ubpr.UBPR` (left unchanged: it forgets on a copy).
        users: the users to erase.
        retrain_seed: Retrain's seed (default the method's).

    Returns:
        One row per user: ``user``, ``interactions``, ``original``, ``retrain``, ``ubpr`` (PNPR, UBPR Eq. 16,
        on the user's fixed triplets of the original training data).
    """
    train = method.train
    triplets = fixed_triplets(train, method.settings.num_negatives, method.seed)
    request = ForgetRequest.by_users(train, users)
    unlearned = copy.deepcopy(method).forget(request).model
    reference = Retrain(method.backbone, method.profile, method.seed if retrain_seed is None else retrain_seed,
                        method.device, settings=method.settings).fit(method.split, request.split(train)[0])
    counts = train.user_counts()
    return pd.DataFrame([{"user": int(u), "interactions": int(counts[u]),
                          "original": user_pnpr(method.model, triplets, int(u)),
                          "retrain": user_pnpr(reference.model, triplets, int(u)),
                          "ubpr": user_pnpr(unlearned, triplets, int(u))} for u in np.unique(users)])
