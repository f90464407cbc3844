"""IFRU and SCIF: pruning (Algorithm 1), spillover (Eq. 9-10) and the methods on the one interface."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from rec_unlearn_lib.evaluation import evaluate
from rec_unlearn_lib.forget import ForgetRequest, attack
from rec_unlearn_lib.influence import (MFCurvature, changed_nodes, degree_changed_nodes, forget_rows, full_batch,
                                       mf_surrogate, prune, prune_official, recommender_problem, spillover_loss, spillover_rows,
                                       take_rows)
from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.models import normalized_adjacency
from rec_unlearn_lib.settings import backbone_settings, make_backbone
from rec_unlearn_lib.splits import Split, labelled_split
from rec_unlearn_lib.unlearning import IFRU, SCIF, METHODS, averaged_labels, make_method

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = {"emb_dim": 8, "epochs": 4, "patience": 0, "batch_size": 512, "lr": 0.02}


def _figure3() -> tuple[Interactions, Interactions]:
    """IFRU's Figure 3 in miniature: erase (u0, i0); u0 has 5 interactions, i0 has 3."""
    pairs = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 2), (1, 3), (1, 5), (2, 0), (2, 4)]
    users, items = map(np.array, zip(*pairs))
    train = Interactions(users, items, 3, 6)
    return train, train.subset(np.array([0]))


def test_pruning_scores_and_keeps_as_algorithm_1() -> None:
    train, forget = _figure3()
    hop0 = prune(train, forget, (1.0,))
    assert hop0.users.tolist() == [0] and hop0.items.tolist() == [0]
    np.testing.assert_allclose(hop0.scores[0][[0, 3]], [1 / 5, 1 / 3])              # 1/|N_u0|, 1/|N_i0|
    half = prune(train, forget, (1.0, 0.5))
    s1 = half.scores[1]
    # s^1 = s^0 + sum over kept neighbours v of s^0_v / |N_v'|  (users 0..2, then items 0..5 at 3..8)
    np.testing.assert_allclose(s1[[0, 1, 2]], [1 / 5 + (1 / 3) / 5, (1 / 3) / 4, (1 / 3) / 2])
    np.testing.assert_allclose(s1[[3, 4, 5, 6, 7]], [1 / 3 + (1 / 5) / 3, 1 / 5, 1 / 10, 1 / 10, 1 / 10])
    assert half.kept == (2, 4)                            # top ceil(0.5 * 8) of the 8 neighbours of S^0
    assert half.users.tolist() == [0, 2] and half.items.tolist() == [0, 1]
    only = prune(train, forget, (0.5,))                   # hop 0 keeps ceil(0.5 * 2) = 1 node: i0 (1/3 > 1/5)
    assert only.users.tolist() == [] and only.items.tolist() == [0]
    # hop 2: only kept nodes pass their score on; u1 is not kept at a_1 = 0.5, so i5 (its only neighbour) gets none
    assert prune(train, forget, (1.0, 1.0, 1.0)).scores[2][3 + 5] == pytest.approx((1 / 12) / 1)
    pruned = prune(train, forget, (1.0, 0.5, 1.0))
    assert pruned.scores[2][3 + 5] == 0.0 and 5 not in pruned.items


