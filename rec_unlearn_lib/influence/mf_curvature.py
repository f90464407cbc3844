r"""The curvature of matrix factorisation's losses in closed form: Hessian-vector products and the diagonal.

For MF every row of a batch scores with :math:`x = \mathbf{p}_u^\top\mathbf{a}`, where
:math:`\mathbf{a} = \mathbf{q}_i` (BCE) or :math:`\mathbf{a} = \mathbf{q}_i - \mathbf{q}_j` (BPR), and
contributes :math:`f(x)` plus its L2 share :math:`\frac{\lambda}{2}\|\text{its rows}\|^2` to the mean
loss :math:`J = \frac1n\sum_t f(x_t) + \dots` (IFRU Eq. 1, UBPR Eq. 3). With
:math:`f' = \sigma(x) - y` (BCE, label :math:`y`) or :math:`-\sigma(-x)` (BPR) and
:math:`f'' = \sigma(x)\sigma(-x)` (both), the Hessian is
:math:`\frac1n\sum_t\big[f''_t\,\nabla x_t\nabla x_t^\top + f'_t\,\nabla^2 x_t\big] + \frac{\lambda}{n}\mathrm{diag}(c)`,
so a product with :math:`v` needs, per row, :math:`\delta x = \mathbf{v}_u^\top\mathbf{a} + \mathbf{p}_u^\top\mathbf{v}_a`
and three scatter-adds:

.. math::

   (Hv)_{\mathbf{p}_u} \mathrel{+}= f''\delta x\,\mathbf{a} + f'\mathbf{v}_a,\qquad
   (Hv)_{\mathbf{q}_i} \mathrel{+}= f''\delta x\,\mathbf{p}_u + f'\mathbf{v}_u,\qquad
   (Hv)_{\mathbf{q}_j} \mathrel{-}= f''\delta x\,\mathbf{p}_u + f'\mathbf{v}_u

(:math:`\mathbf{v}_a = \mathbf{v}_i` or :math:`\mathbf{v}_i - \mathbf{v}_j`; the last line for BPR only).
This is the same product as autograd's double backward (:meth:`~.hvp.InfluenceProblem.hvp`), in
a few passes over the rows instead of a backward pass through the gradient's graph. The diagonal
comes from the Gauss-Newton term alone (:math:`x` is linear in each single row, so
:math:`\nabla^2 x` has no entry on it):
:math:`\mathrm{diag}(H)_{\mathbf{p}_u} = \frac1n\sum f''\mathbf{a}^{\odot 2} + \frac{\lambda c_u}{n}`,
:math:`\mathrm{diag}(H)_{\mathbf{q}_i} = \frac1n\sum f''\mathbf{p}_u^{\odot 2} + \frac{\lambda c_i}{n}`
(:math:`\odot 2`: squared entry by entry), one pass over the rows.

**Through user-item matrices.** Every per-row quantity above is a difference of two entries of a
``[U, I]`` matrix, and every scatter-add a product with one. With
:math:`Z = V_U Q^\top + P V_I^\top` (the change of every pair's score along :math:`v`),
:math:`\delta x_t = Z_{u i} - Z_{u j}`; with :math:`G` and :math:`F` the ``[U, I]`` matrices that add
:math:`f''\delta x` and :math:`f'` at :math:`(u, i)` and subtract them at :math:`(u, j)`,

.. math::

   (Hv)_P = G Q + F V_I + \tfrac{\lambda}{n}\,c_U \odot V_U,\qquad
   (Hv)_Q = G^\top P + F^\top V_U + \tfrac{\lambda}{n}\,c_I \odot V_I.

Six dense products of ``U x I x d`` and two scalar gathers and scatters over the rows replace three
vector scatter-adds over the rows: several times faster when ``U * I`` is not much larger than
the rows times ``d`` (ML-100K, ML-1M), so it is used up to :data:`PAIR_MATRIX_MAX_ENTRIES` pairs.
The rows are kept sorted by user, so that the gathers and scatters run along memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ..models.base import EmbeddingModel
from ..models.mf import MF
from ..models.objectives import Batch, BCEObjective, BPRObjective
from .hvp import InfluenceProblem

__all__ = ["MFCurvature", "PAIR_MATRIX_MAX_ENTRIES", "TableCurvature", "mf_surrogate", "supports_closed_form"]

#: the largest ``U * I`` for which products go through dense user-item matrices (2^25 entries, 128 MiB in float32;
#: ML-1M's 6,040 x 3,706 is two thirds of it)
PAIR_MATRIX_MAX_ENTRIES = 2 ** 25


def _pointwise_or_pairwise(model: EmbeddingModel) -> bool:
    """Whether ``model`` trains with BCE or BPR, the losses the closed form covers."""
    return isinstance(model.objective, (BCEObjective, BPRObjective))


def supports_closed_form(model: EmbeddingModel) -> bool:
    """Whether :class:`MFCurvature` applies: MF (scores from the raw embeddings) with BCE or BPR."""
    return isinstance(model, MF) and _pointwise_or_pairwise(model)


def mf_surrogate(model: EmbeddingModel) -> MF:
    """An MF over ``model``'s own embedding tables (shared, not copied) and objective: ``model``'s scores
    without propagation. IFRU's official code takes LightGCN's Hessian of this surrogate (the raw layer-0
    embeddings' inner products), and only the right-hand side through the graph."""
    surrogate = MF(model.num_users, model.num_items, model.emb_dim, model.objective, init_std=0.0)
    surrogate.user_emb, surrogate.item_emb = model.user_emb, model.item_emb
    return surrogate


class TableCurvature(ABC):
    """A Hessian of a model's loss over its two embedding tables, given by :meth:`hvp_tables`; products over the
    rows of an :class:`~.hvp.InfluenceProblem` follow from it (:meth:`problem_hvp`).

    Attributes:
        model: the model whose tables ``user_emb`` [U, d] and ``item_emb`` [I, d] the Hessian is over.
        dim: ``d``.
    """

    model: EmbeddingModel
    dim: int

    @abstractmethod
    def hvp_tables(self, v_users: Tensor, v_items: Tensor) -> tuple[Tensor, Tensor]:
        """``H v`` for ``v`` given as two full tables ([U, d], [I, d]); returns the same two tables."""

    def problem_hvp(self, problem: InfluenceProblem):
        """``v (p,) -> H v (p,)`` over the rows of ``problem`` (built on the same model and batch by
        :func:`~.recommender.recommender_problem`): ``v`` is zero outside them (psi fixed), as
        :meth:`~.hvp.InfluenceProblem.hvp`."""
        tables = self._tables(problem)

        def matvec(v: Tensor) -> Tensor:
            full = [torch.zeros_like(t) for t in (self.model.user_emb, self.model.item_emb)]
            offset = 0
            for index, rows in tables:
                size = (full[index].shape[0] if rows is None else len(rows)) * self.dim
                piece = v[offset:offset + size].view(-1, self.dim)
                if rows is None:
                    full[index] = piece.clone()
                else:
                    full[index][rows] = piece
                offset += size
            out = self.hvp_tables(*full)
            return torch.cat([(out[index] if rows is None else out[index][rows]).reshape(-1)
                              for index, rows in tables])
        return matvec

    def _tables(self, problem: InfluenceProblem) -> list[tuple[int, Tensor | None]]:
        """Per block of ``problem``: 0 (users) or 1 (items) and its rows."""
        which = {id(self.model.user_emb): 0, id(self.model.item_emb): 1}
        if any(id(b.tensor) not in which for b in problem.blocks):
            raise ValueError("the problem has a parameter block that is not an embedding table of the model")
        return [(which[id(b.tensor)], b.rows) for b in problem.blocks]


class MFCurvature(TableCurvature):
    r"""The Hessian of MF's mean loss over ``batch`` at the model's current parameters, in closed form.

    Args:
        model: an MF with a BCE or BPR objective (another embedding model with one of them when ``tables`` is
            given).
        batch: D as one batch (:func:`~.recommender.full_batch`), ``n`` rows.
        pair_matrices: compute through ``[U, I]`` matrices (``True``), row by row (``False``), or
            decide by size (``None``: matrices up to :data:`PAIR_MATRIX_MAX_ENTRIES` pairs).
        gauss_newton: drop the residual term :math:`f'_t\,\nabla^2 x_t` and keep
            :math:`\frac1n\sum_t f''_t\nabla x_t\nabla x_t^\top` (plus L2): the generalised Gauss-Newton
            matrix, positive semi-definite wherever the model stopped (Martens 2010). It equals the Hessian
            where every residual :math:`f'_t` vanishes and has the same diagonal.
        tables: the ``(users [U, d], items [I, d])`` whose inner products score (default: the model's own
            embedding tables); LightGCN's curvature passes its final embeddings
            (:class:`~.lightgcn_curvature.LightGCNCurvature`). The L2 term stays on the model's own rows.

    Raises:
        TypeError: another model or loss without ``tables`` (LightGCN mixes rows through the graph: see
            :class:`~.lightgcn_curvature.LightGCNCurvature`; WMF is not per row), or a loss other than BCE or BPR.
    """

    @torch.no_grad()
    def __init__(self, model: EmbeddingModel, batch: Batch, pair_matrices: bool | None = None,
                 gauss_newton: bool = False, tables: tuple[Tensor, Tensor] | None = None) -> None:
        if not (supports_closed_form(model) if tables is None else _pointwise_or_pairwise(model)):
            raise TypeError(f"closed-form curvature needs MF with BCE or BPR, got {type(model).__name__} with "
                            f"{type(model.objective).__name__}")
        self.model, self.own_tables = model, tables is None
        P, Q = (model.user_emb, model.item_emb) if tables is None else tables
        P, Q = P.detach(), Q.detach()
        self.P, self.Q = P, Q
        self.num_users, self.num_items, self.dim = P.shape[0], Q.shape[0], P.shape[1]
        self.n, self.reg = len(batch["users"]), float(model.objective.reg)
        self.pairwise = "pos" in batch
        first_item = batch["pos"] if "pos" in batch else batch["items"]
        order = torch.argsort(batch["users"] * model.item_emb.shape[0] + first_item)  # rows by (u, i): local access
        self.users = batch["users"][order]
        self.items = (batch["pos"] if self.pairwise else batch["items"])[order]
        self.negatives = batch["neg"][order] if self.pairwise else None
        self.p = P.index_select(0, self.users)                                          # [n, d]
        self.a = Q.index_select(0, self.items)
        if self.negatives is not None:
            self.a = self.a - Q.index_select(0, self.negatives)
        x = (self.p * self.a).sum(1)
        self.f1 = (-torch.sigmoid(-x) if self.pairwise else torch.sigmoid(x) - batch["labels"][order]) / self.n
        if gauss_newton:
            self.f1 = torch.zeros_like(self.f1)
        self.f2 = torch.sigmoid(x) * torch.sigmoid(-x) / self.n
        count_u = torch.bincount(self.users, minlength=self.num_users)
        count_i = torch.bincount(self.items, minlength=self.num_items)
        if self.negatives is not None:
            count_i = count_i + torch.bincount(self.negatives, minlength=self.num_items)
        self.l2_users = (self.reg / self.n) * count_u.to(P.dtype)[:, None]               # [U, 1]
        self.l2_items = (self.reg / self.n) * count_i.to(P.dtype)[:, None]               # [I, 1]
        self.pair_matrices = (self.num_users * self.num_items <= PAIR_MATRIX_MAX_ENTRIES if pair_matrices is None
                              else pair_matrices)
        if self.pair_matrices:
            self.key_pos = self.users * self.num_items + self.items                       # flat (u, i) of each row
            self.key_neg = None if self.negatives is None else self.users * self.num_items + self.negatives
            self.first = self._pair_matrix(self.f1)                                       # F [U, I]

    def _pair_matrix(self, weights: Tensor, sign: float = -1.0) -> Tensor:
        """``[U, I]``: ``weights`` [n] added at each row's ``(u, i)`` and, for BPR, ``sign`` times at ``(u, j)``."""
        size = self.num_users * self.num_items
        out = torch.bincount(self.key_pos, weights=weights, minlength=size)
        if self.key_neg is not None:
            out = out + sign * torch.bincount(self.key_neg, weights=weights, minlength=size)
        return out.to(weights.dtype).view(self.num_users, self.num_items)

    def _pair_difference(self, matrix: Tensor) -> Tensor:
        """``[n]``: ``matrix[u, i] - matrix[u, j]`` per row (``matrix[u, i]`` for BCE)."""
        flat = matrix.reshape(-1)
        out = flat.take(self.key_pos)
        return out if self.key_neg is None else out - flat.take(self.key_neg)

    @torch.no_grad()
    def hvp_tables(self, v_users: Tensor, v_items: Tensor, l2: bool = True) -> tuple[Tensor, Tensor]:
        """``H v`` for ``v`` given as two full tables ([U, d], [I, d]); returns the same two tables (``l2=False``:
        the data term's Hessian alone)."""
        base_users = self.l2_users * v_users if l2 else torch.zeros_like(v_users)
        base_items = self.l2_items * v_items if l2 else torch.zeros_like(v_items)
        if self.pair_matrices:
            second = self._pair_matrix(self.f2 * self._pair_difference(v_users @ self.Q.T + self.P @ v_items.T))
            return (torch.addmm(torch.addmm(base_users, second, self.Q), self.first, v_items),
                    torch.addmm(torch.addmm(base_items, second.T, self.P), self.first.T, v_users))
        vu = v_users.index_select(0, self.users)
        va = v_items.index_select(0, self.items)
        if self.negatives is not None:
            va = va - v_items.index_select(0, self.negatives)
        second = (self.f2 * ((vu * self.a).sum(1) + (self.p * va).sum(1)))[:, None]     # f'' dx / n
        first = self.f1[:, None]
        out_users = base_users.index_add_(0, self.users, second * self.a + first * va)
        to_item = second * self.p + first * vu
        out_items = base_items.index_add_(0, self.items, to_item)
        if self.negatives is not None:
            out_items.index_add_(0, self.negatives, -to_item)
        return out_users, out_items

    @torch.no_grad()
    def diagonal(self) -> tuple[Tensor, Tensor]:
        """``(users [U, d], items [I, d])``: the Hessian's diagonal, as two tables shaped like the embeddings.

        Raises:
            ValueError: other ``tables`` than the model's own score (the diagonal is then not the model's).
        """
        if not self.own_tables:
            raise ValueError("the diagonal is the model's only when its own embedding tables score")
        users = (self.l2_users * torch.ones_like(self.P)).index_add_(0, self.users, self.f2[:, None] * self.a ** 2)
        items = self.l2_items * torch.ones_like(self.Q)
        if self.pair_matrices:     # sum_u W[u, i] p_u^2, W adding f'' at (u, i) and at (u, j)
            return users, items + self._pair_matrix(self.f2, sign=1.0).T @ self.P ** 2
        squares = self.f2[:, None] * self.p ** 2
        items.index_add_(0, self.items, squares)
        if self.negatives is not None:
            items.index_add_(0, self.negatives, squares)
        return users, items

    def problem_diagonal(self, problem: InfluenceProblem, diagonal: tuple[Tensor, Tensor] | None = None) -> Tensor:
        """float [p]: the diagonal in the order of ``problem``'s flat vector (``diagonal``: :meth:`diagonal`, when
        the caller has it already)."""
        diagonal = self.diagonal() if diagonal is None else diagonal
        return torch.cat([(diagonal[index] if rows is None else diagonal[index][rows]).reshape(-1)
                          for index, rows in self._tables(problem)])
