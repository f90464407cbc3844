r"""Influence-function unlearning on the one interface: IFRU and its baseline SCIF.

:class:`InfluenceUnlearning` trains the backbone like Retrain and forgets a request in one step
(IFRU, Zhang et al. 2024, Eq. 12-19):

1. *find* which embedding rows move: IFRU's importance-based pruning (Algorithm 1,
   :func:`~rec_unlearn_lib.influence.pruning.prune`) with ratios :math:`(a_0,\dots,a_K)`, and, for
   LightGCN, the remaining rows whose prediction depends on the graph change
   (:math:`\mathcal{D}_c`, Eq. 10, :mod:`~rec_unlearn_lib.influence.spillover`);
2. build the *right-hand side*: the gradient over :math:`\phi` of
   :math:`L_d + L_s` (Eq. 8-9; SUM over the rows, labels as trained);
3. *solve* :math:`H t = \nabla(L_d + L_s)` with :math:`H` the Hessian over :math:`\phi` of the MEAN
   loss on all of :math:`\mathcal{D}` (Eq. 13, 15-16; HVPs, CG by default, or Adam on Eq. 15's quadratic
   as IFRU's code iterates it, ``solver="adam"``, with the library's stopping rule); this :math:`t` is the official code's ``p``, the negative of Eq. 15's
   :math:`t = H^{-1}t^*` with :math:`t^* = -\nabla(L_d + L_s)`;
4. *apply* :math:`\hat\phi' = \hat\phi + t/|\mathcal{D}|` (Eq. 14, 19) to a copy of the model; LightGCN
   then scores on the graph of :math:`\mathcal{D}\setminus\mathcal{D}_f` (IFRU's official code keeps scoring,
   and selecting its solver's iterate, on the graph of :math:`\mathcal{D}`, the erased edges included).

The Hessian of LightGCN is the true one (propagation included); the official code uses the
MF-surrogate Hessian (raw embeddings, no graph) for it. The pruning depth (``len(ratios) - 1`` hops)
is chosen apart from LightGCN's layers; IFRU's runs use one layer and one hop. IFRU trains its
backbones with BCE on labelled rows (the labelled protocol) and, in its official code, no L2; the
library's profiles keep their L2 weight (``reg``) unless overridden, so it is in the loss, the Hessian and
Retrain alike. On implicit data the same update runs on the BPR triplets or sampled negatives of one epoch.

:class:`SCIF` (Li et al. 2023, as the IFRU paper describes it) replaces the forgotten rows' labels by
an averaged label instead of removing them, moves only the rows of the request's users and items,
and has no spillover term. Unlike the official SCIF script it adds no full-data gradient residual
(:math:`|\mathcal{D}|\nabla J`), and for LightGCN it takes gradient and Hessian on the graph of
:math:`\mathcal{D}` and then scores on the graph of :math:`\mathcal{D}\setminus\mathcal{D}_f`
(the official script uses no graph at all): the graph change it ignores is the spillover.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..forget import ForgetRequest
from ..evaluation import evaluate
from ..influence import (SOLVERS, LossClosure, MFCurvature, check_pruning, check_row_sampling, check_spillover_set,
                         closed_form_curvature, forget_loss_sum, forget_rows, full_batch, influence_unlearn, jacobi,
                         mf_surrogate, pruned_rows, recommender_problem, rows_in_batch, spillover_loss, spillover_rows,
                         take_rows)
from ..interactions import Interactions
from ..models import MODELS
from ..models.base import EmbeddingModel
from ..models.lightgcn import LightGCN
from ..models.objectives import Batch
from ..splits import PROTOCOLS
from ..timing import timed
from .base import METHODS, SingleModelMethod


CURVATURES: tuple[str, ...] = ("hessian", "gauss-newton", "mf-surrogate")
"""The curvature matrices the influence step can solve with (see :class:`InfluenceUnlearning`)."""


def _mean_diagonal(diagonal: tuple[torch.Tensor, torch.Tensor], users: np.ndarray, items: np.ndarray) -> float:
    """The mean diagonal entry of the curvature (``diagonal``: users' [U, d], items' [I, d]) over the rows ``users``
    and ``items``."""
    user_diagonal, item_diagonal = diagonal
    return float(torch.cat([user_diagonal[torch.as_tensor(users, device=user_diagonal.device)],
                            item_diagonal[torch.as_tensor(items, device=item_diagonal.device)]]).mean())


class InfluenceUnlearning(SingleModelMethod):
    """Forget by one influence-function step on a pruned set of embedding rows.

    Args:
        backbone: ``mf``, ``bpr`` or ``lightgcn`` (a loss that is a mean of per-row terms; WMF's is not).
        ratios: pruning ratios :math:`(a_0, \\dots, a_K)` of Algorithm 1 (default: the method's per backbone;
            ``None`` there: no pruning, every user and item row the training batch reads).
        pruning: how ``ratios`` select (:data:`~rec_unlearn_lib.influence.PRUNINGS`): ``algorithm-1``, the
            paper's top share per hop (:func:`~rec_unlearn_lib.influence.prune`), or ``official``, IFRU's code:
            self-loops in the degrees, each hop's nodes above a quantile of its scores, the last hop's set alone
            (:func:`~rec_unlearn_lib.influence.prune_official`).
        spillover: add IFRU's spillover term for graph backbones (Eq. 9).
        spillover_set: which remaining rows form D_c (:data:`~rec_unlearn_lib.influence.SPILLOVER_SETS`):
            ``exact``, every row whose prediction depends on the graph change (Eq. 10 for K layers), or
            ``official``, IFRU's code: the rows of the erased edges' endpoints whose degree falls by more
            than 1 % (:func:`~rec_unlearn_lib.influence.degree_changed_nodes`).
        solver: a name of :data:`~rec_unlearn_lib.influence.SOLVERS`.
        select_on_validation: with ``solver="adam"``, IFRU's official stopping: keep the iterate whose updated
            model scores best on the validation split (the protocol's metric: AUC on labelled data), stopping
            after more than 10 iterations without improvement, instead of solving to a residual tolerance. It
            reads held-out labels at every iteration, so it is a labelled variant, never the default; the time
            of these evaluations is in the solve. Each iterate is scored as the method scores its result (on
            the data left: LightGCN's graph of D \\ D_f, users left without data by popularity), where IFRU's
            code scores on the graph of D. Give the official rate as ``solver_options["lr"]`` (IFRU's runs:
            5e3 and 2e4 for MF, 1e4 for LightGCN).
        solver_options: keyword arguments of the solver (``damping``, ``rtol``, ``max_iter``, ``lr``, ...).
        relative_damping: if given, the solver's damping is this times the mean diagonal entry of
            :math:`H` over every embedding row the training data reads (Levenberg-Marquardt's scale: the same
            value means the same on every data set; taken before pruning, so that one value is one absolute
            damping whatever rows phi keeps); needs ``closed_form`` on MF (or, on LightGCN,
            ``curvature="mf-surrogate"``). ``None``:
            ``solver_options["damping"]`` (default 0).
        curvature: ``hessian`` (the paper's :math:`H`), ``gauss-newton`` (MF with ``closed_form`` only: the
            positive semi-definite generalised Gauss-Newton matrix, which an early-stopped model's Hessian is
            not; :class:`~rec_unlearn_lib.influence.MFCurvature`; not in the paper) or ``mf-surrogate``
            (LightGCN with ``closed_form`` only: the Hessian of the same loss scored by the raw embeddings,
            without propagation, as IFRU's official code takes it;
            :func:`~rec_unlearn_lib.influence.mf_surrogate`).
        closed_form: Hessian-vector products in closed form instead of autograd's double backward
            (:func:`~rec_unlearn_lib.influence.closed_form_curvature`: for MF
            :class:`~rec_unlearn_lib.influence.MFCurvature`, with CG preconditioned by the Hessian's diagonal,
            :func:`~rec_unlearn_lib.influence.jacobi`; for LightGCN
            :class:`~rec_unlearn_lib.influence.LightGCNCurvature`, unpreconditioned): the same system and
            tolerance, in less time.
        profile, seed, device, settings, overrides: as :class:`~.base.UnlearningMethod`.

    After :meth:`forget`, :attr:`last_solve` holds the solver's diagnostics. The update assumes the model
    sits at a stationary point with a positive definite Hessian (IFRU Section 3.4); an early-stopped
    MF is neither, CG then stops on negative curvature and raises
    :class:`~rec_unlearn_lib.influence.SolverDidNotConverge`: add ``damping`` (``solver_options``).
    """

    name = "influence"
    options = ("ratios", "pruning", "spillover", "spillover_set", "solver", "select_on_validation", "solver_options",
               "relative_damping", "curvature", "closed_form")
    DEFAULT_RATIOS: dict[str, tuple[float, ...] | None] = {"mf": (1.0, 1.0), "bpr": (1.0, 1.0), "lightgcn": (1.0, 0.6)}

    def __init__(self, backbone: str = "mf", profile: str | None = None, seed: int = 0,
                 device: str | torch.device | None = None, *, ratios: Sequence[float] | None = None,
                 pruning: str = "algorithm-1", spillover: bool = True, spillover_set: str = "exact",
                 solver: str = "cg", select_on_validation: bool = False,
                 solver_options: dict[str, Any] | None = None, relative_damping: float | None = None,
                 curvature: str = "hessian", closed_form: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(backbone, profile, seed, device, **kwargs)
        objective = self.settings.objective or MODELS[backbone].objective
        if objective == "wmf":
            raise ValueError("influence unlearning needs a loss that is a mean of per-row terms (BCE or BPR); "
                             "WMF's whole-data loss is not")
        check_row_sampling(self.settings.sampling)          # refused before any training
        default = self.DEFAULT_RATIOS.get(backbone)
        self.ratios = tuple(ratios) if ratios is not None else None if default is None else tuple(default)
        self.pruning = check_pruning(pruning)
        self.spillover = spillover
        self.spillover_set = check_spillover_set(spillover_set)
        self.solver = SOLVERS.check(solver)
        if select_on_validation and self.solver != "adam":
            raise ValueError(f"select_on_validation picks Adam's iterations (IFRU's official solver): use "
                             f"solver='adam', not {self.solver!r}")
        self.select_on_validation = select_on_validation
        self.solver_options = dict(solver_options or {})
        self.closed_form = closed_form
        if relative_damping is not None:
            if not relative_damping > 0:
                raise ValueError(f"relative_damping must be positive, got {relative_damping}")
            if not closed_form or "damping" in self.solver_options:
                raise ValueError("give either relative_damping (with closed_form) or an absolute damping")
        self.relative_damping = relative_damping
        if curvature not in CURVATURES:
            raise ValueError(f"unknown curvature {curvature!r}: choose one of {', '.join(CURVATURES)}")
        if curvature == "gauss-newton" and not (closed_form and backbone in ("mf", "bpr")):
            raise ValueError("the Gauss-Newton curvature is implemented for MF with closed_form=True")
        if curvature == "mf-surrogate" and not (closed_form and backbone == "lightgcn"):
            raise ValueError("the MF-surrogate curvature is LightGCN's (IFRU's official code) with closed_form=True")
        self.curvature = curvature
        self.last_solve = None

    @classmethod
    def unsupported(cls, backbone: str, protocol: str, objective: str | None = None) -> str | None:
        if (objective or MODELS[backbone].objective) == "wmf":
            return "influence unlearning needs a loss that is a mean of per-row terms; WMF's whole-data loss is not"
        return super().unsupported(backbone, protocol, objective)

    def describe(self) -> dict[str, Any]:
        return {"ratios": None if self.ratios is None else list(self.ratios), "pruning": self.pruning,
                "spillover": self.spillover, "spillover_set": self.spillover_set, "solver": self.solver,
                "select_on_validation": self.select_on_validation, "relative_damping": self.relative_damping,
                "curvature": self.curvature, "closed_form": self.closed_form}

    def moved_rows(self, batch: Batch, train: Interactions, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)``: the embedding rows the update moves (:math:`\\phi`): IFRU's pruning with
        :attr:`ratios` (:attr:`pruning`), or every row that the training batch reads when ``ratios`` is ``None``."""
        if self.ratios is None:
            return rows_in_batch(batch)
        phi = pruned_rows(self.pruning, train, train.subset(rows), self.ratios)
        return phi.users, phi.items

    def validation_score(self, model: EmbeddingModel, batch: Batch, users: np.ndarray, items: np.ndarray,
                         retain: Interactions) -> Callable[[torch.Tensor], float]:
        """IFRU's official selection score of a solver iterate ``t``: the validation metric of a copy of ``model``
        (scoring on the data ``retain`` left) with :math:`\\hat\\phi + t/|\\mathcal{D}|` written into the rows
        ``users`` and ``items`` (:math:`\\phi`; ``batch``: D, its rows count :math:`|\\mathcal{D}|`)."""
        scorer = copy.deepcopy(model)
        scorer.fit_data(retain)
        rows = recommender_problem(scorer, batch, users=users, items=items)
        start, metric, num_train = rows.flat(), PROTOCOLS[self.split.protocol].metric, len(batch["users"])

        def score(t: torch.Tensor) -> float:
            rows.set_flat(start + t / num_train)
            return evaluate(scorer, self.split, "valid")[metric]
        return score

    def forget_loss(self, model: EmbeddingModel, batch: Batch, mask: torch.Tensor,
                    train: Interactions, rows: np.ndarray) -> tuple[LossClosure, int]:
        """The closure of :math:`L_d + L_s` (IFRU Eq. 8-9) over the batch rows ``mask`` (the training rows
        ``rows``) and the number of spillover rows :math:`|\\mathcal{D}_c|`."""
        direct = forget_loss_sum(model, take_rows(batch, mask))
        if not (self.spillover and isinstance(model, LightGCN)):
            return direct, 0
        retain = train.drop(rows)
        spill = spillover_rows(model, batch, mask, train, retain, self.spillover_set)
        indirect = spillover_loss(model, take_rows(batch, spill), model.graph_of(retain))
        return (lambda: direct() + indirect()), int(spill.sum())

    def _forget_rows(self, rows: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        train, retain = self.train, self.train.drop(rows)
        request = ForgetRequest(train.users[rows], train.items[rows])
        model = copy.deepcopy(self.model)                    # earlier models are never changed in place
        assert isinstance(model, EmbeddingModel)
        batch = full_batch(model, train, seed=self.seed)     # D as one batch (labelled rows, fixed triplets, or
        mask = forget_rows(batch, request, train)            # epoch 0's samples)
        with timed(self.device) as find:
            users, items = self.moved_rows(batch, train, rows)
        problem = recommender_problem(model, batch, users=users, items=items)
        loss, num_spill = self.forget_loss(model, batch, mask, train, rows)
        options = dict(self.solver_options)
        if self.select_on_validation:
            options["select"] = self.validation_score(model, batch, users, items, retain)
        with timed(self.device) as prepare:
            scored = mf_surrogate(model) if self.curvature == "mf-surrogate" else model
            curvature = (closed_form_curvature(scored, batch, gauss_newton=self.curvature == "gauss-newton")
                         if self.closed_form and mask.any() else None)
            if curvature is not None:
                options["hvp"] = curvature.problem_hvp(problem)
            if isinstance(curvature, MFCurvature):          # MF's diagonal: the damping's scale, the preconditioner
                diagonal = curvature.diagonal()
                if self.relative_damping is not None:
                    options["damping"] = self.relative_damping * _mean_diagonal(diagonal, *rows_in_batch(batch))
                if self.solver == "cg":
                    options["preconditioner"] = jacobi(curvature.problem_diagonal(problem, diagonal),
                                                       options.get("damping", 0.0))
            elif self.relative_damping is not None and mask.any():
                raise ValueError(f"relative_damping needs MF's closed-form curvature and its diagonal; "
                                 f"{type(model).__name__} takes an absolute damping (solver_options)")
        _, result = influence_unlearn(problem, loss, len(mask), int(mask.sum()), solver=self.solver, apply=True,
                                      **options)
        # score from the data left: LightGCN on the graph of D \ D_f (IFRU's code keeps the graph of D), users left without
        # data by popularity (as under every method)
        model.fit_data(retain)
        self._model, self._train, self.last_solve = model, retain, result
        d = result.diagnostics
        touched = {"shards": [], "users": len(users), "items": len(items), "spillover_rows": num_spill,
                   "parameters": f"{len(users)} user and {len(items)} item embedding rows"}
        return touched, {"find": find.seconds, "curvature": prepare.seconds, "rhs": d["rhs_seconds"],
                         "solve": d["solve_seconds"], "apply": d["apply_seconds"]}


def averaged_labels(train: Interactions, rows: np.ndarray) -> np.ndarray:
    """float [k]: SCIF's replacement label of each forgotten row: the mean label of the user's remaining
    rows, else of the item's, else of all remaining rows."""
    if train.labels is None:
        raise ValueError("SCIF replaces labels: use labelled training data (the labelled protocol)")
    retain = train.drop(rows)

    def means(ids: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        count = np.bincount(ids, minlength=size)
        total = np.bincount(ids, weights=retain.labels, minlength=size)
        return np.divide(total, count, out=np.full(size, np.nan), where=count > 0), count > 0

    by_user, has_user = means(retain.users, train.num_users)
    by_item, has_item = means(retain.items, train.num_items)
    users, items = train.users[rows], train.items[rows]
    fallback = float(retain.labels.mean()) if len(retain) else 0.5
    return np.where(has_user[users], by_user[users], np.where(has_item[items], by_item[items], fallback))


@METHODS.register("scif", "influence step that replaces the forgotten labels by averaged ones (Li et al. 2023)")
class SCIF(InfluenceUnlearning):
    """SCIF as IFRU's baseline: the rows' labels become averaged labels, 0-hop rows, no spillover.

    The right-hand side is :math:`\\nabla\\sum_{\\mathcal{D}_f}[\\ell(f, y) - \\ell(f, \\bar y)]`: the change of
    the training loss when each forgotten label :math:`y` is replaced by :func:`averaged_labels`.
    """

    name = "scif"
    DEFAULT_RATIOS = {"mf": (1.0,), "bpr": (1.0,), "lightgcn": (0.6,)}

    def __init__(self, backbone: str = "mf", *args: Any, spillover: bool = False, **kwargs: Any) -> None:
        if spillover:
            raise ValueError("SCIF has no spillover term; use IFRU")
        super().__init__(backbone, *args, spillover=False, **kwargs)

    @classmethod
    def unsupported(cls, backbone: str, protocol: str, objective: str | None = None) -> str | None:
        if protocol != "labelled":
            return "SCIF replaces labels: it needs labelled data (the labelled protocol)"
        return super().unsupported(backbone, protocol, objective)

    def forget_loss(self, model: EmbeddingModel, batch: Batch, mask: torch.Tensor,
                    train: Interactions, rows: np.ndarray) -> tuple[LossClosure, int]:
        if "labels" not in batch:
            raise ValueError(f"SCIF replaces labels: train {self.backbone!r} with objective='bce' on labelled data "
                             f"(this model is trained with {self.settings.objective or MODELS[self.backbone].objective})")
        averaged = dict(zip(train.keys[rows].tolist(), averaged_labels(train, rows).tolist()))
        forgotten = take_rows(batch, mask)
        keys = train.pair_keys(forgotten["users"], forgotten["items"]).tolist()
        labels = forgotten["labels"]
        replaced = {**forgotten, "labels": torch.as_tensor([averaged[k] for k in keys], dtype=labels.dtype,
                                                           device=labels.device)}
        as_trained, relabelled = forget_loss_sum(model, forgotten), forget_loss_sum(model, replaced)
        return (lambda: as_trained() - relabelled()), 0


@METHODS.register("ifru", "one influence-function step with spillover and pruning (Zhang et al. 2024)")
class IFRU(InfluenceUnlearning):
    """IFRU (Zhang et al. 2024): direct and spillover influence on the pruned rows (official ratios)."""

    name = "ifru"
