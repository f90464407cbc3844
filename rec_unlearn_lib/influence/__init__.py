"""Influence functions for unlearning: objective adapter, HVPs, linear solvers and the update.

* :mod:`.hvp`: :class:`InfluenceProblem`, the one adapter through which a model enters (a
  parameter subset phi of tensor rows, the mean training loss, an optional regulariser), with
  gradients, Hessian-vector products and in-place updates of the selected rows.
* :mod:`.solvers`: ``direct``, ``cg``, ``lissa`` and ``adam`` solvers of ``(H + lambda I) t = b``
  behind one interface returning :class:`SolverResult`.
* :mod:`.recommender`: the glue from a trained MF/LightGCN (BCE or BPR) to an
  :class:`InfluenceProblem`: D as one fixed batch, the forget rows, the SUM forget loss, and a
  full-batch L-BFGS trainer to a stationary point (:func:`recommender_influence`).
* :mod:`.mf_curvature`, :mod:`.lightgcn_curvature`: the Hessian of MF's and LightGCN's BCE and BPR losses in
  closed form (products and, for MF, the diagonal), in place of autograd's double backward;
* :mod:`.pruning`: IFRU's importance-based pruning (Algorithm 1): which embedding rows move;
* :mod:`.spillover`: the rows whose prediction depends on the graph change, and IFRU's L_s (Eq. 9-10);
* :mod:`.update`: :func:`influence_unlearn`, the update
  ``theta* = theta + (1/|D|) H^{-1} grad L_sum(D_f)`` (UBPR Eq. 7/15, IFRU Eq. 14/19).
"""

from .hvp import BlockSpec, InfluenceProblem, LossClosure, ParameterBlock
from .solvers import (
    SOLVERS,
    MatVec,
    SolverConvergenceWarning,
    SolverDidNotConverge,
    SolverResult,
    default_rtol,
    solve,
    solve_adam,
    solve_cg,
    solve_direct,
    solve_lissa,
)
from .update import HessianOf, forget_gradient, influence_unlearn
from .pruning import PRUNINGS, PrunedRows, check_pruning, prune, prune_official, pruned_rows
from .preconditioning import jacobi
from .mf_curvature import MFCurvature, TableCurvature, mf_surrogate, supports_closed_form
from .lightgcn_curvature import LightGCNCurvature, closed_form_curvature
from .recommender import (
    FitReport,
    RecommenderInfluence,
    check_row_sampling,
    forget_loss_sum,
    forget_rows,
    full_batch,
    minimize_full_batch,
    minimize_newton,
    minimize_problem,
    recommender_influence,
    recommender_problem,
    rows_in_batch,
    take_rows,
)
from .spillover import (SPILLOVER_SETS, changed_nodes, check_spillover_set, degree_changed_nodes, spillover_loss,
                        spillover_rows)

__all__ = [
    "BlockSpec",
    "FitReport",
    "HessianOf",
    "InfluenceProblem",
    "LossClosure",
    "LightGCNCurvature",
    "MFCurvature",
    "MatVec",
    "PRUNINGS",
    "ParameterBlock",
    "PrunedRows",
    "RecommenderInfluence",
    "SOLVERS",
    "SPILLOVER_SETS",
    "SolverConvergenceWarning",
    "SolverDidNotConverge",
    "SolverResult",
    "TableCurvature",
    "changed_nodes",
    "check_pruning",
    "check_row_sampling",
    "check_spillover_set",
    "closed_form_curvature",
    "default_rtol",
    "degree_changed_nodes",
    "forget_gradient",
    "forget_loss_sum",
    "forget_rows",
    "full_batch",
    "influence_unlearn",
    "jacobi",
    "mf_surrogate",
    "minimize_full_batch",
    "minimize_newton",
    "minimize_problem",
    "prune",
    "prune_official",
    "pruned_rows",
    "recommender_influence",
    "recommender_problem",
    "rows_in_batch",
    "solve",
    "solve_adam",
    "solve_cg",
    "solve_direct",
    "solve_lissa",
    "spillover_loss",
    "spillover_rows",
    "supports_closed_form",
    "take_rows",
]
