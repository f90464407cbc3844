"""Forget requests: sampling, validation against training data, the IFRU attack."""

from __future__ import annotations

import numpy as np
import pytest

from rec_unlearn_lib.forget import ForgetRequest, ForgetRequestError, attack
from rec_unlearn_lib.splits import labelled_split


def test_random_request_size_and_split(synthetic):
    train = synthetic.interactions
    request = ForgetRequest.random(train, 0.1, seed=0)
    assert len(request) == round(0.1 * len(train))
    retain, forget = request.split(train)
    assert len(retain) + len(forget) == len(train)
    assert sorted(forget.keys.tolist()) == sorted((request.users * train.num_items + request.items).tolist())
    assert not retain.contains(request.users, request.items).any()
    assert np.array_equal(ForgetRequest.random(train, count=5, seed=1).users,
                          ForgetRequest.random(train, count=5, seed=1).users)


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5, -0.1])
def test_ratio_outside_unit_interval(synthetic, ratio):
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        ForgetRequest.random(synthetic.interactions, ratio)


def test_request_not_in_training_fails_clearly(synthetic):
    train = synthetic.interactions
    absent_item = np.setdiff1d(np.arange(train.num_items), train.items[train.users == 0])[0]
    request = ForgetRequest(np.array([train.users[0], 0]), np.array([train.items[0], absent_item]))
    with pytest.raises(ForgetRequestError, match="1 of 2 requested interactions are not in the training data"):
        request.split(train)
    with pytest.raises(ForgetRequestError, match="more than once"):
        ForgetRequest(np.array([train.users[0]] * 2), np.array([train.items[0]] * 2)).split(train)


def test_empty_request_keeps_everything(synthetic):
    train = synthetic.interactions
    retain, forget = ForgetRequest.empty().split(train)
    assert len(forget) == 0 and np.array_equal(retain.keys, train.keys)


def test_by_users_takes_whole_histories(synthetic):
    train = synthetic.interactions
    request = ForgetRequest.by_users(train, [3, 5])
    assert len(request) == int((train.users == 3).sum() + (train.users == 5).sum())
    retain, _ = request.split(train)
    assert not np.isin(retain.users, [3, 5]).any()
    assert request.touched()[0].tolist() == [3, 5]


def test_attack_flips_exactly_the_requested_rows(synthetic):
    train = labelled_split(synthetic.interactions, threshold=4, seed=0).train
    poisoned, request = attack(train, 0.05, seed=2)
    rows = request.rows(train)
    changed = np.flatnonzero(poisoned.labels != train.labels)
    assert np.array_equal(changed, rows) and len(rows) == round(0.05 * len(train))
    assert np.array_equal(poisoned.labels[rows], 1 - train.labels[rows])
    retain, _ = request.split(poisoned)
    assert np.array_equal(retain.labels, train.subset(np.setdiff1d(np.arange(len(train)), rows)).labels)
    with pytest.raises(ValueError, match="labelled"):
        attack(synthetic.interactions, 0.05)
