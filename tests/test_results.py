"""Result files: written whole or not at all, with the metadata to re-run them; the reproduction rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rec_unlearn_lib.results import load_table, run_metadata, save_table
from rec_unlearn_lib.splits import random_split
from rec_unlearn_lib.unlearning import TABLE3_KS, sharded_reproduction


def test_save_table_writes_the_table_and_its_metadata(tmp_path):
    frame = pd.DataFrame({"model": ["bpr", "mf"], "seconds": [0.5, 1.5]})
    path = save_table(frame, tmp_path / "sub" / "bench.csv", run_metadata("cpu", seed=3, wall_seconds=2.0))
    table, meta = load_table(path)
    pd.testing.assert_frame_equal(table, frame)
    assert meta["seed"] == 3 and meta["device"] == "cpu" and meta["wall_seconds"] == 2.0
    assert {"torch", "commit", "command", "date", "cpu_count"} <= set(meta)
    assert sorted(p.name for p in path.parent.iterdir()) == ["bench.csv", "bench.csv.meta.json"]  # no temporaries


def test_nothing_half_written(tmp_path):
    with pytest.raises(ValueError, match="empty table"):
        save_table(pd.DataFrame(), tmp_path / "x.csv", {})

    class Unwritable:   # metadata that cannot be written: the table must not appear without it
        def __str__(self):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        save_table(pd.DataFrame({"a": [1]}), tmp_path / "y.csv", {"bad": Unwritable()})
    assert list(tmp_path.iterdir()) == []      # neither file, and no temporary left behind
    assert json.dumps(run_metadata())


def test_an_explicit_commit_wins(monkeypatch):
    monkeypatch.setenv("REC_UNLEARN_COMMIT", "abc1234")
    assert run_metadata()["commit"] == "abc1234"


def test_sharded_reproduction_rows_and_budget(synthetic):
    split = random_split(synthetic.interactions, seed=0)
    rows = pd.DataFrame(sharded_reproduction("bpr", split, ("retrain", "sisa"), deletions=3, profile="quick",
                                             device="cpu", epochs=2))
    quality = rows[rows["table"] == "3"]
    assert set(quality["method"]) == {"retrain", "sisa"}
    assert set(quality["metric"]) == {f"{m}@{k}" for m in ("recall", "ndcg") for k in TABLE3_KS}
    assert list(rows.loc[rows["table"] == "4", "deletion"]) == [0, 1, 2]          # SISA only, one row each
    assert (rows.loc[rows["table"] == "fit", "value"] > 0).all()
    cut = pd.DataFrame(sharded_reproduction("bpr", split, ("sisa",), deletions=3, profile="quick", device="cpu",
                                            epochs=2, budget_seconds=1e-9))
    assert (cut["table"] != "4").all() and (cut["table"] == "3").sum() == 2 * len(TABLE3_KS)
