"""The book's figures: one fixed colour per method, and every figure function draws labelled axes."""

from __future__ import annotations

import io
import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rec_unlearn_lib import plots  # noqa: E402
from rec_unlearn_lib.unlearning import METHODS, PARTITIONS  # noqa: E402

BOOK_METHODS = ["original", "retrain", "sisa", "receraser", "scif", "ifru", "ubpr"]


def test_every_method_has_its_own_colour() -> None:
    assert set(METHODS) <= set(BOOK_METHODS)
    colours = [plots.color(name) for name in BOOK_METHODS]
    assert len(set(colours)) == len(colours)
    assert plots.color("RecEraser") == plots.color("receraser")
    assert plots.palette(["SISA", "Retrain"]) == {"SISA": plots.color("sisa"), "Retrain": plots.color("retrain")}
    assert plots.palette(["SISA", "something else"]) is None


def test_figures_draw_labelled_axes() -> None:
    ax = plots.predicted_vs_actual(np.array([1.0, -2.0]), np.array([0.8, -1.5]), "t")
    assert ax.get_title() == "t" and ax.get_xlim() == (-2.1, 2.1)
    sizes = pd.DataFrame([{"shard": k, "partition": p, "interactions": 10 + k, "users": 3, "items": 4}
                          for k in range(3) for p in PARTITIONS])
    fig = plots.shard_sizes(sizes, list(PARTITIONS), max_size=12)
    assert [a.get_title() for a in fig.axes] == ["interactions per shard", "users per shard", "items per shard"]
    shares = pd.DataFrame({"kind": ["user", "item"] * 4, "partition": ["random"] * 4 + ["inbp"] * 4,
                           "top_share": np.linspace(0.1, 1, 8)})
    assert len(plots.share_cdf(shares, ["random", "inbp"]).axes) == 2
    sweep = pd.DataFrame({"S": [2, 10, 2, 10], "method": ["SISA", "SISA", "RecEraser", "RecEraser"],
                          "recall@20": [0.2, 0.1, 0.3, 0.25], "unlearn seconds": [1, 0.5, 2, 1.5],
                          "shards seconds": [1, 0.5, 1, 0.4]})
    fig = plots.shard_sweep(sweep, 0.3, 2.0)
    assert fig.axes[0].lines[0].get_color() == plots.color("sisa")
    table = pd.DataFrame({"seconds": [0.5, 0.1], "relative error vs direct": [0.0, 1e-6], "matvecs": [10, 5]},
                         index=["direct", "cg"])
    assert plots.solver_tradeoff(table).get_yscale() == "log"
    seeds = pd.DataFrame({"backbone": ["bpr"] * 3, "share": [0.2, 0.5, 0.3]})
    for errorbar, low, high in [(("pi", 100), 0.2, 0.5), (None, None, None)]:   # the range of the seeds, or none
        ax = plots.metric_bars(seeds, x="backbone", y="share", errorbar=errorbar)
        assert ax.patches[0].get_height() == pytest.approx(1 / 3)                   # the bar: their mean
        ends = [y for line in ax.lines for y in line.get_ydata()]
        assert (sorted(ends) == pytest.approx([low, high])) if low is not None else not ends
    plt.close("all")


