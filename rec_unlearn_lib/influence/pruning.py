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

:func:`prune` follows Algorithm 1. :func:`prune_official` selects as IFRU's official code does
(``compute_neighbor_influence_clip``), where it departs on four points: the degree counts a self-loop
(:math:`|\mathcal{N}_v| + 1`), the hop-:math:`k` score does not start from :math:`s^{k-1}` (line 10: a
node keeps its own score only through its self-loop, :math:`s^{k-1}_v/(|\mathcal{N}_v|+1)`), a hop keeps
the nodes whose score lies strictly above the :math:`1-a_k` quantile of its candidates' scores (every
candidate when :math:`a_k=1`), and :math:`\phi` is the last hop's set alone: the union with the earlier
hops is dropped, so a node of :math:`\mathcal{D}_f` whose 1-hop score falls below the quantile does not
move. Through the self-loops the last hop's candidates include every earlier hop's nodes.
:data:`PRUNINGS` names the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from ..interactions import Interactions

__all__ = ["PRUNINGS", "PrunedRows", "check_pruning", "prune", "prune_official", "pruned_rows"]


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


#: how the rows that move are chosen: ``algorithm-1`` (the paper, :func:`prune`) or ``official`` (IFRU's code,
#: :func:`prune_official`)
PRUNINGS: tuple[str, ...] = ("algorithm-1", "official")


def check_pruning(name: str) -> str:
    """``name`` if it is one of :data:`PRUNINGS`, else a ``ValueError`` that lists them."""
    if name not in PRUNINGS:
        raise ValueError(f"unknown pruning {name!r}: choose one of {', '.join(PRUNINGS)}")
    return name


def _check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    ratios = tuple(float(a) for a in ratios)
    if not ratios or any(not 0.0 < a <= 1.0 for a in ratios):
        raise ValueError(f"pruning ratios must each lie in (0, 1], got {ratios}")
    return ratios


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
    ratios = _check_ratios(ratios)
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
    return _rows(np.unique(np.concatenate(union)), num_users, scores, sizes)


def _rows(phi: np.ndarray, num_users: int, scores: list[np.ndarray], sizes: list[int]) -> PrunedRows:
    users, items = phi[phi < num_users], phi[phi >= num_users] - num_users
    return PrunedRows(users.astype(np.int64), items.astype(np.int64), np.stack(scores), tuple(sizes))


def _above_quantile(candidates: np.ndarray, scores: np.ndarray, ratio: float) -> np.ndarray:
    """The official selection: every candidate if ``ratio`` is 1, else those whose score lies strictly above the
    ``1 - ratio`` quantile of the candidates' scores (``np.quantile``, linear interpolation)."""
    if ratio == 1.0 or len(candidates) == 0:
        return candidates
    return candidates[scores[candidates] > np.quantile(scores[candidates], 1.0 - ratio)]


def prune_official(train: Interactions, forget: Interactions, ratios: Sequence[float] = (1.0,)) -> PrunedRows:
    r"""The rows IFRU's official code moves (``compute_neighbor_influence_clip``; see the module docstring).

    With :math:`\tilde A = A + I` (the training pairs and a self-loop per node) and
    :math:`\deg_v = |\mathcal{N}_v| + 1`: :math:`s^0_v` = (rows of ``forget`` at :math:`v`) / :math:`\deg_v`
    on the nodes of ``forget``; :math:`s^k = \tilde A (s^{k-1} \odot 1_{S^{k-1}}) / \deg` on the neighbours
    of :math:`S^{k-1}` (itself included); :math:`S^k` keeps the candidates above the :math:`1-a_k` quantile
    (all of them when :math:`a_k = 1`); :math:`\phi = S^K`. A pair that occurs twice counts twice, in the
    degrees and in the scores it passes on, as in the code's summed sparse matrix. The official scripts run
    ``(1.0,)`` and ``(1.0, 1.0)`` for MF, ``(1.0, 0.6)`` for LightGCN, and SCIF's ``(0.6,)`` on LightGCN; other
    ratios extend their rule (the code has no ``a_0 < 1`` before a hop, and with more hops it spreads every
    node's score and selects on hop 1 alone).

    Args, Returns: as :func:`prune`.
    """
    ratios = _check_ratios(ratios)
    num_users, num_items = train.num_users, train.num_items
    rows = sp.csr_matrix((np.ones(len(train)), (train.users, train.items)), shape=(num_users, num_items))  # sums repeats
    loops = sp.bmat([[None, rows], [rows.T, None]], format="csr") + sp.identity(num_users + num_items, format="csr")
    inv_degree = 1.0 / np.asarray(loops.sum(axis=1)).ravel()
    nodes = np.concatenate([forget.users, num_users + forget.items])
    score = np.bincount(nodes, minlength=num_users + num_items).astype(np.float64) * inv_degree
    kept = _above_quantile(np.unique(nodes), score, ratios[0])
    scores, sizes = [score], [len(kept)]
    for ratio in ratios[1:]:
        in_kept = np.zeros(len(score))
        in_kept[kept] = 1.0
        candidates = np.flatnonzero(loops @ in_kept)
        score = (loops @ (score * in_kept)) * inv_degree
        kept = _above_quantile(candidates, score, ratio)
        scores.append(score)
        sizes.append(len(kept))
    return _rows(kept, num_users, scores, sizes)


def pruned_rows(pruning: str, train: Interactions, forget: Interactions, ratios: Sequence[float]) -> PrunedRows:
    """The rows ``pruning`` (a name of :data:`PRUNINGS`) keeps: :func:`prune` or :func:`prune_official`."""
    return {"algorithm-1": prune, "official": prune_official}[check_pruning(pruning)](train, forget, ratios)
