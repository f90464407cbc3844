"""Profiles, seeds and devices: the few global settings, defined once.

Every notebook and command runs in one of two *profiles*:

``quick``
    CPU, small data and few epochs; what CI and ``nbval`` run (minutes).
``full``
    The papers' scale, meant for one GPU.

The profile is chosen by the ``REC_UNLEARN_PROFILE`` environment variable (or an
explicit argument), never by editing code.
"""

from __future__ import annotations

import os
import random
from typing import Literal

import numpy as np
import torch

Profile = Literal["quick", "full"]
PROFILES: tuple[str, ...] = ("quick", "full")
PROFILE_ENV = "REC_UNLEARN_PROFILE"


def get_profile(profile: str | None = None) -> Profile:
    """Return the active profile: ``profile`` if given, else ``$REC_UNLEARN_PROFILE``, else ``quick``.

    Raises:
        ValueError: the name is not one of :data:`PROFILES`.
    """
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "quick")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} "
                         f"(argument or ${PROFILE_ENV})")
    return name  # type: ignore[return-value]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and every GPU)."""
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else ``cuda`` when available, else ``cpu``.

    Raises:
        ValueError: ``cuda`` was asked for on a machine without a GPU.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no GPU; use --device cpu")
    return dev


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so that wall-clock timings are honest (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- backbone settings per profile

DEFAULT_DATASET: dict[str, str] = {"quick": "ml-100k", "full": "receraser-ml-1m"}
"""The data set each profile trains on unless told otherwise."""

_QUICK = {"emb_dim": 64, "epochs": 30, "lr": 1e-2, "batch_size": 2048, "reg": 1e-4, "optimizer": "adam",
          "eval_every": 1, "patience": 3, "num_layers": 3, "num_negatives": 4, "c0": 0.2}
_FULL = {"emb_dim": 64, "epochs": 1000, "lr": 1e-3, "batch_size": 2048, "reg": 1e-4, "optimizer": "adam",
         "eval_every": 5, "patience": 10, "num_layers": 3, "num_negatives": 4, "c0": 0.2}
BACKBONE_SETTINGS: dict[str, dict[str, dict[str, float | int | str]]] = {
    "quick": {"mf": _QUICK, "bpr": _QUICK, "wmf": {**_QUICK, "reg": 0.0, "batch_size": 256, "lr": 3e-2},
              "lightgcn": {**_QUICK, "epochs": 20, "batch_size": 8192, "lr": 5e-2}, "pop": {}},
    "full": {"mf": _FULL, "bpr": _FULL, "wmf": {**_FULL, "lr": 5e-3, "reg": 0.0, "batch_size": 256},
             "lightgcn": _FULL, "pop": {}},
}
"""Per profile and backbone: model and training settings (one place, read by the CLI and notebooks).

``quick`` is tuned to run every backbone on ML-100K on 2 CPU cores in seconds (LightGCN
with large batches: one graph propagation per 8192 triplets; WMF's batches count users);
``full`` follows RecEraser's ML-1M runs (d = 64, 3 LightGCN layers, up to 1000 epochs,
validation every 5 epochs with patience 10) with Adam at 1e-3.
"""

MODEL_KEYS = ("emb_dim", "num_layers", "reg", "num_negatives", "c0")
TRAIN_KEYS = ("epochs", "lr", "batch_size", "optimizer", "eval_every", "patience")


def backbone_settings(model: str, profile: str | None = None) -> dict[str, float | int | str]:
    """A copy of the settings of ``model`` in ``profile`` (see :data:`BACKBONE_SETTINGS`)."""
    table = BACKBONE_SETTINGS[get_profile(profile)]
    if model not in table:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(table)}")
    return dict(table[model])


# --------------------------------------------------------------------------- sharded unlearning per profile

SHARDING_SETTINGS: dict[str, dict[str, float | int | str | None]] = {
    "quick": {"num_shards": 10, "max_size_factor": 1.2, "rounds": 50, "partition_backbone": "wmf",
              "attention_size": 32, "agg_epochs": 3, "agg_lr": None, "agg_batch_size": 8192, "agg_patience": 0,
              "agg_reg": 1e-5, "forget_count": 3, "partition_epochs": None},
    "full": {"num_shards": 10, "max_size_factor": 1.2, "rounds": 50, "partition_backbone": "wmf",
             "attention_size": 32, "agg_epochs": 50, "agg_lr": None, "agg_batch_size": None, "agg_patience": 10,
             "agg_reg": 1e-5, "forget_count": 100, "partition_epochs": None},
}
"""Per profile: SISA / RecEraser settings (RecEraser's official ML-1M runs in ``full``).

``num_shards`` K; ``max_size_factor`` (t = 1.2 x the mean shard size); ``rounds`` of balanced
partitioning (or until the assignment stops changing); ``partition_backbone`` whose embeddings
are partitioned (trained for ``partition_epochs``, ``None``: its profile's); ``attention_size``
k; the aggregator's epochs, learning rate and batch size (``None``: the backbone's), patience
and L2 (Eq. 8); ``forget_count`` interactions deleted one at a time in the Table 4 experiment
(100 in the paper).
"""


def sharding_settings(profile: str | None = None) -> dict[str, float | int | str | None]:
    """A copy of :data:`SHARDING_SETTINGS` for ``profile``."""
    return dict(SHARDING_SETTINGS[get_profile(profile)])
