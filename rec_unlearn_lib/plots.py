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
from matplotlib.ticker import NullFormatter

PALETTE = "colorblind"

_CB = sns.color_palette(PALETTE, 10).as_hex()
COLORS: dict[str, str] = {
    # unlearning methods (and the model before forgetting): one colour each, across the whole book
    "original": _CB[7], "retrain": _CB[0], "sisa": _CB[4], "receraser": _CB[1], "scif": _CB[9], "ifru": _CB[2],
    "ubpr": _CB[3],
    # backbones
    "pop": _CB[7], "mf": _CB[4], "bpr": _CB[0], "wmf": _CB[8], "lightgcn": _CB[2],
    # partitions, aggregations, solvers
    "random": _CB[3], "ubp": _CB[0], "ibp": _CB[2], "inbp": _CB[1],
    "mean": _CB[3], "static": _CB[9], "attention": _CB[1],
    "direct": _CB[7], "cg": _CB[0], "lissa": _CB[3], "adam": _CB[2],
}
"""Fixed colours by name (case-insensitive): a method, backbone, partition, aggregation or solver is
drawn in the same colour on every figure of the book."""


def color(name: str) -> str:
    """The book's colour of ``name`` (see :data:`COLORS`).

    Raises:
        KeyError: ``name`` has no fixed colour.
    """
    return COLORS[name.lower()]


def palette(names) -> dict[str, str] | None:
    """``{name: colour}`` for seaborn's ``palette``, or ``None`` when some name has no fixed colour."""
    names = list(dict.fromkeys(names))
    if not all(str(n).lower() in COLORS for n in names):
        return None
    return {n: color(str(n)) for n in names}


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
        sns.lineplot(data=data, x="epoch", y=metric, hue=hue, marker="o", markersize=4, ax=ax,
                     palette=palette(data[hue]))
        ax.set(title=metric, xlabel="epoch", ylabel=metric)
    fig.suptitle(title)
    return fig


def metric_bars(table: pd.DataFrame, x: str, y: str, hue: str | None = None, title: str = "",
                baseline: float | None = None, baseline_label: str = "baseline", ax: plt.Axes | None = None) -> plt.Axes:
    """A bar per ``x`` (grouped by ``hue``) of metric column ``y``, with an optional dashed baseline."""
    ax = ax or plt.subplots(figsize=(7, 3.6))[1]
    colour_by = hue or x
    sns.barplot(data=table, x=x, y=y, hue=colour_by, palette=palette(table[colour_by]), legend=hue is not None, ax=ax)
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


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, title: str, xlabel: str = "actual change",
                        ylabel: str = "predicted change", ax: plt.Axes | None = None) -> plt.Axes:
    """Scatter of predicted against actual values on equal axes with the line ``y = x`` (perfect prediction)."""
    ax = ax or plt.subplots(figsize=(4.5, 4.5))[1]
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    lim = np.abs(np.concatenate([actual, predicted])).max() * 1.05
    ax.scatter(actual, predicted, s=6, alpha=0.5)
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="y = x")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="upper left")
    return ax


def solver_tradeoff(table: pd.DataFrame, title: str = "Solvers", floor: float = 1e-17) -> plt.Axes:
    """Each solver's wall time against its error, log-log, annotated with its number of HVPs.

    Args:
        table: one row per solver (index: name) with ``seconds``, ``relative error vs direct``, ``matvecs``.
        floor: where an error of exactly 0 (the reference itself) is drawn on the log axis.
    """
    ax = plt.subplots(figsize=(5.5, 4))[1]
    for name, row in table.iterrows():
        error = max(row["relative error vs direct"], floor)
        ax.scatter(row["seconds"], error, s=60, label=name, color=COLORS.get(str(name).lower()))
        ax.annotate(f"{name} ({int(row['matvecs'])} HVPs)", (row["seconds"], error), textcoords="offset points",
                    xytext=(5, 5))
    ax.set(xscale="log", yscale="log", xlabel="wall time of the solve (s)",
           ylabel=f"relative error vs direct (direct: 0, drawn at {floor:g})", title=title)
    return ax


