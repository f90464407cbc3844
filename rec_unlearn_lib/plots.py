"""The book's figures, in one consistent style (seaborn on matplotlib).

Every function takes a tidy :class:`pandas.DataFrame` (one row per observation) and
returns the matplotlib ``Axes`` (or ``Figure``) it drew, labelled and titled, so that a
notebook can add to it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import Bbox
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

PALETTE = "colorblind"

_CB = sns.color_palette(PALETTE, 10).as_hex()
COLORS: dict[str, str] = {
    # unlearning methods (and the model before forgetting): one colour each, across the whole book
    "original": _CB[7], "retrain": _CB[0], "sisa": _CB[4], "receraser": _CB[1], "scif": _CB[9], "ifru": _CB[2],
    "ubpr": _CB[5],
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


def learning_curves(history: pd.DataFrame, metric: str = "recall@20", loss: str = "loss", hue: str = "model",
                    best_epochs: Mapping[str, int] | None = None, baseline: float | None = None,
                    baseline_label: str = "most popular", title: str = "Learning curves",
                    ncols: int = 2, panel_size: tuple[float, float] = (3.6, 2.5)) -> plt.Figure:
    """One small panel per ``hue`` value (a model): its validation ``metric`` and, on its own right-hand
    axis, its training ``loss`` against ``epoch``; at most ``ncols`` panels a row.

    Each model's loss gets its own scale (BCE, BPR and WMF's weighted squared error are not comparable);
    the validation metric shares one axis across the panels. The epoch whose parameters the trainer
    kept is starred and named in the panel's title, and ``baseline`` (e.g. popularity's validation
    score) is a dashed line on every panel.

    Args:
        history: tidy rows with columns ``epoch``, ``hue``, ``loss`` and ``metric`` (``NaN`` where not
            evaluated), e.g. the concatenated :attr:`~rec_unlearn_lib.training.TrainResult.history`.
        best_epochs: ``{model: epoch kept}`` (:attr:`~rec_unlearn_lib.training.TrainResult.best_epoch`);
            a model not in it: the first epoch of its highest ``metric``.
        baseline: a reference value of ``metric`` drawn on every panel, labelled ``baseline_label``.
        panel_size: width and height of one panel, in inches.
    """
    names = list(dict.fromkeys(history[hue]))
    nrows = -(-len(names) // ncols)
    width, height = panel_size
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.9), sharey=True, squeeze=False)
    handles: dict[str, Any] = {}
    for ax, name in zip(axes.flat, names):
        part = history[history[hue] == name].sort_values("epoch")
        scores = part.dropna(subset=[metric])
        colour = COLORS.get(str(name).lower())
        twin = ax.twinx()
        twin.grid(False)
        handles.setdefault("loss", twin.plot(part.epoch, part[loss], color="0.5", lw=1.2, ls=":",
                                             label=f"training {loss} (right axis, own scale)")[0])
        twin.tick_params(axis="y", colors="0.4", labelsize="small")
        twin.yaxis.set_major_locator(MaxNLocator(4))
        handles.setdefault("metric", ax.plot(scores.epoch, scores[metric], marker="o", markersize=3.5, color=colour,
                                             label=f"validation {metric}")[0])
        ax.set_zorder(twin.get_zorder() + 1)        # the metric in front of the loss
        ax.patch.set_visible(False)
        if baseline is not None:
            handles.setdefault("baseline", ax.axhline(baseline, ls="--", color="black", lw=1, label=baseline_label))
        best = (best_epochs or {}).get(name)
        if best is None:
            best = int(scores.epoch.iloc[int(np.argmax(scores[metric].to_numpy()))])
        kept = scores[scores.epoch == best]
        handles.setdefault("best", ax.scatter(kept.epoch, kept[metric], marker="*", s=200, color=colour,
                                              edgecolor="black", linewidth=0.8, zorder=5,
                                              label="epoch kept (best validation score)"))
        ax.set(title=f"{name}: kept epoch {best}", xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"validation {metric}")
    fig.suptitle(title)
    fig.legend(handles=list(handles.values()), loc="lower center", ncol=2, frameon=False, fontsize="small")
    fig.set_layout_engine("tight", rect=(0, 0.6 / (height * nrows + 0.9), 1, 1))   # room for the legend
    return fig


def backbone_bars(results: pd.DataFrame, panels: Sequence[tuple[str, str]], baseline_model: str | None = "pop",
                  baseline_label: str = "most popular", ncols: int = 2, title: str | None = None) -> plt.Figure:
    """One bar panel per ``(protocol, metric)`` of ``panels``, a bar per model, at most ``ncols`` panels a row;
    ``baseline_model``'s value is a dashed line instead of a bar and each bar carries its value.

    Args:
        results: tidy rows with columns ``protocol``, ``model``, ``metric``, ``value``.
        panels: ``(protocol, metric)`` pairs, in drawing order.
    """
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows + 0.3), squeeze=False)
    handle = None
    for ax, (protocol, metric) in zip(axes.flat, panels):
        rows = results[(results.protocol == protocol) & (results.metric == metric)]
        part = rows[rows.model != baseline_model]
        base = rows[rows.model == baseline_model].value
        baseline = float(base.iloc[0]) if len(base) else None
        metric_bars(part, x="model", y="value", title=f"{protocol}: {metric}", baseline=baseline,
                    baseline_label=baseline_label, ax=ax)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        if baseline is not None:
            handle = ax.lines[-1]
        for bars in ax.containers:
            ax.bar_label(bars, fmt="%.3f", fontsize="x-small", padding=2)
        top = max(part.value.max(), baseline or 0.0)
        ax.set(xlabel="", ylabel=metric, ylim=(0, 1.15 * top))
    spare = list(axes.flat)[len(panels):]
    for ax in spare:
        ax.axis("off")
    if handle is not None:
        if spare:
            spare[0].legend(handles=[handle], loc="center", frameon=False)
        else:
            fig.legend(handles=[handle], loc="lower center", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def metric_bars(table: pd.DataFrame, x: str, y: str, hue: str | None = None, title: str = "",
                baseline: float | None = None, baseline_label: str = "baseline", ax: plt.Axes | None = None,
                errorbar: Any = ("ci", 95)) -> plt.Axes:
    """A bar per ``x`` (grouped by ``hue``) of metric column ``y``, with an optional dashed baseline.

    Where ``table`` holds several rows per bar (seeds), the bar is their mean and ``errorbar`` is seaborn's
    interval around it (default a 95 % bootstrap interval; ``("pi", 100)``: from the smallest to the largest)."""
    ax = ax or plt.subplots(figsize=(7, 3.6))[1]
    colour_by = hue or x
    sns.barplot(data=table, x=x, y=y, hue=colour_by, palette=palette(table[colour_by]), legend=hue is not None,
                errorbar=errorbar, ax=ax)
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
                        ylabel: str = "predicted change", ax: plt.Axes | None = None, fit: bool = False) -> plt.Axes:
    """Scatter of predicted against actual values on equal axes with the line ``y = x`` (perfect prediction).

    With ``fit`` also the least-squares line through the origin, labelled with its slope
    (:func:`through_origin_slope`): below 1, the prediction under-estimates the change.
    """
    ax = ax or plt.subplots(figsize=(4.5, 4.5))[1]
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    lim = np.abs(np.concatenate([actual, predicted])).max() * 1.05
    ax.scatter(actual, predicted, s=6, alpha=0.5)
    ax.plot([-lim, lim], [-lim, lim], "k--", lw=1, label="y = x")
    if fit:
        slope = through_origin_slope(actual, predicted)
        ax.plot([-lim, lim], [-slope * lim, slope * lim], color=_CB[3], lw=1.5, label=f"fit: slope {slope:.2f}")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def through_origin_slope(actual: np.ndarray, predicted: np.ndarray) -> float:
    """The least-squares slope ``b`` of ``predicted ~ b * actual`` (no intercept): ``<p, a> / <a, a>``."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    return float(predicted @ actual / (actual @ actual))


