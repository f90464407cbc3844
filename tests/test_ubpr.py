"""UBPR: fixed BPR triplets, the influence update of Eq. 15, PNPR and the sampled protocol's validation."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from rec_unlearn_lib.data import Dataset
from rec_unlearn_lib.diagnostics import partial_order_points, pnpr, user_pnpr, user_triplets, weight_distance
from rec_unlearn_lib.forget import REQUESTS, ForgetRequest, ForgetRequestError
from rec_unlearn_lib.influence import forget_rows, full_batch, minimize_full_batch, take_rows
from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.models import make_objective
from rec_unlearn_lib.sampling import bpr_triplets, fixed_triplets
from rec_unlearn_lib.settings import BackboneSettings, backbone_settings
from rec_unlearn_lib.splits import Split, leave_one_out, make_split
from rec_unlearn_lib.synthetic import synthetic_dataset
from rec_unlearn_lib.unlearning.ubpr_tables import DELTA, RETRAIN_MEAN, RETRAIN_RANGE
from rec_unlearn_lib.unlearning import (METHODS, SISA, UBPR, Retrain, ubpr_reproduction, ubpr_table3, ubpr_table3_paper,
                                        user_erasure_pnpr)

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"emb_dim": 4, "epochs": 8, "patience": 0, "batch_size": 256, "reg": 1e-2, "num_negatives": 3}


@pytest.fixture(scope="module")
def split(synthetic):
    return leave_one_out(synthetic.interactions, num_negatives=20, seed=0)


def test_fixed_triplets_rematerialise_bit_identically(synthetic):
    train = synthetic.interactions
    users, pos, neg = fixed_triplets(train, 4, seed=7)
    again = fixed_triplets(train, 4, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip((users, pos, neg), again))
    assert not np.array_equal(neg, fixed_triplets(train, 4, seed=8)[2])
    assert len(users) == 4 * len(train)
    assert np.array_equal(users, np.repeat(train.users, 4)) and np.array_equal(pos, np.repeat(train.items, 4))
    assert not train.contains(users, neg).any()                      # a negative is never one of u's positives
    # the objective shuffles the same set every epoch, on the device it trains on
    objective = make_objective("bpr", num_negatives=4, sampling="fixed")
    epochs = [next(objective.batches(train, 10 ** 9, 7, epoch, torch.device("cpu"))) for epoch in (0, 1)]
    key = [np.sort((b["users"] * 10 ** 6 + b["pos"] * 10 ** 3 + b["neg"]).numpy()) for b in epochs]
    assert np.array_equal(key[0], key[1]) and np.array_equal(key[0], np.sort(users * 10 ** 6 + pos * 10 ** 3 + neg))
    assert not torch.equal(epochs[0]["users"], epochs[1]["users"])


def test_fixed_triplets_draw_pending_negatives_exactly_and_counter_based(monkeypatch):
    """A user who holds nearly every item still gets negatives, from the items left, one hash per triplet."""
    full = Interactions(np.array([0] * 7 + [1, 1]), np.array([0, 1, 2, 3, 5, 6, 8, 0, 1]), 2, 10)
    monkeypatch.setattr("rec_unlearn_lib.sampling.MAX_REJECTION_ROUNDS", 0)      # every draw takes the exact path
    users, pos, neg = fixed_triplets(full, 2000, seed=3)
    heavy = neg[users == 0]
    share = np.bincount(heavy, minlength=10) / len(heavy)
    assert share[[0, 1, 2, 3, 5, 6, 8]].sum() == 0 and np.allclose(share[[4, 7, 9]], 1 / 3, atol=0.02)
    assert not full.contains(users, neg).any()
    assert np.array_equal(neg, fixed_triplets(full, 2000, seed=3)[2])
    # user 1's triplets depend on user 1's positives only: removing user 0's data leaves them as they were
    alone = fixed_triplets(full.subset(np.array([7, 8])), 2000, seed=3)
    assert np.array_equal(alone[2], neg[users == 1])


def test_fixed_triplets_of_the_data_left_are_the_triplets_kept(synthetic):
    """Drawn again on D \\ D_f, a kept positive's negative changes only to an item the user just lost."""
    train = synthetic.interactions
    rows = np.arange(0, len(train), 7)
    before = fixed_triplets(train, 4, seed=1)
    after = fixed_triplets(train.drop(rows), 4, seed=1)
    kept = ~np.isin(np.arange(len(train)), rows).repeat(4)
    changed = np.flatnonzero(after[2] != before[2][kept])
    assert len(changed) < 0.05 * len(after[2])
    forgotten = train.subset(rows)
    assert forgotten.contains(after[0][changed], after[2][changed]).all()


