"""Training objectives: how batches are drawn and what loss they give.

=========== =================================================== ======================
objective   loss on a batch                                      batches
=========== =================================================== ======================
``bce``     mean BCE-with-logits on labelled pairs (point-wise)  labelled rows, or
                                                                 positives + sampled
                                                                 negatives (NCF)
``bpr``     -mean log sigmoid(s_ui - s_uj) (Rendle et al. 2009)  (u, i, j) triplets, fresh
                                                                 each epoch or one fixed
                                                                 set (UBPR)
``wmf``     whole-data weighted squared loss, efficient form     shuffled user batches
            (Hu et al. 2008; Chen et al. 2020, as in RecEraser)
=========== =================================================== ======================

Each adds ``reg / 2 * (squared norms of the batch's ego embeddings) / batch size``,
the L2 of RecEraser's and LightGCN's code. Batches are pure functions of
``(train, seed, epoch)`` (see :mod:`rec_unlearn_lib.sampling`), so any epoch's batches
can be re-materialised at unlearning time. A model trained on fresh negatives every epoch
minimises no single fixed loss, though; the influence update has an exact meaning only for
BPR on a fixed triplet set (``sampling="fixed"``, the :data:`SAMPLINGS` entry UBPR trains with).
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Iterator, cast

import numpy as np
import torch
import torch.nn.functional as F

from ..interactions import Interactions
from ..registry import Registry
from ..sampling import bpr_triplets, epoch_generator, fixed_triplets, own_items, pointwise_rows, user_batches, \
    user_uniform_triplets
from .base import rows_of

if TYPE_CHECKING:
    from .base import EmbeddingModel, InnerProductModel

Batch = dict[str, torch.Tensor]


def _chunks(tensors: dict[str, torch.Tensor], batch_size: int) -> Iterator[Batch]:
    """Consecutive slices (views) of equal-length tensors: the batches of one epoch."""
    n = len(next(iter(tensors.values())))
    for start in range(0, n, batch_size):
        yield {k: v[start:start + batch_size] for k, v in tensors.items()}


def l2_of_rows(*rows: torch.Tensor) -> torch.Tensor:
    """``1/2 * sum of squared entries`` of the given embedding rows (tf.nn.l2_loss)."""
    return sum(0.5 * r.pow(2).sum() for r in rows)  # type: ignore[return-value]


class Objective(ABC):
    """How a model is trained: its batches and its loss.

    Args:
        reg: L2 weight on the ego embeddings of the rows in a batch.
    """

    name = "objective"
    #: the names of :data:`SAMPLINGS` it can draw its negatives by
    samplings: ClassVar[tuple[str, ...]] = ("epoch",)
    #: every batch but an epoch's last has the same shapes, so one CUDA graph serves them all
    fixed_batch_shapes: ClassVar[bool] = True

    def __init__(self, reg: float = 0.0) -> None:
        if reg < 0:
            raise ValueError(f"reg must be non-negative, got {reg}")
        self.reg = reg

    @classmethod
    def create(cls, reg: float = 0.0, num_negatives: int | None = None, c0: float = 0.2,
               sampling: str = "epoch") -> "Objective":
        """The objective from the backbone settings (each class takes what it needs; ``num_negatives=None``:
        the class's own default, 4 for BCE, 1 for BPR).

        Raises:
            ValueError: ``sampling`` is not one it can draw by (see :attr:`samplings`).
        """
        if SAMPLINGS.check(sampling) not in cls.samplings:
            raise ValueError(f"the {cls.name} objective cannot sample by {sampling!r}; it samples by "
                             f"{', '.join(cls.samplings)}")
        return cls._create(reg, num_negatives, c0, sampling)

    @classmethod
    def _create(cls, reg: float, num_negatives: int | None, c0: float, sampling: str) -> "Objective":
        return cls(reg)

    @abstractmethod
    def batches(self, train: Interactions, batch_size: int, seed: int, epoch: int,
                device: torch.device) -> Iterator[Batch]:
        """The batches of one epoch, deterministic in ``(train, seed, epoch)``."""

    @abstractmethod
    def loss(self, model: "InnerProductModel", batch: Batch) -> torch.Tensor:
        """Scalar loss of ``model`` on ``batch``."""

    def _reg(self, model: "InnerProductModel", users: torch.Tensor, *items: torch.Tensor) -> torch.Tensor:
        """``reg/2 * ||ego rows of the batch||^2 / batch size`` (0 without ``reg``: aggregators have no ego tables)."""
        if self.reg == 0.0:
            return torch.zeros((), device=users.device)
        if not hasattr(model, "user_emb"):
            raise TypeError(f"reg > 0 needs ego embedding tables; {type(model).__name__} has none")
        model = cast("EmbeddingModel", model)
        rows = [rows_of(model.user_emb, users)] + [rows_of(model.item_emb, i) for i in items]
        return self.reg * l2_of_rows(*rows) / len(users)


OBJECTIVES: Registry[type[Objective]] = Registry("objective")
SAMPLINGS: Registry[str] = Registry("sampling")
SAMPLINGS.add("epoch", "epoch", "fresh negatives every epoch (a different loss each epoch)")
SAMPLINGS.add("fixed", "fixed", "one seeded set of num_negatives triplets per positive, drawn once and reshuffled "
                                "each epoch (UBPR; BPR only)")
SAMPLINGS.add("own-items", "own-items", "as epoch, with negatives drawn only from the items of the model's own "
                                        "training data: for a shard's sub-model, its shard's items (BPR only)")
SAMPLINGS.add("user-uniform", "user-uniform", "RecEraser's official sampler: each batch draws distinct users "
                                              "uniformly, one positive and one own-items negative each (BPR only)")


@OBJECTIVES.register("bce", "point-wise binary cross-entropy on labelled pairs or positives + sampled negatives")
class BCEObjective(Objective):
    """Point-wise binary cross-entropy on logits ``s_ui`` (IFRU's MF loss; NCF with negatives).

    ``L = mean_(u,i,y) [ -y log sigma(s_ui) - (1-y) log(1 - sigma(s_ui)) ] + L2``.
    With labelled training data the labelled rows are used as they are; otherwise each
    positive is joined by ``num_negatives`` sampled negatives per epoch.
    """

    name = "bce"

    def __init__(self, reg: float = 0.0, num_negatives: int = 4) -> None:
        super().__init__(reg)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be at least 1, got {num_negatives}")
        self.num_negatives = num_negatives

    @classmethod
    def _create(cls, reg: float, num_negatives: int | None, c0: float, sampling: str) -> "BCEObjective":
        return cls(reg) if num_negatives is None else cls(reg, num_negatives)

    def batches(self, train: Interactions, batch_size: int, seed: int, epoch: int,
                device: torch.device) -> Iterator[Batch]:
        users, items, labels = pointwise_rows(train, self.num_negatives, seed, epoch, device)
        return _chunks({"users": users, "items": items, "labels": labels}, batch_size)

    def loss(self, model: "InnerProductModel", batch: Batch) -> torch.Tensor:
        users, items = model.batch_rows(batch["users"], batch["items"])
        logits = (users * items).sum(-1)
        return (F.binary_cross_entropy_with_logits(logits, batch["labels"])
                + self._reg(model, batch["users"], batch["items"]))


@OBJECTIVES.register("bpr", "pair-wise Bayesian personalised ranking on (user, positive, negative) triplets")
class BPRObjective(Objective):
    """Bayesian personalised ranking: ``L = -mean log sigma(s_ui - s_uj) + L2`` (Rendle et al. 2009; UBPR Eq. 2).

    Args:
        reg: L2 weight (see :class:`Objective`).
        num_negatives: triplets per positive and epoch (RecEraser and LightGCN: 1; UBPR: 4).
        sampling: ``"epoch"``, fresh negatives every epoch (:func:`~rec_unlearn_lib.sampling.bpr_triplets`);
            ``"fixed"``, one triplet set drawn once from the seed
            (:func:`~rec_unlearn_lib.sampling.fixed_triplets`) and reshuffled every epoch: then the
            trained model minimises one loss over one data set of triplets, UBPR's :math:`\\mathcal{D}`;
            ``"own-items"``, as ``"epoch"`` with negatives from the items of the training data only
            (:func:`~rec_unlearn_lib.sampling.own_items`); ``"user-uniform"``, RecEraser's official
            sampler (:func:`~rec_unlearn_lib.sampling.user_uniform_triplets`; ``num_negatives`` must be 1).
    """

    name = "bpr"
    samplings = ("epoch", "fixed", "own-items", "user-uniform")

    def __init__(self, reg: float = 0.0, num_negatives: int = 1, sampling: str = "epoch") -> None:
        super().__init__(reg)
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be at least 1, got {num_negatives}")
        if sampling == "user-uniform" and num_negatives != 1:
            raise ValueError(f"the user-uniform sampler draws one negative per drawn user, got num_negatives "
                             f"{num_negatives}")
        self.num_negatives, self.sampling = num_negatives, SAMPLINGS.check(sampling)
        self._fixed: tuple[weakref.ref, int, torch.device, tuple[torch.Tensor, ...]] | None = None

    @classmethod
    def _create(cls, reg: float, num_negatives: int | None, c0: float, sampling: str) -> "BPRObjective":
        return cls(reg, 1 if num_negatives is None else num_negatives, sampling)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fixed": None}   # copies and pickles draw the fixed triplets again

    def fixed_triplets(self, train: Interactions, seed: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``(users, pos, neg)`` [n_pos * num_negatives] on ``device``: the fixed set of ``(train, seed)``, drawn once."""
        cached = self._fixed
        if cached is None or cached[0]() is not train or cached[1] != seed or cached[2] != device:
            triplets = tuple(torch.as_tensor(t, device=device) for t in fixed_triplets(train, self.num_negatives, seed))
            self._fixed = cached = (weakref.ref(train), seed, device, triplets)
        return cached[3]

    def batches(self, train: Interactions, batch_size: int, seed: int, epoch: int,
                device: torch.device) -> Iterator[Batch]:
        if self.sampling == "fixed":
            users, pos, neg = self.fixed_triplets(train, seed, torch.device(device))
            order = torch.randperm(len(users), generator=epoch_generator(seed, epoch, device), device=device)
            users, pos, neg = users[order], pos[order], neg[order]
        elif self.sampling == "user-uniform":
            users, pos, neg = user_uniform_triplets(train, batch_size, seed, epoch, device)
        else:
            candidates = own_items(train) if self.sampling == "own-items" else None
            users, pos, neg = bpr_triplets(train, seed, epoch, device, self.num_negatives, candidates)
        return _chunks({"users": users, "pos": pos, "neg": neg}, batch_size)

    def loss(self, model: "InnerProductModel", batch: Batch) -> torch.Tensor:
        u, pos, neg = model.batch_rows(batch["users"], batch["pos"], batch["neg"])
        diff = (u * pos).sum(-1) - (u * neg).sum(-1)
        return -F.logsigmoid(diff).mean() + self._reg(model, batch["users"], batch["pos"], batch["neg"])


@OBJECTIVES.register("wmf", "whole-data weighted squared loss over all user-item pairs, no sampling")
class WMFObjective(Objective):
    """Weighted matrix factorisation over *all* user-item pairs, without sampling.

    ``sum_u sum_i w_ui (y_ui - s_ui)^2`` with ``w = 1`` on observed pairs and ``c0`` on
    all others equals exactly (Chen et al. 2020; RecEraser's WMF code drops the constant 1)

    ``L_B = c0 * sum_(d,d') (sum_i q_id q_id')(sum_(u in B) p_ud p_ud')
    + sum_((u,i) observed, u in B) [(1 - c0) s_ui^2 - 2 s_ui + 1]``,

    which costs ``O((|B| + |I|) d^2 + |R_B| d)`` instead of ``O(|B| |I| d)``. The loss is
    divided by ``|B|`` (mean over the batch's users).

    ``u`` and ``i`` run over the users and items of the training data, as in RecEraser's code: a
    sub-model of one shard sees only that shard's users and items, so its epoch shrinks with
    the shard (users and items outside it keep their initial embeddings, which the aggregators
    ignore), and items without training data are left out of the ``c0`` term.

    Args:
        c0: weight of unobserved pairs (0.2 for ML-1M in RecEraser).
    """

    name = "wmf"
    fixed_batch_shapes = False   # a batch holds all positives of its users: shapes differ batch to batch

    def __init__(self, reg: float = 0.0, c0: float = 0.2) -> None:
        super().__init__(reg)
        if not 0.0 < c0 <= 1.0:
            raise ValueError(f"c0 must lie in (0, 1], got {c0}")
        self.c0 = c0

    @classmethod
    def _create(cls, reg: float, num_negatives: int | None, c0: float, sampling: str) -> "WMFObjective":
        return cls(reg, c0)

    def batches(self, train: Interactions, batch_size: int, seed: int, epoch: int,
                device: torch.device) -> Iterator[Batch]:
        positives = train.positives()
        csr = positives.to_csr()
        items = torch.as_tensor(own_items(positives), device=device)
        for users in user_batches(np.flatnonzero(positives.user_counts() > 0), batch_size, seed, epoch):
            starts, counts = csr.indptr[users], np.diff(csr.indptr)[users]
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            yield {"users": torch.as_tensor(users, device=device), "items": items,
                   "pos_users": torch.as_tensor(np.repeat(users, counts), device=device),
                   "pos_items": torch.as_tensor(csr.indices[np.repeat(starts, counts) + offsets].astype(np.int64),
                                                device=device)}

    def loss(self, model: "InnerProductModel", batch: Batch) -> torch.Tensor:
        user_emb, item_emb = model.representations()
        p = rows_of(user_emb, batch["users"])                                        # [B, d]
        q = rows_of(item_emb, batch["items"])                                        # [I_train, d]
        all_pairs = (p.T @ p * (q.T @ q)).sum()                             # sum_u sum_i s_ui^2
        s = (rows_of(user_emb, batch["pos_users"]) * rows_of(item_emb, batch["pos_items"])).sum(-1)
        observed = ((1.0 - self.c0) * s.pow(2) - 2.0 * s + 1.0).sum()       # + 1 = y^2: the loss is >= 0
        return (self.c0 * all_pairs + observed) / len(p) + self._reg(model, batch["users"])
