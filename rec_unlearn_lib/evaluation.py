"""Evaluate any :class:`~rec_unlearn_lib.models.Recommender` on a split, by the split's protocol.

* ``ranking``: every evaluated user is scored against all items in user batches on the
  model's device, the user's training items (and validation items, when testing) are
  masked to ``-inf``, and Recall@N / NDCG@N are averaged over users with held-out items
  (RecEraser's protocol).
* ``sampled``: each held-out item is ranked against its 99 negatives: HR@K, NDCG@K
  (NCF, UBPR).
* ``labelled``: AUC over labelled pairs, and, given a forget request, IFRU's AUC0/1/2
  over the rows whose user or item the request touches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from .forget import ForgetRequest
from .interactions import Interactions
from .metrics import auc, forget_aucs, sampled_metrics, topk_metrics
from .models.base import Recommender, Scorer
from .splits import Split

DEFAULT_KS: tuple[int, ...] = (10, 20)


def _part(split: Split, part: str) -> tuple[Interactions, np.ndarray | None]:
    if part not in ("valid", "test"):
        raise ValueError(f"part must be 'valid' or 'test', got {part!r}")
    return getattr(split, part), getattr(split, f"{part}_negatives")


class RankingTask:
    """The fixed part of one ranking evaluation, built once: the users with held-out items, in batches, and per
    batch the flat positions (in the ``[B, num_items]`` score matrix) of the masked and of the held-out items.

    A model selected over many epochs is validated on the same data every time; rebuilding these masks from
    sparse matrices at every validation cost as much as scoring itself.

    Args:
        exclude: interactions whose items are masked (training, plus validation when testing).
        held_out: the positives to find.
        batch_size: users per score matrix ``[batch_size, num_items]``.
        device: where the scores are computed.
    """

    def __init__(self, exclude: Interactions, held_out: Interactions, batch_size: int = 1024,
                 device: torch.device | str = "cpu") -> None:
        mask_csr, truth_csr = exclude.positives().to_csr(), held_out.positives().to_csr()
        users = np.flatnonzero(np.diff(truth_csr.indptr) > 0)
        self.num_users = len(users)
        self.batches = [(torch.as_tensor(rows, device=device), _flat_positions(mask_csr[rows], device),
                         _flat_positions(truth_csr[rows], device))
                        for rows in (users[start:start + batch_size] for start in range(0, len(users), batch_size))]

    @torch.no_grad()
    def __call__(self, scorer: Scorer, ks: Sequence[int]) -> dict[str, float]:
        """Mean Recall@k and NDCG@k of ``scorer`` over the users with held-out items (:func:`ranking_metrics`)."""
        totals: dict[str, float] = {}
        for rows, masked, held in self.batches:
            scores = scorer.full(rows).reshape(-1).index_fill(0, masked, -torch.inf).view(len(rows), -1)
            truth = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device).index_fill_(0, held, True)
            for key, values in topk_metrics(scores, truth.view_as(scores), ks).items():
                totals[key] = totals.get(key, 0.0) + float(values.sum())
        return {key: value / self.num_users for key, value in totals.items()}


def _flat_positions(rows: sp.csr_matrix, device: torch.device | str) -> torch.Tensor:
    """int64 [nnz]: ``row * num_columns + column`` of the stored entries of ``rows`` [B, num_columns]."""
    coo = rows.tocoo()
    return torch.as_tensor(coo.row.astype(np.int64) * rows.shape[1] + coo.col, device=device)


def ranking_metrics(scorer: Scorer, exclude: Interactions, held_out: Interactions, ks: Sequence[int],
                    batch_size: int = 1024, device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean Recall@k and NDCG@k over users with held-out items, all items ranked.

    Args:
        scorer: scores of the model.
        exclude: interactions whose items are masked (training, plus validation when testing).
        held_out: the positives to find.
        ks: cut-offs.
        batch_size: users per score matrix ``[batch_size, num_items]``.
    """
    return RankingTask(exclude, held_out, batch_size, device)(scorer, ks)


@torch.no_grad()
def evaluate(model: Recommender, split: Split, part: str = "test", ks: Sequence[int] = DEFAULT_KS,
             batch_size: int = 1024, request: ForgetRequest | None = None,
             train: Interactions | None = None, task: RankingTask | None = None) -> dict[str, float]:
    """Metrics of ``model`` on ``split.valid`` or ``split.test`` by the split's protocol.

    Args:
        model: any recommender.
        split: the split (its protocol picks the metrics).
        part: ``valid`` or ``test``.
        ks: cut-offs for ranking and sampled metrics.
        request: labelled protocol only: also report AUC0/1/2 over the rows touched by it.
        train: the training data to mask in the ranking protocol, when it differs from
            ``split.train`` (e.g. a model retrained without a forget set still masks the
            full training set, so that all models are ranked on the same candidates).
        task: ranking protocol: the :class:`RankingTask` of this part and mask, built once by a caller that
            evaluates the same data many times (validation at every epoch); ``None``: built here.

    Returns:
        A flat dict, e.g. ``{"recall@10": ..., "ndcg@10": ..., "recall@20": ..., ...}``.
    """
    was_training = model.training
    model.eval()
    try:
        scorer, device = model.scorer(), model.device
        held_out, negatives = _part(split, part)
        train = split.train if train is None else train
        if split.protocol == "ranking":
            if task is None:
                exclude = train if part == "valid" else train.concat(split.valid)
                task = RankingTask(exclude, held_out, batch_size, device)
            return task(scorer, ks)
        users, items = held_out.tensors(device)
        if split.protocol == "sampled":
            neg = torch.as_tensor(negatives, device=device)
            neg_scores = scorer.pairs(users.repeat_interleave(neg.shape[1]), neg.reshape(-1)).view(neg.shape)
            return {k: float(v.mean()) for k, v in sampled_metrics(scorer.pairs(users, items), neg_scores, ks).items()}
        scores, labels = scorer.pairs(users, items).cpu(), torch.as_tensor(held_out.labels)
        if request is None:
            return {"auc": auc(scores, labels)}
        forget_users, forget_items = request.touched()
        return forget_aucs(scores, labels, users.cpu(), items.cpu(), torch.as_tensor(forget_users),
                           torch.as_tensor(forget_items))
    finally:
        model.train(was_training)
