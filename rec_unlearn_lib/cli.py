"""Command line of the study: ``python -m rec_unlearn_lib {data,train,bench,tables,unlearn,study} ...``.

Every command prints JSON on standard output (one object per line) and, on bad input
(unknown data set or model, missing data, bad numbers), one line ``error: ...`` on
standard error with exit status 2. Every choice (data set, model, objective, method,
partition, aggregation, mode, protocol, profile, device) is read from its registry, so a
newly registered entry is accepted, listed in ``--help`` and named in the error message.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

import pandas as pd

from .bench import benchmark_devices, run_benchmark, side_by_side
from .config import DEVICES, check_seed
from .data import MalformedDataError, load_dataset
from .evaluation import evaluate
from .forget import REQUESTS
from .influence import PRUNINGS, SOLVERS, SPILLOVER_SETS, SolverDidNotConverge
from .models import MODELS, OBJECTIVES, SAMPLINGS, make_objective, trainable_models
from .registry import Registry, UnknownChoiceError
from .results import current_commit, run_metadata, save_table
from .settings import PROFILES, Runtime, backbone_settings, default_dataset, sharding_settings
from .sources import SOURCES
from .splits import PROTOCOLS, make_split
from .study import ENGINES, FORGET_SETTINGS, run_study, study_config
from .timing import Stopwatch, timed
from .training import train_backbone
from .unlearning import AGGREGATIONS, CURVATURES, METHODS, MODES, PARTITIONS, TABLE3_METHODS, pretrained_embeddings, \
    sharded_reproduction, sharding_caps, unlearning_experiment

TOGETHER_HELP = ("sharded methods: train the sub-models side by side, one optimisation step for all of them "
                 "(the same sub-models as one after another)")
ROOT_HELP = "data root holding <root>/<dataset>/ (default: $REC_UNLEARN_DATA, then the download cache)"
METHOD_OPTIONS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "num_shards": ("shards", int), "partition": ("partition", str), "aggregation": ("aggregation", str),
    "ratios": ("ratios", tuple), "solver": ("solver", str), "solver_options": ("damping", lambda d: {"damping": d}),
    "relative_damping": ("relative_damping", float), "curvature": ("curvature", str), "pruning": ("pruning", str),
    "spillover_set": ("spillover_set", str), "select_on_validation": ("select_on_validation", bool),
}
"""Method-specific options: constructor keyword (see ``UnlearningMethod.options``) -> (argparse dest, conversion)."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        return check_seed(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1), got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {text}")
    return value


def _registry_type(registry: Registry, normalise: Callable[[str], str] = str) -> Callable[[str], str]:
    """An argparse ``type`` that accepts the registry's names (after ``normalise``) and words the error as the
    registry does."""
    def parse(text: str) -> str:
        try:
            return registry.check(normalise(text))
        except UnknownChoiceError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    parse.__name__ = registry.kind
    return parse


def _choice(parser: argparse.ArgumentParser, flag: str, registry: Registry, help: str = "",
            normalise: Callable[[str], str] = str, **kwargs: Any) -> None:
    """Add an option (or, for a ``flag`` without dashes, a positional) whose value is a name of ``registry``;
    its help lists every entry's help line."""
    text = f"{help} ({registry.describe()})" if help else registry.describe()
    parser.add_argument(flag, type=_registry_type(registry, normalise), choices=registry,
                        help=text.replace("%", "%%"), **kwargs)


def _emit(obj: dict) -> None:
    print(json.dumps(obj, default=float), flush=True)


def cmd_data(args: argparse.Namespace) -> None:
    _emit(load_dataset(args.dataset, root=args.root).summary())


def _split_options(args: argparse.Namespace) -> dict[str, Any]:
    """The split options given on the command line (``--threshold``, ``--k-core``)."""
    return {"threshold": args.threshold, "k_core": args.k_core}


