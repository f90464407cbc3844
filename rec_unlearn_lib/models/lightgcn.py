"""LightGCN (He et al. 2020): linear propagation on the normalised user-item graph.

``E^(k+1) = A_hat E^(k)`` with ``A_hat = D^-1/2 A D^-1/2`` the symmetrically normalised
adjacency of the bipartite graph of positive training interactions (isolated nodes
get 0), and final embeddings ``E = mean_(k=0..K) E^(k)`` (He et al. 2020, Eq. 7-9).

The graph is held in one of two forms, chosen when the model gets its data (:meth:`LightGCN.fit_data`):

* a ``torch`` sparse CSR matrix ``A_hat`` [(U+I), (U+I)]: one propagation costs ``O(K * nnz * d)``
  (the CPU, and large graphs anywhere);
* on a GPU, when ``U * I`` is at most :data:`DENSE_GRAPH_MAX_ENTRIES`, the dense user-item block
  ``R_hat = D_u^-1/2 R D_i^-1/2`` [U, I] (``A_hat = [[0, R_hat], [R_hat^T, 0]]``): users then take
  ``R_hat E_items`` and items ``R_hat^T E_users``, two matrix products a layer. It costs
  ``O(K * U * I * d)`` flops, more than the sparse product, but matrix products are what a GPU
  does best, it is deterministic, and it has no host synchronisation, so the training step can be
  recorded as a CUDA graph (``torch.sparse.mm``'s CSR product copies from the host inside the step).
"""

from __future__ import annotations

import copy
import itertools
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import scipy.sparse as sp
import torch

from ..interactions import Interactions, csr_to_torch
from .base import EmbeddingModel
from .objectives import Objective

#: the largest ``U * I`` for which a GPU holds the graph as a dense user-item block (2^26 floats, 256 MiB;
#: ML-1M's 6,040 x 3,706 is a third of it)
DENSE_GRAPH_MAX_ENTRIES = 2 ** 26


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


