"""Seconds per training step of RecEraser's attention aggregator: a batch's rows only against the whole tables.

    python scripts/bench_aggregator_rows.py [--device cpu|cuda] [--repeats N]

For the sizes of ML-100K and of RecEraser's ML-1M split (K = 10 shards, d = 64, attention size 32, each shard
seeing a random half of the users and items) and BPR batches of 512 and 2048 triplets, it times one forward and
backward pass of the BPR loss through :meth:`AttentionAggregator.batch_rows` (Eq. 5-7 for the rows the batch reads,
when they are fewer than the tables' rows) and through rows of the whole tables
(:meth:`InnerProductModel.batch_rows`, what every step computed before), in the same run on the same device, and
prints the median milliseconds of each and their ratio.
"""

from __future__ import annotations

import argparse
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F

from rec_unlearn_lib.models import InnerProductModel
from rec_unlearn_lib.timing import timed
from rec_unlearn_lib.unlearning import AttentionAggregator

SIZES = {"ml-100k": (943, 1682), "receraser-ml-1m": (6040, 3706)}


def step_ms(agg: AttentionAggregator, rows_of_batch: Callable[..., tuple[torch.Tensor, ...]],
            batch: tuple[torch.Tensor, ...], repeats: int) -> float:
    """Median milliseconds of one BPR forward and backward pass whose rows come from ``rows_of_batch``."""
    times = []
    for trial in range(repeats + 3):                     # three warm-up passes
        with timed(agg.device) as clock:
            users, pos, neg = rows_of_batch(agg, *batch)
            (-F.logsigmoid((users * pos).sum(-1) - (users * neg).sum(-1)).mean()).backward()
        if trial >= 3:
            times.append(clock.seconds)
    return 1000 * float(pd.Series(times).median())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    rows = []
    for dataset, (num_users, num_items) in SIZES.items():
        k, d = 10, 64
        agg = AttentionAggregator(torch.randn(k, num_users, d, generator=gen), torch.randn(k, num_items, d, generator=gen),
                                  torch.rand(k, num_users, generator=gen) < 0.5,
                                  torch.rand(k, num_items, generator=gen) < 0.5, attention_size=32).to(args.device)
        for batch_size in (512, 2048):
            batch = tuple(torch.randint(0, n, (batch_size,), generator=gen).to(args.device)
                          for n in (num_users, num_items, num_items))
            rows.append({"data set": dataset, "batch": batch_size, "rows read": 3 * batch_size,
                         "table rows": num_users + num_items,
                         "batch rows ms": step_ms(agg, AttentionAggregator.batch_rows, batch, args.repeats),
                         "whole tables ms": step_ms(agg, InnerProductModel.batch_rows, batch, args.repeats)})
    table = pd.DataFrame(rows)
    table["ratio"] = table["whole tables ms"] / table["batch rows ms"]
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
