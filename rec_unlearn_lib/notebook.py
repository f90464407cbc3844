"""What every chapter's first cells share: the Colab install line, the setup banner, and ``glue``.

A chapter opens with three cells:

1. the install cell, the same in every notebook (:func:`install_cell` is its text; it cannot
   import this library, which is what it installs in Colab);
2. the parameters cell, UPPER_CASE values with the profile read by
   :func:`~rec_unlearn_lib.settings.get_profile`;
3. ``RUN = rul.notebook.setup(PROFILE, SEED)``: seeds, picks the device, applies the book's
   figure style and prints the versions (:func:`setup`).

Numbers that the prose quotes are passed to :func:`glue`: in the built book they appear in the
text; in JupyterLab or Colab they are printed in the cell's output.
"""

from __future__ import annotations

import platform
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import __version__
from .config import REPOSITORY_URL, set_seed
from .plots import use_book_style
from .settings import Runtime


def install_cell() -> str:
    """The text of every notebook's first cell: in Colab, install this library from the repository."""
    return ("# Colab: install the book's library from its repository (elsewhere it is installed already).\n"
            "import importlib.util, subprocess, sys\n"
            "if \"google.colab\" in sys.modules and importlib.util.find_spec(\"rec_unlearn_lib\") is None:\n"
            "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
            f"                    \"git+{REPOSITORY_URL}\"], check=True)")


def banner(run: Runtime, **extra: Any) -> str:
    """One line: library, torch, numpy and pandas versions, device, profile and ``extra`` (e.g. ``data=...``)."""
    parts = [f"rec_unlearn_lib {__version__}", f"python {platform.python_version()}", f"torch {torch.__version__}",
             f"numpy {np.__version__}", f"pandas {pd.__version__}", f"device {run.device}", f"profile {run.profile}",
             f"seed {run.seed}", *(f"{key} {value}" for key, value in extra.items())]
    return " | ".join(parts)


def setup(profile: str | None = None, seed: int = 0, device: str | torch.device | None = None,
          threads: int | None = None, **extra: Any) -> Runtime:
    """Resolve and print the chapter's runtime, seed the global generators and set the figure style.

    Args:
        profile, seed, device: see :class:`~rec_unlearn_lib.settings.Runtime` (``None``: the
            environment's profile, the GPU when available).
        threads: torch's intra-op threads (``1`` for chapters of tiny problems: fastest and
            deterministic); ``None`` leaves torch's default.
        extra: more ``key value`` pairs for the banner.
    """
    run = Runtime.resolve(profile, seed, device)
    if threads is not None:
        torch.set_num_threads(threads)
    set_seed(run.seed)
    use_book_style()
    print(banner(run, **extra))
    return run


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's ``{glue:text}`` roles and print ``name: value``.

    The printed line is what a reader sees in JupyterLab or Colab, where ``{glue:text}`` is not
    rendered; without ``myst_nb`` installed only the line is printed.
    """
    print(f"{name}: {value}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
