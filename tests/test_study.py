"""The study: its grid comes from the registries, its table resumes, is written whole, refuses another
configuration, and its measures are right on cases computed by hand."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import rec_unlearn_lib.study.runner as runner
from rec_unlearn_lib.cli import main
from rec_unlearn_lib.forget import ForgetRequest
from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.models import MF, trainable_models
from rec_unlearn_lib.splits import leave_one_out
from rec_unlearn_lib.synthetic import synthetic_dataset
from rec_unlearn_lib.study import (COLUMNS, FORGET_SETTINGS, KEY, QUICK_FORGET, TABLE, StudyConfig, StudyConfigError,
                                   backbone_objective, cell_unsupported, cells, forgetting_measures, groups, noise_floor,
                                   order_columns, pair_ranks, run_study, summary_table, update_fidelity)
from rec_unlearn_lib.study.runner import _make
from rec_unlearn_lib.study.summary import compared_seconds, fidelity_table, growth_table, speed_table
from rec_unlearn_lib.influence import SolverDidNotConverge
from rec_unlearn_lib.influence.solvers import SolverResult
from rec_unlearn_lib.unlearning import IFRU, METHODS, UBPR, InfluenceUnlearning, Retrain

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(profile="quick", dataset="synthetic", device="cpu", backbones=("mf", "bpr"),
            methods=("retrain", "sisa", "ifru"), forget=(("random", 0.02), ("users", 0.02)), seeds=(0,),
            retrain_seeds=(0, 1), epochs=1, fidelity=False)


def test_the_quick_grid_holds_every_method_and_backbone_that_apply():
    config = StudyConfig(profile="quick", dataset="ml-100k", device="cpu")
    assert {s for s, _ in QUICK_FORGET} == set(FORGET_SETTINGS)
    present = {(c.backbone, c.method, c.setting) for c in cells(config)}
    for backbone in trainable_models():
        for method in METHODS:
            for setting in FORGET_SETTINGS:
                applies = cell_unsupported(backbone, method, setting) is None
                assert ((backbone, method, setting) in present) == applies, (backbone, method, setting)
    # what does not apply, and why
    assert "WMF" in cell_unsupported("wmf", "ifru", "random")
    assert "labelled" in cell_unsupported("bpr", "scif", "random")
    assert "UBPR unlearns BPR" in cell_unsupported("mf", "ubpr", "random")
    assert "BCE" in cell_unsupported("bpr", "retrain", "attack")
    # IFRU's LightGCN: trained with BCE on the labelled rows, where UBPR (a BPR method) does not apply
    assert cell_unsupported("lightgcn", "ifru", "attack") is None
    assert "trained with bce" in cell_unsupported("lightgcn", "ubpr", "attack")
    assert backbone_objective("lightgcn", "labelled") == "bce" and backbone_objective("lightgcn", "ranking") == "bpr"
    # every method has a cell, Retrain has its extra seeds, and a request is shared within a group
    assert {c.method for c in cells(config)} == set(METHODS)
    assert {c.seed for c in cells(config) if c.method == "retrain"} == {0, 1, 2}
    for group in groups(config):
        assert len({c.backbone for c in group.cells}) == 1 and len({c.seed for c in group.cells}) == 1
        assert group.poisoned is None or group.requests == (group.poisoned,)


def test_a_newly_registered_method_joins_the_grid():
    class Twin(Retrain):
        name = "twin"

    with METHODS.temporary("twin", Twin, "a copy of Retrain"):
        config = StudyConfig(profile="quick", dataset="ml-100k", device="cpu")
        assert {c.backbone for c in cells(config) if c.method == "twin"} == set(trainable_models())


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="must lie in"):
        StudyConfig(profile="quick", dataset="x", device="cpu", forget=(("random", 1.5),))
    with pytest.raises(ValueError, match="forget setting"):
        StudyConfig(profile="quick", dataset="x", device="cpu", forget=(("everything", 0.1),))
    with pytest.raises(ValueError, match="every seed of the methods"):
        StudyConfig(profile="quick", dataset="x", device="cpu", seeds=(5,), retrain_seeds=(0, 1))
    with pytest.raises(ValueError, match="at least two seeds"):
        StudyConfig(profile="quick", dataset="x", device="cpu", seeds=(0,), retrain_seeds=(0,))
    with pytest.raises(ValueError, match="repeat an entry"):
        StudyConfig(profile="quick", dataset="x", device="cpu", forget=(("random", 0.1), ("random", 0.1)))
    with pytest.raises(ValueError, match="repeat an entry"):
        StudyConfig(profile="quick", dataset="x", device="cpu", seeds=(0, 0))
    with pytest.raises(ValueError, match="non-negative integer"):
        StudyConfig(profile="quick", dataset="x", device="cpu", seeds=("0",))
    assert StudyConfig(profile="quick", dataset="x", device="cpu", seeds=(np.int64(1),),
                       retrain_seeds=(0, 1)).as_dict()["seeds"] == [1]
    with pytest.raises(ValueError, match="no training to unlearn"):
        StudyConfig(profile="quick", dataset="x", device="cpu", backbones=("pop",))
    with pytest.raises(ValueError, match="reg must be a non-negative number"):
        StudyConfig(profile="quick", dataset="x", device="cpu", reg=-0.1)


def test_the_l2_weight_of_the_configuration_reaches_every_method_and_retrain():
    config = StudyConfig(**{**TINY, "reg": 0.25})
    assert config.as_dict()["reg"] == 0.25
    for name in ("retrain", "ifru", "sisa"):
        assert _make(config, "mf", name, 0, "ranking").settings.reg == 0.25
    assert _make(StudyConfig(**TINY), "mf", "ifru", 0, "ranking").settings.reg == 1e-4      # the profile's


@pytest.fixture(scope="module")
def tiny_study(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    config = StudyConfig(**TINY)
    return config, out, run_study(config, out, dataset=synthetic, progress=False)


def test_the_table_has_one_row_per_cell_and_its_schema(tiny_study):
    config, out, frame = tiny_study
    assert len(frame) == len(cells(config)) and not frame.duplicated(list(KEY)).any()
    assert list(frame.columns[:len(COLUMNS)]) == list(COLUMNS)
    assert {"recall@20", "ndcg@20", "original_recall@20"} <= set(frame.columns)
    on_disk = pd.read_csv(out / TABLE)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "study.parquet"), on_disk, check_dtype=False)
    meta = json.loads((out / (TABLE + ".meta.json")).read_text())
    assert meta["config"] == config.as_dict() and meta["rows"] == len(frame) == meta["cells"]
    assert {"commit", "torch", "device_name", "started", "finished", "library"} <= set(meta)
    assert meta["wall_seconds"] > 0
    done = frame[frame["converged"] == 1]
    assert (done["unlearn_seconds"] > 0).all() and (done["retrain_seconds"] > 0).all()
    assert done["mia_auc"].between(0, 1).all() and done["forgotten_percentile"].between(0, 1).all()
    assert frame[frame["converged"] == 0]["recall@20"].isna().all()         # no numbers for a failed solve
    assert (frame[frame["method"] != "ifru"]["converged"] == 1).all()
    # Retrain's own speed-up is 1; Retrain's extra seed is trained on D \ D_f only (no original)
    retrain = frame[frame["method"] == "retrain"]
    np.testing.assert_allclose(retrain["speedup"], 1.0)
    # every method is timed against the Retrain cell of its request and seed (same settings, same run)
    reference = retrain[retrain["seed"] == 0].set_index(["backbone", "setting", "ratio"])["unlearn_seconds"]
    others = done[done["method"] != "retrain"]
    assert (others["reference"] == "retrain").all()
    np.testing.assert_array_equal(others["retrain_seconds"],
                                  reference.loc[list(zip(others["backbone"], others["setting"], others["ratio"]))])
    assert retrain[retrain["seed"] == 1]["original_recall@20"].isna().all()
    assert retrain[retrain["seed"] == 0]["original_recall@20"].notna().all()


def test_lightgcn_under_attack_is_trained_with_bce(synthetic, tmp_path, monkeypatch):
    made = []
    make = runner._make

    def recording(*args):
        method = make(*args)
        made.append((method.name, method.settings.objective))
        return method

    monkeypatch.setattr(runner, "_make", recording)
    config = StudyConfig(profile="quick", dataset="synthetic", device="cpu", backbones=("lightgcn",),
                         methods=("retrain", "ifru", "ubpr"), forget=(("attack", 0.02),), retrain_seeds=(0, 1),
                         epochs=1)
    frame = run_study(config, tmp_path, dataset=synthetic, progress=False)
    assert set(frame["method"]) == {"retrain", "ifru"} and (frame["objective"] == "bce").all()
    assert made and all(objective == "bce" for _, objective in made)
    assert frame["auc"].notna().all() and frame.loc[frame["method"] == "ifru", "auc0"].notna().all()


def test_a_finished_study_resumes_without_work(tiny_study, synthetic, monkeypatch):
    config, out, frame = tiny_study

    def no_work(job):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(runner, "run_group", no_work)
    again = run_study(config, out, dataset=synthetic, progress=False)
    pd.testing.assert_frame_equal(again, frame)


def test_a_killed_run_leaves_the_last_whole_table_and_resumes_the_rest(synthetic, tmp_path, monkeypatch):
    config = StudyConfig(**{**TINY, "methods": ("retrain",), "backbones": ("bpr",)})
    real, calls = runner.run_group, []

    def dies_on_the_second_group(job):
        calls.append(job.group)
        if len(calls) == 2:
            raise KeyboardInterrupt          # killed mid-run
        return real(job)

    monkeypatch.setattr(runner, "run_group", dies_on_the_second_group)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path, dataset=synthetic, progress=False)
    first = pd.read_csv(tmp_path / TABLE)
    assert len(first) == len(calls[0].cells) and sorted(p.name for p in tmp_path.iterdir()) == \
        sorted([TABLE, TABLE + ".meta.json", "study.parquet"])

    def counted(job):
        resumed.append(job.group)
        return real(job)

    resumed: list = []
    monkeypatch.setattr(runner, "run_group", counted)
    whole = run_study(config, tmp_path, dataset=synthetic, progress=False)
    assert len(whole) == len(cells(config)) and len(resumed) == len(groups(config)) - 1
    assert calls[0] not in resumed                                      # the finished group is not run again
    kept = whole.merge(first[list(KEY)], on=list(KEY))
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), order_columns(first), check_dtype=False)


def test_a_run_killed_inside_a_group_keeps_the_cells_it_measured(synthetic, tmp_path, monkeypatch):
    config = StudyConfig(**{**TINY, "methods": ("retrain", "sisa"), "backbones": ("bpr",)})
    real = runner.run_group
    first_group = groups(config)[0]
    assert len(first_group.cells) > 2

    def dies_after_two_cells(job):
        for count, row in enumerate(real(job), start=1):
            yield row
            if count == 2:
                raise KeyboardInterrupt        # killed while the group's third cell runs

    monkeypatch.setattr(runner, "run_group", dies_after_two_cells)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path, dataset=synthetic, progress=False)
    kept = pd.read_csv(tmp_path / TABLE)
    assert [tuple(r) for r in kept[["method", "setting", "ratio", "seed"]].itertuples(index=False)] == \
        [(c.method, c.setting, c.ratio, c.seed) for c in first_group.cells[:2]]

    resumed: list = []

    def counted(job):
        resumed.append(job.group)
        return real(job)

    monkeypatch.setattr(runner, "run_group", counted)
    whole = run_study(config, tmp_path, dataset=synthetic, progress=False)
    assert len(whole) == len(cells(config))
    same = [g for g in resumed if (g.backbone, g.seed, g.poisoned) == (first_group.backbone, first_group.seed,
                                                                       first_group.poisoned)]
    assert [g.cells for g in same] == [first_group.cells[2:]]          # the measured cells are not run again


def test_a_kill_while_writing_leaves_the_previous_table(synthetic, tmp_path, monkeypatch):
    config = StudyConfig(**{**TINY, "methods": ("retrain",), "backbones": ("bpr",)})
    real_replace, renames = runner_os_replace(), []

    def dies_on_the_second_write(src, dst):
        if Path(dst).parent == tmp_path:
            renames.append(dst)
            if len(renames) == 5:            # the second save: after its metadata, before its tables
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr("rec_unlearn_lib.results.os.replace", dies_on_the_second_write)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path, dataset=synthetic, progress=False)
    # the first table (its first cell) is whole; the second save's metadata is in place, its tables are not:
    # the folder no longer matches its metadata, and the next run says so instead of taking a mixed table
    assert len(pd.read_csv(tmp_path / TABLE)) == 1
    monkeypatch.setattr("rec_unlearn_lib.results.os.replace", real_replace)
    with pytest.raises(StudyConfigError, match="does not match its metadata"):
        run_study(config, tmp_path, dataset=synthetic, progress=False)
    assert len(run_study(config, tmp_path, dataset=synthetic, progress=False, overwrite=True)) == len(cells(config))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def runner_os_replace():
    import os
    return os.replace


def test_another_configuration_in_the_same_folder_is_refused(tiny_study, synthetic):
    config, out, _ = tiny_study
    other = StudyConfig(**{**TINY, "seeds": (1,), "retrain_seeds": (0, 1), "methods": ("retrain",)})
    with pytest.raises(StudyConfigError, match="another configuration"):
        run_study(other, out, dataset=synthetic, progress=False)


def test_overwrite_replaces_another_configuration(synthetic, tmp_path):
    small = StudyConfig(**{**TINY, "methods": ("retrain",), "backbones": ("bpr",), "forget": (("random", 0.02),)})
    run_study(small, tmp_path, dataset=synthetic, progress=False)
    other = StudyConfig(**{**TINY, "methods": ("retrain",), "backbones": ("mf",), "forget": (("random", 0.02),)})
    frame = run_study(other, tmp_path, dataset=synthetic, progress=False, overwrite=True)
    assert set(frame["backbone"]) == {"mf"} and len(pd.read_csv(tmp_path / TABLE)) == len(cells(other))


def test_a_solver_that_does_not_converge_gives_a_row_without_numbers(synthetic, tmp_path, monkeypatch):
    def fails(self, rows):
        raise SolverDidNotConverge(SolverResult(torch.zeros(1), "cg", False, 1, 2, 1.0, 1.0, 1.0, 0.0, 0.0,
                                                message="negative curvature at iteration 2"))

    monkeypatch.setattr(InfluenceUnlearning, "_forget_rows", fails)
    config = StudyConfig(**{**TINY, "methods": ("retrain", "ifru"), "backbones": ("bpr",),
                            "forget": (("random", 0.02),)})
    frame = run_study(config, tmp_path, dataset=synthetic, progress=False).set_index("method")
    assert frame.loc["ifru", "converged"] == 0 and np.isnan(frame.loc["ifru", "recall@20"])
    assert np.isnan(frame.loc["ifru", "mia_auc"]) and frame.loc["ifru", "original_recall@20"] > 0
    # why it stopped is kept, in the table on disk too; a converged cell has no message
    on_disk = pd.read_csv(tmp_path / TABLE).set_index("method")
    assert "DID NOT CONVERGE" in on_disk.loc["ifru", "solver_message"]
    assert "negative curvature at iteration 2" in on_disk.loc["ifru", "solver_message"]
    assert pd.isna(on_disk.loc["retrain", "solver_message"]).all()
    summary = summary_table(frame.reset_index(), "recall@20").set_index("method")
    assert summary.loc["ifru", "converged"] == 0 and np.isnan(summary.loc["ifru", "gap_sd"])


def test_the_ray_engine_gives_the_table_of_the_local_engine(synthetic, tmp_path):
    ray = pytest.importorskip("ray")
    config = StudyConfig(**{**TINY, "methods": ("retrain", "sisa"), "backbones": ("bpr",)})
    local = run_study(config, tmp_path / "local", dataset=synthetic, progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_study(config, tmp_path / "ray", dataset=synthetic, engine="ray", progress=False)
    finally:
        ray.shutdown()
    timing = [c for c in local.columns if c.endswith("seconds") or c == "speedup"]
    pd.testing.assert_frame_equal(local.drop(columns=timing), remote.drop(columns=timing))


def test_the_command_line_refuses_bad_forget_settings(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["study", "--out", "x", "--forget", "random"])
    assert exit_info.value.code == 2 and "SETTING:RATIO" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["study", "--out", "x", "--forget", "random:1.5"])
    assert "must lie in (0, 1)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["study", "--out", "x", "--forget", "everything:0.1"])
    assert "unknown forget setting 'everything'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["study", "--out", "x", "--forget", "random:abc"])
    assert "is not a number" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- measures
class FixedScores(MF):
    """An MF whose scores are a given [users, items] matrix (rank-2 factorisation of it)."""

    def __init__(self, scores: np.ndarray) -> None:
        super().__init__(scores.shape[0], scores.shape[1], 2, None)
        with torch.no_grad():
            self.user_emb.copy_(torch.stack([torch.ones(scores.shape[0]), torch.zeros(scores.shape[0])], 1))
            self.item_emb.zero_()
            self.item_emb[:, 0] = torch.as_tensor(scores[0])


def test_pair_ranks_by_hand():
    # one user, items scored 0.5, 0.9, 0.1, 0.7; item 1 is kept training data (not a candidate)
    model = FixedScores(np.array([[0.5, 0.9, 0.1, 0.7]]))
    exclude = Interactions(np.array([0]), np.array([1]), 1, 4)
    ranks, candidates = pair_ranks(model, np.array([0, 0, 0, 0]), np.array([0, 2, 3, 1]), exclude)
    # candidates 0, 2, 3 (and the asked item itself): above item 0 only item 3; above item 2: items 0 and 3;
    # above item 3: none; item 1 asked for is a candidate of its own pair and the best
    np.testing.assert_array_equal(ranks, [1, 2, 0, 0])
    np.testing.assert_array_equal(candidates, [3, 3, 3, 4])


def test_pair_ranks_across_users_in_chunks_with_ties():
    class TwoUsers(MF):
        def __init__(self) -> None:
            super().__init__(2, 4, 1, None)
            with torch.no_grad():
                self.user_emb.copy_(torch.tensor([[1.0], [-1.0]]))
                self.item_emb.copy_(torch.tensor([[0.5], [0.9], [0.5], [0.7]]))

    # user 0 scores 0.5, 0.9, 0.5, 0.7; user 1 the negatives; user 1 keeps item 0
    exclude = Interactions(np.array([1]), np.array([0]), 2, 4)
    users, items = np.array([1, 0, 1, 0, 1]), np.array([2, 0, 1, 3, 3])
    ranks, candidates = pair_ranks(TwoUsers(), users, items, exclude, chunk=2)
    # user 1, item 2 (-0.5): above it none of items 1, 3 (-0.9, -0.7); user 0, item 0 (0.5): items 1 and 3 above,
    # item 2 tied (half); user 1, item 1 (-0.9): items 2 and 3 above; user 0, item 3: item 1 above; user 1, item 3:
    # item 2 above
    np.testing.assert_array_equal(ranks, [0.0, 2.5, 2.0, 1.0, 1.0])
    np.testing.assert_array_equal(candidates, [3, 4, 3, 4, 3])


def test_membership_auc_by_hand():
    scores = np.array([[0.9, 0.8, 0.1, 0.2, 0.3, 0.4]])
    model = FixedScores(scores)
    retain = Interactions(np.array([0]), np.array([5]), 1, 6)
    remembered = ForgetRequest([0, 0], [0, 1])                      # the two best-scored items
    held_out = Interactions(np.array([0, 0]), np.array([2, 3]), 1, 6)
    out = forgetting_measures(model, remembered, retain, held_out)
    assert out["mia_auc"] == 1.0 and out["forgotten_top20"] == 1.0
    # percentiles over the 5 candidates: item 0 has 0 above, item 1 one above: (0/4 + 1/4) / 2
    assert out["forgotten_percentile"] == pytest.approx(0.125)
    forgotten = ForgetRequest([0, 0], [2, 3])                       # as low as the held-out ones
    assert forgetting_measures(model, forgotten, retain,
                               Interactions(np.array([0, 0]), np.array([0, 1]), 1, 6))["mia_auc"] == 0.0


def test_influence_update_matches_exact_reoptimisation_on_a_regularised_mf():
    """From a stationary point of a well-regularised BPR-MF, UBPR's update (every row) points where exact
    re-optimisation goes, in parameters and in scores; first order, it falls somewhat short."""
    data = synthetic_dataset(num_users=120, num_items=60, seed=1).interactions
    split = leave_one_out(data, num_negatives=10, seed=0)
    method = UBPR("bpr", profile="quick", seed=0, device="cpu", reg=0.1, emb_dim=4, epochs=20, patience=0,
                  batch_size=256, num_negatives=2, solver_options={"rtol": 1e-8, "damping": 1e-6}).fit(split)
    before = copy.deepcopy(method.model)
    out = update_fidelity(method, ForgetRequest.random(split.train, count=3, seed=4))
    assert out["fidelity_converged"] == 1.0
    for view in ("delta", "score"):
        assert out[f"{view}_cosine"] > 0.99 and out[f"{view}_relative_error"] < 0.3
        assert 0.7 < out[f"{view}_norm_ratio"] < 1.0
    torch.testing.assert_close(method.model.user_emb, before.user_emb, rtol=0, atol=0)     # not changed


def test_lightgcn_update_matches_exact_reoptimisation_on_the_graph_left():
    """The same for IFRU on a one-layer LightGCN (every row, spillover included): the exact update is
    re-optimised on the graph of D minus D_f with the closed-form curvature, and IFRU's step points there."""
    data = synthetic_dataset(num_users=120, num_items=60, seed=1).interactions
    split = leave_one_out(data, num_negatives=10, seed=0)
    method = IFRU("lightgcn", profile="quick", seed=0, device="cpu", reg=0.1, emb_dim=4, epochs=20, patience=0,
                  batch_size=256, num_layers=1, ratios=(1.0, 1.0, 1.0),
                  solver_options={"rtol": 1e-8, "damping": 1e-6}).fit(split)
    out = update_fidelity(method, ForgetRequest.random(split.train, count=3, seed=4))
    assert out["fidelity_converged"] == 1.0
    assert out["score_cosine"] > 0.9 and 0.5 < out["score_norm_ratio"] < 1.5


