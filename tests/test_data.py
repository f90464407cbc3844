"""Loaders read the public layouts; bad files and missing data fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from rec_unlearn_lib.data import MalformedDataError, load_dataset
from rec_unlearn_lib.sources import DatasetNotFoundError


def test_ml100k_sizes_titles_and_id_maps(data_root):
    ds = load_dataset("ml-100k", root=data_root)
    assert (ds.num_users, ds.num_items, len(ds.interactions)) == (943, 1682, 100_000)
    assert ds.interactions.ratings is not None and set(np.unique(ds.interactions.ratings)) == {1, 2, 3, 4, 5}
    toy_story = ds.dense_items([1])[0]
    assert ds.title(toy_story) == "Toy Story (1995)"
    # dense <-> raw round trip, both directions
    dense = np.arange(ds.num_users)
    assert np.array_equal(ds.dense_users(ds.user_ids[dense]), dense)
    assert ds.item_ids[ds.dense_items([1682])[0]] == 1682
    with pytest.raises(KeyError, match="unknown raw item"):
        ds.dense_items([99999])
    # the first line of u.data is "196 242 3 881250949"
    first = (ds.user_ids[ds.interactions.users[0]], ds.item_ids[ds.interactions.items[0]])
    assert first == (196, 242) and ds.interactions.ratings[0] == 3


def test_receraser_ml1m_split_as_shipped(data_root):
    ds = load_dataset("receraser-ml-1m", root=data_root)
    assert ds.num_users == 6040 and len(ds.interactions) == 920_193
    assert len(ds.parts["train"]) == 720_152 and len(ds.parts["test"]) == 200_041
    train, test = ds.parts["train"], ds.parts["test"]
    assert not train.contains(test.users, test.items).any()  # no overlap, as measured in the facts file


def test_lastfm_parts(data_root):
    ds = load_dataset("lastfm", root=data_root)
    assert len(ds.parts["train"]) == 42_135 and len(ds.parts["test"]) == 10_533
    assert ds.implicit


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown data set 'nope'"):
        load_dataset("nope")


def test_missing_data_offline_names_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("REC_UNLEARN_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("ml-100k", root=tmp_path, download=False)
    message = str(err.value)
    assert "ml-100k" in message and str(tmp_path) in message and "REC_UNLEARN_DATA" in message


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_malformed_ratings_file(tmp_path):
    _write(tmp_path / "ml-100k", "u.data", "1\t2\t3\t100\n1\tx\t3\t101\n")
    _write(tmp_path / "ml-100k", "u.item", "2|Some film (1999)|x\n")
    _write(tmp_path / "ml-100k", "u.user", "1|20|M|x|0\n")
    with pytest.raises(MalformedDataError, match="u.data"):
        load_dataset("ml-100k", root=tmp_path)


def test_missing_column(tmp_path):
    _write(tmp_path / "ml-100k", "u.data", "1\t2\t3\t100\n1\t3\n")
    _write(tmp_path / "ml-100k", "u.item", "2|A (1999)|x\n3|B (1999)|x\n")
    _write(tmp_path / "ml-100k", "u.user", "1|20|M|x|0\n")
    with pytest.raises(MalformedDataError, match="missing"):
        load_dataset("ml-100k", root=tmp_path)


def test_malformed_user_lines(tmp_path):
    _write(tmp_path / "receraser-ml-1m", "train.txt", "0 1 2\n1 2 three\n")
    _write(tmp_path / "receraser-ml-1m", "test.txt", "0 3\n")
    with pytest.raises(MalformedDataError, match="line 2"):
        load_dataset("receraser-ml-1m", root=tmp_path)


def test_user_lines_reindexed_densely(tmp_path):
    _write(tmp_path / "receraser-ml-1m", "train.txt", "0 10 20\n5 20\n")
    _write(tmp_path / "receraser-ml-1m", "test.txt", "5 30\n")
    ds = load_dataset("receraser-ml-1m", root=tmp_path)
    assert ds.user_ids.tolist() == [0, 5] and ds.item_ids.tolist() == [10, 20, 30]
    assert ds.parts["train"].users.tolist() == [0, 0, 1] and ds.parts["test"].items.tolist() == [2]


def test_ncf_layout_with_negatives(tmp_path):
    folder = tmp_path / "ncf-ml-1m"
    _write(folder, "ml-1m.train.rating", "0\t1\t5\t10\n0\t2\t4\t11\n1\t1\t3\t12\n1\t4\t3\t12\n2\t5\t3\t12\n")
    _write(folder, "ml-1m.test.rating", "0\t3\t5\t13\n1\t2\t4\t14\n")
    _write(folder, "ml-1m.test.negative", "(0,3)\t4\t5\n(1,2)\t3\t5\n")
    ds = load_dataset("ncf-ml-1m", root=tmp_path)
    assert ds.test_negatives is not None and ds.test_negatives.shape == (2, 2)
    assert ds.item_ids[ds.test_negatives].tolist() == [[4, 5], [3, 5]]


def test_amazon_electronics_string_ids(tmp_path):
    _write(tmp_path / "amazon-electronics", "ratings_Electronics.csv",
           "AKM1MP6P0OYPR,0132793040,5.0,1365811200\nA2CX7LUOHB2NDG,0321732944,4.0,1341100800\n"
           "AKM1MP6P0OYPR,0321732944,1.0,1367193600\n")
    ds = load_dataset("amazon-electronics", root=tmp_path)
    assert ds.user_ids.tolist() == ["A2CX7LUOHB2NDG", "AKM1MP6P0OYPR"]
    assert ds.item_ids.tolist() == ["0132793040", "0321732944"]    # leading zeros kept: ids are text
    assert ds.interactions.users.tolist() == [1, 0, 1] and ds.interactions.items.tolist() == [0, 1, 1]
    assert ds.interactions.ratings.tolist() == [5.0, 4.0, 1.0] and not ds.implicit
    assert ds.dense_items(["0321732944"]).tolist() == [1]


def test_bookcrossing_header_quotes_and_latin1(tmp_path):
    folder = tmp_path / "bookcrossing"
    folder.mkdir()
    text = '"User-ID";"ISBN";"Book-Rating"\n"276725";"034545104X";"0"\n"276726";"0155061224";"5"\n' \
           '"276725";"3404921038\u00e9";"7"\n'
    (folder / "BX-Book-Ratings.csv").write_bytes(text.encode("latin-1"))
    ds = load_dataset("bookcrossing", root=tmp_path)
    assert ds.user_ids.tolist() == [276725, 276726]
    assert ds.item_ids.tolist() == ["0155061224", "034545104X", "3404921038\u00e9"]
    assert ds.interactions.ratings.tolist() == [0.0, 5.0, 7.0]    # 0, the implicit rating, is kept


def test_bookcrossing_malformed_row(tmp_path):
    _write(tmp_path / "bookcrossing", "BX-Book-Ratings.csv",
           '"User-ID";"ISBN";"Book-Rating"\n"276725";"034545104X";"0"\n"2767x";"0155061224";"5"\n')
    with pytest.raises(MalformedDataError, match="'user' must hold integers"):
        load_dataset("bookcrossing", root=tmp_path)
