"""Metrics on hand-made rankings (arithmetic in the comments) and against reference code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from rec_unlearn_lib.metrics import auc, forget_aucs, sampled_metrics, topk_metrics

L3 = 1.0 / math.log2(3)  # gain at rank 2: 0.6309...
L4 = 1.0 / math.log2(4)  # gain at rank 3: 0.5


# ---------------------------------------------------------------- full ranking (RecEraser)


def _two_users() -> tuple[torch.Tensor, torch.Tensor]:
    """2 users x 5 items.

    user 0: scores rank the items 1, 3, 4, 2, 0; held-out {2, 3}    -> hits at ranks 2 and 4.
    user 1: item 1 is a training item (-inf); ranking 0, 2, 3, 4, 1; held-out {0, 3, 4}
            -> hits at ranks 1, 3 and 4.
    """
    scores = torch.tensor(
        [[0.1, 0.9, 0.3, 0.8, 0.5], [0.5, float("-inf"), 0.4, 0.3, 0.2]]
    )
    truth = torch.zeros(2, 5, dtype=torch.bool)
    truth[0, [2, 3]] = True
    truth[1, [0, 3, 4]] = True
    return scores, truth


def test_topk_hand_case() -> None:
    scores, truth = _two_users()
    got = topk_metrics(scores, truth, ks=(2, 3))
    assert set(got) == {"recall@2", "ndcg@2", "recall@3", "ndcg@3"}
    # user 0, K=2: top-2 = {1, 3}: one hit of |T|=2 -> recall 1/2.
    #   DCG = 1/log2(3) (item 3 at rank 2); IDCG = 1 + 1/log2(3) (min(|T|, K) = 2 slots).
    # user 0, K=3: top-3 = {1, 3, 4}: same single hit, same IDCG (min(2, 3) = 2).
    # user 1, K=2: top-2 = {0, 2}: one hit of |T|=3 -> recall 1/3 (NOT 1/min(K,|T|) = 1/2).
    #   DCG = 1 (rank 1); IDCG = 1 + 1/log2(3).
    # user 1, K=3: top-3 = {0, 2, 3}: hits at ranks 1, 3 -> recall 2/3.
    #   DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3) + 1/log2(4).
    expected = {
        "recall@2": [1 / 2, 1 / 3],
        "ndcg@2": [L3 / (1 + L3), 1 / (1 + L3)],
        "recall@3": [1 / 2, 2 / 3],
        "ndcg@3": [L3 / (1 + L3), (1 + L4) / (1 + L3 + L4)],
    }
    for key, values in expected.items():
        torch.testing.assert_close(got[key], torch.tensor(values), msg=key)


def test_topk_cutoff_above_n_items_uses_whole_ranking() -> None:
    scores, truth = _two_users()
    got = topk_metrics(scores.double(), truth, ks=[10])
    assert got["recall@10"].dtype == torch.float64
    # every held-out item is ranked somewhere in the 5 items -> recall 1.
    # user 0: hits at ranks 2, 4: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3).
    # user 1: hits at ranks 1, 3, 4: DCG = 1 + 1/log2(4) + 1/log2(5);
    #   IDCG = 1 + 1/log2(3) + 1/log2(4).
    l5 = 1 / math.log2(5)
    torch.testing.assert_close(got["recall@10"], torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(
        got["ndcg@10"],
        torch.tensor([(L3 + l5) / (1 + L3), (1 + L4 + l5) / (1 + L3 + L4)], dtype=torch.float64),
    )


def _reference_topk(scores: np.ndarray, truth: np.ndarray, k: int) -> tuple[list, list]:
    """Per-user loop written from the RecEraser evaluator's definitions."""
    recalls, ndcgs = [], []
    for s, t in zip(scores, truth, strict=True):
        ranked = np.argsort(-s)[:k]
        hits = t[ranked]
        n_rel = int(t.sum())
        recalls.append(hits.sum() / n_rel)
        dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hits) if h)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(n_rel, k)))
        ndcgs.append(dcg / idcg)
    return recalls, ndcgs


