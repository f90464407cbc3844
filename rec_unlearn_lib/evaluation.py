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


@torch.no_grad()
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
    mask_csr, truth_csr = exclude.positives().to_csr(), held_out.positives().to_csr()
    users = np.flatnonzero(np.diff(truth_csr.indptr) > 0)
    totals: dict[str, float] = {}
    for start in range(0, len(users), batch_size):
        rows = users[start:start + batch_size]
        scores = scorer.full(torch.as_tensor(rows, device=device)).clone()
        scores[torch.as_tensor(mask_csr[rows].toarray() > 0, device=device)] = -torch.inf
        truth = torch.as_tensor(truth_csr[rows].toarray() > 0, device=device)
        for key, values in topk_metrics(scores, truth, ks).items():
            totals[key] = totals.get(key, 0.0) + float(values.sum())
    return {key: value / len(users) for key, value in totals.items()}


@torch.no_grad()
def evaluate(model: Recommender, split: Split, part: str = "test", ks: Sequence[int] = DEFAULT_KS,
             batch_size: int = 1024, request: ForgetRequest | None = None,
             train: Interactions | None = None) -> dict[str, float]:
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
            exclude = train if part == "valid" else train.concat(split.valid)
            return ranking_metrics(scorer, exclude, held_out, ks, batch_size, device)
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
