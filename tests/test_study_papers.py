"""The papers' reference numbers beside the study's (rec_unlearn_lib.study.papers), checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_unlearn_lib.study import paper_comparison


def _row(**values) -> dict:
    base = {"setting": "random", "ratio": 0.001, "converged": 1, "recall@20": np.nan,
            **{f"{p}auc{i}": np.nan for p in ("", "original_") for i in range(3)}}
    return {**base, **values}


def study_table() -> pd.DataFrame:
    rows = [_row(backbone="bpr", method="retrain", seed=0, **{"recall@20": 0.30}),
            _row(backbone="bpr", method="retrain", seed=1, **{"recall@20": 0.10}),        # Retrain's mean: 0.20
            _row(backbone="bpr", method="sisa", seed=0, **{"recall@20": 0.15}),
            _row(backbone="bpr", method="sisa", seed=0, ratio=0.01, **{"recall@20": 0.01}),   # not the smallest
            _row(backbone="bpr", method="receraser", seed=0, converged=0, **{"recall@20": 0.50})]  # failed run
    aucs = {"retrain": (0.70, 0.72, 0.74), "ifru": (0.65, 0.66, 0.74)}
    for method, (a0, a1, a2) in aucs.items():
        rows.append(_row(backbone="mf", method=method, seed=0, setting="attack", ratio=0.02, auc0=a0, auc1=a1, auc2=a2,
                         original_auc0=0.60, original_auc1=0.62, original_auc2=0.64))
    return pd.DataFrame(rows)


def test_the_study_side_by_hand() -> None:
    table = paper_comparison(study_table()).set_index(["measure", "backbone", "method"])
    assert table.loc[("recall@20 / retrain", "bpr", "sisa"), "study"] == pytest.approx(0.15 / 0.20)
    assert np.isnan(table.loc[("recall@20 / retrain", "bpr", "receraser"), "study"])     # its run failed
    # IFRU: (0.65-0.60)/(0.70-0.60) = 0.5, (0.66-0.62)/(0.72-0.62) = 0.4, (0.74-0.64)/(0.74-0.64) = 1.0
    assert table.loc[("completeness", "mf", "ifru"), "study"] == pytest.approx((0.5 + 0.4 + 1.0) / 3)
    assert np.isnan(table.loc[("completeness", "lightgcn", "ifru"), "study"])             # no such run


def test_the_papers_side_by_hand() -> None:
    table = paper_comparison(study_table()).set_index(["measure", "backbone", "method"])
    # RecEraser Table 3, ML-1M, BPR-MF: Recall@20 0.1737 (SISA) and 0.2389 (Retrain)
    assert table.loc[("recall@20 / retrain", "bpr", "sisa"), "paper"] == pytest.approx(0.1737 / 0.2389)
    # IFRU Table 2, Amazon, MF: the 88 % its text states, within rounding
    assert table.loc[("completeness", "mf", "ifru"), "paper"] == pytest.approx(0.88, abs=0.01)
    assert set(table.index.get_level_values("method")) >= {"sisa", "receraser", "scif", "ifru"}


def test_a_study_without_comparable_requests_is_refused() -> None:
    users_only = study_table().assign(setting="users")
    with pytest.raises(ValueError, match="no random ranking requests"):
        paper_comparison(users_only)
