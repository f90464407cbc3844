"""Recommender backbones behind one interface, and :func:`build_model` to make them by name.

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

from ..interactions import Interactions
from .base import EmbeddingModel, EmbeddingScorer, Recommender, Scorer
from .lightgcn import LightGCN, normalized_adjacency
from .mf import MF
from .objectives import Batch, BCEObjective, BPRObjective, Objective, WMFObjective
from .popularity import Popularity

MODELS: tuple[str, ...] = ("mf", "bpr", "wmf", "lightgcn", "pop")
OBJECTIVES: tuple[str, ...] = ("bce", "bpr", "wmf")
DEFAULT_OBJECTIVE = {"mf": "bce", "bpr": "bpr", "wmf": "wmf", "lightgcn": "bpr"}


def make_objective(name: str, reg: float = 0.0, num_negatives: int = 4, c0: float = 0.2) -> Objective:
    """An objective by name (``bce``, ``bpr`` or ``wmf``) with its settings."""
    if name == "bce":
        return BCEObjective(reg, num_negatives)
    if name == "bpr":
        return BPRObjective(reg)
    if name == "wmf":
        return WMFObjective(reg, c0)
    raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")


def build_model(name: str, num_users: int, num_items: int, train: Interactions | None = None, *,
                emb_dim: int = 64, num_layers: int = 3, objective: str | None = None, reg: float = 0.0,
                num_negatives: int = 4, c0: float = 0.2, init_std: float = 0.1) -> Recommender:
    """Make a backbone by name; with ``train`` given, also attach its data (graph, counts).

    Args:
        name: one of :data:`MODELS`.
        objective: override the model's default objective (e.g. LightGCN with ``bce``).
        Others: see the model and objective classes.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if emb_dim < 1:
        raise ValueError(f"emb_dim must be positive, got {emb_dim}")
    model: Recommender
    if name == "pop":
        model = Popularity(num_users, num_items)
    else:
        obj = make_objective(objective or DEFAULT_OBJECTIVE[name], reg, num_negatives, c0)
        if name == "lightgcn":
            model = LightGCN(num_users, num_items, emb_dim, obj, num_layers, init_std)
        else:
            model = MF(num_users, num_items, emb_dim, obj, init_std)
    if train is not None:
        model.fit_data(train)
    return model


__all__ = ["Batch", "BCEObjective", "BPRObjective", "EmbeddingModel", "EmbeddingScorer", "LightGCN", "MF",
           "MODELS", "Objective", "Popularity", "Recommender", "Scorer", "WMFObjective", "build_model",
           "make_objective", "normalized_adjacency"]
