r"""Which embedding rows an influence update moves: IFRU's importance-based pruning (Algorithm 1).

Erasing an interaction :math:`(u, i)` affects :math:`u` and :math:`i` directly and their
neighbours through them. IFRU (Zhang et al. 2024, Section 3.2, Algorithm 1) scores every user and
item by how much of its fit the erased data carried, keeps the top share at each hop, and updates
only the embedding rows of the kept nodes (:math:`\phi`, Eq. 17-19); the other rows are the frozen
:math:`\psi`.

With :math:`\mathcal{N}_v` the training interactions of node :math:`v` (a user or an item) in
:math:`\mathcal{D}` (every labelled row counts: each is a loss term that fits the embedding; a pair
that occurs twice counts once):

* hop 0 (lines 3-7): :math:`s^0_v = \sum_{(u,i)\in\mathcal{D}_f,\ v\in\{u,i\}} 1/|\mathcal{N}_v|`; the
  candidates :math:`S^0` are the nodes of :math:`\mathcal{D}_f`, of which the top :math:`a_0` are kept;
* hop :math:`k\ge1` (lines 9-16): :math:`s^k \leftarrow s^{k-1}`, then every kept
  :math:`v\in S^{k-1}` passes :math:`s^{k-1}_v/|\mathcal{N}_{v'}|` to each neighbour :math:`v'`; the
  candidates :math:`S^k` are the neighbours of :math:`S^{k-1}`, of which the top :math:`a_k` by
  :math:`s^k` are kept;
* :math:`\phi` = the rows of :math:`S^0\cup\dots\cup S^K` (line 17).

"Top :math:`a`" keeps :math:`\lceil a\,|S|\rceil` nodes (ties by node index), so ratios of 1.0 keep every
node within :math:`K` hops of the erased interactions: no pruning. One hop is a vectorised sparse
product, :math:`O(|\mathcal{D}|)`.

Where the official code departs (see the IFRU facts file): its degree counts a self-loop (+1), its
1-hop scores do not start from :math:`s^0` (line 10), and for LightGCN it keeps the nodes above the
40 % quantile of :math:`s^1`, which may drop hop-0 nodes; :func:`prune` follows Algorithm 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..interactions import Interactions

__all__ = ["PrunedRows", "prune"]


@dataclass(frozen=True)
class PrunedRows:
    """The kept nodes of :func:`prune`.

    Attributes:
        users: int64 [r_u], sorted dense user ids whose embedding rows move (phi).
        items: int64 [r_i], sorted dense item ids whose embedding rows move.
        scores: float64 [K + 1, U + I], :math:`s^k` per hop (users first, then items).
        kept: per hop, the number of nodes kept (:math:`|S^k|`).
    """

    users: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    kept: tuple[int, ...]


def _adjacency(train: Interactions) -> sp.csr_matrix:
    """float64 [(U+I), (U+I)] 0/1 bipartite adjacency of the (deduplicated) training pairs."""
    r = train.to_csr().astype(np.float64)
    return sp.bmat([[None, r], [r.T, None]], format="csr")


def _top(candidates: np.ndarray, scores: np.ndarray, ratio: float) -> np.ndarray:
    """The ``ceil(ratio * len)`` candidates of highest score (ties: lower index first), sorted."""
    keep = math.ceil(ratio * len(candidates) - 1e-9)
    order = np.lexsort((candidates, -scores[candidates]))
    return np.sort(candidates[order[:keep]])


def prune(train: Interactions, forget: Interactions, ratios: Sequence[float] = (1.0,)) -> PrunedRows:
    """IFRU's Algorithm 1: the user and item rows an update of ``forget`` should move.

    Args:
        train: the training data D (forget rows included); its pairs are the graph.
        forget: the erased rows D_f (rows of ``train``).
        ratios: :math:`(a_0, \\dots, a_K)`, each in (0, 1]; ``K = len(ratios) - 1`` hops.

    Returns:
        :class:`PrunedRows`; with an empty ``forget`` no row moves.
    """
    ratios = tuple(float(a) for a in ratios)
    if not ratios or any(not 0.0 < a <= 1.0 for a in ratios):
        raise ValueError(f"pruning ratios must each lie in (0, 1], got {ratios}")
    num_users, num_items = train.num_users, train.num_items
    adj = _adjacency(train)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv_degree = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    nodes = np.concatenate([forget.users, num_users + forget.items])
    score = np.bincount(nodes, minlength=num_users + num_items).astype(np.float64) * inv_degree   # lines 3-5
    kept = _top(np.unique(nodes), score, ratios[0])                                                 # line 7
    scores, union, sizes = [score], [kept], [len(kept)]
    for ratio in ratios[1:]:
        in_kept = np.zeros(len(score))
        in_kept[kept] = 1.0
        candidates = np.flatnonzero(adj @ in_kept)                                 # neighbours of S^(k-1)
        score = score + (adj @ (score * in_kept)) * inv_degree                     # lines 10-12
        kept = _top(candidates, score, ratio)                                      # line 14
        scores.append(score)
        union.append(kept)
        sizes.append(len(kept))
    phi = np.unique(np.concatenate(union))
    users, items = phi[phi < num_users], phi[phi >= num_users] - num_users
    return PrunedRows(users.astype(np.int64), items.astype(np.int64), np.stack(scores), tuple(sizes))