def shard_sizes(sizes: pd.DataFrame, order: Sequence[str], max_size: float | None = None) -> plt.Figure:
    """Interactions, users and items per shard, one bar per partition.

    Args:
        sizes: tidy rows ``shard``, ``partition``, ``interactions``, ``users``, ``items``.
        order: the partitions, in drawing order.
        max_size: the interaction cap t, drawn on the interactions panel.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    for ax, column in zip(axes, ["interactions", "users", "items"]):
        sns.barplot(data=sizes, x="shard", y=column, hue="partition", hue_order=list(order),
                    palette=palette(order), ax=ax)
        ax.set(title=f"{column} per shard", xlabel="shard", ylabel=column)
        if column == "interactions" and max_size is not None:
            ax.axhline(max_size, ls="--", color="black", lw=1, label="t")
        ax.legend(fontsize=8)
    return fig


def share_cdf(concentration: pd.DataFrame, order: Sequence[str]) -> plt.Figure:
    """Per user and per item: the CDF of the share of its history held by its largest shard, one line per partition.

    Args:
        concentration: tidy rows ``kind`` (user/item), ``partition``, ``top_share``
            (:func:`~rec_unlearn_lib.unlearning.history_concentration`).
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
    for ax, kind in zip(axes, ["user", "item"]):
        data = concentration[concentration.kind == kind]
        for name in order:
            values = np.sort(data[data.partition == name].top_share.to_numpy())
            ax.plot(values, np.linspace(0, 1, len(values)), label=name, color=COLORS.get(name.lower()))
        ax.set(title=f"per {kind}: share of history in its largest shard", xlabel="share",
               ylabel="fraction of nodes (CDF)")
        ax.legend()
    return fig


def shard_sweep(sweep: pd.DataFrame, retrain_quality: float, retrain_seconds: float,
                quality: str = "recall@20") -> plt.Figure:
    """Quality and cost of forgetting one interaction against the number of shards K, one line per method.

    Args:
        sweep: tidy rows ``K``, ``method``, ``quality``, ``unlearn seconds``, ``shards seconds``.
        retrain_quality, retrain_seconds: Retrain's, drawn as dashed references.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    counts = sorted(sweep.K.unique())
    for label, part in sweep.groupby("method", sort=False):
        c = COLORS.get(str(label).lower())
        axes[0].plot(part.K, part[quality], marker="o", label=label, color=c)
        axes[1].plot(part.K, part["unlearn seconds"], marker="o", label=f"{label}: shard + aggregator", color=c)
        axes[1].plot(part.K, part["shards seconds"], marker="x", ls=":", label=f"{label}: shard only", color=c)
    axes[0].axhline(retrain_quality, ls="--", color="black", lw=1, label="Retrain")
    axes[1].axhline(retrain_seconds, ls="--", color="black", lw=1, label="Retrain")
    axes[0].set(title=f"test {quality}", xlabel="shards K", ylabel=quality, xscale="log")
    axes[1].set(title="seconds to forget one interaction", xlabel="shards K", ylabel="seconds", xscale="log")
    for ax in axes:
        ax.set_xticks(counts, [str(k) for k in counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
    return fig


def gap_strip(summary: pd.DataFrame, metric: str, col: str = "setting", col_wrap: int = 2) -> sns.FacetGrid:
    """Each method's gap to Retrain in units of Retrain's seed spread (``gap_sd`` of
    :func:`~rec_unlearn_lib.study.summary.summary_table`), one point per backbone and ratio, a panel per
    ``col`` (at most ``col_wrap`` a row), on a symmetric log axis (linear within +-1); the grey band is +-1
    spread: as close as another seed of Retrain."""
    order = list(dict.fromkeys(summary["method"]))
    grid = sns.catplot(summary, x="gap_sd", y="method", hue="method", col=col, col_wrap=col_wrap, kind="strip",
                       order=order, palette=palette(order), height=3.2, aspect=1.3, legend=False, size=7, jitter=0.15)
    for ax in grid.axes.flat:
        ax.set_xscale("symlog", linthresh=1.0)
        ax.axvspan(-1, 1, color="0.85", zorder=0)
        ax.axvline(0, color="0.3", lw=1)
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "")
    grid.figure.supxlabel(f"gap to Retrain's mean {metric}, in Retrain's seed standard deviations (symmetric log)",
                          fontsize=11)
    return grid


def accuracy_vs_time(summary: pd.DataFrame, metric: str) -> plt.Axes:
    """Each method's ``metric`` after forgetting against its seconds to forget (log axis), one point per
    backbone, setting and ratio, markers by backbone."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    methods = list(dict.fromkeys(summary["method"]))
    sns.scatterplot(summary, x="unlearn_seconds", y=metric, hue="method", style="backbone", palette=palette(methods),
                    s=70, ax=ax)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())       # decade labels only: no overlapping minor labels
    ax.set_xlabel("seconds to forget (Retrain: to retrain), log scale")
    ax.set_ylabel(f"{metric} after forgetting")
    ax.legend(bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=9)
    return ax
