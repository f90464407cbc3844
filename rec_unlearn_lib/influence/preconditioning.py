r"""Jacobi (diagonal) preconditioning of the influence system :math:`(H + \mu I)t = b`.

Conjugate gradient preconditioned by :math:`M = \mathrm{diag}(H) + \mu I` solves the same system to
the same tolerance, usually in fewer iterations: each coordinate's scale (a popular item's row is
curved far more than a rare one's) is taken out, and the coupling between coordinates (where an
indefinite Hessian's negative curvature lives) is left to CG. For MF the diagonal is the Gauss-Newton
term's, non-negative (:meth:`~.mf_curvature.MFCurvature.problem_diagonal`), and costs one pass over the
rows. The diagonal *blocks* (one :math:`d\times d` block per embedding row) take out more and save
iterations, but building and applying them cost more than the iterations they saved (measured with
MF and BPR-MF on ML-100K).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["jacobi"]


def jacobi(diagonal: Tensor, damping: float = 0.0) -> Callable[[Tensor], Tensor]:
    """``r (p,) -> r / (diagonal + damping)``, for ``diagonal`` [p].

    An entry that is not positive (a coordinate no loss term reads, with ``damping = 0`` and no L2) is
    replaced by 1: a preconditioner only has to be symmetric positive definite, not exact.
    """
    scale = diagonal + damping
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))

    def apply(r: Tensor) -> Tensor:
        return r / scale
    return apply