def test_official_pruning_scores_with_self_loops_and_keeps_the_last_hop_above_a_quantile() -> None:
    train, forget = _figure3()
    # degrees with a self-loop: u0..u2 = 6, 5, 3; i0..i5 = 4, 2, 3, 3, 3, 2
    wide = prune_official(train, forget, (1.0, 0.6))
    np.testing.assert_allclose(wide.scores[0][[0, 3]], [1 / 6, 1 / 4])
    # s^1 does not start from s^0: u0 gets its own score only through its self-loop, (1/6 + 1/4) / 6
    np.testing.assert_allclose(wide.scores[1][[0, 1, 2]], [(1 / 6 + 1 / 4) / 6, (1 / 4) / 5, (1 / 4) / 3])
    np.testing.assert_allclose(wide.scores[1][[3, 4, 5, 6, 7, 8]], [(1 / 4 + 1 / 6) / 4, 1 / 12, 1 / 18, 1 / 18,
                                                                      1 / 18, 0.0])
    assert wide.users.tolist() == [0, 2] and wide.items.tolist() == [0, 1]   # above the 0.4 quantile, 1/18
    # a_1 = 0.3: above the 0.7 quantile (0.0819) only u2, i0, i1; u0, an endpoint of the erased pair, does not
    # move, while Algorithm 1 keeps every hop-0 node
    narrow = prune_official(train, forget, (1.0, 0.3))
    assert narrow.users.tolist() == [2] and narrow.items.tolist() == [0, 1] and narrow.kept == (2, 3)
    assert 0 in prune(train, forget, (1.0, 0.3)).users
    assert prune_official(train, forget, (0.6,)).items.tolist() == [0]        # SCIF on LightGCN: i0 (1/4 > 1/5)
    twice = Interactions(np.append(train.users, 1), np.append(train.items, 5), 3, 6)   # (u1, i5) a second time
    np.testing.assert_allclose(prune_official(twice, forget, (1.0, 1.0)).scores[1][1], (1 / 4) / 6)   # deg(u1) = 6
    for ratios in [(1.0,), (1.0, 1.0)]:                                       # the MF scripts keep every candidate
        official, paper = prune_official(train, forget, ratios), prune(train, forget, ratios)
        assert official.users.tolist() == paper.users.tolist() and official.items.tolist() == paper.items.tolist()
    with pytest.raises(ValueError, match="pruning ratios"):
        prune_official(train, forget, (1.0, 1.5))
    with pytest.raises(ValueError, match="unknown pruning"):
        IFRU("mf", profile="quick", pruning="top")


def test_pruning_with_all_ratios_one_keeps_every_node_within_k_hops() -> None:
    train, forget = _figure3()
    full = prune(train, forget, (1.0, 1.0))
    assert full.users.tolist() == [0, 1, 2] and full.items.tolist() == [0, 1, 2, 3, 4]   # i5 is 2 hops away
    two = prune(train, forget, (1.0, 1.0, 1.0))
    assert two.items.tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="pruning ratios"):
        prune(train, forget, (1.0, 0.0))


def _labelled(synthetic):
    return labelled_split(synthetic.interactions, threshold=4.0, seed=0)


def _lightgcn(split, layers: int, dtype=torch.float64):
    settings = backbone_settings("lightgcn", "quick").replace(emb_dim=4, num_layers=layers, objective="bce")
    model = make_backbone("lightgcn", split.num_users, split.num_items, settings, seed=0).to(dtype)
    model.fit_data(split.train)
    return model


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_spillover_rows_are_exactly_the_rows_whose_loss_changes(synthetic, layers) -> None:
    """L_s summed over D_c equals L_s summed over every remaining row: outside D_c both terms cancel."""
    split = _labelled(synthetic)
    train = split.train
    rows = np.flatnonzero(train.labels > 0)[:3]                  # positive rows: edges of the graph
    retain = train.drop(rows)
    model = _lightgcn(split, layers)
    batch = full_batch(model, train)
    mask = forget_rows(batch, ForgetRequest(train.users[rows], train.items[rows]), train)
    spill = spillover_rows(model, batch, mask, train, retain)
    after = model.graph_of(retain)
    on_dc = spillover_loss(model, take_rows(batch, spill), after)()
    on_all = spillover_loss(model, take_rows(batch, ~mask), after)()
    assert 0 < int(spill.sum()) < int((~mask).sum())
    assert abs(float(on_dc.detach())) > 1e-6
    torch.testing.assert_close(on_dc, on_all, rtol=1e-9, atol=1e-12)
    changed = changed_nodes(train, retain, layers)
    assert changed.sum() < len(changed) and changed_nodes(train, retain, layers - 1).sum() < changed.sum()


