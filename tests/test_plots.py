"""The book's figures: one fixed colour per method, and every figure function draws labelled axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

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
    sweep = pd.DataFrame({"K": [2, 10, 2, 10], "method": ["SISA", "SISA", "RecEraser", "RecEraser"],
                          "recall@20": [0.2, 0.1, 0.3, 0.25], "unlearn seconds": [1, 0.5, 2, 1.5],
                          "shards seconds": [1, 0.5, 1, 0.4]})
    fig = plots.shard_sweep(sweep, 0.3, 2.0)
    assert fig.axes[0].lines[0].get_color() == plots.color("sisa")
    table = pd.DataFrame({"seconds": [0.5, 0.1], "relative error vs direct": [0.0, 1e-6], "matvecs": [10, 5]},
                         index=["direct", "cg"])
    assert plots.solver_tradeoff(table).get_yscale() == "log"
    plt.close("all")
