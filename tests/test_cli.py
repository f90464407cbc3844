"""The command line: JSON on success, one-line errors with exit status 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rec_unlearn_lib", *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}, timeout=300)


@pytest.mark.parametrize("name, users, items, interactions", [
    ("ml-100k", 943, 1682, 100_000),
    ("receraser-ml-1m", 6040, None, 920_193),
])
def test_data_reports_sizes(data_root, name, users, items, interactions):
    out = run("data", name, "--root", str(data_root))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["dataset"] == name and summary["users"] == users and summary["interactions"] == interactions
    if items is not None:
        assert summary["items"] == items


def test_train_prints_metrics(data_root):
    out = run("train", "--dataset", "ml-100k", "--model", "bpr", "--profile", "quick", "--seed", "1",
              "--epochs", "2", "--root", str(data_root))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["model"] == "bpr" and result["dataset"] == "ml-100k" and result["seconds"] > 0
    assert {"recall@20", "ndcg@20"} <= set(result["metrics"]) and result["epochs_run"] == 2


def test_train_splits_with_the_threshold_and_core_asked_for(data_root):
    out = run("train", "--dataset", "ml-100k", "--model", "mf", "--protocol", "labelled", "--threshold", "5",
              "--k-core", "5", "--profile", "quick", "--epochs", "1", "--root", str(data_root))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["metrics"]["auc"] > 0.5
    out = run("train", "--dataset", "receraser-ml-1m", "--model", "bpr", "--k-core", "5", "--epochs", "1",
              "--root", str(data_root))
    assert out.returncode == 2 and "ships its own split" in out.stderr


@pytest.mark.parametrize("args, message", [
    (("data", "nope"), "unknown data set 'nope'; choose one of ml-100k"),
    (("train", "--model", "svd"), "unknown model 'svd'; choose one of mf, bpr"),
    (("train", "--model", "bpr", "--epochs", "0"), "positive integer"),
    (("train", "--model", "bpr", "--seed", "-3"), "non-negative"),
    (("train", "--model", "bpr", "--k-core", "-1"), "non-negative integer"),
    (("train", "--model", "bpr", "--threshold", "0"), "positive number"),
    (("train", "--model", "bpr", "--profile", "huge"), "unknown profile 'huge'; choose one of quick, full"),
    (("unlearn", "--model", "pop", "--method", "retrain"),
     "unknown trained backbone 'pop'; choose one of mf, bpr, wmf, lightgcn"),
    (("unlearn", "--model", "bpr", "--method", "retrain", "--partition", "ubp"),
     "--partition does not apply to the method 'retrain'"),
    (("unlearn", "--model", "bpr", "--method", "ifru", "--together"), "--together does not apply to the method 'ifru'"),
    (("unlearn", "--model", "bpr", "--method", "retrain", "--agg-patience", "3"),
     "--agg-patience does not apply to the method 'retrain'"),
])
def test_bad_input_is_one_line_error(args, message):
    out = run(*args)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_missing_data_offline(tmp_path):
    out = run("data", "ml-100k", "--root", str(tmp_path),
              env={"REC_UNLEARN_OFFLINE": "1", "REC_UNLEARN_CACHE": str(tmp_path / "cache"), "REC_UNLEARN_DATA": ""})
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line and "ml-100k" in line and "REC_UNLEARN_DATA" in line


def test_bench_writes_its_rows_and_metadata(data_root, tmp_path):
    out = run("bench", "--datasets", "ml-100k", "--models", "pop", "--devices", "cpu", "--profile", "quick",
              "--epochs", "1", "--root", str(data_root), "--out", str(tmp_path / "bench.csv"))
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["model"] == "pop" and row["cuda_graph"] is False and row["epoch_seconds"] is None
    assert row["eval_seconds"] > 0
    meta = json.loads((tmp_path / "bench.csv.meta.json").read_text())
    assert meta["profile"] == "quick" and meta["device"] == "cpu" and "torch" in meta


def test_a_sampler_is_refused_before_any_training_where_a_backbone_lacks_it(data_root, tmp_path):
    out = run("tables", "--dataset", "ml-100k", "--models", "bpr", "wmf", "--methods", "retrain",
              "--sampling", "user-uniform", "--profile", "quick", "--root", str(data_root),
              "--out", str(tmp_path / "tables.csv"))
    assert out.returncode == 2 and "wmf objective cannot sample by 'user-uniform'" in out.stderr
    assert not (tmp_path / "tables.csv").exists()
    refused = run("unlearn", "--model", "wmf", "--method", "receraser", "--sampling", "own-items", "--profile", "quick",
                  "--root", str(data_root))
    assert refused.returncode == 2 and "wmf objective cannot sample by 'own-items'" in refused.stderr
    trained = run("train", "--dataset", "ml-100k", "--model", "bpr", "--sampling", "user-uniform", "--epochs", "1",
                  "--profile", "quick", "--root", str(data_root))
    assert trained.returncode == 0, trained.stderr


def test_tables_share_the_partition_embeddings_across_backbones(data_root, tmp_path):
    out = run("tables", "--dataset", "ml-100k", "--models", "bpr", "wmf", "--methods", "receraser",
              "--deletions", "1", "--epochs", "1", "--profile", "quick", "--device", "cpu", "--root", str(data_root),
              "--out", str(tmp_path / "tables.csv"))
    assert out.returncode == 0, out.stderr
    import pandas as pd
    rows = pd.read_csv(tmp_path / "tables.csv")
    fits = rows[rows["table"] == "fit"]
    assert list(fits["method"]) == ["partition embeddings", "receraser", "receraser"]     # trained once
    assert "fit_embeddings" not in rows and (fits["value"] > 0).all() and fits["fit_partition"].iloc[1:].gt(0).all()
    assert list(rows.loc[rows["table"] == "4", "backbone"]) == ["bpr", "wmf"]            # each backbone deletes


def test_patience_reaches_the_backbone_settings_and_zero_is_kept():
    from rec_unlearn_lib.cli import _backbone_overrides, _method_options, _sharding, build_parser

    parser = build_parser()
    for command in (["train", "--model", "bpr"], ["unlearn", "--model", "bpr", "--method", "sisa"], ["tables"]):
        assert _backbone_overrides(parser.parse_args([*command, "--patience", "0"]))["patience"] == 0  # 0: never stop
        assert "patience" not in _backbone_overrides(parser.parse_args(command))
    refused = run("train", "--model", "bpr", "--patience", "-1")
    assert refused.returncode == 2 and "--patience" in refused.stderr
    # the aggregator's patience: a sharding setting of tables and unlearn, 0 kept, nothing when not given
    for command in (["unlearn", "--model", "bpr", "--method", "receraser"], ["tables"]):
        assert _sharding(parser.parse_args([*command, "--agg-patience", "0"])) == {"agg_patience": 0}
        assert _sharding(parser.parse_args([*command, "--together", "--agg-patience", "3"])) == {
            "together": True, "agg_patience": 3}
        assert _sharding(parser.parse_args(command)) == {}
    options = _method_options(parser.parse_args(["unlearn", "--model", "bpr", "--method", "receraser",
                                                 "--agg-patience", "2"]))
    assert options["sharding"]["agg_patience"] == 2
