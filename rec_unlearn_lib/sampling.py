"""Seeded, vectorised negative sampling that can be re-materialised exactly.

Influence-function unlearning needs the *same* training triplets at unlearning time
as at training time, so every sampler here is a pure function of ``(data, seed,
epoch)``: calling it again with the same arguments gives the same arrays, bit for bit.
All sampling is done in bulk with NumPy (rejection rounds over whole arrays), never
with a Python loop per interaction.
"""

from __future__ import annotations

import numpy as np
import torch

from .interactions import Interactions

MAX_REJECTION_ROUNDS = 100


def epoch_rng(seed: int, epoch: int = 0) -> np.random.Generator:
    """The generator of one epoch: a pure function of ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch])


def uniform_negatives(positives: Interactions, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One item per entry of ``users``, uniform over the items that user has no interaction with.

    Args:
        positives: the interactions that must not be drawn (a user's positives).
        users: int64 [m] users to draw for (repeats allowed).
        rng: the generator (see :func:`epoch_rng`).

    Returns:
        int64 [m] negative items.

    Raises:
        ValueError: a user has interacted with every item.
    """
    users = np.asarray(users, dtype=np.int64)
    full = positives.user_counts()[users] >= positives.num_items
    if full.any():
        raise ValueError(f"user {int(users[full][0])} has interacted with every item: no negative to sample")
    items = rng.integers(0, positives.num_items, size=len(users))
    todo = np.flatnonzero(positives.contains(users, items))
    for _ in range(MAX_REJECTION_ROUNDS):
        if len(todo) == 0:
            return items
        items[todo] = rng.integers(0, positives.num_items, size=len(todo))
        todo = todo[positives.contains(users[todo], items[todo])]
    raise RuntimeError(f"negative sampling did not finish in {MAX_REJECTION_ROUNDS} rounds "
                       f"({len(todo)} draws left): are some users' histories nearly complete?")


def bpr_triplets(train: Interactions, seed: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``(user, positive, negative)`` triplet per positive training row, in shuffled order.

    Interaction-uniform (every positive once per epoch), the sampler of LightGCN's
    PyTorch code; RecEraser's official code draws users uniformly instead.

    Returns:
        ``(users, pos_items, neg_items)``, each int64 [n_pos].
    """
    pos = train.positives()
    rng = epoch_rng(seed, epoch)
    order = rng.permutation(len(pos))
    users, items = pos.users[order], pos.items[order]
    return users, items, uniform_negatives(pos, users, rng)


def pointwise_rows(train: Interactions, num_negatives: int, seed: int,
                   epoch: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labelled rows for a point-wise (BCE) loss, in shuffled order.

    With labels (IFRU's protocol) the labelled rows are the data and nothing is sampled.
    Without labels every positive is kept with label 1 and ``num_negatives`` sampled
    negatives per positive get label 0 (NCF's protocol).

    Returns:
        ``(users, items, labels)``: int64 [m], int64 [m], float32 [m].
    """
    rng = epoch_rng(seed, epoch)
    if train.labels is not None:
        order = rng.permutation(len(train))
        return train.users[order], train.items[order], train.labels[order]
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1 for implicit data, got {num_negatives}")
    neg_users = np.repeat(train.users, num_negatives)
    users = np.concatenate([train.users, neg_users])
    items = np.concatenate([train.items, uniform_negatives(train, neg_users, rng)])
    labels = np.concatenate([np.ones(len(train), np.float32), np.zeros(len(neg_users), np.float32)])
    order = rng.permutation(len(users))
    return users[order], items[order], labels[order]


def user_batches(num_users: int, batch_size: int, seed: int, epoch: int = 0) -> list[np.ndarray]:
    """A shuffled partition of ``0 .. num_users-1`` into batches (for whole-data losses such as WMF)."""
    order = epoch_rng(seed, epoch).permutation(num_users)
    return np.array_split(order, max(1, -(-num_users // batch_size)))


def negatives_without_replacement(exclude: Interactions, users: np.ndarray, num: int, seed: int,
                                  chunk: int = 1024) -> np.ndarray:
    """``num`` distinct items per user, uniform among the items the user never interacted with.

    The NCF/UBPR sampled protocol ranks each held-out item against 99 such negatives.
    Drawn exactly (not by rejection): each row gets i.i.d. uniform keys, excluded items
    get +inf, and the ``num`` smallest keys are kept, in user chunks of ``chunk`` rows.

    Args:
        exclude: every interaction (train, valid and test) of the data set.
        users: int64 [m] the users to draw for.
        num: negatives per user (99 in the papers).
        seed: the seed; same seed, same negatives.

    Returns:
        int64 [m, num].

    Raises:
        ValueError: a user has fewer than ``num`` items left to draw from.
    """
    users = np.asarray(users, dtype=np.int64)
    room = exclude.num_items - np.bincount(np.unique(exclude.keys) // exclude.num_items,
                                           minlength=exclude.num_users)[users]
    if len(users) and room.min() < num:
        raise ValueError(f"user {int(users[room.argmin()])} has only {int(room.min())} items left "
                         f"to draw {num} negatives from")
    generator = torch.Generator().manual_seed(seed)
    csr = exclude.to_csr()
    out = np.empty((len(users), num), dtype=np.int64)
    for start in range(0, len(users), chunk):
        rows = users[start:start + chunk]
        keys = torch.rand(len(rows), exclude.num_items, generator=generator)
        seen = torch.as_tensor(csr[rows].toarray() > 0)
        keys[seen] = float("inf")
        out[start:start + chunk] = torch.topk(keys, num, dim=1, largest=False).indices.numpy()
    return out
