"""Seeded train/valid/test splits for the book's three evaluation protocols.

=============  ===============================================  =========================
protocol       split                                            metrics
=============  ===============================================  =========================
``ranking``    random hold-out, or the source's own train/test  Recall@N, NDCG@N over all
               (RecEraser); validation carved from training     items, training masked
``sampled``    leave-one-out by time: last item to test, the    HR@K, NDCG@K of the item
               one before to validation, 99 negatives each      against 99 negatives
               (NCF, UBPR)
``labelled``   interactions shuffled 6:2:2, label 1 when the    AUC (and IFRU's AUC0/1/2)
               rating reaches a threshold (IFRU)
=============  ===============================================  =========================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .data import Dataset
from .interactions import Interactions
from .registry import Registry
from .sampling import labelled_zeros, negatives_without_replacement


@dataclass(frozen=True)
class Split:
    """Train, validation and test interactions over one id space, for one protocol.

    Attributes:
        protocol: ``ranking``, ``sampled`` or ``labelled``.
        train, valid, test: the parts (labelled protocol: with ``labels``).
        valid_negatives, test_negatives: sampled protocol only, int64 [len(part), m]
            negatives ranked against each held-out row.
        seed: the seed that made the split.
    """

    protocol: str
    train: Interactions
    valid: Interactions
    test: Interactions
    seed: int
    valid_negatives: np.ndarray | None = None
    test_negatives: np.ndarray | None = None

    @property
    def num_users(self) -> int:
        return self.train.num_users

    @property
    def num_items(self) -> int:
        return self.train.num_items

    def summary(self) -> dict[str, object]:
        return {"protocol": self.protocol, "train": len(self.train), "valid": len(self.valid),
                "test": len(self.test), "users": self.num_users, "items": self.num_items, "seed": self.seed}


def check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    """Validate split ratios: each strictly inside (0, 1) and summing to 1."""
    ratios = tuple(float(r) for r in ratios)
    if any(not 0.0 < r < 1.0 for r in ratios):
        raise ValueError(f"split ratios must each lie in (0, 1), got {ratios}")
    if abs(sum(ratios) - 1.0) > 1e-9:
        raise ValueError(f"split ratios must sum to 1, got {ratios} (sum {sum(ratios)})")
    return ratios


def _cut(n: int, ratios: Sequence[float], rng: np.random.Generator) -> list[np.ndarray]:
    """A random permutation of ``range(n)`` cut into consecutive pieces of the given ratios."""
    order = rng.permutation(n)
    bounds = np.round(np.cumsum(ratios)[:-1] * n).astype(int)
    return np.split(order, bounds)


def random_split(data: Interactions, ratios: Sequence[float] = (0.72, 0.08, 0.2), seed: int = 0) -> Split:
    """Random interaction-level hold-out for the full-ranking protocol.

    The default 72/8/20 is RecEraser's: 80/20 train/test, then 10 % of train for validation.
    Every row is treated as a positive (ratings ignored).
    """
    train, valid, test = (data.subset(idx) for idx in _cut(len(data), check_ratios(ratios), np.random.default_rng(seed)))
    return Split("ranking", train, valid, test, seed)


def predefined_split(train: Interactions, test: Interactions, valid_ratio: float = 0.1, seed: int = 0) -> Split:
    """The source's own train/test files, with a seeded validation part carved out of train.

    RecEraser's official code selects models on the test set; the book selects on this
    validation part instead (the ML-1M release ships no validation file).
    """
    if not 0.0 < valid_ratio < 1.0:
        raise ValueError(f"valid_ratio must lie in (0, 1), got {valid_ratio}")
    keep, valid = _cut(len(train), (1 - valid_ratio, valid_ratio), np.random.default_rng(seed))
    return Split("ranking", train.subset(np.sort(keep)), train.subset(np.sort(valid)), test, seed)


def _last_per_user(data: Interactions, min_count: int, rng: np.random.Generator) -> np.ndarray:
    """Row index of each user's latest interaction (random tie-break), for users with >= ``min_count`` rows."""
    times = data.timestamps if data.timestamps is not None else np.zeros(len(data), np.int64)
    order = np.lexsort((rng.random(len(data)), times, data.users))  # by user, then time, then random
    last_of_user = np.r_[data.users[order][1:] != data.users[order][:-1], True] if len(data) else np.array([], bool)
    rows = order[last_of_user]
    return rows[data.user_counts()[data.users[rows]] >= min_count]


