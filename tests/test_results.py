"""Result files: written whole or not at all, with the metadata to re-run them; the reproduction rows."""

from __future__ import annotations

import json
import stat

import numpy as np
import pandas as pd
import pytest

from rec_unlearn_lib import results
from rec_unlearn_lib.results import load_table, published_table, run_metadata, save_table
from rec_unlearn_lib.splits import random_split
from rec_unlearn_lib.unlearning import (PAPER_TABLE3_ML1M, SISA, TABLE3_KS, expected_shard_seconds,
                                        sharded_reproduction, table3_beside_paper, table4_beside_paper)
from rec_unlearn_lib.unlearning.reproduction import _training_rows


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


def test_written_files_are_as_readable_as_a_plain_open_makes_them(tmp_path, umask_022):
    save_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv", {}, parquet=True)    # not mkstemp's 0o600
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"t.csv": umask_022, "t.csv.meta.json": umask_022, "t.parquet": umask_022}


def test_an_explicit_commit_wins(monkeypatch):
    monkeypatch.setenv("REC_UNLEARN_COMMIT", "abc1234")
    assert run_metadata()["commit"] == "abc1234"


def test_the_checkout_commit_is_read_once_per_process(monkeypatch):
    """A long run's metadata names the code it loaded, even if the checkout moves on while it runs."""
    monkeypatch.delenv("REC_UNLEARN_COMMIT", raising=False)
    results._checkout_commit.cache_clear()
    first = results.current_commit()
    monkeypatch.setattr(results.subprocess, "run", lambda *a, **k: pytest.fail("git was asked again"))
    assert results.current_commit() == first == run_metadata()["commit"]
    results._checkout_commit.cache_clear()


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
    assert table4_beside_paper(cut, "sisa").loc["bpr", "expected_shard_s"] > 0   # a fit without deletions: estimated
    single = pd.DataFrame(sharded_reproduction("bpr", split, ("ubpr",), deletions=1, profile="quick", device="cpu",
                                               epochs=1, budget_seconds=1e-9))      # one model, no shards
    assert set(single["table"]) == {"fit", "3"}


def test_training_rows_describe_each_shard(synthetic):
    split = random_split(synthetic.interactions, seed=0)
    for together in (False, True):
        sisa = SISA("bpr", 3, profile="quick", seed=0, device="cpu", epochs=1,
                    sharding={"together": together}).fit(split)
        rows = pd.DataFrame(_training_rows(sisa, {"backbone": "bpr", "method": "sisa"})).set_index("shard")
        assert list(rows.index) == [0, 1, 2] and set(rows["table"]) == {"shards"}
        for k, sub in enumerate(sorted(sisa.submodels, key=lambda s: s.shard)):
            held = sisa.train.subset(sisa.partition.rows(k))
            assert rows.loc[k, "shard_interactions"] == len(held)
            assert rows.loc[k, "shard_users"] == len(np.unique(held.users))
            assert rows.loc[k, "shard_items"] == len(np.unique(held.items))
            assert (rows.loc[k, "shard_epochs"], rows.loc[k, "shard_best_epoch"]) == (sub.epochs_run, sub.best_epoch)
            # seconds of a sub-model trained alone; trained together, the steps were shared: not measured
            assert rows.loc[k, "value"] == sub.seconds if not together else np.isnan(rows.loc[k, "value"])
    assert expected_shard_seconds(rows.reset_index()).isna().all()


def test_sharded_reproduction_scores_sub_models_under_more_aggregators(synthetic):
    split = random_split(synthetic.interactions, seed=0)
    more = ("mean", "attention", "attention-graph")           # each method's own aggregator is not scored twice
    for backbone, expected in [("lightgcn", {"receraser", "receraser, mean", "receraser, attention-graph",
                                             "sisa", "sisa, attention", "sisa, attention-graph"}),
                               ("bpr", {"receraser", "receraser, mean", "sisa", "sisa, attention"})]:
        rows = pd.DataFrame(sharded_reproduction(backbone, split, ("receraser", "sisa"), deletions=1,
                                                 profile="quick", device="cpu", epochs=1, aggregations=more))
        assert set(rows.loc[rows["table"] == "3", "method"]) == expected    # attention-graph needs LightGCN
        fits = rows[rows["table"] == "fit"].set_index("method")
        assert (fits.loc[sorted(expected - {"receraser", "sisa"}), "fit_aggregator"] >= 0).all()
        assert set(rows.loc[rows["table"] == "4", "method"]) == {"receraser", "sisa"}
        # how long each trained aggregator ran, at its fit and at each deletion; nothing for the untrained mean
        trained = rows[rows["method"].isin(expected - {"sisa", "receraser, mean"}) & rows["table"].isin(["fit", "4"])]
        assert (trained["aggregator_epochs"] == 1).all() and trained["aggregator_best_epoch"].between(0, 1).all()
        assert rows.loc[rows["method"].isin(["sisa", "receraser, mean"]), "aggregator_epochs"].isna().all()
        # where each fit spent its time: one row per shard, the aggregator's history epoch by epoch
        shards = rows[rows["table"] == "shards"]
        for name in ("receraser", "sisa"):
            mine = shards[shards["method"] == name]
            assert list(mine["shard"]) == list(range(len(mine)))                       # once each, in order
            assert mine["shard_interactions"].sum() == len(split.train)              # the shards cover the data
        assert (shards["shard_epochs"] == 1).all() and (shards["value"] > 0).all()
        history = rows[rows["table"] == "aggregator"]
        assert set(history["method"]) == {"receraser"} and set(history["epoch"]) == {1}   # the mean has none
        assert {"loss", "seconds", "recall@20"} <= set(history["metric"])
    # the variant is really aggregated again: SISA's sub-models score differently under attention
    rows = pd.DataFrame(sharded_reproduction("bpr", split, ("sisa",), deletions=1, profile="quick", device="cpu",
                                             epochs=1, aggregations=("attention",), budget_seconds=1e-9))
    quality = rows[rows["table"] == "3"].pivot_table(index="metric", columns="method", values="value")
    assert not np.allclose(quality["sisa"], quality["sisa, attention"])