def test_growth_table_by_hand():
    def rows(dataset, forgotten, retrain, ifru, ratio=0.001):
        base = {"dataset": dataset, "backbone": "bpr", "setting": "random", "ratio": ratio, "converged": 1.0,
                "forgotten": forgotten}
        out = [{**base, "method": "retrain", "seed": s, "unlearn_seconds": t} for s, t in enumerate(retrain)]
        return out + [{**base, "method": "ifru", "seed": 0, "unlearn_seconds": ifru, "retrain_seconds": retrain[0],
                       "reference": "retrain"}]
    table = order_columns(pd.DataFrame(rows("small", 72, [2.0, 4.0], 1.0) + rows("small", 720, [3.0, 3.0], 9.0, 0.01)
                                       + rows("large", 720, [30.0, 50.0], 5.0)))
    growth = growth_table(table, "small", "large").set_index("method")
    # only the shared request (random, 0.1 %) counts: Retrain's medians 3 s and 40 s, IFRU 1 s and 5 s
    assert growth.loc["ifru", "unlearn_seconds small"] == 1.0 and growth.loc["ifru", "growth"] == 5.0
    assert growth.loc["ifru", "retrain_growth"] == pytest.approx(40 / 3) and growth.loc["ifru", "data_growth"] == 10
    assert growth.loc["ifru", "speedup small"] == 3.0 and growth.loc["ifru", "speedup large"] == 8.0
    assert growth.loc["retrain", "growth"] == pytest.approx(40 / 3)
    with pytest.raises(ValueError, match="no study of 'ml-1m'"):
        growth_table(table, "small", "ml-1m")
    with pytest.raises(ValueError, match="share no request"):
        growth_table(table[(table["dataset"] == "large") | (table["ratio"] == 0.01)], "small", "large")


