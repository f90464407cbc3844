r"""Glue from a trained recommender to an :class:`~.hvp.InfluenceProblem`.

The influence update needs three things from a recommender (IFRU, Zhang et al. 2024, Eq. 1, 8,
13-19; UBPR, Chen et al. 2025, Eq. 3-7, 15):

1. the training set :math:`\mathcal{D}` as ONE fixed batch (:func:`full_batch`): the labelled rows
   for BCE (IFRU's protocol), or BPR's triplets: the fixed set of ``seed``
   (:func:`rec_unlearn_lib.sampling.fixed_triplets`, UBPR's data points, so the negatives sampled
   with a removed positive leave with it), or, for a model trained on fresh negatives, those of
   one epoch, ``(seed, epoch)`` (:func:`rec_unlearn_lib.sampling.bpr_triplets`: an approximation,
   since such a model minimises no single fixed loss);
2. the MEAN training loss over that batch, :math:`J(\theta;\mathcal{D})` (IFRU Eq. 1), whose
   Hessian is taken (:func:`recommender_problem`); the objectives' L2 term is per row
   (``reg/2 * ||rows of the batch||^2 / batch size``), so :math:`J` is a mean of regularised
   per-row terms :math:`f(z;\theta)` and removing rows is exactly retraining with the same
   objective;
3. the SUM of the same per-row terms over the forget rows :math:`\mathcal{D}_f`
   (:func:`forget_loss_sum`; IFRU's :math:`L_d`, Eq. 8).

Rows of the batch that belong to the forget request are found by their ``(user, item)`` pair
(:func:`forget_rows`; for BPR the pair is ``(user, positive item)``).

:func:`minimize_full_batch` trains a model to a stationary point of :math:`J` on such a batch
(full-batch L-BFGS). Influence functions describe a stationary point: a model stopped early has
:math:`\nabla J \neq 0` and the first-order argument (:math:`\nabla J(\hat\theta)=0`) fails.

Scope: the objective's loss on a batch must be a mean of per-row terms (BCE, BPR). The WMF
objective is a sum over all user-item pairs per user and is refused. For LightGCN the graph is
a constant of these closures; the spillover term :math:`L_s` of IFRU Eq. 9 (the loss change of the
remaining rows when the graph loses :math:`\mathcal{D}_f`) is added by
:mod:`~rec_unlearn_lib.influence.spillover` (:math:`\mathcal{D}_c = \emptyset` for MF).
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from ..forget import ForgetRequest
from ..interactions import Interactions
from ..models.base import EmbeddingModel
from ..models.mf import MF
from ..models.objectives import Batch, BCEObjective, BPRObjective
from ..timing import Stopwatch
from .hvp import InfluenceProblem, LossClosure
from .solvers import SolverConvergenceWarning, SolverResult, solve
from .update import HessianOf, influence_unlearn

__all__ = [
    "FitReport",
    "RecommenderInfluence",
    "forget_loss_sum",
    "forget_rows",
    "full_batch",
    "minimize_full_batch",
    "minimize_problem",
    "recommender_influence",
    "recommender_problem",
    "rows_in_batch",
    "take_rows",
]


def _item_key(batch: Batch) -> str:
    """Name of the column that holds the interaction's item: ``items`` (BCE) or ``pos`` (BPR)."""
    if "items" in batch:
        return "items"
    if "pos" in batch:
        return "pos"
    raise ValueError(f"batch has neither 'items' nor 'pos' column: {sorted(batch)}")


def _check_objective(model: EmbeddingModel) -> None:
    if not isinstance(model.objective, (BCEObjective, BPRObjective)):
        name = type(model.objective).__name__
        raise TypeError(f"influence glue needs a loss that is a mean of per-row terms (BCE or BPR), "
                        f"got {name}")
    check_row_sampling(getattr(model.objective, "sampling", "epoch"))


def check_row_sampling(sampling: str) -> None:
    """Refuse a sampler without a set of training rows D to take the influence of (the user-uniform one).

    Raises:
        ValueError: ``sampling`` is ``"user-uniform"``.
    """
    if sampling == "user-uniform":
        raise ValueError("influence needs the training data as one set of rows; the user-uniform sampler draws "
                         "batches of users, not rows: train with sampling 'epoch', 'own-items' or 'fixed'")


