r"""IFRU's spillover: the remaining interactions whose prediction changes when D_f leaves the graph.

For a graph model the score of a remaining interaction depends on the training graph
(IFRU, Zhang et al. 2024, Eq. 9-10): erasing :math:`\mathcal{D}_f` changes the graph, so the loss on
some rows of :math:`\mathcal{D}\setminus\mathcal{D}_f` changes although they stay. Their loss
difference is the spillover term

.. math:: L_s(\theta) = \sum_{z\in\mathcal{D}_c} \ell\big(f_\theta(z;\mathcal{D})\big)
          - \ell\big(f_\theta(z;\mathcal{D}\setminus\mathcal{D}_f)\big),

whose gradient joins the forget gradient (Eq. 13: :math:`I = I_d + I_s`).

Which rows form :math:`\mathcal{D}_c` for LightGCN with :math:`K` layers and the symmetric
normalisation :math:`\hat A = D^{-1/2}AD^{-1/2}`: erasing an *edge* (a positive row; a labelled 0 is
no edge) changes the degree of both its endpoints, hence every entry of :math:`\hat A` in their rows
and columns. Row :math:`v` of :math:`\hat A^k` sums over walks of length :math:`k` from :math:`v`, so it
changes only if such a walk crosses a changed entry, i.e. if :math:`v` lies within :math:`k` hops of an
endpoint. The final representation (the mean over layers :math:`0..K`) of every node within :math:`K`
hops may therefore change, and :math:`\mathcal{D}_c` is every remaining row whose user or item is such a
node (:func:`changed_nodes`, :func:`spillover_rows`). For :math:`K = 1` this is larger than the paper's
:math:`\mathcal{D}_c` (rows of the users and items of :math:`\mathcal{D}_f` only): a neighbour of an
endpoint also changes, through the endpoint's degree. The official code keeps only the endpoints
whose degree falls by more than 1 %, and their rows (:func:`degree_changed_nodes`, the ``official`` set
of :data:`SPILLOVER_SETS`); the book keeps the exact set by default. For MF the score does not depend on
the graph, :math:`\mathcal{D}_c=\emptyset` and :math:`L_s = 0`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..interactions import Interactions
from ..models.base import Recommender
from ..models.lightgcn import LightGCN
from ..models.objectives import Batch
from .hvp import LossClosure

__all__ = ["OFFICIAL_DEGREE_CHANGE", "SPILLOVER_SETS", "changed_nodes", "check_spillover_set", "degree_changed_nodes",
           "spillover_loss", "spillover_rows"]

#: the relative fall of an endpoint's degree above which IFRU's official code counts it as changed (``ratio_flag``)
OFFICIAL_DEGREE_CHANGE = 0.01

#: which nodes' rows form D_c: ``exact`` (every node within K hops of an erased edge, :func:`changed_nodes`) or
#: ``official`` (IFRU's code: the endpoints whose degree falls by more than 1 %, :func:`degree_changed_nodes`)
SPILLOVER_SETS: tuple[str, ...] = ("exact", "official")


def check_spillover_set(name: str) -> str:
    """``name`` if it is one of :data:`SPILLOVER_SETS`, else a ``ValueError`` that lists them."""
    if name not in SPILLOVER_SETS:
        raise ValueError(f"unknown spillover set {name!r}: choose one of {', '.join(SPILLOVER_SETS)}")
    return name


def changed_nodes(train: Interactions, retain: Interactions, num_layers: int) -> np.ndarray:
    """bool [U + I] (users first): nodes whose K-layer LightGCN representation depends on the erased edges.

    Args:
        train: D (forget rows included); its positive pairs are the graph.
        retain: D without D_f.
        num_layers: K.
    """
    reached = np.zeros(train.num_users + train.num_items, dtype=bool)
    if num_layers == 0:                                         # the ego embeddings: no graph at all
        return reached
    before = train.positives().to_csr()
    removed = before - retain.positives().to_csr()              # edges of D that D \ D_f no longer has
    removed.eliminate_zeros()
    removed = removed.tocoo()
    reached[removed.row] = True
    reached[train.num_users + removed.col] = True
    adjacency = sp.bmat([[None, before], [before.T, None]], format="csr")
    for _ in range(num_layers):                                 # nodes within K hops of an endpoint
        reached |= (adjacency @ reached.astype(np.float64)) > 0
    return reached


def degree_changed_nodes(train: Interactions, retain: Interactions,
                         min_change: float = OFFICIAL_DEGREE_CHANGE) -> np.ndarray:
    r"""bool [U + I] (users first): the nodes whose relative fall of degree,
    :math:`1 - \deg_{\mathcal{D}\setminus\mathcal{D}_f}(v) / \deg_{\mathcal{D}}(v)`, exceeds ``min_change``:
    the endpoints of erased edges that IFRU's official code keeps for D_c (its ``changed_data``, with
    ``ratio_flag = 0.01``). Degrees count positive rows (the graph's edges)."""
    before, after = (np.concatenate([edges.user_counts(), edges.item_counts()])
                     for edges in (train.positives(), retain.positives()))
    fall = np.divide(before - after, before, out=np.zeros(len(before)), where=before > 0)
    return fall > min_change


def spillover_rows(model: Recommender, batch: Batch, forget_mask: torch.Tensor, train: Interactions,
                   retain: Interactions, spillover_set: str = "exact") -> torch.Tensor:
    """bool [n]: the rows of ``batch`` (D) that are not forgotten and whose user or item is a changed node
    (D_c); all ``False`` for a model without a graph (MF).

    Args:
        spillover_set: a name of :data:`SPILLOVER_SETS`: ``exact`` (every row whose prediction depends on the
            graph change) or ``official`` (IFRU's code).
    """
    check_spillover_set(spillover_set)
    if not isinstance(model, LightGCN):
        return torch.zeros_like(forget_mask)
    nodes = (changed_nodes(train, retain, model.num_layers) if spillover_set == "exact"
             else degree_changed_nodes(train, retain))
    changed = torch.as_tensor(nodes, device=forget_mask.device)
    touch = changed[batch["users"]]
    for key in ("items", "pos", "neg"):
        if key in batch:
            touch |= changed[train.num_users + batch[key]]
    return touch & ~forget_mask


def spillover_loss(model: LightGCN, spill_batch: Batch, graph_after: torch.Tensor) -> LossClosure:
    """Closure of :math:`L_s` (IFRU Eq. 9) over the rows of ``spill_batch`` (D_c): the SUM of their loss on
    the model's graph (D) minus on ``graph_after`` (D without D_f). The L2 share of a row is the same on
    both graphs and cancels."""
    m = len(spill_batch["users"])
    if m == 0:                                                  # no edge removed (only labelled-0 rows erased)
        return lambda: torch.zeros((), dtype=model.user_emb.dtype, device=model.user_emb.device)

    def closure() -> torch.Tensor:
        before = model.loss(spill_batch)
        with model.graph_swapped(graph_after):
            after = model.loss(spill_batch)
        return m * (before - after)
    return closure
