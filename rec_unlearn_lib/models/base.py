"""The one interface every recommender in the book implements.

A :class:`Recommender` scores user-item pairs (:meth:`~Recommender.score`), gives the
full score matrix for a batch of users (:meth:`~Recommender.full_scores`), and a loss
on a training batch (:meth:`~Recommender.loss`, delegated to its
:class:`~rec_unlearn_lib.models.objectives.Objective`). Metrics, trainers and
unlearning methods only ever use this interface, so every method works with every
backbone.

Evaluation asks for a :class:`Scorer` once (:meth:`~Recommender.scorer`) and then
scores many batches with it: for LightGCN that means one graph propagation per
evaluation, not one per batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TYPE_CHECKING

import torch
from torch import nn

from ..interactions import Interactions

if TYPE_CHECKING:
    from .objectives import Batch, Objective


def rows_of(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` [len(index), d] by :func:`torch.index_select`, whose backward adds rows with
    ``index_add`` (on the CPU faster than the accumulating ``index_put`` of ``table[index]``; an HVP
    of BPR-MF takes about two thirds of the time)."""
    return table.index_select(0, index)


class Scorer(ABC):
    """Frozen scores of a model at one moment (no gradient)."""

    @abstractmethod
    def pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """float [n] scores of pairs ``(users[j], items[j])``; users, items int64 [n]."""

    @abstractmethod
    def full(self, users: torch.Tensor) -> torch.Tensor:
        """float [B, num_items] scores of every item for users int64 [B]."""


class EmbeddingScorer(Scorer):
    """Inner-product scores from final user and item representations."""

    def __init__(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> None:
        self.user_emb, self.item_emb = user_emb, item_emb

    def pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.user_emb[users] * self.item_emb[items]).sum(-1)

    def full(self, users: torch.Tensor) -> torch.Tensor:
        return self.user_emb[users] @ self.item_emb.T


class ColdStartScorer(Scorer):
    """A scorer that ranks users without training data by item popularity, and all others as ``base`` does.

    A user whose every interaction was forgotten (or who never had one) has nothing a model
    learned from: every method in the book gives such users the same defined answer, the items
    with the most positive training interactions, instead of whatever an untrained or zeroed
    embedding happens to score.

    Args:
        base: the model's own scorer.
        cold: bool [num_users], users without training data.
        popularity: float [num_items], positive training interactions per item.
    """

    def __init__(self, base: Scorer, cold: torch.Tensor, popularity: torch.Tensor) -> None:
        self.base, self.cold, self.popularity = base, cold, popularity

    def pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        scores = self.base.pairs(users, items)
        cold = self.cold.to(scores.device)[users]
        return torch.where(cold, self.popularity.to(scores)[items], scores)

    def full(self, users: torch.Tensor) -> torch.Tensor:
        scores = self.base.full(users)
        cold = self.cold.to(scores.device)[users]
        return torch.where(cold[:, None], self.popularity.to(scores)[None, :], scores)


class Recommender(nn.Module, ABC):
    """Base class: ``num_users`` x ``num_items`` scores and, if trainable, an objective.

    Args:
        num_users, num_items: sizes of the dense id spaces.
        objective: the training loss (``None`` for models fitted by counting).
    """

    name: str = "recommender"
    #: its training step can be recorded as a CUDA graph: no host synchronisation and no host-to-device
    #: copy inside :meth:`loss` (see :class:`~rec_unlearn_lib.training.TrainStep`)
    graph_capturable: ClassVar[bool] = True

    def __init__(self, num_users: int, num_items: int, objective: "Objective | None" = None) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.objective = objective
        self.cold_users: torch.Tensor | None = None      # bool [U] once fit_data has seen the training data
        self.popularity: torch.Tensor | None = None      # float [I]

    @property
    def fixed_batch_shapes(self) -> bool:
        """Whether every full batch of its objective has one shape (a CUDA graph can replay its step)."""
        return bool(self.objective and self.objective.fixed_batch_shapes)

    @property
    def device(self) -> torch.device:
        for tensor in list(self.parameters()) + list(self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def fit_data(self, train: Interactions) -> None:
        """Attach what the model derives from its training data: which users have none (no row at all, positive
        or, in labelled data, negative: they are ranked by popularity, :class:`ColdStartScorer`) and the
        positive counts per item; subclasses add their own (a graph). Subclasses that override it call it too."""
        self.cold_users = torch.as_tensor(train.user_counts() == 0)
        self.popularity = torch.as_tensor(train.positives().item_counts(), dtype=torch.float32)

    def with_cold_start(self, scorer: Scorer) -> Scorer:
        """``scorer``, with users without training data ranked by popularity once :meth:`fit_data` has run."""
        if self.cold_users is None or self.popularity is None or not bool(self.cold_users.any()):
            return scorer
        return ColdStartScorer(scorer, self.cold_users, self.popularity)

    @abstractmethod
    def scorer(self) -> Scorer:
        """A :class:`Scorer` of the current parameters (computed under ``torch.no_grad``)."""

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """float [n] scores of pairs; users, items int64 [n]."""
        return self.scorer().pairs(users, items)

    def full_scores(self, users: torch.Tensor) -> torch.Tensor:
        """float [B, num_items] scores of all items for users int64 [B]."""
        return self.scorer().full(users)

    def loss(self, batch: "Batch") -> torch.Tensor:
        """Scalar training loss on a batch from ``self.objective.batches``."""
        if self.objective is None:
            raise TypeError(f"{type(self).__name__} is not trained by gradient descent")
        return self.objective.loss(self, batch)


class InnerProductModel(Recommender):
    """A recommender whose score is the inner product of user and item representations.

    Subclasses define :meth:`representations`; scoring, full-ranking and every objective's
    loss work from it (backbones, sub-models frozen as they are, aggregators of sub-models).
    """

    @abstractmethod
    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Final ``(users [num_users, d], items [num_items, d])`` used for scoring (differentiable)."""

    def batch_rows(self, users: torch.Tensor, *item_sets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The representations a batch reads (differentiable): users int64 [n] give [n, d], then each item index
        set int64 [m_j] gives [m_j, d]. Here, rows of :meth:`representations`; a model whose tables cost more to
        compute than the batch's rows computes only those rows."""
        user_emb, item_emb = self.representations()
        return (rows_of(user_emb, users), *(rows_of(item_emb, items) for items in item_sets))

    def scorer(self) -> Scorer:
        with torch.no_grad():
            return self.with_cold_start(EmbeddingScorer(*self.representations()))


class EmbeddingModel(InnerProductModel):
    """An inner-product recommender with *ego* embedding tables as its parameters.

    Subclasses hold ``user_emb`` [num_users, d] and ``item_emb`` [num_items, d] and define
    :meth:`representations`, the final embeddings the score uses (the tables themselves for
    MF, propagated ones for LightGCN).

    Args:
        init_std: standard deviation of the normal initialisation.
        generator: the generator of the initial draws (``None``: torch's global one).
    """

    def __init__(self, num_users: int, num_items: int, emb_dim: int, objective: "Objective",
                 init_std: float = 0.1, generator: torch.Generator | None = None) -> None:
        super().__init__(num_users, num_items, objective)
        if emb_dim < 1:
            raise ValueError(f"emb_dim must be positive, got {emb_dim}")
        self.emb_dim = emb_dim
        self.user_emb = nn.Parameter(torch.randn(num_users, emb_dim, generator=generator) * init_std)
        self.item_emb = nn.Parameter(torch.randn(num_items, emb_dim, generator=generator) * init_std)
