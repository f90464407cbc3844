"""Seeds, devices and reproducibility: the few global facts of a run.

* :func:`set_seed` and :func:`torch_generator`: seeded randomness (the library draws from its own
  generators, never from the global ones);
* :data:`DEVICES` and :func:`default_device`: where to compute (the GPU when torch sees one);
* :func:`reproducible`: deterministic CPU kernels, so that the same seed gives the same numbers;
* :data:`REPOSITORY_URL`: where the book lives (Colab installs from it; committed results are read from it).

Profiles and the settings they fix live in :mod:`rec_unlearn_lib.settings`.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from .registry import Registry

DEVICES: Registry[str] = Registry("device")
DEVICES.add("cpu", "cpu", "the CPU")
DEVICES.add("cuda", "cuda", "the current GPU (Python calls also take cuda:1, ... by index)")

REPOSITORY_URL = "https://github.com/rec-unlearn/rec-unlearn-book"
"""The book's repository: Colab installs the library from it, and committed results are read from it where the
library is not a checkout (also ``repository.url`` in ``_config.yml``)."""


def check_seed(seed: int) -> int:
    """``seed`` as an int, if it is a non-negative integer (``True`` and ``"3"`` are not)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and every GPU).

    The library itself never relies on them (models are initialised from their own
    generator, see :func:`torch_generator`); this is for a notebook's own random draws.
    """
    seed = check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def torch_generator(seed: int) -> torch.Generator:
    """A CPU :class:`torch.Generator` seeded with ``seed``: same seed, same draws, no global state touched."""
    return torch.Generator().manual_seed(check_seed(seed))


def default_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given (a kind of :data:`DEVICES`, e.g. ``cpu``, ``cuda``, ``cuda:1``), else ``cuda``
    when available, else ``cpu``.

    Raises:
        UnknownChoiceError: a kind of device the library does not support.
        ValueError: ``cuda`` was asked for on a machine without a GPU.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    DEVICES.check(dev.type)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no GPU; use --device cpu")
    return dev


@contextmanager
def reproducible(device: torch.device | str) -> Iterator[None]:
    """Deterministic kernels for the duration of the block on the CPU: same seed, same numbers.

    Multi-threaded CPU kernels such as the scatter-add behind an embedding's backward pass
    (``index_put_`` with accumulation) add in a thread-dependent order: two runs with the same
    seed drift apart by about 1e-6 and a tie-sensitive step downstream (a balanced partition)
    can then differ. :func:`torch.use_deterministic_algorithms` selects sort-based kernels at no
    measurable cost here. The switch is process-wide: threads that train concurrently in one
    process (a thread-pool ``shard_map``) share it; processes do not.

    On a GPU the block is left as it is (deterministic CUDA kernels need ``CUBLAS_WORKSPACE_CONFIG``
    set before CUDA starts, and cost speed): GPU runs are reproducible to float tolerance, not bit
    for bit.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