def _backbone_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The backbone settings given on the command line (``--epochs``, ``--emb-dim``, ``--objective``,
    ``--sampling``, ``--patience``)."""
    return {key: getattr(args, key) for key in ("epochs", "emb_dim", "objective", "sampling", "patience")
            if getattr(args, key, None) is not None}


def _check_sampling(models: Sequence[str], profile: str, sampling: str | None) -> None:
    """Refuse at the start, not after the first backbone's runs, a sampler that a backbone's objective lacks."""
    for model in models if sampling else ():
        settings = backbone_settings(model, profile)
        make_objective(settings.objective or str(MODELS[model].objective), settings.reg, settings.num_negatives,
                       settings.c0, sampling)


def cmd_train(args: argparse.Namespace) -> None:
    runtime = Runtime.resolve(args.profile, args.seed, args.device)
    dataset_name = args.dataset or default_dataset(runtime.profile)
    with timed(runtime.device) as clock:
        split = make_split(load_dataset(dataset_name, root=args.root), args.protocol, seed=runtime.seed,
                       **_split_options(args))
        model, result = train_backbone(args.model, split, runtime.profile, runtime.seed, runtime.device,
                                       progress=False, **_backbone_overrides(args))
        metrics = evaluate(model, split, "test")
    _emit({"model": args.model, "dataset": dataset_name, "protocol": split.protocol, "profile": runtime.profile,
           "seed": runtime.seed, "device": str(runtime.device), "metrics": metrics, "best_epoch": result.best_epoch,
           "epochs_run": int(result.history["epoch"].max()), "train_seconds": result.train_seconds,
           "seconds": clock.seconds})


def cmd_bench(args: argparse.Namespace) -> None:
    rows = []
    with timed("cpu") as clock:
        for row in run_benchmark(args.datasets, args.models, args.devices, args.profile, args.epochs, root=args.root,
                                 compile=args.compile):
            _emit(row)
            rows.append(row)
    frame = pd.DataFrame(rows)
    print(side_by_side(frame).to_string(float_format="{:.3f}".format), file=sys.stderr)
    if args.out:
        devices = [d for d in args.devices if d != "cpu"] or ["cpu"]
        save_table(frame, args.out, run_metadata(devices[0], 0, wall_seconds=round(clock.seconds, 1),
                                                 profile=args.profile, epochs=args.epochs))


def cmd_tables(args: argparse.Namespace) -> None:
    runtime = Runtime.resolve(args.profile, args.seed, args.device)
    _check_sampling(args.models, runtime.profile, args.sampling)
    dataset_name = args.dataset or default_dataset(runtime.profile)
    split = make_split(load_dataset(dataset_name, root=args.root), args.protocol, seed=runtime.seed,
                       **_split_options(args))
    rows: list[dict[str, Any]] = []
    watch = Stopwatch("cpu")

    def add(row: dict[str, Any]) -> None:
        rows.append({"dataset": dataset_name, "profile": runtime.profile, **row})
        _emit(rows[-1])
        if args.out:   # rewritten whole after every row: a run cut short keeps what it finished
            save_table(pd.DataFrame(rows), args.out,
                       run_metadata(runtime.device, runtime.seed, wall_seconds=round(watch.elapsed(), 1),
                                    profile=runtime.profile, dataset=dataset_name, deletions=args.deletions))

    embeddings = None
    if len(args.models) > 1 and any(_balanced(name, runtime.profile) for name in args.methods):
        settings = sharding_settings(runtime.profile)
        extra = {} if args.epochs is None else {"epochs": args.epochs}
        with timed(runtime.device) as clock:    # the same partition for every backbone: trained once
            embeddings = pretrained_embeddings(split, None, settings.partition_backbone, runtime.profile,
                                               runtime.seed, runtime.device, **extra)
        add({"backbone": settings.partition_backbone, "method": "partition embeddings", "device": str(runtime.device),
             "seed": runtime.seed, "table": "fit", "metric": "seconds", "value": clock.seconds})
    overrides = {key: value for key, value in _backbone_overrides(args).items() if key != "epochs"}
    for model in args.models:
        for row in sharded_reproduction(model, split, args.methods, args.deletions, runtime.profile,
                                        runtime.seed, str(runtime.device), args.budget_seconds, args.epochs,
                                        embeddings, _sharding(args), args.aggregations, overrides):
            add(row)


def _balanced(method: str, profile: str) -> bool:
    """Whether ``method`` partitions on pre-trained embeddings (RecEraser; not SISA or Retrain)."""
    return getattr(METHODS[method]("bpr", profile=profile), "partition_method", "random") != "random"


def _method_options(args: argparse.Namespace) -> dict[str, Any]:
    """The method-specific keyword arguments the user gave, checked against the method's ``options``."""
    options = METHODS[args.method].options
    given = {name: convert(getattr(args, dest)) for name, (dest, convert) in METHOD_OPTIONS.items()
             if getattr(args, dest) is not None}
    refused = ["--" + METHOD_OPTIONS[name][0].replace("_", "-") for name in given if name not in options]
    if "sharding" not in options:
        refused += [f"--{name.replace('_', '-')}" for name in _sharding(args)]
    if refused:
        verb = "does" if len(refused) == 1 else "do"
        raise ValueError(f"{', '.join(refused)} {verb} not apply to the method {args.method!r}")
    # --epochs caps every training run of the method; --together trains the sub-models side by side
    sharding = {**sharding_caps(args.method, args.epochs).get("sharding", {}), **_sharding(args)}
    return {**given, **({"sharding": sharding} if sharding else {})}


