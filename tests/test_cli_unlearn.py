"""``python -m rec_unlearn_lib unlearn``: one JSON object with method, metrics and seconds (tiny settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], data_root) -> subprocess.CompletedProcess:
    env = {**os.environ, "REC_UNLEARN_DATA": str(data_root), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rec_unlearn_lib", "unlearn", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


TINY = ["--dataset", "ml-100k", "--model", "bpr", "--profile", "quick", "--seed", "0", "--epochs", "1",
        "--emb-dim", "8", "--forget-count", "2"]


@pytest.mark.parametrize("extra", [
    ["--method", "receraser", "--shards", "2", "--partition", "ubp", "--aggregation", "attention",
     "--mode", "sequential"],
    ["--method", "retrain"],
    ["--method", "sisa", "--shards", "2", "--together"],
])
def test_unlearn_prints_one_json_object(data_root, extra):
    proc = _run(TINY + extra, data_root)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["method"] == extra[1]
    assert set(out["metrics"]) == {"original", "retrain", "unlearned"}
    for metrics in out["metrics"].values():
        assert "recall@20" in metrics and all(isinstance(v, float) for v in metrics.values())
    assert out["seconds"]["unlearn"] > 0 and out["seconds"]["retrain"] > 0
    assert out["forget"]["count"] == 2
    if extra[1] == "receraser":
        assert out["num_shards"] == 2 and out["partition"] == "ubp" and out["aggregation"] == "attention"
        assert {"shards", "aggregator", "unlearn_total"} <= set(out["seconds"])
        assert out["touched"]["requests"] == 2 and 1 <= len(out["touched"]["shards"]) <= 2


def test_unlearn_rejects_bad_input(data_root):
    proc = _run(["--dataset", "ml-100k", "--model", "bpr", "--method", "sisa", "--forget-ratio", "1.5"], data_root)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and proc.stdout == ""


@pytest.mark.parametrize("method, curvature", [("ifru", ["--damping", "0.05"]), ("scif", ["--damping", "0.05"]),
                                               ("ifru", ["--curvature", "gauss-newton", "--relative-damping", "1"]),
                                               ("ifru", ["--solver", "adam", "--select-on-validation", "--pruning",
                                                         "official"])])
def test_unlearn_influence_methods_on_the_attack_setting(data_root, method, curvature):
    args = ["--dataset", "ml-100k", "--model", "mf", "--method", method, "--protocol", "labelled", "--profile", "quick",
            "--epochs", "2", "--emb-dim", "8", "--forget-mode", "attack", "--forget-ratio", "0.01", *curvature]
    proc = _run(args, data_root)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["method"] == method and out["forget"] == {"count": 600, "mode": "batch", "ratio": 0.01, "kind": "attack"}
    assert set(out["metrics"]["original"]) == {"auc0", "auc1", "auc2"}
    assert set(out["completeness"]) == {"auc0", "auc1", "auc2", "mean"}
    assert {"find", "rhs", "solve", "apply", "retrain"} <= set(out["seconds"])
    assert out["solver"] == ("adam" if "adam" in curvature else "cg") and out["spillover"] == (method == "ifru")
    assert out["select_on_validation"] == ("adam" in curvature)
    assert out["pruning"] == ("official" if "official" in curvature else "algorithm-1")
    assert out["curvature"] == ("gauss-newton" if "gauss-newton" in curvature else "hessian")


def test_method_options_that_do_not_apply_are_refused(data_root):
    proc = _run(["--dataset", "ml-100k", "--model", "bpr", "--method", "retrain", "--damping", "0.1"], data_root)
    assert proc.returncode == 2 and "--damping does not apply to the method 'retrain'" in proc.stderr


def test_unlearn_ubpr_on_the_sampled_protocol(data_root):
    args = ["--dataset", "ml-100k", "--model", "bpr", "--method", "ubpr", "--protocol", "sampled", "--profile", "ubpr",
            "--epochs", "2", "--forget-mode", "users", "--forget-count", "1", "--damping", "0.01"]
    proc = _run(args, data_root)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["method"] == "ubpr" and out["protocol"] == "sampled" and out["forget"]["kind"] == "users"
    assert out["num_negatives"] == 4 and out["sampling"] == "fixed" and out["ratios"] is None
    for metrics in out["metrics"].values():
        assert {"hr@10", "ndcg@10"} <= set(metrics)
    assert {"find", "rhs", "solve", "apply", "retrain"} <= set(out["seconds"])
