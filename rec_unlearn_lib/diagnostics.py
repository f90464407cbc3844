r"""How far forgetting moved a model: UBPR's partial-order and parameter diagnostics.

* :func:`pnpr`: the Positive-Negative Preference Ratio of one user (UBPR Eq. 16), the mean over the
  user's positives :math:`j` and their negatives :math:`i` of :math:`d_i^{neg} / d_j^{pos}`, with
  :math:`d` the Euclidean distance from the user's embedding: above 1 the user sits closer to the
  items it interacted with than to their sampled negatives; near 1 there is no such preference left.
* :func:`user_pnpr`: the same for a user of a model, on the user's fixed triplets.
* :func:`weight_distance`: the :math:`\ell_2` distance between two models' parameters (UBPR Fig. 6,
  after Tarun et al.), here between the embeddings they score with.
* :func:`partial_order_points`: a user, some of its positives and their negatives mapped to two
  dimensions by t-SNE (UBPR Fig. 4).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .models.base import InnerProductModel

__all__ = ["partial_order_points", "pnpr", "user_pnpr", "user_triplets", "weight_distance"]


def pnpr(user: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor) -> float:
    """UBPR Eq. 16: :math:`\\frac{1}{m}\\sum_{j=1}^m \\frac{1}{n}\\sum_{i=1}^n d^{neg}_{j,i} / d^{pos}_j`.

    Args:
        user: [d], the user's embedding.
        positives: [m, d], the embeddings of the user's m positive items.
        negatives: [m, n, d], the n negatives sampled for each positive.
    """
    if positives.ndim != 2 or negatives.ndim != 3 or negatives.shape[0] != positives.shape[0]:
        raise ValueError(f"need positives [m, d] and negatives [m, n, d], got {tuple(positives.shape)} "
                         f"and {tuple(negatives.shape)}")
    d_pos = (positives - user).norm(dim=-1)                       # [m]
    d_neg = (negatives - user).norm(dim=-1)                       # [m, n]
    return float((d_neg / d_pos[:, None]).mean())


def user_triplets(triplets: Sequence[np.ndarray], user: int) -> tuple[np.ndarray, np.ndarray]:
    """``(positives [m], negatives [m, n])`` of ``user`` in fixed triplets grouped by positive
    (:func:`~rec_unlearn_lib.sampling.fixed_triplets`)."""
    users, pos, neg = (np.asarray(t) for t in triplets)
    rows = np.flatnonzero(users == user)
    if len(rows) == 0:
        raise ValueError(f"user {user} has no triplets")
    first = np.flatnonzero(np.r_[True, pos[rows][1:] != pos[rows][:-1]])   # a new positive starts a group
    if len(rows) % len(first):
        raise ValueError("the triplets are not grouped by positive with one number of negatives each")
    return pos[rows][first], neg[rows].reshape(len(first), -1)


@torch.no_grad()
def user_pnpr(model: InnerProductModel, triplets: Sequence[np.ndarray], user: int) -> float:
    """:func:`pnpr` of ``user`` with the embeddings ``model`` scores with, on the user's ``triplets``
    (the triplets the model was trained on, kept to measure the same pairs before and after forgetting)."""
    positives, negatives = user_triplets(triplets, user)
    user_emb, item_emb = model.representations()
    device = item_emb.device
    return pnpr(user_emb[user], item_emb[torch.as_tensor(positives, device=device)],
                item_emb[torch.as_tensor(negatives, device=device)])


@torch.no_grad()
def weight_distance(a: InnerProductModel, b: InnerProductModel) -> float:
    """:math:`\\|\\Theta_a - \\Theta_b\\|_2` over the user and item embeddings the two models score with
    (for MF its parameters; for a sharded ensemble the aggregated embeddings)."""
    pairs = list(zip(a.representations(), b.representations()))
    if any(x.shape != y.shape for x, y in pairs):
        raise ValueError("the models' embeddings differ in shape: " +
                         ", ".join(f"{tuple(x.shape)} vs {tuple(y.shape)}" for x, y in pairs))
    return float(torch.sqrt(sum(((x - y.to(x.device)) ** 2).sum() for x, y in pairs)))


@torch.no_grad()
def partial_order_points(models: dict[str, InnerProductModel], triplets: Sequence[np.ndarray], user: int,
                         num_positives: int = 3, seed: int = 0) -> pd.DataFrame:
    """A user, ``num_positives`` of its positives and their negatives in 2-D by t-SNE, per model (UBPR Fig. 4).

    Each model's embeddings of all users and items are mapped by one t-SNE run (its own layout);
    the positives are drawn with ``seed``.

    Returns:
        A tidy frame: ``model``, ``role`` (``user``, ``positive``, ``negative``), ``group`` (the
        positive a negative was sampled for), ``node`` (id), ``x``, ``y``.
    """
    from sklearn.manifold import TSNE       # imported here: the rest of the library does not need scikit-learn

    positives, negatives = user_triplets(triplets, user)
    chosen = np.sort(np.random.default_rng(seed).choice(len(positives), min(num_positives, len(positives)),
                                                        replace=False))
    frames = []
    for name, model in models.items():
        user_emb, item_emb = (t.detach().cpu().double().numpy() for t in model.representations())
        points = TSNE(n_components=2, random_state=seed, init="pca",
                      perplexity=30.0).fit_transform(np.concatenate([user_emb, item_emb]))
        offset = len(user_emb)
        rows = [{"role": "user", "group": -1, "node": user, "point": user}]
        for j in chosen:
            rows.append({"role": "positive", "group": int(positives[j]), "node": int(positives[j]),
                         "point": offset + int(positives[j])})
            rows += [{"role": "negative", "group": int(positives[j]), "node": int(i), "point": offset + int(i)}
                     for i in negatives[j]]
        frame = pd.DataFrame(rows)
        frame["x"], frame["y"] = points[frame["point"], 0], points[frame["point"], 1]
        frames.append(frame.drop(columns="point").assign(model=name))
    return pd.concat(frames, ignore_index=True)[["model", "role", "group", "node", "x", "y"]]
