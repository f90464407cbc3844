"""Tests of the recommender glue (rec_unlearn_lib.influence.recommender), float64, tiny data.

References are independent of the glue: a hand-written MF objective differentiated with
``torch.autograd.functional.hessian``, and exact retraining by L-BFGS / Newton to gradient norm
1e-11 on the retain rows.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rec_unlearn_lib.forget import ForgetRequest, ForgetRequestError
from rec_unlearn_lib.influence import (
    forget_loss_sum,
    forget_rows,
    full_batch,
    minimize_full_batch,
    minimize_newton,
    minimize_problem,
    recommender_influence,
    recommender_problem,
)
from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.models import build_model
from rec_unlearn_lib.sampling import bpr_triplets

DT = torch.float64
U, I, D, REG = 30, 25, 3, 0.05


pytestmark = pytest.mark.usefixtures("one_thread")


def _labelled(seed: int = 0, n: int = 450) -> Interactions:
    rng = np.random.default_rng(seed)
    keys = rng.choice(U * I, size=n, replace=False)
    users, items = keys // I, keys % I
    p, q = rng.normal(size=(U, 2)), rng.normal(size=(I, 2))
    labels = (rng.random(n) < 1 / (1 + np.exp(-(p[users] * q[items]).sum(1)))).astype(np.float32)
    return Interactions(users, items, U, I, labels=labels)


def _mf(objective: str = "bce", seed: int = 0):
    torch.manual_seed(seed)
    return build_model("mf", U, I, emb_dim=D, reg=REG, objective=objective).double()


@pytest.fixture(scope="module")
def trained():
    """MF + BCE + L2 on D; the user rows (phi, items fixed) polished to ||grad|| < 1e-11."""
    train = _labelled()
    model = _mf()
    batch = full_batch(model, train)
    minimize_full_batch(model, batch, tol=1e-9, max_iter=300)
    users = np.unique(train.users)
    report = minimize_problem(recommender_problem(model, batch, users=users, items=[]), tol=1e-11)
    assert report.converged, report
    return model, train


def _hand_loss(P: torch.Tensor, Q: torch.Tensor, train: Interactions) -> torch.Tensor:
    """Mean over rows of BCE + REG/2 (||p_u||^2 + ||q_i||^2), written out independently."""
    u, i = torch.as_tensor(train.users), torch.as_tensor(train.items)
    y = torch.as_tensor(train.labels, dtype=DT)
    s = (P[u] * Q[i]).sum(-1)
    per_row = F.binary_cross_entropy_with_logits(s, y, reduction="none") \
        + REG / 2 * (P[u].pow(2).sum(-1) + Q[i].pow(2).sum(-1))
    return per_row.mean()


def test_objective_and_hvp_on_rows_match_hand_written_hessian(trained) -> None:
    model, train = trained
    users, items = np.array([0, 3, 7]), np.array([1, 2, 9, 11])
    problem = recommender_problem(model, full_batch(model, train), users=users, items=items)
    P, Q = model.user_emb.detach().clone(), model.item_emb.detach().clone()
    assert float(problem.objective().detach()) == pytest.approx(float(_hand_loss(P, Q, train)), rel=1e-12)

    def f(x: torch.Tensor) -> torch.Tensor:
        P2, Q2 = P.clone(), Q.clone()
        P2[users] = x[: len(users) * D].view(-1, D)
        Q2[items] = x[len(users) * D:].view(-1, D)
        return _hand_loss(P2, Q2, train)

    x0 = problem.flat()
    H = torch.autograd.functional.hessian(f, x0)  # the phi-phi sub-block of the full Hessian
    v = torch.randn(problem.num_params, dtype=DT, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(problem.hvp(v), H @ v, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(problem.explicit_hessian(), H, rtol=1e-10, atol=1e-13)


def test_local_problem_has_the_same_gradient_and_hessian(trained) -> None:
    model, train = trained
    batch = full_batch(model, train)
    users, items = np.array([2, 5]), np.array([0, 4, 7])
    full = recommender_problem(model, batch, users=users, items=items)
    local = recommender_problem(model, batch, users=users, items=items, local=True)
    torch.testing.assert_close(local.grad(), full.grad(), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(local.explicit_hessian(), full.explicit_hessian(), rtol=1e-10, atol=1e-14)


def _retrain_user_rows(model, train: Interactions, request: ForgetRequest) -> torch.Tensor:
    """Exact retraining of all user rows (items fixed) on D without D_f; returns P, model restored."""
    saved = model.user_emb.detach().clone()
    retain, _ = request.split(train)
    problem = recommender_problem(model, full_batch(model, retain), users=np.unique(train.users),
                                  items=[])
    report = minimize_problem(problem, tol=1e-11)
    assert report.converged, report
    out = model.user_emb.detach().clone()
    with torch.no_grad():
        model.user_emb.copy_(saved)
    return out


@pytest.mark.parametrize("k", [1, 3])
def test_influence_predicts_exact_retraining_of_user_rows(trained, k: int) -> None:
    """phi = all user rows, items fixed (IFRU Eq. 17-19): a strictly convex problem, so the
    first-order estimate must approach retraining. Removing k rows of a user with ~25 rows is
    a perturbation of O(k/25) of that user's problem, and the first-order estimate ("full": H of
    D, not of the retain set) errs by O(k/25) relative to the change (0.18 measured for k=1,
    bound 0.3; not updating at all errs by 1.0). One Newton step on the retain objective
    ("retain") removes the H mismatch and must be several times closer."""
    model, train = trained
    user = int(np.argmax(train.user_counts()))
    rows = np.flatnonzero(train.users == user)[:k]
    request = ForgetRequest(train.users[rows], train.items[rows])
    retrained = _retrain_user_rows(model, train, request)
    original = model.user_emb.detach().clone()
    actual = retrained - original
    ri = recommender_influence(model, train, request, rows=(np.unique(train.users), []))
    assert ri.num_forget == k and ri.num_train == len(train)
    errors = {}
    for hessian_of in ("full", "retain"):
        delta, result = ri.unlearn(solver="direct", hessian_of=hessian_of)
        predicted = ri.problem.unflatten(delta)[0]
        full_pred = torch.zeros_like(original)
        full_pred[ri.problem.blocks[0].rows] = predicted
        errors[hessian_of] = float((full_pred - actual).norm() / actual.norm())
        # only the forgetting user's row moves (the problem is block-separable in users)
        others = torch.ones(U, dtype=torch.bool)
        others[user] = False
        assert float(full_pred[others].abs().max()) < 1e-12
    assert model.user_emb.detach().equal(original)  # apply=False leaves the model untouched
    bound = {1: 0.3, 3: 0.6}[k]
    assert errors["full"] < bound, errors
    assert errors["retain"] < 0.25 * errors["full"], errors


def test_apply_moves_model_to_the_prediction(trained) -> None:
    model, train = trained
    request = ForgetRequest(train.users[:2], train.items[:2])
    ri = recommender_influence(model, train, request, rows="forget")
    before = model.user_emb.detach().clone(), model.item_emb.detach().clone()
    delta, _ = ri.unlearn(solver="cg", apply=True)
    moved = ri.problem.flat()
    ri.problem.apply_update(delta, -1.0)
    torch.testing.assert_close(moved - ri.problem.flat(), delta, rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(model.user_emb.detach(), before[0], rtol=0, atol=1e-14)
    torch.testing.assert_close(model.item_emb.detach(), before[1], rtol=0, atol=1e-14)


def test_empty_forget_set_changes_nothing(trained) -> None:
    model, train = trained
    before = model.user_emb.detach().clone(), model.item_emb.detach().clone()
    ri = recommender_influence(model, train, ForgetRequest.empty())
    assert ri.num_forget == 0 and float(ri.forget_loss()) == 0.0
    delta, result = ri.unlearn(solver="cg", apply=True)
    assert result.solver == "none" and float(delta.abs().max()) == 0.0
    assert model.user_emb.detach().equal(before[0]) and model.item_emb.detach().equal(before[1])


def test_forget_loss_is_the_sum_over_the_forget_rows(trained) -> None:
    model, train = trained
    rows = np.array([4, 17, 100])
    request = ForgetRequest(train.users[rows], train.items[rows])
    batch = full_batch(model, train)
    mask = forget_rows(batch, request, train)
    assert int(mask.sum()) == 3
    forget = {k: v[mask] for k, v in batch.items()}
    P, Q = model.user_emb.detach(), model.item_emb.detach()
    expected = 3 * float(_hand_loss(P, Q, train.subset(rows)))
    assert float(forget_loss_sum(model, forget)().detach()) == pytest.approx(expected, rel=1e-12)


def test_bpr_batch_is_the_materialised_triplets_and_forget_takes_their_rows() -> None:
    train = _labelled().positives()
    train = Interactions(train.users, train.items, U, I)
    model = _mf("bpr")
    batch = full_batch(model, train, seed=3, epoch=2)
    users, pos, neg = (t.numpy() for t in bpr_triplets(train, 3, 2))
    assert np.array_equal(batch["users"].numpy(), users) and np.array_equal(batch["pos"].numpy(), pos)
    assert np.array_equal(batch["neg"].numpy(), neg)
    request = ForgetRequest(train.users[:4], train.items[:4])
    mask = forget_rows(batch, request, train).numpy()
    assert mask.sum() == 4
    got = set(zip(users[mask].tolist(), pos[mask].tolist()))
    assert got == set(zip(request.users.tolist(), request.items.tolist()))
    ri = recommender_influence(model, train, request, seed=3, epoch=2)
    assert ri.num_train == len(train) and ri.num_forget == 4
    u, p, n = (torch.as_tensor(a[mask]) for a in (users, pos, neg))
    Pm, Qm = model.user_emb.detach(), model.item_emb.detach()
    diff = (Pm[u] * Qm[p]).sum(-1) - (Pm[u] * Qm[n]).sum(-1)
    by_hand = (-F.logsigmoid(diff) + REG / 2 * (Pm[u].pow(2).sum(-1) + Qm[p].pow(2).sum(-1)
                                                 + Qm[n].pow(2).sum(-1))).sum()
    assert float(ri.forget_loss().detach()) == pytest.approx(float(by_hand), rel=1e-12)


def test_requests_outside_the_data_and_unsupported_objectives_are_refused(trained) -> None:
    model, train = trained
    batch = full_batch(model, train)
    missing = np.setdiff1d(np.arange(U * I), train.keys)[0]
    outside = ForgetRequest([missing // I], [missing % I])
    with pytest.raises(ForgetRequestError, match="not in the training data"):
        forget_rows(batch, outside, train)
    with pytest.raises(ForgetRequestError, match="not in the training data"):
        recommender_influence(model, train, outside)
    wmf = build_model("wmf", U, I, emb_dim=D)
    with pytest.raises(TypeError, match="per-row"):
        full_batch(wmf, train)
    by_users = build_model("mf", U, I, emb_dim=D, objective="bpr", sampling="user-uniform")
    with pytest.raises(ValueError, match="batches of users"):      # no set of rows D to take the influence of
        full_batch(by_users, train.positives())
    with pytest.raises(ValueError, match="rows must be"):
        recommender_influence(model, train, ForgetRequest.empty(), rows="all")


@pytest.mark.parametrize("name, objective", [("mf", "bce"), ("mf", "bpr"), ("lightgcn", "bce")])
def test_newton_steps_reach_the_minimum_that_l_bfgs_reaches(name, objective) -> None:
    """minimize_newton (closed-form curvature for MF and for LightGCN through its graph) ends at a point
    whose gradient is below its tolerance, with the scores of L-BFGS from the same start (the scores: the
    parameters themselves are fixed only up to a rotation of users and items)."""
    train = _labelled()
    torch.manual_seed(0)
    model = build_model(name, U, I, emb_dim=D, reg=REG, objective=objective, num_layers=1, train=train).double()
    batch = full_batch(model, train, seed=0)
    minimize_full_batch(model, batch, tol=1e-2, max_iter=25)      # past the saddle at zero, not yet at the minimum
    newton, lbfgs = model, copy.deepcopy(model)
    report = minimize_newton(newton, batch, tol=1e-10)
    assert report.converged and report.grad_norm <= 1e-10 and report.iterations > 3
    assert minimize_full_batch(lbfgs, batch, tol=1e-8, max_iter=3000).converged
    scores = [u @ v.T for u, v in (m.representations() for m in (newton, lbfgs))]
    torch.testing.assert_close(scores[0], scores[1], rtol=1e-5, atol=1e-5)
    stuck = minimize_newton(copy.deepcopy(lbfgs), batch, tol=1e-30, max_steps=2)
    assert not stuck.converged and stuck.iterations == 2