def test_bpr_samplers_honour_num_negatives(synthetic):
    train = synthetic.interactions
    users, pos, neg = bpr_triplets(train, seed=0, epoch=3, num_negatives=3)
    assert len(users) == 3 * len(train)
    assert np.array_equal(np.bincount(users.numpy(), minlength=train.num_users), 3 * train.user_counts())
    assert not train.contains(users.numpy(), neg.numpy()).any()
    with pytest.raises(ValueError, match="cannot sample by 'fixed'"):
        make_objective("bce", sampling="fixed")
    with pytest.raises(ValueError, match="unknown sampling"):
        BackboneSettings(sampling="daily")
    assert make_objective("bpr").num_negatives == 1 and make_objective("bce").num_negatives == 4
    ubpr = backbone_settings("bpr", "ubpr")
    assert (ubpr.emb_dim, ubpr.batch_size, ubpr.lr, ubpr.reg, ubpr.epochs, ubpr.num_negatives, ubpr.sampling,
            ubpr.metric) == (8, 4096, 1e-2, 1e-3, 50, 4, "fixed", "ndcg@10")


def _fitted(split, **kwargs):
    return UBPR("bpr", profile="quick", seed=0, device="cpu", **{**TINY, **kwargs}).fit(split)


def test_ubpr_trains_on_fixed_triplets_and_refuses_what_it_cannot_unlearn(split):
    method = _fitted(split, solver_options={"damping": 0.01})
    assert method.settings.sampling == "fixed" and method.describe()["ratios"] is None
    with pytest.raises(ValueError, match="fixed set of triplets"):
        UBPR("bpr", profile="quick", sampling="epoch")
    with pytest.raises(ValueError, match="UBPR unlearns BPR"):
        UBPR("mf", profile="quick")
    before = method.model.full_scores(torch.arange(split.num_users)).clone()
    result = method.forget(ForgetRequest.empty())
    assert result.model is method.model and result.num_forgotten == 0
    torch.testing.assert_close(method.model.full_scores(torch.arange(split.num_users)), before, rtol=0, atol=0)
    unseen = np.flatnonzero(~split.train.contains(np.zeros(split.num_items, np.int64), np.arange(split.num_items)))
    with pytest.raises(ForgetRequestError, match="not in the training data"):
        method.forget(ForgetRequest(np.array([0]), unseen[:1]))


def _flat(model) -> torch.Tensor:
    return torch.cat([model.user_emb, model.item_emb]).detach().reshape(-1)


def test_ubpr_update_is_eq_15_with_an_explicit_hessian():
    """theta* - theta = (1/|D|) (H + mu I)^-1 grad L(D_f), H the Hessian of the mean BPR loss over every fixed
    triplet (UBPR Eq. 15 and 8), g over the forgotten interactions' triplets, negatives included; written from
    scratch here with an explicit Hessian."""
    rng = np.random.default_rng(0)
    pairs = sorted({(u, i) for u in range(5) for i in range(6) if rng.random() < 0.4} | {(u, u) for u in range(5)})
    users, items = map(np.array, zip(*pairs))
    data = Interactions(users, items, 5, 6)
    split = Split("ranking", data, data.subset(np.arange(3)), data.subset(np.arange(3, 6)), seed=0)
    method = UBPR("bpr", profile="quick", seed=0, device="cpu", emb_dim=2, epochs=3, patience=0, reg=0.05,
                  num_negatives=2, solver_options={"damping": 0.3, "rtol": 1e-12}).fit(split)
    method._model = method.model.double()
    theta = _flat(method.model)
    t_users, t_pos, t_neg = (torch.as_tensor(t) for t in fixed_triplets(data, 2, seed=0))
    rows = np.array([0, 4])
    forget = torch.as_tensor(np.isin(np.arange(len(data)), rows).repeat(2))

    def loss(t, mask):   # sum over the masked triplets of -log sigma(s_ui - s_uj) + reg/2 ||rows||^2
        emb = t.view(11, 2)
        u, i, j = emb[t_users[mask]], emb[5 + t_pos[mask]], emb[5 + t_neg[mask]]
        per_row = -torch.nn.functional.logsigmoid((u * i).sum(1) - (u * j).sum(1))
        return (per_row + 0.05 / 2 * (u.pow(2).sum(1) + i.pow(2).sum(1) + j.pow(2).sum(1))).sum()

    everything = torch.ones(len(t_users), dtype=torch.bool)
    n = len(t_users)
    hessian = torch.autograd.functional.hessian(lambda t: loss(t, everything) / n, theta)
    leaf = theta.clone().requires_grad_()
    g = torch.autograd.grad(loss(leaf, forget), leaf)[0]
    expected = torch.linalg.solve(hessian + 0.3 * torch.eye(len(theta), dtype=theta.dtype), g) / n
    result = method.forget(ForgetRequest(data.users[rows], data.items[rows]))
    torch.testing.assert_close(_flat(result.model) - theta.detach(), expected, rtol=1e-6, atol=1e-9)
    assert result.touched["users"] == 5 and result.touched["items"] == 6


