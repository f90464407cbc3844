"""Running the study: every cell of the grid, one tidy table, resumable, written whole or not at all.

:func:`run_study` writes ``<out>/study.csv`` and ``<out>/study.parquet`` (one row per cell, see
:data:`KEY` and :data:`COLUMNS`) and ``<out>/study.csv.meta.json`` (the configuration, library
version, commit, torch, device, start and end). After every finished cell the three are rewritten
through temporary files and renamed (:func:`~rec_unlearn_lib.results.save_table`): a run killed at any
moment leaves the previous complete table, with every cell measured before the kill (the Ray engine
returns a group's cells together). Run again with the same configuration, it skips the cells already in
the table and fits only the methods whose cells are left; a different configuration into the same
folder is refused unless ``overwrite``.

Per group (:class:`~.grid.Group`) every method is fitted once on the training data; per request a
copy of it forgets, is evaluated on the test data (the full training set masked, as every protocol
here does) and probed by :func:`~.measures.forgetting_measures` before and after; the influence
methods' updates are also compared with exact re-optimisation (:func:`~.measures.update_fidelity`).
``retrain_seconds`` is the seconds of Retrain with the method's own backbone settings and seed on the
same request, in the same process on the same device: the Retrain cell's (``reference = retrain``), or,
for a method whose backbone settings differ (UBPR's fixed triplets), a Retrain trained with them for it
(``reference = matched``); ``speedup`` is ``retrain_seconds / unlearn_seconds``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .. import __version__
from ..config import default_device
from ..data import Dataset, load_dataset
from ..evaluation import evaluate
from ..forget import REQUESTS, ForgetRequest
from ..influence import SolverDidNotConverge
from ..interactions import Interactions
from ..registry import Registry
from ..results import current_commit, device_name, load_table, run_metadata, save_table
from ..settings import default_dataset, get_profile
from ..splits import Split, make_split
from ..timing import Stopwatch, timed
from ..unlearning import METHODS, InfluenceUnlearning, Retrain, UnlearningMethod, sharding_caps
from .grid import (FORGET_SETTINGS, FULL_FORGET, QUICK_FORGET, Group, StudyConfig, backbone_objective, backbone_overrides,
                   cells, groups, method_options)
from .measures import forgetting_measures, update_fidelity

TABLE = "study.csv"
KEY: tuple[str, ...] = ("dataset", "backbone", "method", "setting", "ratio", "seed")
"""The columns that name a cell: no two rows share them."""
COLUMNS: tuple[str, ...] = KEY + (
    "protocol", "objective", "forgotten", "converged", "solver_message",
    "forgotten_percentile", "forgotten_top20", "mia_auc",
    "original_forgotten_percentile", "original_forgotten_top20", "original_mia_auc",
    "delta_cosine", "delta_relative_error", "delta_norm_ratio", "score_cosine", "score_relative_error",
    "score_norm_ratio", "fidelity_converged",
    "fit_seconds", "unlearn_seconds", "retrain_seconds", "reference", "speedup", "device", "device_name")
"""Every row's columns besides the test metrics (``recall@K``, ``ndcg@K`` or ``auc``, ``auc0`` ..., each also
as ``original_<metric>``, the model before forgetting); ``nan`` where a measure does not apply. A cell whose solver
did not converge has ``converged = 0``, no metrics after forgetting, and in ``solver_message`` the solver's account
of why it stopped (:meth:`~rec_unlearn_lib.influence.SolverResult.summary`: iterations, residual, damping and, e.g.,
the negative curvature it met)."""


class StudyConfigError(ValueError):
    """The output folder holds a study of another configuration."""


@dataclass
class GroupJob:
    """One group's work, picklable (a Ray task's argument): the configuration, the group and its split."""

    config: StudyConfig
    group: Group
    split: Split
    dataset: str

    @property
    def device(self) -> str:          # read by the Ray map: one GPU per task on a GPU
        return self.config.device


def _metrics(model: Any, split: Split, request: ForgetRequest, prefix: str = "") -> dict[str, float]:
    metrics = evaluate(model, split, "test")
    if split.protocol == "labelled":
        metrics.update(evaluate(model, split, "test", request=request))
    return {prefix + k: v for k, v in metrics.items()}


def _make(config: StudyConfig, backbone: str, name: str, seed: int, protocol: str) -> UnlearningMethod:
    overrides = (backbone_overrides(backbone, protocol) | ({} if config.epochs is None else {"epochs": config.epochs})
                 | ({} if config.reg is None else {"reg": config.reg}))
    options = {**method_options(name, backbone), **sharding_caps(name, config.epochs)}
    return METHODS[name](backbone, profile=config.profile, seed=seed, device=config.device, **options, **overrides)


class _References:
    """Retrain's seconds per (backbone settings, request): recorded from the group's Retrain cells, or trained on
    demand for a method whose settings no Retrain cell shares (UBPR's fixed triplets)."""

    def __init__(self, job: GroupJob, train: Interactions) -> None:
        self.job, self.train = job, train
        self.seconds: dict[tuple[Any, ...], tuple[float, str]] = {}

    def record(self, method: UnlearningMethod, request: tuple[str, float], seconds: float) -> None:
        self.seconds[(method.settings, request)] = (seconds, "retrain")

    def get(self, method: UnlearningMethod, request: tuple[str, float], forget: ForgetRequest) -> tuple[float, str]:
        """``(seconds, "retrain" or "matched")``."""
        key = (method.settings, request)
        if key not in self.seconds:
            reference = Retrain(method.backbone, method.profile, method.seed, method.device, settings=method.settings)
            with timed(method.device) as clock:
                reference.fit(self.job.split, forget.split(self.train)[0])
            self.seconds[key] = (clock.seconds, "matched")
        return self.seconds[key]


def run_group(job: GroupJob) -> Iterator[dict[str, Any]]:
    """The rows of one group's cells (:data:`COLUMNS` and the metrics), in the group's order, each as soon as
    its cell is measured."""
    config, group, split = job.config, job.group, job.split
    train, requests = split.train, {}
    for setting, ratio in group.requests:
        poisoned, requests[(setting, ratio)] = REQUESTS[FORGET_SETTINGS[setting].request](
            split.train, ratio, None, config.request_seed)
        if group.poisoned is not None:
            train = poisoned
    fresh = group.seed not in config.seeds      # Retrain's extra seeds: trained on D \ D_f only
    fitted: dict[str, tuple[UnlearningMethod, float]] = {}
    if not fresh:
        for name in group.methods:
            method = _make(config, group.backbone, name, group.seed, group.protocol)
            with timed(method.device) as clock:
                method.fit(split, train)
            fitted[name] = (method, clock.seconds)
    references = _References(job, train)
    for cell in group.cells:
        request_key = (cell.setting, cell.ratio)
        request = requests[request_key]
        retain = request.split(train)[0]
        row: dict[str, Any] = {"dataset": job.dataset, "backbone": cell.backbone, "method": cell.method,
                               "setting": cell.setting, "ratio": cell.ratio, "seed": cell.seed,
                               "protocol": split.protocol,
                               "objective": backbone_objective(cell.backbone, split.protocol), "forgotten": len(request), "device": config.device,
                               "device_name": device_name(config.device)}
        if fresh:
            method = _make(config, cell.backbone, cell.method, cell.seed, cell.protocol)
            with timed(method.device) as clock:
                method.fit(split, retain)
            row.update(converged=1.0, unlearn_seconds=clock.seconds, retrain_seconds=clock.seconds,
                       reference="retrain")
            model = method.model
        else:
            method, row["fit_seconds"] = fitted[cell.method]
            row.update(_metrics(method.model, split, request, "original_"))
            if split.protocol == "ranking":
                row.update({"original_" + k: v for k, v in forgetting_measures(method.model, request, retain,
                                                                               split.test).items()})
            work = copy.deepcopy(method)
            try:
                result = work.forget(request)
            except SolverDidNotConverge as failure:
                yield {**row, "converged": 0.0, "solver_message": str(failure)}
                continue
            model = result.model
            row.update(converged=1.0, unlearn_seconds=result.seconds)
            if isinstance(method, Retrain):
                references.record(method, request_key, result.seconds)
            row["retrain_seconds"], row["reference"] = references.get(method, request_key, request)
            if config.fidelity and isinstance(method, InfluenceUnlearning):
                try:
                    row.update(update_fidelity(method, request))
                except (SolverDidNotConverge, ValueError):     # no solve at the optimum, or a zero exact update
                    row["fidelity_converged"] = 0.0
        row["speedup"] = row["retrain_seconds"] / row["unlearn_seconds"] if row["unlearn_seconds"] > 0 else np.nan
        row.update(_metrics(model, split, request))
        if split.protocol == "ranking":        # the attack's flipped labels are no observed interactions
            row.update(forgetting_measures(model, request, retain, split.test))
        yield row


GroupRunner = Callable[[GroupJob], Iterable[dict[str, Any]]]


def _local(fn: GroupRunner, jobs: list[GroupJob]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for j, job in enumerate(jobs):
        for row in fn(job):
            yield j, [row]


def _listed(fn: GroupRunner, job: GroupJob) -> list[dict[str, Any]]:
    return list(fn(job))


def _ray(fn: GroupRunner, jobs: list[GroupJob]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    from ..parallel import ray_imap
    return ray_imap(functools.partial(_listed, fn), jobs)


ENGINES: Registry[Callable[[GroupRunner, list[GroupJob]], Iterator[tuple[int, list[dict[str, Any]]]]]] = \
    Registry("engine")
ENGINES.add("local", _local, "one group after another in this process, the table saved after every cell")
ENGINES.add("ray", _ray, "every group a Ray task (one GPU per task where there are GPUs; $RAY_ADDRESS for a cluster)")


def order_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`COLUMNS` first (missing ones added as ``nan``), the metrics after them, sorted
    by the grid's key; raises ``ValueError`` when two rows share a key."""
    frame = frame.copy()
    for column in COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    metrics = sorted(c for c in frame.columns if c not in COLUMNS)
    frame = frame[list(COLUMNS) + metrics]
    duplicated = frame.duplicated(list(KEY))
    if duplicated.any():
        raise ValueError(f"{int(duplicated.sum())} rows repeat a cell, e.g. {frame[duplicated].iloc[0][list(KEY)].to_dict()}")
    return frame.sort_values(list(KEY), kind="stable").reset_index(drop=True)


def _key(row: dict[str, Any] | pd.Series) -> tuple[Any, ...]:
    return tuple(float(row[k]) if k == "ratio" else int(row[k]) if k == "seed" else str(row[k]) for k in KEY)


def _previous(path: Path, config: StudyConfig, engine: str, overwrite: bool) -> tuple[pd.DataFrame | None,
                                                                                      dict[str, Any]]:
    """The table of an earlier run of ``config`` in ``path`` and its metadata (``None, {}`` when there is none,
    or it is replaced: its files are removed, so no old row can pass for a new one)."""
    meta_path = path.with_name(path.name + ".meta.json")
    if not path.exists() and not meta_path.exists():
        return None, {}
    frame, meta = load_table(path) if path.exists() else (None, {})
    if frame is not None and meta.get("config") == config.as_dict() and meta.get("engine") == engine:
        keys = {_key({"dataset": config.dataset, **c.__dict__}) for c in cells(config)}
        foreign = [k for k in (_key(r) for _, r in frame.iterrows()) if k not in keys]
        if len(frame) == meta.get("rows") and not foreign:
            return frame, meta
        problem = (f"{path} does not match its metadata ({len(frame)} rows, {meta.get('rows')} recorded, "
                   f"{len(foreign)} outside the grid)")
    else:
        problem = (f"{path.parent} holds a study of another configuration or engine ({meta.get('config')}, "
                   f"engine {meta.get('engine')})")
    if not overwrite:
        raise StudyConfigError(f"{problem}; choose another folder, or pass overwrite=True (--overwrite) to "
                               f"replace it")
    for old in (path, meta_path, path.with_suffix(".parquet")):
        old.unlink(missing_ok=True)
    return None, {}


def run_study(config: StudyConfig, out: str | Path, dataset: Dataset | None = None, root: str | None = None,
              engine: str = "local", overwrite: bool = False, progress: bool = True,
              command: str | None = None) -> pd.DataFrame:
    """Run every cell of ``config`` not yet in ``out``'s table; returns the whole table.

    Args:
        config: the grid (:class:`~.grid.StudyConfig`).
        out: the output folder (created).
        dataset: the data (default: ``load_dataset(config.dataset, root)``).
        engine: a name of :data:`ENGINES`.
        overwrite: replace a table of another configuration instead of refusing it.
        progress: a progress bar over the groups.
        command: the command line recorded in the metadata (default: this process's).

    Raises:
        StudyConfigError: ``out`` holds a table of another configuration or engine (timings of different
            engines are not mixed in one table) and ``overwrite`` is false, or a table that does not match
            its metadata.
    """
    runner = ENGINES[engine]
    current_commit()      # the code this run loaded, read now: the metadata written after each cell names it
    path = Path(out) / TABLE
    previous, meta = _previous(path, config, engine, overwrite)
    done = set() if previous is None else {_key(r) for _, r in previous.iterrows()}
    todo = [c for c in cells(config) if _key({"dataset": config.dataset, **c.__dict__}) not in done]
    frames = [] if previous is None else [previous]
    started = meta.get("started", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    wall = float(meta.get("wall_seconds", 0.0))
    if todo:
        data = load_dataset(config.dataset, root=root) if dataset is None else dataset
        splits = {p: make_split(data, p, seed=config.split_seed) for p in {c.protocol for c in todo}}
        jobs = [GroupJob(config, g, splits[g.protocol], config.dataset) for g in groups(config, todo)]
        watch = Stopwatch(config.device)
        with tqdm(total=len(todo), desc="study", unit="cell", disable=not progress) as bar:
            for _, rows in runner(run_group, jobs):
                frames.append(pd.DataFrame(rows))
                bar.update(len(rows))
                table = order_columns(pd.concat(frames, ignore_index=True))
                save_table(table, path, _metadata(config, started, wall + watch.elapsed(), len(table), engine, command),
                           parquet=True)
    if not frames:
        raise ValueError("the grid has no cells: no registered method applies to the chosen backbones and settings")
    return order_columns(pd.concat(frames, ignore_index=True))


def _metadata(config: StudyConfig, started: str, wall: float, rows: int, engine: str,
              command: str | None) -> dict[str, Any]:
    return run_metadata(config.device, config.seeds[0], command, library=__version__, config=config.as_dict(), engine=engine,
                        started=started, finished=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        wall_seconds=round(wall, 1), rows=rows, cells=len(cells(config)))


def study_config(profile: str | None = None, dataset: str | None = None, device: str | torch.device | None = None,
                 **fields: Any) -> StudyConfig:
    """A :class:`~.grid.StudyConfig` with the profile's data set and forget settings where not given, on the
    GPU when there is one (``device`` is stored by kind: ``cpu`` or ``cuda``)."""
    profile = get_profile(profile)
    fields.setdefault("forget", QUICK_FORGET if profile == "quick" else FULL_FORGET)
    return StudyConfig(profile=profile, dataset=dataset or default_dataset(profile),
                       device=default_device(device).type, **fields)