def test_topk_matches_per_user_reference() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(40, 60, generator=gen, dtype=torch.float64)  # distinct: no ties
    truth = torch.rand(40, 60, generator=gen) < 0.1
    truth[:, 0] = True  # every user has a positive
    got = topk_metrics(scores, truth, ks=(5, 20))
    for k in (5, 20):
        recalls, ndcgs = _reference_topk(scores.numpy(), truth.numpy(), k)
        np.testing.assert_allclose(got[f"recall@{k}"].numpy(), recalls, rtol=1e-12)
        np.testing.assert_allclose(got[f"ndcg@{k}"].numpy(), ndcgs, rtol=1e-12)


def test_topk_errors() -> None:
    scores, truth = _two_users()
    empty = truth.clone()
    empty[1] = False
    with pytest.raises(ValueError, match="1 of 2 rows"):
        topk_metrics(scores, empty, ks=(2,))
    with pytest.raises(ValueError, match="n_items"):
        topk_metrics(scores, truth[:, :4], ks=(2,))
    with pytest.raises(ValueError, match="ks"):
        topk_metrics(scores, truth, ks=(0, 2))
    with pytest.raises(ValueError, match="ks"):
        topk_metrics(scores, truth, ks=())


# ---------------------------------------------------------------- sampled ranking (NCF / UBPR)


def test_sampled_hand_case_with_tie() -> None:
    pos = torch.tensor([0.5, 0.5, 0.9])
    neg = torch.tensor([[0.5, 0.1, 0.2], [0.1, 0.2, 0.3], [1.0, 0.95, 0.0]])
    # ranks (negatives >= positive): user 0: the tied 0.5 -> 1; user 1: 0; user 2: 1.0, 0.95 -> 2.
    got = sampled_metrics(pos, neg, ks=(1, 2))
    torch.testing.assert_close(got["hr@1"], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(got["ndcg@1"], torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(got["hr@2"], torch.tensor([1.0, 1.0, 0.0]))
    # NDCG = 1/log2(rank + 2): rank 1 -> 1/log2(3), rank 0 -> 1.
    torch.testing.assert_close(got["ndcg@2"], torch.tensor([L3, 1.0, 0.0]))


def test_sampled_constant_model_scores_zero() -> None:
    pos = torch.zeros(4)
    neg = torch.zeros(4, 99)  # 1 + 99 protocol, every score tied
    got = sampled_metrics(pos, neg, ks=(10, 100))
    # pessimistic ties: all 99 negatives rank above -> rank 99, outside top 10, inside top 100.
    assert got["hr@10"].sum() == 0 and got["ndcg@10"].sum() == 0
    torch.testing.assert_close(got["hr@100"], torch.ones(4))
    torch.testing.assert_close(got["ndcg@100"], torch.full((4,), 1 / math.log2(101)))


def test_sampled_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"\[B, m\]"):
        sampled_metrics(torch.zeros(3), torch.zeros(2, 5), ks=(1,))
    with pytest.raises(ValueError, match=r"\[B, m\]"):
        sampled_metrics(torch.zeros(3, 1), torch.zeros(3, 5), ks=(1,))


# ---------------------------------------------------------------- AUC (IFRU)


def test_auc_hand_case_with_tie() -> None:
    # positives {0.5, 0.9}, negatives {0.5, 0.2}; pairs: (0.5 vs 0.5) tie = 1/2,
    # (0.5 vs 0.2) = 1, (0.9 vs 0.5) = 1, (0.9 vs 0.2) = 1 -> 3.5 / 4.
    # Rank form: 0.2 -> 1, 0.5, 0.5 -> 2.5 each, 0.9 -> 4; U = (2.5 + 4) - 2*3/2 = 3.5.
    assert auc(torch.tensor([0.5, 0.5, 0.2, 0.9]), torch.tensor([1, 0, 0, 1])) == 0.875
    # no ties: the sklearn documentation's example, 0.75.
    assert auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0.0, 0.0, 1.0, 1.0])) == 0.75


@pytest.mark.parametrize("levels", [3, 20, None])
def test_auc_matches_sklearn(levels: int | None) -> None:
    gen = torch.Generator().manual_seed(1)
    n = 500
    if levels is None:
        scores = torch.randn(n, generator=gen)
    else:  # few distinct values: heavy ties
        scores = torch.randint(0, levels, (n,), generator=gen).float()
    labels = torch.rand(n, generator=gen) < 0.3 + 0.1 * torch.sigmoid(scores)
    expected = roc_auc_score(labels.numpy(), scores.numpy())
    assert auc(scores, labels) == pytest.approx(expected, abs=1e-12)
    assert auc(scores.double(), labels.long()) == pytest.approx(expected, abs=1e-12)