def test_official_spillover_set_keeps_the_endpoints_whose_degree_falls_by_more_than_one_percent() -> None:
    """IFRU's code: u0 loses 1 of its 120 edges (0.8 %: kept out), u1 1 of 2 and i0 1 of 3 (kept); the
    neighbours that the exact K-hop set adds (i1, u2, ...) are not in it."""
    pairs = [(0, i) for i in range(120)] + [(1, 0), (1, 121), (2, 0), (2, 1)]
    users, items = map(np.array, zip(*pairs))
    train = Interactions(users, items, 3, 122, labels=np.ones(len(pairs)))
    erased = np.array([0, 120])                                                # (u0, i0) and (u1, i0)
    retain = train.drop(erased)
    official = degree_changed_nodes(train, retain)
    users_kept, items_kept = np.flatnonzero(official[:3]), np.flatnonzero(official[3:])
    assert users_kept.tolist() == [1] and items_kept.tolist() == [0]          # i0: 3 -> 1 edges
    exact = changed_nodes(train, retain, 1)
    assert (exact >= official).all() and exact.sum() > official.sum()
    settings = backbone_settings("lightgcn", "quick").replace(emb_dim=2, num_layers=1, objective="bce")
    model = make_backbone("lightgcn", 3, 122, settings, seed=0)
    model.fit_data(train)
    batch = full_batch(model, train)
    mask = forget_rows(batch, ForgetRequest(train.users[erased], train.items[erased]), train)
    rows = spillover_rows(model, batch, mask, train, retain, "official")
    touched = (batch["users"] == 1) | (batch["items"] == 0)
    assert torch.equal(rows, touched & ~mask)                                  # u1's and i0's remaining rows
    with pytest.raises(ValueError, match="unknown spillover set"):
        spillover_rows(model, batch, mask, train, retain, "paper")
    with pytest.raises(ValueError, match="unknown spillover set"):
        IFRU("lightgcn", profile="quick", device="cpu", spillover_set="paper")


def test_mf_surrogate_curvature_is_the_hessian_of_the_loss_without_propagation(attacked) -> None:
    """IFRU's official LightGCN Hessian: the closed-form products over the shared tables equal autograd's
    Hessian of an MF with copies of them; IFRU solves with it and the update differs from the true one."""
    split, poisoned, request = attacked
    model = _lightgcn(split, 2)
    model.fit_data(poisoned)
    batch = full_batch(model, poisoned)
    users, items = np.array([0, 2, 5]), np.array([1, 3, 4, 8])
    surrogate = mf_surrogate(model)
    assert surrogate.user_emb is model.user_emb and surrogate.item_emb is model.item_emb
    products = MFCurvature(surrogate, batch).problem_hvp(recommender_problem(model, batch, users=users, items=items))
    copied = copy.deepcopy(surrogate)
    reference = recommender_problem(copied, batch, users=users, items=items)
    true_lightgcn = recommender_problem(model, batch, users=users, items=items)
    generator = torch.Generator().manual_seed(3)
    v = torch.randn(reference.num_params, dtype=torch.float64, generator=generator)
    torch.testing.assert_close(products(v), reference.hvp(v), rtol=1e-10, atol=1e-12)
    assert not torch.allclose(products(v), true_lightgcn.hvp(v))                   # the graph is left out
    options = {"solver_options": {"damping": 0.05}, "num_layers": 1, "objective": "bce", **TINY}
    fitted = IFRU("lightgcn", profile="quick", seed=0, device="cpu", **options).fit(split, poisoned)
    official = IFRU("lightgcn", profile="quick", seed=0, device="cpu", curvature="mf-surrogate", **options)
    official.adopt(fitted)
    exact, surrogate_update = fitted.forget(request).model, official.forget(request).model
    assert official.last_solve.converged
    assert not torch.allclose(surrogate_update.user_emb, exact.user_emb)
    with pytest.raises(ValueError, match="MF-surrogate"):
        IFRU("mf", profile="quick", device="cpu", curvature="mf-surrogate")


