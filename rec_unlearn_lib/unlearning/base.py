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
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..config import MODEL_KEYS, TRAIN_KEYS, backbone_settings, default_device, set_seed, synchronize
from ..evaluation import evaluate
from ..forget import ForgetRequest
from ..interactions import Interactions
from ..models import build_model
from ..models.base import Recommender
from ..splits import Split
from ..training import DEFAULT_METRIC, OPTIMIZERS, TrainConfig, TrainResult, train_epoch


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
        out = asdict(self)
        out.pop("model")
        return out


def check_backbone(name: str) -> None:
    if name == "pop":
        raise ValueError("the popularity baseline has no training to unlearn; choose mf, bpr, wmf or lightgcn")


def resolve_settings(backbone: str, profile: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The profile's settings of ``backbone`` with ``overrides`` applied (unknown keys rejected)."""
    check_backbone(backbone)
    settings = backbone_settings(backbone, profile)
    unknown = set(overrides) - set(MODEL_KEYS) - set(TRAIN_KEYS) - {"objective"}
    if unknown:
        raise ValueError(f"unknown backbone setting(s): {', '.join(sorted(unknown))}")
    return {**settings, **overrides}


def make_backbone(backbone: str, num_users: int, num_items: int, settings: dict[str, Any], seed: int) -> Recommender:
    """A freshly initialised backbone: :func:`~rec_unlearn_lib.config.set_seed` then ``build_model``.

    The same ``(backbone, settings, seed)`` always gives the same initial parameters, which
    is the seed policy of Retrain and of every sub-model.
    """
    set_seed(seed)
    kwargs = {k: settings[k] for k in (*MODEL_KEYS, "objective") if k in settings}
    return build_model(backbone, num_users, num_items, **kwargs)


def train_config(settings: dict[str, Any], seed: int, device: str | torch.device | None) -> TrainConfig:
    return TrainConfig(seed=seed, device=None if device is None else str(device), progress=False,
                       **{k: settings[k] for k in TRAIN_KEYS if k in settings})


def train_model(model: Recommender, split: Split, config: TrainConfig, train: Interactions,
                mask: Interactions | None = None) -> TrainResult:
    """:func:`~rec_unlearn_lib.training.fit` on ``train``, but validation masks ``mask``.

    A sub-model learns from its shard only, yet is selected on validation ranked like the
    final model: against all items minus the *whole* training set ``mask`` (default ``train``).
    Early stopping after ``config.patience`` evaluations without improvement; the best
    parameters are restored.
    """
    mask = train if mask is None else mask
    device = default_device(config.device)
    metric = config.metric or DEFAULT_METRIC[split.protocol]
    model.to(device)
    model.fit_data(train)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)
    rows: list[dict[str, float]] = []
    best_score, best_epoch, best_state, stale = -float("inf"), 0, copy.deepcopy(model.state_dict()), 0
    train_seconds = eval_seconds = 0.0
    for epoch in range(1, config.epochs + 1):
        synchronize(device)
        start = time.perf_counter()
        loss = train_epoch(model, optimizer, train, config, epoch)
        synchronize(device)
        row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - start}
        train_seconds += row["seconds"]
        if not np.isfinite(loss):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {loss}); lower the learning rate")
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            start = time.perf_counter()
            row.update(evaluate(model, split, "valid", train=mask))
            eval_seconds += time.perf_counter() - start
            if row[metric] > best_score:
                best_score, best_epoch, stale = row[metric], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        rows.append(row)
        if config.patience and stale >= config.patience:
            break
    model.load_state_dict(best_state)
    return TrainResult(pd.DataFrame(rows), best_epoch, best_score, train_seconds, eval_seconds, asdict(config))


class UnlearningMethod(ABC):
    """Base class: fit on training data, score through :attr:`model`, :meth:`forget` requests.

    Args:
        backbone: ``mf``, ``bpr``, ``wmf`` or ``lightgcn``.
        profile: ``quick`` or ``full`` (default ``$REC_UNLEARN_PROFILE``): the backbone's settings.
        seed: seeds every initialisation and every epoch's sampling.
        device: ``cpu`` / ``cuda`` / ``None`` (GPU when available).
        overrides: backbone settings that replace the profile's (e.g. ``emb_dim=32``).
    """

    name = "method"

    def __init__(self, backbone: str = "bpr", profile: str | None = None, seed: int = 0,
                 device: str | None = None, **overrides: Any) -> None:
        self.backbone = backbone
        self.profile = profile
        self.seed = seed
        self.device = default_device(device)
        self.settings = resolve_settings(backbone, profile, overrides)
        self._split: Split | None = None
        self._train: Interactions | None = None
        self._model: Recommender | None = None
        self.fit_seconds: dict[str, float] = {}

    # ------------------------------------------------------------------ state
    @property
    def model(self) -> Recommender:
        """The current recommender (after the last :meth:`fit` or :meth:`forget`)."""
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(split) first")
        return self._model

    @property
    def split(self) -> Split:
        if self._split is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(split) first")
        return self._split

    @property
    def train(self) -> Interactions:
        """The training data the current model has learned from (D minus everything forgotten)."""
        if self._train is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(split) first")
        return self._train

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
        synchronize(self.device)
        start = time.perf_counter()
        touched, breakdown = self._forget_rows(rows)
        synchronize(self.device)
        seconds = time.perf_counter() - start
        return UnlearnResult(self.name, self.model, seconds, str(self.device), touched, breakdown, len(rows))

    @abstractmethod
    def _forget_rows(self, rows: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        """Remove training rows ``rows`` (sorted, valid) and update the model; returns (touched, breakdown)."""

    def forget_sequentially(self, request: ForgetRequest) -> list[UnlearnResult]:
        """RecEraser's setting: erase the request's interactions one at a time, in order."""
        return [self.forget(single) for single in one_at_a_time(request)]


def one_at_a_time(request: ForgetRequest) -> list[ForgetRequest]:
    """The request split into single-interaction requests (same order)."""
    return [ForgetRequest(request.users[j:j + 1], request.items[j:j + 1], request.kind) for j in range(len(request))]
