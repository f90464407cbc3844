"""The one container for user-item interactions, and fast membership tests on it.

Every split, training set, forget set and retain set in the book is an
:class:`Interactions`: parallel NumPy arrays of dense user and item ids, with
optional ratings, timestamps and binary labels. Ids are *dense*: users are
``0 .. num_users-1`` and items ``0 .. num_items-1`` (see :mod:`rec_unlearn_lib.data`
for the maps back to the raw ids of the files).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
import torch

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)

@dataclass(frozen=True)
class Interactions:
    """A set of user-item interactions over a fixed id space.

    Attributes:
        users: int64 [n], dense user ids.
        items: int64 [n], dense item ids.
        num_users: size of the user id space (not only users present here).
        num_items: size of the item id space.
        ratings: float32 [n] explicit ratings, or ``None`` for implicit data.
        timestamps: int64 [n] seconds, or ``None``.
        labels: float32 [n] binary labels (1 positive, 0 negative) for the
            labelled-pairs protocol (IFRU), or ``None`` when every row is a positive.
    """

    users: np.ndarray
    items: np.ndarray
    num_users: int
    num_items: int
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    labels: np.ndarray | None = None
    _keys: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        users = np.asarray(self.users, dtype=np.int64)
        items = np.asarray(self.items, dtype=np.int64)
        object.__setattr__(self, "users", users)
        object.__setattr__(self, "items", items)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError(f"users and items must be 1-D arrays of one length, got {users.shape} and {items.shape}")
        for name in ("ratings", "timestamps", "labels"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != users.shape:
                raise ValueError(f"{name} has shape {np.shape(value)}, expected {users.shape}")
        if len(users):
            if users.min() < 0 or users.max() >= self.num_users:
                raise ValueError(f"user ids must lie in [0, {self.num_users}), got [{users.min()}, {users.max()}]")
            if items.min() < 0 or items.max() >= self.num_items:
                raise ValueError(f"item ids must lie in [0, {self.num_items}), got [{items.min()}, {items.max()}]")

    def __len__(self) -> int:
        return len(self.users)

    def pair_keys(self, users: ArrayOrTensor, items: ArrayOrTensor) -> ArrayOrTensor:
        """Pair keys ``user * num_items + item`` of pairs in this id space: one number per pair.

        Works on NumPy arrays (int64 [m]) and on torch tensors (same device and shape).
        """
        if isinstance(users, torch.Tensor):
            return users * self.num_items + items
        return np.asarray(users, dtype=np.int64) * self.num_items + np.asarray(items, dtype=np.int64)

    @property
    def keys(self) -> np.ndarray:
        """int64 [n] pair keys of these interactions (see :meth:`pair_keys`)."""
        if self._keys is None:
            object.__setattr__(self, "_keys", self.pair_keys(self.users, self.items))
        return self._keys  # type: ignore[return-value]

    def subset(self, index: np.ndarray) -> "Interactions":
        """The rows selected by a boolean mask or an integer index array, same id space."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[index]
        return Interactions(self.users[index], self.items[index], self.num_users, self.num_items,
                            pick(self.ratings), pick(self.timestamps), pick(self.labels))

    def drop(self, rows: np.ndarray) -> "Interactions":
        """These interactions without rows ``rows`` (integer indices), order kept: ``D \\ D_f``."""
        return self.subset(keep_mask(len(self), rows))

    def concat(self, other: "Interactions") -> "Interactions":
        """These rows followed by ``other``'s (same id space; optional columns kept if both have them)."""
        if (self.num_users, self.num_items) != (other.num_users, other.num_items):
            raise ValueError("cannot concatenate interactions over different id spaces")

        def cat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else np.concatenate([a, b])
        return Interactions(np.concatenate([self.users, other.users]), np.concatenate([self.items, other.items]),
                            self.num_users, self.num_items, cat(self.ratings, other.ratings),
                            cat(self.timestamps, other.timestamps), cat(self.labels, other.labels))

    def with_labels(self, labels: np.ndarray) -> "Interactions":
        """A copy with binary ``labels`` [n] (float32)."""
        return replace(self, labels=np.asarray(labels, dtype=np.float32), _keys=None)

    def positives(self) -> "Interactions":
        """The rows that count as positive feedback: all rows, or those with label 1."""
        return self if self.labels is None else self.subset(self.labels > 0.5)

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """bool [m]: whether each pair ``(users[j], items[j])`` is one of these interactions.

        Vectorised with a sorted key array (``O((n + m) log n)``), no Python loop.
        """
        keys = np.sort(self.keys)
        query = self.pair_keys(users, items)
        if len(keys) == 0:
            return np.zeros(len(query), dtype=bool)
        pos = np.searchsorted(keys, query).clip(max=len(keys) - 1)
        return keys[pos] == query

    def to_csr(self) -> sp.csr_matrix:
        """float32 [num_users, num_items] sparse matrix with a 1 for each (deduplicated) interaction."""
        m = sp.csr_matrix((np.ones(len(self), dtype=np.float32), (self.users, self.items)),
                          shape=(self.num_users, self.num_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def k_core(self, k: int) -> "Interactions":
        """The rows left when every user and every item keeps at least ``k`` of them (IFRU's 5-core filter).

        Dropping a user's rows can take an item below ``k`` and the other way round, so the filter repeats
        until nothing changes. Counts are over all rows (positives and negatives alike, as IFRU's code counts
        raw ratings); the id space is kept, so users and items left without rows simply have none.

        Raises:
            ValueError: ``k`` is negative.
        """
        if k < 0:
            raise ValueError(f"k must be a non-negative number of interactions, got {k}")
        keep = np.ones(len(self), dtype=bool)
        while True:
            users, items = self.users[keep], self.items[keep]
            few_users = np.bincount(users, minlength=self.num_users) < k
            few_items = np.bincount(items, minlength=self.num_items) < k
            drop = few_users[users] | few_items[items]
            if not drop.any():
                return self.subset(keep)
            keep[np.flatnonzero(keep)[drop]] = False

    def user_counts(self) -> np.ndarray:
        """int64 [num_users]: interactions per user."""
        return np.bincount(self.users, minlength=self.num_users)

    def item_counts(self) -> np.ndarray:
        """int64 [num_items]: interactions per item."""
        return np.bincount(self.items, minlength=self.num_items)

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """``(users, items)`` as int64 tensors [n] on ``device``."""
        return (torch.as_tensor(self.users, device=device), torch.as_tensor(self.items, device=device))


def keep_mask(n: int, rows: np.ndarray) -> np.ndarray:
    """bool [n]: ``True`` everywhere but at the integer indices ``rows`` (what removing those rows keeps)."""
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    return keep


def csr_to_torch(matrix: sp.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """A SciPy CSR matrix as a ``torch.sparse_csr_tensor`` (float32) on ``device``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(torch.as_tensor(matrix.indptr, dtype=torch.int64),
                                       torch.as_tensor(matrix.indices, dtype=torch.int64),
                                       torch.as_tensor(matrix.data, dtype=torch.float32),
                                       size=matrix.shape, device=device, check_invariants=True)