def _png_width(fig: plt.Figure) -> int:
    """Pixel width of ``fig`` as Jupyter's inline backend saves it (the book's 100 dpi, tight bounding box)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return struct.unpack(">II", buffer.getvalue()[16:24])[0]


def _panels_per_row(fig: plt.Figure) -> int:
    rows: dict[float, int] = {}
    for ax in fig.axes:
        top = round(ax.get_position().y1, 2)
        rows[top] = rows.get(top, 0) + 1
    return max(rows.values())


def test_sharded_and_benchmark_figures_fit_the_book_column() -> None:
    """Chapters 3 and 6: at most two panels a row, no wider than the 700 px column, methods in their colours."""
    plots.use_book_style()
    sizes = pd.DataFrame([{"shard": k, "partition": p, "interactions": 1000 + 37 * k, "users": 90, "items": 150}
                          for k in range(10) for p in PARTITIONS])
    shares = pd.DataFrame({"kind": np.repeat(["user", "item"], 40),
                           "partition": np.tile(np.repeat(list(PARTITIONS), 10), 2),
                           "top_share": np.tile(np.linspace(0.1, 1, 10), 8)})
    sweep = pd.DataFrame({"S": [2, 10, 20] * 2, "method": ["SISA"] * 3 + ["RecEraser"] * 3,
                          "recall@20": [0.2, 0.1, 0.05, 0.3, 0.25, 0.2], "unlearn seconds": [1, 0.5, 0.4, 2, 1.5, 1.4],
                          "shards seconds": [1, 0.5, 0.4, 1, 0.4, 0.3]})
    methods = ["sisa", "receraser", "ifru", "scif", "ubpr"]
    summary = pd.DataFrame([{"method": m, "setting": s, "backbone": b, "gap_sd": g, "recall@20": 0.2,
                             "unlearn_seconds": 1.0 + g * g}
                            for m in methods for s in ["random", "users"] for b, g in [("mf", -3.0), ("bpr", 0.5)]])
    figures = [plots.shard_sizes(sizes, list(PARTITIONS), max_size=1300), plots.share_cdf(shares, list(PARTITIONS)),
               plots.shard_sweep(sweep, 0.3, 2.0), plots.gap_strip(summary, "recall@20").figure,
               plots.gap_strip(summary[summary["setting"] == "random"], "recall@20").figure,
               plots.accuracy_vs_time(summary, "recall@20").figure]
    for fig in figures:
        assert _panels_per_row(fig) <= 2
        assert _png_width(fig) <= 720
    sweep_fig = figures[2]
    colours = {line.get_label(): line.get_color() for line in sweep_fig.axes[0].lines}
    assert colours == {"SISA": plots.color("sisa"), "RecEraser": plots.color("receraser"),
                       "Retrain": plots.color("retrain")}
    assert {line.get_color() for line in sweep_fig.axes[1].lines} == {plots.color(m) for m in ["sisa", "receraser",
                                                                                               "retrain"]}
    fig, ax = plt.subplots(figsize=(plots.BOOK_WIDTH, 3.6))
    ax.plot([1, 2], [1, 2], label="a method with a long name, drawn in a long line")
    ax.legend(title="method")
    plots.legend_outside(ax)
    assert ax.get_legend() is None and len(fig.legends) == 1 and _png_width(fig) <= 720
    mine = plots.method_palette(["sisa", "my_method"])
    assert mine["sisa"] == plots.color("sisa") and mine["my_method"] not in plots.COLORS.values()
    plt.close("all")


def test_backbone_and_influence_figures_fit_the_book_column() -> None:
    """Chapters 1 and 2: at most two panels a row, no wider than the 700 px column; the learning curves mark the
    kept epoch and the popularity line; the solvers' plot draws an exact zero on the axis floor."""
    plots.use_book_style()
    history = pd.DataFrame([{"model": m, "epoch": e, "loss": scale / e, "recall@20": 0.3 - 0.2 / e}
                            for m, scale in [("mf", 0.7), ("bpr", 0.5), ("wmf", 80.0), ("lightgcn", 0.6)]
                            for e in range(1, 9)])
    curves = plots.learning_curves(history, "recall@20", baseline=0.15, best_epochs={"mf": 3})
    panels = [ax for ax in curves.axes if ax.get_visible() and ax.get_ylabel() != "loss" and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["mf: kept epoch 3", "bpr: kept epoch 8", "wmf: kept epoch 8",
                                                 "lightgcn: kept epoch 8"]
    assert all(any(line.get_ydata()[0] == 0.15 for line in ax.lines) for ax in panels)     # popularity on each
    assert panels[0].collections[0].get_offsets()[0].tolist() == pytest.approx([3.0, 0.3 - 0.2 / 3])  # the star
    wide = plots.learning_curves(history[history["model"] == "mf"], ncols=1, panel_size=(7.0, 3.2))  # one wide panel
    assert wide.get_size_inches().tolist() == pytest.approx([7.0, 3.2 + 0.9]) and _png_width(wide) <= 720
    results = pd.DataFrame([{"protocol": p, "model": m, "metric": k, "value": v}
                            for p, k in [("ranking", "recall@20"), ("sampled", "hr@10"), ("labelled", "auc")]
                            for m, v in [("pop", 0.2), ("mf", 0.3), ("bpr", 0.32), ("wmf", 0.31), ("lightgcn", 0.33)]])
    bars = plots.backbone_bars(results, [("ranking", "recall@20"), ("sampled", "hr@10"), ("labelled", "auc")])
    assert [len(ax.patches) for ax in bars.axes[:3]] == [4, 4, 4]                  # popularity is the line
    table = pd.DataFrame({"seconds": [1.8, 0.5, 8.2, 2.3], "relative error vs direct": [0.0, 1.4e-6, 8.6e-6, 2.5e-6],
                          "matvecs": [320, 58, 1128, 371]}, index=["direct", "cg", "lissa", "adam"])
    solvers = plots.solver_tradeoff(table)
    low, high = solvers.get_ylim()
    assert low == 1e-7 and high < 1e-4                                            # a decade either side, not 1e-17
    texts = [t.get_text() for t in solvers.texts]
    assert "direct: exact (0), 320 HVPs" in texts and len(texts) == 4
    renderer = solvers.figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in solvers.texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 7.8))
    for ax in axes.flat:
        plots.predicted_vs_actual(np.array([1.0, -2.0]), np.array([0.8, -1.6]), "t", ax=ax, fit=True)
    assert axes[0, 0].get_legend().get_texts()[1].get_text() == "fit: slope 0.80"
    assert plots.through_origin_slope(np.array([1.0, -2.0]), np.array([0.8, -1.6])) == pytest.approx(0.8)
    for figure in [curves, bars, solvers.figure, fig]:
        assert _png_width(figure) <= 720
    assert _panels_per_row(bars) <= 2 and _panels_per_row(fig) <= 2
    plt.close("all")
