"""What every chapter's first cells share: the Colab install line, the setup banner, and ``glue``.

A chapter opens with three cells:

1. the install cell, the same in every notebook (:func:`install_cell` is its text; it cannot
   import this library, which is what it installs in Colab);
2. the parameters cell, UPPER_CASE values with the profile read by
   :func:`~rec_unlearn_lib.settings.get_profile`;
3. ``RUN = rul.notebook.setup(PROFILE, SEED)``: seeds, picks the device, applies the book's
   figure style and prints the versions (:func:`setup`).

Numbers that the prose quotes are passed to :func:`glue`: in the built book they appear in the
text; in JupyterLab or Colab they are printed in the cell's output too (not while the book is built,
:data:`BOOK_BUILD_ENV`, where the text shows them).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import __version__
from .config import REPOSITORY_URL, set_seed
from .plots import use_book_style
from .settings import Runtime


BOOK_BUILD_ENV = "REC_UNLEARN_BOOK_BUILD"
"""Set to ``1`` while the book is built (``make book``, ``make pdf``): :func:`glue` then records values
without printing them, since the rendered text shows each one where it is quoted."""


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
    _sharp_inline_figures()
    print(banner(run, **extra))
    return run


def _sharp_inline_figures() -> None:
    """In a Jupyter kernel, figures as PNGs at twice the pixel density ("retina"): the same size on the page,
    legible when zoomed or projected. Nothing outside IPython."""
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:
        return
    if get_ipython() is not None:
        set_matplotlib_formats("retina")


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's ``{glue:text}`` roles and print ``name: value``.

    The printed line is what a reader sees in JupyterLab or Colab, where ``{glue:text}`` is not
    rendered; without ``myst_nb`` installed only the line is printed. While the book is built
    (``$REC_UNLEARN_BOOK_BUILD=1``) nothing is printed: the text shows the value.
    """
    if os.environ.get(BOOK_BUILD_ENV) != "1":
        print(f"{name}: {value}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
