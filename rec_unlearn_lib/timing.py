"""The one timer of the library: wall-clock seconds that are honest on a GPU.

CUDA kernels run asynchronously: without a synchronisation the clock stops while the
GPU is still working, and a timing measures only how fast work was *queued*. Every timed
block in the library (training epochs, sub-models, aggregators, forgetting, Retrain,
benchmarks) goes through :func:`timed`, which waits for the device before starting and
before stopping the clock::

    with timed(device) as clock:
        model = retrain(...)
    clock.seconds

Code whose end is not one block (a solver that reports its time from a shared epilogue) holds a
:class:`Stopwatch` instead: the same synchronise-and-read, started at construction.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

__all__ = ["Clock", "Stopwatch", "synchronize", "timed"]


def synchronize(device: torch.device | str) -> None:
    """Wait for queued work on ``device`` (a no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Started at construction (after synchronising ``device``); :meth:`elapsed` synchronises and reads it."""

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        synchronize(self.device)
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the start, once the device's queued work is done."""
        synchronize(self.device)
        return time.perf_counter() - self.start


@dataclass
class Clock:
    """The result of a :func:`timed` block: ``seconds`` is set when the block ends."""

    seconds: float = float("nan")


@contextmanager
def timed(device: torch.device | str = "cpu") -> Iterator[Clock]:
    """Time the ``with`` block on ``device``: synchronise, start, run, synchronise, stop.

    The clock is read even when the block raises, so a failed step still reports its cost.
    """
    clock = Clock()
    watch = Stopwatch(device)
    try:
        yield clock
    finally:
        clock.seconds = watch.elapsed()
