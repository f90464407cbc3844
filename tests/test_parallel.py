"""Sub-models trained as Ray tasks on a local 2-CPU Ray instance: the same as trained one by one."""

from __future__ import annotations

import sys

import pytest
import ray
import torch

from rec_unlearn_lib.forget import ForgetRequest
from rec_unlearn_lib.parallel import ShardTaskError, _cancel_unfinished, ray_shard_map
from rec_unlearn_lib.splits import random_split
from rec_unlearn_lib.unlearning import RecEraser, train_shard

TINY = {"emb_dim": 8, "epochs": 3, "patience": 0, "batch_size": 512}
SHARDING = {"rounds": 5, "agg_epochs": 2, "agg_patience": 0, "agg_batch_size": 1024}
LOCAL = {"num_cpus": 2, "include_dashboard": False, "log_to_driver": False}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(**LOCAL)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def split(synthetic):
    return random_split(synthetic.interactions, seed=0)


def _method(shard_map=map) -> RecEraser:
    return RecEraser("bpr", 3, partition="random", profile="quick", seed=0, device="cpu", shard_map=shard_map,
                     sharding=SHARDING, **TINY)


def test_sub_models_through_ray_equal_those_trained_serially(local_ray, split):
    serial, remote = _method().fit(split), _method(ray_shard_map()).fit(split)
    for a, b in zip(serial.submodels, remote.submodels):
        assert a.shard == b.shard and a.best_epoch == b.best_epoch
        torch.testing.assert_close(a.user_reps, b.user_reps, rtol=0, atol=0)
        torch.testing.assert_close(a.item_reps, b.item_reps, rtol=0, atol=0)
    request = ForgetRequest(split.train.users[:1], split.train.items[:1])
    serial.forget(request)
    remote.forget(request)
    for a, b in zip(serial.submodels, remote.submodels):
        torch.testing.assert_close(a.user_reps, b.user_reps, rtol=0, atol=0)


def test_a_failed_task_is_reported_with_its_shard_and_nothing_changes(local_ray, split):
    def fails_on_shard_1(job):          # a local function: Ray ships it by value to the workers
        if job.shard == 1:
            raise ValueError("a broken shard")
        return train_shard(job)

    method = _method().fit(split)
    train, partition, submodels, model = method.train, method.partition, list(method.submodels), method.model
    rows = method.partition.rows(1)[:1]
    request = ForgetRequest(split.train.users[rows], split.train.items[rows])
    method.shard_map = lambda fn, jobs: ray_shard_map(max_retries=1)(fails_on_shard_1, jobs)
    with pytest.raises(ShardTaskError, match="(?s)sub-model 1 failed after 1 retries.*a broken shard"):
        method.forget(request)
    # nothing was half-applied: the data, partition and models are those from before the request
    assert method.train is train and method.partition is partition and method.model is model
    assert method.submodels == submodels
    method.shard_map = map
    assert method.forget(request).touched["shards"] == [1]


def test_without_ray_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install 'rec_unlearn_lib\[ray\]'"):
        ray_shard_map()


def test_only_unfinished_tasks_are_cancelled():
    """A finished or failed task is never cancelled: Ray can abort the driver when a cancellation races with a task's
    reply. The tasks still running are."""
    class FakeRay:
        def __init__(self) -> None:
            self.cancelled: list[str] = []

        def wait(self, refs, num_returns, timeout):
            assert num_returns == len(refs) > 0 and timeout == 0
            return [r for r in refs if r.startswith("done")], [r for r in refs if not r.startswith("done")]

        def cancel(self, ref):
            self.cancelled.append(ref)

    fake = FakeRay()
    _cancel_unfinished(fake, ["done-1", "running-2", "done-3", "running-4"])
    assert fake.cancelled == ["running-2", "running-4"]
    _cancel_unfinished(fake, [])
    assert fake.cancelled == ["running-2", "running-4"]
