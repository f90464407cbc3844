"""Trainer and evaluation: early stopping restores the best model; backbones beat popularity."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

from rec_unlearn_lib.evaluation import evaluate
from rec_unlearn_lib.forget import ForgetRequest
from rec_unlearn_lib.models import MF, BPRObjective, Recommender
from rec_unlearn_lib.models.base import Scorer
from rec_unlearn_lib.data import load_dataset
from rec_unlearn_lib.splits import make_split
from rec_unlearn_lib.settings import BackboneSettings, TrainConfig, backbone_settings
from rec_unlearn_lib.training import fit, replay_early_stopping, train_backbone


class TableScorer(Scorer):
    def __init__(self, table: torch.Tensor) -> None:
        self.table = table

    def pairs(self, users, items):
        return self.table[users, items]

    def full(self, users):
        return self.table[users]


class TableModel(Recommender):
    """A fixed score table, for evaluation tests."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__(*table.shape)
        self.table = table

    def scorer(self) -> Scorer:
        return TableScorer(self.table)


def test_ranking_evaluation_masks_training_items(synthetic):
    split = make_split(synthetic, "ranking", seed=0)
    test = torch.as_tensor(split.test.to_csr().toarray())
    train = torch.as_tensor(split.train.concat(split.valid).to_csr().toarray())
    # test items first, then training items above everything: masking must remove the training items
    oracle = TableModel(test + 10 * train)
    metrics = evaluate(oracle, split, "test", ks=(50,))
    assert metrics["recall@50"] > 0.99 and metrics["ndcg@50"] > 0.99
    anti = TableModel(-test)
    assert evaluate(anti, split, "test", ks=(5,))["recall@5"] < 0.05


def test_sampled_and_labelled_evaluation(synthetic):
    sampled = make_split(synthetic, "sampled", seed=0, num_negatives=10)
    table = torch.zeros(synthetic.num_users, synthetic.num_items)
    table[sampled.test.users, sampled.test.items] = 1.0
    assert evaluate(TableModel(table), sampled, "test", ks=(1,))["hr@1"] == 1.0
    assert evaluate(TableModel(torch.zeros_like(table)), sampled, "test", ks=(10,))["hr@10"] == 0.0  # ties pessimistic

    labelled = make_split(synthetic, "labelled", seed=0)
    table = torch.zeros(synthetic.num_users, synthetic.num_items)
    table[labelled.test.users, labelled.test.items] = torch.as_tensor(labelled.test.labels)
    assert evaluate(TableModel(table), labelled, "test") == {"auc": 1.0}
    request = ForgetRequest.random(labelled.train, 0.1, seed=0)
    aucs = evaluate(TableModel(table), labelled, "test", request=request)
    assert set(aucs) == {"auc0", "auc1", "auc2"} and aucs["auc0"] == 1.0


def test_fit_restores_best_epoch_and_is_deterministic(synthetic):
    split = make_split(synthetic, "ranking", seed=0)
    config = TrainConfig(epochs=12, lr=0.05, patience=2, seed=5, progress=False)

    def run():
        torch.manual_seed(5)
        model = MF(split.num_users, split.num_items, 8, BPRObjective(reg=1e-4))
        return model, fit(model, split, config)

    model, result = run()
    best = result.history.loc[result.history["epoch"] == result.best_epoch, "recall@20"].item()
    assert evaluate(model, split, "valid")["recall@20"] == pytest.approx(best, abs=1e-12)
    assert best == result.history["recall@20"].max()
    _, again = run()
    assert again.history["loss"].tolist() == result.history["loss"].tolist()


