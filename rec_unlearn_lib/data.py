"""Real data sets: parse the public file layouts into dense-id :class:`Dataset` objects.

Where the files come from (a data root such as ``REC_UNLEARN_DATA=/path/to/data``,
or a download into the cache) is :mod:`rec_unlearn_lib.sources`' job; this module
only reads the layouts the public sources publish:

======================== ============================================================
name                     layout
======================== ============================================================
``ml-100k``              GroupLens ``u.data`` (user, item, rating, time; tabs) and
                         ``u.item`` (pipe-separated, latin-1: id, title, ...).
``ml-1m``                GroupLens ``ratings.dat`` and ``movies.dat`` (``::``-separated).
``receraser-ml-1m``      RecEraser's ``train.txt``/``test.txt``: one line per user,
                         ``user item item ...`` (ids from 0). Also the layout of
                         LightGCN's ``yelp2018``, ``gowalla`` and ``amazon-book``.
``lastfm``               LightGCN-PyTorch's ``data1.txt``/``test1.txt``:
                         user, item, listen count (tabs, ids from 1).
``ncf-ml-1m``            NCF's ``*.train.rating``/``*.test.rating`` (user, item, rating,
                         time; tabs) and ``*.test.negative`` (99 negatives per test user).
``ncf-pinterest-20``     The same layout as ``ncf-ml-1m``.
``amazon-electronics``   SNAP's ``ratings_Electronics.csv`` (McAuley et al. 2015):
                         user, item, rating 1-5, time; commas, no header, string ids.
``bookcrossing``         ``BX-Book-Ratings.csv`` of the Book-Crossing dump: user,
                         ISBN, rating 0-10 (0: implicit); ``;``, quoted, a header,
                         ISO-8859-1, string ISBNs.
======================== ============================================================

Raw ids (integers, or strings where the files use them) are re-indexed densely
(``0 .. n-1``, in sorted raw-id order) and the maps are kept both ways, so a notebook
can turn a dense item id back into a movie title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .interactions import Interactions
from .sources import SOURCES, locate


class MalformedDataError(ValueError):
    """A data file does not follow the layout its loader expects."""


@dataclass(frozen=True)
class Dataset:
    """A data set with dense ids and the maps back to the raw ids of its files.

    Attributes:
        name: registry name, e.g. ``"ml-100k"``.
        interactions: every interaction (predefined parts concatenated, in file order).
        user_ids: [num_users] raw user id of each dense user id (int64, or str where the files use strings).
        item_ids: [num_items] raw item id of each dense item id (int64 or str).
        parts: predefined parts shipped by the source (e.g. ``{"train": ..., "test": ...}``),
            empty when the source ships one file.
        test_negatives: for NCF layouts, int64 [n_test, 99] dense negative items per
            row of ``parts["test"]``; else ``None``.
        item_titles: titles indexed by dense item id, when the source has them.
        implicit: whether every row is a positive without a rating.
    """

    name: str
    interactions: Interactions
    user_ids: np.ndarray
    item_ids: np.ndarray
    parts: dict[str, Interactions] = field(default_factory=dict)
    test_negatives: np.ndarray | None = None
    item_titles: pd.Series | None = None
    implicit: bool = True

    @property
    def num_users(self) -> int:
        return self.interactions.num_users

    @property
    def num_items(self) -> int:
        return self.interactions.num_items

    def k_core(self, k: int) -> "Dataset":
        """This data set restricted to its ``k``-core, with the ids compacted to the users and items left.

        :meth:`Interactions.k_core <rec_unlearn_lib.interactions.Interactions.k_core>` keeps the id space; here
        the users and items left without rows leave the id maps too, so a model built on the result has no
        embedding rows for them (IFRU's 5-core filter keeps a small fraction of Amazon-Electronics' 4.2 million
        users).

        Raises:
            ValueError: the source ships its own split (filtering would change its parts), or ``k`` is negative.
        """
        if self.parts or self.test_negatives is not None:
            raise ValueError(f"{self.name} ships its own split ({', '.join(self.parts) or 'test negatives'}); "
                             f"a {k}-core filter would change it: use k_core=0")
        core = self.interactions.k_core(k)
        users, items = np.unique(core.users), np.unique(core.items)
        interactions = Interactions(np.searchsorted(users, core.users), np.searchsorted(items, core.items),
                                    len(users), len(items), core.ratings, core.timestamps, core.labels)
        return replace(self, interactions=interactions, user_ids=self.user_ids[users],
                       item_ids=self.item_ids[items], item_titles=_titles_of(self.item_titles, items))

    def dense_users(self, raw: np.ndarray | list[int]) -> np.ndarray:
        """Dense ids of raw user ids (raises ``KeyError`` for an unknown id)."""
        return _dense(self.user_ids, raw, "user")

    def dense_items(self, raw: np.ndarray | list[int]) -> np.ndarray:
        """Dense ids of raw item ids (raises ``KeyError`` for an unknown id)."""
        return _dense(self.item_ids, raw, "item")

    def title(self, item: int) -> str:
        """The title of a dense item id, or ``"item <raw id>"`` when the source has none."""
        if self.item_titles is not None and item in self.item_titles.index:
            return str(self.item_titles[item])
        return f"item {self.item_ids[item]}"

    def summary(self) -> dict[str, object]:
        """The sizes a reader checks first (what ``python -m rec_unlearn_lib data`` prints)."""
        n = len(self.interactions)
        out: dict[str, object] = {"dataset": self.name, "users": self.num_users, "items": self.num_items,
                                  "interactions": n, "density": n / (self.num_users * self.num_items),
                                  "implicit": self.implicit}
        out.update({f"{k}_interactions": len(v) for k, v in self.parts.items()})
        return out


def _dense(table: np.ndarray, raw: np.ndarray | list[int], what: str) -> np.ndarray:
    raw = np.asarray(raw)
    pos = np.searchsorted(table, raw).clip(max=len(table) - 1)
    bad = table[pos] != raw
    if bad.any():
        raise KeyError(f"unknown raw {what} id(s): {raw[bad][:5].tolist()}")
    return pos.astype(np.int64)


# --------------------------------------------------------------------------- parsing

ID_COLUMNS = frozenset({"user", "item", "time"})
"""Columns that must hold integers (ratings and counts may be real numbers), unless a layout has string ids."""


def _read_table(path: Path, sep: str, names: list[str], encoding: str = "utf-8", *,
                text_ids: frozenset[str] = frozenset(), header: bool = False) -> pd.DataFrame:
    """Read a table with integer ids; any deviation raises :class:`MalformedDataError`.

    Args:
        text_ids: id columns that hold strings (Amazon's user and item codes, ISBNs), read as text.
        header: whether the file's first line names the columns (it is skipped; ``names`` are used).
    """
    try:
        frame = pd.read_csv(path, sep=sep, header=0 if header else None, names=names,
                            engine="python" if len(sep) > 1 else "c", encoding=encoding, on_bad_lines="error",
                            dtype={column: str for column in text_ids})
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise MalformedDataError(f"malformed file {path}: {err}") from err
    if frame.isna().any().any():
        row = int(np.flatnonzero(frame.isna().any(axis=1).to_numpy())[0])
        raise MalformedDataError(f"malformed file {path}: line {row + 1} has {len(names)} expected columns "
                                 f"({', '.join(names)}) but some are missing")
    for col in (set(names) & ID_COLUMNS) - text_ids:
        if not pd.api.types.is_integer_dtype(frame[col]):
            raise MalformedDataError(f"malformed file {path}: column {col!r} must hold integers, "
                                     f"found e.g. {frame[col].iloc[0]!r}")
    return frame


def _read_user_lines(path: Path) -> pd.DataFrame:
    """Parse ``user item item ...`` lines (RecEraser / LightGCN layout) into (user, item) rows."""
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                ids = np.array(tokens, dtype=np.int64)
            except ValueError as err:
                raise MalformedDataError(f"malformed file {path}: line {lineno} must hold integer ids "
                                         f"'user item item ...': {err}") from err
            users.append(np.full(len(ids) - 1, ids[0]))
            items.append(ids[1:])
    if not users:
        raise MalformedDataError(f"malformed file {path}: no interactions")
    return pd.DataFrame({"user": np.concatenate(users), "item": np.concatenate(items)})


def _assemble(name: str, frames: dict[str, pd.DataFrame], implicit: bool,
              titles: pd.Series | None = None) -> Dataset:
    """Re-index raw ids densely over all parts and build the :class:`Dataset`."""
    whole = pd.concat(list(frames.values()), ignore_index=True)
    users, user_ids = _dense_codes(whole["user"])
    items, item_ids = _dense_codes(whole["item"])
    ratings = whole["rating"].to_numpy(np.float32) if "rating" in whole else None
    times = whole["time"].to_numpy(np.int64) if "time" in whole else None
    every = Interactions(users, items, len(user_ids), len(item_ids), ratings=ratings, timestamps=times)
    bounds = np.cumsum([0] + [len(frame) for frame in frames.values()])
    parts = {key: every.subset(np.arange(start, stop)) for key, start, stop in zip(frames, bounds[:-1], bounds[1:])}
    return Dataset(name=name, interactions=every, user_ids=user_ids, item_ids=item_ids,
                   parts=parts if len(parts) > 1 else {}, item_titles=_titles_of(titles, item_ids), implicit=implicit)


def _titles_of(titles: pd.Series | None, ids: np.ndarray) -> pd.Series | None:
    """``titles`` (indexed by an item id) of the items ``ids`` [m, sorted], re-indexed by position in ``ids``."""
    if titles is None:
        return None
    known = titles[titles.index.isin(ids)]
    return pd.Series(known.to_numpy(), index=np.searchsorted(ids, known.index.to_numpy()), name="title")


def _dense_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, raw)``: int64 [n] dense ids in sorted raw-id order, and the [m] sorted raw ids (int64, or
    fixed-width strings for text ids, so that :func:`_dense` can search them)."""
    codes, uniques = pd.factorize(column, sort=True)
    raw = uniques.to_numpy(str) if column.dtype == object or pd.api.types.is_string_dtype(column) \
        else uniques.to_numpy()
    return codes.astype(np.int64), raw


def _titles(path: Path, sep: str, encoding: str = "latin-1") -> pd.Series:
    """Item titles from the first two columns of a GroupLens item file."""
    rows = [line.rstrip("\n").split(sep)[:2] for line in open(path, encoding=encoding) if line.strip()]
    try:
        return pd.Series([r[1] for r in rows], index=[int(r[0]) for r in rows], name="title")
    except (IndexError, ValueError) as err:
        raise MalformedDataError(f"malformed file {path}: expected 'id{sep}title{sep}...' lines") from err


RATING_COLUMNS = ["user", "item", "rating", "time"]


def _load_ml100k(folder: Path) -> Dataset:
    frame = _read_table(folder / "u.data", "\t", RATING_COLUMNS)
    return _assemble("ml-100k", {"all": frame}, implicit=False, titles=_titles(folder / "u.item", "|"))


def _load_ml1m(folder: Path) -> Dataset:
    frame = _read_table(folder / "ratings.dat", "::", RATING_COLUMNS)
    return _assemble("ml-1m", {"all": frame}, implicit=False, titles=_titles(folder / "movies.dat", "::"))


def _load_amazon_electronics(folder: Path) -> Dataset:
    """SNAP's 2014 ratings-only file: 7,824,482 rows of (user, item, rating, time).

    IFRU's Table 1 counts 7,824,481: its code reads the file with a header row, so the first rating is lost.
    """
    frame = _read_table(folder / "ratings_Electronics.csv", ",", RATING_COLUMNS, text_ids=frozenset({"user", "item"}))
    return _assemble("amazon-electronics", {"all": frame}, implicit=False)


def _load_bookcrossing(folder: Path) -> Dataset:
    """The Book-Crossing ratings: 1,149,780 rows of (user, ISBN, rating 0-10), 0 an implicit interaction."""
    frame = _read_table(folder / "BX-Book-Ratings.csv", ";", ["user", "item", "rating"], encoding="latin-1",
                        text_ids=frozenset({"item"}), header=True)
    return _assemble("bookcrossing", {"all": frame}, implicit=False)


def _user_lines_loader(name: str) -> Callable[[Path], Dataset]:
    def load(folder: Path) -> Dataset:
        frames = {part: _read_user_lines(folder / f"{part}.txt") for part in ("train", "test")}
        return _assemble(name, frames, implicit=True)
    return load


def _load_lastfm(folder: Path) -> Dataset:
    names = ["user", "item", "count"]
    frames = {"train": _read_table(folder / "data1.txt", "\t", names)[["user", "item"]],
              "test": _read_table(folder / "test1.txt", "\t", names)[["user", "item"]]}
    return _assemble("lastfm", frames, implicit=True)


def _ncf_loader(name: str, prefix: str) -> Callable[[Path], Dataset]:
    def load(folder: Path) -> Dataset:
        frames = {part: _read_table(folder / f"{prefix}.{part}.rating", "\t", RATING_COLUMNS)
                  for part in ("train", "test")}
        data = _assemble(name, frames, implicit=True)
        negatives = _read_ncf_negatives(folder / f"{prefix}.test.negative")
        if len(negatives) != len(data.parts["test"]):
            raise MalformedDataError(f"malformed file {folder / f'{prefix}.test.negative'}: {len(negatives)} "
                                     f"rows for {len(data.parts['test'])} test interactions")
        known = np.isin(negatives, data.item_ids)
        if not known.all():
            raise MalformedDataError(f"{prefix}.test.negative names items absent from train and test")
        dense = np.searchsorted(data.item_ids, negatives)
        return replace(data, test_negatives=dense)
    return load


def _read_ncf_negatives(path: Path) -> np.ndarray:
    """int64 [n_test, m]: the raw negative items of each ``(user,item)\\tneg\\tneg...`` line."""
    rows = []
    for lineno, line in enumerate(open(path, encoding="utf-8"), start=1):
        if not line.strip():
            continue
        head, *negs = line.split("\t")
        if not re.fullmatch(r"\(\d+,\d+\)", head):
            raise MalformedDataError(f"malformed file {path}: line {lineno} must start with '(user,item)'")
        rows.append([int(n) for n in negs])
    if len({len(r) for r in rows}) != 1:
        raise MalformedDataError(f"malformed file {path}: lines hold different numbers of negatives")
    return np.array(rows, dtype=np.int64)


# The parser of each data set of the registry :data:`~rec_unlearn_lib.sources.SOURCES` (one name, one entry
# there: a test checks that every registered source has a parser here).
PARSERS: dict[str, Callable[[Path], Dataset]] = {
    "ml-100k": _load_ml100k,
    "ml-1m": _load_ml1m,
    "receraser-ml-1m": _user_lines_loader("receraser-ml-1m"),
    "lastfm": _load_lastfm,
    "ncf-ml-1m": _ncf_loader("ncf-ml-1m", "ml-1m"),
    "ncf-pinterest-20": _ncf_loader("ncf-pinterest-20", "pinterest-20"),
    "yelp2018": _user_lines_loader("yelp2018"),
    "gowalla": _user_lines_loader("gowalla"),
    "amazon-book": _user_lines_loader("amazon-book"),
    "amazon-electronics": _load_amazon_electronics,
    "bookcrossing": _load_bookcrossing,
}


def load_dataset(name: str, root: str | Path | None = None, download: bool | None = None) -> Dataset:
    """Load a registered data set by name.

    Args:
        name: one of :data:`~rec_unlearn_lib.sources.SOURCES` (``ml-100k``, ``receraser-ml-1m``, ``lastfm``, ...).
        root: a data root holding ``<root>/<name>/``; default ``$REC_UNLEARN_DATA``, then the cache.
        download: whether a missing data set may be downloaded (see :func:`rec_unlearn_lib.sources.locate`).

    Raises:
        ValueError: unknown name.
        rec_unlearn_lib.sources.DatasetNotFoundError: the files are nowhere and cannot be downloaded;
            the message says which paths were searched and what to set.
        MalformedDataError: a file does not follow its layout.
    """
    SOURCES.check(name)
    return PARSERS[name](locate(name, root=root, download=download))
