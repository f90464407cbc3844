"""Command line of the study: ``python -m rec_unlearn_lib {data,train,bench,unlearn} ...``.

Every command prints JSON on standard output (one object per line) and, on bad input
(unknown data set or model, missing data, bad numbers), one line ``error: ...`` on
standard error with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Sequence

from .config import DEFAULT_DATASET, PROFILES, default_device, get_profile
from .data import LOADERS, MalformedDataError, load_dataset
from .evaluation import evaluate
from .models import MODELS
from .splits import PROTOCOLS, make_split
from .training import train_backbone


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _seed(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _emit(obj: dict) -> None:
    print(json.dumps(obj, default=float), flush=True)


def cmd_data(args: argparse.Namespace) -> None:
    _emit(load_dataset(args.dataset, root=args.root).summary())


def cmd_train(args: argparse.Namespace) -> None:
    profile = get_profile(args.profile)
    dataset_name = args.dataset or DEFAULT_DATASET[profile]
    device = default_device(args.device)
    start = time.perf_counter()
    split = make_split(load_dataset(dataset_name, root=args.root), args.protocol, seed=args.seed)
    overrides = {"epochs": args.epochs} if args.epochs else {}
    model, result = train_backbone(args.model, split, profile, args.seed, str(device), progress=False, **overrides)
    metrics = evaluate(model, split, "test")
    _emit({"model": args.model, "dataset": dataset_name, "protocol": split.protocol, "profile": profile,
           "seed": args.seed, "device": str(device), "metrics": metrics, "best_epoch": result.best_epoch,
           "epochs_run": int(result.history["epoch"].max()), "train_seconds": result.train_seconds,
           "seconds": time.perf_counter() - start})


def cmd_bench(args: argparse.Namespace) -> None:
    from .bench import run_benchmark

    for row in run_benchmark(args.datasets, args.models, args.device, args.epochs, root=args.root):
        _emit(row)


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def cmd_unlearn(args: argparse.Namespace) -> None:
    from .forget import ForgetRequest
    from .unlearning import make_method, unlearning_experiment

    profile = get_profile(args.profile)
    dataset_name = args.dataset or DEFAULT_DATASET[profile]
    device = default_device(args.device)
    split = make_split(load_dataset(dataset_name, root=args.root), args.protocol, seed=args.seed)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("emb_dim", args.emb_dim)) if v}
    kwargs: dict = {"profile": profile, "seed": args.seed, "device": str(device), **overrides}
    if args.method != "retrain":
        sharding = {"partition_epochs": args.epochs, "agg_epochs": args.epochs} if args.epochs else {}
        kwargs.update(num_shards=args.shards, sharding=sharding)
        kwargs.update({k: v for k, v in (("partition", args.partition), ("aggregation", args.aggregation)) if v})
    method = make_method(args.method, args.model, **kwargs)
    if args.forget_count:
        request = ForgetRequest.random(split.train, count=args.forget_count, seed=args.seed)
    else:
        request = ForgetRequest.random(split.train, args.forget_ratio, seed=args.seed)
    out = unlearning_experiment(method, split, request, args.mode)
    extra = {"num_shards": method.num_shards, "partition": method.partition_method,
             "aggregation": method.aggregation} if args.method != "retrain" else {}
    out["forget"].update({"ratio": None if args.forget_count else args.forget_ratio})
    _emit({"method": out.pop("method"), "model": args.model, "dataset": dataset_name, "protocol": split.protocol,
           "profile": profile, "seed": args.seed, **extra, **out})


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on standard error (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m rec_unlearn_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    root_help = "data root holding <root>/<dataset>/ (default: $REC_UNLEARN_DATA, then the download cache)"

    data = sub.add_parser("data", help="load a data set and print its sizes")
    data.add_argument("dataset", choices=sorted(LOADERS), metavar="DATASET", help=", ".join(sorted(LOADERS)))
    data.add_argument("--root", help=root_help)
    data.set_defaults(func=cmd_data)

    train = sub.add_parser("train", help="train a backbone and print its test metrics")
    train.add_argument("--dataset", choices=sorted(LOADERS), help="default: ml-100k (quick) / receraser-ml-1m (full)")
    train.add_argument("--model", choices=MODELS, required=True)
    train.add_argument("--profile", choices=PROFILES, default=None, help="default: $REC_UNLEARN_PROFILE or quick")
    train.add_argument("--protocol", choices=PROTOCOLS, default="ranking")
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument("--epochs", type=_positive_int, default=None, help="override the profile's maximum epochs")
    train.add_argument("--device", choices=("cpu", "cuda"), default=None)
    train.add_argument("--root", help=root_help)
    train.set_defaults(func=cmd_train)

    bench = sub.add_parser("bench", help="seconds per training epoch and per full-ranking evaluation")
    bench.add_argument("--datasets", nargs="+", default=["ml-100k", "receraser-ml-1m"], choices=sorted(LOADERS))
    bench.add_argument("--models", nargs="+", default=[m for m in MODELS if m != "pop"], choices=MODELS)
    bench.add_argument("--epochs", type=_positive_int, default=3, help="timed epochs per model (median reported)")
    bench.add_argument("--device", choices=("cpu", "cuda"), default=None)
    bench.add_argument("--root", help=root_help)
    bench.set_defaults(func=cmd_bench)

    unlearn = sub.add_parser("unlearn", help="fit an unlearning method, forget a random sample, compare with Retrain")
    unlearn.add_argument("--dataset", choices=sorted(LOADERS), help="default: ml-100k (quick) / receraser-ml-1m (full)")
    unlearn.add_argument("--model", choices=[m for m in MODELS if m != "pop"], required=True)
    unlearn.add_argument("--method", choices=("retrain", "sisa", "receraser"), required=True)
    amount = unlearn.add_mutually_exclusive_group()
    amount.add_argument("--forget-ratio", type=_ratio, default=0.001, help="fraction of training rows to forget")
    amount.add_argument("--forget-count", type=_positive_int, default=None, help="number of training rows to forget")
    unlearn.add_argument("--mode", choices=("batch", "sequential"), default="batch",
                         help="batch: one request (IFRU); sequential: one interaction at a time (RecEraser Table 4)")
    unlearn.add_argument("--shards", type=_positive_int, default=None, help="sharded methods: K (default: profile's)")
    unlearn.add_argument("--partition", choices=("random", "ubp", "ibp", "inbp"), default=None,
                         help="sharded methods (default: random for sisa, inbp for receraser)")
    unlearn.add_argument("--aggregation", choices=("mean", "static", "attention"), default=None,
                         help="sharded methods (default: mean for sisa, attention for receraser)")
    unlearn.add_argument("--profile", choices=PROFILES, default=None, help="default: $REC_UNLEARN_PROFILE or quick")
    unlearn.add_argument("--protocol", choices=PROTOCOLS, default="ranking")
    unlearn.add_argument("--seed", type=_seed, default=0)
    unlearn.add_argument("--epochs", type=_positive_int, default=None, help="override every maximum epoch count")
    unlearn.add_argument("--emb-dim", type=_positive_int, default=None, help="override the embedding size")
    unlearn.add_argument("--device", choices=("cpu", "cuda"), default=None)
    unlearn.add_argument("--root", help=root_help)
    unlearn.set_defaults(func=cmd_unlearn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, KeyError, MalformedDataError) as err:
        message = str(err).replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0
