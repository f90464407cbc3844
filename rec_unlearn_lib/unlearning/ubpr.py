r"""UBPR (Chen et al. 2025): influence-function unlearning of BPR on its fixed triplets.

UBPR's data points are triplets :math:`(u, i, j)`: each training interaction :math:`(u, i)` with
the ``n`` negatives :math:`j` sampled for it once (``n = 4``, Table 2). BPR-MF is trained on that
fixed set (``sampling="fixed"``, :func:`~rec_unlearn_lib.sampling.fixed_triplets`), so the trained
:math:`\hat\Theta` minimises one loss, :math:`\frac{1}{|\mathcal{D}|}\mathcal{L}(\mathcal{D}|\Theta)`
(Eq. 3). Forgetting interactions removes their triplets, negatives included, so the partial order
they taught goes with them:

.. math::

   \Theta^* = \hat\Theta + \frac{1}{|\mathcal{D}|} H_{\hat\Theta}^{-1}\nabla_\Theta\mathcal{L}(\mathcal{D}_f|\hat\Theta),
   \qquad H_{\hat\Theta} = \frac{1}{|\mathcal{D}|}\nabla^2_\Theta\mathcal{L}(\mathcal{D}|\hat\Theta)

(Eq. 7 and 15), :math:`|\mathcal{D}|` counted in triplets, :math:`H^{-1}z` by Hessian-vector products
(Eq. 8) and conjugate gradient (Eq. 9). This is :class:`~.ifru.InfluenceUnlearning` with no
pruning (every user and item row is :math:`\Theta`), no spillover, and BPR's fixed triplets as
:math:`\mathcal{D}`; ``ratios`` moves only IFRU's pruned rows instead.

Departures from the paper: the L2 term is each triplet's share, ``reg/2 * ||rows of the triplet||^2``
averaged like the loss, not :math:`\lambda\|\Theta\|^2` once over all parameters (so removing triplets is
exactly retraining with the same objective); :math:`H + \mu I` is solved, :math:`\mu` =
:attr:`UBPR.DEFAULT_RELATIVE_DAMPING` times the mean diagonal entry of :math:`H` unless told
otherwise. The paper assumes :math:`H` positive definite (Eq. 6). It is not: the scores and the
per-row L2 are invariant under :math:`P \to PR, Q \to QR` for orthogonal :math:`R`, which leaves
:math:`d(d-1)/2` zero eigenvalues even at a minimum (the right-hand side is orthogonal to them, so CG
is unaffected), and the model kept (the epoch of the best validation NDCG@10, trained by Adam) is
not at a minimum: its Hessian has negative eigenvalues, on which undamped CG stops.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..models import MODELS
from .base import METHODS
from .ifru import InfluenceUnlearning


@METHODS.register("ubpr", "one influence step over the forgotten interactions' fixed BPR triplets (Chen et al. 2025)")
class UBPR(InfluenceUnlearning):
    """UBPR: the influence update of Eq. 15 over every embedding row, on BPR's fixed triplets.

    Args:
        backbone: a backbone trained with BPR (``bpr``, BPR-MF as in the paper; ``lightgcn`` with an
            absolute ``damping`` in ``solver_options``).
        ratios: ``None`` (default, the paper): :math:`\\Theta` is every row; IFRU's pruning ratios otherwise.
        solver, solver_options, closed_form: as :class:`~.ifru.InfluenceUnlearning` (CG).
        relative_damping: :math:`\\mu` over the mean diagonal entry of :math:`H`; ``None``:
            :attr:`DEFAULT_RELATIVE_DAMPING`, unless ``solver_options`` gives an absolute ``damping``.
        profile, seed, device, settings, overrides: as :class:`~.base.UnlearningMethod`. The settings'
            ``sampling`` is set to ``"fixed"`` (UBPR's data points) and ``num_negatives``, where the settings
            leave it open, to :attr:`NUM_NEGATIVES`; Retrain compared with it trains on the same fixed
            triplets of the data left.

    Raises:
        ValueError: the backbone is not trained with BPR, or ``sampling="epoch"`` is asked for.
    """

    name = "ubpr"
    options = ("ratios", "solver", "solver_options", "relative_damping", "closed_form")
    DEFAULT_RATIOS: dict[str, tuple[float, ...] | None] = {}
    #: negatives per interaction where the settings leave it open (Table 2)
    NUM_NEGATIVES = 4
    #: mu / (mean diagonal entry of H): Levenberg-Marquardt's scale-free damping. On ML-100K with the paper's
    #: settings the mean diagonal entry is about 6e-5 and CG met negative curvature below about 0.2 of it (one
    #: negative per interaction); 1 converged for every request and number of negatives tried. Larger values
    #: converge in fewer iterations but shorten the step (the UBPR chapter tabulates the trade-off).
    DEFAULT_RELATIVE_DAMPING = 1.0

    def __init__(self, backbone: str = "bpr", profile: str | None = None, seed: int = 0,
                 device: str | torch.device | None = None, *, ratios: Sequence[float] | None = None,
                 solver: str = "cg", solver_options: dict[str, Any] | None = None,
                 relative_damping: float | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("sampling", "fixed")
        if relative_damping is None and "damping" not in (solver_options or {}):
            relative_damping = self.DEFAULT_RELATIVE_DAMPING
        super().__init__(backbone, profile, seed, device, ratios=ratios, spillover=False, solver=solver,
                         solver_options=solver_options, relative_damping=relative_damping, **kwargs)
        if (self.settings.objective or MODELS[backbone].objective) != "bpr":
            raise ValueError(f"UBPR unlearns BPR; the {backbone!r} backbone here is trained with "
                             f"{self.settings.objective or MODELS[backbone].objective}")
        if self.settings.num_negatives is None:          # the settings leave it open: the paper's 4
            self.settings = self.settings.replace(num_negatives=self.NUM_NEGATIVES)
        if self.settings.sampling != "fixed":
            raise ValueError("UBPR's data points are a fixed set of triplets: it needs sampling='fixed'")

    @classmethod
    def unsupported(cls, backbone: str, protocol: str, objective: str | None = None) -> str | None:
        objective = objective or MODELS[backbone].objective
        if objective != "bpr":
            return f"UBPR unlearns BPR; the {backbone!r} backbone is trained with {objective}"
        return super().unsupported(backbone, protocol, objective)

    def describe(self) -> dict[str, Any]:
        return {"ratios": None if self.ratios is None else list(self.ratios), "solver": self.solver,
                "closed_form": self.closed_form, "relative_damping": self.relative_damping,
                "damping": self.last_solve.damping if self.last_solve is not None else self.solver_options.get("damping"),
                "num_negatives": self.settings.num_negatives,
                "sampling": self.settings.sampling}