def _log_ticks(ax: plt.Axes, axis: str) -> None:
    """Plain-number labels (0.5, 1, 2, 5) on a log ``axis``: 1-2-5 ticks within three decades, decades beyond."""
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    subs = (1.0, 2.0, 5.0) if np.log10(hi / lo) <= 3 else (1.0,)
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def solver_tradeoff(table: pd.DataFrame, title: str = "Solvers") -> plt.Axes:
    """Each solver's wall time against its error, log-log, each point named with its number of HVPs.

    An error of exactly 0 (the reference solver itself) has no place on a log axis: it is drawn as a
    triangle on the axis floor, labelled "exact (0)". The error axis spans one decade below and above
    the non-zero errors; labels are placed where they overlap no other label or point and stay inside.

    Args:
        table: one row per solver (index: name) with ``seconds``, ``relative error vs direct``, ``matvecs``.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    errors = table["relative error vs direct"].astype(float)
    seconds = table["seconds"].astype(float)
    nonzero = errors[errors > 0]
    if len(nonzero):
        low = 10.0 ** (np.floor(np.log10(nonzero.min())) - 1)
        high = 10.0 ** (np.ceil(np.log10(nonzero.max())) + 0.5)
    else:
        low, high = 1e-8, 1.0
    ax.set(xscale="log", yscale="log", ylim=(low, high), xlim=(seconds.min() / 3, seconds.max() * 3),
           xlabel="wall time of the solve (s, log scale)", ylabel="relative error vs direct (log scale)", title=title)
    _log_ticks(ax, "x")
    labels = []
    for name, row in table.iterrows():
        exact = row["relative error vs direct"] == 0
        y = low if exact else row["relative error vs direct"]
        ax.scatter(row["seconds"], y, s=70, marker="v" if exact else "o", clip_on=False, zorder=5,
                   color=COLORS.get(str(name).lower()), edgecolor="white")
        text = f"{name}: exact (0), {int(row['matvecs'])} HVPs" if exact else f"{name} ({int(row['matvecs'])} HVPs)"
        labels.append(((row["seconds"], y), text, exact))
    fig.canvas.draw()                                      # lay out the figure, then place the labels
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    centres = [ax.transData.transform(xy) for xy, _, _ in labels]
    taken = [Bbox.from_extents(x - 7, y - 7, x + 7, y + 7) for x, y in centres]   # the points themselves
    for xy, text, exact in labels:
        spots = ([(0, 9, "center", "bottom"), (8, 6, "left", "bottom"), (-8, 6, "right", "bottom")] if exact else
                 [(9, 0, "left", "center"), (-9, 0, "right", "center"), (0, 9, "center", "bottom"),
                  (0, -9, "center", "top"), (9, 9, "left", "bottom"), (-9, -9, "right", "top")])
        for dx, dy, ha, va in spots:
            note = ax.annotate(text, xy, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va,
                               fontsize="small", annotation_clip=False)
            box = note.get_window_extent(renderer)
            inside = (box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
                      and (exact or box.y0 >= frame.y0))
            if inside and not any(box.overlaps(t) for t in taken):
                break
            note.remove()
        else:                                               # no free spot: the first one
            note = ax.annotate(text, xy, textcoords="offset points", xytext=spots[0][:2], ha=spots[0][2],
                               va=spots[0][3], fontsize="small", annotation_clip=False)
            box = note.get_window_extent(renderer)
        taken.append(box)
    return ax


BOOK_WIDTH = 6.9
"""Width in inches of a full-width figure of chapters 3, 5 and 6: at the book's 100 dpi, the 700 px
content column (less the margin the inline backend adds), so that its text is drawn at the size it was set in."""


def method_palette(names) -> dict[str, str]:
    """``{name: colour}`` for seaborn's ``palette``: the fixed colour (:data:`COLORS`) of every name that has one,
    and colours no fixed name uses (dark shades) for the others, e.g. a method registered in an exercise."""
    names = list(dict.fromkeys(names))
    spare = iter(c for c in sns.color_palette("dark", 10).as_hex() + sns.color_palette("pastel", 10).as_hex()
                 if c not in COLORS.values())
    return {n: COLORS[str(n).lower()] if str(n).lower() in COLORS else next(spare) for n in names}


def legend_outside(ax: plt.Axes, where: str = "right upper", **kwargs: Any) -> Any:
    """Move ``ax``'s legend out of the plot, to the figure's ``where`` (``"right upper"``, ``"lower center"``,
    ...), and lay the figure out so that plot and legend together keep the figure's width (a figure of
    :data:`BOOK_WIDTH` stays within the book's column). Returns the figure legend."""
    fig = ax.figure
    title = kwargs.pop("title", None)
    legend = ax.get_legend()
    if legend is not None:                    # the entries the legend shows (seaborn's, or a chosen few)
        handles, labels = legend.legend_handles, [text.get_text() for text in legend.get_texts()]
        title = legend.get_title().get_text() if title is None else title
        legend.remove()
    else:
        handles, labels = ax.get_legend_handles_labels()
    fig.set_layout_engine("constrained")
    return fig.legend(handles, labels, loc=f"outside {where}", title=title or None, frameon=False, **kwargs)


