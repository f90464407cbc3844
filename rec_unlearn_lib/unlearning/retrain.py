"""Retrain: the exact-unlearning reference.

The same backbone, the same settings and the same seed policy (same initialisation, same
per-epoch sampling seeds), trained from scratch on ``D \\ D_f`` and selected on the same
validation data. Every other method is judged against it: its quality is what exact
unlearning should reach, its time is what approximate or sharded methods should beat.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..timing import timed
from .base import METHODS, SingleModelMethod


@METHODS.register("retrain", "train the backbone from scratch on the remaining data: exact, the reference")
class Retrain(SingleModelMethod):
    """Train the backbone on all training data; forget by training again from scratch on the rest.

    Cost of :meth:`forget`: one full training run, ``O(epochs * |D \\ D_f|)``; it touches all parameters.
    """

    name = "retrain"

    def _forget_rows(self, rows: np.ndarray) -> tuple[dict[str, Any], dict[str, float]]:
        self._train = self.train.drop(rows)
        with timed(self.device) as clock:
            self._model, self.result = self._train_backbone(self._train)
        return {"parameters": "all", "shards": []}, {"retrain": clock.seconds}
