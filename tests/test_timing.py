"""The one timer: honest wall seconds, synchronised on a GPU, measured even when the block fails."""

from __future__ import annotations

import time

import pytest
import torch

from rec_unlearn_lib import timing
from rec_unlearn_lib.timing import Stopwatch, timed


def test_timed_measures_the_block_on_cpu() -> None:
    with timed("cpu") as clock:
        time.sleep(0.05)
    assert 0.05 <= clock.seconds < 5


def test_timed_reads_the_clock_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), timed(torch.device("cpu")) as clock:
        time.sleep(0.02)
        raise RuntimeError("boom")
    assert clock.seconds >= 0.02


def test_cuda_devices_are_synchronised_before_start_and_before_stop(monkeypatch) -> None:
    """On a GPU device the clock starts and stops only after the queued work is done (stubbed here)."""
    events: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append(f"sync {device}"))
    with timed("cuda:0"):
        events.append("work")
    assert events == ["sync cuda:0", "work", "sync cuda:0"]
    events.clear()
    watch = Stopwatch("cuda")
    events.append("work")
    watch.elapsed()
    assert events == ["sync cuda", "work", "sync cuda"]
    events.clear()
    with timed("cpu"):
        pass
    assert events == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_timed_waits_for_queued_gpu_work() -> None:
    cycles = int(5e7)  # about 25-50 ms of GPU time, queued asynchronously
    torch.cuda._sleep(1)
    with timed("cuda") as clock:
        torch.cuda._sleep(cycles)
    without = Stopwatch("cpu")
    torch.cuda._sleep(cycles)
    launched = without.elapsed()
    timing.synchronize("cuda")
    assert clock.seconds > 5 * launched