def test_forget_triplets_gradient_matches_finite_differences(split):
    """The right-hand side: the gradient of the forgotten interactions' triplet loss (negatives included)."""
    method = _fitted(split)
    model = method.model.double()
    batch = full_batch(model, split.train, seed=0)
    request = ForgetRequest.random(split.train, count=5, seed=2)
    mask = forget_rows(batch, request, split.train)
    assert int(mask.sum()) == 5 * TINY["num_negatives"]        # every negative sampled with a forgotten positive
    forget = take_rows(batch, mask)
    with torch.enable_grad():
        value = 15 * model.loss(forget)
        grad = torch.autograd.grad(value, model.user_emb)[0]
    u, d = int(request.users[0]), 1
    eps = 1e-6
    with torch.no_grad():
        model.user_emb[u, d] += eps
        up = float(15 * model.loss(forget))
        model.user_emb[u, d] -= 2 * eps
        down = float(15 * model.loss(forget))
        model.user_emb[u, d] += eps
    assert float(grad[u, d]) == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-9)


def test_ubpr_lands_near_exact_leave_out_retraining():
    """From a stationary point of the fixed-triplet loss, UBPR's step covers most of the way to the minimum
    of the loss on D \\ D_f (retraining, warm-started, to convergence), in parameters and in scores (which
    ignore MF's rotations). First order in the removed share (0.16 % here): not exact."""
    data = synthetic_dataset(num_users=120, num_items=60, seed=1).interactions
    split = leave_one_out(data, num_negatives=10, seed=0)
    method = _fitted(split, reg=0.1, solver_options={"rtol": 1e-8, "damping": 1e-6})
    model = method.model.double()
    batch = full_batch(model, split.train, seed=0)
    assert minimize_full_batch(model, batch, tol=1e-8).converged
    request = ForgetRequest.random(split.train, count=3, seed=4)
    exact = copy.deepcopy(model)
    assert minimize_full_batch(exact, take_rows(batch, ~forget_rows(batch, request, split.train)), tol=1e-8).converged
    unlearned = method.forget(request).model
    for view in (_flat, lambda m: (m.user_emb @ m.item_emb.T).detach().reshape(-1)):
        target = view(exact)
        assert float((view(unlearned) - target).norm()) < 0.25 * float((view(model) - target).norm())


def test_erasing_a_user_moves_its_pnpr_towards_one(split):
    """On this synthetic data set (a model far from a minimum after 30 epochs, damping 1e-3) UBPR moves an
    erased user's PNPR towards 1. On ML-100K with the paper's settings it does not (the UBPR chapter, Section
    6): the erased user's row gets almost no right-hand side near a stationary point."""
    method = _fitted(split, emb_dim=8, epochs=30, reg=1e-3, lr=2e-2, solver_options={"damping": 1e-3})
    user = int(np.argmax(split.train.user_counts()))
    triplets = fixed_triplets(split.train, TINY["num_negatives"], seed=0)
    before = user_pnpr(method.model, triplets, user)
    after = user_pnpr(method.forget(ForgetRequest.by_users(split.train, [user])).model, triplets, user)
    assert before > 1.0 and abs(after - 1.0) < abs(before - 1.0)


