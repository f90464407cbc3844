"""MF's and LightGCN's curvature in closed form (HVPs, MF's diagonal) and Jacobi preconditioned CG."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rec_unlearn_lib.influence import (LightGCNCurvature, MFCurvature, closed_form_curvature, jacobi, full_batch,
                                       minimize_full_batch, recommender_problem, solve, supports_closed_form)
from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(objective: str, backbone: str = "mf", dense_graph: bool | None = None, num_layers: int = 2):
    """A small MF (``bpr`` or ``mf`` by the objective) or LightGCN in float64, and its data as one batch."""
    rng = np.random.default_rng(0)
    pairs = sorted({(u, i) for u in range(7) for i in range(9) if rng.random() < 0.4} | {(u, u) for u in range(7)})
    users, items = map(np.array, zip(*pairs))
    labels = (rng.random(len(pairs)) < 0.5).astype(np.float32) if objective == "bce" else None
    train = Interactions(users, items, 7, 9, labels=labels)
    extra = {"num_negatives": 2, "sampling": "fixed"} if objective == "bpr" else {}
    if backbone == "lightgcn":
        extra.update(objective=objective, num_layers=num_layers)
    name = backbone if backbone == "lightgcn" else "bpr" if objective == "bpr" else "mf"
    model = build_model(name, 7, 9, emb_dim=3, reg=0.05, generator=torch.Generator().manual_seed(1), **extra).double()
    if backbone == "lightgcn":
        model.dense_graph = dense_graph
        model.fit_data(train)                                     # the graph, in float64
    return model, full_batch(model, train, seed=0)


@pytest.mark.parametrize("objective", ["bpr", "bce"])
@pytest.mark.parametrize("rows", ["all", "some"])
@pytest.mark.parametrize("backbone, dense_graph, pair_matrices", [
    ("mf", None, True), ("mf", None, False),
    ("lightgcn", True, True), ("lightgcn", False, True), ("lightgcn", False, False)])
def test_closed_form_hvp_is_autograds(objective, rows, backbone, dense_graph, pair_matrices):
    """MF's products, and LightGCN's (propagate, MF's product at the final embeddings, propagate back, L2 on the
    ego rows) on its sparse and its dense graph, are autograd's double backward."""
    model, batch = _model(objective, backbone, dense_graph)
    if backbone == "lightgcn":
        assert (model.graph.layout == torch.strided) == dense_graph
    subset = {"users": np.array([0, 2, 5]), "items": np.array([1, 3, 4, 8])} if rows == "some" else {}
    problem = recommender_problem(model, batch, **subset)
    curvature = (MFCurvature if backbone == "mf" else LightGCNCurvature)(model, batch, pair_matrices)
    matvec = curvature.problem_hvp(problem)
    generator = torch.Generator().manual_seed(3)
    with problem.frozen_graph():
        for _ in range(3):
            v = torch.randn(problem.num_params, dtype=torch.float64, generator=generator)
            torch.testing.assert_close(matvec(v), problem.hvp(v), rtol=1e-10, atol=1e-12)


