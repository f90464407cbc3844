r"""The influence-function unlearning update for removing a forget set D_f.

Setting. The model was trained to a minimiser :math:`\hat\theta` of

.. math:: J(\theta; D) = \frac{1}{|D|}\sum_{z\in D}\ell(z;\theta) + \Omega(\theta)
          = \frac{1}{|D|}\sum_{z\in D} f(z;\theta),\qquad f(z;\theta) = \ell(z;\theta) + \Omega(\theta),

and retraining means minimising :math:`J(\theta; D\setminus D_f)`: the mean loss over the
:math:`n-k` retained points with the SAME regulariser (``n = |D|``, ``k = |D_f|``). Writing the
objective as a mean of regularised per-point terms :math:`f` (Koh & Liang 2017's convention) makes
removal exact in the :math:`\epsilon`-weighting argument.

Update (UBPR, Chen et al. 2025, Eq. 7/15; IFRU, Zhang et al. 2024, Eq. 12-14 and 19 for a
parameter subset phi):

.. math:: \theta^* = \hat\theta + \frac{1}{m} A^{-1} g_f,\qquad
          g_f = \nabla_\phi\Big[\sum_{z\in D_f}\ell(z;\hat\theta) + k\,\Omega(\hat\theta)\Big],

with two choices of curvature (``hessian_of``):

* ``"full"`` (default; IFRU/UBPR and the official IFRU code): :math:`A = H = \nabla^2 J(\hat\theta;D)`,
  :math:`m = n`. This is the first-order (in :math:`\epsilon=-1/n`) influence estimate.
* ``"retain"``: :math:`A = H_{-f} = \nabla^2 J(\hat\theta; D\setminus D_f)
  = (nH - \nabla^2\sum_{D_f} f)/(n-k)`, :math:`m = n - k`. Because
  :math:`\nabla J(\hat\theta;D)=0`, :math:`\nabla J(\hat\theta;D\setminus D_f) = -g_f/(n-k)`, so this is
  exactly ONE NEWTON STEP from :math:`\hat\theta` on the retraining objective; its error is second
  order in the step, while ``"full"`` also carries the first-order mismatch between
  :math:`H` and :math:`H_{-f}` (relative error O(k/n) with a larger constant). Each matvec costs
  an HVP on D and one on D_f.

The :math:`k\,\Omega` term: since :math:`\sum_D \nabla f = 0` at :math:`\hat\theta`,
:math:`g_f = \sum_{D_f}\nabla f = -\sum_{D\setminus D_f}\nabla f`, i.e. the forget gradient must
carry the removed points' share of the regulariser. Dropping it (``regularizer_in_forget=False``)
is right only if retraining keeps :math:`\sum \ell + R(\theta)` with a fixed :math:`R`, i.e. the
regulariser weight grows relative to the mean loss after removal. With no regulariser (the IFRU
setting, ``regs=0``) both conventions coincide.

Normalisation lives in one place, :func:`influence_unlearn`: the solver solves
:math:`A t = g_f` for the un-normalised :math:`t` (IFRU's ``p``, so the official Adam learning
rates carry over) and :math:`\Delta = t / m`.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Literal

import torch
from torch import Tensor

from ..timing import Stopwatch
from .hvp import InfluenceProblem, LossClosure
from .solvers import MatVec, SolverResult, solve

__all__ = ["forget_gradient", "influence_unlearn", "HessianOf"]

HessianOf = Literal["full", "retain"]


def _forget_objective(problem: InfluenceProblem, forget_loss_sum: LossClosure, num_forget: int,
                      regularizer_in_forget: bool) -> LossClosure:
    """Closure for ``sum_{D_f} l + k * Omega`` (the regulariser only if asked and present)."""
    reg = problem.regularizer
    if not regularizer_in_forget or reg is None:
        return forget_loss_sum
    return lambda: forget_loss_sum() + num_forget * reg()


def forget_gradient(problem: InfluenceProblem, forget_loss_sum: LossClosure, num_forget: int,
                    *, regularizer_in_forget: bool = True) -> Tensor:
    r"""The forget gradient :math:`g_f = \nabla_\phi[\sum_{D_f}\ell + k\Omega]`, shape ``(p,)``.

    Args:
        forget_loss_sum: closure returning the SUM (not mean) loss over D_f with the labels as
            trained (IFRU: :math:`L_d + L_s`, Eq. 8-9, including spillover terms if any).
        num_forget: ``k = |D_f|``, used only for the regulariser share.
    """
    return problem.grad(_forget_objective(problem, forget_loss_sum, num_forget,
                                          regularizer_in_forget))


def influence_unlearn(
    problem: InfluenceProblem,
    forget_loss_sum: LossClosure,
    num_train: int,
    num_forget: int,
    *,
    solver: str = "cg",
    hessian_of: HessianOf = "full",
    regularizer_in_forget: bool = True,
    apply: bool = False,
    hvp: MatVec | None = None,
    **solver_kwargs: Any,
) -> tuple[Tensor, SolverResult]:
    r"""Influence-function update :math:`\Delta` that removes D_f: :math:`\phi^* = \hat\phi + \Delta`.

    :math:`\Delta = \frac{1}{m}A^{-1}g_f` (see the module docstring): with ``hessian_of="full"``
    it is UBPR Eq. 15 / IFRU Eq. 14 and 19, :math:`\Delta = \frac{1}{|D|}H^{-1}\nabla\sum_{D_f}f`
    with :math:`H` the Hessian of the MEAN objective over all of D (regulariser included, from
    ``problem``); with ``"retain"`` it is one Newton step on the retraining objective.

    Args:
        problem: the adapter; ``problem.loss_fn`` is the MEAN loss over all of D.
        forget_loss_sum: closure returning the SUM loss over D_f (labels as trained).
        num_train: ``n = |D|``, forget rows included.
        num_forget: ``k = |D_f|``. ``k = 0`` returns a zero update and a ``solver="none"`` result
            without any gradient, HVP or solver call (phi is left bit-for-bit unchanged).
        solver: ``"cg"`` (default), ``"direct"``, ``"lissa"`` or ``"adam"``; ``solver_kwargs``
            (``damping``, ``rtol``, ``max_iter``, ``lr``, ``on_fail``, ...) go to it.
        hessian_of: ``"full"`` or ``"retain"``.
        regularizer_in_forget: add ``k * Omega`` to the forget loss (see module docstring).
        apply: also write ``phi <- phi + Delta`` into the model (via ``problem.apply_update``).
        hvp: ``v -> H v`` over phi in closed form (e.g. :meth:`~.mf_curvature.MFCurvature.problem_hvp`), used
            instead of ``problem.hvp`` (then no first-order graph is built); ``hessian_of="full"`` only.

    Returns:
        ``(delta, result)``: ``delta`` of shape ``(p,)``; ``result.solution`` is the un-normalised
        ``t = A^{-1} g_f`` (IFRU's ``p``), so ``delta = t / m``. ``result.seconds`` covers the solver;
        ``result.diagnostics`` splits the call into ``rhs_seconds`` (the forget gradient),
        ``solve_seconds`` (the first-order graph of J and the solver) and ``apply_seconds``, with
        ``total_seconds`` over all.

    Cost: one gradient on D_f plus the solver's matvecs, each an HVP on D (and on D_f for
    ``"retain"``); the first-order graph of J is built once (``problem.frozen_graph``).
    """
    n, k = int(num_train), int(num_forget)
    if n <= 0 or k < 0 or k >= n:
        raise ValueError(f"need 0 <= num_forget < num_train, got num_forget={k}, num_train={n}")
    if hessian_of not in ("full", "retain"):
        raise ValueError(f"hessian_of must be 'full' or 'retain', got {hessian_of!r}")
    watch = Stopwatch(problem.device)
    p = problem.num_params
    if k == 0:  # nothing to forget: no solver call, theta unchanged exactly
        zero = torch.zeros(p, dtype=problem.dtype, device=problem.device)
        return zero, SolverResult(solution=zero.clone(), solver="none", converged=True,
                                  iterations=0, num_matvec=0, residual_norm=0.0,
                                  relative_residual=0.0, rhs_norm=0.0,
                                  damping=float(solver_kwargs.get("damping", 0.0)), seconds=0.0,
                                  message="empty forget set: nothing to unlearn",
                                  diagnostics={"total_seconds": 0.0, "hessian_of": hessian_of,
                                               "normaliser": math.nan})

    if hvp is not None and hessian_of != "full":
        raise ValueError("a closed-form hvp is the Hessian over all of D: use hessian_of='full'")
    forget_obj = _forget_objective(problem, forget_loss_sum, k, regularizer_in_forget)
    g = problem.grad(forget_obj)
    rhs_seconds, watch_solve = watch.elapsed(), Stopwatch(problem.device)
    with contextlib.ExitStack() as stack:
        if hvp is None:
            stack.enter_context(problem.frozen_graph())
        if hessian_of == "full":
            m = float(n)
            matvec = problem.hvp if hvp is None else hvp
        else:
            m = float(n - k)
            forget_problem = problem.with_loss(forget_obj)
            stack.enter_context(forget_problem.frozen_graph())

            def matvec(v: Tensor) -> Tensor:
                return (n * problem.hvp(v) - forget_problem.hvp(v)) / (n - k)

        result = solve(matvec, g, method=solver, **solver_kwargs)
    solve_seconds, watch_apply = watch_solve.elapsed(), Stopwatch(problem.device)
    delta = result.solution / m  # THE normalisation: Delta = A^{-1} g_f / m
    if apply:
        problem.apply_update(delta)
    result.diagnostics.update({"rhs_seconds": rhs_seconds, "solve_seconds": solve_seconds,
                               "apply_seconds": watch_apply.elapsed(), "total_seconds": watch.elapsed(),
                               "hessian_of": hessian_of, "normaliser": m})
    return delta, result
