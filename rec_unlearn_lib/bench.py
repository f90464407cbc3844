"""Speed benchmark of the backbones: seconds per training epoch and per full-ranking evaluation.

Run ``python -m rec_unlearn_lib bench`` (options: ``--datasets``, ``--models``,
``--epochs``, ``--device``). Timings are wall-clock, device-synchronised, the median
over ``epochs`` epochs after one untimed warm-up epoch; evaluation ranks all items for
every test user with training items masked. Targets on a 2-core CPU: one epoch on
ML-100K under 0.5 s (MF, BPR-MF) and under 2 s (3-layer LightGCN); evaluating all
ML-1M users under 1 s.
"""

from __future__ import annotations

import platform
import statistics
from typing import Callable, Iterator, Sequence

import torch

from .config import default_device
from .data import load_dataset
from .evaluation import evaluate
from .settings import backbone_settings, make_backbone
from .splits import make_split
from .timing import timed
from .training import train_epoch


def _seconds(step: Callable[[], object], device: torch.device) -> float:
    with timed(device) as clock:
        step()
    return clock.seconds


def run_benchmark(datasets: Sequence[str], models: Sequence[str], device: str | None = None, epochs: int = 3,
                  root: str | None = None, seed: int = 0) -> Iterator[dict[str, object]]:
    """Yield one row per (data set, model) with ``epoch_seconds`` and ``eval_seconds`` (quick-profile settings)."""
    dev = default_device(device)
    for dataset_name in datasets:
        split = make_split(load_dataset(dataset_name, root=root), "ranking", seed=seed)
        for name in models:
            settings = backbone_settings(name, "quick")
            model = make_backbone(name, split.num_users, split.num_items, settings, seed).to(dev)
            model.fit_data(split.train)
            epoch_times: list[float] = []
            if model.objective is not None:
                config = settings.train_config(seed, dev)
                optimizer = config.make_optimizer(model.parameters())
                train_epoch(model, optimizer, split.train, config, 0)  # warm-up
                epoch_times = [_seconds(lambda e=e: train_epoch(model, optimizer, split.train, config, e), dev)
                               for e in range(1, epochs + 1)]
            evaluate(model, split, "test")  # warm-up
            eval_times = [_seconds(lambda: evaluate(model, split, "test"), dev) for _ in range(epochs)]
            yield {"dataset": dataset_name, "model": name, "device": str(dev),
                   "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                   "train_interactions": len(split.train), "eval_users": int(len(set(split.test.users.tolist()))),
                   "epoch_seconds": statistics.median(epoch_times) if epoch_times else None,
                   "eval_seconds": statistics.median(eval_times)}
