"""The one interface every unlearning method in the book implements.

An :class:`UnlearningMethod` is fitted on a split's training data (:meth:`~UnlearningMethod.fit`),
exposes its current recommender (:attr:`~UnlearningMethod.model`, a
:class:`~rec_unlearn_lib.models.Recommender`, so every metric works unchanged) and erases a
:class:`~rec_unlearn_lib.forget.ForgetRequest` with :meth:`~UnlearningMethod.forget`, which
returns an :class:`UnlearnResult`: the unlearned model and what it cost (wall seconds, split
into phases, the device, and which shards or parameters were touched).

Forgetting moves the method's state forward: after ``forget(r1)`` the training data is
``D \\ D_f1`` and a later ``forget(r2)`` removes ``D_f2`` from that (RecEraser's one request at a
time). A request naming many interactions at once is IFRU's batch setting. Models returned
earlier are never modified in place.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from ..forget import ForgetRequest
from ..interactions import Interactions
from ..models import MODELS, trainable_models
from ..models.base import Recommender
from ..registry import Registry
from ..settings import BackboneSettings, Runtime, backbone_settings, make_backbone
from ..splits import Split
from ..timing import timed
from ..training import TrainResult, fit


@dataclass
class UnlearnResult:
    """What one :meth:`UnlearningMethod.forget` call did and cost.

    Attributes:
        method: the method's name (``retrain``, ``sisa``, ``receraser``, ...).
        model: the unlearned recommender (scores through the backbone interface).
        seconds: total wall-clock seconds of the call (device-synchronised).
        device: the device it ran on, e.g. ``cpu`` or ``cuda:0``.
        touched: what was recomputed, e.g. ``{"shards": [3], "parameters": "shard 3 + aggregator"}``.
        breakdown: seconds per phase, e.g. ``{"shards": 1.2, "aggregator": 0.4}`` (sums to about ``seconds``).
        num_forgotten: interactions erased by this call.
    """

    method: str
    model: Recommender
    seconds: float
    device: str
    touched: dict[str, Any] = field(default_factory=dict)
    breakdown: dict[str, float] = field(default_factory=dict)
    num_forgotten: int = 0

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly dict of everything but the model."""
        return {"method": self.method, "seconds": self.seconds, "device": self.device, "touched": dict(self.touched),
                "breakdown": dict(self.breakdown), "num_forgotten": self.num_forgotten}


def check_backbone(name: str) -> str:
    """``name`` if it is a registered backbone that is trained (so that there is something to unlearn)."""
    if MODELS[name].objective is None:
        raise ValueError(f"the {name!r} baseline has no training to unlearn; choose one of "
                         f"{', '.join(trainable_models())}")
    return name


