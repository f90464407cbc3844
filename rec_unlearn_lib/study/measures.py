r"""What the study measures beyond the papers' metrics: does the data leave, and how exact is the update.

* :func:`pair_ranks`: where a model's scores rank given (user, item) pairs in the user's list of
  candidates (every item but the user's remaining training items): 0 is the top;
* :func:`forgetting_measures`: for a forget request, the forgotten items' mean percentile rank and the
  share of them still in the user's top 20, and a score-based membership-inference test: the AUC with
  which the rank tells forgotten interactions from never-seen held-out ones (0.5: no better than
  chance; a model that learned the forgotten pairs ranks them higher than pairs it never saw). It
  needs observed interactions: under IFRU's attack the forgotten rows are flipped labels, and it is
  not measured;
* :func:`update_fidelity`: the influence update :math:`\Delta_{IF}` against the true update
  :math:`\Delta_{true}`, both from a stationary point :math:`\hat\theta` of the full-batch training loss
  on :math:`\mathcal{D}`: :math:`\Delta_{true} = \theta^*(\mathcal{D}\setminus\mathcal{D}_f) - \hat\theta`,
  re-optimised from :math:`\hat\theta` to convergence with the same negatives (damped Newton steps,
  :func:`~rec_unlearn_lib.influence.minimize_newton`):
  the cosine similarity and :math:`\|\Delta_{IF} - \Delta_{true}\| / \|\Delta_{true}\|`, of the
  parameters and of the scores.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..forget import ForgetRequest
from ..influence import forget_loss_sum, forget_rows, full_batch, minimize_newton, take_rows
from ..interactions import Interactions
from ..metrics import auc
from ..models.base import EmbeddingModel, InnerProductModel
from ..models.objectives import Batch

if TYPE_CHECKING:
    from ..unlearning.ifru import InfluenceUnlearning

TOP_K = 20


@torch.no_grad()
def pair_ranks(model: InnerProductModel, users: np.ndarray, items: np.ndarray, exclude: Interactions,
               chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """``(ranks, candidates)`` [k] each: the pair's item's mid-rank among the user's candidate items (the number
    scoring strictly above it plus half the number tied with it; float64) and how many candidates there are
    (int64: every item but the user's ``exclude`` items; the pair's own item is always a candidate).

    Scores are the model's own inner products of its final representations, also for a user left without
    training data (whom the recommender itself would show the most popular items): the probe asks what the
    parameters still hold, not what the fallback shows.

    Args:
        model: a model scoring by inner products (its representations are read on its device).
        users, items: int [k], the pairs.
        exclude: the interactions whose items are not candidates (the training data the model keeps).
        chunk: pairs ranked at once (a [chunk, num_items] score matrix).
    """
    users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
    ranks, candidates = np.zeros(len(users), np.float64), np.zeros(len(users), np.int64)
    user_reps, item_reps = model.representations()
    device = item_reps.device
    mask_csr = exclude.positives().to_csr()
    order = np.argsort(users, kind="stable")
    for start in range(0, len(order), chunk):
        pairs = order[start:start + chunk]
        scores = user_reps[torch.as_tensor(users[pairs], device=device)] @ item_reps.T               # [p, num_items]
        masked = torch.as_tensor(mask_csr[users[pairs]].toarray() > 0, device=device)
        target_items = torch.as_tensor(items[pairs], device=device)[:, None]
        masked.scatter_(1, target_items, False)
        target = scores.gather(1, target_items)
        above = ((scores > target) & ~masked).sum(1)
        tied = ((scores == target) & ~masked).sum(1) - 1                                          # not itself
        ranks[pairs] = (above + 0.5 * tied).double().cpu().numpy()
        candidates[pairs] = (~masked).sum(1).cpu().numpy()
    return ranks, candidates


def forgetting_measures(model: InnerProductModel, request: ForgetRequest, retain: Interactions,
                        held_out: Interactions) -> dict[str, float]:
    """How visible the forgotten interactions still are to ``model``.

    Args:
        model: the model to probe (before or after forgetting).
        request: the forgotten interactions, D_f (observed interactions: the ranking protocol).
        retain: D \\ D_f: its items are not candidates (neither model should recommend what the user keeps).
        held_out: never-trained interactions of the same id space (the test data): the membership
            test's negatives.

    Returns:
        ``forgotten_percentile``: the mean of ``rank / (candidates - 1)`` over D_f (0: top of the list);
        ``forgotten_top20``: the share of D_f among its user's top 20; ``mia_auc``: the AUC of
        ``-rank / (candidates - 1)`` separating D_f (positives) from ``held_out`` (negatives), ties counted 1/2.
    """
    held_out = held_out.positives()
    f_rank, f_cand = pair_ranks(model, request.users, request.items, retain)
    h_rank, h_cand = pair_ranks(model, held_out.users, held_out.items, retain)
    f_pct = f_rank / np.maximum(f_cand - 1, 1)
    h_pct = h_rank / np.maximum(h_cand - 1, 1)
    labels = torch.cat([torch.ones(len(f_pct)), torch.zeros(len(h_pct))])
    return {"forgotten_percentile": float(f_pct.mean()), f"forgotten_top{TOP_K}": float((f_rank < TOP_K).mean()),
            "mia_auc": auc(torch.as_tensor(-np.concatenate([f_pct, h_pct])), labels)}


def _flat(model: EmbeddingModel) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


@torch.no_grad()
def _scores(model: EmbeddingModel) -> torch.Tensor:
    """float [num_users * num_items]: every user's inner product with every item (the model's own scores,
    without the popularity list a user left without training data is shown)."""
    users, items = model.representations()
    return (users @ items.T).reshape(-1)


def _compare(predicted: torch.Tensor, true: torch.Tensor, name: str) -> dict[str, float]:
    norm = float(true.norm())
    if norm == 0.0:
        raise ValueError(f"the exact update of the {name} is zero: nothing to compare with")
    return {f"{name}_cosine": float(torch.nn.functional.cosine_similarity(predicted, true, dim=0)),
            f"{name}_relative_error": float((predicted - true).norm()) / norm,
            f"{name}_norm_ratio": float(predicted.norm()) / norm}


def _forget_term(model: EmbeddingModel, forgotten: Batch, num_train: int) -> float:
    r""":math:`\|\nabla_\theta \sum_{\mathcal{D}_f}\ell\| / |\mathcal{D}|` over every trained parameter
    (``forgotten``: the batch rows of D_f, ``num_train``: the batch's rows)."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        grads = torch.autograd.grad(forget_loss_sum(model, forgotten)(), params, allow_unused=True,
                                    materialize_grads=True)
    return float(torch.cat([g.reshape(-1) for g in grads]).norm()) / num_train


