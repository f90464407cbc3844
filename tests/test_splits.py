"""Splits partition the data as documented, are seeded, and validate their ratios."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import pytest

from rec_unlearn_lib.models import BPRObjective, make_objective
from rec_unlearn_lib.sampling import (bpr_triplets, epoch_generator, labelled_zeros, negatives_without_replacement,
                                      own_items, pointwise_rows, uniform_negatives, user_uniform_triplets)
from rec_unlearn_lib.interactions import Interactions
from rec_unlearn_lib.splits import (DEFAULT_LABEL_RULE, LABEL_RULES, labelled_split, leave_one_out, make_split,
                                    predefined_split, random_split)


def _keys(*parts: Interactions) -> np.ndarray:
    return np.concatenate([p.keys for p in parts])


def test_random_split_partitions_and_is_seeded(synthetic):
    data = synthetic.interactions
    split = random_split(data, (0.7, 0.1, 0.2), seed=1)
    assert sorted(_keys(split.train, split.valid, split.test).tolist()) == sorted(data.keys.tolist())
    assert len(split.test) == round(0.2 * len(data))
    again = random_split(data, (0.7, 0.1, 0.2), seed=1)
    other = random_split(data, (0.7, 0.1, 0.2), seed=2)
    assert np.array_equal(split.test.keys, again.test.keys)
    assert not np.array_equal(split.test.keys, other.test.keys)


@pytest.mark.parametrize("ratios", [(0.0, 0.5, 0.5), (1.0, 0.0, 0.0), (0.5, 0.3, 0.3), (-0.2, 0.6, 0.6)])
def test_bad_ratios_raise(synthetic, ratios):
    with pytest.raises(ValueError, match="ratios"):
        random_split(synthetic.interactions, ratios)


def test_predefined_split_carves_validation_from_train(synthetic):
    data = synthetic.interactions
    train, test = data.subset(np.arange(0, len(data) - 100)), data.subset(np.arange(len(data) - 100, len(data)))
    split = predefined_split(train, test, valid_ratio=0.25, seed=0)
    assert sorted(_keys(split.train, split.valid).tolist()) == sorted(train.keys.tolist())
    assert np.array_equal(split.test.keys, test.keys)
    with pytest.raises(ValueError, match="valid_ratio"):
        predefined_split(train, test, valid_ratio=1.0)


def test_leave_one_out_holds_out_latest_with_valid_negatives(synthetic):
    data = synthetic.interactions
    split = leave_one_out(data, num_negatives=20, seed=4)
    assert split.protocol == "sampled"
    # test holds each user's latest interaction, validation the one before
    for part, rank in ((split.test, 1), (split.valid, 2)):
        for u, i, t in zip(part.users[:30], part.items[:30], part.timestamps[:30]):
            times = np.sort(data.timestamps[data.users == u])
            assert t == times[-rank]
    assert len(np.unique(split.test.users)) == len(split.test) == synthetic.num_users
    negs = split.test_negatives
    assert negs.shape == (len(split.test), 20)
    assert all(len(set(row)) == 20 for row in negs.tolist())                  # distinct
    assert not data.contains(np.repeat(split.test.users, 20), negs.ravel()).any()  # never interacted
    assert np.array_equal(negs, leave_one_out(data, num_negatives=20, seed=4).test_negatives)


def test_labelled_split_labels_and_known_ids(synthetic):
    split = labelled_split(synthetic.interactions, threshold=4, seed=0)
    assert split.protocol == "labelled"
    ratings = synthetic.interactions.ratings
    assert 0.3 < split.train.labels.mean() < 0.5 and set(np.unique(split.train.labels)) == {0.0, 1.0}
    assert len(split.train) == round(0.6 * len(ratings))
    train_users, train_items = set(split.train.users), set(split.train.items)
    assert set(split.test.users) <= train_users and set(split.test.items) <= train_items
    row = 0
    original = synthetic.interactions.contains(split.test.users[row:row + 1], split.test.items[row:row + 1])
    assert original.all()


def test_make_split_protocols(synthetic):
    assert make_split(synthetic, "ranking").protocol == "ranking"
    assert make_split(synthetic, "sampled", num_negatives=10).test_negatives.shape[1] == 10
    assert make_split(synthetic, "labelled").train.labels is not None
    with pytest.raises(ValueError, match="unknown protocol"):
        make_split(synthetic, "other")


def test_k_core_repeats_until_every_user_and_item_has_k_rows():
    # user 3's single row goes first; then item 2 has one row left (user 2), then user 2 has one (item 1): one pass
    # over the counts would keep (2, 1) and (2, 2)
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 1), (2, 2), (3, 2)]
    data = Interactions(np.array([u for u, _ in pairs]), np.array([i for _, i in pairs]), 5, 4,
                        ratings=np.arange(7, dtype=np.float32))
    core = data.k_core(2)
    assert list(zip(core.users.tolist(), core.items.tolist())) == pairs[:4]
    assert (core.num_users, core.num_items) == (5, 4) and core.ratings.tolist() == [0, 1, 2, 3]
    assert len(data.k_core(0)) == len(data.k_core(1)) == 7 and len(data.k_core(3)) == 0
    with pytest.raises(ValueError, match="non-negative"):
        data.k_core(-1)


def test_make_split_filters_k_core_before_splitting(synthetic):
    core = synthetic.interactions.k_core(15)
    assert 0 < len(core) < len(synthetic.interactions)
    split = make_split(synthetic, "labelled", k_core=15, threshold=5)
    assert len(split.train) == round(0.6 * len(core))
    # the ids are compacted to the users and items left, with the raw-id maps
    compact = synthetic.k_core(15)
    assert (split.train.num_users, split.train.num_items) == (len(np.unique(core.users)), len(np.unique(core.items)))
    assert np.array_equal(compact.user_ids[compact.interactions.users], synthetic.user_ids[core.users])
    assert np.array_equal(compact.item_ids[compact.interactions.items], synthetic.item_ids[core.items])
    kept = split.train.concat(split.valid).concat(split.test)
    assert compact.interactions.contains(kept.users, kept.items).all()
    assert split.train.labels.mean() < make_split(synthetic, "labelled", k_core=15).train.labels.mean()
    parts = {"train": synthetic.interactions.subset(np.arange(100)),
             "test": synthetic.interactions.subset(np.arange(100, 120))}
    with pytest.raises(ValueError, match="ships its own split"):
        make_split(dataclasses.replace(synthetic, parts=parts), k_core=5)


def test_labelled_zeros_are_distinct_unseen_and_seeded():
    # user 0 rates 2 of 6 items: 8 wanted, only 4 left; user 1 rates 1: 4 of 5; user 2 none: none
    data = Interactions(np.array([0, 0, 1]), np.array([0, 3, 2]), 3, 6)
    zeros = labelled_zeros(data, 4, seed=7)
    assert np.bincount(zeros.users, minlength=3).tolist() == [4, 4, 0]
    assert sorted(zeros.items[zeros.users == 0].tolist()) == [1, 2, 4, 5]
    assert len(np.unique(zeros.keys)) == len(zeros) and not data.contains(zeros.users, zeros.items).any()
    again, other = labelled_zeros(data, 4, seed=7), labelled_zeros(data, 4, seed=8)
    assert np.array_equal(again.items, zeros.items)
    assert not np.array_equal(other.items, zeros.items)
    # drawn in chunks of users (2 users of 6 items here): the same set
    assert np.array_equal(labelled_zeros(data, 4, seed=7, chunk_floats=12).items, zeros.items)


def test_labelled_split_of_implicit_data_adds_four_zeros_per_positive(synthetic):
    implicit = dataclasses.replace(synthetic.interactions, ratings=None, timestamps=None)
    split = labelled_split(implicit, threshold=4.0, seed=1)
    train = split.train
    counts = implicit.user_counts()
    assert len(train) == round(0.6 * (len(implicit) + np.minimum(4 * counts, implicit.num_items - counts).sum()))
    positives = train.subset(train.labels == 1)
    zeros = train.subset(train.labels == 0)
    assert implicit.contains(positives.users, positives.items).all()
    assert not implicit.contains(zeros.users, zeros.items).any()
    assert 0.7 < len(zeros) / len(train) <= 0.8                    # 4 per positive where a user has room
    assert np.array_equal(labelled_split(implicit, 4.0, seed=1).test.keys, split.test.keys)


def test_data_sets_of_ifru_default_to_its_rule(synthetic):
    """Without a threshold or k-core, Amazon-Electronics gets IFRU's rating > 4 and 5-core; MovieLens the book's."""
    amazon = dataclasses.replace(synthetic, name="amazon-electronics")
    rule = LABEL_RULES["amazon-electronics"]
    assert (rule.threshold, rule.k_core) == (5.0, 5)
    by_rule = make_split(amazon, "labelled")
    explicit = make_split(synthetic, "labelled", threshold=5, k_core=5)
    for part in ("train", "valid", "test"):
        assert np.array_equal(getattr(by_rule, part).keys, getattr(explicit, part).keys)
        assert np.array_equal(getattr(by_rule, part).labels, getattr(explicit, part).labels)
    book = make_split(synthetic, "labelled")
    assert (book.train.num_users, book.train.num_items) == (synthetic.num_users, synthetic.num_items)
    assert np.array_equal(book.train.labels, (book.train.ratings >= DEFAULT_LABEL_RULE.threshold).astype(np.float32))


def test_bpr_triplets_rematerialise_exactly(synthetic):
    train = synthetic.interactions
    u, i, j = (t.numpy() for t in bpr_triplets(train, seed=7, epoch=3))
    u2, i2, j2 = (t.numpy() for t in bpr_triplets(train, seed=7, epoch=3))
    assert np.array_equal(u, u2) and np.array_equal(i, i2) and np.array_equal(j, j2)
    assert not np.array_equal(j, bpr_triplets(train, seed=7, epoch=4)[2].numpy())
    assert not np.array_equal(u, bpr_triplets(train, seed=8, epoch=3)[0].numpy())
    assert sorted((u * train.num_items + i).tolist()) == sorted(train.keys.tolist())  # every positive once
    assert not train.contains(u, j).any()                                          # negatives are negatives


def test_negatives_are_uniform_over_the_users_unseen_items():
    # user 0 has seen items 0 and 1 of 5: each of 2, 3, 4 should come up a third of the time
    train = Interactions(np.array([0, 0, 1]), np.array([0, 1, 4]), 2, 5)
    draws = uniform_negatives(train, torch.zeros(30_000, dtype=torch.int64), epoch_generator(0)).numpy()
    share = np.bincount(draws, minlength=5) / len(draws)
    assert share[:2].sum() == 0 and np.allclose(share[2:], 1 / 3, atol=0.01)


def test_negatives_from_candidates_are_uniform_over_the_users_unseen_candidates():
    # user 0 has seen items 0 and 1 of 5; drawn from items 1, 2, 3 only: 2 and 3 half the time each
    train = Interactions(np.array([0, 0, 1]), np.array([0, 1, 4]), 2, 5)
    users = torch.zeros(30_000, dtype=torch.int64)
    draws = uniform_negatives(train, users, epoch_generator(0), np.array([1, 2, 3])).numpy()
    share = np.bincount(draws, minlength=5) / len(draws)
    assert share[[0, 1, 4]].sum() == 0 and np.allclose(share[[2, 3]], 1 / 2, atol=0.01)
    # every item as candidates: the very draws of the default
    every = uniform_negatives(train, users, epoch_generator(0), np.arange(5))
    assert torch.equal(every, uniform_negatives(train, users, epoch_generator(0)))
    with pytest.raises(ValueError, match="every item"):
        uniform_negatives(train, users, epoch_generator(0), np.array([0, 1]))


def test_own_items_negatives_stay_among_the_training_datas_items(synthetic):
    shard = synthetic.interactions.subset(synthetic.interactions.items % 3 == 0)     # a third of the items
    objective = make_objective("bpr", sampling="own-items")
    batch = next(objective.batches(shard, 10 ** 9, seed=0, epoch=0, device=torch.device("cpu")))
    assert np.isin(batch["neg"].numpy(), own_items(shard)).all() and (batch["neg"].numpy() % 3 == 0).all()
    assert not shard.contains(batch["users"].numpy(), batch["neg"].numpy()).any()
    assert sorted(shard.pair_keys(batch["users"].numpy(), batch["pos"].numpy()).tolist()) == sorted(shard.keys.tolist())


def test_user_uniform_triplets_follow_receraser_official_sampler():
    # user 0 has 8 items, users 1 and 2 one each, user 3 none: users are drawn equally often, not by their counts
    users = np.array([0] * 8 + [1, 2])
    items = np.array(list(range(8)) + [8, 9])
    shuffle = np.random.default_rng(0).permutation(10)                         # rows in no particular order
    train = Interactions(users[shuffle], items[shuffle], 4, 12)
    u, i, j = (t.numpy() for t in user_uniform_triplets(train, batch_size=2, seed=3, epoch=1))
    assert len(u) == (10 // 2 + 1) * 2
    again = user_uniform_triplets(train, batch_size=2, seed=3, epoch=1)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip((u, i, j), again))
    assert all(len(set(pair)) == 2 for pair in u.reshape(-1, 2))              # distinct users within a batch
    assert train.contains(u, i).all() and not train.contains(u, j).any()
    assert np.isin(j, own_items(train)).all()                                  # items 10, 11 have no data
    many = np.concatenate([user_uniform_triplets(train, 2, seed=0, epoch=e)[0].numpy() for e in range(500)])
    share = np.bincount(many, minlength=4) / len(many)
    assert share[3] == 0 and np.allclose(share[:3], 1 / 3, atol=0.02)
    heavy = np.concatenate([user_uniform_triplets(train, 2, seed=0, epoch=e)[1].numpy() for e in range(500)])
    heavy = heavy[many == 0]
    assert np.allclose(np.bincount(heavy, minlength=8)[:8] / len(heavy), 1 / 8, atol=0.02)  # positives uniform
    crowded = user_uniform_triplets(train, batch_size=5, seed=0)[0]            # more places than users: with
    assert len(crowded) == (10 // 5 + 1) * 5 and set(crowded.tolist()) <= {0, 1, 2}   # replacement


def test_draws_that_rejection_leaves_pending_are_drawn_exactly(monkeypatch):
    # user 0 holds 7 of 10 items; with no rejection round at all every draw takes the exact path
    train = Interactions(np.zeros(7, dtype=np.int64), np.array([0, 1, 2, 3, 5, 6, 8]), 1, 10)
    monkeypatch.setattr("rec_unlearn_lib.sampling.MAX_REJECTION_ROUNDS", 0)
    draws = uniform_negatives(train, torch.zeros(30_000, dtype=torch.int64), epoch_generator(0)).numpy()
    share = np.bincount(draws, minlength=10) / len(draws)
    assert share[[0, 1, 2, 3, 5, 6, 8]].sum() == 0 and np.allclose(share[[4, 7, 9]], 1 / 3, atol=0.01)
    within = uniform_negatives(train, torch.zeros(100, dtype=torch.int64), epoch_generator(0), np.array([5, 7, 8]))
    assert (within.numpy() == 7).all()                                        # the one free candidate


def test_bpr_samplers_are_checked():
    with pytest.raises(ValueError, match="one negative per drawn user"):
        BPRObjective(num_negatives=2, sampling="user-uniform")
    for sampling in ("own-items", "user-uniform"):
        with pytest.raises(ValueError, match="cannot sample by"):
            make_objective("wmf", sampling=sampling)
        with pytest.raises(ValueError, match="cannot sample by"):
            make_objective("bce", sampling=sampling)
    train = Interactions(np.array([0, 1]), np.array([0, 1]), 2, 3)
    for wrong in ([], [0, 0], [3], [-1]):
        with pytest.raises(ValueError, match="distinct item ids"):
            uniform_negatives(train, torch.tensor([0]), epoch_generator(0), np.array(wrong, dtype=np.int64))


def test_pointwise_rows_implicit_and_labelled(synthetic):
    train = synthetic.interactions
    users, items, labels = (t.numpy() for t in pointwise_rows(train, num_negatives=2, seed=0))
    assert len(users) == 3 * len(train) and labels.sum() == len(train)
    assert train.contains(users[labels == 1], items[labels == 1]).all()
    assert not train.contains(users[labels == 0], items[labels == 0]).any()
    labelled = train.with_labels((train.ratings >= 4).astype(np.float32))
    _, _, given = pointwise_rows(labelled, num_negatives=2, seed=0)
    assert len(given) == len(train) and given.sum() == labelled.labels.sum()


def test_negative_sampling_errors():
    full = Interactions(np.zeros(3), np.arange(3), 2, 3)
    with pytest.raises(ValueError, match="every item"):
        uniform_negatives(full, torch.tensor([0]), epoch_generator(0))
    with pytest.raises(ValueError, match="only 0 items"):
        negatives_without_replacement(full, np.array([0]), 1, seed=0)