def test_noise_floor_and_gaps_by_hand():
    base = {"dataset": "d", "backbone": "bpr", "setting": "random", "ratio": 0.01, "converged": 1.0}
    rows = [{**base, "method": "retrain", "seed": s, "recall@20": v, "original_recall@20": 0.5, "unlearn_seconds": t}
            for s, (v, t) in enumerate([(0.30, 1.0), (0.32, 4.0), (0.34, 3.0)])]
    rows += [{**base, "method": "ifru", "seed": 0, "recall@20": 0.38, "original_recall@20": 0.5,
              "unlearn_seconds": 1.5, "retrain_seconds": 1.0, "reference": "retrain"},
             {**base, "method": "ubpr", "seed": 0, "recall@20": 0.30, "original_recall@20": 0.5,
              "unlearn_seconds": 2.0, "retrain_seconds": 5.0, "reference": "matched"}]
    table = order_columns(pd.DataFrame(rows).assign(mia_auc=0.5, original_mia_auc=0.6, forgotten_percentile=0.4,
                                                    original_forgotten_percentile=0.3))
    floor = noise_floor(table, "recall@20")
    assert floor["retrain_mean"].item() == pytest.approx(0.32) and floor["retrain_sd"].item() == pytest.approx(0.02)
    summary = summary_table(table, "recall@20").set_index("method")
    assert summary.loc["ifru", "gap_sd"] == pytest.approx(3.0)         # (0.38 - 0.32) / 0.02
    assert summary.loc["ifru", "original_gap_sd"] == pytest.approx(9.0)
    assert summary.loc["retrain", "gap_sd"] == pytest.approx(0.0)
    speed = speed_table(table).set_index("method")
    assert speed.loc["ifru", "speedup"] == 2.0           # against Retrain's median over its seeds, 3 s
    assert speed.loc["ubpr", "speedup"] == 2.5           # against its matched Retrain, 5 s
    compared = table.assign(compared=compared_seconds(table)).set_index(["method", "seed"])["compared"]
    assert compared[("ifru", 0)] == 3.0 and compared[("ubpr", 0)] == 5.0 and (compared["retrain"] == 3.0).all()
    # with a second request, Retrain's row shows the seconds the others are compared with: the median over the
    # requests of each request's median over seeds ((3 + 10) / 2), not the median of all six runs (5.5)
    second = table.assign(ratio=0.05, unlearn_seconds=table["unlearn_seconds"] + 7.0,
                          retrain_seconds=table["retrain_seconds"] + 7.0)
    speed = speed_table(order_columns(pd.concat([table, second], ignore_index=True))).set_index("method")
    assert speed.loc["retrain", "unlearn_seconds"] == speed.loc["ifru", "retrain_seconds"] == 6.5
    assert speed.loc["retrain", "speedup"] == 1.0 and speed.loc["retrain", "runs"] == 6
    assert fidelity_table(table).empty                                   # no influence update was compared
    with pytest.raises(ValueError, match="at least two seeds"):
        noise_floor(table[table["seed"] == 0], "recall@20")
    # a request of another protocol (no recall measured) is left out, not an error
    attack = {**base, "setting": "attack", "method": "retrain", "seed": 0, "auc": 0.7}
    mixed = order_columns(pd.concat([table, pd.DataFrame([attack])], ignore_index=True))
    assert set(summary_table(mixed, "recall@20")["setting"]) == {"random"}
    with pytest.raises(ValueError, match="no 'hr@10' column"):
        summary_table(mixed, "hr@10")
