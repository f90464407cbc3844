"""A seeded synthetic data set with latent structure and popularity skew, for fast tests.

Each user ``u`` and item ``i`` gets latent factors ``p_u, q_i ~ N(0, I_d / sqrt(d))`` (so ``p_u . q_i`` has unit variance) and
each item a popularity bias ``b_i = skew * log(1 / rank_i)`` (Zipf-like). A user with
``n_u`` interactions picks the ``n_u`` items with the largest
``p_u . q_i + b_i + Gumbel noise`` (a draw without replacement from the softmax), so
the data hold both a personal signal (which a model can learn and popularity cannot)
and a popularity signal. Ratings 1-5 are the quintiles of the affinity; timestamps a
random order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import Dataset
from .interactions import Interactions


def synthetic_dataset(num_users: int = 300, num_items: int = 200, emb_dim: int = 8,
                      mean_items_per_user: int = 25, popularity_skew: float = 0.5,
                      temperature: float = 0.3, seed: int = 0) -> Dataset:
    """A small explicit-rating :class:`Dataset` named ``synthetic``.

    Args:
        num_users, num_items: sizes of the id spaces (every user has >= 3 interactions).
        emb_dim: latent dimension ``d``.
        mean_items_per_user: mean history length (geometric-like spread, capped at half the items).
        popularity_skew: weight of the Zipf popularity bias (0: none).
        temperature: lower means histories follow the affinities more closely.
        seed: same seed, same data set.
    """
    if num_users < 1 or num_items < 8:
        raise ValueError("need at least 1 user and 8 items")
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(num_users, emb_dim)) / emb_dim ** 0.25
    q = rng.normal(size=(num_items, emb_dim)) / emb_dim ** 0.25
    bias = popularity_skew * np.log(1.0 / (1.0 + rng.permutation(num_items)))
    affinity = p @ q.T + bias                                           # [num_users, num_items]
    noisy = affinity / temperature + rng.gumbel(size=affinity.shape)
    counts = np.clip(rng.geometric(1.0 / mean_items_per_user, size=num_users), 3, num_items // 2)
    ranked = np.argsort(-noisy, axis=1)
    users = np.repeat(np.arange(num_users), counts)
    items = ranked[np.arange(num_items) < counts[:, None]]                # row-major: user by user
    scores = affinity[users, items]
    ratings = 1.0 + np.searchsorted(np.quantile(scores, [0.2, 0.4, 0.6, 0.8]), scores)
    inter = Interactions(users, items, num_users, num_items, ratings=ratings.astype(np.float32),
                         timestamps=rng.permutation(len(users)).astype(np.int64))
    titles = pd.Series([f"synthetic item {i}" for i in range(num_items)], name="title")
    return Dataset("synthetic", inter, np.arange(num_users), np.arange(num_items), item_titles=titles,
                   implicit=False)
