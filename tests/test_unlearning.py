"""The unlearning interface, Retrain, SISA and RecEraser on a tiny synthetic split (seconds, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rec_unlearn_lib.evaluation import evaluate
from rec_unlearn_lib.models import BPRObjective, normalized_adjacency
from rec_unlearn_lib.forget import ForgetRequest, ForgetRequestError
from rec_unlearn_lib.sampling import own_items
from rec_unlearn_lib.settings import Runtime, backbone_settings, make_backbone
from rec_unlearn_lib.splits import make_split, random_split
from rec_unlearn_lib.unlearning import (METHODS, AttentionAggregator, ForgettingReport, GraphAttentionAggregator,
                                        MeanAggregator, RecEraser, Retrain, SISA, ShardedUnlearning, ShardJob,
                                        StaticAggregator, UnlearnResult, make_aggregator, make_method,
                                        measure_forgetting, train_shard)

TINY = {"emb_dim": 8, "epochs": 3, "patience": 0, "batch_size": 512}
SHARDING = {"rounds": 5, "agg_epochs": 2, "agg_patience": 0, "agg_batch_size": 1024}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split(synthetic):
    return random_split(synthetic.interactions, seed=0)


def sharded(cls=RecEraser, backbone="bpr", shards=3, **kwargs):
    kwargs.setdefault("sharding", SHARDING)
    return cls(backbone, shards, profile="quick", seed=0, device="cpu", **{**TINY, **kwargs})


@pytest.fixture(scope="module")
def receraser(split):
    return sharded(partition="ubp").fit(split)


def _scores(model, split):
    return model.full_scores(torch.arange(split.num_users)).detach().clone()


def test_make_method_and_interface():
    assert METHODS.names() == ("retrain", "sisa", "receraser", "scif", "ifru", "ubpr")
    assert isinstance(make_method("retrain", "mf", profile="quick", **TINY), Retrain)
    assert make_method("sisa", profile="quick").partition_method == "random"
    assert make_method("receraser", profile="quick").aggregation == "attention"
    with pytest.raises(ValueError, match="unknown unlearning method"):
        make_method("magic")
    with pytest.raises(ValueError, match="'pop' baseline has no training"):
        Retrain("pop")
    with pytest.raises(ValueError, match="unknown backbone setting"):
        Retrain("bpr", profile="quick", epoch=3)
    with pytest.raises(RuntimeError, match="not fitted"):
        Retrain("bpr", profile="quick").model
    with pytest.raises(ValueError, match="unknown aggregation"):
        RecEraser("bpr", aggregation="max", profile="quick")


def test_retrain_forget_equals_training_from_scratch(split):
    method = Retrain("bpr", profile="quick", seed=0, device="cpu", **TINY).fit(split)
    original = _scores(method.model, split)
    request = ForgetRequest.random(split.train, count=20, seed=1)
    result = method.forget(request)
    assert isinstance(result, UnlearnResult) and result.method == "retrain"
    assert result.num_forgotten == 20 and result.seconds > 0 and result.device == "cpu"
    assert len(method.train) == len(split.train) - 20
    reference = Retrain("bpr", profile="quick", seed=0, device="cpu", **TINY).fit(split, request.split(split.train)[0])
    torch.testing.assert_close(_scores(result.model, split), _scores(reference.model, split))
    assert not torch.equal(original, _scores(result.model, split))


@pytest.mark.parametrize("name, backbone", [("retrain", "bpr"), ("sisa", "bpr"), ("receraser", "lightgcn"),
                                            ("ifru", "mf"), ("scif", "mf")])
def test_a_user_whose_every_interaction_is_forgotten_is_ranked_by_popularity(split, synthetic, name, backbone):
    """One defined behaviour for every method: a user left without training data gets the most popular items."""
    kwargs = {"sharding": SHARDING, "num_shards": 3} if name in ("sisa", "receraser") else {}
    if name in ("ifru", "scif"):     # IFRU's setting: labelled pairs
        kwargs["solver_options"] = {"damping": 0.05}
        split = make_split(synthetic, "labelled", seed=0)
    method = make_method(name, backbone, profile="quick", seed=0, device="cpu", **kwargs, **TINY).fit(split)
    user = int(split.train.users[0])
    rows = np.flatnonzero(split.train.users == user)
    method.forget(ForgetRequest(split.train.users[rows], split.train.items[rows]))
    counts = torch.as_tensor(method.train.positives().item_counts(), dtype=torch.float32)
    torch.testing.assert_close(method.model.full_scores(torch.tensor([user]))[0], counts)
    other = int(split.train.users[rows[-1] + 1])       # a user with data keeps the model's own scores
    assert not torch.equal(method.model.full_scores(torch.tensor([other]))[0], counts)


@pytest.mark.parametrize("cls", [Retrain, RecEraser])
def test_empty_request_changes_nothing(split, receraser, cls):
    method = receraser if cls is RecEraser else Retrain("mf", profile="quick", device="cpu", **TINY).fit(split)
    before, model, train = _scores(method.model, split), method.model, method.train
    result = method.forget(ForgetRequest.empty())
    assert result.model is model and method.model is model and method.train is train
    assert result.num_forgotten == 0 and result.touched["shards"] == []
    torch.testing.assert_close(_scores(result.model, split), before, rtol=0, atol=0)


def test_request_outside_training_fails_clearly(split, receraser):
    missing = np.flatnonzero(~split.train.contains(np.zeros(split.num_items, np.int64), np.arange(split.num_items)))
    request = ForgetRequest(np.array([split.train.users[0], 0]), np.array([split.train.items[0], missing[0]]))
    before = len(receraser.train)
    with pytest.raises(ForgetRequestError, match="not in the training data"):
        receraser.forget(request)
    assert len(receraser.train) == before


def test_forgetting_touches_only_the_shards_that_held_the_request(split):
    method = sharded(partition="random", aggregation="attention").fit(split)
    old_subs = list(method.submodels)
    old_model = method.model
    old_scores = _scores(old_model, split)
    row = 7
    shard = int(method.partition.assignment[row])
    request = ForgetRequest(split.train.users[row:row + 1], split.train.items[row:row + 1])
    result = method.forget(request)
    assert result.touched["shards"] == [shard]
    assert set(result.breakdown) == {"shards", "aggregator"}
    assert result.seconds >= result.breakdown["shards"] > 0
    for k, (old, new) in enumerate(zip(old_subs, method.submodels)):
        if k == shard:
            assert not torch.equal(old.user_reps, new.user_reps)
        else:
            assert new is old
    # the retrained shard is exactly a sub-model trained from scratch on the shard without the row
    reference = train_shard(method.shard_jobs([shard])[0])
    torch.testing.assert_close(method.submodels[shard].user_reps, reference.user_reps)
    assert not split.train.subset(np.array([row])).contains(method.train.users, method.train.items).any()
    # models returned earlier are not modified
    torch.testing.assert_close(_scores(old_model, split), old_scores, rtol=0, atol=0)


@pytest.mark.parametrize("sampling", ["epoch", "user-uniform"])
def test_every_sub_model_equals_a_fresh_fit_on_the_remaining_data(split, sampling):
    """Exactness: after forgetting rows of shard 3, each sub-model (retrained or kept) is bit for bit
    the one training that shard from scratch on D \\ D_f gives: no kept sub-model was selected
    with the forgotten rows in view. Also under RecEraser's official sampler, whose sub-models draw
    their users and negatives from their own shard."""
    method = sharded(partition="random", aggregation="mean", shards=4, epochs=8, patience=2,
                     sampling=sampling).fit(split)
    in_shard = method.partition.rows(3)
    rows = in_shard[: len(in_shard) // 2]
    method.forget(ForgetRequest(split.train.users[rows], split.train.items[rows]))
    for k, kept in enumerate(method.submodels):
        fresh = train_shard(method.shard_jobs([k])[0])
        assert fresh.best_epoch == kept.best_epoch
        torch.testing.assert_close(kept.user_reps, fresh.user_reps, rtol=0, atol=0)
        torch.testing.assert_close(kept.item_reps, fresh.item_reps, rtol=0, atol=0)


def test_sub_models_under_the_official_sampler_draw_within_their_shard(split):
    method = sharded(partition="ibp", aggregation="mean", sampling="user-uniform", epochs=1).fit(split)
    for job in method.shard_jobs(range(3)):
        model = make_backbone(job.backbone, split.num_users, split.num_items, job.settings, job.seed)
        batches = list(model.objective.batches(job.train, job.settings.batch_size, job.seed, 0, torch.device("cpu")))
        users, negatives = (np.concatenate([b[k].numpy() for b in batches]) for k in ("users", "neg"))
        assert len(own_items(job.train)) < split.num_items                     # IBP: part of the items
        assert np.isin(negatives, own_items(job.train)).all() and np.isin(users, job.train.users).all()


def test_sub_models_trained_together_are_the_sub_models_trained_one_by_one(split):
    serial = sharded(partition="random", aggregation="mean", shards=4, epochs=8, patience=2).fit(split)
    together = sharded(partition="random", aggregation="mean", shards=4, epochs=8, patience=2,
                       sharding={**SHARDING, "together": True}).fit(split)
    request = ForgetRequest.random(split.train, count=20, seed=2)
    for method in (serial, together):
        method.forget(request)
    assert len(set(s.epochs_run for s in serial.submodels)) > 1      # they stop at different epochs
    for a, b in zip(serial.submodels, together.submodels):
        assert (a.shard, a.best_epoch, a.epochs_run) == (b.shard, b.best_epoch, b.epochs_run)
        torch.testing.assert_close(a.user_reps, b.user_reps, rtol=0, atol=0)
        torch.testing.assert_close(a.item_reps, b.item_reps, rtol=0, atol=0)
    torch.testing.assert_close(_scores(serial.model, split), _scores(together.model, split), rtol=0, atol=0)
    with pytest.raises(ValueError, match="leave shard_map as map"):
        sharded(sharding={**SHARDING, "together": True}, shard_map=lambda fn, jobs: [fn(j) for j in jobs])


def test_batch_request_touches_every_shard_it_spans(split):
    method = sharded(SISA).fit(split)
    request = ForgetRequest.random(split.train, count=30, seed=2)
    shards = sorted(set(method.partition.assignment[request.rows(split.train)].tolist()))
    result = method.forget(request)
    assert result.touched["shards"] == shards and len(shards) > 1
    assert result.breakdown["aggregator"] < 0.5      # the mean has nothing to train


def test_sequential_forgetting_one_at_a_time(split):
    method = sharded(partition="inbp", aggregation="static").fit(split)
    request = ForgetRequest.random(split.train, count=2, seed=3)
    results = method.forget_sequentially(request)
    assert [r.num_forgotten for r in results] == [1, 1]
    assert all(len(r.touched["shards"]) == 1 for r in results)
    assert len(method.train) == len(split.train) - 2


def test_shard_loop_is_a_seam(split):
    calls = []

    def recording_map(fn, jobs):
        jobs = list(jobs)
        calls.append([job.shard for job in jobs])
        return [fn(job) for job in jobs]
    method = sharded(SISA, shard_map=recording_map).fit(split)
    method.forget(ForgetRequest(split.train.users[:1], split.train.items[:1]))
    assert calls[0] == [0, 1, 2] and len(calls[1]) == 1


@pytest.mark.parametrize("backbone", ["mf", "bpr", "wmf", "lightgcn"])
def test_every_backbone_works_as_a_sub_model(split, backbone):
    method = sharded(backbone=backbone, shards=2, partition="ibp").fit(split)
    metrics = evaluate(method.model, split, "test")
    assert all(np.isfinite(v) for v in metrics.values())
    assert method.fit_seconds["shards"] > 0 and "embeddings" in method.fit_seconds


def test_aggregators_ignore_sub_models_that_never_saw_a_node():
    torch.manual_seed(0)
    k, users, items, d = 3, 5, 6, 4
    ureps, ireps = torch.randn(k, users, d), torch.randn(k, items, d)
    useen, iseen = torch.rand(k, users) > 0.4, torch.rand(k, items) > 0.4
    useen[:, 0] = False                               # user 0 is in no shard
    iseen[0, :] = True
    scores = torch.stack([(ureps[s] * useen[s, :, None]) @ (ireps[s] * iseen[s, :, None]).T for s in range(k)])
    mean = MeanAggregator(ureps, ireps, useen, iseen)
    torch.testing.assert_close(mean.full_scores(torch.arange(users)), scores.mean(0))
    static = StaticAggregator(ureps, ireps, useen, iseen)
    torch.testing.assert_close(static.full_scores(torch.arange(users)), scores.mean(0))
    torch.manual_seed(1)
    att = AttentionAggregator(ureps, ireps, useen, iseen, attention_size=3)
    alpha, beta = att.weights()
    assert torch.all(alpha[~useen] == 0) and torch.all(beta[~iseen] == 0)
    torch.testing.assert_close(alpha[:, 1:].sum(0), torch.ones(users - 1))
    assert torch.all(att.full_scores(torch.tensor([0])) == 0)
    # changing what an unseen sub-model holds changes nothing
    noisy = ureps.clone()
    noisy[~useen] = 100.0
    torch.manual_seed(1)
    torch.testing.assert_close(AttentionAggregator(noisy, ireps, useen, iseen, attention_size=3).full_scores(
        torch.arange(users)), att.full_scores(torch.arange(users)))


def test_attention_aggregator_follows_eq_5_to_7_over_the_shards_that_saw_each_node():
    """Eq. 5-7 node by node, over only the shards that saw the node, against the batched implementation."""
    torch.manual_seed(0)
    k, users, items, d = 4, 6, 5, 3
    ureps, ireps = torch.randn(k, users, d), torch.randn(k, items, d)
    useen, iseen = torch.rand(k, users) > 0.4, torch.rand(k, items) > 0.4
    useen[:, 0] = False
    att = AttentionAggregator(ureps, ireps, useen, iseen, attention_size=2)
    with torch.no_grad():
        for p in att.parameters():
            p.normal_()
    def expected(reps, seen, w, b, h):
        out, weight = torch.zeros(reps.shape[1], d), torch.zeros(k, reps.shape[1])
        for node in range(reps.shape[1]):
            shards = [s for s in range(k) if seen[s, node]]
            if not shards:
                continue
            tr = torch.stack([reps[s, node] @ att.transfer_w[s] + att.transfer_b[s] for s in shards])  # Eq. 5
            alpha = torch.softmax(torch.relu(tr @ w + b) @ h, 0)                                     # Eq. 7
            out[node] = alpha @ tr                                                                   # Eq. 6
            weight[shards, node] = alpha
        return out, weight
    with torch.no_grad():
        users, alpha = expected(ureps, useen, att.user_att_w, att.user_att_b, att.user_att_h)
        items, beta = expected(ireps, iseen, att.item_att_w, att.item_att_b, att.item_att_h)
        got_users, got_items = att.representations()
    torch.testing.assert_close(got_users, users)
    torch.testing.assert_close(got_items, items)
    torch.testing.assert_close(att.weights()[0], alpha)
    torch.testing.assert_close(att.weights()[1], beta)
    # no gradient reaches what an unseen sub-model holds, and none is NaN
    att.user_reps.requires_grad_(True)
    att.representations()[0].sum().backward()
    assert torch.isfinite(att.transfer_w.grad).all() and torch.all(att.user_reps.grad[~useen] == 0)

def test_sharded_settings_are_validated():
    with pytest.raises(ValueError, match="unknown sharding setting"):
        ShardedUnlearning("bpr", 3, profile="quick", sharding={"agg_epoch": 3})
    with pytest.raises(ValueError, match="num_shards"):
        ShardedUnlearning("bpr", -1, profile="quick")


def test_with_aggregation_reuses_the_sub_models(split, receraser):
    mean = receraser.with_aggregation("mean")
    assert mean.submodels == receraser.submodels and mean.partition is receraser.partition
    assert isinstance(mean.model, MeanAggregator) and isinstance(receraser.model, AttentionAggregator)
    with pytest.raises(ValueError, match="unknown aggregation"):
        receraser.with_aggregation("max")


def test_measure_forgetting_on_a_fitted_method(split):
    """measure_forgetting works on an already fitted method; its Retrain reference equals a fresh fit on D minus D_f."""
    method = sharded(SISA, shards=2).fit(split)
    request = ForgetRequest.random(split.train, count=2, seed=5)
    before = evaluate(method.model, split, "test")
    report = measure_forgetting(method, request, "sequential")
    assert isinstance(report, ForgettingReport) and report.mode == "sequential" and report.num_forgotten == 2
    assert report.metrics["original"] == before and report.metrics["unlearned"] == evaluate(method.model, split, "test")
    fresh = Retrain("bpr", profile="quick", seed=0, device="cpu", **TINY).fit(split, request.split(split.train)[0])
    assert report.metrics["retrain"] == evaluate(fresh.model, split, "test")
    timings = report.timings()
    assert list(timings["call"]) == [0, 1] and {"shards", "aggregator", "total"} <= set(timings.columns)
    assert report.seconds["unlearn_total"] == pytest.approx(timings["total"].sum())
    summary = report.summary()
    assert summary["num_shards"] == 2 and summary["forget"] == {"count": 2, "mode": "sequential"}
    # Retrain forgetting a batch is its own reference: measured once, not twice
    retrain = Retrain("bpr", profile="quick", seed=0, device="cpu", **TINY).fit(split)
    own = measure_forgetting(retrain, request, "batch")
    assert own.metrics["retrain"] == own.metrics["unlearned"] == report.metrics["retrain"]
    assert "retrain" not in measure_forgetting(sharded(SISA, shards=2).fit(split), request, retrain=False).metrics
    with pytest.raises(ValueError, match="unknown mode 'parallel'"):
        measure_forgetting(retrain, request, "parallel")


def test_methods_resolve_their_runtime_once(split):
    method = Retrain("bpr", profile=" QUICK ", seed=3, device="cpu", **TINY)
    assert method.runtime == Runtime("quick", 3, torch.device("cpu"))
    assert method.settings == backbone_settings("bpr", "quick").replace(**TINY)
    same = Retrain("bpr", profile="full", seed=3, device="cpu", settings=method.settings)
    assert same.settings == method.settings and same.profile == "full"


def test_attention_aggregator_computes_a_small_batch_from_its_rows_alone(split):
    """A batch that reads fewer rows than the tables hold computes Eq. 5-7 for its rows only (the tables are never
    computed), with the loss and gradients of the tables' rows; a batch reading more rows takes the tables' rows;
    and the official LightGCN aggregator, whose every row reads the whole graph, always takes its tables' rows."""
    torch.manual_seed(0)
    k, d = 3, 4
    ureps, ireps = torch.randn(k, split.num_users, d), torch.randn(k, split.num_items, d)
    useen, iseen = torch.rand(k, split.num_users) > 0.3, torch.rand(k, split.num_items) > 0.3
    useen[:, 1], iseen[1:, 2] = False, False                  # user 1 in no shard, item 2 in shard 0 only
    att = AttentionAggregator(ureps, ireps, useen, iseen, BPRObjective(), agg_reg=0.1, attention_size=3)
    with torch.no_grad():
        for p in att.parameters():
            p.normal_()
    batch = {"users": torch.tensor([1, 0, 1]), "pos": torch.tensor([2, 3, 2]), "neg": torch.tensor([4, 2, 5])}
    def loss_and_grads(model):
        model.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]
    expected = loss_and_grads(att)                            # through the tables' rows
    rows = att.batch_rows(batch["users"], batch["pos"], batch["neg"])
    assert [r.shape for r in rows] == [(3, d)] * 3
    att.representations = lambda: pytest.fail("a small batch computed the whole tables")
    with torch.no_grad():
        tables_users, tables_items = AttentionAggregator.representations(att)
    torch.testing.assert_close(rows[0], tables_users[batch["users"]])
    torch.testing.assert_close(torch.cat(rows[1:]), tables_items[torch.cat([batch["pos"], batch["neg"]])])
    loss, grads = loss_and_grads(att)
    torch.testing.assert_close(loss, expected[0])
    for got, want in zip(grads, expected[1]):
        torch.testing.assert_close(got, want)
    many = torch.arange(split.num_users + split.num_items) % split.num_items
    with pytest.raises(pytest.fail.Exception, match="whole tables"):
        att.batch_rows(many[:split.num_users] % split.num_users, many)
    graph = GraphAttentionAggregator(ureps, ireps, useen, iseen, attention_size=3, num_layers=2)
    graph.load_state_dict(AttentionAggregator(ureps, ireps, useen, iseen, attention_size=3).state_dict(), strict=False)
    graph.fit_data(split.train)
    with torch.no_grad():
        users, items = graph.representations()
        got = graph.batch_rows(batch["users"], batch["pos"])
    torch.testing.assert_close(got[0], users[batch["users"]])
    torch.testing.assert_close(got[1], items[batch["pos"]])