def _sharding(args: argparse.Namespace) -> dict[str, Any]:
    """The sharded methods' settings the user gave: ``together``, ``agg_patience``."""
    return {**({"together": True} if args.together else {}),
            **({} if args.agg_patience is None else {"agg_patience": args.agg_patience})}


def cmd_unlearn(args: argparse.Namespace) -> None:
    runtime = Runtime.resolve(args.profile, args.seed, args.device)
    _check_sampling([args.model], runtime.profile, args.sampling)
    method = METHODS[args.method](args.model, profile=runtime.profile, seed=runtime.seed, device=runtime.device,
                                  **_method_options(args), **_backbone_overrides(args))
    dataset_name = args.dataset or default_dataset(runtime.profile)
    split = make_split(load_dataset(dataset_name, root=args.root), args.protocol, seed=runtime.seed,
                       **_split_options(args))
    ratio = None if args.forget_count else args.forget_ratio
    train, request = REQUESTS[args.forget_mode](split.train, ratio, args.forget_count, runtime.seed)
    summary = unlearning_experiment(method, split, request, args.mode, train).summary()
    summary["forget"].update({"ratio": ratio, "kind": args.forget_mode})
    _emit({"method": summary.pop("method"), "model": args.model, "dataset": dataset_name,
           "protocol": split.protocol, "profile": runtime.profile, "seed": runtime.seed, **summary})


def _forget_pair(text: str) -> tuple[str, float]:
    """``SETTING:RATIO`` (e.g. ``random:0.01``) as a pair, the setting checked against :data:`FORGET_SETTINGS`."""
    setting, sep, ratio = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected SETTING:RATIO (e.g. random:0.01), got {text!r}")
    try:
        return FORGET_SETTINGS.check(setting.strip().lower()), _ratio(ratio)
    except UnknownChoiceError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"the ratio of {text!r} is not a number") from None


def cmd_study(args: argparse.Namespace) -> None:
    fields = {key: tuple(getattr(args, key)) for key in ("backbones", "methods", "forget", "seeds")
              if getattr(args, key)}
    if args.retrain_seeds:
        fields["retrain_seeds"] = tuple(args.retrain_seeds)
    elif args.seeds:      # Retrain: the seeds asked for and at least three for its spread
        fields["retrain_seeds"] = tuple(sorted(set(args.seeds) | set(range(3))))
    config = study_config(args.profile, args.dataset, args.device, epochs=args.epochs, reg=args.reg,
                          fidelity=args.fidelity, **fields)
    frame = run_study(config, args.out, root=args.root, engine=args.engine, overwrite=args.overwrite,
                      progress=not args.no_progress, command=" ".join(["python -m rec_unlearn_lib", *args.argv]))
    _emit({"out": args.out, "rows": len(frame), "config": config.as_dict(),
           "converged": float(frame["converged"].mean())})


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on standard error (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}\n")


def _common(parser: argparse.ArgumentParser, dataset: bool = True) -> None:
    """Options shared by the commands that train: data set, profile, seed, device, data root."""
    if dataset:
        defaults = ", ".join(f"{name}: {spec.dataset}" for name, spec in PROFILES.items())
        _choice(parser, "--dataset", SOURCES, f"default by profile, {defaults}")
        _choice(parser, "--protocol", PROTOCOLS, default="ranking")
        parser.add_argument("--threshold", type=_positive_float, default=None,
                            help="labelled protocol: a rating of at least this is a positive (default: the data "
                                 "set's rule, IFRU's on amazon-electronics (5) and bookcrossing (7), else 4)")
        parser.add_argument("--k-core", type=_non_negative_int, default=None,
                            help="keep only users and items with at least this many interactions, repeated until "
                                 "stable, before splitting (default: the data set's rule, IFRU's 5 on "
                                 "amazon-electronics and bookcrossing, else 0, no filter)")
        _choice(parser, "--profile", PROFILES, "default: $REC_UNLEARN_PROFILE or quick",
                normalise=lambda text: text.strip().lower(), default=None)
        parser.add_argument("--seed", type=_seed, default=0)
    _choice(parser, "--device", DEVICES, "default: the GPU when torch sees one", default=None)
    parser.add_argument("--root", help=ROOT_HELP)


