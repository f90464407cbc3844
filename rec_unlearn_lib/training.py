"""One trainer for every backbone: Adam or Adagrad, early stopping, best checkpoint, seeds.

:func:`fit` trains a :class:`~rec_unlearn_lib.models.Recommender` on ``train`` with its
own objective, evaluates on ``split.valid`` every ``eval_every`` epochs, stops after
``patience`` evaluations without improvement of ``metric``, and restores the best
parameters (RecEraser's code does not restore them; the book does). The history is a
tidy table, one row per epoch.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from .config import MODEL_KEYS, TRAIN_KEYS, backbone_settings, default_device, set_seed, synchronize
from .evaluation import evaluate
from .interactions import Interactions
from .models import build_model
from .models.base import Recommender
from .splits import Split

OPTIMIZERS = {"adam": torch.optim.Adam, "adagrad": torch.optim.Adagrad}
DEFAULT_METRIC = {"ranking": "recall@20", "sampled": "hr@10", "labelled": "auc"}


@dataclass
class TrainConfig:
    """Settings of one training run (defaults: the quick profile's BPR-MF).

    Attributes:
        epochs: maximum epochs.
        batch_size: rows (or users, for WMF) per step.
        lr: learning rate.
        optimizer: ``adam`` or ``adagrad``.
        eval_every: epochs between validation evaluations.
        patience: evaluations without improvement before stopping (0: never stop early).
        metric: validation metric to select on; default by protocol
            (``recall@20``, ``hr@10`` or ``auc``).
        seed: seeds the initialisation (via :func:`~rec_unlearn_lib.config.set_seed`
            before the model is built, by the caller) and every epoch's sampling.
        device: ``cpu``, ``cuda`` or ``None`` (GPU when available).
        progress: show a tqdm bar over epochs.
    """

    epochs: int = 30
    batch_size: int = 2048
    lr: float = 1e-2
    optimizer: str = "adam"
    eval_every: int = 1
    patience: int = 5
    metric: str | None = None
    seed: int = 0
    device: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        for name in ("epochs", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.patience < 0:
            raise ValueError(f"lr must be positive and patience non-negative, got {self.lr}, {self.patience}")


@dataclass
class TrainResult:
    """What :func:`fit` did.

    Attributes:
        history: one row per epoch: ``epoch``, ``loss`` (mean over batches),
            ``seconds`` (training time of the epoch) and the validation metrics where evaluated.
        best_epoch: epoch of the restored parameters (0: the initial ones).
        best_score: their validation ``metric``.
        train_seconds: wall time of the optimisation steps (device-synchronised).
        eval_seconds: wall time of the validation evaluations.
        config: the settings, as a dict.
    """

    history: pd.DataFrame
    best_epoch: int
    best_score: float
    train_seconds: float
    eval_seconds: float
    config: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.train_seconds + self.eval_seconds


def train_epoch(model: Recommender, optimizer: torch.optim.Optimizer, train: Interactions,
                config: TrainConfig, epoch: int) -> float:
    """One pass over the objective's batches for ``(config.seed, epoch)``; returns the mean loss."""
    model.train()
    total, count = torch.zeros((), device=model.device), 0
    for batch in model.objective.batches(train, config.batch_size, config.seed, epoch, model.device):  # type: ignore[union-attr]
        optimizer.zero_grad(set_to_none=True)
        loss = model.loss(batch)
        loss.backward()
        optimizer.step()
        total += loss.detach()
        count += 1
    return float(total) / max(count, 1)


def fit(model: Recommender, split: Split, config: TrainConfig | None = None,
        train: Interactions | None = None, desc: str | None = None,
        mask: Interactions | None = None) -> TrainResult:
    """Train ``model`` on ``train`` (default ``split.train``), select on ``split.valid``.

    The model is moved to the configured device and given its training data
    (:meth:`~rec_unlearn_lib.models.Recommender.fit_data`). Models without an objective
    (popularity) are only fitted. Returns the history and the best epoch; the model
    holds the best parameters afterwards. ``desc`` labels the progress bar.

    ``mask`` (default ``train``) is what validation ranking masks: a sub-model that learns
    from one shard is still selected on validation ranked like the final model, against all
    items minus the *whole* training set.
    """
    config = config or TrainConfig()
    train = split.train if train is None else train
    mask = train if mask is None else mask
    device = default_device(config.device)
    metric = config.metric or DEFAULT_METRIC[split.protocol]
    model.to(device)
    model.fit_data(train)
    if model.objective is None:
        start = time.perf_counter()
        score = evaluate(model, split, "valid", train=mask)
        frame = pd.DataFrame([{"epoch": 0, **score}])
        return TrainResult(frame, 0, score.get(metric, float("nan")), 0.0, time.perf_counter() - start, asdict(config))

    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)
    rows: list[dict[str, float]] = []
    best_score, best_epoch, best_state, stale = -float("inf"), 0, copy.deepcopy(model.state_dict()), 0
    train_seconds = eval_seconds = 0.0
    # progress=False forces the bar off; otherwise tqdm's defaults apply (TQDM_DISABLE=1 hides it in book builds)
    bar = tqdm(range(1, config.epochs + 1), desc=f"train {desc or model.name}", leave=False,
               **({} if config.progress else {"disable": True}))
    for epoch in bar:
        synchronize(device)
        start = time.perf_counter()
        loss = train_epoch(model, optimizer, train, config, epoch)
        synchronize(device)
        row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": time.perf_counter() - start}
        train_seconds += row["seconds"]
        if not math.isfinite(loss):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {loss}); lower the learning rate")
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            start = time.perf_counter()
            row.update(evaluate(model, split, "valid", train=mask))
            eval_seconds += time.perf_counter() - start
            if metric not in row:
                raise KeyError(f"metric {metric!r} is not reported by the {split.protocol} protocol: {sorted(row)}")
            if row[metric] > best_score:
                best_score, best_epoch, stale = row[metric], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
            bar.set_postfix(loss=f"{loss:.4f}", **{metric: f"{row[metric]:.4f}"})
        rows.append(row)
        if config.patience and stale >= config.patience:
            break
    model.load_state_dict(best_state)
    return TrainResult(pd.DataFrame(rows), best_epoch, best_score, train_seconds, eval_seconds, asdict(config))


