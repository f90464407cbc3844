"""Registries: one per kind of choice, dispatching, feeding the command line, wording the errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest
import torch

import rec_unlearn_lib as rul
from rec_unlearn_lib.cli import build_parser, main
from rec_unlearn_lib.config import check_seed, default_device
from rec_unlearn_lib.models import MODELS, OBJECTIVES, build_model, make_objective
from rec_unlearn_lib.registry import Registry, UnknownChoiceError, all_registries
from rec_unlearn_lib.data import PARSERS
from rec_unlearn_lib.settings import (PROFILES, BackboneSettings, Profile, ShardingSettings, backbone_settings,
                                      sharding_settings)
from rec_unlearn_lib.sources import SOURCES
from rec_unlearn_lib.unlearning import METHODS, make_method

KINDS = {"model", "objective", "unlearning method", "partition", "aggregation", "mode", "protocol", "solver",
         "profile", "device", "optimizer", "data set"}


def test_every_kind_of_choice_has_a_registry() -> None:
    assert KINDS <= {r.kind for r in all_registries()}


def test_registry_mapping_and_errors() -> None:
    reg: Registry[int] = Registry("colour", listed=False)
    reg.add("red", 1, "warm")

    @reg.register("blue", "cold")
    def blue() -> int:
        return 2

    assert list(reg) == ["red", "blue"] and len(reg) == 2 and "red" in reg and "green" not in reg
    assert reg["red"] == 1 and reg["blue"] is blue and reg.help("blue") == "cold"
    assert reg.describe() == "red: warm; blue: cold"
    with pytest.raises(UnknownChoiceError, match=r"unknown colour 'green'; choose one of red, blue"):
        reg["green"]
    with pytest.raises(ValueError, match="registered already"):
        reg.add("red", 3)
    assert reg.subset(["blue"]).names() == ("blue",) and reg.subset(["blue"]) not in all_registries()


@pytest.mark.parametrize("registry", all_registries(), ids=lambda r: r.kind)
def test_every_registry_refuses_an_unknown_name_with_its_entries(registry: Registry) -> None:
    assert len(registry) > 0
    with pytest.raises(UnknownChoiceError) as err:
        registry["no-such-entry"]
    assert f"unknown {registry.kind} 'no-such-entry'" in str(err.value)
    assert all(name in str(err.value) for name in registry)


def test_registries_dispatch() -> None:
    for name in MODELS:
        model = build_model(name, 5, 7, emb_dim=3)
        assert (model.objective is None) == (MODELS[name].objective is None)
    for name in OBJECTIVES:
        assert make_objective(name).name == name
    for name in METHODS:
        method = make_method(name, "bpr", profile="quick", device="cpu")
        assert method.name == name and type(method) is METHODS[name]


def test_a_profile_is_one_entry() -> None:
    for name, profile in PROFILES.items():
        assert set(profile.overrides) <= set(MODELS)
        for model in MODELS:
            assert backbone_settings(model, name).epochs >= 1
    assert backbone_settings("bpr", " Full ").epochs == PROFILES["full"].backbone.epochs
    quick = PROFILES["quick"]
    tiny = Profile("ml-100k", quick.backbone.replace(epochs=2), {"wmf": {"lr": 0.5}}, quick.sharding.replace(rounds=2))
    with PROFILES.temporary("tiny", tiny):
        assert backbone_settings("bpr", "tiny").epochs == 2 and backbone_settings("wmf", "tiny").lr == 0.5
        assert sharding_settings("tiny").rounds == 2
    with pytest.raises(UnknownChoiceError, match=r"unknown profile 'tiny'.*REC_UNLEARN_PROFILE"):
        backbone_settings("bpr", "tiny")
    with pytest.raises(ValueError, match="unknown backbone setting"):
        backbone_settings("bpr", "quick").replace(epochz=3)


def _registry_options() -> list[tuple[str, argparse.Action, list[str]]]:
    """Every (subcommand, option, argv that is valid but for the option) whose choices are a registry."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    required = {"train": ["--model", "bpr"], "unlearn": ["--model", "bpr", "--method", "retrain"], "bench": [], "tables": [],
                "data": ["ml-100k"], "study": ["--out", "study-out"]}
    found = []
    for command, sub in subparsers.choices.items():
        for action in sub._actions:
            if isinstance(action.choices, Registry):
                found.append((command, action, required[command]))
    return found


def test_cli_options_come_from_the_registries() -> None:
    kinds = {action.choices.kind for _, action, _ in _registry_options()}
    assert {"model", "objective", "unlearning method", "partition", "aggregation", "mode", "protocol", "profile",
            "device", "data set", "engine"} <= kinds


def _argv(command: str, base: list[str], action: argparse.Action, value: str) -> list[str]:
    """``base`` with ``action`` set to ``value`` (replacing the value ``base`` gives it, if any)."""
    if not action.option_strings:
        return [command, value]
    flag, rest = action.option_strings[0], list(base)
    if flag in rest:
        i = rest.index(flag)
        del rest[i:i + 2]
    return [command, *rest, flag, value]


@pytest.mark.parametrize("command, action, base", _registry_options(),
                         ids=lambda v: v if isinstance(v, str) else getattr(v, "dest", ""))
def test_cli_accepts_every_registered_name_and_refuses_others(command, action, base, capsys) -> None:
    parser = build_parser()
    for name in action.choices:
        value = getattr(parser.parse_args(_argv(command, base, action, name)), action.dest)
        assert value in (name, [name])
    with pytest.raises(SystemExit) as exit_:
        main(_argv(command, base, action, "no-such-entry"))
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert f"unknown {action.choices.kind} 'no-such-entry'; choose one of {', '.join(action.choices)}" in lines[0]


def test_help_lists_the_registries() -> None:
    out = subprocess.run([sys.executable, "-m", "rec_unlearn_lib", "unlearn", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0
    for registry in (METHODS, rul.unlearning.PARTITIONS, rul.unlearning.AGGREGATIONS, rul.unlearning.MODES):
        for name in registry:
            assert name in out.stdout
    top = subprocess.run([sys.executable, "-m", "rec_unlearn_lib", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert top.returncode == 0 and all(c in top.stdout for c in ("data", "train", "bench", "unlearn"))


def test_devices_and_seeds_are_checked() -> None:
    assert default_device("cpu") == torch.device("cpu")
    with pytest.raises(UnknownChoiceError, match="unknown device 'mps'; choose one of cpu, cuda"):
        default_device("mps")
    for bad in (-1, True, "3", 1.5):
        with pytest.raises(ValueError, match="non-negative integer"):
            check_seed(bad)
    assert check_seed(np.int64(4)) == 4


def test_every_data_set_has_a_parser_and_settings_are_checked_when_made() -> None:
    assert set(PARSERS) == set(SOURCES)
    with pytest.raises(UnknownChoiceError, match="unknown objective 'zzz'"):
        BackboneSettings(objective="zzz")
    with pytest.raises(ValueError, match="emb_dim >= 1"):
        BackboneSettings(emb_dim=0)
    with pytest.raises(ValueError, match="rounds >= 1"):
        ShardingSettings(rounds=0)
    with pytest.raises(UnknownChoiceError, match="unknown trained backbone 'pop'"):
        ShardingSettings(partition_backbone="pop")
