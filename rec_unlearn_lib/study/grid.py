"""The study's grid: which runs it makes, read from the library's registries.

A run is one *cell*: a backbone of :data:`~rec_unlearn_lib.models.MODELS`, an unlearning method of
:data:`~rec_unlearn_lib.unlearning.METHODS`, a forget setting of :data:`FORGET_SETTINGS` at one ratio,
and a seed. A method joins the grid by being registered: every method x backbone x setting for which
:meth:`~rec_unlearn_lib.unlearning.UnlearningMethod.unsupported` gives no reason is a cell.

Cells that can share a fitted model form a :class:`Group`: per backbone and seed, the methods are
fitted once and every request of the clean settings (``random``, ``users``) is erased from a copy;
the ``attack`` setting trains on poisoned data, so each of its ratios is a group of its own. Retrain
runs with more seeds than the other methods (:attr:`StudyConfig.retrain_seeds`): the spread of
training itself, the noise floor every gap is measured against. The request of a (setting, ratio) is
drawn once, with :attr:`StudyConfig.request_seed`, and is the same for every method and seed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import check_seed
from ..forget import check_ratio
from ..models import MODELS, trainable_models
from ..registry import Registry
from ..settings import get_profile
from ..unlearning import METHODS


@dataclass(frozen=True)
class ForgetSetting:
    """A forget setting of the study.

    Attributes:
        request: the name in :data:`~rec_unlearn_lib.forget.REQUESTS` that draws its requests.
        protocol: the split it is measured on (``ranking``: Recall and NDCG over all items;
            ``labelled``: AUC, IFRU's attack).
        poisons: the request changes the training data (the attack flips labels before training).
    """

    request: str
    protocol: str
    poisons: bool = False


FORGET_SETTINGS: Registry[ForgetSetting] = Registry("forget setting")
FORGET_SETTINGS.add("random", ForgetSetting("random", "ranking"),
                    "a random share of the training interactions (IFRU, UBPR, RecEraser)")
FORGET_SETTINGS.add("users", ForgetSetting("users", "ranking"),
                    "every interaction of a random share of the users (the right to erasure)")
FORGET_SETTINGS.add("attack", ForgetSetting("attack", "labelled", poisons=True),
                    "IFRU's dirty data: a random share of labels flipped before training, then forgotten")

QUICK_FORGET: tuple[tuple[str, float], ...] = (("random", 0.001), ("random", 0.01), ("users", 0.01),
                                                ("attack", 0.02))
FULL_FORGET: tuple[tuple[str, float], ...] = (("random", 0.001), ("random", 0.005), ("random", 0.01),
                                               ("random", 0.05), ("users", 0.01), ("users", 0.05),
                                               ("attack", 0.01), ("attack", 0.02), ("attack", 0.05))
"""The (setting, ratio) pairs of each profile: ratios of interactions (``users``: of the users)."""

#: damping of the influence methods' Hessian on LightGCN (its closed-form curvature has no cheap diagonal to scale it by)
LIGHTGCN_DAMPING = 1e-3
#: on MF, the damping as this multiple of the Hessian's mean diagonal entry (Levenberg-Marquardt). UBPR's default of 1
#: met negative curvature at the quick profile's early-stopped BPR-MF and MF on ML-100K (best epochs 8 and 2,
#: 1 % forgotten); 10 converged in 17 and 9 CG iterations
MF_RELATIVE_DAMPING = 10.0


#: backbones the labelled protocol trains with point-wise BCE in place of their own pair-wise loss: IFRU's LightGCN
#: (BPR-MF with BCE would be the ``mf`` backbone again, so it is not repeated)
LABELLED_OBJECTIVES: dict[str, str] = {"lightgcn": "bce"}


def backbone_objective(backbone: str, protocol: str) -> str | None:
    """The objective ``backbone`` is trained with on data of ``protocol``: its own, or BCE on the labelled rows
    where :data:`LABELLED_OBJECTIVES` says so."""
    if protocol == "labelled":
        return LABELLED_OBJECTIVES.get(backbone, MODELS[backbone].objective)
    return MODELS[backbone].objective


def backbone_unsupported(backbone: str, protocol: str) -> str | None:
    """Why ``backbone`` is not trained on data of ``protocol`` in the study, or ``None``: labelled rows
    (0 and 1) train a point-wise loss (IFRU's BCE); the pair-wise and whole-data losses read positives only."""
    objective = backbone_objective(backbone, protocol)
    if protocol == "labelled" and objective != "bce":
        return f"the labelled protocol trains point-wise BCE; {backbone!r} is trained with {objective}"
    return None


def backbone_overrides(backbone: str, protocol: str) -> dict[str, Any]:
    """The backbone settings the study changes for ``protocol``: the objective where it is not the backbone's own."""
    objective = backbone_objective(backbone, protocol)
    return {} if objective == MODELS[backbone].objective else {"objective": objective}


def method_options(method: str, backbone: str) -> dict[str, Any]:
    """What the study gives ``method`` on ``backbone`` beyond its defaults: the influence methods a damped
    Hessian (an early-stopped model is not at a minimum: undamped CG meets negative curvature), relative to
    the curvature on MF (:data:`MF_RELATIVE_DAMPING`), absolute on LightGCN (:data:`LIGHTGCN_DAMPING`)."""
    if "relative_damping" not in METHODS[method].options:
        return {}
    if backbone == "lightgcn":
        return {"solver_options": {"damping": LIGHTGCN_DAMPING}}
    return {"relative_damping": MF_RELATIVE_DAMPING}


@dataclass(frozen=True)
class StudyConfig:
    """What a study runs; two runs with equal configurations write the same table (on the same device).

    Attributes:
        profile: a name of :data:`~rec_unlearn_lib.settings.PROFILES` (the backbones' settings).
        dataset: a name of :data:`~rec_unlearn_lib.sources.SOURCES`.
        backbones, methods: names of the registries (default: all trained backbones, all methods).
        forget: (setting, ratio) pairs.
        seeds: every method runs once per seed.
        retrain_seeds: Retrain's seeds (a superset of ``seeds``): its spread is the noise floor.
        request_seed: draws every request; split_seed: draws the split.
        epochs: caps every training run's epochs (``None``: the profile's).
        reg: every backbone's L2 weight (``None``: the profile's).
        fidelity: for the influence methods, also compare their update with exact re-optimisation
            (:func:`~.measures.update_fidelity`; off by default: it needs a model whose full-batch loss has a
            minimiser near it, which the profiles' lightly regularised backbones do not have: raise ``reg``).
        device: ``cpu`` or ``cuda`` (where timings were taken).
    """

    profile: str
    dataset: str
    device: str
    backbones: tuple[str, ...] = field(default_factory=trainable_models)
    methods: tuple[str, ...] = field(default_factory=METHODS.names)
    forget: tuple[tuple[str, float], ...] = QUICK_FORGET
    seeds: tuple[int, ...] = (0,)
    retrain_seeds: tuple[int, ...] = (0, 1, 2)
    request_seed: int = 0
    split_seed: int = 0
    epochs: int | None = None
    reg: float | None = None
    fidelity: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", get_profile(self.profile))
        for name in self.backbones:
            if MODELS.check(name) not in trainable_models():
                raise ValueError(f"the {name!r} baseline has no training to unlearn")
        for name in self.methods:
            METHODS.check(name)
        forget = tuple((FORGET_SETTINGS.check(s), check_ratio(r, f"the {s} setting's ratio")) for s, r in self.forget)
        object.__setattr__(self, "forget", forget)
        for name in ("seeds", "retrain_seeds"):
            object.__setattr__(self, name, tuple(check_seed(seed) for seed in getattr(self, name)))
        for name in ("backbones", "methods", "forget", "seeds", "retrain_seeds"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} repeat an entry: {list(values)}")
        if not self.seeds:
            raise ValueError("give at least one seed")
        if len(self.retrain_seeds) < 2 or not set(self.seeds) <= set(self.retrain_seeds):
            raise ValueError(f"retrain_seeds {list(self.retrain_seeds)} must hold at least two seeds (Retrain's "
                             f"spread) and every seed of the methods {list(self.seeds)}")
        if self.reg is not None:
            object.__setattr__(self, "reg", float(self.reg))
            if not self.reg >= 0:
                raise ValueError(f"reg must be a non-negative number, got {self.reg}")
        if self.epochs is not None:
            object.__setattr__(self, "epochs", int(self.epochs))
            if self.epochs < 1:
                raise ValueError(f"epochs must be a positive integer, got {self.epochs}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (lists for tuples): what the metadata file records and a resumed run must match."""
        return {k: [list(v) if isinstance(v, tuple) else v for v in value] if isinstance(value, tuple) else value
                for k, value in asdict(self).items()}


@dataclass(frozen=True)
class Cell:
    """One run of the study: one row of its table."""

    backbone: str
    method: str
    setting: str
    ratio: float
    seed: int

    @property
    def protocol(self) -> str:
        return FORGET_SETTINGS[self.setting].protocol


@dataclass(frozen=True)
class Group:
    """Cells that share fitted methods: one backbone, one seed, one training set.

    Attributes:
        backbone, seed: shared by every cell.
        protocol: the split they are measured on.
        poisoned: ``(setting, ratio)`` whose request poisons the training data, or ``None`` (clean data).
        cells: the group's cells, in order.
    """

    backbone: str
    seed: int
    protocol: str
    poisoned: tuple[str, float] | None
    cells: tuple[Cell, ...]

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.method for c in self.cells))

    @property
    def requests(self) -> tuple[tuple[str, float], ...]:
        return tuple(dict.fromkeys((c.setting, c.ratio) for c in self.cells))


def cell_unsupported(backbone: str, method: str, setting: str) -> str | None:
    """Why the cell does not exist (a sentence), or ``None``."""
    protocol = FORGET_SETTINGS[setting].protocol
    return backbone_unsupported(backbone, protocol) or METHODS[method].unsupported(
        backbone, protocol, backbone_objective(backbone, protocol))


def cells(config: StudyConfig) -> list[Cell]:
    """Every cell of the grid, in a fixed order (backbone, setting, ratio, method, seed), Retrain first among the
    methods (the others' ``retrain_seconds`` are its seconds on the same request)."""
    out = []
    methods = sorted(config.methods, key=lambda name: name != "retrain")
    for backbone in config.backbones:
        for setting, ratio in config.forget:
            for method in methods:
                if cell_unsupported(backbone, method, setting) is None:
                    seeds = config.retrain_seeds if method == "retrain" else config.seeds
                    out += [Cell(backbone, method, setting, ratio, seed) for seed in seeds]
    return out


def groups(config: StudyConfig, todo: list[Cell] | None = None) -> list[Group]:
    """The cells (default: all of :func:`cells`) grouped by what they can share, in grid order."""
    keyed: dict[tuple[Any, ...], list[Cell]] = {}
    for cell in cells(config) if todo is None else todo:
        setting = FORGET_SETTINGS[cell.setting]
        poisoned = (cell.setting, cell.ratio) if setting.poisons else None
        keyed.setdefault((cell.backbone, cell.seed, setting.protocol, poisoned), []).append(cell)
    return [Group(b, s, p, x, tuple(c)) for (b, s, p, x), c in keyed.items()]
