"""rec_unlearn_lib: the helper library of the recommendation-unlearning book.

Modules, each named for what it holds:

- :mod:`~rec_unlearn_lib.registry` named choices (one :class:`~rec_unlearn_lib.registry.Registry` per kind);
- :mod:`~rec_unlearn_lib.config` seeds, devices and deterministic kernels;
- :mod:`~rec_unlearn_lib.settings` profiles (quick/full) and the backbone and sharding settings they fix
  (frozen dataclasses), resolved once per run into a ``Runtime``;
- :mod:`~rec_unlearn_lib.timing` the one device-synchronised timer;
- :mod:`~rec_unlearn_lib.sources` where data sets live (data root, download cache, checksums);
- :mod:`~rec_unlearn_lib.data` parsers of the public layouts into dense-id :class:`Dataset`;
- :mod:`~rec_unlearn_lib.interactions` the :class:`Interactions` container;
- :mod:`~rec_unlearn_lib.splits` the three evaluation protocols' splits;
- :mod:`~rec_unlearn_lib.sampling` seeded, re-materialisable negative sampling;
- :mod:`~rec_unlearn_lib.synthetic` a seeded synthetic data set for tests;
- :mod:`~rec_unlearn_lib.forget` forget requests (random, by user, IFRU's attack);
- :mod:`~rec_unlearn_lib.models` MF, BPR-MF, WMF, LightGCN and popularity behind one interface;
- :mod:`~rec_unlearn_lib.training` the trainer; :mod:`~rec_unlearn_lib.evaluation` and
  :mod:`~rec_unlearn_lib.metrics` the protocols' metrics;
- :mod:`~rec_unlearn_lib.influence` Hessian-vector products, solvers and the influence update;
- :mod:`~rec_unlearn_lib.unlearning` the unlearning interface, Retrain, SISA, RecEraser, SCIF, IFRU and UBPR;
- :mod:`~rec_unlearn_lib.study` the reproducible study: every method on every backbone, one tidy table;
- :mod:`~rec_unlearn_lib.diagnostics` how far forgetting moved a model (PNPR, weight distance, t-SNE maps);
- :mod:`~rec_unlearn_lib.plots` the book's figures; :mod:`~rec_unlearn_lib.notebook` what every
  chapter's first cells share; :mod:`~rec_unlearn_lib.results` result files with their metadata (and the
  committed ones); :mod:`~rec_unlearn_lib.cli` the command line.
"""

__version__ = "0.1.0"  # the one place of the version (pyproject.toml reads it)

import importlib
from types import ModuleType

from . import diagnostics, influence, results, study, unlearning
from .config import default_device, set_seed
from .data import Dataset, MalformedDataError, load_dataset
from .evaluation import evaluate
from .forget import ForgetRequest, ForgetRequestError, attack, attack_series
from .interactions import Interactions
from .models import build_model
from .registry import Registry, UnknownChoiceError
from .settings import (BackboneSettings, Runtime, ShardingSettings, TrainConfig, backbone_settings, get_profile,
                       sharding_settings)
from .sources import DatasetNotFoundError, locate
from .splits import Split, make_split
from .synthetic import synthetic_dataset
from .timing import timed
from .training import EarlyStopping, TrainResult, fit, replay_early_stopping, train_backbone

__all__ = ["BackboneSettings", "Dataset", "DatasetNotFoundError", "EarlyStopping", "ForgetRequest",
           "ForgetRequestError", "Interactions", "MalformedDataError", "Registry", "Runtime", "ShardingSettings",
           "Split", "TrainConfig", "TrainResult", "UnknownChoiceError", "__version__", "attack", "attack_series",
           "backbone_settings", "build_model", "default_device", "diagnostics", "evaluate", "fit", "get_profile",
           "influence", "load_dataset", "locate", "make_split", "notebook", "parallel", "plots",
           "replay_early_stopping", "results", "set_seed", "sharding_settings", "study", "synthetic_dataset", "timed",
           "train_backbone", "unlearning"]


def __getattr__(name: str) -> ModuleType:
    """``rul.plots``, ``rul.notebook`` and ``rul.parallel`` on first use (matplotlib and Ray are imported only
    where they are used)."""
    if name in ("notebook", "plots", "parallel"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
