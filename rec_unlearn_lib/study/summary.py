"""The benchmark chapter's tables from a study table: gaps in units of Retrain's seed spread.

"Comparable to retraining" means nothing without the spread of retraining itself: Retrain run with
other seeds on the same data moves its metrics too. :func:`noise_floor` gives that spread per
request; :func:`summary_table` reports every method's gap to Retrain's mean in units of it (a gap
within about 1 is as close as another seed of Retrain), next to whether the forgotten data still
shows (the membership AUC and the forgotten items' rank) and the speed-up over Retrain.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

REQUEST: tuple[str, ...] = ("dataset", "backbone", "setting", "ratio")
"""The columns that name one request (the same for every method and seed)."""


def measured(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of the requests where ``metric`` is measured (the requests of its protocol), failed runs included."""
    if metric not in table:
        raise ValueError(f"the study has no {metric!r} column; its metrics: "
                         f"{', '.join(c for c in table.columns if '@' in c or c.startswith('auc'))}")
    keep = table.groupby(list(REQUEST))[metric].transform(lambda values: values.notna().any())
    return table[keep.astype(bool)]


def noise_floor(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Retrain's ``metric`` per request where it is measured: ``retrain_mean``, ``retrain_sd`` (sample standard
    deviation over its seeds) and ``retrain_seeds``.

    Raises:
        ValueError: the table has no Retrain rows, or Retrain has fewer than two seeds for a request.
    """
    table = measured(table, metric)
    retrain = table[(table["method"] == "retrain") & (table["converged"] == 1)]
    if retrain.empty:
        raise ValueError("the study has no Retrain rows: the noise floor needs Retrain with several seeds")
    floor = retrain.groupby(list(REQUEST))[metric].agg(retrain_mean="mean", retrain_sd="std",
                                                        retrain_seeds="count").reset_index()
    thin = floor[floor["retrain_seeds"] < 2]
    if len(thin):
        raise ValueError(f"Retrain needs at least two seeds per request for a spread; "
                         f"{thin.iloc[0][list(REQUEST)].to_dict()} has {int(thin.iloc[0]['retrain_seeds'])}")
    return floor


def summary_table(table: pd.DataFrame, metric: str,
                  extra: Sequence[str] = ("mia_auc", "original_mia_auc", "forgotten_percentile",
                                          "original_forgotten_percentile", "delta_cosine", "unlearn_seconds",
                                          "speedup")) -> pd.DataFrame:
    """One row per request and method: ``metric`` (mean over the method's seeds), ``gap_sd`` (its distance to
    Retrain's mean in units of Retrain's seed spread; ``nan`` for a zero spread), ``original_gap_sd`` (the same
    for the model before forgetting: how far there was to go), ``converged`` (share of the method's seeds whose
    solver converged) and the means of ``extra``."""
    table = measured(table, metric)
    floor = noise_floor(table, metric)
    columns = [metric, f"original_{metric}", "converged", *extra]
    means = table.groupby(list(REQUEST) + ["method"])[columns].mean().reset_index()
    out = means.merge(floor, on=list(REQUEST), how="left")
    spread = out["retrain_sd"].where(out["retrain_sd"] > 0)
    out["gap_sd"] = (out[metric] - out["retrain_mean"]) / spread
    out["original_gap_sd"] = (out[f"original_{metric}"] - out["retrain_mean"]) / spread
    order = list(REQUEST) + ["method", metric, "gap_sd", f"original_{metric}", "original_gap_sd", "retrain_mean",
                             "retrain_sd", "retrain_seeds", "converged", *extra]
    return out[order]


def compared_seconds(table: pd.DataFrame) -> pd.Series:
    """Per row, the seconds of the Retrain that row is compared with: the median of Retrain's converged seeds on
    the same request (one Retrain run's time varies from seed to seed), or, for a method with a matched Retrain of
    its own backbone settings (``reference == "matched"``: UBPR's fixed triplets), that run's; ``nan`` where the
    request has no converged Retrain."""
    done = table[(table["method"] == "retrain") & (table["converged"] == 1)]
    median = done.groupby(list(REQUEST))["unlearn_seconds"].median().rename("retrain_median")
    return table["retrain_seconds"].where(table["reference"] == "matched",
                                          table.join(median, on=list(REQUEST))["retrain_median"])


def speed_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per backbone, method and setting, over the ratios and seeds: the median ``unlearn_seconds``, the median
    of the Retrain seconds each is compared with (``retrain_seconds``, :func:`compared_seconds`), their ratio
    ``speedup``, and the number of runs. Retrain's own row holds the per-request medians of its seeds, so its
    seconds are those the other methods are compared with (speed-up 1), not a median over a different set of runs."""
    done = table[table["converged"] == 1]
    compared = compared_seconds(done)
    own = done["method"] == "retrain"
    done = done.assign(compared=compared, seconds=done["unlearn_seconds"].where(~own, compared))
    out = (done.groupby(["dataset", "backbone", "method", "setting"])
           .agg(unlearn_seconds=("seconds", "median"), retrain_seconds=("compared", "median"),
                runs=("seconds", "size"))
           .reset_index())
    out.insert(out.columns.get_loc("runs"), "speedup", out["retrain_seconds"] / out["unlearn_seconds"])
    return out


def growth_table(table: pd.DataFrame, small: str, large: str) -> pd.DataFrame:
    """How the seconds grow with the data: :func:`speed_table` on data sets ``small`` and ``large`` side by side.

    Only the requests (setting and ratio) that both data sets' studies hold are compared, so that each ratio
    forgets the same share of each data set.

    Args:
        table: the rows of two studies, one per data set (their ``dataset`` column tells them apart).
        small, large: the two data sets' names.

    Returns:
        One row per backbone, method and setting present in both: ``unlearn_seconds`` and ``retrain_seconds``
        on each data set (columns named ``<measure> <data set>``) and their ``growth`` and ``retrain_growth``
        (large over small), ``data_growth`` (the forgotten interactions' count, large over small: the same ratio
        of a larger data set), and the ``speedup`` on each.

    Raises:
        ValueError: a data set is missing from ``table``, or the two share no request.
    """
    for name in (small, large):
        if not (table["dataset"] == name).any():
            raise ValueError(f"the table holds no study of {name!r}: {sorted(table['dataset'].unique())}")
    requests = [set(map(tuple, table.loc[table["dataset"] == name, ["setting", "ratio"]].drop_duplicates().values))
                for name in (small, large)]
    shared = requests[0] & requests[1]
    if not shared:
        raise ValueError(f"{small!r} and {large!r} share no request (setting and ratio)")
    rows = table[[pair in shared for pair in zip(table["setting"], table["ratio"])]]
    speed = speed_table(rows).merge(rows.groupby(["dataset", "backbone", "setting"])["forgotten"].median().reset_index(),
                                    on=["dataset", "backbone", "setting"])
    wide = speed.pivot_table(index=["backbone", "method", "setting"], columns="dataset",
                             values=["unlearn_seconds", "retrain_seconds", "speedup", "forgotten"]).dropna()
    out = pd.DataFrame(index=wide.index)
    for measure in ("unlearn_seconds", "retrain_seconds"):
        for name in (small, large):
            out[f"{measure} {name}"] = wide[(measure, name)]
    out["growth"] = wide[("unlearn_seconds", large)] / wide[("unlearn_seconds", small)]
    out["retrain_growth"] = wide[("retrain_seconds", large)] / wide[("retrain_seconds", small)]
    out["data_growth"] = wide[("forgotten", large)] / wide[("forgotten", small)]
    for name in (small, large):
        out[f"speedup {name}"] = wide[("speedup", name)]
    return out.reset_index()


def fidelity_table(table: pd.DataFrame) -> pd.DataFrame:
    """The influence methods' update against exact re-optimisation, per backbone, method, setting and ratio:
    the means of the parameters' and the scores' cosine, relative error and norm ratio, and the share of runs
    whose re-optimisations converged."""
    rows = table.dropna(subset=["delta_cosine"])
    return (rows.groupby(["dataset", "backbone", "method", "setting", "ratio"])
            [["delta_cosine", "delta_relative_error", "delta_norm_ratio", "score_cosine", "score_relative_error",
              "score_norm_ratio", "fidelity_converged"]]
            .mean().reset_index())


def best_per_request(summary: pd.DataFrame, within_sd: float = 1.0) -> pd.DataFrame:
    """Per request, the methods other than Retrain whose ``|gap_sd|`` is at most ``within_sd`` (as close to
    Retrain as another seed), fastest first."""
    close = summary[(summary["method"] != "retrain") & (np.abs(summary["gap_sd"]) <= within_sd)]
    return close.sort_values(list(REQUEST) + ["unlearn_seconds"]).reset_index(drop=True)