def test_no_spillover_for_mf_or_for_negative_rows(synthetic) -> None:
    split = _labelled(synthetic)
    train = split.train
    mf = make_backbone("mf", split.num_users, split.num_items, backbone_settings("mf", "quick"), seed=0)
    batch = full_batch(mf, train)
    rows = np.flatnonzero(train.labels > 0)[:3]
    mask = forget_rows(batch, ForgetRequest(train.users[rows], train.items[rows]), train)
    assert not spillover_rows(mf, batch, mask, train, train.drop(rows)).any()
    negatives = np.flatnonzero(train.labels == 0)[:3]             # a labelled 0 is no edge: the graph stays
    assert not changed_nodes(train, train.drop(negatives), 2).any()


def test_influence_methods_are_registered_and_refuse_wmf() -> None:
    assert {"ifru", "scif"} <= set(METHODS)
    with pytest.raises(ValueError, match="mean of per-row terms"):
        make_method("ifru", "wmf", profile="quick", device="cpu")
    with pytest.raises(ValueError, match="unknown solver"):
        IFRU("mf", profile="quick", device="cpu", solver="newton")
    with pytest.raises(ValueError, match="batches of users"):                 # refused before any training
        IFRU("bpr", profile="quick", device="cpu", sampling="user-uniform")


@pytest.fixture(scope="module")
def attacked(synthetic):
    split = _labelled(synthetic)
    poisoned, request = attack(split.train, 0.02, seed=1)
    return split, poisoned, request


@pytest.mark.parametrize("backbone, layers", [("mf", 0), ("lightgcn", 1), ("lightgcn", 2)])
def test_ifru_forgets_on_a_copy_with_its_phases(attacked, backbone, layers) -> None:
    split, poisoned, request = attacked
    extra = {"num_layers": layers, "objective": "bce"} if backbone == "lightgcn" else {}
    method = IFRU(backbone, profile="quick", seed=0, device="cpu", solver_options={"damping": 0.05},
                  **TINY, **extra).fit(split, poisoned)
    original = method.model
    before = evaluate(original, split, "test")
    empty = method.forget(ForgetRequest.empty())
    assert empty.model is original and empty.seconds == 0.0
    result = method.forget(request)
    assert result.model is not original and evaluate(original, split, "test") == before   # the original is intact
    assert set(result.breakdown) == {"find", "curvature", "rhs", "solve", "apply"} and result.num_forgotten == len(request)
    assert result.touched["users"] > 0 and result.touched["items"] > 0
    assert (result.touched["spillover_rows"] > 0) == (backbone == "lightgcn")
    assert method.last_solve.converged and len(method.train) == len(poisoned) - len(request)
    moved = ~torch.isclose(result.model.user_emb, original.user_emb).all(1)
    assert moved.any() and int(moved.sum()) <= result.touched["users"]
    if backbone == "lightgcn":                          # scores on the graph of D without D_f
        expected = result.model.graph_of(method.train).to_dense()
        torch.testing.assert_close(result.model.graph.to_dense(), expected)
    assert np.isfinite(list(evaluate(result.model, split, "test").values())).all()


def test_cg_and_adam_agree(attacked) -> None:
    split, poisoned, request = attacked
    models = {}
    for solver, options in [("cg", {"damping": 0.05, "rtol": 1e-6}),
                            ("adam", {"damping": 0.05, "rtol": 1e-5, "max_iter": 20_000})]:
        method = IFRU("mf", profile="quick", seed=0, device="cpu", ratios=(1.0,), solver=solver,
                      solver_options=options, **TINY).fit(split, poisoned)
        original = method.model
        models[solver] = method.forget(request).model
    torch.testing.assert_close(models["adam"].user_emb, models["cg"].user_emb, rtol=1e-4, atol=1e-5)
    assert not torch.equal(models["cg"].user_emb, original.user_emb)


