"""Forget requests: the training interactions a model must erase.

A :class:`ForgetRequest` names interactions by ``(user, item)`` pair in dense ids.
Three ways to build one, matching the papers' settings:

* :meth:`ForgetRequest.random` - a random fraction of training interactions (UBPR;
  RecEraser's Table 4 samples single interactions the same way);
* :meth:`ForgetRequest.by_users` - all interactions of some users (a GDPR request);
* :func:`attack` - IFRU's dirty-data setting: labels of a random subset are flipped
  in the training data, and the flipped rows are what must be forgotten.

:meth:`ForgetRequest.split` validates a request against the training data (every
requested pair must be there, none twice) and returns the retain and forget parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .interactions import Interactions
from .registry import Registry


class ForgetRequestError(ValueError):
    """A forget request that cannot be honoured as asked (e.g. names pairs not in training)."""


def check_ratio(ratio: float, what: str = "ratio") -> float:
    """``ratio`` as a float, if it lies strictly inside (0, 1)."""
    ratio = float(ratio)
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"{what} must lie in (0, 1), got {ratio}")
    return ratio


def sample_size(ratio: float | None, count: int | None, total: int, what: str) -> int:
    """How many of ``total`` (``what``, for the message) to forget: ``round(ratio * total)`` or ``count``.

    Raises:
        ValueError: both or neither given, a ratio outside (0, 1), or a size outside ``1 .. total``.
    """
    if (ratio is None) == (count is None):
        raise ValueError("give exactly one of ratio and count")
    k = round(check_ratio(ratio, "forget ratio") * total) if ratio is not None else int(count)  # type: ignore[arg-type]
    if not 0 < k <= total:
        raise ValueError(f"cannot forget {k} of {total} {what}")
    return k


@dataclass(frozen=True)
class ForgetRequest:
    """Interactions to erase, as dense ``(user, item)`` pairs.

    Attributes:
        users: int64 [k] dense user ids.
        items: int64 [k] dense item ids.
        kind: how it was built: ``random``, ``users``, ``attack`` or ``custom``.
    """

    users: np.ndarray
    items: np.ndarray
    kind: str = "custom"

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", np.asarray(self.users, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "items", np.asarray(self.items, dtype=np.int64).reshape(-1))
        if self.users.shape != self.items.shape:
            raise ForgetRequestError(f"users and items differ in length: {len(self.users)} vs {len(self.items)}")

    def __len__(self) -> int:
        return len(self.users)

    @classmethod
    def empty(cls) -> "ForgetRequest":
        """The request that asks for nothing (every method must then leave its model unchanged)."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), "empty")

    @classmethod
    def random(cls, train: Interactions, ratio: float | None = None, seed: int = 0,
               count: int | None = None) -> "ForgetRequest":
        """A uniform random sample of training rows: a ``ratio`` in (0, 1) of them, or exactly ``count``."""
        k = sample_size(ratio, count, len(train), "training interactions")
        rows = np.sort(np.random.default_rng(seed).choice(len(train), size=k, replace=False))
        return cls(train.users[rows], train.items[rows], "random")

    @classmethod
    def by_users(cls, train: Interactions, users: np.ndarray | list[int]) -> "ForgetRequest":
        """Every training interaction of the given users (the right to erasure, whole history)."""
        users = np.unique(np.asarray(users, dtype=np.int64))
        rows = np.isin(train.users, users)
        missing = np.setdiff1d(users, train.users[rows])
        if len(missing):
            raise ForgetRequestError(f"user(s) {missing[:5].tolist()} have no training interactions to forget")
        return cls(train.users[rows], train.items[rows], "users")

    @classmethod
    def random_users(cls, train: Interactions, ratio: float | None = None, seed: int = 0,
                     count: int | None = None) -> "ForgetRequest":
        """Every interaction of a uniform random sample of the users with training data: a ``ratio`` in
        (0, 1) of them, or exactly ``count`` users (:meth:`by_users`)."""
        present = np.unique(train.users)
        k = sample_size(ratio, count, len(present), "users with training data")
        return cls.by_users(train, np.random.default_rng(seed).choice(present, size=k, replace=False))

    def rows(self, train: Interactions) -> np.ndarray:
        """Sorted row indices of the requested pairs in ``train``.

        Raises:
            ForgetRequestError: a pair is not in ``train``, or is requested twice.
        """
        if len(self) == 0:
            return np.zeros(0, np.int64)
        keys = train.pair_keys(self.users, self.items)
        if len(np.unique(keys)) != len(keys):
            raise ForgetRequestError("the forget request names some interactions more than once")
        present = train.contains(self.users, self.items)
        if not present.all():
            bad = np.flatnonzero(~present)
            examples = ", ".join(f"(user {self.users[j]}, item {self.items[j]})" for j in bad[:3])
            raise ForgetRequestError(f"{len(bad)} of {len(self)} requested interactions are not in the "
                                     f"training data, e.g. {examples}")
        return np.flatnonzero(np.isin(train.keys, keys))

    def split(self, train: Interactions) -> tuple[Interactions, Interactions]:
        """``(retain, forget)``: the training rows kept (D without D_f) and the rows erased (D_f)."""
        rows = self.rows(train)
        return train.drop(rows), train.subset(rows)

    def touched(self) -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)``: the distinct users and items that occur in the request (IFRU's V(D_f))."""
        return np.unique(self.users), np.unique(self.items)


def attack(train: Interactions, ratio: float | None = None, seed: int = 0,
           count: int | None = None) -> tuple[Interactions, ForgetRequest]:
    """IFRU's dirty-data setting: flip the labels of a random ``ratio`` (or ``count``) of labelled training rows:
    the first rows of one seeded permutation, so the flipped set is that of :func:`attack_series` at the same
    ratio and seed.

    Returns:
        ``(poisoned_train, request)``: the training data with those labels flipped
        (``y -> 1 - y``; what the original model is trained on) and the request that
        names exactly the flipped rows. Retraining on ``request.split(poisoned)[0]``
        is IFRU's Retrain (train_normal only).
    """
    return _flip(train, _attack_order(train, seed)[:sample_size(ratio, count, len(train), "training interactions")])


def attack_series(train: Interactions, ratios: Sequence[float], seed: int = 0) -> list[tuple[Interactions, ForgetRequest]]:
    """:func:`attack` at several ratios with *nested* flipped sets (as IFRU's data script cuts them): one
    seeded permutation of the rows, the first ``round(ratio * len(train))`` flipped, so the set of a smaller
    ratio lies inside that of every larger one.

    Returns:
        ``(poisoned_train, request)`` per ratio, in the order of ``ratios``.
    """
    order = _attack_order(train, seed)
    return [_flip(train, order[:sample_size(ratio, None, len(train), "training interactions")]) for ratio in ratios]


#: the attack's own random stream of a seed: SISA's random partition permutes the same rows with
#: ``default_rng(seed)``, and an attack cut from that permutation would fall into its first shard
ATTACK_STREAM = 0xA77AC


def _attack_order(train: Interactions, seed: int) -> np.ndarray:
    """int [n]: the seeded permutation of ``train``'s rows whose first rows an attack flips."""
    if train.labels is None:
        raise ValueError("the attack flips labels: use labelled training data (the labelled protocol)")
    return np.random.default_rng([ATTACK_STREAM, seed]).permutation(len(train))


def _flip(train: Interactions, rows: np.ndarray) -> tuple[Interactions, ForgetRequest]:
    """``train`` with the labels of ``rows`` flipped, and the attack request naming those rows (in row order)."""
    rows = np.sort(rows)
    flipped = train.labels.copy()
    flipped[rows] = 1.0 - flipped[rows]
    return train.with_labels(flipped), ForgetRequest(train.users[rows], train.items[rows], "attack")


def _random_request(train: Interactions, ratio: float | None, count: int | None,
                    seed: int) -> tuple[Interactions, ForgetRequest]:
    return train, ForgetRequest.random(train, ratio, seed, count)


def _users_request(train: Interactions, ratio: float | None, count: int | None,
                   seed: int) -> tuple[Interactions, ForgetRequest]:
    return train, ForgetRequest.random_users(train, ratio, seed, count)


def _attack_request(train: Interactions, ratio: float | None, count: int | None,
                    seed: int) -> tuple[Interactions, ForgetRequest]:
    return attack(train, ratio, seed, count)


REQUESTS: Registry[Callable[[Interactions, "float | None", "int | None", int],
                            tuple[Interactions, ForgetRequest]]] = Registry("forget request")
"""How a request is made from training data: ``(train, ratio, count, seed) -> (train to fit on, request)``."""
REQUESTS.add("random", _random_request, "a uniform random sample of the training interactions")
REQUESTS.add("users", _users_request, "every interaction of a random sample of users (ratio and count count users)")
REQUESTS.add("attack", _attack_request, "IFRU's setting: a random sample has its labels flipped before training, "
                                        "and is then forgotten (labelled protocol)")
