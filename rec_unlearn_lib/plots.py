"""The book's figures, in one consistent style (seaborn on matplotlib).

Every function takes a tidy :class:`pandas.DataFrame` (one row per observation) and
returns the matplotlib ``Axes`` (or ``Figure``) it drew, labelled and titled, so that a
notebook can add to it.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


def use_book_style() -> None:
    """Seaborn's ``whitegrid`` theme, colour-blind palette, readable sizes."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update({"figure.dpi": 100, "axes.titleweight": "bold", "figure.autolayout": True})


def learning_curves(history: pd.DataFrame, metrics: Sequence[str], hue: str = "model",
                    title: str = "Learning curves") -> plt.Figure:
    """One panel per metric against ``epoch``, one line per ``hue`` value.

    Args:
        history: tidy rows with columns ``epoch``, ``hue`` and each of ``metrics``
            (e.g. the concatenated :attr:`~rec_unlearn_lib.training.TrainResult.history`).
        metrics: columns to plot (``loss``, ``recall@20``, ...).
    """
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        data = history.dropna(subset=[metric])
        sns.lineplot(data=data, x="epoch", y=metric, hue=hue, marker="o", markersize=4, ax=ax)
        ax.set(title=metric, xlabel="epoch", ylabel=metric)
    fig.suptitle(title)
    return fig


def metric_bars(table: pd.DataFrame, x: str, y: str, hue: str | None = None, title: str = "",
                baseline: float | None = None, baseline_label: str = "baseline", ax: plt.Axes | None = None) -> plt.Axes:
    """A bar per ``x`` (grouped by ``hue``) of metric column ``y``, with an optional dashed baseline."""
    ax = ax or plt.subplots(figsize=(7, 3.6))[1]
    sns.barplot(data=table, x=x, y=y, hue=hue, ax=ax)
    if baseline is not None:
        ax.axhline(baseline, ls="--", color="black", lw=1, label=baseline_label)
        ax.legend()
    ax.set(title=title or f"{y} by {x}", xlabel=x, ylabel=y)
    return ax


def popularity_curve(item_counts: np.ndarray, title: str = "Item popularity (long tail)",
                     ax: plt.Axes | None = None) -> plt.Axes:
    """Interactions per item, items sorted from most to least popular, log-scaled count axis."""
    ax = ax or plt.subplots(figsize=(6, 3.6))[1]
    counts = np.sort(np.asarray(item_counts))[::-1]
    ax.plot(np.arange(1, len(counts) + 1), np.maximum(counts, 1e-1))
    ax.set(yscale="log", title=title, xlabel="item rank by popularity", ylabel="interactions (log scale)")
    return ax
