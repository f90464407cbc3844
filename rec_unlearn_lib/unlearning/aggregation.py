"""Aggregators: one recommender out of ``K`` frozen sub-models (SISA's mean, GraphEraser's static, RecEraser's attention).

Every aggregator is a :class:`~rec_unlearn_lib.models.Recommender` whose score is an inner
product of aggregated user and item representations, so the trainer, the objectives and
every metric work on it unchanged. The sub-models enter as frozen buffers:

* ``user_reps`` float [K, num_users, d] and ``item_reps`` float [K, num_items, d], the final
  representations of each sub-model (for LightGCN: propagated on its shard's graph), or, for an
  aggregator whose :attr:`Aggregator.reads` is ``"layer-0"``, the sub-models' layer-0 embeddings;
* ``user_seen`` / ``item_seen`` bool [K, num_users] / [K, num_items]: whether shard ``k``
  holds any interaction of the user / item.

**A sub-model that never saw a user or item contributes nothing.** Its representation of that
node is only its random initialisation (or, for sampled negatives, what it learned without a
single positive), so it is set to zero: in the mean and static aggregators that sub-model's
score for the pair is 0 (no opinion), and the attention aggregator gives it weight 0 (the
softmax of Eq. 7 runs over the shards that saw the node). A node seen by no shard (no
training interaction at all) gets the zero representation, score 0.

===================  =============================================================  ===================
aggregator           score                                                          trained params
===================  =============================================================  ===================
``mean``             ``s_ui = (1/K) sum_k s^k_ui`` (SISA; RecEraser's MeanAgg)      none
``static``           ``s_ui = sum_k w_k s^k_ui``, ``w = softmax(v)`` (GraphEraser,  ``v`` [K]
                     RecEraser's StaticAgg)
``attention``        ``s_ui = p_u . q_i`` with Eq. 5-7 (RecEraser's AttAgg)         ``W^k, b^k``,
                                                                                    user/item attention
``attention-graph``  Eq. 5-7 over the sub-models' layer-0 embeddings, then          as ``attention``
                     LightGCN's propagation over the graph of all (remaining)
                     training data (RecEraser's official LightGCN aggregator, not
                     in the paper)
===================  =============================================================  ===================

Trained aggregators minimise the backbone's own loss on all (remaining) training data with
the sub-models frozen, plus ``agg_reg / 2 * ||Theta||^2`` on their parameters (Eq. 8). The paper's
Eq. 8 writes ``lambda * ||Theta||^2``; the book keeps the factor 1/2 of ``tf.nn.l2_loss`` that the
official code uses, so ``agg_reg = 1e-5`` is the paper's ``lambda = 5e-6``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ..models.base import InnerProductModel
from ..models.lightgcn import GraphPropagation
from ..registry import Registry

if TYPE_CHECKING:
    from ..models.objectives import Batch, Objective


class FrozenEmbeddings(InnerProductModel):
    """A recommender from fixed representations ``user_reps`` [U, d], ``item_reps`` [I, d] (e.g. one sub-model)."""

    name = "frozen"

    def __init__(self, user_reps: torch.Tensor, item_reps: torch.Tensor) -> None:
        super().__init__(user_reps.shape[0], item_reps.shape[0], None)
        self.register_buffer("user_reps", user_reps.detach().clone())
        self.register_buffer("item_reps", item_reps.detach().clone())

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_reps, self.item_reps


class Aggregator(InnerProductModel):
    """Base class of the aggregators: frozen sub-model representations, masked where unseen.

    Args:
        user_reps: float [K, U, d]; item_reps: float [K, I, d] (copied, zeroed where unseen).
        user_seen: bool [K, U]; item_seen: bool [K, I].
        objective: the backbone's loss (with ``reg = 0``: the penalty here is on the aggregator's own parameters).
        agg_reg: the L2 weight on the aggregator's parameters: the penalty is ``agg_reg / 2 * ||Theta||^2``
            (the paper's Eq. 8 writes ``lambda * ||Theta||^2``, so ``agg_reg = 2 lambda``).
    """

    name = "aggregator"
    #: which tables of the sub-models it combines: their ``"final"`` representations, or their ``"layer-0"``
    #: embeddings (before any graph propagation; the same tables for backbones without one)
    reads: ClassVar[str] = "final"
    #: the sharding settings its constructor takes (:meth:`create` passes these and ignores the others)
    setting_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, user_reps: torch.Tensor, item_reps: torch.Tensor, user_seen: torch.Tensor,
                 item_seen: torch.Tensor, objective: "Objective | None" = None, agg_reg: float = 0.0) -> None:
        num_shards, num_users, dim = user_reps.shape
        super().__init__(num_users, item_reps.shape[1], objective)
        self.num_shards, self.emb_dim, self.agg_reg = num_shards, dim, agg_reg
        user_seen, item_seen = torch.as_tensor(user_seen, dtype=torch.bool), torch.as_tensor(item_seen, dtype=torch.bool)
        self.register_buffer("user_reps", user_reps.detach().float() * user_seen[..., None])
        self.register_buffer("item_reps", item_reps.detach().float() * item_seen[..., None])
        self.register_buffer("user_seen", user_seen)
        self.register_buffer("item_seen", item_seen)

    @classmethod
    def create(cls, user_reps: torch.Tensor, item_reps: torch.Tensor, user_seen: torch.Tensor,
               item_seen: torch.Tensor, objective: "Objective | None" = None, agg_reg: float = 0.0,
               **settings: Any) -> "Aggregator":
        """The aggregator from the sharding settings: of ``settings`` (``attention_size``, ``generator``,
        ``num_layers``) it takes those its :attr:`setting_names` name and ignores the others."""
        return cls(user_reps, item_reps, user_seen, item_seen, objective, agg_reg,
                   **{name: value for name, value in settings.items() if name in cls.setting_names})

    def penalty(self) -> torch.Tensor:
        """``1/2 * sum of squared parameters`` (0 for parameter-free aggregators)."""
        return sum((0.5 * p.pow(2).sum() for p in self.parameters()), torch.zeros((), device=self.device))

    def loss(self, batch: "Batch") -> torch.Tensor:
        if self.objective is None:
            raise TypeError(f"{type(self).__name__} has no objective: it is not trained")
        return self.objective.loss(self, batch) + self.agg_reg * self.penalty()

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-node shard weights ``(users [K, U], items [K, I])`` of the aggregate (for plots)."""
        raise NotImplementedError


AGGREGATIONS: Registry[type[Aggregator]] = Registry("aggregation")


@AGGREGATIONS.register("mean", "the mean of the sub-models' scores, no training (SISA)")
class MeanAggregator(Aggregator):
    """``s_ui = (1/K) sum_k s^k_ui``: the concatenation of ``p^k_u / sqrt(K)`` and ``q^k_i / sqrt(K)``. No training."""

    name = "mean"

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = 1.0 / math.sqrt(self.num_shards)
        return (self.user_reps.permute(1, 0, 2).reshape(self.num_users, -1) * scale,
                self.item_reps.permute(1, 0, 2).reshape(self.num_items, -1) * scale)

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.num_shards
        return (self.user_seen.float() / k, self.item_seen.float() / k)


@AGGREGATIONS.register("static", "one learned weight per shard (GraphEraser)")
class StaticAggregator(Aggregator):
    """``s_ui = sum_k w_k s^k_ui`` with one learned weight per shard, ``w = softmax(v)``, ``v`` starting at 0 (= mean)."""

    name = "static"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.logits = nn.Parameter(torch.zeros(self.num_shards))

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        scale = torch.softmax(self.logits, 0).sqrt()[:, None, None]
        return ((self.user_reps * scale).permute(1, 0, 2).reshape(self.num_users, -1),
                (self.item_reps * scale).permute(1, 0, 2).reshape(self.num_items, -1))

    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        w = torch.softmax(self.logits.detach(), 0)[:, None]
        return (self.user_seen.float() * w, self.item_seen.float() * w)


@AGGREGATIONS.register("attention", "learned transfers and per-node attention over the shards (RecEraser)")
class AttentionAggregator(Aggregator):
    """RecEraser's attention-based adaptive aggregation (Eq. 5-7).

    Transfer (Eq. 5), one ``W^k`` [d, d] and ``b^k`` [d] per shard shared by users and items:
    ``p^k_tr = p^k W^k + b^k``. Attention (Eq. 7), separate for users (``W_1, b_1, h_1``) and
    items (``W_2, b_2, h_2``), size ``attention_size``:
    ``alpha*_k = h_1^T ReLU(W_1 p^k_tr + b_1)``, ``alpha = softmax_k`` over the shards that saw
    the user. Aggregate (Eq. 6): ``p_u = sum_k alpha_k p^k_tr``, likewise ``q_i`` with ``beta``.

    Init: ``W^k = I``, ``b^k = 0`` (the aggregate starts as a weighted average of the sub-models'
    own representations); ``W_1, W_2`` truncated normal with std ``sqrt(2 / (k + d))``, biases 0,
    ``h = 0.01`` (near-uniform weights), as the official code for the attention (its transfers start at
    N(0, 0.01) or Xavier instead).

    Cost per call: ``O(K (U + I) d (d + k))``, in batched matrix products over all ``K`` shards; a training
    batch that reads fewer rows than the tables hold computes Eq. 5-7 for its rows only (:meth:`batch_rows`).
    """

    name = "attention"
    setting_names: ClassVar[tuple[str, ...]] = ("attention_size", "generator")

    def __init__(self, *args, attention_size: int = 32, generator: torch.Generator | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        k, d, size = self.num_shards, self.emb_dim, attention_size
        self.transfer_w = nn.Parameter(torch.eye(d).repeat(k, 1, 1))
        self.transfer_b = nn.Parameter(torch.zeros(k, d))
        std = math.sqrt(2.0 / (size + d))
        self.user_att_w = nn.Parameter(nn.init.trunc_normal_(torch.empty(d, size), std=std, a=-2 * std, b=2 * std,
                                                             generator=generator))
        self.user_att_b = nn.Parameter(torch.zeros(size))
        self.user_att_h = nn.Parameter(torch.full((size,), 0.01))
        self.item_att_w = nn.Parameter(nn.init.trunc_normal_(torch.empty(d, size), std=std, a=-2 * std, b=2 * std,
                                                             generator=generator))
        self.item_att_b = nn.Parameter(torch.zeros(size))
        self.item_att_h = nn.Parameter(torch.full((size,), 0.01))
        self.register_buffer("user_any_seen", self.user_seen.any(0))
        self.register_buffer("item_any_seen", self.item_seen.any(0))

    def _aggregate(self, side: str, index: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Aggregated ``[n, d]`` and weights ``[K, n]`` of the ``side`` (``"user"`` or ``"item"``) nodes: all of
        them, or the rows ``index`` int64 [n] (repeats allowed).

        Every (shard, node) pair is computed, in a few batched products; a pair the shard never saw
        gets the softmax logit ``-inf``, hence weight exactly 0 and no gradient, so the result is that
        of the seen pairs alone. No data-dependent shapes: no host synchronisation, and the training
        step can be replayed from a CUDA graph.
        """
        reps, seen, any_seen = (getattr(self, f"{side}_{name}") for name in ("reps", "seen", "any_seen"))
        if index is not None:
            reps, seen, any_seen = reps.index_select(1, index), seen.index_select(1, index), any_seen[index]
        w, b, h = (getattr(self, f"{side}_att_{name}") for name in "wbh")
        tr = torch.baddbmm(self.transfer_b[:, None, :], reps, self.transfer_w)     # Eq. 5, [K, n, d]
        scores = torch.relu(tr @ w + b) @ h                                         # Eq. 7, [K, n]
        logits = scores.masked_fill(~seen, -torch.inf).masked_fill(~any_seen, 0.0)  # nodes no shard saw: no NaN
        weight = torch.softmax(logits, 0) * any_seen                                # [K, n]
        return torch.einsum("kn,knd->nd", weight, tr), weight                       # Eq. 6

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._aggregate("user")[0], self._aggregate("item")[0]

    def batch_rows(self, users: torch.Tensor, *item_sets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Eq. 5-7 for the batch's rows only, ``O(K n d (d + k))`` for the ``n`` rows it reads, when ``n`` is below
        the tables' ``U + I`` (BPR's batch of 512 triplets on ML-1M reads 1,536 rows of 9,746); otherwise rows of
        :meth:`representations`. The same values and gradients, summed in another order. Shapes as
        :meth:`~rec_unlearn_lib.models.InnerProductModel.batch_rows`."""
        sizes = [len(items) for items in item_sets]
        if len(users) + sum(sizes) >= self.num_users + self.num_items:
            return super().batch_rows(users, *item_sets)
        return (self._aggregate("user", users)[0], *self._aggregate("item", torch.cat(item_sets))[0].split(sizes))

    @torch.no_grad()
    def weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._aggregate("user")[1], self._aggregate("item")[1]


@AGGREGATIONS.register("attention-graph", "RecEraser's official LightGCN aggregator: attention over the "
                       "sub-models' layer-0 embeddings, then propagation over the whole training graph")
class GraphAttentionAggregator(GraphPropagation, AttentionAggregator):
    """RecEraser's LightGCN aggregator as its official code builds it (``train_agg_model2``), not as the paper
    describes it: Eq. 5-7 combine the sub-models' **layer-0** embeddings, and the aggregate is then propagated
    through ``L = num_layers`` LightGCN layers over the graph of all training data (the data left, after a
    deletion: :meth:`fit_data` builds it), ``(p, q) = M (p^0, q^0)`` with ``M = mean_(l=0..L) A_hat^l`` (He et al.
    2020, Eq. 7-9).

    The attention aggregator combines each sub-model's final representations, propagated on its own shard's
    graph only; here every user and item also gathers from the neighbours that other shards hold. Retrained on
    ``D \\ D_f`` with the graph of ``D \\ D_f``, it keeps sharded unlearning exact. What differs from the official
    code is what differs for :class:`AttentionAggregator`: a sub-model that never saw a node gives it weight 0
    (the official code feeds that sub-model's random initial embedding to the attention); the transfers start at
    ``W^k = I``, ``b^k = 0`` (official: N(0, 0.01)); the penalty ``agg_reg / 2 * ||Theta||^2`` is kept (the
    official LightGCN aggregator has none); and there is no dropout (the official code drops 30 % of the
    propagated users' embeddings in each training batch). Cost per call: the attention's, plus one propagation,
    ``O(L nnz d)`` (sparse graph).

    Args:
        user_reps, item_reps: the sub-models' layer-0 embeddings, float [K, U, d] and [K, I, d] (``K`` shards).
        num_layers: LightGCN's ``L`` (the sub-models' own; 3 in RecEraser).
        dense_graph: as :class:`~rec_unlearn_lib.models.LightGCN`.
        other arguments: as :class:`AttentionAggregator`.
    """

    name = "attention-graph"
    reads: ClassVar[str] = "layer-0"
    setting_names: ClassVar[tuple[str, ...]] = ("attention_size", "generator", "num_layers")

    #: every row of the propagated tables reads the whole graph: a batch takes its rows of them
    batch_rows = InnerProductModel.batch_rows

    def __init__(self, *args, num_layers: int = 3, dense_graph: bool | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_graph(num_layers, dense_graph)

    def representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate_tables(self.own_graph(), *super().representations())


def make_aggregator(name: str, user_reps: torch.Tensor, item_reps: torch.Tensor, user_seen: torch.Tensor,
                    item_seen: torch.Tensor, objective: "Objective | None" = None, agg_reg: float = 0.0,
                    attention_size: int = 32, generator: torch.Generator | None = None,
                    num_layers: int = 3) -> Aggregator:
    """An aggregator of :data:`AGGREGATIONS` by name over stacked sub-model tables (those its ``reads`` names).

    ``generator`` draws the initial parameters of trained aggregators (``None``: torch's global one);
    ``num_layers`` is the propagation depth of ``attention-graph`` (the LightGCN sub-models' own).
    """
    return AGGREGATIONS[name].create(user_reps, item_reps, user_seen, item_seen, objective, agg_reg,
                                     attention_size=attention_size, generator=generator, num_layers=num_layers)
