"""Solvers for the damped linear system ``(H + lambda I) t = b``, behind one interface.

Every solver takes a matrix-free operator ``matvec: v -> H v`` on flat vectors of shape
``(p,)`` (e.g. :meth:`InfluenceProblem.hvp`) and a right-hand side ``b`` of shape ``(p,)``, and
returns a :class:`SolverResult`. The solvers never see the model.

* ``direct``: explicit ``H`` (``p`` matvecs, O(p^2) memory) and a Cholesky solve, O(p^3);
  the reference on small problems (Koh & Liang 2017's exact inverse).
* ``cg``: conjugate gradient (Hestenes & Stiefel 1952), one matvec per iteration, at most ``p``
  iterations in exact arithmetic for an SPD system; stops with a failure on negative curvature.
* ``lissa``: the LiSSA recursion (Agarwal, Bullins & Hazan 2017) as used by Koh & Liang 2017,
  one matvec per step, converging linearly at rate ``1 - lambda_min / scale``.
* ``adam``: Adam on the quadratic ``1/2 t^T (H + lambda I) t - b^T t`` whose gradient is the
  residual ``(H + lambda I) t - b`` (IFRU, Zhang et al. 2024, Eq. 15-16 and the official code).

Convergence means ``||(H + lambda I) t - b|| <= max(rtol * ||b||, atol)``, checked with the
exact operator at the end of every solver (one extra matvec, reported in ``num_matvec``).
A solver that does not converge raises :class:`SolverDidNotConverge` (``on_fail="raise"``,
the default) or warns with :class:`SolverConvergenceWarning` and returns ``converged=False``
(``on_fail="warn"``). It never returns silently.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import torch
from torch import Tensor

from ..registry import Registry
from ..timing import Stopwatch

__all__ = [
    "MatVec",
    "OnFail",
    "SolverResult",
    "SolverDidNotConverge",
    "SolverConvergenceWarning",
    "SOLVERS",
    "default_rtol",
    "solve",
    "solve_direct",
    "solve_cg",
    "solve_lissa",
    "solve_adam",
]

MatVec = Callable[[Tensor], Tensor]
"""A matrix-free symmetric operator on flat vectors: ``v (p,) -> H v (p,)``."""

OnFail = Literal["raise", "warn"]


class SolverDidNotConverge(RuntimeError):
    """Raised when a solver stops without meeting its tolerance; ``.result`` holds the details."""

    def __init__(self, result: "SolverResult") -> None:
        super().__init__(result.summary())
        self.result = result


class SolverConvergenceWarning(RuntimeWarning):
    """Warning issued instead of :class:`SolverDidNotConverge` when ``on_fail="warn"``."""


@dataclass
class SolverResult:
    """Outcome of a linear solve ``(H + damping I) t = b``.

    Attributes:
        solution: ``t``, shape ``(p,)``.
        solver: name of the solver (``"direct"``, ``"cg"``, ``"lissa"``, ``"adam"``).
        converged: whether ``residual_norm <= max(rtol * rhs_norm, atol)``.
        iterations: iterations of the method (1 for ``direct``).
        num_matvec: operator applications, the cost unit (includes the final residual check).
        residual_norm: ``||(H + damping I) t - b||`` with the exact operator.
        relative_residual: ``residual_norm / ||b||`` (``residual_norm`` if ``b = 0``).
        rhs_norm: ``||b||``.
        damping: the lambda of the system that was asked for.
        seconds: wall time of the solve, including the final residual check.
        message: human-readable reason for stopping.
        diagnostics: solver-specific extras (e.g. LiSSA ``scale``, ``direct`` fallback damping,
            ``undamped_relative_residual = ||H t - b|| / ||b||``, residual history).
    """

    solution: Tensor
    solver: str
    converged: bool
    iterations: int
    num_matvec: int
    residual_norm: float
    relative_residual: float
    rhs_norm: float
    damping: float
    seconds: float
    message: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        status = "converged" if self.converged else "DID NOT CONVERGE"
        return (f"solver '{self.solver}' {status} after {self.iterations} iterations "
                f"({self.num_matvec} matvecs, {self.seconds:.3g} s): relative residual "
                f"{self.relative_residual:.3e} (||Ht-b|| = {self.residual_norm:.3e}, "
                f"damping {self.damping:g}). {self.message}").strip()


def default_rtol(dtype: torch.dtype) -> float:
    """Default relative residual tolerance: 1e-6 in float64, 1e-4 in lower precision."""
    return 1e-6 if dtype == torch.float64 else 1e-4


# ----------------------------------------------------------------- helpers
class _Counted:
    """Wraps ``matvec`` into the damped operator ``v -> H v + damping v`` and counts calls."""

    def __init__(self, matvec: MatVec, damping: float) -> None:
        self.matvec = matvec
        self.damping = float(damping)
        self.calls = 0

    def __call__(self, v: Tensor) -> Tensor:
        self.calls += 1
        out = self.matvec(v)
        if out.shape != v.shape:
            raise ValueError(f"matvec returned shape {tuple(out.shape)} for input {tuple(v.shape)}")
        return out + self.damping * v if self.damping else out


def _check_inputs(b: Tensor, on_fail: str, damping: float) -> None:
    if b.dim() != 1:
        raise ValueError(f"b must be a flat vector, got shape {tuple(b.shape)}")
    if on_fail not in ("raise", "warn"):
        raise ValueError(f"on_fail must be 'raise' or 'warn', got {on_fail!r}")
    if not math.isfinite(damping) or damping < 0:
        raise ValueError(f"damping must be a finite non-negative number, got {damping}")
    if not torch.isfinite(b).all():
        raise ValueError("b contains non-finite values")


def _finish(name: str, x: Tensor, op: _Counted, b: Tensor, *, iterations: int, rtol: float,
            atol: float, watch: Stopwatch, on_fail: str, message: str, failed: bool = False,
            diagnostics: dict[str, Any] | None = None, residual: Tensor | None = None
            ) -> SolverResult:
    """Exact residual, convergence verdict, result, and the on_fail policy in one place."""
    diagnostics = dict(diagnostics or {})
    if residual is None:
        residual = op(x) - b
    rhs_norm = float(b.norm())
    res_norm = float(residual.norm())
    denom = rhs_norm if rhs_norm > 0 else 1.0
    if op.damping:
        undamped = float((residual - op.damping * x).norm())
        diagnostics["undamped_relative_residual"] = undamped / denom
    ok = (not failed) and math.isfinite(res_norm) and res_norm <= max(rtol * rhs_norm, atol)
    if not ok and not failed and not message:
        message = f"tolerance rtol={rtol:g}, atol={atol:g} not met"
    result = SolverResult(
        solution=x.detach(), solver=name, converged=ok, iterations=iterations,
        num_matvec=op.calls, residual_norm=res_norm, relative_residual=res_norm / denom,
        rhs_norm=rhs_norm, damping=op.damping, seconds=watch.elapsed(),
        message=message, diagnostics=diagnostics,
    )
    if not ok:
        if on_fail == "raise":
            raise SolverDidNotConverge(result)
        warnings.warn(result.summary(), SolverConvergenceWarning, stacklevel=3)
    return result


# ------------------------------------------------------------------ direct
def solve_direct(
    matvec: MatVec,
    b: Tensor,
    *,
    damping: float = 0.0,
    matrix: Tensor | None = None,
    rtol: float | None = None,
    atol: float = 0.0,
    on_fail: OnFail = "raise",
) -> SolverResult:
    """Reference solve with the explicit matrix and a Cholesky factorisation.

    ``A = H + damping I`` is built column by column from ``matvec`` (``p`` matvecs, O(p^2)
    memory) unless ``matrix`` is given, symmetrised, and factorised with
    ``torch.linalg.cholesky_ex`` (O(p^3)). If ``A`` is not positive definite the factorisation
    is retried with extra damping ``mu`` (from ``1e-10 * max|diag A|`` up by factors of 10 until it
    succeeds); the ``mu`` used is reported in ``diagnostics["fallback_damping"]`` and the lowest
    eigenvalue in ``diagnostics["min_eigenvalue"]``. The residual is always measured on the system
    that was asked for, so a fallback solution of an indefinite system does not pass as converged.
    """
    rtol = default_rtol(b.dtype) if rtol is None else rtol
    _check_inputs(b, on_fail, damping)
    watch = Stopwatch(b.device)
    op = _Counted(matvec, damping)
    p = b.numel()
    if matrix is None:
        eye = torch.eye(p, dtype=b.dtype, device=b.device)
        a = torch.stack([op(eye[j]) for j in range(p)], dim=1)
    else:
        if matrix.shape != (p, p):
            raise ValueError(f"matrix must have shape ({p}, {p}), got {tuple(matrix.shape)}")
        a = matrix.to(b.dtype) + damping * torch.eye(p, dtype=b.dtype, device=b.device)
    a = 0.5 * (a + a.T)
    diagnostics: dict[str, Any] = {"fallback_damping": 0.0}
    chol, info = torch.linalg.cholesky_ex(a)
    message = ""
    if int(info) != 0:
        eigs = torch.linalg.eigvalsh(a)
        diagnostics["min_eigenvalue"] = float(eigs[0])
        mu = 1e-10 * max(float(a.diagonal().abs().max()), 1e-30)
        while int(info) != 0:
            mu *= 10.0
            if not math.isfinite(mu):
                raise RuntimeError("direct solver: no damping made the matrix positive definite")
            chol, info = torch.linalg.cholesky_ex(a + mu * torch.eye(p, dtype=a.dtype,
                                                                      device=a.device))
        diagnostics["fallback_damping"] = mu
        message = (f"matrix not positive definite (min eigenvalue {float(eigs[0]):.3e}); "
                   f"solved with extra damping {mu:.3e}")
    x = torch.cholesky_solve(b.unsqueeze(1), chol).squeeze(1)
    residual = a @ x - b  # the explicit matrix gives the exact residual without a matvec
    return _finish("direct", x, op, b, iterations=1, rtol=rtol, atol=atol, watch=watch,
                   on_fail=on_fail, message=message, diagnostics=diagnostics, residual=residual)


# ---------------------------------------------------------------------- cg
def solve_cg(
    matvec: MatVec,
    b: Tensor,
    *,
    damping: float = 0.0,
    rtol: float | None = None,
    atol: float = 0.0,
    max_iter: int = 1000,
    x0: Tensor | None = None,
    on_fail: OnFail = "raise",
    preconditioner: Callable[[Tensor], Tensor] | None = None,
) -> SolverResult:
    """Conjugate gradient on ``(H + damping I) t = b``, optionally preconditioned.

    One matvec per iteration. Stops when the recursive residual meets the tolerance, after
    ``max_iter`` iterations, or on negative curvature: if a search direction has
    ``p^T (H + damping I) p <= 0`` the operator is not positive definite, CG's minimisation
    argument fails, and the solve is reported as failed (add damping). The returned iterate is the
    last one before the failure.

    ``preconditioner``: ``r -> M^{-1} r`` for a symmetric positive definite ``M`` that approximates
    ``H + damping I`` (e.g. :func:`~.preconditioning.jacobi`): the same system and tolerance, fewer
    iterations when ``M`` captures ``H``'s scales (preconditioned CG, Saad 2003, Algorithm 9.1).
    """
    rtol = default_rtol(b.dtype) if rtol is None else rtol
    _check_inputs(b, on_fail, damping)
    watch = Stopwatch(b.device)
    op = _Counted(matvec, damping)
    precondition = preconditioner if preconditioner is not None else (lambda r: r)
    tol = max(rtol * float(b.norm()), atol)
    x = torch.zeros_like(b) if x0 is None else x0.detach().clone().to(b)
    r = b - op(x) if x0 is not None else b.clone()
    z = precondition(r)
    d = z.clone()
    rz = float(r @ z)
    history = [float(r.norm())]
    it, failed, message = 0, False, ""
    while history[-1] > tol and it < max_iter:
        ad = op(d)
        curvature = float(d @ ad)
        if not curvature > 0:  # also catches NaN
            failed = True
            message = (f"negative curvature p^T(H+{damping:g}I)p = {curvature:.3e} <= 0 at "
                       f"iteration {it + 1}: the damped Hessian is not positive definite "
                       f"(increase damping)")
            break
        alpha = rz / curvature
        x = x + alpha * d
        r = r - alpha * ad
        z = precondition(r)
        rz_new = float(r @ z)
        d = z + (rz_new / rz) * d
        rz = rz_new
        it += 1
        history.append(float(r.norm()))
    if not failed and history[-1] > tol:
        message = f"max_iter={max_iter} reached"
    return _finish("cg", x, op, b, iterations=it, rtol=rtol, atol=atol, watch=watch,
                   on_fail=on_fail, message=message, failed=failed,
                   diagnostics={"residual_history": history, "preconditioned": preconditioner is not None})


# ------------------------------------------------------------------- lissa
def _spectral_radius(op: Callable[[Tensor], Tensor], b: Tensor, iters: int,
                     generator: torch.Generator | None) -> float:
    """Power-iteration estimate of ``max |eig|`` of a symmetric operator (``iters`` matvecs)."""
    v = torch.randn(b.shape, dtype=b.dtype, device=b.device, generator=generator)
    if float(v.norm()) == 0.0:
        return 0.0
    v = v / v.norm()
    est = 0.0
    for _ in range(iters):
        w = op(v)
        est = float(w.norm())
        if est == 0.0:
            return 0.0
        v = w / est
    return est


def solve_lissa(
    matvec: MatVec,
    b: Tensor,
    *,
    damping: float = 0.0,
    scale: float | None = None,
    depth: int = 10_000,
    repeats: int = 1,
    rtol: float | None = None,
    atol: float = 0.0,
    stochastic_matvecs: Sequence[MatVec] | None = None,
    generator: torch.Generator | None = None,
    power_iters: int = 30,
    on_fail: OnFail = "raise",
) -> SolverResult:
    """LiSSA: the truncated Neumann series for ``(H + damping I)^{-1} b``.

    With ``A = H + damping I``, the recursion (Agarwal et al. 2017; Koh & Liang 2017, Sec. 3)
    ``u_0 = b, u_{j+1} = b + (I - A / scale) u_j`` gives ``u_j / scale -> A^{-1} b`` when
    ``0 < eig(A) < 2 scale``; we iterate ``x_j = u_j / scale`` directly, i.e.
    ``x_{j+1} = x_j + (b - A x_j) / scale`` (Richardson iteration), linear rate
    ``1 - lambda_min(A) / scale``.

    Args:
        scale: must exceed ``lambda_max(A) / 2``; ``None`` estimates ``lambda_max`` by
            ``power_iters`` matvecs of power iteration and uses 1.05 times it
            (``diagnostics["scale"]``).
        depth: maximum recursion steps per repeat (one matvec each).
        repeats: independent recursions averaged (useful only with ``stochastic_matvecs``).
        stochastic_matvecs: if given, each step uses one of these operators (e.g. mini-batch
            HVPs, :meth:`InfluenceProblem.hvp` with a batch loss), drawn uniformly with
            ``generator``; ``matvec`` is then only used for the scale estimate and the final exact
            residual. The convergence check uses the recursion's update size
            ``scale * ||x_{j+1} - x_j||``, a noisy residual estimate; otherwise it is the exact
            residual, which the recursion computes anyway.
        generator: random source for the power-iteration start and the batch draws; ``None``
            uses a fresh generator seeded with 0 (deterministic; the global RNG is not touched).
    """
    rtol = default_rtol(b.dtype) if rtol is None else rtol
    _check_inputs(b, on_fail, damping)
    if repeats < 1 or depth < 1:
        raise ValueError("repeats and depth must be >= 1")
    if generator is None:  # deterministic, and leaves the global RNG untouched
        generator = torch.Generator(device=b.device).manual_seed(0)
    watch = Stopwatch(b.device)
    op = _Counted(matvec, damping)
    diagnostics: dict[str, Any] = {}
    if scale is None:
        scale = 1.05 * _spectral_radius(op, b, power_iters, generator)
        if scale == 0.0:
            scale = 1.0
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    diagnostics["scale"] = float(scale)
    tol = max(rtol * float(b.norm()), atol)
    stoch_ops = None if stochastic_matvecs is None else [_Counted(m, damping)
                                                          for m in stochastic_matvecs]
    estimates: list[Tensor] = []
    total_steps, failed, message, history = 0, False, "", []
    for rep in range(repeats):
        x = torch.zeros_like(b)
        step_norm = float("inf")
        for j in range(depth):
            if stoch_ops is None:
                r = b - op(x)
            else:
                k = int(torch.randint(len(stoch_ops), (1,), generator=generator))
                r = b - stoch_ops[k](x)
            step_norm = float(r.norm())
            if rep == 0:
                history.append(step_norm)
            if not math.isfinite(step_norm) or step_norm > 1e6 * max(float(b.norm()), atol):
                failed = True
                message = (f"recursion diverged at step {j} (scale={scale:.3e} must exceed "
                           f"lambda_max/2 and the damped Hessian must be positive definite)")
                break
            if step_norm <= tol:
                break
            x = x + r / scale
            total_steps += 1
        estimates.append(x)
        if failed:
            break
    if stoch_ops is not None:
        op.calls += sum(s.calls for s in stoch_ops)
    x = torch.stack(estimates).mean(0)
    diagnostics["residual_history"] = history
    if not failed and len(estimates) == repeats and step_norm > tol:
        message = f"depth={depth} reached"
    return _finish("lissa", x, op, b, iterations=total_steps, rtol=rtol, atol=atol, watch=watch,
                   on_fail=on_fail, message=message, failed=failed, diagnostics=diagnostics)


# -------------------------------------------------------------------- adam
def solve_adam(
    matvec: MatVec,
    b: Tensor,
    *,
    damping: float = 0.0,
    lr: float | None = None,
    max_iter: int = 5000,
    rtol: float | None = None,
    atol: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    patience: int | None = 50,
    lr_decay: float = 0.5,
    x0: Tensor | None = None,
    on_fail: OnFail = "raise",
    select: Callable[[Tensor], float] | None = None,
    select_patience: int = 10,
) -> SolverResult:
    """Adam on ``f(t) = 1/2 t^T (H + damping I) t - b^T t`` (IFRU Eq. 15-16, iterated as its official code does).

    The gradient ``(H + damping I) t - b`` is the residual: each iteration is one matvec, the
    gradient is set by hand and one ``torch.optim.Adam`` step is taken, as in the official
    ``ifru_*.py`` scripts (which start from ``t = 0``). Where it departs from them: the official scripts
    keep a constant learning rate (tuned per data set), run up to 5000 iterations and keep the iterate of
    best *validation AUC* (labels of held-out data); this solver stops at a residual tolerance, by default
    decays the rate when the residual stalls (``patience``), and returns the iterate with the smallest
    residual, looking at no label. ``select`` runs the official rule instead.

    Args:
        lr: Adam learning rate, in the units of ``t``. IFRU solves for ``t = H^{-1} grad L_sum(D_f)``
            and used 5e3 to 2e4 for MF; ``None`` picks ``0.05 * alpha * ||b||_inf`` from the Cauchy
            step ``alpha = b^T b / b^T A b`` (one extra matvec, ``diagnostics["lr"]``).
        patience: multiply the learning rate by ``lr_decay`` when the best residual has not improved
            for this many iterations. Adam with a constant step hovers at a distance ~ lr from the
            solution, so a tolerance is only reachable with decay; ``None`` keeps the official
            constant rate.
        select: the official rule: a score of each iterate ``t`` to maximise (IFRU's code: the validation AUC of
            the model updated by ``t / |D|``). The rate stays constant; after every step the iterate is scored, the
            best is kept (``t = 0``, the model before the update, is never a candidate), and the solve stops once
            more than ``select_patience`` steps in a row have not improved it (IFRU's ``not_change > 10``), or
            after ``max_iter`` steps, keeping the best iterate so far (as the official loop's 5000). It counts
            as converged whatever its residual (reported as usual); ``diagnostics`` holds
            ``selected_iteration``, ``best_score`` and ``score_history``.
    """
    rtol = default_rtol(b.dtype) if rtol is None else rtol
    _check_inputs(b, on_fail, damping)
    watch = Stopwatch(b.device)
    op = _Counted(matvec, damping)
    tol = max(rtol * float(b.norm()), atol)
    diagnostics: dict[str, Any] = {}
    if lr is None:
        bab = float(b @ op(b))
        alpha = float(b @ b) / abs(bab) if bab != 0 else 1.0
        lr = 0.05 * alpha * float(b.abs().max()) if float(b.abs().max()) > 0 else 1e-3
    diagnostics["lr"] = float(lr)
    t = (torch.zeros_like(b) if x0 is None else x0.detach().clone().to(b)).requires_grad_(True)
    opt = torch.optim.Adam([t], lr=lr, betas=betas, eps=eps)
    if select is not None:
        return _adam_selected(t, opt, op, b, select, select_patience, max_iter, atol, watch, on_fail, diagnostics)
    best_x, best_r, best_norm = t.detach().clone(), None, float("inf")
    since_best, it, message, history = 0, 0, "", []
    while True:
        r = op(t.detach()) - b
        r_norm = float(r.norm())
        history.append(r_norm)
        if not math.isfinite(r_norm):
            message = "residual became non-finite (lr too large?)"
            break
        if r_norm < best_norm:
            best_x, best_r, best_norm, since_best = t.detach().clone(), r, r_norm, 0
        else:
            since_best += 1
        if r_norm <= tol:
            break
        if it >= max_iter:
            message = f"max_iter={max_iter} reached"
            break
        if patience is not None and since_best >= patience:
            for group in opt.param_groups:
                group["lr"] *= lr_decay
            since_best = 0
        t.grad = r
        opt.step()
        it += 1
    diagnostics["final_lr"] = float(opt.param_groups[0]["lr"])
    diagnostics["residual_history"] = history
    return _finish("adam", best_x, op, b, iterations=it, rtol=rtol, atol=atol, watch=watch,
                   on_fail=on_fail, message=message, diagnostics=diagnostics, residual=best_r)


def _adam_selected(t: Tensor, opt: torch.optim.Adam, op: _Counted, b: Tensor, select: Callable[[Tensor], float],
                   patience: int, max_iter: int, atol: float, watch: Stopwatch, on_fail: OnFail,
                   diagnostics: dict[str, Any]) -> SolverResult:
    """:func:`solve_adam` with ``select``: constant-rate Adam steps, each iterate scored, the best returned."""
    if patience < 0:
        raise ValueError(f"select_patience must be non-negative, got {patience}")
    best_x, best_score, best_it, stale, scores = t.detach().clone(), -math.inf, 0, 0, []
    it, message = 0, ""
    while stale <= patience:
        if it >= max_iter:
            message = f"max_iter={max_iter} reached before the selection stopped: "
            break
        t.grad = op(t.detach()) - b
        opt.step()
        it += 1
        scores.append(float(select(t.detach())))
        if scores[-1] > best_score:
            best_x, best_score, best_it, stale = t.detach().clone(), scores[-1], it, 0
        else:
            stale += 1
    diagnostics.update(selected_iteration=best_it, best_score=best_score, score_history=scores)
    return _finish("adam", best_x, op, b, iterations=it, rtol=math.inf, atol=atol, watch=watch, on_fail=on_fail,
                   message=f"{message}iterate {best_it} selected by its score", diagnostics=diagnostics)


SOLVERS: Registry[Callable[..., SolverResult]] = Registry("solver")
SOLVERS.add("direct", solve_direct, "explicit matrix and a Cholesky factorisation: exact, O(p^3)")
SOLVERS.add("cg", solve_cg, "conjugate gradient on Hessian-vector products (symmetric positive definite H)")
SOLVERS.add("lissa", solve_lissa, "LiSSA: the truncated Neumann series of H^-1 (Agarwal et al. 2017)")
SOLVERS.add("adam", solve_adam, "Adam on the quadratic 1/2 t'Ht - b't (IFRU's code iterates it; here with a residual stopping rule)")
"""Solver registry: name -> function with the common signature ``(matvec, b, **kwargs)``."""


def solve(matvec: MatVec, b: Tensor, method: str = "cg", **kwargs: Any) -> SolverResult:
    """Solve ``(H + damping I) t = b`` with the solver named ``method`` (see :data:`SOLVERS`).

    Keyword arguments go to the solver; all accept ``damping``, ``rtol``, ``atol`` and
    ``on_fail``.
    """
    return SOLVERS[method](matvec, b, **kwargs)
