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
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from .config import reproducible
from .evaluation import evaluate
from .interactions import Interactions
from .models.base import Recommender
from .settings import Runtime, TrainConfig, backbone_settings, make_backbone
from .splits import PROTOCOLS, Split
from .timing import timed


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
    """One pass over the objective's batches for ``(config.seed, epoch)``; returns the mean loss.

    On the CPU the pass runs with deterministic kernels (:func:`~rec_unlearn_lib.config.reproducible`):
    the same seed gives bit-identical parameters.
    """
    assert model.objective is not None, "train_epoch needs a model with an objective"
    model.train()
    total, count = torch.zeros((), device=model.device), 0
    with reproducible(model.device):
        for batch in model.objective.batches(train, config.batch_size, config.seed, epoch, model.device):
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
    device = config.device
    metric = config.metric or PROTOCOLS[split.protocol].metric
    model.to(device)
    model.fit_data(train)
    if model.objective is None:
        with timed(device) as clock:
            score = evaluate(model, split, "valid", train=mask)
        frame = pd.DataFrame([{"epoch": 0, **score}])
        return TrainResult(frame, 0, score.get(metric, float("nan")), 0.0, clock.seconds, config.as_dict())

    optimizer = config.make_optimizer(model.parameters())
    rows: list[dict[str, float]] = []
    best_score, best_epoch, best_state, stale = -float("inf"), 0, copy.deepcopy(model.state_dict()), 0
    train_seconds = eval_seconds = 0.0
    # progress=False forces the bar off; otherwise tqdm's defaults apply (TQDM_DISABLE=1 hides it in book builds)
    bar = tqdm(range(1, config.epochs + 1), desc=f"train {desc or model.name}", leave=False,
               **({} if config.progress else {"disable": True}))
    for epoch in bar:
        with timed(device) as clock:
            loss = train_epoch(model, optimizer, train, config, epoch)
        row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": clock.seconds}
        train_seconds += clock.seconds
        if not math.isfinite(loss):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {loss}); lower the learning rate")
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            with timed(device) as clock:
                row.update(evaluate(model, split, "valid", train=mask))
            eval_seconds += clock.seconds
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
    return TrainResult(pd.DataFrame(rows), best_epoch, best_score, train_seconds, eval_seconds, config.as_dict())


def train_backbone(name: str, split: Split, profile: str | None = None, seed: int = 0,
                   device: str | torch.device | None = None, progress: bool = True,
                   **overrides: Any) -> tuple[Recommender, TrainResult]:
    """Build backbone ``name`` with the profile's settings, seed it, and :func:`fit` it on ``split``.

    Args:
        name: a backbone of :data:`~rec_unlearn_lib.models.MODELS`.
        split: the data split (its protocol decides the validation metric).
        profile: ``quick`` or ``full`` (default ``$REC_UNLEARN_PROFILE``).
        seed: seeds the initialisation and every epoch's sampling.
        device: ``cpu`` / ``cuda`` / ``None`` (GPU when available).
        progress: show a progress bar over epochs.
        overrides: fields of :class:`~rec_unlearn_lib.settings.BackboneSettings` (e.g. ``epochs=5``).
    """
    runtime = Runtime.resolve(profile, seed, device)
    settings = backbone_settings(name, runtime.profile).replace(**overrides)
    model = make_backbone(name, split.num_users, split.num_items, settings, runtime.seed)
    return model, fit(model, split, settings.train_config(runtime.seed, runtime.device, progress), desc=name)