def test_selection_on_validation_keeps_the_iterate_of_best_validation_auc(attacked) -> None:
    split, poisoned, request = attacked
    with pytest.raises(ValueError, match="solver='adam'"):
        IFRU("mf", profile="quick", select_on_validation=True)
    method = IFRU("mf", profile="quick", seed=0, device="cpu", ratios=(1.0, 1.0), pruning="official", solver="adam",
                  select_on_validation=True, solver_options={"damping": 0.05, "lr": 10.0}, **TINY).fit(split, poisoned)
    result = method.forget(request)
    solve = method.last_solve.diagnostics
    scores = solve["score_history"]
    assert method.last_solve.converged and len(scores) == solve["selected_iteration"] + 11
    assert solve["best_score"] == max(scores) > evaluate(method.model, split, "valid")["auc"] - 0.05
    # the score of the kept iterate is the validation AUC of the model the method returns
    assert evaluate(result.model, split, "valid")["auc"] == pytest.approx(solve["best_score"], abs=1e-12)
    assert method.describe()["select_on_validation"] and method.describe()["pruning"] == "official"


def test_relative_damping_is_one_absolute_damping_whatever_pruning_keeps(attacked) -> None:
    """mu is relative to the mean diagonal over every row the data reads, not over phi: pruning changes the
    rows an update moves, not how strongly it is damped."""
    split, poisoned, request = attacked
    dampings, moved = [], []
    for ratios in [(1.0, 1.0), (1.0,), (0.2,)]:
        method = IFRU("mf", profile="quick", seed=0, device="cpu", ratios=ratios, relative_damping=1.0,
                      curvature="gauss-newton",
                      **TINY).fit(split, poisoned)
        result = method.forget(request)
        dampings.append(method.last_solve.damping)
        moved.append(result.touched["users"] + result.touched["items"])
    assert moved[0] > moved[1] > moved[2]
    assert dampings[0] > 0 and dampings == [dampings[0]] * 3


def test_scif_relabels_with_averaged_labels(attacked) -> None:
    split, poisoned, request = attacked
    rows = request.rows(poisoned)
    averaged = averaged_labels(poisoned, rows)
    retain = poisoned.drop(rows)
    u = poisoned.users[rows[0]]
    assert averaged[0] == pytest.approx(retain.labels[retain.users == u].mean())
    method = SCIF("mf", profile="quick", seed=0, device="cpu", solver_options={"damping": 0.05}, **TINY)
    result = method.fit(split, poisoned).forget(request)
    assert result.touched["spillover_rows"] == 0 and set(result.breakdown) == {"find", "curvature", "rhs", "solve", "apply"}
    users, items = request.touched()
    assert result.touched["users"] == len(users) and result.touched["items"] == len(items)   # 0-hop rows only
    with pytest.raises(ValueError, match="no spillover"):
        SCIF("mf", profile="quick", device="cpu", spillover=True)


def _tiny_labelled() -> tuple:
    """6 users x 5 items, every node with labelled rows of both kinds: small enough for explicit Hessians."""
    rng = np.random.default_rng(0)
    pairs = sorted({(u, i) for u in range(6) for i in range(5) if rng.random() < 0.6} | {(u, u % 5) for u in range(6)})
    users, items = map(np.array, zip(*pairs))
    labels = (rng.random(len(pairs)) < 0.5).astype(np.float32)
    labels[:4] = 1.0
    data = Interactions(users, items, 6, 5, labels=labels)
    split = Split("labelled", data, data.subset(np.arange(6)), data.subset(np.arange(6, 12)), seed=0)
    return split, np.array([0, 1, 7])                      # two edges and (maybe) a labelled 0


def _fitted(cls, split, backbone, **kwargs):
    extra = {"objective": "bce", "num_layers": 2} if backbone == "lightgcn" else {}
    method = cls(backbone, profile="quick", seed=0, device="cpu", emb_dim=3, epochs=3, patience=0, reg=0.01,
                 **extra, **kwargs).fit(split)
    method._model = method.model.double()                  # float64: compare with explicit Hessians
    return method


