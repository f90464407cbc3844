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
from typing import Any, Sequence

import pandas as pd
import torch
from tqdm import tqdm

from .config import reproducible
from .evaluation import RankingTask, evaluate
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


class TrainStep:
    """One optimisation step of ``model`` on a batch: eager, or replayed from a CUDA graph.

    An eager step launches a few dozen small kernels from Python (gathers, the loss, its
    backward pass, the optimiser); on a GPU with batches of a few thousand rows that launch
    overhead, not the arithmetic, sets the speed. With ``graphed`` the forward pass, backward
    pass and optimiser step are recorded once as a CUDA graph (:class:`torch.cuda.CUDAGraph`)
    into fixed input buffers and replayed for every later batch of the same shapes: one launch
    a step, the same arithmetic. The first ``warmup`` steps run eagerly on a side stream (they
    create the optimiser's state, as capture requires); a batch of another shape (an epoch's
    last, shorter one) runs eagerly. Every step is a real training step: the graph changes
    only how it is launched. With ``compiled`` the loss (forward and backward) is compiled by
    :func:`torch.compile` first, so the graph holds fewer, fused kernels.

    Args:
        model: the model (on its device, with its training data set), or an :class:`Ensemble` of models.
        optimizer: its optimiser (created with ``capturable=True`` when ``graphed``, see
            :meth:`~rec_unlearn_lib.settings.TrainConfig.make_optimizer`).
        graphed: replay from a CUDA graph (needs a CUDA device).
        warmup: eager steps before the capture.
        compiled: compile the loss with :func:`torch.compile` (the odd-shaped last batch of an
            epoch compiles once more).
    """

    def __init__(self, model: "Recommender | Ensemble", optimizer: torch.optim.Optimizer, graphed: bool = False,
                 warmup: int = 3, compiled: bool = False) -> None:
        if graphed and model.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device; the model is on {model.device}")
        self.model, self.optimizer, self.graphed, self.warmup = model, optimizer, graphed, warmup
        self.compiled = compiled
        self._loss_of = torch.compile(model.loss) if compiled else model.loss
        self.eager_steps = 0
        self._graph: torch.cuda.CUDAGraph | None = None
        self._inputs: dict[str, torch.Tensor] = {}
        self._loss = torch.zeros(())

    @property
    def captured(self) -> bool:
        """Whether the step has been recorded as a CUDA graph (and is replayed from now on)."""
        return self._graph is not None

    def __call__(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Take the step on ``batch``; returns its loss (on the device, not synchronised): 0-dim for a model,
        one entry per member with a batch for an :class:`Ensemble` (the step descends their sum)."""
        if self._graph is not None and self._fits(batch):
            for name, value in batch.items():
                self._inputs[name].copy_(value)
            self._graph.replay()
            return self._loss.detach()
        if self.graphed and self._graph is None and self.eager_steps >= self.warmup:
            self._capture(batch)
            return self(batch)
        if self.graphed and self._graph is None:
            side = torch.cuda.Stream(self.model.device)
            side.wait_stream(torch.cuda.current_stream(self.model.device))
            with torch.cuda.stream(side):
                loss = self._eager(batch)
            torch.cuda.current_stream(self.model.device).wait_stream(side)
            return loss
        return self._eager(batch)

    def _eager(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss_of(batch)
        loss.sum().backward()
        self.optimizer.step()
        self.eager_steps += 1
        return loss.detach()

    def _fits(self, batch: dict[str, torch.Tensor]) -> bool:
        return batch.keys() == self._inputs.keys() and all(
            value.shape == self._inputs[name].shape for name, value in batch.items())

    def _capture(self, batch: dict[str, torch.Tensor]) -> None:
        """Record one step on buffers shaped like ``batch`` (recording runs nothing; the replay does)."""
        self._inputs = {name: value.clone() for name, value in batch.items()}
        self.optimizer.zero_grad(set_to_none=True)   # the graph's backward pass writes fresh gradients
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._loss = self._loss_of(self._inputs)
            self._loss.sum().backward()
            self.optimizer.step()
        self._graph = graph


def train_epoch(model: Recommender, step: TrainStep, train: Interactions, config: TrainConfig, epoch: int) -> float:
    """One pass over the objective's batches for ``(config.seed, epoch)``; returns the mean loss.

    The batches are drawn on the model's device and the loss is summed there: the pass
    synchronises with the host once, at its end. On the CPU it runs with deterministic
    kernels (:func:`~rec_unlearn_lib.config.reproducible`): the same seed gives bit-identical
    parameters.
    """
    assert model.objective is not None, "train_epoch needs a model with an objective"
    model.train()
    total, count = torch.zeros((), device=model.device), 0
    with reproducible(model.device):
        for batch in model.objective.batches(train, config.batch_size, config.seed, epoch, model.device):
            total += step(batch)
            count += 1
    return float(total) / max(count, 1)


class Ensemble(torch.nn.Module):
    """Models trained side by side as one, on one device: the sub-models of a sharded method.

    A step takes one batch of each member that has one left in the epoch (flattened under ``"k/name"``
    keys, ``k`` the member's index), returns the members' losses ``[m]`` and descends their sum. The
    gradient of the sum with respect to a member's parameters is that member's own gradient, and the
    optimisers (Adam, Adagrad) update every parameter from its own gradient and state and skip a parameter
    without a gradient: each member takes exactly the steps it takes trained alone (bit for bit on the
    CPU). What changes is the launch: one backward pass and one optimiser step for all members, and on a
    GPU one CUDA-graph replay (:class:`TrainStep`) for a step of every member at once.
    """

    def __init__(self, members: Sequence[Recommender]) -> None:
        super().__init__()
        if not members or any(m.objective is None for m in members):
            raise ValueError("an ensemble trains models with an objective, at least one")
        self.members = torch.nn.ModuleList(members)

    @property
    def device(self) -> torch.device:
        return self.members[0].device

    @property
    def graph_capturable(self) -> bool:
        return all(m.graph_capturable for m in self.members)

    @property
    def fixed_batch_shapes(self) -> bool:
        return all(m.fixed_batch_shapes for m in self.members)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """float [m]: the loss of each member with a batch in ``batch``, in the order of their keys."""
        parts: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in batch.items():
            member, name = key.split("/", 1)
            parts.setdefault(int(member), {})[name] = value
        return torch.stack([self.members[k].loss(part) for k, part in parts.items()])


def make_step(model: Recommender | Ensemble, config: TrainConfig) -> TrainStep:
    """The optimiser of ``config`` over ``model``'s parameters, wrapped in a :class:`TrainStep` that replays a
    CUDA graph where ``config`` allows it (:attr:`~rec_unlearn_lib.settings.TrainConfig.graphed`) and the model
    can be captured (:attr:`~rec_unlearn_lib.models.base.Recommender.graph_capturable`) with batches of one
    shape (:attr:`~rec_unlearn_lib.models.base.Recommender.fixed_batch_shapes`), with the loss compiled where
    ``config`` asks for it (:attr:`~rec_unlearn_lib.settings.TrainConfig.compiled`)."""
    graphed = config.graphed and model.graph_capturable and model.fixed_batch_shapes
    return TrainStep(model, config.make_optimizer(model.parameters(), capturable=graphed), graphed,
                     compiled=config.compiled)


def train_epoch_together(ensemble: Ensemble, step: TrainStep, trains: Sequence[Interactions],
                         configs: Sequence[TrainConfig], epoch: int, active: Sequence[int]) -> dict[int, float]:
    """One epoch of every ``active`` member on its own batches of ``(its seed, epoch)``, the members' steps
    taken together (step ``t`` holds batch ``t`` of every member that has one); returns each member's mean
    loss, as :func:`train_epoch` gives it for the member alone."""
    ensemble.train()
    device = ensemble.device
    with reproducible(device):
        batches = {k: list(ensemble.members[k].objective.batches(trains[k], configs[k].batch_size, configs[k].seed,
                                                                 epoch, device)) for k in active}
        totals = {k: torch.zeros((), device=device) for k in active}
        for t in range(max(len(b) for b in batches.values())):
            present = [k for k in active if t < len(batches[k])]
            losses = step({f"{k}/{name}": value for k in present for name, value in batches[k][t].items()})
            for j, k in enumerate(present):
                totals[k] += losses[j]
    return {k: float(totals[k]) / max(len(batches[k]), 1) for k in active}


@dataclass
class EarlyStopping:
    """The stopping rule of :func:`fit`: stop after ``patience`` evaluations in a row without a strict improvement
    of the validation metric (``patience`` 0: never stop); the best epoch is the first of the highest score."""

    patience: int
    best_score: float = -math.inf
    best_epoch: int = 0
    stale: int = 0

    def update(self, epoch: int, score: float) -> bool:
        """Record the evaluation of ``epoch``; whether it improved on every earlier one."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.stale = score, epoch, 0
            return True
        self.stale += 1
        return False

    @property
    def stopped(self) -> bool:
        """Whether the last ``patience`` evaluations brought no improvement (never with ``patience`` 0)."""
        return bool(self.patience) and self.stale >= self.patience


def replay_early_stopping(scores: pd.Series, patience: int) -> tuple[int, EarlyStopping]:
    """Where :func:`fit` would have stopped a run whose validation ``scores`` (indexed by epoch, in order; ``NaN``
    for epochs not evaluated) are known, had its patience been ``patience``: the last epoch it would have trained,
    and the rule's state there (``best_epoch``, ``best_score``). Reads a recorded :attr:`TrainResult.history`
    without training again. If the rule does not stop within the record (a patience longer than the run's own),
    the record's last epoch is returned with ``rule.stopped`` false: :func:`fit` would have trained on.

    Raises:
        ValueError: no epoch of ``scores`` was evaluated.
    """
    evaluated = scores.dropna()
    if evaluated.empty:
        raise ValueError("no evaluated epoch to replay: the scores are empty or all NaN")
    rule = EarlyStopping(patience)
    for epoch, score in evaluated.items():
        rule.update(int(epoch), float(score))
        if rule.stopped:
            break
    return int(epoch), rule


class _Selection:
    """Model selection of one training run: the history, early stopping on ``metric`` and the best parameters."""

    def __init__(self, model: Recommender, metric: str, patience: int) -> None:
        self.model, self.metric = model, metric
        self.rule = EarlyStopping(patience)
        self.rows: list[dict[str, float]] = []
        self.best_state = copy.deepcopy(model.state_dict())
        self.train_seconds = self.eval_seconds = 0.0

    def record(self, epoch: int, loss: float, seconds: float, scores: dict[str, float] | None,
               eval_seconds: float = 0.0) -> None:
        """One epoch: its loss and training seconds, and its validation ``scores`` where evaluated."""
        if not math.isfinite(loss):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {loss}); lower the learning rate")
        row: dict[str, float] = {"epoch": epoch, "loss": loss, "seconds": seconds}
        self.train_seconds += seconds
        if scores is not None:
            if self.metric not in scores:
                raise KeyError(f"metric {self.metric!r} is not reported by the protocol: {sorted(scores)}")
            row.update(scores)
            self.eval_seconds += eval_seconds
            if self.rule.update(epoch, scores[self.metric]):
                self.best_state = copy.deepcopy(self.model.state_dict())
        self.rows.append(row)

    @property
    def stopped(self) -> bool:
        return self.rule.stopped

    def result(self, config: TrainConfig) -> TrainResult:
        """Restore the best parameters; the run's :class:`TrainResult`."""
        self.model.load_state_dict(self.best_state)
        return TrainResult(pd.DataFrame(self.rows), self.rule.best_epoch, self.rule.best_score, self.train_seconds,
                           self.eval_seconds, config.as_dict())


class _Validation:
    """Validation of one training run: ``split.valid`` with ``train`` masked, its ranking masks built once."""

    def __init__(self, split: Split, train: Interactions, device: torch.device) -> None:
        self.split, self.train, self.device = split, train, device
        self.task = RankingTask(train, split.valid, device=device) if split.protocol == "ranking" else None

    def __call__(self, model: Recommender) -> tuple[dict[str, float], float]:
        """The validation metrics of ``model`` and the seconds they took."""
        with timed(self.device) as clock:
            scores = evaluate(model, self.split, "valid", train=self.train, task=self.task)
        return scores, clock.seconds


def _due(epoch: int, config: TrainConfig) -> bool:
    return epoch % config.eval_every == 0 or epoch == config.epochs


def fit(model: Recommender, split: Split, config: TrainConfig | None = None,
        train: Interactions | None = None, desc: str | None = None) -> TrainResult:
    """Train ``model`` on ``train`` (default ``split.train``), select on ``split.valid``.

    The model is moved to the configured device and given its training data
    (:meth:`~rec_unlearn_lib.models.Recommender.fit_data`). Models without an objective
    (popularity) are only fitted. Returns the history and the best epoch; the model
    holds the best parameters afterwards. ``desc`` labels the progress bar.

    Validation ranking masks ``train``, the data the model learns from and nothing else: a
    sub-model of one shard is selected without looking at other shards' rows.
    """
    config = config or TrainConfig()
    train = split.train if train is None else train
    device = config.device
    metric = config.metric or PROTOCOLS[split.protocol].metric
    model.to(device)
    model.fit_data(train)
    validation = _Validation(split, train, device)
    if model.objective is None:
        score, seconds = validation(model)
        frame = pd.DataFrame([{"epoch": 0, **score}])
        return TrainResult(frame, 0, score.get(metric, float("nan")), 0.0, seconds, config.as_dict())

    step = make_step(model, config)
    selection = _Selection(model, metric, config.patience)
    # progress=False forces the bar off; otherwise tqdm's defaults apply (TQDM_DISABLE=1 hides it in book builds)
    bar = tqdm(range(1, config.epochs + 1), desc=f"train {desc or model.name}", leave=False,
               **({} if config.progress else {"disable": True}))
    for epoch in bar:
        with timed(device) as clock:
            loss = train_epoch(model, step, train, config, epoch)
        scores, eval_seconds = validation(model) if _due(epoch, config) else (None, 0.0)
        selection.record(epoch, loss, clock.seconds, scores, eval_seconds)
        if scores is not None:
            bar.set_postfix(loss=f"{loss:.4f}", **{metric: f"{scores[metric]:.4f}"})
        if selection.stopped:
            break
    return selection.result(config)


def fit_together(models: Sequence[Recommender], split: Split, configs: Sequence[TrainConfig],
                 trains: Sequence[Interactions], desc: str | None = None) -> list[TrainResult]:
    """:func:`fit` for several models at once, each on its own training data with its own settings, their
    steps taken together (:class:`Ensemble`): each model ends exactly as :func:`fit` leaves it, with its own
    history, early stopping and best parameters. The models share the device and the epoch budget of
    ``configs[0]``; each leaves the ensemble when its own patience runs out.

    A result's ``train_seconds`` is the wall time of the joint epochs the model took part in (shared with the
    models trained beside it); its ``eval_seconds`` are its own.

    Raises:
        ValueError: the lists differ in length, or the configurations differ in device or epochs.
    """
    if not len(models) == len(configs) == len(trains):
        raise ValueError(f"one configuration and one training set per model: {len(models)} models, "
                         f"{len(configs)} configurations, {len(trains)} training sets")
    if len({(c.device, c.epochs, c.eval_every) for c in configs}) > 1:
        raise ValueError("models trained together share the device, the epochs and the evaluation schedule")
    config = configs[0]
    metric = config.metric or PROTOCOLS[split.protocol].metric
    for model, train in zip(models, trains):
        model.to(config.device)
        model.fit_data(train)
    ensemble = Ensemble(models)
    step = make_step(ensemble, config)
    validations = [_Validation(split, train, config.device) for train in trains]
    selections = [_Selection(model, metric, c.patience) for model, c in zip(models, configs)]
    active = list(range(len(models)))
    bar = tqdm(range(1, config.epochs + 1), desc=f"train {desc or 'together'}", leave=False,
               **({} if config.progress else {"disable": True}))
    for epoch in bar:
        with timed(config.device) as clock:
            losses = train_epoch_together(ensemble, step, trains, configs, epoch, active)
        for k in active:
            validated = validations[k](models[k]) if _due(epoch, config) else (None, 0.0)
            selections[k].record(epoch, losses[k], clock.seconds, *validated)
        active = [k for k in active if not selections[k].stopped]
        bar.set_postfix(training=len(active))
        if not active:
            break
    return [selection.result(c) for selection, c in zip(selections, configs)]


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