def _backbone_options(parser: argparse.ArgumentParser, models: Sequence[str]) -> None:
    _choice(parser, "--model", MODELS if len(models) == len(MODELS) else MODELS.subset(models, "trained backbone"),
            required=True)
    _choice(parser, "--objective", OBJECTIVES, "default: the backbone's own", default=None)
    _training_options(parser)
    parser.add_argument("--epochs", type=_positive_int, default=None, help="override every maximum epoch count")
    parser.add_argument("--emb-dim", type=_positive_int, default=None, help="override the embedding size")


def _training_options(parser: argparse.ArgumentParser) -> None:
    _choice(parser, "--sampling", SAMPLINGS, "how BPR's triplets are drawn (default: the profile's; user-uniform "
            "draws one negative per user, not with the ubpr profile's four)", default=None)
    parser.add_argument("--patience", type=_non_negative_int, default=None,
                        help="override the backbone's early stopping: evaluations without improvement before it "
                             "stops (0: never; sub-models too, not the aggregator; default: the profile's)")


def _sharding_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--together", action="store_true", help=TOGETHER_HELP)
    parser.add_argument("--agg-patience", type=_non_negative_int, default=None,
                        help="sharded methods: the aggregator's early stopping, evaluations without improvement "
                             "before it stops (0: never; default: the profile's, 10 in full and receraser)")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m rec_unlearn_lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    data = sub.add_parser("data", help="load a data set and print its sizes")
    _choice(data, "dataset", SOURCES, metavar="DATASET")
    data.add_argument("--root", help=ROOT_HELP)
    data.set_defaults(func=cmd_data)

    train = sub.add_parser("train", help="train a backbone and print its test metrics")
    _backbone_options(train, MODELS.names())
    _common(train)
    train.set_defaults(func=cmd_train)

    bench = sub.add_parser("bench", help="seconds per training epoch and per full-ranking evaluation")
    _choice(bench, "--datasets", SOURCES, nargs="+", default=["ml-100k", "receraser-ml-1m"])
    _choice(bench, "--models", MODELS, nargs="+", default=list(trainable_models()))
    bench.add_argument("--epochs", type=_positive_int, default=3, help="timed epochs per model (median reported)")
    _choice(bench, "--devices", DEVICES, "default: the GPU and the CPU where there is a GPU, else the CPU",
            nargs="+", default=benchmark_devices())
    _choice(bench, "--profile", PROFILES, "whose settings are timed (default: full, the targets' settings)",
            normalise=lambda text: text.strip().lower(), default="full")
    bench.add_argument("--compile", action="store_true",
                       help="on a GPU, also time each backbone with its loss compiled by torch.compile")
    bench.add_argument("--out", help="also write the rows to this CSV (with a .meta.json beside it)")
    bench.add_argument("--root", help=ROOT_HELP)
    bench.set_defaults(func=cmd_bench)

    tables = sub.add_parser("tables", help="RecEraser's Tables 3 and 4: Retrain, SISA, RecEraser quality and "
                                             "seconds per deletion")
    _choice(tables, "--models", MODELS.subset(trainable_models(), "trained backbone"), nargs="+",
            default=["bpr", "wmf", "lightgcn"])
    _choice(tables, "--methods", METHODS, nargs="+", default=list(TABLE3_METHODS))
    tables.add_argument("--deletions", type=_positive_int, default=100,
                        help="interactions forgotten one at a time (Table 4; default 100, as the paper)")
    tables.add_argument("--budget-seconds", type=_positive_float, default=None,
                        help="per backbone: stop deleting once its run has taken this long (the rows say how "
                             "many deletions were made)")
    tables.add_argument("--epochs", type=_positive_int, default=None, help="cap every training run's epochs")
    _sharding_options(tables)
    _training_options(tables)
    _choice(tables, "--aggregations", AGGREGATIONS, "also score each sharded method's sub-models under these "
            "aggregators (only the aggregator is trained again; rows 'METHOD, NAME')", nargs="+", default=[])
    tables.add_argument("--out", help="write the rows to this CSV (with a .meta.json beside it)")
    _common(tables)
    tables.set_defaults(func=cmd_tables)

    unlearn = sub.add_parser("unlearn", help="fit an unlearning method, forget a random sample, compare with Retrain")
    _backbone_options(unlearn, trainable_models())
    _choice(unlearn, "--method", METHODS, required=True)
    amount = unlearn.add_mutually_exclusive_group()
    amount.add_argument("--forget-ratio", type=_ratio, default=0.001,
                        help="fraction of training rows to forget (--forget-mode users: of the users)")
    amount.add_argument("--forget-count", type=_positive_int, default=None,
                        help="number of training rows to forget (--forget-mode users: of users)")
    _choice(unlearn, "--forget-mode", REQUESTS, default="random")
    _choice(unlearn, "--mode", MODES, default="batch")
    unlearn.add_argument("--shards", type=_positive_int, default=None, help="sharded methods: K (default: profile's)")
    _sharding_options(unlearn)
    _choice(unlearn, "--partition", PARTITIONS, "sharded methods; default: the method's own", default=None)
    _choice(unlearn, "--aggregation", AGGREGATIONS, "sharded methods; default: the method's own", default=None)
    _choice(unlearn, "--solver", SOLVERS, "influence methods; default: cg", default=None)
    unlearn.add_argument("--damping", type=_non_negative, default=None,
                         help="influence methods: mu added to the Hessian (default 0)")
    unlearn.add_argument("--relative-damping", type=_positive_float, default=None,
                         help="influence methods on MF: mu as a multiple of the Hessian's mean diagonal entry "
                              "(UBPR's default: 1)")
    unlearn.add_argument("--curvature", choices=CURVATURES, default=None,
                         help="influence methods: hessian (the papers'), gauss-newton (MF only: positive "
                              "semi-definite, for models stopped away from a minimum) or mf-surrogate (LightGCN: "
                              "IFRU's official code)")
    unlearn.add_argument("--pruning", choices=PRUNINGS, default=None,
                         help="influence methods: how --ratios select rows, algorithm-1 (the paper, default) or "
                              "official (IFRU's code)")
    unlearn.add_argument("--spillover-set", choices=SPILLOVER_SETS, default=None,
                         help="IFRU on LightGCN: the rows of D_c, exact (default) or official (IFRU's code)")
    unlearn.add_argument("--select-on-validation", action="store_const", const=True, default=None,
                         help="influence methods with --solver adam: keep the iterate of best validation metric, "
                              "as IFRU's code does (reads held-out labels at every iteration)")
    unlearn.add_argument("--ratios", type=_unit, nargs="+", default=None,
                         help="influence methods: pruning ratios a_0 .. a_K in (0, 1] (default: the method's own)")
    _common(unlearn)
    unlearn.set_defaults(func=cmd_unlearn)

    study = sub.add_parser("study", help="every method on every backbone it applies to, with Retrain's seed "
                                         "spread: one tidy table (CSV and Parquet), resumable")
    study.add_argument("--out", required=True, help="folder of study.csv, study.parquet and study.csv.meta.json")
    _choice(study, "--dataset", SOURCES, "default by profile", default=None)
    _choice(study, "--profile", PROFILES, "default: $REC_UNLEARN_PROFILE or quick",
            normalise=lambda text: text.strip().lower(), default=None)
    _choice(study, "--backbones", MODELS.subset(trainable_models(), "trained backbone"), "default: all", nargs="+",
            default=None)
    _choice(study, "--methods", METHODS, "default: all", nargs="+", default=None)
    study.add_argument("--forget", type=_forget_pair, nargs="+", default=None, metavar="SETTING:RATIO",
                       help=f"forget settings and ratios, e.g. random:0.01 users:0.01 attack:0.02 (default: the "
                            f"profile's; settings: {FORGET_SETTINGS.describe()})".replace("%", "%%"))
    study.add_argument("--seeds", type=_seed, nargs="+", default=None, help="every method's seeds (default: 0)")
    study.add_argument("--retrain-seeds", type=_seed, nargs="+", default=None,
                       help="Retrain's seeds, the noise floor (default: the seeds and 0, 1, 2)")
    study.add_argument("--epochs", type=_positive_int, default=None, help="cap every training run's epochs")
    study.add_argument("--reg", type=_non_negative, default=None, help="every backbone's L2 weight (default: the "
                                                                      "profile's)")
    study.add_argument("--fidelity", action="store_true",
                       help="also compare the influence updates with exact re-optimisation (full-batch L-BFGS from a "
                            "stationary point: slow, and meaningful only for well-regularised backbones: see --reg)")
    _choice(study, "--engine", ENGINES, default="local")
    study.add_argument("--overwrite", action="store_true",
                       help="replace a study of another configuration in --out instead of refusing")
    study.add_argument("--no-progress", action="store_true", help="no progress bar")
    _choice(study, "--device", DEVICES, "default: the GPU when torch sees one", default=None)
    study.add_argument("--root", help=ROOT_HELP)
    study.set_defaults(func=cmd_study)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    current_commit()      # the code this run loaded, read now: its results' metadata name it
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, KeyError, MalformedDataError, SolverDidNotConverge) as err:
        message = str(err).replace("\n", " ")
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0
