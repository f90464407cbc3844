"""The papers' published numbers beside the study's, in measures that carry across data sets.

The papers and the study use different data (RecEraser's ML-1M, IFRU's Amazon, the study's ML-100K),
so their raw metrics cannot be compared. Two ratios can: RecEraser's Table 3 as each sharded method's
Recall@20 relative to Retrain's (how much quality sharding keeps), and IFRU's Table 2 as the completeness
coefficient (how much of Retrain's gain over the poisoned original a method recovers, mean of AUC0/1/2).
UBPR's Table 3 (:data:`~rec_unlearn_lib.unlearning.PAPER_UBPR_TABLE3`) is not compared here: it reports
HR@10 against 99 sampled negatives, a protocol the study does not run; chapter 5 shows it beside its own run.
"""

from __future__ import annotations

import pandas as pd

from ..unlearning.ifru_tables import AUCS, PAPER_TABLE2_AMAZON, completeness_table
from ..unlearning.reproduction import PAPER_TABLE3_ML1M

RELATIVE_METRIC = "recall@20"
"""The metric of the sharded methods' quality relative to Retrain (RecEraser's Table 3 has it)."""


def _relative_to_retrain(values: pd.DataFrame) -> pd.DataFrame:
    """Rows ``backbone, method, value`` -> each non-Retrain method's value over Retrain's (mean over seeds)."""
    mean = values.groupby(["backbone", "method"])["value"].mean().unstack("method")
    ratio = mean.drop(columns="retrain").div(mean["retrain"], axis=0)
    return ratio.stack().rename("value").reset_index()


def _completeness_mean(rows: pd.DataFrame) -> pd.DataFrame:
    """Tidy AUC rows (``original`` and ``retrain`` among the methods) -> ``backbone, method, value``: each other
    method's completeness averaged over AUC0/1/2 (:func:`~rec_unlearn_lib.unlearning.completeness_table`)."""
    table = completeness_table(rows)["completeness"].rename("value").reset_index()
    return table[~table["method"].isin(["original", "retrain"])]


def paper_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The papers' reference numbers beside the study's, one row per (measure, backbone, method).

    Args:
        table: a study table (:func:`~rec_unlearn_lib.study.run_study`'s rows): the random requests of the
            ranking protocol give the Recall@20 ratios (the smallest ratio of the study), the attack setting
            gives the completeness.

    Returns:
        columns ``measure`` (``recall@20 / retrain`` or ``completeness``), ``backbone``, ``method``, ``paper``
        (RecEraser Table 3 on ML-1M, or IFRU Table 2 on Amazon-Electronics), ``study`` (the study's value on its
        data set, ``nan`` where the study has no such run).

    Raises:
        ValueError: the table has neither random ranking requests nor attack requests.
    """
    random = table[(table["setting"] == "random") & table[RELATIVE_METRIC].notna() & (table["converged"] == 1)]
    attack = table[(table["setting"] == "attack") & (table["converged"] == 1)]
    if random.empty and attack.empty:
        raise ValueError("the study has no random ranking requests and no attack requests to compare")
    parts = []
    paper3 = PAPER_TABLE3_ML1M[PAPER_TABLE3_ML1M["metric"] == RELATIVE_METRIC]
    ours3 = random[random["ratio"] == random["ratio"].min()].rename(columns={RELATIVE_METRIC: "value"})
    parts.append(_merge(_relative_to_retrain(paper3), _relative_to_retrain(ours3[["backbone", "method", "value"]])
                        if len(ours3) else None, f"{RELATIVE_METRIC} / retrain", "RecEraser Table 3, ML-1M"))
    ours2 = None
    if len(attack):
        rows = attack.melt(id_vars=["backbone", "method"], value_vars=list(AUCS), var_name="metric")
        original = (attack[attack["method"] == "retrain"].groupby("backbone")[[f"original_{a}" for a in AUCS]].first()
                    .rename(columns=lambda c: c.removeprefix("original_")).stack().rename("value").reset_index()
                    .rename(columns={"level_1": "metric"}).assign(method="original"))
        ours2 = _completeness_mean(pd.concat([rows, original], ignore_index=True))
    parts.append(_merge(_completeness_mean(PAPER_TABLE2_AMAZON), ours2, "completeness",
                        "IFRU Table 2, Amazon-Electronics"))
    return pd.concat(parts, ignore_index=True)


def _merge(paper: pd.DataFrame, ours: pd.DataFrame | None, measure: str, source: str) -> pd.DataFrame:
    ours = ours if ours is not None else pd.DataFrame(columns=["backbone", "method", "value"])
    merged = paper.rename(columns={"value": "paper"}).merge(ours.rename(columns={"value": "study"}),
                                                             on=["backbone", "method"], how="left")
    return merged.assign(measure=measure, source=source)[["measure", "source", "backbone", "method", "paper", "study"]]
