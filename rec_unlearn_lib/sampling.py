"""Seeded, vectorised negative sampling on the training device, re-materialisable exactly.

Influence-function unlearning needs the *same* training triplets at unlearning time
as at training time, so every sampler here is a pure function of ``(data, seed, epoch,
device)`` (the user-uniform sampler also of the batch size): calling it again with the same
arguments gives the same tensors, bit for bit.
Sampling runs in bulk with torch on the device that trains (rejection rounds over whole
tensors, a sorted key array searched with :func:`torch.searchsorted`), so a GPU epoch
never waits for the host. CPU and GPU generators differ: the same seed gives the same
draws on the same kind of device, not across kinds.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .interactions import Interactions

MAX_REJECTION_ROUNDS = 100


def epoch_generator(seed: int, epoch: int = 0, device: torch.device | str = "cpu") -> torch.Generator:
    """The generator of one epoch on ``device``: a pure function of ``(seed, epoch)``.

    ``(seed, epoch)`` is mixed by :class:`numpy.random.SeedSequence`, so neighbouring seeds and
    epochs give unrelated streams.
    """
    state = int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0]) & (2 ** 63 - 1)
    return torch.Generator(device=torch.device(device)).manual_seed(state)


def sorted_keys(positives: Interactions, device: torch.device | str = "cpu") -> torch.Tensor:
    """int64 [n]: the pair keys of ``positives`` sorted, on ``device`` (see :func:`contains_keys`)."""
    return torch.sort(torch.as_tensor(positives.keys, device=device)).values


def contains_keys(keys: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """bool [m]: whether each pair key of ``query`` [m] is in the sorted ``keys`` [n]."""
    if len(keys) == 0:
        return torch.zeros_like(query, dtype=torch.bool)
    pos = torch.searchsorted(keys, query).clamp_(max=len(keys) - 1)
    return keys[pos] == query


def uniform_negatives(positives: Interactions, users: torch.Tensor, generator: torch.Generator,
                      candidates: np.ndarray | None = None) -> torch.Tensor:
    """One item per entry of ``users``, uniform over the candidate items that user has no interaction with.

    Args:
        positives: the interactions that must not be drawn (a user's positives).
        users: int64 [m] users to draw for (repeats allowed), on the generator's device.
        generator: the generator (see :func:`epoch_generator`).
        candidates: int64 [c] distinct items to draw from (``None``: every item; the same draws as before
            this argument existed).

    Draws are rejected and drawn again while they hit a positive; the few still pending after
    :data:`MAX_REJECTION_ROUNDS` rounds (users who hold nearly every candidate, as in a small shard) are
    drawn exactly from the user's remaining candidates (:func:`_complement_draws`).

    Returns:
        int64 [m] negative items, on the device of ``users``.

    Raises:
        ValueError: a drawn user has interacted with every candidate item, or ``candidates`` are not
            distinct item ids.
    """
    device = users.device
    num_items = positives.num_items
    if candidates is None:
        counts, pool = positives.user_counts(), num_items
    else:
        candidates = np.asarray(candidates, dtype=np.int64)
        if (len(candidates) == 0 or candidates.min() < 0 or candidates.max() >= num_items
                or len(np.unique(candidates)) != len(candidates)):
            raise ValueError(f"candidates must be distinct item ids in [0, {num_items}), at least one")
        in_pool = np.isin(positives.items, candidates)
        counts, pool = np.bincount(positives.users[in_pool], minlength=positives.num_users), len(candidates)
    full = np.flatnonzero(counts >= pool)                 # (a repeated row counts twice)
    if len(full):
        stuck = users[torch.isin(users, torch.as_tensor(full, device=device))]
        if len(stuck):
            raise ValueError(f"user {int(stuck[0])} has interacted with every item negatives are drawn from: no "
                             "negative to sample")
    lookup = None if candidates is None else torch.as_tensor(candidates, dtype=torch.int64, device=device)

    def draw(shape: torch.Size) -> torch.Tensor:
        index = torch.randint(0, pool, shape, generator=generator, device=device)
        return index if lookup is None else lookup[index]

    keys = sorted_keys(positives, device)
    items = draw(users.shape)
    todo = torch.nonzero(contains_keys(keys, users * num_items + items)).squeeze(1)
    for _ in range(MAX_REJECTION_ROUNDS):
        if len(todo) == 0:
            return items
        items[todo] = draw(todo.shape)
        todo = todo[contains_keys(keys, users[todo] * num_items + items[todo])]
    items[todo] = _complement_draws(positives, users[todo], candidates, generator)
    return items


def _complement_draws(positives: Interactions, users: torch.Tensor, candidates: np.ndarray | None,
                      generator: torch.Generator) -> torch.Tensor:
    """int64 [m]: one item per entry of ``users``, uniform over the candidates (``None``: all items) that user has
    no positive with, drawn exactly: for the few draws that rejection leaves pending."""
    picks = torch.rand(users.shape, generator=generator, device=users.device, dtype=torch.float64).cpu().numpy()
    pool = np.arange(positives.num_items) if candidates is None else candidates
    wanted = users.cpu().numpy()
    out = np.empty(len(wanted), dtype=np.int64)
    for user in np.unique(wanted):
        free = _free_items(positives, user, pool)
        at = wanted == user
        out[at] = free[np.minimum((picks[at] * len(free)).astype(np.int64), len(free) - 1)]
    return torch.as_tensor(out, device=users.device)


def _free_items(positives: Interactions, user: int, pool: np.ndarray) -> np.ndarray:
    """int64 [f]: the items of ``pool`` (ascending) that ``user`` has no positive with in ``positives``."""
    return np.setdiff1d(pool, positives.items[positives.users == user])


def own_items(train: Interactions) -> np.ndarray:
    """int64 [c]: the items with at least one positive in ``train``, ascending (for a shard's sub-model, the
    shard's items)."""
    return np.flatnonzero(train.positives().item_counts())


def bpr_triplets(train: Interactions, seed: int, epoch: int = 0, device: torch.device | str = "cpu",
                 num_negatives: int = 1, candidates: np.ndarray | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``num_negatives`` fresh ``(user, positive, negative)`` triplets per positive training row, shuffled.

    Interaction-uniform (every positive ``num_negatives`` times per epoch), the sampler of
    LightGCN's PyTorch code with one negative; RecEraser's official code draws users uniformly instead
    (:func:`user_uniform_triplets`). ``candidates``: the items negatives are drawn from (``None``: all).

    Returns:
        ``(users, pos_items, neg_items)``, each int64 [n_pos * num_negatives] on ``device``.
    """
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1, got {num_negatives}")
    pos = train.positives()
    generator = epoch_generator(seed, epoch, device)
    order = torch.randperm(len(pos) * num_negatives, generator=generator, device=device)
    users, items = (t.repeat_interleave(num_negatives)[order] for t in pos.tensors(device))
    return users, items, uniform_negatives(pos, users, generator, candidates)


def user_uniform_triplets(train: Interactions, batch_size: int, seed: int, epoch: int = 0,
                          device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One epoch of RecEraser's official BPR sampler (``load_data.py``: ``sample``, and ``local_sample`` for a
    shard's sub-model), drawn on ``device``.

    An epoch is ``n_pos // batch_size + 1`` batches. Each batch draws ``batch_size`` distinct users uniformly
    from the users with a positive in ``train`` (with replacement where there are fewer users than that);
    each drawn user gets one of their positives, uniformly, and one negative, uniform over the items of
    ``train`` (:func:`own_items`) they have no positive with. So every user, light or heavy, is trained
    about equally often, and a shard's sub-model draws negatives only among its shard's items.

    Two differences from the official code. A shard's negatives exclude the user's positives in the shard;
    the official code excludes those in *all* the training data, so one shard's data would steer another
    shard's sampler and a deletion from one shard would change the others (unlearning would no longer be
    exact). And with all the training data (Retrain, the aggregator) negatives come from the items with
    training data, where the official ``sample`` draws from every item id, including the few items seen only
    in validation or test.

    Returns:
        ``(users, pos_items, neg_items)``, each int64 [(n_pos // batch_size + 1) * batch_size] on ``device``,
        batch after batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    pos = train.positives()
    if len(pos) == 0:
        raise ValueError("no positive training interactions to sample from")
    generator = epoch_generator(seed, epoch, device)
    order = np.argsort(pos.users, kind="stable")
    counts = pos.user_counts()
    active = torch.as_tensor(np.flatnonzero(counts), device=device)
    num_batches = len(pos) // batch_size + 1
    if batch_size <= len(active):
        picks = [torch.randperm(len(active), generator=generator, device=device)[:batch_size]
                 for _ in range(num_batches)]
        users = active[torch.cat(picks)]
    else:
        users = active[torch.randint(0, len(active), (num_batches * batch_size,), generator=generator, device=device)]
    starts = torch.as_tensor(np.concatenate([[0], np.cumsum(counts)[:-1]]), device=device)
    sizes = torch.as_tensor(counts, device=device)
    offsets = (torch.rand(users.shape, generator=generator, device=device, dtype=torch.float64)
               * sizes[users]).long().clamp_(max=sizes[users] - 1)
    items = torch.as_tensor(pos.items[order], device=device)[starts[users] + offsets]
    return users, items, uniform_negatives(pos, users, generator, own_items(pos))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """uint64 [n] -> uint64 [n]: SplitMix64's finaliser, a bijective mix (Steele et al., OOPSLA 2014)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fixed_triplets(train: Interactions, num_negatives: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UBPR's data points: ``num_negatives`` triplets ``(u, i, j)`` per positive ``(u, i)``, drawn once.

    Negative ``s`` of the positive ``(u, i)`` is the first candidate ``hash(seed, (u, i), s, r) mod |I|``,
    ``r = 0, 1, ...``, that ``u`` has not interacted with in ``train`` (after :data:`MAX_REJECTION_ROUNDS`
    candidates, as for a user who holds nearly every item, the next hash picks among ``u``'s remaining items
    directly): a counter-based draw, so a triplet depends on its own positive and on ``u``'s positives only. The same arguments give the
    same triplets bit for bit, on every device. Drawn again on ``D \\ D_f`` they are ``D``'s triplets
    without those of ``D_f``, except where a rejected candidate of a kept positive was one of the
    user's forgotten items (about ``|D_f(u)| / |I|`` of user ``u``'s triplets): Retrain then trains on
    nearly the triplets the influence update keeps, and a negative that differs is what a fresh
    draw on the data left would give.

    Returns:
        ``(users, pos_items, neg_items)``, int64 [n_pos * num_negatives] each, grouped by positive
        (the ``num_negatives`` triplets of a positive are consecutive), positives in ``train``'s order.

    Raises:
        ValueError: ``num_negatives < 1``, or a user has interacted with every item.
    """
    if num_negatives < 1:
        raise ValueError(f"num_negatives must be at least 1, got {num_negatives}")
    pos = train.positives()
    num_items = pos.num_items
    full = np.flatnonzero(pos.user_counts() >= num_items)
    if len(full):
        raise ValueError(f"user {int(full[0])} has interacted with every item: no negative to sample")
    users, items = np.repeat(pos.users, num_negatives), np.repeat(pos.items, num_negatives)
    slot = np.tile(np.arange(num_negatives, dtype=np.uint64), len(pos))
    stream = _splitmix64(_splitmix64(np.full(len(users), seed, np.uint64))
                         ^ _splitmix64(pos.keys.astype(np.uint64).repeat(num_negatives) * np.uint64(1024) + slot))
    keys = np.sort(pos.keys)
    neg = np.empty(len(users), np.int64)
    todo = np.arange(len(users))
    for r in range(MAX_REJECTION_ROUNDS):
        candidate = (_splitmix64(stream[todo] + np.uint64(r)) % np.uint64(num_items)).astype(np.int64)
        query = users[todo] * num_items + candidate
        found = np.searchsorted(keys, query).clip(max=len(keys) - 1)
        seen = keys[found] == query
        neg[todo[~seen]] = candidate[~seen]
        todo = todo[seen]
        if len(todo) == 0:
            return users, items, neg
    pick = _splitmix64(stream[todo] + np.uint64(MAX_REJECTION_ROUNDS))
    for user in np.unique(users[todo]):
        at = users[todo] == user
        free = _free_items(pos, user, np.arange(num_items))
        neg[todo[at]] = free[(pick[at] % np.uint64(len(free))).astype(np.int64)]
    return users, items, neg


def pointwise_rows(train: Interactions, num_negatives: int, seed: int, epoch: int = 0,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labelled rows for a point-wise (BCE) loss, in shuffled order.

    With labels (IFRU's protocol) the labelled rows are the data and nothing is sampled.
    Without labels every positive is kept with label 1 and ``num_negatives`` sampled
    negatives per positive get label 0 (NCF's protocol).

    Returns:
        ``(users, items, labels)`` on ``device``: int64 [m], int64 [m], float32 [m].
    """
    generator = epoch_generator(seed, epoch, device)
    users, items = train.tensors(device)
    if train.labels is not None:
        labels = torch.as_tensor(train.labels, dtype=torch.float32, device=device)
    else:
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be at least 1 for implicit data, got {num_negatives}")
        neg_users = users.repeat_interleave(num_negatives)
        labels = torch.cat([torch.ones(len(users), device=device), torch.zeros(len(neg_users), device=device)])
        items = torch.cat([items, uniform_negatives(train, neg_users, generator)])
        users = torch.cat([users, neg_users])
    order = torch.randperm(len(users), generator=generator, device=device)
    return users[order], items[order], labels[order]


def user_batches(users: np.ndarray, batch_size: int, seed: int, epoch: int = 0) -> list[np.ndarray]:
    """The ids ``users`` [n] shuffled and cut into batches of at most ``batch_size`` (whole-data losses: WMF)."""
    order = torch.randperm(len(users), generator=epoch_generator(seed, epoch)).numpy()
    return np.array_split(np.asarray(users)[order], max(1, -(-len(users) // batch_size)))


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
        keys = _unseen_keys(csr, users[start:start + chunk], generator)
        out[start:start + chunk] = torch.topk(keys, num, dim=1, largest=False).indices.numpy()
    return out


def _unseen_keys(csr: sp.csr_matrix, rows: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """float [len(rows), num_items]: i.i.d. uniform keys, ``inf`` at the items each user of ``rows`` has in
    ``csr``; the items in increasing key order are a uniform random order of the user's unseen items."""
    keys = torch.rand(len(rows), csr.shape[1], generator=generator)
    keys[torch.as_tensor(csr[rows].toarray() > 0)] = float("inf")
    return keys


def labelled_zeros(positives: Interactions, per_positive: int, seed: int, chunk_floats: int = 2 ** 24) -> Interactions:
    """Negatives for labelled pairs on implicit data: ``per_positive`` distinct unseen items per positive.

    Each user with ``n`` positives gets ``min(per_positive * n, items left)`` distinct items it never
    interacted with, uniform among those (each row's items ordered by i.i.d. uniform keys, seen items
    last), so no pair occurs twice and none is a positive. A pure function of ``(positives, per_positive,
    seed)`` on the CPU: the same seed gives the same set, a fixed set of labelled zeros (not resampled per
    epoch).

    Args:
        positives: every interaction of the data set, all positives.
        per_positive: negatives per positive (4 where a labelled protocol meets implicit data).
        seed: the seed.
        chunk_floats: users are drawn for in chunks of about this many ``user x item`` keys (bounded memory
            on wide catalogues); the result does not depend on it.

    Returns:
        The negatives, in user order, over the id space of ``positives``.
    """
    if per_positive < 1:
        raise ValueError(f"per_positive must be at least 1, got {per_positive}")
    csr = positives.to_csr()
    seen = np.diff(csr.indptr)
    wanted = np.minimum(per_positive * seen, positives.num_items - seen)
    generator = torch.Generator().manual_seed(seed)
    users, items = [], []
    chunk = max(1, chunk_floats // max(positives.num_items, 1))
    for start in range(0, positives.num_users, chunk):
        rows = np.arange(start, min(start + chunk, positives.num_users))
        order = torch.argsort(_unseen_keys(csr, rows, generator), dim=1).numpy()
        take = np.arange(positives.num_items) < wanted[rows][:, None]
        users.append(np.repeat(rows, wanted[rows]))
        items.append(order[take])
    return Interactions(np.concatenate(users), np.concatenate(items), positives.num_users, positives.num_items)
