"""Partitions of the training data into shards: random (SISA) and RecEraser's balanced ones.

================  ===========  ==============================================================
method            unit         distance to anchor ``a_k`` (squared Euclidean)
================  ===========  ==============================================================
``random``        interaction  none: shuffled and cut into ``K`` near-equal parts (SISA)
``ubp``           user         ``||p_u - a_k||^2`` (RecEraser Eq. 1, squared)
``ibp``           item         ``||q_i - a_k||^2`` (mirror of UBP on items)
``inbp``          interaction  ``||p_u - a^p_k||^2 * ||q_i - a^q_k||^2`` (Eq. 3, squared: same order)
================  ===========  ==============================================================

The balanced partitions (RecEraser Algorithms 1-2) pick ``K`` distinct random units as
anchors, then repeat: assign units greedily in ascending distance over all ``(unit, anchor)``
pairs, a unit going to an anchor only while that shard holds fewer than ``t`` units; move each
anchor to the *vector* mean of its members (Eq. 2, 4). They stop when the assignment no longer
changes (so the anchors no longer move) or after ``rounds`` rounds.

``t = ceil(max_size_factor * units / K)`` units (1.2 by default, as the official code, which
compares with a strict ``<`` and so also admits ``ceil(1.2 N / K)``). UBP and IBP balance
*users* or *items*, not interactions: a UBP shard may hold many more interactions than another.

The greedy walk over all ``N * K`` sorted pairs is computed without a Python loop over pairs:
in each *phase* every unassigned unit proposes to its nearest open anchor; proposals are
accepted in global (distance, unit) order up to the moment the first shard fills; that shard
closes and the next phase starts. This gives exactly the assignment of the sorted greedy
walk (ties broken by unit index, then anchor index) in at most ``K`` phases of
``O(N K + N log N)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..interactions import Interactions, keep_mask
from ..registry import Registry


@dataclass(frozen=True)
class Partition:
    """An assignment of every training row to one of ``num_shards`` shards.

    Attributes:
        method: ``random``, ``ubp``, ``ibp`` or ``inbp``.
        assignment: int64 [n_train]: the shard of each training row (row order of ``train``).
        num_shards: ``K``.
        unit: what is balanced: ``interaction``, ``user`` or ``item``.
        max_size: ``t``, the most units a shard may hold.
        unit_sizes: int64 [K], units per shard (what ``max_size`` bounds).
        rounds: assignment rounds run (0 for random).
        converged: the assignment stopped changing before ``rounds`` ran out.
        shifts: per round, the mean squared anchor move (empty for random).
        seed: the seed of the shuffle or of the anchor draw.
    """

    method: str
    assignment: np.ndarray
    num_shards: int
    unit: str
    max_size: int
    unit_sizes: np.ndarray
    rounds: int = 0
    converged: bool = True
    shifts: list[float] = field(default_factory=list)
    seed: int = 0

    def rows(self, shard: int) -> np.ndarray:
        """Sorted training row indices of ``shard``."""
        return np.flatnonzero(self.assignment == shard)

    def shards(self, train: Interactions) -> list[Interactions]:
        """The ``K`` shards as interactions over the full id space."""
        return [train.subset(self.rows(k)) for k in range(self.num_shards)]

    def remove(self, train: Interactions, rows: np.ndarray) -> "Partition":
        """The partition of ``train`` (the data it covers) without rows ``rows``; other rows keep their shard.

        ``unit_sizes`` is recounted: a user (UBP) or item (IBP) whose last row in a shard goes
        leaves that shard.
        """
        if len(train) != len(self.assignment):
            raise ValueError(f"the partition covers {len(self.assignment)} rows, the training data has {len(train)}")
        keep = keep_mask(len(self.assignment), rows)
        assignment = self.assignment[keep]
        return replace(self, assignment=assignment, unit_sizes=count_units(train.subset(keep), assignment,
                                                                            self.unit, self.num_shards))

    def sizes(self, train: Interactions) -> pd.DataFrame:
        """One row per shard: interactions, distinct users, distinct items (and the balanced units)."""
        rows = []
        for k, shard in enumerate(self.shards(train)):
            rows.append({"shard": k, "interactions": len(shard), "users": int((shard.user_counts() > 0).sum()),
                         "items": int((shard.item_counts() > 0).sum()), "units": int(self.unit_sizes[k])})
        return pd.DataFrame(rows)


def count_units(train: Interactions, assignment: np.ndarray, unit: str, num_shards: int) -> np.ndarray:
    """int64 [K]: the units per shard: rows (``interaction``), distinct users (``user``) or items (``item``)."""
    if unit == "interaction":
        return np.bincount(assignment, minlength=num_shards)
    ids, space = (train.users, train.num_users) if unit == "user" else (train.items, train.num_items)
    return np.bincount(np.unique(assignment * space + ids) // space, minlength=num_shards)


def max_shard_size(num_units: int, num_shards: int, factor: float = 1.2) -> int:
    """``t = ceil(factor * num_units / num_shards)`` (at least the equal share ``ceil(N / K)``)."""
    if factor < 1.0:
        raise ValueError(f"max_size_factor must be at least 1 (else the units do not fit), got {factor}")
    return max(math.ceil(factor * num_units / num_shards - 1e-9), math.ceil(num_units / num_shards))


def balanced_assign(dist: np.ndarray, capacity: int) -> np.ndarray:
    """Greedy balanced assignment: walk all pairs by ascending ``dist``, fill shards up to ``capacity``.

    Args:
        dist: float [N, K] distances of units to anchors.
        capacity: most units per shard (``capacity * K >= N``).

    Returns:
        int64 [N] shard of each unit, equal to the sequential walk over pairs sorted by
        (distance, unit, anchor), computed in at most ``K`` vectorised phases.
    """
    n, k = dist.shape
    if capacity * k < n:
        raise ValueError(f"{n} units do not fit in {k} shards of {capacity}")
    assign = np.full(n, -1, dtype=np.int64)
    counts = np.zeros(k, dtype=np.int64)
    open_ = np.ones(k, dtype=bool)
    todo = np.arange(n)
    while len(todo):
        masked = np.where(open_[None, :], dist[todo], np.inf)
        best = masked.argmin(axis=1)                               # lowest anchor among ties
        d = masked[np.arange(len(todo)), best]
        order = np.lexsort((todo, d))                              # by distance, then unit
        best_sorted = best[order]
        # rank of each proposal within its anchor's queue, in global order
        rank = np.empty(len(order), dtype=np.int64)
        sort_by_anchor = np.argsort(best_sorted, kind="stable")
        group_start = np.searchsorted(best_sorted[sort_by_anchor], best_sorted[sort_by_anchor])
        rank[sort_by_anchor] = np.arange(len(order)) - group_start
        free = capacity - counts[best_sorted]
        full_at = np.flatnonzero(rank == free - 1)                 # positions where a shard fills
        stop = full_at.min() if len(full_at) else len(order) - 1   # the first shard to fill closes here
        accept = order[: stop + 1]
        assign[todo[accept]] = best[accept]
        counts += np.bincount(best[accept], minlength=k)
        open_ &= counts < capacity
        todo = todo[order[stop + 1:]]
        todo.sort()
    return assign


def _group_mean(members: sp.csr_matrix, emb: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Anchors as vector means (Eq. 2/4): ``members`` [K, n] weights, ``emb`` [n, d]; empty shards keep ``old``."""
    counts = np.asarray(members.sum(axis=1)).ravel()
    sums = np.asarray(members @ emb)
    out = old.copy()
    nonempty = counts > 0
    out[nonempty] = sums[nonempty] / counts[nonempty, None]
    return out