def _partition_label(name: str) -> str:
    return {"ubp": "UBP", "ibp": "IBP", "inbp": "InBP"}.get(str(name).lower(), str(name))


def shard_sizes(sizes: pd.DataFrame, order: Sequence[str], max_size: float | None = None) -> plt.Figure:
    """Interactions (top, full width), users and items (bottom row) per shard, one bar per partition,
    one legend above: at most two panels a row, :data:`BOOK_WIDTH` wide.

    Args:
        sizes: tidy rows ``shard``, ``partition``, ``interactions``, ``users``, ``items``.
        order: the partitions, in drawing order.
        max_size: the interaction cap t, drawn on the interactions panel.
    """
    fig = plt.figure(figsize=(BOOK_WIDTH, 5.6), layout="constrained")
    grid = fig.add_gridspec(2, 2)
    axes = [fig.add_subplot(grid[0, :]), fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])]
    colours = palette(order) or dict(zip(order, sns.color_palette(PALETTE, len(order)).as_hex()))
    for ax, column in zip(axes, ["interactions", "users", "items"]):
        sns.barplot(data=sizes, x="shard", y=column, hue="partition", hue_order=list(order), palette=colours,
                    legend=False, ax=ax)
        ax.set(title=f"{column} per shard", xlabel="shard", ylabel=column)
    handles = [Patch(color=colours[n], label=_partition_label(n)) for n in order]
    if max_size is not None:
        handles.append(axes[0].axhline(max_size, ls="--", color="black", lw=1, label="t of InBP"))
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), frameon=False)
    return fig


