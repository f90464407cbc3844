"""Backbones: losses equal their textbook forms, LightGCN propagates as the paper says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.settings import backbone_settings, make_backbone, settings_table
from rec_unlearn_lib.models import (BPRObjective, BCEObjective, LightGCN, MF, WMFObjective, build_model,
                                    normalized_adjacency)

@pytest.fixture(autouse=True)
def _float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _tiny() -> Interactions:
    users = np.array([0, 0, 1, 2, 2, 2])
    items = np.array([0, 3, 1, 0, 2, 3])
    return Interactions(users, items, 4, 5)  # user 3 and item 4 have no interactions


def test_wmf_efficient_loss_equals_weighted_squared_error():
    train = _tiny()
    torch.manual_seed(0)
    model = MF(4, 5, 3, WMFObjective(c0=0.3))
    batch = next(iter(model.objective.batches(train, batch_size=4, seed=0, epoch=0, device=torch.device("cpu"))))
    # the users and items of the training data only (user 3 and item 4 have none)
    assert sorted(batch["users"].tolist()) == [0, 1, 2] and batch["items"].tolist() == [0, 1, 2, 3]
    scores = model.user_emb @ model.item_emb.T
    y = torch.as_tensor(train.to_csr().toarray(), dtype=torch.float64)
    w = torch.where(y > 0, 1.0, 0.3)
    brute = (w * (y - scores) ** 2)[:3, :4].sum()
    # the efficient form is the weighted squared error exactly, divided by |B|
    assert torch.allclose(model.loss(batch), brute / 3, rtol=1e-12)
    # nothing outside the training data's users and items gets a gradient (a shard's sub-model stays in its shard)
    model.loss(batch).backward()
    assert model.user_emb.grad[3].abs().sum() == 0 and model.item_emb.grad[4].abs().sum() == 0


def test_bpr_and_bce_losses_match_formulas():
    torch.manual_seed(1)
    model = MF(4, 5, 3, BPRObjective(reg=0.5))
    batch = {"users": torch.tensor([0, 2]), "pos": torch.tensor([3, 2]), "neg": torch.tensor([4, 1])}
    p, q = model.user_emb, model.item_emb
    diff = (p[[0, 2]] * q[[3, 2]]).sum(1) - (p[[0, 2]] * q[[4, 1]]).sum(1)
    reg = 0.5 * 0.5 * (p[[0, 2]].pow(2).sum() + q[[3, 2]].pow(2).sum() + q[[4, 1]].pow(2).sum()) / 2
    assert torch.allclose(model.loss(batch), -torch.log(torch.sigmoid(diff)).mean() + reg)

    model.objective = BCEObjective()
    batch = {"users": torch.tensor([0, 1]), "items": torch.tensor([3, 4]), "labels": torch.tensor([1.0, 0.0])}
    s = (p[[0, 1]] * q[[3, 4]]).sum(1)
    expected = -(torch.log(torch.sigmoid(s[0])) + torch.log(1 - torch.sigmoid(s[1]))) / 2
    assert torch.allclose(model.loss(batch), expected)


def test_normalized_adjacency_matches_dense_formula():
    train = _tiny()
    adj = normalized_adjacency(train).toarray()
    r = train.to_csr().toarray()
    a = np.block([[np.zeros((4, 4)), r], [r.T, np.zeros((5, 5))]])
    deg = a.sum(1)
    inv = np.where(deg > 0, deg, 1) ** -0.5 * (deg > 0)
    assert np.allclose(adj, inv[:, None] * a * inv[None, :])
    assert np.allclose(adj, adj.T) and not adj[3].any()   # symmetric, isolated user row is zero


@pytest.mark.parametrize("dense", [False, True])
def test_lightgcn_propagation_is_layer_mean(dense):
    """Both forms of the graph (sparse A_hat, dense user-item block) propagate as Eq. 7-9 say."""
    train = _tiny()
    torch.manual_seed(2)
    model = LightGCN(4, 5, 3, BPRObjective(), num_layers=2, dense_graph=dense)
    model.fit_data(train)
    assert model.graph.layout == (torch.strided if dense else torch.sparse_csr)
    assert model.graph_capturable == dense
    a = torch.as_tensor(normalized_adjacency(train).toarray(), dtype=torch.float64)
    e0 = torch.cat([model.user_emb, model.item_emb])
    expected = (e0 + a @ e0 + a @ a @ e0) / 3
    users, items = model.representations()
    assert torch.allclose(torch.cat([users, items]), expected.to(users.dtype), atol=1e-6)
    # and so does the gradient: the dense form's backward is the transposed products
    weights = torch.randn(9, 3, dtype=torch.float64)
    torch.cat([users, items]).mul(weights.to(users.dtype)).sum().backward()
    expected_grad = (weights + a @ weights + a @ a @ weights) / 3          # A_hat is symmetric
    assert torch.allclose(torch.cat([model.user_emb.grad, model.item_emb.grad]), expected_grad.to(users.dtype), atol=1e-6)
    zero = LightGCN(4, 5, 3, BPRObjective(), num_layers=0, dense_graph=dense)
    zero.fit_data(train)
    assert torch.equal(zero.representations()[0], zero.user_emb)
    with pytest.raises(RuntimeError, match="fit_data"):
        LightGCN(4, 5, 3, BPRObjective()).representations()


def test_lightgcn_holds_a_sparse_graph_on_the_cpu_unless_told():
    assert not LightGCN(4, 5, 3, BPRObjective()).uses_dense_graph()
    assert LightGCN(4, 5, 3, BPRObjective(), dense_graph=True).uses_dense_graph()


@pytest.mark.parametrize("name", ["mf", "bpr", "wmf", "lightgcn", "pop"])
def test_common_interface_scores_agree(name):
    train = _tiny()
    torch.manual_seed(3)
    model = build_model(name, 4, 5, train, emb_dim=3)
    users = torch.tensor([0, 1, 2, 3])
    full = model.full_scores(users)
    assert full.shape == (4, 5)
    pairs = model.score(users.repeat_interleave(5), torch.arange(5).repeat(4))
    assert torch.allclose(full.reshape(-1), pairs)
    if name == "pop":
        assert full[0].tolist() == [2, 1, 1, 2, 0]
        with pytest.raises(TypeError, match="not trained"):
            model.loss({})


def test_build_model_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("svd", 2, 2)
    with pytest.raises(ValueError, match="emb_dim"):
        build_model("mf", 2, 2, emb_dim=0)
    with pytest.raises(ValueError, match="unknown objective"):
        build_model("lightgcn", 2, 2, objective="hinge")
    with pytest.raises(ValueError, match="c0"):
        WMFObjective(c0=0.0)


def test_make_backbone_uses_its_own_generator() -> None:
    """Same (name, settings, seed), same initial parameters, whatever the global generators hold; and
    the global generators are left as they were (building a model draws nothing from them)."""
    settings = backbone_settings("lightgcn", "quick").replace(emb_dim=4)
    torch.manual_seed(123)
    first = make_backbone("lightgcn", 6, 5, settings, seed=7)
    state = torch.get_rng_state()
    torch.manual_seed(999)
    second = make_backbone("lightgcn", 6, 5, settings, seed=7)
    other = make_backbone("lightgcn", 6, 5, settings, seed=8)
    assert torch.equal(first.user_emb, second.user_emb) and torch.equal(first.item_emb, second.item_emb)
    assert not torch.equal(first.user_emb, other.user_emb)
    torch.manual_seed(123)
    make_backbone("lightgcn", 6, 5, settings, seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(7)   # the seed policy is the global one's: a seeded generator draws the same numbers
    assert torch.equal(first.user_emb, torch.randn(6, 4) * 0.1)


def test_settings_table_shows_each_backbone_as_built():
    """The chapter's settings table: objectives and negatives resolved, '-' where a setting does not apply."""
    table = settings_table("quick")
    assert list(table.index) == ["mf", "bpr", "wmf", "lightgcn"]
    assert table.loc["mf", ["objective", "num_negatives", "num_layers", "c0", "sampling"]].tolist() == \
        ["bce", 4, "-", "-", "-"]
    assert table.loc["bpr", ["objective", "num_negatives", "sampling"]].tolist() == ["bpr", 1, "epoch"]
    assert table.loc["wmf", ["objective", "num_negatives", "c0"]].tolist() == ["wmf", "-", 0.2]
    assert table.loc["lightgcn", ["objective", "num_layers"]].tolist() == ["bpr", 3]
    assert set(table["metric"]) == {"the protocol's"}
    assert settings_table("ubpr").loc["bpr", ["num_negatives", "sampling"]].tolist() == [4, "fixed"]