def leave_one_out(data: Interactions, num_negatives: int = 99, seed: int = 0) -> Split:
    """NCF/UBPR protocol: each user's latest interaction to test, the one before to validation.

    Users with fewer than 3 interactions stay wholly in training. Each held-out row is
    ranked against ``num_negatives`` items the user never interacted with (drawn
    without replacement over the user's whole history, seeded).
    """
    rng = np.random.default_rng(seed)
    test_rows = _last_per_user(data, 3, rng)
    rest = np.setdiff1d(np.arange(len(data)), test_rows)
    valid_rows = rest[_last_per_user(data.subset(rest), 2, rng)]
    valid_rows = valid_rows[np.isin(data.users[valid_rows], data.users[test_rows])]
    train_rows = np.setdiff1d(rest, valid_rows)
    valid, test = data.subset(valid_rows), data.subset(test_rows)
    return Split("sampled", data.subset(train_rows), valid, test, seed,
                 valid_negatives=negatives_without_replacement(data, valid.users, num_negatives, seed),
                 test_negatives=negatives_without_replacement(data, test.users, num_negatives, seed + 1))


#: labelled zeros drawn per positive when the labelled protocol meets implicit data (RecEraser's ML-1M in the
#: full profile): IFRU's data sets rate every row, so this is the book's choice, the usual 1:4 of point-wise
#: training
IMPLICIT_NEGATIVES = 4


def labelled_split(data: Interactions, threshold: float, ratios: Sequence[float] = (0.6, 0.2, 0.2),
                   seed: int = 0, implicit_negatives: int = IMPLICIT_NEGATIVES) -> Split:
    """IFRU protocol: binary labels ``rating >= threshold``, rows shuffled and cut 6:2:2.

    On implicit data (no ratings) every interaction is a positive and the negatives are a fixed, seeded set
    of ``implicit_negatives`` unseen items per positive (:func:`~rec_unlearn_lib.sampling.labelled_zeros`),
    drawn once before the cut. Validation and test rows whose user or item never occurs in training are
    dropped (as IFRU's preprocessing does), so every scored pair has trained embeddings.
    """
    if data.ratings is None:
        zeros = labelled_zeros(data, implicit_negatives, seed)
        labelled = data.with_labels(np.ones(len(data))).concat(zeros.with_labels(np.zeros(len(zeros))))
    else:
        labelled = data.with_labels((data.ratings >= threshold).astype(np.float32))
    train_idx, valid_idx, test_idx = _cut(len(labelled), check_ratios(ratios), np.random.default_rng(seed))
    train = labelled.subset(train_idx)
    seen_u, seen_i = train.user_counts() > 0, train.item_counts() > 0

    def known(idx: np.ndarray) -> Interactions:
        part = labelled.subset(idx)
        return part.subset(seen_u[part.users] & seen_i[part.items])
    return Split("labelled", train, known(valid_idx), known(test_idx), seed)


def _ranking(dataset: Dataset, seed: int, threshold: float, ratios: Sequence[float] | None,
             num_negatives: int) -> Split:
    if "train" in dataset.parts:
        return predefined_split(dataset.parts["train"], dataset.parts["test"], seed=seed)
    return random_split(dataset.interactions, ratios or (0.72, 0.08, 0.2), seed)


def _sampled(dataset: Dataset, seed: int, threshold: float, ratios: Sequence[float] | None,
             num_negatives: int) -> Split:
    if dataset.test_negatives is None:
        return leave_one_out(dataset.interactions, num_negatives, seed)
    # NCF's files: test rows and their negatives as shipped; validation is each tested user's latest
    # training item, ranked against negatives the user never interacted with (the test item included)
    train, test = dataset.parts["train"], dataset.parts["test"]
    valid_rows = _last_per_user(train, 2, np.random.default_rng(seed))
    valid_rows = valid_rows[np.isin(train.users[valid_rows], test.users)]
    valid = train.subset(valid_rows)
    negatives = negatives_without_replacement(dataset.interactions, valid.users, dataset.test_negatives.shape[1],
                                              seed)
    return Split("sampled", train.drop(valid_rows), valid, test, seed, valid_negatives=negatives,
                 test_negatives=dataset.test_negatives)


