r"""Block-Jacobi preconditioning of the influence system :math:`(H + \mu I)t = b`.

Conjugate gradient preconditioned by :math:`M = \mathrm{blockdiag}(H) + \mu I`, one
:math:`d \times d` block per embedding row, solves the same system to the same tolerance, usually
in fewer iterations: each row's scale and the correlations of its :math:`d` coordinates are taken
out, the coupling between rows (where an indefinite Hessian's negative curvature lives) is left to
CG. For MF the blocks are the Gauss-Newton terms, positive semi-definite
(:meth:`~.mf_curvature.MFCurvature.problem_blocks`).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

__all__ = ["block_jacobi"]


def block_jacobi(blocks: Tensor, damping: float = 0.0) -> Callable[[Tensor], Tensor]:
    """``r (p,) -> (blocks + damping I)^{-1} r`` row by row, with ``p = R * d`` for ``blocks`` [R, d, d].

    Factorised once (batched Cholesky). A block that is not positive definite (a row no loss term
    reads, with ``damping = 0`` and no L2) is replaced by the identity: a preconditioner only has to be
    symmetric positive definite, not exact.
    """
    rows, d = blocks.shape[0], blocks.shape[-1]
    eye = torch.eye(d, dtype=blocks.dtype, device=blocks.device)
    factor, info = torch.linalg.cholesky_ex(blocks + damping * eye)
    if bool((info > 0).any()):
        factor[info > 0] = eye

    def apply(r: Tensor) -> Tensor:
        return torch.cholesky_solve(r.reshape(rows, d, 1), factor).reshape(-1)
    return apply
