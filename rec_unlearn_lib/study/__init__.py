"""The reproducible study: every registered method on every backbone it applies to, one tidy table.

* :mod:`.grid`: the forget settings (:data:`FORGET_SETTINGS`), the configuration (:class:`StudyConfig`),
  its cells and the groups of cells that share fitted models;
* :mod:`.measures`: beyond the papers' metrics: the forgotten items' ranks, a membership-inference
  test, and the influence update against exact re-optimisation;
* :mod:`.runner`: :func:`run_study` (resumable, atomic writes, ``local`` or ``ray`` engine), what
  ``python -m rec_unlearn_lib study`` runs;
* :mod:`.summary`: the benchmark chapter's tables: gaps to Retrain in units of its seed spread;
* :mod:`.papers`: the papers' published numbers beside the study's (ratios that carry across data sets).
"""

from .grid import (FORGET_SETTINGS, FULL_FORGET, LABELLED_OBJECTIVES, QUICK_FORGET, Cell, ForgetSetting, Group,
                   StudyConfig, backbone_objective, cell_unsupported, cells, groups, method_options)
from .measures import forgetting_measures, pair_ranks, update_fidelity
from .runner import COLUMNS, ENGINES, KEY, TABLE, StudyConfigError, order_columns, run_group, run_study, study_config
from .papers import paper_comparison
from .summary import best_per_request, compared_seconds, fidelity_table, growth_table, noise_floor, speed_table, summary_table

__all__ = ["COLUMNS", "Cell", "best_per_request", "compared_seconds", "paper_comparison", "fidelity_table", "summary_table", "ENGINES",
           "FORGET_SETTINGS", "FULL_FORGET", "ForgetSetting", "Group", "KEY", "LABELLED_OBJECTIVES", "backbone_objective",
           "QUICK_FORGET", "StudyConfig", "StudyConfigError", "TABLE", "cell_unsupported", "cells",
           "forgetting_measures", "groups", "growth_table", "method_options", "noise_floor", "order_columns", "pair_ranks",
           "run_group", "run_study", "speed_table", "study_config", "update_fidelity"]