def test_lightgcn_without_layers_has_mfs_curvature():
    """With K = 0 the propagation is the identity: LightGCN's curvature is MF's over the same tables."""
    model, batch = _model("bpr", "lightgcn", num_layers=0)
    problem = recommender_problem(model, batch)
    v = torch.randn(problem.num_params, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(LightGCNCurvature(model, batch).problem_hvp(problem)(v),
                               MFCurvature(model, batch, tables=(model.user_emb, model.item_emb)).problem_hvp(problem)(v),
                               rtol=1e-12, atol=1e-14)


def test_closed_form_curvature_by_model():
    assert type(closed_form_curvature(*_model("bce"))) is MFCurvature
    assert type(closed_form_curvature(*_model("bpr", "lightgcn"))) is LightGCNCurvature
    assert closed_form_curvature(build_model("wmf", 4, 5), {}) is None
    with pytest.raises(ValueError, match="Gauss-Newton"):
        closed_form_curvature(*_model("bpr", "lightgcn"), gauss_newton=True)
    with pytest.raises(TypeError, match="needs a LightGCN"):
        LightGCNCurvature(build_model("bpr", 4, 5), {})
    with pytest.raises(TypeError, match="needs BCE or BPR"):
        LightGCNCurvature(build_model("lightgcn", 4, 5, objective="wmf"), {})
    model, batch = _model("bpr", "lightgcn")
    with pytest.raises(ValueError, match="own embedding tables"):
        LightGCNCurvature(model, batch).final.diagonal()


@pytest.mark.parametrize("objective", ["bpr", "bce"])
@pytest.mark.parametrize("pair_matrices", [True, False])
def test_diagonal_is_the_hessians(objective, pair_matrices):
    model, batch = _model(objective)
    problem = recommender_problem(model, batch, users=np.array([0, 2, 5]), items=np.array([1, 3, 4, 8]))
    expected = torch.diagonal(problem.explicit_hessian())
    diagonal = MFCurvature(model, batch, pair_matrices).problem_diagonal(problem)
    torch.testing.assert_close(diagonal, expected, rtol=1e-10, atol=1e-12)
    inverse = torch.stack([jacobi(diagonal, 0.1)(e) for e in torch.eye(len(diagonal), dtype=torch.float64)], 1)
    torch.testing.assert_close(inverse, torch.diag(1 / (expected + 0.1)))


def test_preconditioned_cg_solves_the_same_system_in_fewer_iterations(synthetic):
    train = synthetic.interactions
    model = build_model("bpr", train.num_users, train.num_items, emb_dim=8, reg=1e-3, num_negatives=2,
                        sampling="fixed", generator=torch.Generator().manual_seed(1)).double()
    batch = full_batch(model, train, seed=0)
    minimize_full_batch(model, batch, max_iter=200)               # near a minimum: H + mu I positive definite
    problem = recommender_problem(model, batch)
    curvature = MFCurvature(model, batch)
    b = torch.randn(problem.num_params, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    with problem.frozen_graph():
        plain = solve(problem.hvp, b, "cg", damping=1e-4, rtol=1e-11, max_iter=5000)
    pcg = solve(curvature.problem_hvp(problem), b, "cg", damping=1e-4, rtol=1e-11,
                preconditioner=jacobi(curvature.problem_diagonal(problem), 1e-4))
    torch.testing.assert_close(pcg.solution, plain.solution, rtol=1e-6, atol=1e-6)
    assert pcg.diagnostics["preconditioned"] and pcg.iterations < plain.iterations   # 48 against 52 here


def test_only_mf_with_a_pointwise_or_pairwise_loss_has_a_closed_form():
    assert supports_closed_form(build_model("bpr", 4, 5)) and supports_closed_form(build_model("mf", 4, 5))
    assert not supports_closed_form(build_model("lightgcn", 4, 5, emb_dim=2))
    assert not supports_closed_form(build_model("wmf", 4, 5))
    with pytest.raises(TypeError, match="closed-form curvature needs MF"):
        MFCurvature(build_model("wmf", 4, 5), {})
    torch.testing.assert_close(jacobi(torch.zeros(4))(torch.arange(4.0)), torch.arange(4.0))


@pytest.mark.parametrize("pair_matrices", [True, False])
def test_gauss_newton_is_the_hessian_without_residuals_and_positive_semi_definite(pair_matrices):
    model, batch = _model("bce")
    problem = recommender_problem(model, batch, users=np.array([0, 2, 5]), items=np.array([1, 3, 4, 8]))
    gauss_newton = MFCurvature(model, batch, pair_matrices, gauss_newton=True).problem_hvp(problem)
    with torch.no_grad():                         # labels equal to the model's own probabilities: f' = 0 on every row
        fitted = {**batch, "labels": torch.sigmoid((model.user_emb[batch["users"]] * model.item_emb[batch["items"]]).sum(1))}
    hessian_at_zero_residual = MFCurvature(model, fitted, pair_matrices).problem_hvp(problem)
    explicit = torch.stack([gauss_newton(e) for e in torch.eye(problem.num_params, dtype=torch.float64)], 1)
    generator = torch.Generator().manual_seed(4)
    for _ in range(3):
        v = torch.randn(problem.num_params, dtype=torch.float64, generator=generator)
        torch.testing.assert_close(gauss_newton(v), hessian_at_zero_residual(v), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(explicit, explicit.T)
    assert torch.linalg.eigvalsh(explicit).min() > -1e-12                  # PSD, where the Hessian is not
    hessian = problem.explicit_hessian()
    assert torch.linalg.eigvalsh(hessian).min() < 0
