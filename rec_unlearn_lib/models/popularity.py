"""The most-popular baseline: every user gets the items with the most training positives."""

from __future__ import annotations

import torch

from ..interactions import Interactions
from .base import Recommender, Scorer


class PopularityScorer(Scorer):
    def __init__(self, counts: torch.Tensor) -> None:
        self.counts = counts

    def pairs(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.counts[items]

    def full(self, users: torch.Tensor) -> torch.Tensor:
        return self.counts.expand(len(users), -1)


class Popularity(Recommender):
    """Scores ``s_ui = (number of positive training interactions of item i)``, the same for every user.

    Not trained by gradient descent: :meth:`fit_data` counts. A useful model must beat it.
    """

    name = "pop"

    def __init__(self, num_users: int, num_items: int) -> None:
        super().__init__(num_users, num_items, objective=None)
        self.register_buffer("counts", torch.zeros(num_items))

    def fit_data(self, train: Interactions) -> None:
        super().fit_data(train)                            # counts the items' positives (self.popularity)
        self.counts = self.popularity.to(self.counts.device)

    def scorer(self) -> Scorer:
        return PopularityScorer(self.counts)