class GraphPropagation:
    """Mixin of a :class:`~.base.InnerProductModel` that propagates tables over the normalised graph of its
    training data (He et al. 2020, Eq. 7-9): LightGCN, and RecEraser's official LightGCN aggregator.

    It holds ``num_layers`` (``K``), ``dense_graph`` (see :class:`LightGCN`) and ``graph``, built by
    :meth:`fit_data` from the training interactions (and rebuilt when a method retrains on the retain set),
    on the device and in the dtype of the model's first parameter or buffer. Call :meth:`init_graph` in
    ``__init__``, after the module's own initialisation.
    """

    num_layers: int
    dense_graph: bool | None
    graph: torch.Tensor | None
    num_users: int
    num_items: int

    def init_graph(self, num_layers: int, dense_graph: bool | None) -> None:
        if num_layers < 0:
            raise ValueError(f"num_layers must be non-negative, got {num_layers}")
        self.num_layers = num_layers
        self.dense_graph = dense_graph
        self.graph = None

    def _placement(self) -> torch.Tensor:
        """The model's first parameter or buffer: the graph goes to its device and dtype."""
        return next(itertools.chain(self.parameters(), self.buffers()))  # type: ignore[attr-defined]

    @property
    def graph_capturable(self) -> bool:
        """Only the dense graph can be recorded as a CUDA graph (the sparse product copies from the host)."""
        return self.graph is not None and self.graph.layout == torch.strided

    def fit_data(self, train: Interactions) -> None:
        super().fit_data(train)  # type: ignore[misc]
        self.graph = self.graph_of(train)

    def __deepcopy__(self, memo: dict) -> "GraphPropagation":
        """A deep copy that shares the (constant) graph: a sparse CSR tensor cannot be deep-copied."""
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            clone.__dict__[key] = value if key == "graph" else copy.deepcopy(value, memo)
        return clone

    def _apply(self, fn, recurse=True):  # keep the (non-parameter) graph on the model's device
        module = super()._apply(fn, recurse)  # type: ignore[misc]
        if self.graph is not None:
            self.graph = fn(self.graph)
        return module

    def uses_dense_graph(self) -> bool:
        """Whether :meth:`graph_of` gives the dense user-item block (see the module's docstring)."""
        if self.dense_graph is not None:
            return self.dense_graph
        return self._placement().device.type == "cuda" and self.num_users * self.num_items <= DENSE_GRAPH_MAX_ENTRIES

    def graph_of(self, train: Interactions) -> torch.Tensor:
        """The normalised graph of ``train`` on the model's device and dtype: the sparse ``A_hat``
        [(U+I), (U+I)], or its dense user-item block ``R_hat`` [U, I] (:meth:`uses_dense_graph`)."""
        adjacency = normalized_adjacency(train)
        reference = self._placement()
        if self.uses_dense_graph():
            block = adjacency[: self.num_users, self.num_users:].toarray()
            return torch.as_tensor(block, dtype=reference.dtype).to(reference.device)
        return csr_to_torch(adjacency, device=reference.device).to(reference.dtype)

    @contextmanager
    def graph_swapped(self, graph: torch.Tensor) -> Iterator[None]:
        """Score with ``graph`` for the duration of the block (then the model's own graph again)."""
        own, self.graph = self.graph, graph
        try:
            yield
        finally:
            self.graph = own

    def own_graph(self) -> torch.Tensor:
        """The graph of the training data (:meth:`fit_data` must have run)."""
        if self.graph is None:
            raise RuntimeError(f"{type(self).__name__} has no graph yet: call fit_data(train) first")
        return self.graph

    def propagate_tables(self, graph: torch.Tensor, users: torch.Tensor,
                         items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``M [users; items]`` with ``M = mean_(k=0..K) A_hat^k`` (He et al. 2020, Eq. 7-9) for any two tables
        ``users [U, d]`` and ``items [I, d]``: the final embeddings when they are the layer-0 ones. ``M`` is linear and
        symmetric (``A_hat`` is), which is what LightGCN's closed-form curvature uses."""
        if graph.layout == torch.strided:                      # R_hat [U, I]: A_hat's off-diagonal blocks
            total_users, total_items = users, items
            for _ in range(self.num_layers):
                users, items = graph @ items, graph.T @ users
                total_users, total_items = total_users + users, total_items + items
            return total_users / (self.num_layers + 1), total_items / (self.num_layers + 1)
        layer = torch.cat([users, items])
        total = layer
        for _ in range(self.num_layers):
            layer = torch.sparse.mm(graph, layer)
            total = total + layer
        final = total / (self.num_layers + 1)
        return final[: self.num_users], final[self.num_users:]


class LightGCN(GraphPropagation, EmbeddingModel):
    """LightGCN with ``num_layers`` propagation layers, layer embeddings averaged.

    Call :meth:`fit_data` with the training interactions before use: the graph is
    built from them (and rebuilt when a method retrains on the retain set).

    Args:
        num_users, num_items, emb_dim, objective, init_std, generator: as :class:`~.base.EmbeddingModel`.
        num_layers: ``K``, 3 in RecEraser, 1 in IFRU.
        dense_graph: hold the graph as the dense user-item block (``True``), as a sparse matrix
            (``False``), or decide by device and size (``None``: dense on a GPU up to
            :data:`DENSE_GRAPH_MAX_ENTRIES`).
    """

    name = "lightgcn"

    def __init__(self, num_users: int, num_items: int, emb_dim: int, objective: Objective,
                 num_layers: int = 3, init_std: float = 0.1, generator: torch.Generator | None = None,
                 dense_graph: bool | None = None) -> None:
        super().__init__(num_users, num_items, emb_dim, objective, init_std, generator)
        self.init_graph(num_layers, dense_graph)

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate(self.own_graph())

    def propagate(self, graph: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final ``(users [U, d], items [I, d])`` of the current embeddings propagated on ``graph``
        (He et al. 2020, Eq. 7-9); IFRU's spillover compares the graphs of D and of D minus D_f."""
        return self.propagate_tables(graph, self.user_emb, self.item_emb)