def test_replaying_early_stopping_on_a_history(synthetic):
    scores = pd.Series([0.10, 0.12, 0.11, 0.12, 0.13, 0.09, 0.09, 0.08], index=range(1, 9))
    # hand-traced: patience 1 stops at the first non-improvement (epoch 3); 2 at epoch 4, whose tie does not
    # improve; 3 lives to see epoch 5's 0.13 and stops at epoch 8
    assert [(stop, rule.best_epoch) for stop, rule in (replay_early_stopping(scores, p) for p in (1, 2, 3))] == \
        [(3, 2), (4, 2), (8, 5)]
    stop, rule = replay_early_stopping(scores, 0)                 # 0: never stop
    assert (stop, rule.best_epoch, rule.best_score, rule.stopped) == (8, 5, 0.13, False)
    gaps = scores.where(scores.index % 2 == 0)                     # evaluated every second epoch: 0.12, 0.12, 0.09, 0.08
    assert [replay_early_stopping(gaps, p)[0] for p in (1, 2)] == [4, 6]
    with pytest.raises(ValueError, match="no evaluated epoch"):
        replay_early_stopping(pd.Series([float("nan")] * 3), 2)
    # a recorded run replayed with its own patience stops where fit stopped and keeps the epoch fit kept
    split = make_split(synthetic, "ranking", seed=0)
    torch.manual_seed(1)
    result = fit(MF(split.num_users, split.num_items, 8, BPRObjective(reg=1e-4)), split,
                 TrainConfig(epochs=60, lr=0.05, patience=2, eval_every=2, seed=1, progress=False))
    assert len(result.history) < 60                                  # it did stop early
    stop, rule = replay_early_stopping(result.history.set_index("epoch")["recall@20"], 2)
    assert (stop, rule.best_epoch, rule.best_score) == (result.history["epoch"].max(), result.best_epoch,
                                                         result.best_score)


def test_train_config_defaults_are_the_quick_profile_and_frozen():
    quick = backbone_settings("bpr", "quick")
    config = TrainConfig()
    for name in BackboneSettings.TRAIN_FIELDS:
        assert getattr(config, name) == getattr(quick, name), name
    assert isinstance(config.device, torch.device)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3  # type: ignore[misc]
    assert quick.train_config(seed=4, device="cpu").replace(epochs=2).epochs == 2


def test_bad_train_config():
    with pytest.raises(ValueError, match="unknown optimizer 'sgd-ish'; choose one of adam, adagrad"):
        TrainConfig(optimizer="sgd-ish")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1.0)


@pytest.mark.parametrize("name", ["mf", "bpr", "wmf", "lightgcn"])
def test_every_backbone_beats_popularity_on_synthetic(synthetic, name):
    """The synthetic data hold a personal signal that popularity cannot see (about 0.6 vs 0.42 Recall@20)."""
    split = make_split(synthetic, "ranking", seed=0)
    _, pop = train_backbone("pop", split, "quick", progress=False)
    _, result = train_backbone(name, split, "quick", epochs=40, emb_dim=16, batch_size=256, progress=False)
    assert result.best_score > 1.15 * pop.best_score


@pytest.fixture(scope="module")
def ml100k_split(data_root):
    return make_split(load_dataset("ml-100k", root=data_root), "ranking", seed=0)


@pytest.mark.parametrize("name", ["bpr", "lightgcn"])
def test_quick_profile_beats_popularity_by_half_on_ml100k(ml100k_split, name):
    """Issue 2's bar: full-ranking Recall@20 at least 1.5 x the most-popular baseline's."""
    pop, _ = train_backbone("pop", ml100k_split, "quick", progress=False)
    model, _ = train_backbone(name, ml100k_split, "quick", progress=False)
    baseline = evaluate(pop, ml100k_split, "test")["recall@20"]
    assert evaluate(model, ml100k_split, "test")["recall@20"] >= 1.5 * baseline


def test_cpu_training_runs_with_deterministic_kernels(synthetic):
    """The embedding backward's scatter-add is thread-order dependent unless deterministic kernels are on."""
    seen: list[bool] = []

    class Recording(BPRObjective):
        def loss(self, model, batch):
            seen.append(torch.are_deterministic_algorithms_enabled())
            return super().loss(model, batch)

    split = make_split(synthetic, "ranking", seed=0)
    model = MF(split.num_users, split.num_items, 8, Recording(1e-4))
    before = torch.are_deterministic_algorithms_enabled()
    fit(model, split, TrainConfig(epochs=2, patience=0, progress=False, device="cpu"))
    assert seen and all(seen)
    assert torch.are_deterministic_algorithms_enabled() == before