def full_batch(model: EmbeddingModel, train: Interactions, *, seed: int = 0, epoch: int = 0,
               device: torch.device | str | None = None) -> Batch:
    """The training set D as one batch of the model's objective, on the model's device.

    BCE with labels: every labelled row. BCE without labels: positives plus the negatives sampled
    for ``(seed, epoch)``. BPR: its fixed triplets of ``seed`` (``sampling="fixed"``, UBPR's data set;
    ``epoch`` only orders them), or those of ``bpr_triplets(train, seed, epoch)`` (``sampling="epoch"``). The same
    arguments always give the same rows, so the batch can be rebuilt at unlearning time.
    Float columns (``labels``) take the dtype of the model's parameters.

    Returns:
        dict of 1-D tensors of one length ``n`` (rows of D): ``users, items, labels`` (BCE) or
        ``users, pos, neg`` (BPR).
    """
    _check_objective(model)
    device = model.user_emb.device if device is None else torch.device(device)
    batches = list(model.objective.batches(train, sys.maxsize, seed, epoch, device))  # type: ignore[union-attr]
    if len(batches) != 1:
        raise RuntimeError(f"expected one full batch, got {len(batches)}")
    dtype = model.user_emb.dtype
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in batches[0].items()}


def take_rows(batch: Batch, rows: Tensor) -> Batch:
    """The rows of ``batch`` selected by a boolean mask or an index tensor."""
    return {k: v[rows] for k, v in batch.items()}


def forget_rows(batch: Batch, request: ForgetRequest, train: Interactions) -> Tensor:
    """bool [n]: the rows of ``batch`` (D, built from ``train``) whose ``(user, item)`` pair is in ``request`` (D_f).

    The request is validated against ``train`` by :meth:`~rec_unlearn_lib.forget.ForgetRequest.rows`
    (a pair not in training raises :class:`~rec_unlearn_lib.forget.ForgetRequestError`). For BPR the
    pair is ``(user, positive item)``: a removed interaction takes its sampled negative with it.
    For BCE with sampled negatives only the positive row matches (negatives are never training pairs).
    """
    request.rows(train)
    users = batch["users"]
    if len(request) == 0:
        return torch.zeros(len(users), dtype=torch.bool, device=users.device)
    keys = train.pair_keys(users, batch[_item_key(batch)])
    wanted = torch.as_tensor(train.pair_keys(request.users, request.items), device=users.device)
    return torch.isin(keys, wanted)