def resolve_settings(name: str, profile: str | None = None,
                     overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The profile's settings of backbone ``name`` with ``overrides`` applied (unknown keys rejected).

    Keys: any of :data:`~rec_unlearn_lib.config.MODEL_KEYS`, :data:`~rec_unlearn_lib.config.TRAIN_KEYS`
    or ``objective``.
    """
    overrides = overrides or {}
    unknown = set(overrides) - set(MODEL_KEYS) - set(TRAIN_KEYS) - {"objective"}
    if unknown:
        raise ValueError(f"unknown backbone setting(s): {', '.join(sorted(unknown))}")
    return {**backbone_settings(name, profile), **overrides}


def make_backbone(name: str, num_users: int, num_items: int, settings: dict[str, Any], seed: int) -> Recommender:
    """A freshly initialised backbone: :func:`~rec_unlearn_lib.config.set_seed`, then ``build_model``.

    The same ``(name, settings, seed)`` always gives the same initial parameters: the seed
    policy of every backbone, of Retrain and of every sub-model.
    """
    set_seed(seed)
    return build_model(name, num_users, num_items, **{k: settings[k] for k in (*MODEL_KEYS, "objective")
                                                        if k in settings})


def train_config(settings: dict[str, Any], seed: int, device: str | torch.device | None = None,
                 progress: bool = False) -> TrainConfig:
    """The :class:`TrainConfig` of resolved ``settings`` (see :func:`resolve_settings`)."""
    return TrainConfig(seed=seed, device=None if device is None else str(device), progress=progress,
                       **{k: settings[k] for k in TRAIN_KEYS if k in settings})


def train_backbone(name: str, split: Split, profile: str | None = None, seed: int = 0,
                   device: str | None = None, progress: bool = True,
                   **overrides: Any) -> tuple[Recommender, TrainResult]:
    """Build backbone ``name`` with the profile's settings, seed it, and :func:`fit` it on ``split``.

    Args:
        name: ``mf``, ``bpr``, ``wmf``, ``lightgcn`` or ``pop``.
        split: the data split (its protocol decides the validation metric).
        profile: ``quick`` or ``full`` (default ``$REC_UNLEARN_PROFILE``).
        seed: seeds the initialisation and every epoch's sampling.
        device: ``cpu`` / ``cuda`` / ``None`` (GPU when available).
        progress: show a progress bar over epochs.
        overrides: any key of :data:`~rec_unlearn_lib.config.BACKBONE_SETTINGS` (e.g. ``epochs=5``)
            or ``objective``.
    """
    settings = resolve_settings(name, profile, overrides)
    model = make_backbone(name, split.num_users, split.num_items, settings, seed)
    return model, fit(model, split, train_config(settings, seed, device, progress), desc=name)
