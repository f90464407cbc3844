"""Speed benchmark of the backbones: seconds per training epoch and per full-ranking evaluation.

Run ``python -m rec_unlearn_lib bench`` (options: ``--datasets``, ``--models``, ``--devices``,
``--profile``, ``--epochs``, ``--out``). Each row times one backbone on one data set and one
device with the profile's settings (by default the full profile's, the batch sizes the
papers train with): the median, fastest and slowest of ``epochs`` epochs after one untimed
warm-up epoch, wall-clock and device-synchronised, and one full-ranking evaluation of every
test user with training items masked. On a GPU each backbone is timed twice, with training
steps replayed from a CUDA graph and launched eagerly (see
:class:`~rec_unlearn_lib.training.TrainStep`), and with ``compile`` a third time, graphed with the
loss compiled by :func:`torch.compile` (compilation happens in the untimed warm-up epoch).
LightGCN on a GPU holds its graph as a dense block (:mod:`rec_unlearn_lib.models.lightgcn`); it is
timed once more with the sparse graph, eagerly (the ``graph_form`` column).

Targets. On a 2-core CPU (quick profile): one epoch on ML-100K under 0.5 s (MF, BPR-MF) and
under 2 s (3-layer LightGCN); evaluating all ML-1M users under 1 s. On one H100 (full profile,
RecEraser's ML-1M): one epoch under 0.05 s (BPR-MF), 0.15 s (MF-BCE) and 0.5 s (LightGCN).
"""

from __future__ import annotations

import statistics
from typing import Callable, Iterator, Sequence

import pandas as pd
import torch

from .config import default_device
from .data import load_dataset
from .evaluation import evaluate
from .settings import BackboneSettings, backbone_settings, make_backbone
from .splits import Split, make_split
from .timing import timed
from .training import make_step, train_epoch


def benchmark_devices() -> list[str]:
    """The devices to time by default: the GPU and the CPU where there is a GPU, else the CPU."""
    return ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]


def run_benchmark(datasets: Sequence[str], models: Sequence[str], devices: Sequence[str | None] = (None,),
                  profile: str = "full", epochs: int = 3, root: str | None = None,
                  seed: int = 0, compile: bool = False) -> Iterator[dict[str, object]]:
    """Yield one row per (data set, model, device, CUDA graph or not, compiled or not) with the epoch and
    evaluation seconds (compiled rows only with ``compile``, on a GPU)."""
    for dataset_name in datasets:
        split = make_split(load_dataset(dataset_name, root=root), "ranking", seed=seed)
        for device in devices:
            dev = default_device(device)
            for name in models:
                settings = backbone_settings(name, profile)
                row = _time_backbone(split, dataset_name, name, settings, dev, True, False, profile, epochs, seed)
                yield row
                if row["cuda_graph"]:   # the same backbone with eager steps, for comparison
                    yield _time_backbone(split, dataset_name, name, settings, dev, False, False, profile, epochs, seed)
                if compile and dev.type == "cuda" and row["epoch_seconds"] is not None:
                    yield _time_backbone(split, dataset_name, name, settings, dev, True, True, profile, epochs, seed)
                if row["graph_form"] == "dense":   # what the dense graph buys: the sparse product, eager steps
                    yield _time_backbone(split, dataset_name, name, settings, dev, False, False, profile, epochs, seed,
                                         dense_graph=False)


def _seconds(run: Callable[[int], object], device: torch.device, times: int) -> list[float]:
    """Wall seconds of ``run(1)``, ..., ``run(times)``, each device-synchronised."""
    seconds = []
    for j in range(1, times + 1):
        with timed(device) as clock:
            run(j)
        seconds.append(clock.seconds)
    return seconds


def _time_backbone(split: Split, dataset_name: str, name: str, settings: BackboneSettings, dev: torch.device,
                   graphed: bool, compiled: bool, profile: str, epochs: int, seed: int,
                   dense_graph: bool | None = None) -> dict[str, object]:
    """Time one backbone; ``graphed`` asks for CUDA-graph steps (the row's ``cuda_graph`` says whether they ran),
    ``compiled`` for the loss compiled by :func:`torch.compile`, ``dense_graph`` for LightGCN's graph form
    (``None``: its own choice)."""
    model = make_backbone(name, split.num_users, split.num_items, settings, seed).to(dev)
    if dense_graph is not None:
        model.dense_graph = dense_graph
    model.fit_data(split.train)
    graph = getattr(model, "graph", None)
    config = settings.train_config(seed, dev).replace(cuda_graph=graphed, compile=compiled)
    epoch_times: list[float] = []
    graph_steps = False
    if model.objective is not None:           # the popularity baseline has no training step
        step = make_step(model, config)
        graph_steps = step.graphed
        train_epoch(model, step, split.train, config, 0)  # warm-up (and the graph's capture)
        epoch_times = _seconds(lambda epoch: train_epoch(model, step, split.train, config, epoch), dev, epochs)
    evaluate(model, split, "test")  # warm-up
    eval_times = _seconds(lambda _: evaluate(model, split, "test"), dev, epochs)
    return {"dataset": dataset_name, "model": name, "objective": model.objective.name if model.objective else "",
            "profile": profile, "device": dev.type, "cuda_graph": graph_steps, "compiled": config.compiled,
            "graph_form": "" if graph is None else "dense" if graph.layout == torch.strided else "sparse",
            "batch_size": settings.batch_size,
            "threads": torch.get_num_threads(), "train_interactions": len(split.train),
            "eval_users": int(len(set(split.test.users.tolist()))),
            "epoch_seconds": statistics.median(epoch_times) if epoch_times else None,
            "epoch_seconds_min": min(epoch_times) if epoch_times else None,
            "epoch_seconds_max": max(epoch_times) if epoch_times else None,
            "eval_seconds": statistics.median(eval_times)}


def side_by_side(rows: pd.DataFrame) -> pd.DataFrame:
    """Seconds per epoch, one row per (data set, model), one column per device and way of stepping
    (CUDA graph, compiled, LightGCN's sparse graph)."""
    def flag(column: str, label: str) -> pd.Series:
        values = rows[column] if column in rows else pd.Series(False, index=rows.index)
        return values.map(lambda on: f" {label}" if on else "")
    sparse = rows["graph_form"].eq("sparse") if "graph_form" in rows else pd.Series(False, index=rows.index)
    frame = rows.assign(column=rows["device"] + flag("cuda_graph", "graph") + flag("compiled", "compiled")
                        + sparse.map(lambda on: " sparse graph" if on else ""))
    return frame.pivot_table(index=["dataset", "model"], columns="column", values="epoch_seconds", sort=False)