def _labelled(dataset: Dataset, seed: int, threshold: float, ratios: Sequence[float] | None,
              num_negatives: int) -> Split:
    return labelled_split(dataset.interactions, threshold, ratios or (0.6, 0.2, 0.2), seed)


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered protocol: how it splits a data set and the validation metric it selects on.

    ``make(dataset, seed, threshold, ratios, num_negatives)`` returns the :class:`Split`.
    """

    make: Callable[[Dataset, int, float, Sequence[float] | None, int], Split]
    metric: str


PROTOCOLS: Registry[ProtocolSpec] = Registry("protocol")
PROTOCOLS.add("ranking", ProtocolSpec(_ranking, "recall@20"),
              "all items ranked, training masked: Recall@N, NDCG@N (RecEraser)")
PROTOCOLS.add("sampled", ProtocolSpec(_sampled, "hr@10"),
              "leave-one-out, the held-out item against 99 sampled negatives: HR@K, NDCG@K (NCF, UBPR)")
PROTOCOLS.add("labelled", ProtocolSpec(_labelled, "auc"),
              "labelled pairs (rating >= threshold), 6:2:2: AUC (IFRU)")


@dataclass(frozen=True)
class LabelRule:
    """How a data set's ratings become labels and which users and items it keeps, before any split.

    Attributes:
        threshold: a rating of at least this is a positive (labelled protocol).
        k_core: keep only users and items with at least this many ratings (0: no filter).
        source: where the rule comes from, for tables and chapters.
    """

    threshold: float
    k_core: int
    source: str


#: The rule :func:`make_split` applies when it is given no threshold or k-core: IFRU's own (Section 4.1.1) on
#: the data sets IFRU uses, and the book's choice on MovieLens (at least 4 stars, every user and item kept).
LABEL_RULES: dict[str, LabelRule] = {
    "amazon-electronics": LabelRule(5.0, 5, "IFRU: rating greater than 4 of 5, 5-core"),
    "bookcrossing": LabelRule(7.0, 5, "IFRU's paper: rating greater than 6 of 10 (its code: greater than 5), "
                                      "5-core"),
}
DEFAULT_LABEL_RULE = LabelRule(4.0, 0, "the book's choice: rating at least 4, no core filter")


def make_split(dataset: Dataset, protocol: str = "ranking", seed: int = 0, *, threshold: float | None = None,
               ratios: Sequence[float] | None = None, num_negatives: int = 99, k_core: int | None = None) -> Split:
    """The split a protocol of :data:`PROTOCOLS` uses on a data set, with each protocol's defaults.

    ``ranking`` uses the source's own train/test when it ships one (RecEraser's ML-1M,
    LastFM), else a random 72/8/20 hold-out. ``sampled`` uses NCF's shipped negatives
    when present, else leave-one-out by time. ``labelled`` labels ratings (ML-100K, ML-1M,
    Amazon-Electronics, BookCrossing): a rating of at least ``threshold`` is a positive (IFRU's
    "greater than 4" on a 1-5 scale is ``threshold=5``); on implicit data (RecEraser's ML-1M) every
    interaction is a positive and :data:`IMPLICIT_NEGATIVES` seeded unseen items per positive are the zeros.

    Args:
        threshold: the labelled protocol's cut; ``None``: the data set's :data:`LABEL_RULES` entry, else
            :data:`DEFAULT_LABEL_RULE`'s.
        k_core: before splitting, keep only users and items with at least ``k_core`` interactions and compact
            the ids (:meth:`Dataset.k_core <rec_unlearn_lib.data.Dataset.k_core>`; IFRU filters 5-core; 0: no
            filter); ``None``: the data set's rule, as for ``threshold``.

    Raises:
        ValueError: a k-core filter on a source that ships its own split (filtering would change its parts).
    """
    rule = LABEL_RULES.get(dataset.name, DEFAULT_LABEL_RULE)
    k_core = rule.k_core if k_core is None else k_core
    if k_core:
        dataset = dataset.k_core(k_core)
    return PROTOCOLS[protocol].make(dataset, seed, rule.threshold if threshold is None else threshold, ratios,
                                    num_negatives)