def test_graph_attention_aggregator_is_the_attention_aggregate_propagated_over_the_training_graph(split):
    """RecEraser's official LightGCN aggregator: Eq. 5-7 on layer-0 tables, then ``M = mean_k A_hat^k`` of the
    training graph (an explicit dense ``M`` here); with no layers it is the attention aggregator."""
    torch.manual_seed(0)
    k, d = 3, 4
    ureps, ireps = torch.randn(k, split.num_users, d), torch.randn(k, split.num_items, d)
    useen, iseen = torch.rand(k, split.num_users) > 0.3, torch.rand(k, split.num_items) > 0.3
    make = {layers: GraphAttentionAggregator(ureps, ireps, useen, iseen, attention_size=3, num_layers=layers)
            for layers in (0, 2)}
    att = AttentionAggregator(ureps, ireps, useen, iseen, attention_size=3)
    with torch.no_grad():
        for p in att.parameters():
            p.normal_()
    for agg in make.values():
        agg.load_state_dict(att.state_dict(), strict=False)
        agg.fit_data(split.train)
    a_hat = torch.as_tensor(normalized_adjacency(split.train).toarray(), dtype=torch.float64)
    m = (torch.eye(len(a_hat), dtype=torch.float64) + a_hat + a_hat @ a_hat) / 3
    with torch.no_grad():
        plain = torch.cat(att.representations()).double()
        users, items = make[2].representations()
        torch.testing.assert_close(torch.cat(make[0].representations()).double(), plain)
    torch.testing.assert_close(torch.cat([users, items]).double(), m @ plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(make[2].weights()[0], att.weights()[0])


def test_graph_attention_over_one_shard_of_all_data_is_that_lightgcn(split):
    """One shard holding every row: the untrained aggregate (W = I, b = 0, one shard) is the sub-model's
    layer-0 tables, and propagating them over the training graph gives back its final representations."""
    settings = backbone_settings("lightgcn", "quick").replace(**TINY)
    sub = train_shard(ShardJob(0, "lightgcn", settings, split.train, split, 7, torch.device("cpu")))
    assert not torch.equal(sub.user_ego, sub.user_reps)
    agg = make_aggregator("attention-graph", sub.user_ego[None], sub.item_ego[None],
                          torch.as_tensor(sub.user_seen[None]), torch.as_tensor(sub.item_seen[None]),
                          num_layers=settings.num_layers)
    agg.fit_data(split.train)
    with torch.no_grad():
        users, items = agg.representations()
    torch.testing.assert_close(users[sub.user_seen], sub.user_reps[sub.user_seen])
    torch.testing.assert_close(items[sub.item_seen], sub.item_reps[sub.item_seen])


def test_receraser_with_the_official_lightgcn_aggregator_propagates_over_the_data_left(split):
    method = sharded(backbone="lightgcn", shards=2, partition="random", aggregation="attention-graph").fit(split)
    assert isinstance(method.model, GraphAttentionAggregator)
    assert method.model.num_layers == method.settings.num_layers == 3
    for k, sub in enumerate(method.submodels):                     # it combines the layer-0 tables
        seen = torch.as_tensor(sub.user_seen)
        torch.testing.assert_close(method.model.user_reps[k][seen], sub.user_ego[seen], rtol=0, atol=0)
        assert not torch.equal(sub.user_ego[seen], sub.user_reps[seen])
    graph = method.model.graph.to_dense()
    torch.testing.assert_close(graph, method.model.graph_of(split.train).to_dense())
    request = ForgetRequest.random(split.train, count=30, seed=4)
    method.forget(request)
    after = method.model.graph.to_dense()
    torch.testing.assert_close(after, method.model.graph_of(request.split(split.train)[0]).to_dense())
    assert not torch.equal(after, graph)
    assert all(np.isfinite(v) for v in evaluate(method.model, split, "test").values())
    with pytest.raises(ValueError, match="needs LightGCN sub-models"):
        sharded(backbone="bpr", aggregation="attention-graph")
    with pytest.raises(ValueError, match="needs LightGCN sub-models"):
        sharded(backbone="bpr").with_aggregation("attention-graph")
