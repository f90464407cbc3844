"""Evaluation metrics of the three protocols the book reproduces.

* Full ranking, RecEraser protocol (Chen et al., WWW 2022; their ``evaluator`` package):
  :func:`topk_metrics` gives per-user Recall@K and NDCG@K over all items.
* Sampled ranking, NCF protocol (He et al., WWW 2017) used by UBPR (Chen et al., 2025):
  :func:`sampled_metrics` ranks one held-out positive among ``m`` sampled negatives (1 + 99).
* Pointwise AUC, IFRU protocol (Zhang et al., TORS 2024; ``utility/compute.py``):
  :func:`auc` and :func:`forget_aucs` (AUC0 / AUC1 / AUC2).

Everything is vectorised torch (no Python loop over users) and runs on the device of its inputs.
Per-user metrics are returned unaveraged so that callers can average, bootstrap or split them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["auc", "forget_aucs", "sampled_metrics", "topk_metrics"]


def _check_ks(ks: Sequence[int]) -> list[int]:
    """Return the distinct cut-offs in increasing order; raise on an empty list or k < 1."""
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be a non-empty list of integers >= 1, got {ks}")
    return ks


def _metric_dtype(scores: Tensor) -> torch.dtype:
    """float64 for float64 scores, else float32 (half-precision scores give float32 metrics)."""
    return torch.promote_types(scores.dtype, torch.float32)


def topk_metrics(scores: Tensor, truth: Tensor, ks: Sequence[int]) -> dict[str, Tensor]:
    r"""Per-user Recall@K and NDCG@K over the full item ranking (RecEraser protocol).

    With :math:`T_u` the held-out items of user :math:`u` and :math:`r_u(i)` the 1-based rank of
    item :math:`i` in the user's list (training items already masked by the caller),

    .. math::
        \mathrm{Recall@K}(u) = \frac{|\{i \in T_u : r_u(i) \le K\}|}{|T_u|}, \qquad
        \mathrm{NDCG@K}(u) = \frac{\sum_{i \in T_u,\, r_u(i) \le K} 1/\log_2(r_u(i) + 1)}
                                  {\sum_{r=1}^{\min(|T_u|, K)} 1/\log_2(r + 1)}.

    The Recall denominator is :math:`|T_u|`, not :math:`\min(K, |T_u|)`, exactly as in the
    RecEraser code (``evaluator/python/evaluate_foldout.py``), so a user with more than K test
    items cannot reach Recall@K = 1.

    One ``torch.topk`` with ``max(ks)`` serves every cut-off. Ties between scores are broken in
    the (unspecified) order ``torch.topk`` returns, as with the original code's sort. A cut-off
    above ``n_items`` is evaluated on the whole ranking.

    Args:
        scores: ``[B, n_items]`` float scores; the caller has set training items to ``-inf``.
        truth: ``[B, n_items]`` bool, ``True`` at each user's held-out positives.
        ks: cut-offs, e.g. ``(10, 20, 50)``.

    Returns:
        ``{"recall@K": [B], "ndcg@K": [B]}`` for each K in ``ks`` (float32, or float64 for
        float64 scores).

    Raises:
        ValueError: on shape mismatch, bad ``ks``, or a row without positives (filter those users
            out first: their metrics are undefined).

    Cost: ``O(B · n_items)`` memory and one top-k of size ``max(ks)`` per row.
    """
    ks = _check_ks(ks)
    if scores.dim() != 2 or scores.shape != truth.shape:
        raise ValueError(
            f"scores and truth must both be [B, n_items], got {tuple(scores.shape)} "
            f"and {tuple(truth.shape)}"
        )
    truth = truth.bool()
    n_pos = truth.sum(dim=1)
    empty = int((n_pos == 0).sum())
    if empty:
        raise ValueError(
            f"{empty} of {truth.shape[0]} rows of truth have no positive item; "
            "drop users without held-out items before calling topk_metrics"
        )
    dtype = _metric_dtype(scores)
    k_max = min(ks[-1], scores.shape[1])
    top_idx = torch.topk(scores, k_max, dim=1).indices  # [B, k_max], best first
    hits = truth.gather(1, top_idx).to(dtype)  # [B, k_max]
    discount = 1.0 / torch.log2(
        torch.arange(2, k_max + 2, device=scores.device, dtype=dtype)
    )  # [k_max], 1/log2(rank + 1) for rank = 1..k_max
    cum_hits = hits.cumsum(dim=1)  # [B, k_max]
    cum_dcg = (hits * discount).cumsum(dim=1)  # [B, k_max]
    ideal = discount.cumsum(dim=0)  # [k_max], IDCG of n relevant items at index n - 1
    n_pos_f = n_pos.to(dtype)
    out: dict[str, Tensor] = {}
    for k in ks:
        col = min(k, k_max) - 1
        idcg = ideal[torch.clamp(n_pos, max=col + 1) - 1]  # [B]
        out[f"recall@{k}"] = cum_hits[:, col] / n_pos_f
        out[f"ndcg@{k}"] = cum_dcg[:, col] / idcg
    return out


def sampled_metrics(
    pos_scores: Tensor, neg_scores: Tensor, ks: Sequence[int]
) -> dict[str, Tensor]:
    r"""Per-user HR@K and NDCG@K of one positive ranked among sampled negatives (NCF protocol).

    The NCF evaluation (He et al., WWW 2017, §4.1), reused by UBPR, ranks each user's held-out
    item among ``m`` (there: 99) items the user never interacted with. With the 0-based rank

    .. math::
        \rho_u = |\{j : s^-_{uj} \ge s^+_u\}|, \qquad
        \mathrm{HR@K} = [\rho_u < K], \qquad
        \mathrm{NDCG@K} = \frac{[\rho_u < K]}{\log_2(\rho_u + 2)}.

    Ties are counted PESSIMISTICALLY: a negative scoring exactly like the positive ranks above
    it, so a constant model gets HR = 0. The original ``evaluate.py`` instead takes
    ``heapq.nlargest`` over a dict keyed by item id, which orders ties by dict order, i.e. by
    chance, and can credit a degenerate model with hits.

    Args:
        pos_scores: ``[B]`` score of each user's held-out positive.
        neg_scores: ``[B, m]`` scores of the user's ``m`` sampled negatives.
        ks: cut-offs, e.g. ``(10,)``.

    Returns:
        ``{"hr@K": [B], "ndcg@K": [B]}`` for each K in ``ks``.

    Raises:
        ValueError: on shape mismatch or bad ``ks``.
    """
    ks = _check_ks(ks)
    if pos_scores.dim() != 1 or neg_scores.dim() != 2 or neg_scores.shape[0] != pos_scores.shape[0]:
        raise ValueError(
            f"pos_scores must be [B] and neg_scores [B, m], got {tuple(pos_scores.shape)} "
            f"and {tuple(neg_scores.shape)}"
        )
    dtype = _metric_dtype(neg_scores)
    rank = (neg_scores >= pos_scores.unsqueeze(1)).sum(dim=1)  # [B], 0-based, ties pessimistic
    gain = 1.0 / torch.log2(rank.to(dtype) + 2.0)  # [B]
    out: dict[str, Tensor] = {}
    for k in ks:
        hit = rank < k
        out[f"hr@{k}"] = hit.to(dtype)
        out[f"ndcg@{k}"] = torch.where(hit, gain, torch.zeros_like(gain))
    return out


def auc(scores: Tensor, labels: Tensor) -> float:
    r"""ROC AUC by the Mann-Whitney U statistic, tied scores given their average rank.

    .. math::
        \mathrm{AUC} = \frac{\sum_{i:\,y_i = 1} R_i - n_+(n_+ + 1)/2}{n_+ n_-},

    with :math:`R_i` the 1-based average rank of score :math:`i` among all scores. This equals
    ``sklearn.metrics.roc_auc_score`` (which IFRU calls) including ties: a tied
    positive/negative pair counts 1/2. Computed in float64.

    Args:
        scores: ``[N]`` real scores (logits or probabilities; only their order matters).
        labels: ``[N]`` binary labels (bool, or numbers equal to 0 or 1).

    Returns:
        The AUC as a Python float in [0, 1].

    Raises:
        ValueError: if the shapes differ, the inputs are not 1-D, scores hold NaN, labels are not
            binary, or labels hold a single class (AUC is undefined).

    Cost: one sort, ``O(N log N)``.
    """
    if scores.dim() != 1 or scores.shape != labels.shape:
        raise ValueError(
            f"scores and labels must be 1-D of the same length, got {tuple(scores.shape)} "
            f"and {tuple(labels.shape)}"
        )
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN")
    if labels.dtype != torch.bool:
        if not ((labels == 0) | (labels == 1)).all():
            raise ValueError("labels must be binary (0/1 or bool)")
        labels = labels == 1
    n_pos = int(labels.sum())
    n_neg = labels.numel() - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"AUC is undefined with a single class: {n_pos} positive and {n_neg} negative labels"
        )
    _, inverse, counts = torch.unique(scores, sorted=True, return_inverse=True, return_counts=True)
    counts = counts.to(torch.float64)
    first_rank = counts.cumsum(dim=0) - counts + 1.0  # 1-based rank of each value's first copy
    avg_rank = first_rank + (counts - 1.0) / 2.0  # average rank over the tied copies
    rank_sum = avg_rank[inverse][labels].sum()
    u_stat = rank_sum - n_pos * (n_pos + 1) / 2.0
    return float(u_stat / (n_pos * n_neg))


def forget_aucs(
    scores: Tensor,
    labels: Tensor,
    users: Tensor,
    items: Tensor,
    forget_users: Tensor | Sequence[int],
    forget_items: Tensor | Sequence[int],
) -> dict[str, float]:
    r"""IFRU's AUC0 / AUC1 / AUC2 on test rows, split by contact with the forgotten data.

    IFRU (Zhang et al., TORS 2024, §4.1.2; ``utility/compute.py`` of the official code) lets
    :math:`V` be the users and the items of the forget set :math:`D_r` and reports

    * ``auc0``: AUC over all rows;
    * ``auc1``: rows whose user is in ``forget_users`` OR whose item is in ``forget_items``;
    * ``auc2``: rows whose user AND item are both in the sets.

    ``auc1`` and ``auc2`` are ``float('nan')`` when their subset is empty or holds a single
    class (small forget sets on sparse data do this); callers average with ``nanmean`` or report
    the gap. ``auc0`` over all rows raises instead, since a one-class test set is a caller bug.

    Args:
        scores: ``[N]`` scores of the test rows (IFRU: raw logits for MF, sigmoid for LightGCN).
        labels: ``[N]`` binary labels.
        users: ``[N]`` user id of each row.
        items: ``[N]`` item id of each row.
        forget_users: ids of the users that appear in the forget set, any order, duplicates ok.
        forget_items: ids of the items that appear in the forget set.

    Returns:
        ``{"auc0": float, "auc1": float, "auc2": float}``.

    Raises:
        ValueError: if the four row tensors differ in shape, or as :func:`auc` for ``auc0``.
    """
    if not (scores.shape == labels.shape == users.shape == items.shape) or scores.dim() != 1:
        raise ValueError(
            "scores, labels, users and items must be 1-D of one length, got "
            f"{[tuple(t.shape) for t in (scores, labels, users, items)]}"
        )
    forget_users = torch.as_tensor(forget_users, dtype=users.dtype, device=users.device)
    forget_items = torch.as_tensor(forget_items, dtype=items.dtype, device=items.device)
    in_users = torch.isin(users, forget_users)  # [N]
    in_items = torch.isin(items, forget_items)  # [N]
    out = {"auc0": auc(scores, labels)}
    for key, mask in (("auc1", in_users | in_items), ("auc2", in_users & in_items)):
        sub_labels = labels[mask]
        n_pos = int((sub_labels == 1).sum())
        if n_pos == 0 or n_pos == sub_labels.numel():
            out[key] = math.nan
        else:
            out[key] = auc(scores[mask], sub_labels)
    return out