def _dense_loss(theta: torch.Tensor, rows: Interactions, graph: np.ndarray | None, num_layers: int,
                reg: float) -> torch.Tensor:
    """Mean BCE + per-row L2 over ``rows``, written from scratch (MF, or LightGCN on a dense graph)."""
    ego = theta.view(11, 3)
    final = ego
    if graph is not None:
        layer, total = ego, ego
        for _ in range(num_layers):
            layer = torch.as_tensor(graph) @ layer
            total = total + layer
        final = total / (num_layers + 1)
    u, i = torch.as_tensor(rows.users), torch.as_tensor(6 + rows.items)
    logits = (final[u] * final[i]).sum(1)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.as_tensor(rows.labels, dtype=theta.dtype))
    return bce + reg / 2 * (ego[u].pow(2).sum() + ego[i].pow(2).sum()) / len(u)


@pytest.mark.parametrize("backbone, closed_form", [("mf", True), ("lightgcn", True), ("lightgcn", False)])
def test_ifru_update_is_the_influence_of_eq_7_on_every_row(backbone, closed_form) -> None:
    """With phi = every row, IFRU's update is (H + mu I)^-1 g / |D|, where H is the Hessian of the mean loss on
    D and g the gradient of n J(D) - (n - k) J(D \\ D_f): Eq. 7's difference, spillover and all (checked
    here from scratch: dense graphs, explicit Hessian)."""
    split, rows = _tiny_labelled()
    method = _fitted(IFRU, split, backbone, ratios=(1.0,) * 6, solver_options={"damping": 0.5, "rtol": 1e-12},
                     closed_form=closed_form)
    train = split.train
    retain = train.drop(rows)
    theta = torch.cat([method.model.user_emb, method.model.item_emb]).detach().reshape(-1)
    graphs = [None, None] if backbone == "mf" else [normalized_adjacency(t).toarray().astype(np.float64)
                                                   for t in (train, retain)]
    n, k = len(train), len(rows)

    def j_train(t):
        return _dense_loss(t, train, graphs[0], 2, 0.01)

    def eq7(t):
        return n * j_train(t) - (n - k) * _dense_loss(t, retain, graphs[1], 2, 0.01)

    hessian = torch.autograd.functional.hessian(j_train, theta)
    g = torch.autograd.grad(eq7(theta.requires_grad_()), theta)[0]
    expected = torch.linalg.solve(hessian + 0.5 * torch.eye(len(theta), dtype=theta.dtype), g) / n
    result = method.forget(ForgetRequest(train.users[rows], train.items[rows]))
    moved = torch.cat([result.model.user_emb, result.model.item_emb]).detach().reshape(-1) - theta.detach()
    assert result.touched["users"] == 6 and result.touched["items"] == 5
    assert (result.touched["spillover_rows"] > 0) == (backbone == "lightgcn")
    torch.testing.assert_close(moved, expected, rtol=1e-6, atol=1e-9)


def test_scif_right_hand_side_is_the_relabelling() -> None:
    """SCIF's forget loss is n J(D) - n J(D with the forgotten labels replaced by averaged ones)."""
    split, rows = _tiny_labelled()
    method = _fitted(SCIF, split, "mf", solver_options={"damping": 0.5})
    train, model = split.train, method.model
    batch = full_batch(model, train)
    mask = forget_rows(batch, ForgetRequest(train.users[rows], train.items[rows]), train)
    closure, _ = method.forget_loss(model, batch, mask, train, rows)
    relabelled = train.labels.astype(np.float64).copy()
    relabelled[rows] = averaged_labels(train, rows)
    swapped = full_batch(model, train.with_labels(relabelled))
    n = len(train)
    torch.testing.assert_close(closure(), n * model.loss(batch) - n * model.loss(swapped), rtol=1e-10, atol=1e-12)