def share_cdf(concentration: pd.DataFrame, order: Sequence[str]) -> plt.Figure:
    """Per user and per item: the CDF of the share of its history held by its largest shard, one line per
    partition, two panels side by side (:data:`BOOK_WIDTH` wide), one legend above.

    Args:
        concentration: tidy rows ``kind`` (user/item), ``partition``, ``top_share``
            (:func:`~rec_unlearn_lib.unlearning.history_concentration`).
    """
    fig, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.3), sharey=True, layout="constrained")
    for ax, kind in zip(axes, ["user", "item"]):
        data = concentration[concentration.kind == kind]
        for name in order:
            values = np.sort(data[data.partition == name].top_share.to_numpy())
            ax.plot(values, np.linspace(0, 1, len(values)), label=_partition_label(name),
                    color=COLORS.get(name.lower()), lw=2)
        ax.set(title=f"per {kind}", xlabel="share in its largest shard", xlim=(0, 1.02))
    axes[0].set_ylabel("fraction of nodes (CDF)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncol=len(order), frameon=False)
    return fig


def shard_sweep(sweep: pd.DataFrame, retrain_quality: float, retrain_seconds: float,
                quality: str = "recall@20", shards: str = "S") -> plt.Figure:
    """Quality and cost of forgetting one interaction against the number of shards, one colour per method
    (:func:`color`), two panels side by side (:data:`BOOK_WIDTH` wide), one legend below.

    Args:
        sweep: tidy rows ``shards`` (the number of shards), ``method``, ``quality``, ``unlearn seconds``,
            ``shards seconds``.
        retrain_quality, retrain_seconds: Retrain's, drawn as dashed lines in Retrain's colour.
        shards: the column that holds the number of shards.
    """
    fig, axes = plt.subplots(1, 2, figsize=(BOOK_WIDTH, 3.6), layout="constrained")
    counts = sorted(sweep[shards].unique())
    colours = method_palette(sweep["method"])
    handles = []
    for label, part in sweep.groupby("method", sort=False):
        c = colours[label]
        handles += axes[0].plot(part[shards], part[quality], marker="o", label=label, color=c)
        axes[1].plot(part[shards], part["unlearn seconds"], marker="o", color=c)
        axes[1].plot(part[shards], part["shards seconds"], marker="x", ls=":", color=c)
    handles.append(axes[0].axhline(retrain_quality, ls="--", color=color("retrain"), lw=1.5, label="Retrain"))
    axes[1].axhline(retrain_seconds, ls="--", color=color("retrain"), lw=1.5)
    handles += [Line2D([], [], color="0.3", marker="o", label="shard + aggregator"),
                Line2D([], [], color="0.3", marker="x", ls=":", label="shard only")]
    axes[0].set(title=f"test {quality}", xlabel=f"shards {shards}", ylabel=quality, xscale="log")
    axes[1].set(title="seconds to forget one", xlabel=f"shards {shards}", ylabel="seconds", xscale="log")
    for ax in axes:
        ax.set_xticks(counts, [str(k) for k in counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=10,
               handlelength=1.8, columnspacing=1.0)
    return fig


def gap_strip(summary: pd.DataFrame, metric: str, col: str = "setting", col_wrap: int = 2) -> sns.FacetGrid:
    """Each method's gap to Retrain in units of Retrain's seed spread (``gap_sd`` of
    :func:`~rec_unlearn_lib.study.summary.summary_table`), one point per backbone and ratio, a panel per
    ``col`` (at most ``col_wrap`` a row, :data:`BOOK_WIDTH` wide), on a symmetric log axis (linear within
    +-1); the grey band is +-1 spread: as close as another seed of Retrain."""
    order = list(dict.fromkeys(summary["method"]))
    panels = max(1, min(col_wrap, summary[col].nunique()))      # the figure is col_wrap panels wide
    height = 2.8
    grid = sns.catplot(summary, x="gap_sd", y="method", hue="method", col=col, col_wrap=panels, kind="strip",
                       order=order, palette=method_palette(order), height=height,
                       aspect=(BOOK_WIDTH - 0.3) / panels / height, legend=False, size=7, jitter=0.15)
    for ax in grid.axes.flat:
        ax.set_xscale("symlog", linthresh=1.0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))   # -10, -1, 0, 1, 10
        ax.axvspan(-1, 1, color="0.85", zorder=0)
        ax.axvline(0, color="0.3", lw=1)
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "")
    grid.figure.supxlabel(f"gap to Retrain's mean {metric}\nin Retrain's seed standard deviations (symmetric log)",
                          fontsize=11)
    return grid


def accuracy_vs_time(summary: pd.DataFrame, metric: str) -> plt.Axes:
    """Each method's ``metric`` after forgetting against its seconds to forget (log axis), one point per
    backbone, setting and ratio, colours by method (:func:`color`), markers by backbone; the legend to the
    right, :data:`BOOK_WIDTH` wide in all."""
    fig, ax = plt.subplots(figsize=(BOOK_WIDTH, 4.2), layout="constrained")
    methods = list(dict.fromkeys(summary["method"]))
    sns.scatterplot(summary, x="unlearn_seconds", y=metric, hue="method", style="backbone",
                    palette=method_palette(methods), s=60, ax=ax)
    ax.set_xscale("log")
    seconds = summary["unlearn_seconds"][summary["unlearn_seconds"] > 0]
    decades = np.log10(seconds.max() / seconds.min()) if len(seconds) else 0.0
    subs = (1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)          # 1, 2, 5, 10: labels even within one decade
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("seconds to forget (Retrain: to retrain), log scale")
    ax.set_ylabel(f"{metric} after forgetting")
    handles, labels = ax.get_legend_handles_labels()
    ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside right upper", fontsize=10, frameon=False)
    return ax
