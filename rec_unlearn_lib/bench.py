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
import time
from typing import Iterator, Sequence

import torch

from .config import MODEL_KEYS, backbone_settings, default_device, set_seed, synchronize
from .data import load_dataset
from .evaluation import evaluate
from .models import build_model
from .splits import make_split
from .training import OPTIMIZERS, TrainConfig, train_epoch


def _timed(fn, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def run_benchmark(datasets: Sequence[str], models: Sequence[str], device: str | None = None, epochs: int = 3,
                  root: str | None = None, seed: int = 0) -> Iterator[dict[str, object]]:
    """Yield one row per (data set, model) with ``epoch_seconds`` and ``eval_seconds`` (quick-profile settings)."""
    dev = default_device(device)
    for dataset_name in datasets:
        split = make_split(load_dataset(dataset_name, root=root), "ranking", seed=seed)
        for name in models:
            settings = backbone_settings(name, "quick")
            set_seed(seed)
            model = build_model(name, split.num_users, split.num_items, split.train,
                                **{k: settings[k] for k in MODEL_KEYS if k in settings}).to(dev)  # type: ignore[arg-type]
            model.fit_data(split.train)
            epoch_times: list[float] = []
            if model.objective is not None:
                config = TrainConfig(seed=seed, batch_size=int(settings["batch_size"]), lr=float(settings["lr"]),
                                     optimizer=str(settings["optimizer"]), device=str(dev), progress=False)
                optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.lr)
                train_epoch(model, optimizer, split.train, config, 0)  # warm-up
                epoch_times = [_timed(lambda e=e: train_epoch(model, optimizer, split.train, config, e), dev)
                               for e in range(1, epochs + 1)]
            evaluate(model, split, "test")  # warm-up
            eval_times = [_timed(lambda: evaluate(model, split, "test"), dev) for _ in range(epochs)]
            yield {"dataset": dataset_name, "model": name, "device": str(dev),
                   "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                   "train_interactions": len(split.train), "eval_users": int(len(set(split.test.users.tolist()))),
                   "epoch_seconds": statistics.median(epoch_times) if epoch_times else None,
                   "eval_seconds": statistics.median(eval_times)}
