"""Partitions: balanced (no shard above t), a cover of the training rows, deterministic; the greedy walk exact."""

from __future__ import annotations

import numpy as np
import pytest

from rec_unlearn_lib.splits import random_split
from rec_unlearn_lib.unlearning import (PARTITIONS, balanced_assign, history_concentration, make_partition,
                                        max_shard_size)


@pytest.fixture(scope="module")
def train(synthetic):
    return random_split(synthetic.interactions, seed=0).train


@pytest.fixture(scope="module")
def embeddings(train):
    rng = np.random.default_rng(0)
    return rng.normal(size=(train.num_users, 8)), rng.normal(size=(train.num_items, 8))


def _naive_walk(dist: np.ndarray, capacity: int) -> np.ndarray:
    """The official code's loop: all (unit, anchor) pairs by ascending distance, fill up to capacity."""
    n, k = dist.shape
    unit, anchor = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    assign, counts = np.full(n, -1), np.zeros(k, int)
    for j in np.lexsort((anchor, unit, dist.ravel())):
        if assign[unit[j]] < 0 and counts[anchor[j]] < capacity:
            assign[unit[j]] = anchor[j]
            counts[anchor[j]] += 1
    return assign


def test_vectorised_greedy_equals_the_sequential_walk():
    rng = np.random.default_rng(1)
    for trial in range(200):
        n, k = int(rng.integers(1, 50)), int(rng.integers(1, 7))
        capacity = -(-n // k) + int(rng.integers(0, 3))
        dist = rng.integers(0, 4, size=(n, k)).astype(float) if trial % 2 else rng.random((n, k))
        np.testing.assert_array_equal(balanced_assign(dist, capacity), _naive_walk(dist, capacity))


def test_greedy_rejects_impossible_capacity():
    with pytest.raises(ValueError, match="do not fit"):
        balanced_assign(np.zeros((10, 2)), 4)


@pytest.mark.parametrize("method", PARTITIONS)
def test_partition_is_balanced_covering_and_deterministic(train, embeddings, method):
    k = 5
    part = make_partition(train, method, k, *embeddings, rounds=10, seed=3)
    # every training row in exactly one shard
    assert part.assignment.shape == (len(train),)
    assert part.assignment.min() >= 0 and part.assignment.max() < k
    assert sum(len(part.rows(s)) for s in range(k)) == len(train)
    np.testing.assert_array_equal(np.sort(np.concatenate([part.rows(s) for s in range(k)])), np.arange(len(train)))
    # no shard above t, counted in the partition's unit
    units = {"interaction": len(train), "user": len(np.unique(train.users)), "item": len(np.unique(train.items))}
    if method == "random":
        assert part.max_size == -(-len(train) // k)
    else:
        assert part.max_size == max_shard_size(units[part.unit], k, 1.2)
    assert part.unit_sizes.sum() == units[part.unit]
    assert part.unit_sizes.max() <= part.max_size
    sizes = part.sizes(train)
    assert sizes["interactions"].sum() == len(train)
    if part.unit == "user":   # UBP keeps each user's history whole
        assert (history_concentration(train, part).query("kind == 'user'")["top_share"] == 1).all()
    if part.unit == "item":
        assert (history_concentration(train, part).query("kind == 'item'")["top_share"] == 1).all()
    again = make_partition(train, method, k, *embeddings, rounds=10, seed=3)
    np.testing.assert_array_equal(part.assignment, again.assignment)
    other = make_partition(train, method, k, *embeddings, rounds=10, seed=4)
    assert not np.array_equal(part.assignment, other.assignment)


def test_balanced_partition_stops_when_assignment_is_stable(train, embeddings):
    part = make_partition(train, "ubp", 4, *embeddings, rounds=200, seed=0)
    assert part.converged and part.rounds < 200
    assert len(part.shifts) == part.rounds and part.shifts[-1] == pytest.approx(0.0, abs=1e-12)


def test_inbp_keeps_more_history_together_than_random(train, embeddings):
    """Clustered embeddings: InBP's shards keep users' histories more together than random cuts."""
    users, items = embeddings
    structured = (np.eye(4)[np.arange(train.num_users) % 4] * 5 + 0.1 * users[:, :4],
                  np.eye(4)[np.arange(train.num_items) % 4] * 5 + 0.1 * items[:, :4])
    inbp = history_concentration(train, make_partition(train, "inbp", 4, *structured, seed=0))
    rnd = history_concentration(train, make_partition(train, "random", 4, seed=0))
    assert inbp.query("kind == 'user'")["top_share"].mean() > rnd.query("kind == 'user'")["top_share"].mean()


def test_partition_errors(train, embeddings):
    with pytest.raises(ValueError, match="unknown partition"):
        make_partition(train, "kmeans", 4)
    with pytest.raises(ValueError, match="embeddings"):
        make_partition(train, "inbp", 4)
    with pytest.raises(ValueError, match="max_size_factor"):
        make_partition(train, "ubp", 4, *embeddings, max_size_factor=0.5)
    with pytest.raises(ValueError, match="one row per user"):
        make_partition(train, "ubp", 4, embeddings[0][:5], embeddings[1])


def test_remove_keeps_other_rows_in_their_shards(train):
    part = make_partition(train, "random", 4, seed=0)
    smaller = part.remove(train, np.array([0, 5, 9]))
    np.testing.assert_array_equal(smaller.assignment, np.delete(part.assignment, [0, 5, 9]))
    with pytest.raises(ValueError, match="covers"):
        part.remove(train.drop(np.array([0])), np.array([1]))


@pytest.mark.parametrize("method", ["ubp", "ibp", "inbp"])
def test_remove_recounts_the_balanced_units(train, embeddings, method):
    part = make_partition(train, method, 4, *embeddings, seed=0)
    ids = train.users if part.unit == "user" else train.items
    # every row of one unit in shard 0: that unit leaves the shard
    unit = ids[part.rows(0)[0]]
    rows = np.flatnonzero((ids == unit) & (part.assignment == 0))
    smaller = part.remove(train, rows)
    left = train.drop(rows)
    for k in range(4):
        shard = left.subset(smaller.assignment == k)
        expected = {"interaction": len(shard), "user": len(np.unique(shard.users)),
                    "item": len(np.unique(shard.items))}[part.unit]
        assert smaller.unit_sizes[k] == expected
    assert smaller.unit_sizes[0] == part.unit_sizes[0] - (len(rows) if part.unit == "interaction" else 1)
