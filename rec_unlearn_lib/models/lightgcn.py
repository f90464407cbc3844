"""LightGCN (He et al. 2020): linear propagation on the normalised user-item graph.

``E^(k+1) = A_hat E^(k)`` with ``A_hat = D^-1/2 A D^-1/2`` the symmetrically normalised
adjacency of the bipartite graph of positive training interactions (isolated nodes
get 0), and final embeddings ``E = mean_(k=0..K) E^(k)`` (He et al. 2020, Eq. 7-9).
The adjacency is a ``torch`` sparse CSR matrix: one propagation costs
``O(K * nnz * d)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..interactions import Interactions, csr_to_torch
from .base import EmbeddingModel
from .objectives import Objective


def normalized_adjacency(train: Interactions) -> sp.csr_matrix:
    """float32 [(U+I), (U+I)] ``D^-1/2 A D^-1/2`` of the bipartite graph of positive rows.

    Duplicate interactions count once; nodes without edges get zero rows.
    """
    r = train.positives().to_csr()
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(deg)
    inv_sqrt[deg > 0] = deg[deg > 0] ** -0.5
    scale = sp.diags(inv_sqrt)
    return (scale @ adj @ scale).tocsr().astype(np.float32)


class LightGCN(EmbeddingModel):
    """LightGCN with ``num_layers`` propagation layers, layer embeddings averaged.

    Call :meth:`fit_data` with the training interactions before use: the graph is
    built from them (and rebuilt when a method retrains on the retain set).

    Args:
        num_users, num_items, emb_dim, objective, init_std, generator: as :class:`~.base.EmbeddingModel`.
        num_layers: ``K``, 3 in RecEraser, 1 in IFRU.
    """

    name = "lightgcn"

    def __init__(self, num_users: int, num_items: int, emb_dim: int, objective: Objective,
                 num_layers: int = 3, init_std: float = 0.1, generator: torch.Generator | None = None) -> None:
        super().__init__(num_users, num_items, emb_dim, objective, init_std, generator)
        if num_layers < 0:
            raise ValueError(f"num_layers must be non-negative, got {num_layers}")
        self.num_layers = num_layers
        self.graph: torch.Tensor | None = None

    def fit_data(self, train: Interactions) -> None:
        self.graph = csr_to_torch(normalized_adjacency(train), device=self.user_emb.device).to(self.user_emb.dtype)

    def _apply(self, fn, recurse=True):  # keep the (non-parameter) graph on the model's device
        module = super()._apply(fn, recurse)
        if self.graph is not None:
            self.graph = fn(self.graph)
        return module

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.graph is None:
            raise RuntimeError("LightGCN has no graph yet: call fit_data(train) first")
        layer = torch.cat([self.user_emb, self.item_emb])
        total = layer
        for _ in range(self.num_layers):
            layer = torch.sparse.mm(self.graph, layer)
            total = total + layer
        final = total / (self.num_layers + 1)
        return final[: self.num_users], final[self.num_users:]