def _sq_dist(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """float [n, K] squared Euclidean distances (clipped at 0)."""
    d = (x * x).sum(1)[:, None] - 2.0 * x @ anchors.T + (anchors * anchors).sum(1)[None, :]
    return np.maximum(d, 0.0)


def random_partition(train: Interactions, num_shards: int, seed: int = 0) -> Partition:
    """SISA: shuffle the rows (seeded) and cut them into ``K`` near-equal parts."""
    n = len(train)
    order = np.random.default_rng(seed).permutation(n)
    assignment = np.empty(n, dtype=np.int64)
    for k, part in enumerate(np.array_split(order, num_shards)):
        assignment[part] = k
    sizes = np.bincount(assignment, minlength=num_shards)
    return Partition("random", assignment, num_shards, "interaction", max_shard_size(n, num_shards, 1.0), sizes,
                     seed=seed)


def balanced_partition(train: Interactions, method: str, user_emb: np.ndarray, item_emb: np.ndarray,
                       num_shards: int = 10, max_size_factor: float = 1.2, rounds: int = 50,
                       seed: int = 0) -> Partition:
    """RecEraser's UBP, IBP or InBP on pre-trained embeddings (Algorithms 1-2, Eq. 1-4).

    Args:
        train: the training interactions to partition.
        method: ``ubp``, ``ibp`` or ``inbp``.
        user_emb, item_emb: float [num_users, d], [num_items, d] pre-trained embeddings (WMF by default).
        num_shards: ``K``.
        max_size_factor: ``t = ceil(factor * units / K)``.
        rounds: at most this many assignment rounds (the official code always runs 50).
        seed: draws the ``K`` distinct anchor units.

    Cost per round: UBP/IBP ``O(N K d)``; InBP ``O((U + I) K d + n K)`` (distances of users and
    items to the anchor halves are computed once and multiplied per interaction).
    """
    if method not in ("ubp", "ibp", "inbp"):
        raise ValueError(f"unknown balanced partition {method!r}; choose ubp, ibp or inbp")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    user_emb = np.asarray(user_emb, dtype=np.float64)
    item_emb = np.asarray(item_emb, dtype=np.float64)
    if user_emb.shape[0] != train.num_users or item_emb.shape[0] != train.num_items:
        raise ValueError("embeddings must have one row per user and per item of the id space")
    rng = np.random.default_rng(seed)
    if method == "inbp":
        units_u, units_i = train.users, train.items
        n = len(train)
    else:
        ids = train.users if method == "ubp" else train.items
        units = np.unique(ids)                                   # users (items) with training rows
        emb = (user_emb if method == "ubp" else item_emb)[units]
        n = len(units)
    if n < num_shards:
        raise ValueError(f"cannot make {num_shards} shards from {n} {PARTITIONS[method].unit}s")
    capacity = max_shard_size(n, num_shards, max_size_factor)
    first = rng.choice(n, size=num_shards, replace=False)
    if method == "inbp":
        anchors_p, anchors_q = user_emb[units_u[first]], item_emb[units_i[first]]
    else:
        anchors = emb[first]

    assign = np.full(n, -1, dtype=np.int64)
    shifts: list[float] = []
    converged = False
    done = 0
    for done in range(1, rounds + 1):
        if method == "inbp":
            du, di = _sq_dist(user_emb, anchors_p), _sq_dist(item_emb, anchors_q)
            new = balanced_assign(du[units_u] * di[units_i], capacity)
            user_members = sp.csr_matrix((np.ones(n), (new, units_u)), shape=(num_shards, train.num_users))
            item_members = sp.csr_matrix((np.ones(n), (new, units_i)), shape=(num_shards, train.num_items))
            new_p = _group_mean(user_members, user_emb, anchors_p)
            new_q = _group_mean(item_members, item_emb, anchors_q)
            shifts.append(float(((new_p - anchors_p) ** 2).sum(1).mean() + ((new_q - anchors_q) ** 2).sum(1).mean()))
            anchors_p, anchors_q = new_p, new_q
        else:
            new = balanced_assign(_sq_dist(emb, anchors), capacity)
            members = sp.csr_matrix((np.ones(n), (new, np.arange(n))), shape=(num_shards, n))
            new_a = _group_mean(members, emb, anchors)
            shifts.append(float(((new_a - anchors) ** 2).sum(1).mean()))
            anchors = new_a
        if np.array_equal(new, assign):
            converged = True
            break
        assign = new
    unit_sizes = np.bincount(assign, minlength=num_shards)
    if method == "inbp":
        row_shard = assign
    else:
        lookup = np.full(train.num_users if method == "ubp" else train.num_items, -1, dtype=np.int64)
        lookup[units] = assign
        row_shard = lookup[train.users if method == "ubp" else train.items]
    return Partition(method, row_shard, num_shards, PARTITIONS[method].unit, capacity, unit_sizes, done, converged,
                     shifts, seed)


PartitionBuilder = Callable[[Interactions, str, int, "np.ndarray | None", "np.ndarray | None", float, int, int],
                            Partition]


@dataclass(frozen=True)
class PartitionSpec:
    """A registered partition: the unit it balances and its builder
    ``(train, method, num_shards, user_emb, item_emb, max_size_factor, rounds, seed) -> Partition``."""

    unit: str
    build: PartitionBuilder


def _random(train: Interactions, method: str, num_shards: int, user_emb: np.ndarray | None,
            item_emb: np.ndarray | None, max_size_factor: float, rounds: int, seed: int) -> Partition:
    return random_partition(train, num_shards, seed)


def _balanced(train: Interactions, method: str, num_shards: int, user_emb: np.ndarray | None,
              item_emb: np.ndarray | None, max_size_factor: float, rounds: int, seed: int) -> Partition:
    if user_emb is None or item_emb is None:
        raise ValueError(f"the {method} partition needs pre-trained user and item embeddings")
    return balanced_partition(train, method, user_emb, item_emb, num_shards, max_size_factor, rounds, seed)


PARTITIONS: Registry[PartitionSpec] = Registry("partition")
PARTITIONS.add("random", PartitionSpec("interaction", _random), "interactions shuffled and cut into K parts (SISA)")
PARTITIONS.add("ubp", PartitionSpec("user", _balanced), "user-based balanced partition (RecEraser)")
PARTITIONS.add("ibp", PartitionSpec("item", _balanced), "item-based balanced partition (RecEraser)")
PARTITIONS.add("inbp", PartitionSpec("interaction", _balanced), "interaction-based balanced partition (RecEraser)")


def make_partition(train: Interactions, method: str = "inbp", num_shards: int = 10,
                   user_emb: np.ndarray | None = None, item_emb: np.ndarray | None = None,
                   max_size_factor: float = 1.2, rounds: int = 50, seed: int = 0) -> Partition:
    """A partition of :data:`PARTITIONS` by name (``random`` needs no embeddings; ``ubp``, ``ibp``, ``inbp`` do)."""
    spec = PARTITIONS[method]
    if num_shards < 1:
        raise ValueError(f"num_shards must be positive, got {num_shards}")
    if len(train) < num_shards:
        raise ValueError(f"cannot cut {len(train)} interactions into {num_shards} shards")
    return spec.build(train, method, num_shards, user_emb, item_emb, max_size_factor, rounds, seed)


def history_concentration(train: Interactions, partition: Partition) -> pd.DataFrame:
    """How much of each user's and item's history stays together.

    Returns one row per user and per item with training rows: ``kind`` (``user``/``item``),
    ``id``, ``count`` (its interactions), ``top_share`` (fraction in its largest shard; 1 when
    the whole history is in one shard) and ``shards`` (how many shards hold some of it).
    """
    frames = []
    for kind, ids, size in (("user", train.users, train.num_users), ("item", train.items, train.num_items)):
        counts = sp.csr_matrix((np.ones(len(train)), (ids, partition.assignment)),
                               shape=(size, partition.num_shards)).toarray()
        total = counts.sum(1)
        present = total > 0
        frames.append(pd.DataFrame({"kind": kind, "id": np.flatnonzero(present), "count": total[present].astype(int),
                                    "top_share": counts.max(1)[present] / total[present],
                                    "shards": (counts > 0).sum(1)[present]}))
    return pd.concat(frames, ignore_index=True)