def test_pnpr_and_weight_distance_by_hand():
    user = torch.tensor([0.0, 0.0])
    positives = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    negatives = torch.tensor([[[2.0, 0.0], [0.0, 3.0]], [[4.0, 0.0], [0.0, 1.0]]])
    # (2/1 + 3/1)/2 = 2.5 and (4/2 + 1/2)/2 = 1.25: mean 1.875
    assert pnpr(user, positives, negatives) == pytest.approx(1.875)
    assert user_triplets((np.array([1, 1, 1, 1, 2, 2]), np.array([5, 5, 6, 6, 5, 5]),
                          np.array([7, 8, 9, 7, 1, 2])), 1)[1].tolist() == [[7, 8], [9, 7]]

    class Fixed:
        def __init__(self, u, i):
            self.reps = (torch.tensor(u), torch.tensor(i))

        def representations(self):
            return self.reps

    assert weight_distance(Fixed([[0.0, 0.0]], [[1.0, 1.0]]), Fixed([[3.0, 0.0]], [[1.0, 5.0]])) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="differ in shape"):
        weight_distance(Fixed([[0.0]], [[1.0]]), Fixed([[0.0, 1.0]], [[1.0]]))


def test_partial_order_points_are_a_tidy_frame(split):
    method = _fitted(split)
    triplets = fixed_triplets(split.train, TINY["num_negatives"], seed=0)
    frame = partial_order_points({"original": method.model}, triplets, user=0, num_positives=2)
    assert list(frame.columns) == ["model", "role", "group", "node", "x", "y"]
    assert frame["role"].value_counts().to_dict() == {"negative": 2 * TINY["num_negatives"], "positive": 2, "user": 1}


def test_random_users_request_takes_whole_histories(synthetic):
    train = synthetic.interactions
    _, request = REQUESTS["users"](train, None, 3, 0)
    assert request.kind == "users" and len(np.unique(request.users)) == 3
    assert len(request) == int(train.user_counts()[np.unique(request.users)].sum())
    with pytest.raises(ValueError, match="cannot forget 0 of"):
        ForgetRequest.random_users(train, ratio=1e-6)