class UnlearningMethod(ABC):
    """Base class: fit on training data, score through :attr:`model`, :meth:`forget` requests.

    Args:
        backbone: a trained backbone of :data:`~rec_unlearn_lib.models.MODELS`.
        profile, seed, device: resolved once into :attr:`runtime` (``None``: ``$REC_UNLEARN_PROFILE``,
            the GPU when available).
        settings: the backbone's settings (default: the profile's, :func:`~rec_unlearn_lib.settings.backbone_settings`).
        overrides: fields of the settings that replace them (e.g. ``emb_dim=32``).

    A subclass registered in :data:`METHODS` lists in :attr:`options` the keyword arguments of
    its own that the command line may pass, and reports them in :meth:`describe`.
    """

    name = "method"
    options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, backbone: str = "bpr", profile: str | None = None, seed: int = 0,
                 device: str | torch.device | None = None, *, settings: BackboneSettings | None = None,
                 **overrides: Any) -> None:
        self.backbone = check_backbone(backbone)
        self.runtime = Runtime.resolve(profile, seed, device)
        base = backbone_settings(backbone, self.runtime.profile) if settings is None else settings
        self.settings: BackboneSettings = base.replace(**overrides)
        self._split: Split | None = None
        self._train: Interactions | None = None
        self._model: Recommender | None = None
        self.fit_seconds: dict[str, float] = {}

    @property
    def profile(self) -> str:
        return self.runtime.profile

    @property
    def seed(self) -> int:
        return self.runtime.seed

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    def describe(self) -> dict[str, Any]:
        """The method's own configuration (its :attr:`options`), JSON-friendly; empty for Retrain."""
        return {}

    @classmethod
    def unsupported(cls, backbone: str, protocol: str, objective: str | None = None) -> str | None:
        """Why the method cannot unlearn ``backbone`` trained with ``objective`` (default: the backbone's own) on
        data of ``protocol`` (a sentence), or ``None`` when it can: what the study's grid asks of every method."""
        if MODELS[backbone].objective is None:
            return f"the {backbone!r} baseline has no training to unlearn"
        return None

    # ------------------------------------------------------------------ state
    def _fitted(self, value: Any) -> Any:
        if value is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(split) first")
        return value

    @property
    def model(self) -> Recommender:
        """The current recommender (after the last :meth:`fit` or :meth:`forget`)."""
        return self._fitted(self._model)

    @property
    def split(self) -> Split:
        """The split the method was fitted on."""
        return self._fitted(self._split)

    @property
    def train(self) -> Interactions:
        """The training data the current model has learned from (D minus everything forgotten)."""
        return self._fitted(self._train)

    # ------------------------------------------------------------------ API
    @abstractmethod
    def fit(self, split: Split, train: Interactions | None = None) -> "UnlearningMethod":
        """Train on ``train`` (default ``split.train``), select on ``split.valid``; returns ``self``."""

    def forget(self, request: ForgetRequest) -> UnlearnResult:
        """Erase ``request`` from the model; returns the unlearned model and its cost.

        Raises:
            ForgetRequestError: the request names a pair that is not in the current training
                data (never trained on, or already forgotten), or names one twice.
        """
        rows = request.rows(self.train)      # validates first, before any work
        if len(rows) == 0:
            return UnlearnResult(self.name, self.model, 0.0, str(self.device), {"shards": [], "parameters": "none"},
                                 {}, 0)
        with timed(self.device) as clock:
            touched, breakdown = self._forget_rows(rows)
        return UnlearnResult(self.name, self.model, clock.seconds, str(self.device), touched, breakdown, len(rows))

    @abstractmethod
    def _forget_rows(self, rows: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        """Remove training rows ``rows`` (sorted, valid) and update the model; returns (touched, breakdown)."""

    def forget_sequentially(self, request: ForgetRequest) -> list[UnlearnResult]:
        """RecEraser's setting: erase the request's interactions one at a time, in order."""
        return [self.forget(single) for single in one_at_a_time(request)]


class SingleModelMethod(UnlearningMethod):
    """A method whose model is one backbone trained on all of D (Retrain, the influence methods).

    :meth:`fit` trains it from scratch with the method's settings and seed; :attr:`result` holds the
    trainer's :class:`~rec_unlearn_lib.training.TrainResult`.
    """

    def fit(self, split: Split, train: Interactions | None = None) -> "SingleModelMethod":
        self._split = split
        self._train = split.train if train is None else train
        with timed(self.device) as clock:
            self._model, self.result = self._train_backbone(self._train)
        self.fit_seconds = {"total": clock.seconds}
        return self

    def at(self, model: Recommender) -> "SingleModelMethod":
        """A copy of this fitted method whose current model is ``model`` (same data, same settings), e.g. the
        original moved to a stationary point; this method is not changed.

        The copy is shallow: it shares this method's data and settings, which every method's :meth:`forget`
        replaces (``self._train = ...``, ``self._model = ...``) and never changes in place."""
        self._fitted(self._model)
        clone = copy.copy(self)
        clone._model = model
        return clone

    def adopt(self, fitted: "SingleModelMethod") -> "SingleModelMethod":
        """Take over the fitted state of ``fitted`` (its split, data, model and training result) instead of
        training: e.g. IFRU and SCIF unlearning one and the same original model. Returns ``self``.

        Raises:
            ValueError: the two methods differ in backbone, settings, seed or device (the model would not be
                the one that this method's own :meth:`fit` trains).
        """
        mine, theirs = (self.backbone, self.settings, self.runtime), (fitted.backbone, fitted.settings, fitted.runtime)
        if mine != theirs:
            raise ValueError(f"{type(self).__name__} cannot adopt a model trained with other settings: "
                             f"{theirs} != {mine}")
        self._split, self._train, self._model = fitted.split, fitted.train, fitted.model
        self.result, self.fit_seconds = fitted.result, dict(fitted.fit_seconds)
        return self

    def _train_backbone(self, train: Interactions) -> tuple[Recommender, TrainResult]:
        """The backbone trained from scratch on ``train`` with the method's settings and seed."""
        model = make_backbone(self.backbone, self.split.num_users, self.split.num_items, self.settings, self.seed)
        return model, fit(model, self.split, self.settings.train_config(self.seed, self.device), train)


def one_at_a_time(request: ForgetRequest) -> list[ForgetRequest]:
    """The request split into single-interaction requests (same order)."""
    return [ForgetRequest(request.users[j:j + 1], request.items[j:j + 1], request.kind) for j in range(len(request))]


METHODS: Registry[type[UnlearningMethod]] = Registry("unlearning method")
"""The unlearning methods by name; a method joins the command line and the study by registering here."""


def sharding_caps(method: str, epochs: int | None) -> dict[str, Any]:
    """``{"sharding": ...}`` capping a sharded method's partition pre-training and aggregator at ``epochs`` (the
    backbone's own ``epochs`` caps its sub-models), or ``{}`` for another method or ``epochs=None``."""
    if epochs is None or "sharding" not in METHODS[method].options:
        return {}
    return {"sharding": {"partition_epochs": epochs, "agg_epochs": epochs}}


def _forget_batch(method: UnlearningMethod, request: ForgetRequest) -> list[UnlearnResult]:
    return [method.forget(request)]


def _forget_sequentially(method: UnlearningMethod, request: ForgetRequest) -> list[UnlearnResult]:
    return method.forget_sequentially(request)


MODES: Registry[Callable[[UnlearningMethod, ForgetRequest], list[UnlearnResult]]] = Registry("mode")
MODES.add("batch", _forget_batch, "the request is erased in one call (IFRU)")
MODES.add("sequential", _forget_sequentially, "one interaction at a time, each call timed (RecEraser's Table 4)")
