"""Retrain: the exact-unlearning reference.

The same backbone, the same settings and the same seed policy (same initialisation, same
per-epoch sampling seeds), trained from scratch on ``D \\ D_f`` and selected on the same
validation data. Every other method is judged against it: its quality is what exact
unlearning should reach, its time is what approximate or sharded methods should beat.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..config import synchronize
from ..interactions import Interactions
from ..splits import Split
from ..training import TrainResult, fit, make_backbone, train_config
from .base import UnlearningMethod


class Retrain(UnlearningMethod):
    """Train the backbone on all training data; forget by training again from scratch on the rest.

    Cost of :meth:`forget`: one full training run, ``O(epochs * |D \\ D_f|)``; it touches all parameters.
    """

    name = "retrain"

    def fit(self, split: Split, train: Interactions | None = None) -> "Retrain":
        self._split = split
        self._train = split.train if train is None else train
        synchronize(self.device)
        start = time.perf_counter()
        self._model, self.result = self._train_on(self._train)
        synchronize(self.device)
        self.fit_seconds = {"total": time.perf_counter() - start}
        return self

    def _train_on(self, train: Interactions) -> tuple[Any, TrainResult]:
        model = make_backbone(self.backbone, self.split.num_users, self.split.num_items, self.settings, self.seed)
        result = fit(model, self.split, train_config(self.settings, self.seed, self.device), train)
        return model, result

    def _forget_rows(self, rows: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        keep = np.ones(len(self.train), dtype=bool)
        keep[rows] = False
        self._train = self.train.subset(keep)
        start = time.perf_counter()
        self._model, self.result = self._train_on(self._train)
        synchronize(self.device)
        return {"parameters": "all", "shards": []}, {"retrain": time.perf_counter() - start}