def update_fidelity(method: "InfluenceUnlearning", request: ForgetRequest, tol: float | None = None,
                    max_steps: int = 100, rtol: float = 1e-3) -> dict[str, float]:
    r"""Compare ``method``'s update for ``request`` with exact re-optimisation, from a stationary point, in float64.

    1. :math:`\hat\theta`: the method's model in float64, re-optimised on :math:`\mathcal{D}` (the batch the
       method differentiates: labelled rows, or the fixed or first epoch's triplets) until
       :math:`\|\nabla J\| \le` ``tol``; ``None``: ``rtol`` times the length of the term the update removes,
       :math:`\|\nabla_\theta \sum_{\mathcal{D}_f}\ell\| / |\mathcal{D}|` at the method's model (the gradient
       left at :math:`\hat\theta` then moves the exact update by about ``rtol`` of its length, whatever the
       data set's size);
    2. :math:`\Delta_{IF}`: the method's own update from :math:`\hat\theta` (:meth:`~.SingleModelMethod.at`);
    3. :math:`\Delta_{true}`: :math:`\hat\theta` re-optimised on the same batch without :math:`\mathcal{D}_f`
       (LightGCN on the graph of :math:`\mathcal{D}\setminus\mathcal{D}_f`), minus :math:`\hat\theta`.

    Both deltas are over every trained parameter (an update that moves only the pruned rows is zero
    elsewhere), and over every user-item score: MF's loss is unchanged by rotating users and items
    together, so the parameters have directions of (nearly) zero curvature along which the two updates
    may differ without any difference in what the model recommends. The minimiser exists only where the
    loss is regularised enough: with a light L2, BCE and BPR keep decreasing as the embeddings grow.
    ``method`` is not changed.

    Returns:
        ``delta_cosine``, ``delta_relative_error`` (:math:`\|\Delta_{IF}-\Delta_{true}\|/\|\Delta_{true}\|`),
        ``delta_norm_ratio`` (:math:`\|\Delta_{IF}\|/\|\Delta_{true}\|`), the same three of the scores
        (``score_cosine``, ...), and ``fidelity_converged`` (1 when both re-optimisations reached ``tol``, else 0).

    Raises:
        SolverDidNotConverge: the method's solver did not converge at :math:`\hat\theta`.
    """
    train = method.train
    polished = copy.deepcopy(method.model).double()
    assert isinstance(polished, EmbeddingModel)
    batch = full_batch(polished, train, seed=method.seed)
    mask = forget_rows(batch, request, train)
    if tol is None:
        tol = rtol * _forget_term(polished, take_rows(batch, mask), len(mask))
    at_optimum = minimize_newton(polished, batch, tol=tol, max_steps=max_steps)
    predicted = method.at(polished).forget(request).model
    assert isinstance(predicted, EmbeddingModel)
    truth = copy.deepcopy(polished)
    truth.fit_data(request.split(train)[0])
    retrained = minimize_newton(truth, take_rows(batch, ~mask), tol=tol, max_steps=max_steps)
    return {**_compare(_flat(predicted) - _flat(polished), _flat(truth) - _flat(polished), "delta"),
            **_compare(_scores(predicted) - _scores(polished), _scores(truth) - _scores(polished), "score"),
            "fidelity_converged": float(at_optimum.converged and retrained.converged)}