def test_validation_negatives_never_hold_the_test_item():
    """NCF's files: validation is each user's latest training item, its negatives exclude the test item."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(30), 8)
    items = np.concatenate([rng.choice(40, 8, replace=False) for _ in range(30)])
    times = np.tile(np.arange(8), 30)
    whole = Interactions(users, items, 30, 40, timestamps=times)
    test_rows = np.flatnonzero(times == 7)
    train, test = whole.drop(test_rows), whole.subset(test_rows)
    shipped = np.stack([rng.choice(np.setdiff1d(np.arange(40), items[users == u]), 25, replace=False)
                        for u in test.users])
    dataset = Dataset("ncf-toy", whole, np.arange(30), np.arange(40), {"train": train, "test": test}, shipped)
    split = make_split(dataset, "sampled", seed=0)
    assert np.array_equal(split.valid.timestamps, np.full(30, 6))             # the latest training item
    assert len(split.train) == len(train) - 30 and not split.train.contains(split.valid.users, split.valid.items).any()
    assert split.valid_negatives.shape == (30, 25)
    test_item = dict(zip(test.users, test.items))
    assert not any(test_item[u] in row for u, row in zip(split.valid.users, split.valid_negatives))
    assert not whole.contains(np.repeat(split.valid.users, 25), split.valid_negatives.reshape(-1)).any()
    assert split.test_negatives is shipped


def test_retrain_beside_ubpr_trains_on_the_same_fixed_triplets(split):
    method = _fitted(split)
    reference = Retrain("bpr", profile="quick", seed=0, device="cpu", settings=method.settings)
    assert reference.settings.sampling == "fixed" and reference.settings.num_negatives == TINY["num_negatives"]


def test_ubpr_reproduction_rows_and_table_3(split):
    tiny = {**TINY, "epochs": 2}
    sharding = {"num_shards": 2, "rounds": 3, "agg_epochs": 1, "agg_patience": 0}
    original = UBPR("bpr", profile="quick", seed=0, device="cpu", solver_options={"damping": 0.05}, **tiny).fit(split)
    with METHODS.temporary("sisa2", lambda backbone, **k: SISA(backbone, 2, sharding=sharding, **k)):
        rows = pd.DataFrame(ubpr_reproduction(split, ratios=(0.002, 0.004), methods=("sisa2", "ubpr"),
                                              retrain_seeds=(0, 1), original=original, ks=(5, 10)))
    assert set(rows["method"]) == {"bpr", "sisa2", "retrain", "ubpr"}
    assert set(rows["metric"]) == {"seconds", "weight_distance", "converged", "hr@5", "ndcg@5", "hr@10", "ndcg@10"}
    assert (rows[rows.metric == "converged"]["value"] == 1).all()
    forgotten = rows[rows["ratio"] == 0.004]
    assert forgotten["forgotten"].iloc[0] == round(0.004 * len(split.train))
    assert sorted(forgotten[(forgotten.method == "retrain") & (forgotten.metric == "hr@10")]["seed"]) == [0, 1]
    assert len(original.train) == len(split.train)                    # the original is never changed
    table = ubpr_table3(rows.replace({"method": {"sisa2": "sisa"}}))
    hr = table.loc["hr@10"]
    assert list(hr.index) == ["bpr", RETRAIN_MEAN, RETRAIN_RANGE, "sisa", "ubpr", DELTA]
    assert list(table.columns) == ["0.2 %", "0.4 %"]
    retrain = forgotten[(forgotten.method == "retrain") & (forgotten.metric == "hr@10")]["value"]
    assert hr.loc[RETRAIN_RANGE, "0.4 %"] == pytest.approx(retrain.max() - retrain.min())
    assert hr.loc[DELTA, "0.4 %"] == pytest.approx(hr.loc["ubpr", "0.4 %"] - retrain.mean())
    pnprs = user_erasure_pnpr(original, [0, 1])
    assert list(pnprs.columns) == ["user", "interactions", "original", "retrain", "ubpr"] and len(pnprs) == 2


def test_the_papers_table_3_gives_its_printed_delta_rows():
    # the Delta rows as printed in UBPR's Table 3, typed apart from the transcription they must follow from
    printed = {("movielens", "hr@10"): (0.003, 0.002, 0.002, -0.004, 0.000, -0.001),
               ("movielens", "ndcg@10"): (0.003, -0.002, -0.006, -0.010, -0.012, -0.018),
               ("pinterest", "hr@10"): (-0.001, 0.001, -0.001, -0.002, -0.002, -0.002),
               ("pinterest", "ndcg@10"): (0.002, 0.001, 0.001, 0.000, 0.000, -0.002)}
    for (dataset, metric), deltas in printed.items():
        table = ubpr_table3_paper(dataset)
        np.testing.assert_allclose(table.loc[(metric, DELTA)], deltas, atol=1e-9)
    table = ubpr_table3_paper("movielens", [1e-4, 3.5e-4])
    assert list(table.columns) == ["0.01 %", "0.035 %"] and table.loc[("hr@10", "retrain"), "0.01 %"] == 0.627
    assert list(table.loc["ndcg@10"].index) == ["bpr", "retrain", "sisa", "receraser", "ubpr", DELTA]
    with pytest.raises(ValueError, match="no data set 'ml-100k'"):
        ubpr_table3_paper("ml-100k")
    with pytest.raises(ValueError, match="no ratios"):
        ubpr_table3_paper("movielens", [0.01])


def test_ubpr_reproduction_reports_a_solve_that_did_not_converge(split):
    original = UBPR("bpr", profile="quick", seed=0, device="cpu", solver_options={"damping": 0.05, "max_iter": 1,
                                                                                   "rtol": 1e-12}, **{**TINY, "epochs": 1}).fit(split)
    rows = pd.DataFrame(ubpr_reproduction(split, ratios=(0.002,), methods=("ubpr",), retrain_seeds=(0,),
                                          original=original, ks=(10,)))
    failed = rows[(rows.method == "ubpr") & rows.ratio.notna()]
    assert failed[["metric", "value"]].values.tolist() == [["converged", 0.0]]