def test_same_seed_same_parameters_on_ml100k(ml100k_split):
    """Same seed, bit-identical parameters (WMF's embeddings feed the tie-sensitive balanced partitions)."""
    runs = [train_backbone("wmf", ml100k_split, "quick", seed=0, device="cpu", progress=False, epochs=3)[0]
            for _ in range(2)]
    assert torch.equal(runs[0].user_emb, runs[1].user_emb) and torch.equal(runs[0].item_emb, runs[1].item_emb)


def trained_together_and_alone(name: str, split, device: str = "cpu", graphed: bool = False) -> list[tuple]:
    """Three models of backbone ``name`` on three shards of unequal size (so that their epochs hold different
    numbers of batches and they stop at different epochs), trained with :func:`fit_together` and each alone with
    :func:`fit`; per model ``(together, alone)`` as (parameters, result)."""
    from rec_unlearn_lib.settings import make_backbone
    from rec_unlearn_lib.training import fit_together
    settings = backbone_settings(name, "quick").replace(emb_dim=8, epochs=8, patience=1, eval_every=1, batch_size=64)
    rows = torch.randperm(len(split.train), generator=torch.Generator().manual_seed(0)).numpy()
    cuts = [0, len(rows) // 6, len(rows) // 2, len(rows)]
    trains = [split.train.subset(rows[a:b]) for a, b in zip(cuts, cuts[1:])]
    configs = [settings.train_config(seed, device, progress=False).replace(cuda_graph=graphed) for seed in (3, 4, 5)]
    fresh = [make_backbone(name, split.num_users, split.num_items, settings, seed) for seed in (3, 4, 5)]
    together = fit_together(fresh, split, configs, trains)
    pairs = []
    for model, result, config, train, seed in zip(fresh, together, configs, trains, (3, 4, 5)):
        alone = make_backbone(name, split.num_users, split.num_items, settings, seed)
        result_alone = fit(alone, split, config, train)     # first: moving to a GPU replaces the parameter tensors
        pairs.append(((model.state_dict(), result), (alone.state_dict(), result_alone)))
    return pairs


@pytest.mark.parametrize("name", ["bpr", "mf", "wmf", "lightgcn"])
def test_models_trained_together_equal_models_trained_alone(synthetic, name):
    split = make_split(synthetic, "ranking", seed=0)
    pairs = trained_together_and_alone(name, split)
    for (state, result), (state_alone, result_alone) in pairs:
        assert state.keys() == state_alone.keys()
        assert all(torch.equal(state[k], state_alone[k]) for k in state), name      # bit for bit on the CPU
        assert result.best_epoch == result_alone.best_epoch
        columns = [c for c in result_alone.history.columns if c != "seconds"]
        pd.testing.assert_frame_equal(result.history[columns], result_alone.history[columns])
    assert len({len(result.history) for (_, result), _ in pairs}) > 1 or name == "wmf", \
        "the models should stop at different epochs (the test's point)"


def test_fit_together_refuses_mismatched_inputs(synthetic):
    from rec_unlearn_lib.training import Ensemble, fit_together
    split = make_split(synthetic, "ranking", seed=0)
    models = [MF(split.num_users, split.num_items, 4, BPRObjective()) for _ in range(2)]
    with pytest.raises(ValueError, match="one configuration and one training set per model"):
        fit_together(models, split, [TrainConfig()], [split.train, split.train])
    with pytest.raises(ValueError, match="share the device, the epochs"):
        fit_together(models, split, [TrainConfig(epochs=2), TrainConfig(epochs=3)], [split.train, split.train])
    with pytest.raises(ValueError, match="models with an objective"):
        Ensemble([MF(3, 3, 2, None)])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_models_trained_together_on_a_gpu_equal_models_trained_alone():
    from rec_unlearn_lib.synthetic import synthetic_dataset
    split = make_split(synthetic_dataset(seed=3), "ranking", seed=0)
    for (state, _), (state_alone, _) in trained_together_and_alone("bpr", split, "cuda", graphed=True):
        assert max(float((state[k] - state_alone[k]).abs().max()) for k in state) < 1e-4


def _graph_test_model(name: str, split) -> Recommender:
    """A backbone, or an attention aggregator over random sub-models (``name == "attention"``)."""
    from rec_unlearn_lib.models import make_objective
    from rec_unlearn_lib.settings import make_backbone
    from rec_unlearn_lib.unlearning import make_aggregator
    if name != "attention":
        return make_backbone(name, split.num_users, split.num_items,
                             backbone_settings(name, "quick").replace(emb_dim=16), 0)
    generator = torch.Generator().manual_seed(0)
    reps = [torch.randn(3, n, 16, generator=generator) for n in (split.num_users, split.num_items)]
    seen = [torch.rand(3, n, generator=generator) > 0.3 for n in (split.num_users, split.num_items)]
    return make_aggregator("attention", *reps, *seen, make_objective("bpr"), 1e-5, 8, generator)


def cuda_graph_matches_eager(name: str, epochs: int = 2, compiled: bool = False) -> float:
    """Train ``name`` (a backbone or ``attention``) on the GPU with steps replayed from a CUDA graph (with the
    loss compiled, if ``compiled``) and launched eagerly, from the same initialisation and batches; returns the
    largest parameter difference."""
    from rec_unlearn_lib.synthetic import synthetic_dataset
    from rec_unlearn_lib.training import make_step, train_epoch
    split = make_split(synthetic_dataset(seed=3), "ranking", seed=0)
    params = []
    for graphed in (True, False):
        model = _graph_test_model(name, split).to("cuda")
        model.fit_data(split.train)
        config = TrainConfig(batch_size=256, lr=1e-2, seed=0, device="cuda", cuda_graph=graphed,
                             compile=compiled and graphed)
        step = make_step(model, config)
        assert step.graphed == graphed and step.compiled == (compiled and graphed)
        for epoch in range(epochs):
            train_epoch(model, step, split.train, config, epoch)
        assert step.captured == graphed   # the graph was captured and replayed
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return float((params[0] - params[1]).abs().max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("name", ["mf", "bpr", "lightgcn", "attention"])
def test_cuda_graph_steps_equal_eager_steps(name):
    assert cuda_graph_matches_eager(name) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("name", ["bpr", "mf"])
def test_compiled_graph_steps_equal_eager_steps(name):
    assert cuda_graph_matches_eager(name, compiled=True) < 1e-4


def test_train_step_is_eager_on_the_cpu(synthetic):
    from rec_unlearn_lib.training import TrainStep, make_step
    split = make_split(synthetic, "ranking", seed=0)
    model = MF(split.num_users, split.num_items, 4, BPRObjective())
    config = TrainConfig(device="cpu", cuda_graph=True, compile=True)
    assert not config.graphed and not config.compiled and make_step(MF(3, 3, 2, BPRObjective()), config).compiled is False
    assert not config.make_optimizer(model.parameters()).defaults.get("capturable")
    assert make_step(model, config).graphed is False
    with pytest.raises(ValueError, match="CUDA graphs need a CUDA device"):
        TrainStep(model, config.make_optimizer(model.parameters()), graphed=True)


def test_cuda_graph_switch_reads_the_environment(monkeypatch):
    monkeypatch.setenv("REC_UNLEARN_CUDA_GRAPH", "0")
    assert TrainConfig(device="cpu").cuda_graph is False
    monkeypatch.delenv("REC_UNLEARN_CUDA_GRAPH")
    assert TrainConfig(device="cpu").cuda_graph is True
