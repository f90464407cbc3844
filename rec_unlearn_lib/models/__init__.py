"""Recommender backbones behind one interface; the registry :data:`MODELS` makes them by name.

=============  =========  ==========================================
name           model      objective
=============  =========  ==========================================
``mf``         MF         BCE, point-wise (IFRU's MF)
``bpr``        MF         BPR, pair-wise (BPR-MF)
``wmf``        MF         whole-data weighted squared loss (WMF)
``lightgcn``   LightGCN   BPR (RecEraser, UBPR); ``objective="bce"`` for IFRU's
``pop``        counts     none (most-popular baseline)
=============  =========  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..interactions import Interactions
from ..registry import Registry
from .base import EmbeddingModel, EmbeddingScorer, InnerProductModel, Recommender, Scorer
from .lightgcn import GraphPropagation, LightGCN, normalized_adjacency
from .mf import MF
from .objectives import OBJECTIVES, SAMPLINGS, Batch, BCEObjective, BPRObjective, Objective, WMFObjective
from .popularity import Popularity

ModelBuilder = Callable[[int, int, "Objective | None", int, int, float, "torch.Generator | None"], Recommender]


@dataclass(frozen=True)
class Backbone:
    """A registered backbone.

    Attributes:
        build: ``(num_users, num_items, objective, emb_dim, num_layers, init_std, generator) -> Recommender``.
        objective: name of its default objective in :data:`OBJECTIVES` (``None``: not trained).
    """

    build: ModelBuilder
    objective: str | None


def _mf(num_users: int, num_items: int, objective: "Objective | None", emb_dim: int, num_layers: int,
        init_std: float, generator: torch.Generator | None) -> Recommender:
    return MF(num_users, num_items, emb_dim, objective, init_std, generator)  # type: ignore[arg-type]


def _lightgcn(num_users: int, num_items: int, objective: "Objective | None", emb_dim: int, num_layers: int,
              init_std: float, generator: torch.Generator | None) -> Recommender:
    return LightGCN(num_users, num_items, emb_dim, objective, num_layers, init_std, generator)  # type: ignore[arg-type]


def _popularity(num_users: int, num_items: int, *unused: object) -> Recommender:
    return Popularity(num_users, num_items)


MODELS: Registry[Backbone] = Registry("model")
MODELS.add("mf", Backbone(_mf, "bce"), "matrix factorisation, point-wise BCE (IFRU's MF)")
MODELS.add("bpr", Backbone(_mf, "bpr"), "matrix factorisation, pair-wise BPR (BPR-MF)")
MODELS.add("wmf", Backbone(_mf, "wmf"), "matrix factorisation, whole-data weighted squared loss (WMF)")
MODELS.add("lightgcn", Backbone(_lightgcn, "bpr"), "graph convolution over the user-item graph, BPR (LightGCN)")
MODELS.add("pop", Backbone(_popularity, None),
           "most-popular items, the same for every user (baseline, nothing to unlearn)")


def trainable_models() -> tuple[str, ...]:
    """The registered backbones that are trained by gradient descent (all but the popularity baseline)."""
    return tuple(name for name, backbone in MODELS.items() if backbone.objective is not None)


def make_objective(name: str, reg: float = 0.0, num_negatives: int | None = None, c0: float = 0.2,
                   sampling: str = "epoch") -> Objective:
    """An objective of :data:`OBJECTIVES` by name, with the settings it uses (``None``: the objective's default)."""
    return OBJECTIVES[name].create(reg, num_negatives, c0, sampling)


def build_model(name: str, num_users: int, num_items: int, train: Interactions | None = None, *,
                emb_dim: int = 64, num_layers: int = 3, objective: str | None = None, reg: float = 0.0,
                num_negatives: int | None = None, c0: float = 0.2, sampling: str = "epoch", init_std: float = 0.1,
                generator: torch.Generator | None = None) -> Recommender:
    """Make a backbone of :data:`MODELS` by name; with ``train`` given, also attach its data (graph, counts).

    Args:
        name: one of :data:`MODELS`.
        objective: override the model's default objective (e.g. LightGCN with ``bce``).
        generator: draws the initial parameters (``None``: torch's global generator).
        Others: see the model and objective classes.
    """
    backbone = MODELS[name]
    obj = None if backbone.objective is None else make_objective(objective or backbone.objective, reg,
                                                                 num_negatives, c0, sampling)
    model = backbone.build(num_users, num_items, obj, emb_dim, num_layers, init_std, generator)
    if train is not None:
        model.fit_data(train)
    return model


__all__ = ["Backbone", "Batch", "BCEObjective", "BPRObjective", "EmbeddingModel", "EmbeddingScorer", "GraphPropagation",
           "InnerProductModel", "LightGCN", "MF", "MODELS", "OBJECTIVES", "Objective", "Popularity", "Recommender",
           "SAMPLINGS", "Scorer", "WMFObjective", "build_model", "make_objective", "normalized_adjacency",
           "trainable_models"]