def _rows(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(("backbone", "method", "table", "metric", "value", "delete_shards",
                                   "delete_aggregator"), row)) for row in rows])


def test_table3_beside_the_paper():
    rows = _rows(("bpr", "retrain", "3", "recall@20", 0.2, None, None), ("bpr", "retrain", "fit", "seconds", 9.0,
                                                                          None, None),
                 ("wmf", "receraser", 3, "recall@20", 0.1, None, None))
    table = table3_beside_paper(rows)
    assert table.loc[("bpr", "retrain"), ("recall@20", "ours")] == 0.2
    assert table.loc[("bpr", "retrain"), ("recall@20", "paper")] == 0.2389                 # RecEraser's Table 3
    assert table.loc[("wmf", "receraser"), ("recall@20", "ours")] == 0.1
    assert pd.isna(table.loc[("lightgcn", "sisa"), ("recall@20", "ours")])                  # not run: NaN, kept
    assert list(table.index.get_level_values(0).unique()) == ["bpr", "wmf", "lightgcn"]
    assert list(table.loc["bpr"].index) == ["retrain", "sisa", "receraser"]
    assert len(PAPER_TABLE3_ML1M) == 3 * 3 * 2 * len(TABLE3_KS)


def test_table4_beside_the_paper():
    rows = _rows(("bpr", "retrain", "fit", "seconds", 10.0, None, None),
                 ("bpr", "retrain", "fit", "seconds", 20.0, None, None),          # two runs: the mean, 15
                 ("bpr", "receraser", "4", "seconds", 3.0, 1.0, 2.0),
                 ("bpr", "receraser", "4", "seconds", 7.0, 3.0, 4.0),
                 ("bpr", "sisa", "4", "seconds", 100.0, 100.0, 0.0))              # another method: not counted
    table = table4_beside_paper(rows)
    bpr = table.loc["bpr"]
    assert bpr["deletions"] == 2 and bpr["shard_s"] == 2.0 and bpr["aggregator_s"] == 3.0 and bpr["total_s"] == 5.0
    assert bpr["retrain_s"] == 15.0 and bpr["speedup"] == 3.0
    assert bpr["paper_total_min"] == 22 and bpr["paper_speedup"] == pytest.approx(15.0)
    assert pd.isna(table.loc["wmf", "total_s"]) and table.loc["wmf", "paper_retrain_min"] == 13
    assert pd.isna(bpr["expected_shard_s"])                                         # no shard rows
    # a random deletion falls in shard k with probability n_k / n: shards of 1 and 3 rows trained in 10 and 2 s
    shards = pd.DataFrame([{"backbone": backbone, "method": method, "table": "shards", "seed": 0, "shard": k,
                            "metric": "seconds", "value": t, "shard_interactions": n}
                           for backbone, method, k, n, t in [("bpr", "receraser", 0, 1, 10.0),
                                                             ("bpr", "receraser", 1, 3, 2.0),
                                                             ("bpr", "sisa", 0, 1, 99.0),
                                                             ("wmf", "receraser", 0, 5, 4.0)]])
    table = table4_beside_paper(pd.concat([rows, shards]))
    assert table.loc["bpr", "expected_shard_s"] == pytest.approx((1 * 10 + 3 * 2) / 4)
    assert table.loc["bpr", "shard_s"] == 2.0 and table.loc["wmf", "expected_shard_s"] == 4.0
    assert expected_shard_seconds(shards, "sisa").to_dict() == {"bpr": 99.0}
    # two fits pooled, each shard weighted by its own rows, though their keys coincide: (1*10 + 3*2 + 4*1) / 8
    other = shards.assign(shard_interactions=[4, 0, 1, 5], value=[1.0, 0.0, 99.0, 4.0])
    assert expected_shard_seconds(pd.concat([shards, other])).loc["bpr"] == pytest.approx(20 / 8)
    table4_fit_only = table4_beside_paper(shards)                     # fits without deletions: their rows too
    assert table4_fit_only.loc["wmf", "expected_shard_s"] == 4.0 and pd.isna(table4_fit_only.loc["wmf", "total_s"])


def test_published_tables_are_read_from_the_checkout():
    table, meta = published_table("gpu-2026-11-26b/receraser_tables.csv")
    assert {"backbone", "method", "table", "metric", "value"} <= set(table.columns)
    assert meta["device_name"].startswith("NVIDIA") and meta["commit"]
    with pytest.raises(FileNotFoundError, match="clone the repository"):
        published_table("no-such-folder/none.csv")
