r"""LightGCN's curvature in closed form: MF's at the final embeddings, propagated on both sides.

LightGCN's final embeddings are linear in its layer-0 (ego) embeddings :math:`E_0` [(U+I), d]:
:math:`E = M E_0` with :math:`M = \frac{1}{K+1}\sum_{k=0}^{K}\hat A^k` (He et al. 2020, Eq. 7-9), and
:math:`M` is symmetric because :math:`\hat A = D^{-1/2} A D^{-1/2}` is. A row of a batch scores with the
final embeddings as MF scores with its own, and its L2 share is on the ego rows
(:class:`~rec_unlearn_lib.models.objectives.Objective`), so the mean loss is
:math:`J(E_0) = J_{data}(M E_0) + \frac{\lambda}{2n}\sum_t\|\text{ego rows of } t\|^2` and, :math:`M` being
linear (no second derivative of its own),

.. math::

   \nabla^2 J(E_0) = M\,\nabla^2_E J_{data}\,M + \tfrac{\lambda}{n}\mathrm{diag}(c)

exactly, where :math:`\nabla^2_E J_{data}` is MF's data-term Hessian at the final embeddings
(:class:`~.mf_curvature.MFCurvature`, the residual term included) and :math:`c` counts each ego row's
appearances in the batch. A product with :math:`v` is one propagation of :math:`v`, MF's closed-form
product, and one propagation back: :math:`2K` graph products and MF's cost, against a backward pass
through the gradient's graph for autograd's double backward (:meth:`~.hvp.InfluenceProblem.hvp`), which
keeps the propagation's intermediate results of both passes. This is the Hessian of the loss on the graph
the model holds (D's, where IFRU takes :math:`H`); IFRU's official code takes the Hessian of the MF
surrogate instead (:func:`~.mf_curvature.mf_surrogate`: :math:`M = I`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.base import EmbeddingModel
from ..models.lightgcn import LightGCN
from ..models.objectives import Batch, BCEObjective, BPRObjective
from .mf_curvature import MFCurvature, TableCurvature, supports_closed_form

__all__ = ["LightGCNCurvature", "closed_form_curvature"]


class LightGCNCurvature(TableCurvature):
    """The Hessian of LightGCN's mean loss over ``batch`` at the model's current parameters and on its own graph,
    in closed form (see the module's docstring).

    Args:
        model: a LightGCN with a BCE or BPR objective and its graph (:meth:`~.LightGCN.fit_data`).
        batch: D as one batch (:func:`~.recommender.full_batch`), ``n`` rows.
        pair_matrices: as :class:`~.mf_curvature.MFCurvature`.

    Raises:
        TypeError: another model or loss.
    """

    @torch.no_grad()
    def __init__(self, model: LightGCN, batch: Batch, pair_matrices: bool | None = None) -> None:
        if not isinstance(model, LightGCN):
            raise TypeError(f"LightGCN's curvature needs a LightGCN, got {type(model).__name__}")
        if not isinstance(model.objective, (BCEObjective, BPRObjective)):
            raise TypeError(f"LightGCN's closed-form curvature needs BCE or BPR, got "
                            f"{type(model.objective).__name__}")
        self.model, self.dim, self.graph = model, model.emb_dim, model.graph
        self.final = MFCurvature(model, batch, pair_matrices, tables=model.representations())

    @torch.no_grad()
    def hvp_tables(self, v_users: Tensor, v_items: Tensor) -> tuple[Tensor, Tensor]:
        """``H v = M H_data M v + (lambda / n) c * v`` for ``v`` given as two full tables ([U, d], [I, d])."""
        propagated = self.model.propagate_tables(self.graph, v_users, v_items)
        users, items = self.model.propagate_tables(self.graph, *self.final.hvp_tables(*propagated, l2=False))
        return users + self.final.l2_users * v_users, items + self.final.l2_items * v_items


def closed_form_curvature(model: EmbeddingModel, batch: Batch, gauss_newton: bool = False) -> TableCurvature | None:
    """The closed-form Hessian of ``model``'s loss over ``batch``: :class:`~.mf_curvature.MFCurvature` for MF,
    :class:`LightGCNCurvature` for LightGCN (both with BCE or BPR), ``None`` for any other model (WMF's
    whole-data loss), whose products go through autograd. ``gauss_newton`` (MF only) drops the residual term.

    Raises:
        ValueError: ``gauss_newton`` for a model other than MF.
    """
    if supports_closed_form(model):
        return MFCurvature(model, batch, gauss_newton=gauss_newton)
    if gauss_newton:
        raise ValueError(f"the Gauss-Newton curvature is implemented for MF, not {type(model).__name__}")
    if isinstance(model, LightGCN) and isinstance(model.objective, (BCEObjective, BPRObjective)):
        return LightGCNCurvature(model, batch)
    return None
