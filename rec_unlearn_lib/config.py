"""Profiles, seeds and devices, resolved once into a :class:`Runtime`.

Every notebook and command runs in one of two *profiles* (the registry :data:`PROFILES`):

``quick``
    CPU, small data and few epochs; what CI and ``nbval`` run (minutes).
``full``
    The papers' scale, meant for one GPU.

The profile is chosen by the ``REC_UNLEARN_PROFILE`` environment variable (or an
explicit argument), never by editing code. A method or command resolves the profile,
the seed and the device once, into a frozen :class:`Runtime`, and passes that down: the
environment is read in one place (:func:`get_profile`), at the start.
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from .registry import Registry

PROFILE_ENV = "REC_UNLEARN_PROFILE"


@dataclass(frozen=True)
class ProfileSpec:
    """What a profile fixes besides the settings tables: the data set it trains on by default."""

    dataset: str


PROFILES: Registry[ProfileSpec] = Registry("profile")
PROFILES.add("quick", ProfileSpec("ml-100k"), "CPU, small data (ML-100K), few epochs: minutes (the default)")
PROFILES.add("full", ProfileSpec("receraser-ml-1m"), "the papers' scale (RecEraser's ML-1M), meant for one GPU")

DEVICES: Registry[str] = Registry("device")
DEVICES.add("cpu", "cpu", "the CPU")
DEVICES.add("cuda", "cuda", "the first GPU that torch sees")


def get_profile(profile: str | None = None) -> str:
    """The active profile: ``profile`` if given, else ``$REC_UNLEARN_PROFILE``, else ``quick``.

    Case and surrounding blanks are ignored (``" Full"`` is ``full``).

    Raises:
        UnknownChoiceError: the name is not one of :data:`PROFILES`.
    """
    name = profile if profile is not None else os.environ.get(PROFILE_ENV, "quick")
    return PROFILES.check(name.strip().lower())


def default_dataset(profile: str | None = None) -> str:
    """The data set ``profile`` trains on unless told otherwise (ML-100K quick, RecEraser's ML-1M full)."""
    return PROFILES[get_profile(profile)].dataset


def check_seed(seed: int) -> int:
    """``seed`` as an int, if it is a non-negative integer."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
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


@contextmanager
def reproducible(device: torch.device | str) -> Iterator[None]:
    """Deterministic kernels for the duration of the block on the CPU: same seed, same numbers.

    Multi-threaded CPU kernels such as the scatter-add behind an embedding's backward pass
    (``index_put_`` with accumulation) add in a thread-dependent order: two runs with the same
    seed drift apart by about 1e-6 and a tie-sensitive step downstream (a balanced partition)
    can then differ. :func:`torch.use_deterministic_algorithms` selects sort-based kernels at no
    measurable cost here. On a GPU the block is left as it is (deterministic CUDA kernels need
    ``CUBLAS_WORKSPACE_CONFIG`` set before CUDA starts and cost speed): GPU runs are reproducible
    to float tolerance, not bit for bit.
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


@dataclass(frozen=True)
class Runtime:
    """Profile, seed and device of one run, resolved once.

    Attributes:
        profile: ``quick`` or ``full`` (validated, lower case).
        seed: non-negative; seeds every initialisation and every epoch's sampling.
        device: a :class:`torch.device` that exists on this machine.
    """

    profile: str
    seed: int
    device: torch.device

    @classmethod
    def resolve(cls, profile: str | None = None, seed: int = 0,
                device: str | torch.device | None = None) -> "Runtime":
        """Read the environment where an argument is ``None`` (see :func:`get_profile`, :func:`default_device`)."""
        return cls(get_profile(profile), check_seed(seed), default_device(device))
