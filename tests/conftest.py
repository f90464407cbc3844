"""Shared fixtures: the real-data root and a small synthetic data set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from rec_unlearn_lib.synthetic import synthetic_dataset

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    for candidate in (os.environ.get("REC_UNLEARN_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "ml-100k" / "u.data").exists():
            return Path(candidate).resolve()
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The mirrored data root (``$REC_UNLEARN_DATA`` or ``../shared/data``); skips when absent."""
    root = _data_root()
    if root is None:
        pytest.skip("no data root: set REC_UNLEARN_DATA to the folder holding ml-100k/")
    return root


@pytest.fixture(scope="session")
def synthetic():
    return synthetic_dataset(seed=3)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never download or read a real cache in tests: the cache is a fresh temporary folder."""
    monkeypatch.setenv("REC_UNLEARN_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("REC_UNLEARN_OFFLINE", "1")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny torch problems: one intra-op thread avoids OpenMP oversubscription (on a busy 2-core
    machine two threads made an HVP ~70x slower) and keeps reductions deterministic."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def umask_022() -> Iterator[int]:
    """The process's umask set to 0o022 for the test (so a plain ``open`` makes files 0o644); yields that mode."""
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)
