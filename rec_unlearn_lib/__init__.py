"""rec_unlearn_lib: the helper library of the recommendation-unlearning book.

Modules, each named for what it holds:

- :mod:`~rec_unlearn_lib.config` profiles (quick/full), seeds, devices, backbone settings;
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
- :mod:`~rec_unlearn_lib.unlearning` the unlearning interface, Retrain, SISA and RecEraser;
- :mod:`~rec_unlearn_lib.plots` the book's figures; :mod:`~rec_unlearn_lib.cli` the command line.
"""

from . import influence, unlearning
from .config import backbone_settings, default_device, get_profile, set_seed
from .data import Dataset, MalformedDataError, load_dataset
from .evaluation import evaluate
from .forget import ForgetRequest, ForgetRequestError, attack
from .interactions import Interactions
from .models import build_model
from .sources import DatasetNotFoundError, locate
from .splits import Split, make_split
from .synthetic import synthetic_dataset
from .training import TrainConfig, TrainResult, fit, train_backbone

__version__ = "0.1.0"

__all__ = ["Dataset", "DatasetNotFoundError", "ForgetRequest", "ForgetRequestError", "Interactions",
           "MalformedDataError", "Split", "TrainConfig", "TrainResult", "__version__", "attack",
           "backbone_settings", "build_model", "default_device", "evaluate", "fit", "get_profile", "influence",
           "load_dataset", "locate", "make_split", "set_seed", "synthetic_dataset", "train_backbone", "unlearning"]