def rows_in_batch(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """``(users, items)``: the distinct user and item rows a batch reads (an item as positive or negative)."""
    users = batch["users"].unique()
    item_cols = [batch[k] for k in ("items", "pos", "neg") if k in batch]
    items = torch.cat(item_cols).unique()
    return users.cpu().numpy(), items.cpu().numpy()


def recommender_problem(model: EmbeddingModel, batch: Batch, *,
                        users: Sequence[int] | np.ndarray | Tensor | None = None,
                        items: Sequence[int] | np.ndarray | Tensor | None = None,
                        regularizer: LossClosure | None = None, local: bool = False) -> InfluenceProblem:
    r"""An :class:`InfluenceProblem` over embedding rows with the MEAN loss of ``batch`` (= D).

    ``phi`` = rows ``users`` of ``model.user_emb`` [num_users, d] followed by rows ``items`` of
    ``model.item_emb`` [num_items, d] (IFRU's pruned set, Eq. 17-19); the other rows are the
    frozen :math:`\psi`. ``None`` selects every user (item) that occurs in ``batch``: rows that
    never occur have zero gradient and zero Hessian (a singular :math:`H`), so they are left out.
    Pass ``users, items = request.touched()`` for IFRU's 0-hop set.

    ``local=True`` keeps only the ``m`` rows of ``batch`` that touch phi and scales their mean by
    ``m / n``: the gradient and Hessian with respect to phi are unchanged (rows that do not touch
    phi are constants; for MF only, since LightGCN mixes rows through the graph), the value of J is
    not, and one HVP costs O(m d) instead of O(n d) (IFRU's n' < n, Section 3.2).

    Objective: ``J = model.loss(batch)`` (+ ``regularizer``), the mean over the ``n`` rows of the
    per-row loss and its L2 share (IFRU Eq. 1). Cost of one HVP: O(n d) (one backward pass
    inside ``problem.frozen_graph()``), O(n d + \|graph\|) for LightGCN.
    """
    _check_objective(model)
    default_users, default_items = rows_in_batch(batch)
    users = default_users if users is None else users
    items = default_items if items is None else items
    blocks: list[Any] = []
    if len(users):
        blocks.append((model.user_emb, users))
    if len(items):
        blocks.append((model.item_emb, items))
    if not blocks:
        raise ValueError("no embedding rows selected")
    if not local:
        return InfluenceProblem(blocks, lambda: model.loss(batch), regularizer)
    if not isinstance(model, MF):
        raise ValueError("local=True is exact only for MF (LightGCN couples rows through the graph)")
    dev = batch["users"].device
    touch = torch.isin(batch["users"], torch.as_tensor(np.asarray(users), device=dev))
    item_set = torch.as_tensor(np.asarray(items), device=dev)
    for key in ("items", "pos", "neg"):
        if key in batch:
            touch |= torch.isin(batch[key], item_set)
    sub, scale = take_rows(batch, touch), float(touch.sum()) / len(touch)
    return InfluenceProblem(blocks, lambda: scale * model.loss(sub), regularizer)


def forget_loss_sum(model: EmbeddingModel, forget_batch: Batch) -> LossClosure:
    r"""Closure for the SUM over the forget rows of the per-row loss (IFRU's :math:`L_d`, Eq. 8).

    ``k * model.loss(forget_batch)`` with ``k`` rows: since the objective's loss (L2 share
    included) is a mean of per-row terms, this is :math:`\sum_{z\in\mathcal{D}_f} f(z;\theta)`.
    """
    k = len(forget_batch["users"])
    if k == 0:
        return lambda: torch.zeros((), dtype=model.user_emb.dtype, device=model.user_emb.device)
    return lambda: k * model.loss(forget_batch)


@dataclass
class RecommenderInfluence:
    """Everything the influence update of a forget request needs, built once.

    Attributes:
        problem: the adapter over ``phi`` with the mean loss over D.
        batch: D as one batch (``n`` rows).
        forget_mask: bool [n], the rows of D_f.
        forget_loss: closure of the SUM loss over D_f.
    """

    problem: InfluenceProblem
    batch: Batch
    forget_mask: Tensor
    forget_loss: LossClosure

    @property
    def num_train(self) -> int:
        """``n = |D|`` in rows of the batch (labelled rows for BCE, triplets for BPR)."""
        return int(self.forget_mask.numel())

    @property
    def num_forget(self) -> int:
        """``k = |D_f|`` in rows of the batch."""
        return int(self.forget_mask.sum())

    def retain_batch(self) -> Batch:
        """The batch of D without D_f: the data exact retraining uses."""
        return take_rows(self.batch, ~self.forget_mask)

    def forget_batch(self) -> Batch:
        return take_rows(self.batch, self.forget_mask)

    def unlearn(self, *, solver: str = "cg", hessian_of: HessianOf = "full", apply: bool = False,
                **solver_kwargs: Any) -> tuple[Tensor, SolverResult]:
        r""":func:`~.update.influence_unlearn` with this problem:
        :math:`\Delta = \frac{1}{n}H^{-1}\nabla_\phi\sum_{\mathcal{D}_f} f` (UBPR Eq. 15, IFRU Eq. 19).
        """
        return influence_unlearn(self.problem, self.forget_loss, self.num_train, self.num_forget,
                                 solver=solver, hessian_of=hessian_of, apply=apply, **solver_kwargs)


def recommender_influence(model: EmbeddingModel, train: Interactions, request: ForgetRequest, *,
                          rows: str | tuple[Any, Any] = "train", seed: int = 0, epoch: int = 0,
                          regularizer: LossClosure | None = None, local: bool = False
                          ) -> RecommenderInfluence:
    """Build the problem, the forget rows and the forget loss of ``request`` for ``model``.

    Args:
        model: an MF or LightGCN with a BCE or BPR objective, trained on ``train``.
        train: the training interactions D (forget rows included).
        request: the interactions to erase (must be rows of ``train``).
        rows: ``"train"``: phi = every user and item row that occurs in D (the full influence);
            ``"forget"``: phi = users and items of the request (IFRU's 0-hop pruning);
            a pair ``(users, items)`` of row indices: exactly those rows.
        seed, epoch: which BPR triplets (or sampled BCE negatives) make up D.
        local: see :func:`recommender_problem` (MF only: cheaper HVPs, same gradient and Hessian).
    """
    batch = full_batch(model, train, seed=seed, epoch=epoch)
    mask = forget_rows(batch, request, train)
    if rows == "train":
        users = items = None
    elif rows == "forget":
        users, items = request.touched()
    elif isinstance(rows, tuple) and len(rows) == 2:
        users, items = rows
    else:
        raise ValueError(f"rows must be 'train', 'forget' or (users, items), got {rows!r}")
    problem = recommender_problem(model, batch, users=users, items=items, regularizer=regularizer,
                                  local=local)
    return RecommenderInfluence(problem, batch, mask, forget_loss_sum(model, take_rows(batch, mask)))


@dataclass
class FitReport:
    """Outcome of :func:`minimize_full_batch`.

    Attributes:
        loss: final objective value.
        grad_norm: ``||grad J||`` over all trainable parameters at the end.
        iterations: L-BFGS iterations.
        seconds: wall time.
        converged: ``grad_norm <= tol``.
    """

    loss: float
    grad_norm: float
    iterations: int
    seconds: float
    converged: bool


def minimize_full_batch(model: EmbeddingModel, batch: Batch, *, tol: float = 1e-9,
                        max_iter: int = 2000, history_size: int = 50,
                        regularizer: LossClosure | None = None, check_every: int = 25) -> FitReport:
    """Minimise ``model.loss(batch)`` (+ ``regularizer``) over all parameters with full-batch L-BFGS.

    Strong-Wolfe line search, stopping when the gradient 2-norm is at most ``tol`` (checked every
    ``check_every`` iterations; the optimiser keeps its curvature history between checks) or after
    ``max_iter`` iterations (one or a few loss evaluations each, O(n d) for MF). Warm-starts from
    the current parameters, so ``minimize_full_batch(model, retain_batch)`` from the original
    model is the exact-retraining reference of the influence estimate (the minimum of the retain
    objective nearest to theta-hat: MF is not convex). Non-convergence is reported, not raised.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    watch = Stopwatch(params[0].device)

    def objective() -> Tensor:
        value = model.loss(batch)
        return value + regularizer() if regularizer is not None else value

    def grad_norm() -> float:
        with torch.enable_grad():
            grads = torch.autograd.grad(objective(), params, allow_unused=True, materialize_grads=True)
        return float(torch.cat([g.reshape(-1) for g in grads]).norm())

    # torch's own test is max|g| <= tolerance_grad, far stricter than ||g||_2 <= tol on many parameters: it only
    # stops a stalled line search here, and the 2-norm is checked between chunks of ``check_every`` iterations
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=check_every, tolerance_grad=1e-300,
                            tolerance_change=0.0, history_size=history_size,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        value = objective()
        value.backward()
        return value

    def value() -> float:
        with torch.no_grad():
            return float(objective())

    iterations, gnorm, loss = 0, grad_norm(), value()
    while gnorm > tol and iterations < max_iter:
        opt.param_groups[0]["max_iter"] = min(check_every, max_iter - iterations)
        with torch.enable_grad():
            opt.step(closure)
        iterations = int(opt.state[params[0]]["n_iter"])
        previous, loss, gnorm = loss, value(), grad_norm()
        if not loss < previous:                  # a whole chunk without decrease: the line search is stuck
            break
    for p in params:
        p.grad = None
    return FitReport(loss, gnorm, iterations, watch.elapsed(), gnorm <= tol)


def minimize_newton(model: EmbeddingModel, batch: Batch, *, tol: float, max_steps: int = 100,
                    cg_rtol: float = 1e-2, cg_max_iter: int = 300) -> FitReport:
    r"""Minimise ``model.loss(batch)`` over the embedding rows the batch reads with damped Newton steps
    (Levenberg-Marquardt, solved by CG), until the gradient's 2-norm is at most ``tol``.

    Each step solves :math:`(H + \lambda I)s = \nabla J` by CG to a relative residual ``cg_rtol``, in at most
    ``cg_max_iter`` Hessian-vector products (MF's or LightGCN's closed form, :func:`~.lightgcn_curvature.closed_form_curvature`,
    else autograd's double backward; a solve cut short, by that cap or by negative curvature, still gives a
    descent direction, as in truncated Newton), and takes :math:`\theta - s` if it lowers :math:`J` (or, where
    :math:`J` changes by less than its rounding, the gradient's norm). :math:`\lambda` (first
    :math:`10^{-3}\,g^\top Hg/g^\top g`) shrinks fourfold after a step taken on a solve that converged and grows
    tenfold after a step refused or a solve cut short. Near a minimum the steps become Newton's and the gradient falls quadratically,
    where L-BFGS crawls on the nearly flat directions of a recommender's loss; the damping also keeps the solve
    away from the directions along which MF's loss does not change at all (a rotation of users and items
    together). Warm-starts from the model's parameters and writes the result into them; non-convergence
    within ``max_steps`` is reported, not raised.
    """
    from .lightgcn_curvature import closed_form_curvature      # the curvature modules build on this module's problem

    watch = Stopwatch(model.user_emb.device)
    problem = recommender_problem(model, batch)
    damping, steps = None, 0

    def objective() -> float:
        with torch.no_grad():
            return float(problem.objective())

    loss, gradient = objective(), problem.grad()
    while float(gradient.norm()) > tol and steps < max_steps:
        steps += 1
        curvature = closed_form_curvature(model, batch)
        hvp = problem.hvp if curvature is None else curvature.problem_hvp(problem)
        with contextlib.ExitStack() as stack:
            if curvature is None:
                stack.enter_context(problem.frozen_graph())
            if damping is None:
                damping = 1e-3 * abs(float(gradient @ hvp(gradient))) / float(gradient @ gradient)
            stack.enter_context(warnings.catch_warnings())
            warnings.simplefilter("ignore", SolverConvergenceWarning)
            step = solve(hvp, gradient, "cg", damping=damping, rtol=cg_rtol, max_iter=cg_max_iter, on_fail="warn")
        start = problem.flat()
        problem.apply_update(step.solution, -1.0)
        trial = objective()
        # at the bottom J changes by less than its rounding: there a step counts when the gradient shrinks
        flat = trial <= loss + 8 * torch.finfo(gradient.dtype).eps * abs(loss)
        new_gradient = problem.grad() if trial < loss or flat else None
        if new_gradient is not None and (trial < loss or new_gradient.norm() < gradient.norm()):
            loss, gradient = min(loss, trial), new_gradient
            damping = damping / 4.0 if step.converged else damping * 10.0
        else:
            problem.set_flat(start)
            damping *= 10.0
    gnorm = float(gradient.norm())
    return FitReport(loss, gnorm, steps, watch.elapsed(), gnorm <= tol)


def minimize_problem(problem: InfluenceProblem, *, tol: float = 1e-10, max_iter: int = 500,
                     history_size: int = 50, newton_steps: int = 5) -> FitReport:
    """Minimise J over phi only, psi fixed (IFRU Eq. 17's retraining target), with L-BFGS.

    Writes the minimiser into the model's rows. With ``problem`` built on the retain batch this
    is exact retraining of phi; on D it polishes theta-hat to a stationary point in phi, which the
    first-order influence argument assumes. Stops at ``||grad_phi J|| <= tol`` (2-norm); if
    L-BFGS stalls above it, up to ``newton_steps`` Newton-CG steps follow (each a CG solve with
    HVPs; stopped, with a warning, on negative curvature).
    """
    watch = Stopwatch(problem.device)
    x = problem.flat().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=max_iter, tolerance_grad=tol / x.numel() ** 0.5,
                            tolerance_change=0.0, history_size=history_size,
                            line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        problem.set_flat(x.detach())
        with torch.enable_grad():
            value = problem.objective()
            x.grad = problem.grad(value)
        return value.detach()

    opt.step(closure)
    problem.set_flat(x.detach())
    iterations = int(opt.state[x].get("n_iter", 0)) if x in opt.state else 0
    gnorm = float(problem.grad().norm())
    # Near the minimum the loss changes fall below float resolution and the line search stalls:
    # finish with Newton steps (CG on H s = g, the library's solver), quadratically convergent.
    for _ in range(newton_steps):
        if gnorm <= tol:
            break
        g = problem.grad()
        with problem.frozen_graph():
            step = solve(problem.hvp, g, "cg", rtol=1e-8, max_iter=10 * problem.num_params,
                         on_fail="warn")
        if not step.converged:  # negative curvature: not in a convex basin, stop here
            break
        problem.apply_update(step.solution, -1.0)
        iterations += 1
        gnorm = float(problem.grad().norm())
    with torch.no_grad():
        loss = float(problem.objective())
    return FitReport(loss, gnorm, iterations, watch.elapsed(), gnorm <= tol)