def test_auc_errors() -> None:
    with pytest.raises(ValueError, match="single class"):
        auc(torch.tensor([0.1, 0.2]), torch.tensor([1, 1]))
    with pytest.raises(ValueError, match="same length"):
        auc(torch.tensor([0.1, 0.2, 0.3]), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="binary"):
        auc(torch.tensor([0.1, 0.2]), torch.tensor([2, 0]))
    with pytest.raises(ValueError, match="NaN"):
        auc(torch.tensor([float("nan"), 0.2]), torch.tensor([1, 0]))


def _forget_rows() -> dict[str, torch.Tensor]:
    """8 test rows; row r: (user, item, score, label)."""
    return {
        "users": torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]),
        "items": torch.tensor([0, 1, 2, 3, 0, 4, 5, 1]),
        "scores": torch.tensor([0.9, 0.2, 0.6, 0.4, 0.3, 0.8, 0.25, 0.7]),
        "labels": torch.tensor([1, 0, 0, 0, 1, 0, 1, 1]),
    }


def test_forget_aucs_hand_case() -> None:
    r = _forget_rows()
    got = forget_aucs(
        r["scores"], r["labels"], r["users"], r["items"],
        forget_users=torch.tensor([0, 3]), forget_items=[1, 4, 1],
    )
    # AUC0, all rows: positives {0.9, 0.3, 0.25, 0.7}, negatives {0.2, 0.6, 0.4, 0.8};
    #   pairs won: 0.9 -> 4, 0.3 -> 1, 0.25 -> 1, 0.7 -> 3; 9 / 16.
    # AUC1, user in {0,3} OR item in {1,4}: rows 0, 1, 5, 6, 7;
    #   positives {0.9, 0.25, 0.7}, negatives {0.2, 0.8}; won 2 + 1 + 1 = 4 of 6.
    # AUC2, user AND item in the sets: rows 1 (0, 1) and 7 (3, 1); 0.7 (pos) > 0.2 (neg) -> 1.
    assert got == pytest.approx({"auc0": 9 / 16, "auc1": 4 / 6, "auc2": 1.0})


def test_forget_aucs_single_class_subset_is_nan() -> None:
    r = _forget_rows()
    got = forget_aucs(
        r["scores"], r["labels"], r["users"], r["items"],
        forget_users=torch.tensor([0]), forget_items=torch.tensor([1, 4]),
    )
    # AUC1 rows 0, 1, 5, 7: positives {0.9, 0.7}, negatives {0.2, 0.8}; won 2 + 1 = 3 of 4.
    # AUC2 is row 1 alone: one class -> nan.
    assert got["auc0"] == pytest.approx(9 / 16)
    assert got["auc1"] == pytest.approx(3 / 4)
    assert math.isnan(got["auc2"])
    empty = forget_aucs(
        r["scores"], r["labels"], r["users"], r["items"], forget_users=[], forget_items=[]
    )
    assert math.isnan(empty["auc1"]) and math.isnan(empty["auc2"])


def test_forget_aucs_match_sklearn_on_masks() -> None:
    gen = torch.Generator().manual_seed(2)
    n = 400
    users = torch.randint(0, 30, (n,), generator=gen)
    items = torch.randint(0, 50, (n,), generator=gen)
    scores = torch.randint(0, 10, (n,), generator=gen).float()  # with ties
    labels = (torch.rand(n, generator=gen) < 0.5).long()
    f_users, f_items = torch.arange(0, 10), torch.arange(0, 20)
    got = forget_aucs(scores, labels, users, items, f_users, f_items)
    in_u, in_i = users < 10, items < 20
    masks = {"auc0": torch.ones(n, dtype=torch.bool), "auc1": in_u | in_i, "auc2": in_u & in_i}
    for key, mask in masks.items():
        assert got[key] == pytest.approx(roc_auc_score(labels[mask], scores[mask]), abs=1e-12)


def test_forget_aucs_shape_error() -> None:
    r = _forget_rows()
    with pytest.raises(ValueError, match="one length"):
        forget_aucs(r["scores"], r["labels"], r["users"][:-1], r["items"], [0], [1])
