"""Result files: tidy CSV tables with the facts needed to re-run them, written whole or not at all.

Every table the study and the benchmark write goes through :func:`save_table`: the CSV at
``path`` and, beside it, ``path.meta.json`` with :func:`run_metadata` (device, versions,
commit, seed, command, wall time). Both are written to temporary files first and renamed,
so an interrupted run never leaves a half-written result behind.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import os
import platform
import subprocess
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from .config import REPOSITORY_URL
from .files import temporary_beside

COMMIT_ENV = "REC_UNLEARN_COMMIT"
#: where the committed results are read from when the library is not a checkout of the repository (Colab)
RESULTS_URL = REPOSITORY_URL.replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/results/"


def current_commit() -> str:
    """The commit of the code that runs: ``$REC_UNLEARN_COMMIT`` where set (a copy of the working tree on
    another machine, whose own ``.git`` may be stale or absent), else the git commit of the library's
    checkout (``-dirty`` if it has changes), else ``unknown``.

    The checkout is read once per process, the first time this is called (the command line calls it as it
    starts): a long run's metadata names the code it loaded, even if the checkout moves on while it runs.
    """
    if os.environ.get(COMMIT_ENV):
        return os.environ[COMMIT_ENV]
    return _checkout_commit()


@functools.cache
def _checkout_commit() -> str:
    """The git commit of the library's checkout (``-dirty`` with changes), or ``unknown``; read once."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: torch.device | str) -> str:
    """A readable name of ``device``: the GPU's model, or the CPU's."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def run_metadata(device: torch.device | str | None = None, seed: int | None = None,
                 command: str | None = None, **extra: Any) -> dict[str, Any]:
    """The facts a result needs to be trusted and re-run: when, where, with what, how.

    Args:
        device: the device that computed it (its name is recorded; with a GPU, the CPU's too).
        seed: the seed of the run.
        command: the command line (default: this process's).
        extra: more fields (e.g. ``wall_seconds``, ``profile``).
    """
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": current_commit(),
        "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "seed": seed,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu": device_name("cpu"),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
    }
    if device is not None:
        meta["device"] = str(device)
        meta["device_name"] = device_name(device)
    meta.update(extra)
    return meta


def save_table(frame: pd.DataFrame, path: str | Path, metadata: dict[str, Any], parquet: bool = False) -> Path:
    """Write ``frame`` to ``path`` (CSV) and ``metadata`` to ``path.meta.json``, together or not at all.

    All files go to temporary files first; only when every one is complete are they renamed into
    place (the metadata first, the table last), so a table on disk always has its metadata.

    Args:
        parquet: also write the table as Parquet, ``path`` with the suffix ``.parquet`` (needs pyarrow).

    Returns:
        the CSV's path.

    Raises:
        ValueError: an empty table (nothing was measured).
    """
    if frame.empty:
        raise ValueError(f"refusing to write an empty table to {path}")
    path = Path(path)
    writers: dict[Path, Callable[[str], None]] = {
        path.with_name(path.name + ".meta.json"):
            lambda tmp: Path(tmp).write_text(json.dumps(metadata, indent=2, default=str) + "\n")}
    if parquet:
        writers[path.with_suffix(".parquet")] = lambda tmp: frame.to_parquet(tmp, index=False)
    writers[path] = lambda tmp: frame.to_csv(tmp, index=False)
    with ExitStack() as temporaries:    # on any failure, and between the renames, no temporary is left behind
        written = {target: temporaries.enter_context(temporary_beside(target)) for target in writers}
        for target, write in writers.items():
            write(str(written[target]))
        for target, tmp in written.items():
            os.replace(tmp, target)
    return path


def load_table(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table written by :func:`save_table` and its metadata."""
    path = Path(path)
    meta = path.with_name(path.name + ".meta.json")
    return pd.read_csv(path), json.loads(meta.read_text()) if meta.exists() else {}


def published_table(name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A committed result, ``results/<name>`` (e.g. ``"gpu-2026-11-26b/receraser_tables.csv"``), and its metadata.

    Read from the repository beside the library when it is a checkout (an editable install), else
    from the repository's public copy (:data:`RESULTS_URL`, e.g. in Colab).

    Raises:
        FileNotFoundError: neither is at hand, with what to do.
    """
    local = Path(__file__).resolve().parent.parent / "results" / name
    if local.exists():
        return load_table(local)
    url = RESULTS_URL + name
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            frame = pd.read_csv(io.BytesIO(response.read()))
        with urllib.request.urlopen(url + ".meta.json", timeout=30) as response:
            meta = json.loads(response.read().decode())
    except OSError as err:
        raise FileNotFoundError(f"result {name!r} is neither in a checkout of the repository ({local}) nor "
                                f"reachable at {url} ({err}); clone the repository and install it with "
                                f"`pip install -e .`") from err
    return frame, meta
