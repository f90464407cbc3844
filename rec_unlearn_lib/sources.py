"""Where the book's data sets come from, and how to find them on disk or fetch them.

Each data set is registered once in :data:`SOURCES` as a name, the public files it is made of
(URL, SHA-256, and for zip archives the members to keep) and the file names the loaders read.
:func:`locate` returns the folder holding those files, looking in this order:

1. ``root`` (an argument), then ``$REC_UNLEARN_DATA``, then the cache
   (:func:`default_cache_dir`): in each, the folder ``<base>/<name>/`` must hold every
   required file;
2. otherwise, unless ``REC_UNLEARN_OFFLINE=1``, download into ``<cache>/<name>/``.

Downloads are verified before they are moved into place, so a folder never holds a partial or
unverified file. Files without a registered checksum are trusted on first use: their hash is
recorded in ``<cache>/<name>/SHA256SUMS`` and enforced on any later download.

On machines without internet, point ``REC_UNLEARN_DATA`` at a mirror with the same layout,
e.g. ``REC_UNLEARN_DATA=/path/to/data``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from .files import temporary_beside
from .registry import Registry

__all__ = [
    "SOURCES",
    "DatasetNotFoundError",
    "DatasetSource",
    "RemoteFile",
    "default_cache_dir",
    "download",
    "locate",
]

_CHUNK = 1 << 20  # bytes read per step while streaming a download
_TIMEOUT_S = 60  # socket timeout of one download
_SUMS_FILE = "SHA256SUMS"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set as published.

    Attributes:
        url: ``http(s)://`` or ``file://`` address.
        sha256: hex digest of the published bytes, or ``None`` when no trustworthy value is known
            (then the first download's hash is recorded and enforced afterwards).
        filename: name the file is saved under (for an archive: the temporary name of the zip).
        members: for a zip archive, the members to extract, flat, into the data set folder
            (``"ml-100k/u.data"`` becomes ``u.data``); the archive itself is then deleted.
            Empty for a plain file.
    """

    url: str
    sha256: str | None
    filename: str
    members: tuple[str, ...] = ()

    def outputs(self) -> tuple[str, ...]:
        """Names of the files this entry leaves in the data set folder."""
        if self.members:
            return tuple(PurePosixPath(m).name for m in self.members)
        return (self.filename,)


@dataclass(frozen=True)
class DatasetSource:
    """A registered data set: what to download and which files the loaders need.

    Attributes:
        name: registry key and folder name (``<base>/<name>/``).
        description: one line for humans.
        files: the published files.
        required: file names that must all exist in the folder for it to count as present.
        homepage: where the data set is described.
        citation: the reference to cite when using the data.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...]
    required: tuple[str, ...]
    homepage: str = ""
    citation: str = ""

    def __post_init__(self) -> None:
        produced = {out for f in self.files for out in f.outputs()}
        missing = [r for r in self.required if r not in produced]
        if missing:
            raise ValueError(f"{self.name}: required files {missing} are produced by no entry")


class DatasetNotFoundError(FileNotFoundError):
    """The data set is neither on disk nor downloadable; the message says where it looked."""


_GROUPLENS = "https://files.grouplens.org/datasets/movielens"
_MOVIELENS_CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and "
    "Context. ACM TiiS 5(4):19."
)
_NCF_CITATION = (
    "Xiangnan He, Lizi Liao, Hanwang Zhang, Liqiang Nie, Xia Hu and Tat-Seng Chua. 2017. "
    "Neural Collaborative Filtering. WWW 2017."
)
_NGCF_CITATION = (
    "Xiang Wang, Xiangnan He, Meng Wang, Fuli Feng and Tat-Seng Chua. 2019. Neural Graph "
    "Collaborative Filtering. SIGIR 2019 (the split); Xiangnan He et al. 2020. LightGCN. "
    "SIGIR 2020 (the copy downloaded here)."
)
# RecEraser and LightGCN-PyTorch files are pinned to commits whose copies (indexed snapshots of
# those repositories) have the sizes of the project's mirror; the NCF and LightGCN (TF) files
# could not be checked that way and point at the default branch (their hashes are recorded on
# first download instead).
_RECERASER_RAW = (
    "https://raw.githubusercontent.com/chenchongthu/Recommendation-Unlearning/"
    "57de48e21f1a338438bf6bd8f77fab0f4de15453/data/ml-1m"
)
_LIGHTGCN_PT_RAW = (
    "https://raw.githubusercontent.com/gusye1234/LightGCN-PyTorch/"
    "ef7aae37fc51973feabfc7e534720ea51f9eedf6/data/lastfm"
)
_SNAP_AMAZON = "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles"
# The address IFRU's paper gives (its footnote 8); the host has been unreliable, and a copy of the same zip
# placed in <root>/bookcrossing/ (its member BX-Book-Ratings.csv) serves as well.
_BOOKCROSSING_ZIP = "https://www2.informatik.uni-freiburg.de/~cziegler/BX/BX-CSV-Dump.zip"
_NCF_RAW = "https://raw.githubusercontent.com/hexiangnan/neural_collaborative_filtering/master/Data"
_LIGHTGCN_RAW = "https://raw.githubusercontent.com/kuandeng/LightGCN/master/Data"


def _ncf(prefix: str, description: str) -> DatasetSource:
    """An NCF leave-one-out split: ``<prefix>.{train.rating,test.rating,test.negative}``."""
    suffixes = ("train.rating", "test.rating", "test.negative")
    names = tuple(f"{prefix}.{suffix}" for suffix in suffixes)
    return DatasetSource(
        name=f"ncf-{prefix}",
        description=description,
        # No published checksums: trusted on first use.
        files=tuple(RemoteFile(f"{_NCF_RAW}/{n}", None, n) for n in names),
        required=names,
        homepage="https://github.com/hexiangnan/neural_collaborative_filtering",
        citation=_NCF_CITATION,
    )


def _lightgcn(name: str, description: str) -> DatasetSource:
    """An NGCF/LightGCN split: ``train.txt`` and ``test.txt``, one line ``user item item ...``."""
    names = ("train.txt", "test.txt")
    return DatasetSource(
        name=name,
        description=description,
        # No published checksums: trusted on first use.
        files=tuple(RemoteFile(f"{_LIGHTGCN_RAW}/{name}/{n}", None, n) for n in names),
        required=names,
        homepage="https://github.com/kuandeng/LightGCN",
        citation=_NGCF_CITATION,
    )


_REGISTERED = (
    DatasetSource(
        name="ml-100k",
        description="MovieLens 100K: 100,000 ratings (1-5) by 943 users on 1,682 movies.",
        # SHA-256 of ml-100k.zip (4,924,029 bytes) from tensorflow/datasets
        # url_checksums/movielens.txt; the same value is pinned by tensorflow/models and others.
        files=(
            RemoteFile(
                f"{_GROUPLENS}/ml-100k.zip",
                "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
                "ml-100k.zip",
                members=("ml-100k/u.data", "ml-100k/u.item", "ml-100k/u.user"),
            ),
        ),
        required=("u.data", "u.item", "u.user"),
        homepage="https://grouplens.org/datasets/movielens/100k/",
        citation=_MOVIELENS_CITATION,
    ),
    DatasetSource(
        name="ml-1m",
        description="MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users on 3,706 movies.",
        # SHA-256 of ml-1m.zip (5,917,549 bytes) from tensorflow/datasets
        # url_checksums/movielens.txt; tensorflow/models official/recommendation pins it too.
        files=(
            RemoteFile(
                f"{_GROUPLENS}/ml-1m.zip",
                "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
                "ml-1m.zip",
                members=("ml-1m/ratings.dat", "ml-1m/movies.dat", "ml-1m/users.dat"),
            ),
        ),
        required=("ratings.dat", "movies.dat", "users.dat"),
        homepage="https://grouplens.org/datasets/movielens/1m/",
        citation=_MOVIELENS_CITATION,
    ),
    DatasetSource(
        name="receraser-ml-1m",
        description="MovieLens 1M as split by RecEraser: implicit, `user item ...`, ids from 0.",
        # SHA-256 of the files of the project's byte-identical mirror (shared/data/SHA256SUMS).
        files=(
            RemoteFile(
                f"{_RECERASER_RAW}/train.txt",
                "c74ca36cdff687523a151f25ae24a8e93f52906d599e446625a393fdb06443d7",
                "train.txt",
            ),
            RemoteFile(
                f"{_RECERASER_RAW}/test.txt",
                "0ea4825f0016fffc2b44329ef3617efbf6a3c3ba6e145c48b7a8b46b7313d5c5",
                "test.txt",
            ),
        ),
        required=("train.txt", "test.txt"),
        homepage="https://github.com/chenchongthu/Recommendation-Unlearning",
        citation=(
            "Chong Chen, Fei Sun, Min Zhang and Bolin Ding. 2022. Recommendation Unlearning. "
            "WWW 2022."
        ),
    ),
    DatasetSource(
        name="lastfm",
        description="Last.fm (HetRec 2011), LightGCN-PyTorch preprocessing, with social links.",
        # SHA-256 of the files of the project's byte-identical mirror (shared/data/SHA256SUMS).
        files=(
            RemoteFile(
                f"{_LIGHTGCN_PT_RAW}/data1.txt",
                "c82af3228cbbda2f55a39244de09ed93292894f1d0d9f1908ebb57e27598fded",
                "data1.txt",
            ),
            RemoteFile(
                f"{_LIGHTGCN_PT_RAW}/test1.txt",
                "de4417c0e6123284ce59a0934bcf5288ec1ec8774a18a1eef453c9952dfa48f9",
                "test1.txt",
            ),
            RemoteFile(
                f"{_LIGHTGCN_PT_RAW}/trustnetwork.txt",
                "5b5bd7cbe4d22f3cd333dbfc7ec4b995cb2bdb28d95b0e9c5fc5607079f7b69e",
                "trustnetwork.txt",
            ),
        ),
        required=("data1.txt", "test1.txt", "trustnetwork.txt"),
        homepage="https://github.com/gusye1234/LightGCN-PyTorch",
        citation=(
            "Ivan Cantador, Peter Brusilovsky and Tsvi Kuflik. 2011. 2nd Workshop on Information "
            "Heterogeneity and Fusion in Recommender Systems (HetRec 2011). RecSys 2011."
        ),
    ),
    DatasetSource(
        name="amazon-electronics",
        description="Amazon Electronics ratings (1-5), 2014 dump: 7.8 M ratings by 4.2 M users on 476 K items.",
        # No published checksum (public copies record only its size, 318,766,497 bytes): trusted on first use.
        files=(RemoteFile(f"{_SNAP_AMAZON}/ratings_Electronics.csv", None, "ratings_Electronics.csv"),),
        required=("ratings_Electronics.csv",),
        homepage="https://cseweb.ucsd.edu/~jmcauley/datasets/amazon/links.html",
        citation=(
            "Julian McAuley, Christopher Targett, Qinfeng Shi and Anton van den Hengel. 2015. Image-based "
            "Recommendations on Styles and Substitutes. SIGIR 2015."
        ),
    ),
    DatasetSource(
        name="bookcrossing",
        description="Book-Crossing ratings (0-10, 0 implicit): 1.15 M ratings by 105 K users on 340 K books.",
        # No published checksum: trusted on first use.
        files=(RemoteFile(_BOOKCROSSING_ZIP, None, "BX-CSV-Dump.zip", members=("BX-Book-Ratings.csv",)),),
        required=("BX-Book-Ratings.csv",),
        homepage="http://www2.informatik.uni-freiburg.de/~cziegler/BX/",
        citation=(
            "Cai-Nicolas Ziegler, Sean M. McNee, Joseph A. Konstan and Georg Lausen. 2005. Improving "
            "Recommendation Lists Through Topic Diversification. WWW 2005."
        ),
    ),
    _ncf("ml-1m", "MovieLens 1M, NCF leave-one-out split with 99 sampled test negatives."),
    _ncf("pinterest-20", "Pinterest (users with >= 20 pins), NCF leave-one-out, 99 negatives."),
    _lightgcn("yelp2018", "Yelp 2018 challenge, NGCF/LightGCN 10-core split."),
    _lightgcn("gowalla", "Gowalla check-ins, NGCF/LightGCN 10-core split."),
    _lightgcn("amazon-book", "Amazon-Book reviews, NGCF/LightGCN 10-core split."),
)

# The data sets by name (what to download, which files must be there); their parsers are
# rec_unlearn_lib.data.PARSERS.
SOURCES: Registry[DatasetSource] = Registry("data set")
for _source in _REGISTERED:
    SOURCES.add(_source.name, _source, _source.description)


def default_cache_dir() -> Path:
    """Download cache: ``$REC_UNLEARN_CACHE`` if set, else ``~/.cache/rec_unlearn``."""
    env = os.environ.get("REC_UNLEARN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rec_unlearn"


def _offline() -> bool:
    return os.environ.get("REC_UNLEARN_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def _missing(folder: Path, required: tuple[str, ...]) -> list[str]:
    return [r for r in required if not (folder / r).is_file()]


def _read_sums(folder: Path) -> dict[str, str]:
    """Hashes recorded in ``folder/SHA256SUMS`` (``sha256sum`` format), by file name."""
    path = folder / _SUMS_FILE
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        digest, _, fname = line.strip().partition("  ")
        if fname:
            sums[fname] = digest
    return sums


def _fetch(url: str, target: Path, label: str, progress: bool) -> str:
    """Stream ``url`` into ``target`` and return the SHA-256 hex digest of the bytes.

    Raises ``ConnectionError`` when fewer bytes arrive than the Content-Length announced
    (``HTTPResponse.read(n)`` returns a short body silently on a dropped connection).
    """
    digest = hashlib.sha256()
    received = 0
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=not progress) as bar:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received < total:
        raise ConnectionError(f"{url}: connection closed after {received} of {total} bytes")
    return digest.hexdigest()


def _extract(archive: Path, members: tuple[str, ...], folder: Path) -> None:
    """Extract ``members`` of the zip ``archive`` flat into ``folder``, each atomically."""
    with zipfile.ZipFile(archive) as zf:
        absent = [m for m in members if m not in zf.namelist()]
        if absent:
            raise ValueError(f"{archive.name} lacks members {absent}; it holds {zf.namelist()}")
        for member in members:
            dest = folder / PurePosixPath(member).name
            with temporary_beside(dest, ".part") as tmp:
                with zf.open(member) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                os.replace(tmp, dest)


def download(source: DatasetSource, dest_dir: str | Path, progress: bool = True) -> Path:
    """Download ``source`` into ``dest_dir``, verify it, extract archives; return ``dest_dir``.

    A folder that already holds every required file is returned untouched (no network). Else each
    entry whose outputs are missing is streamed to a temporary file in ``dest_dir`` and its
    SHA-256 is checked BEFORE the file is renamed into place (or its members extracted), so
    ``dest_dir`` never holds a partial or unverified file. An entry without a registered hash is
    checked against the hash recorded in ``dest_dir/SHA256SUMS`` by an earlier download; if
    none was recorded, its hash is recorded there and a warning says so (trust on first use).

    Args:
        source: the data set to fetch.
        dest_dir: the data set folder, usually ``<cache>/<name>``; created if needed.
        progress: show a tqdm bar per file.

    Returns:
        ``dest_dir`` as an absolute path.

    Raises:
        OSError: network or HTTP failure (``urllib.error.URLError`` and subclasses), a
            truncated transfer (``ConnectionError``), disk errors.
        ValueError: checksum mismatch (the message names the file, expected and actual hash) or
            an archive without an expected member.
    """
    folder = Path(dest_dir).expanduser().resolve()
    if not _missing(folder, source.required):
        return folder
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for remote in source.files:
            if _missing(folder, remote.outputs()):
                _download_file(remote, folder, source.name, progress)
    except BaseException:
        if created and not any(folder.iterdir()):
            folder.rmdir()  # leave no empty folder behind a failed first download
        raise
    return folder


def _download_file(remote: RemoteFile, folder: Path, dataset: str, progress: bool) -> None:
    """Fetch one entry into ``folder``: verify or record its hash, then rename or extract."""
    recorded = _read_sums(folder).get(remote.filename)
    expected = remote.sha256 or recorded
    with temporary_beside(folder / remote.filename, ".part") as tmp:
        actual = _fetch(remote.url, tmp, f"{dataset}/{remote.filename}", progress)
        if expected is not None and actual != expected.lower():
            raise ValueError(
                f"checksum mismatch for {remote.filename} from {remote.url}: "
                f"expected sha256 {expected}, got {actual}; the file was discarded"
            )
        if expected is None:
            with open(folder / _SUMS_FILE, "a") as sums:
                sums.write(f"{actual}  {remote.filename}\n")
            warnings.warn(
                f"{remote.filename}: no registered checksum; recorded {actual} in "
                f"{folder / _SUMS_FILE} (trusted on first use)",
                stacklevel=2,
            )
        if remote.members:
            _extract(tmp, remote.members, folder)
        else:
            os.replace(tmp, folder / remote.filename)


_download = download  # locate's `download` argument shadows the function's name


def locate(name: str, root: str | Path | None = None, download: bool | None = None) -> Path:
    """Return the folder that holds every required file of the data set ``name``.

    Looks in ``<root>/<name>``, ``$REC_UNLEARN_DATA/<name>`` and ``<cache>/<name>`` in this
    order (existing files are not re-hashed: only downloads are verified). If none is complete
    and downloading is allowed, downloads into ``<cache>/<name>`` (see :func:`download`).

    Args:
        name: a key of :data:`SOURCES`.
        root: a folder holding ``<name>/`` (e.g. a mirror), searched first.
        download: allow a download; ``None`` means yes unless ``REC_UNLEARN_OFFLINE=1``.

    Returns:
        The absolute path of the data set folder.

    Raises:
        ValueError: unknown ``name`` (the message lists the known ones), or a downloaded file
            that does not match its checksum (from :func:`download`).
        DatasetNotFoundError: nothing found and the download was disabled or failed; the
            message names the data set, every folder searched, the download error and the fix.
    """
    source = SOURCES[name]
    cache = default_cache_dir() / name
    candidates: list[tuple[Path, str]] = []
    if root is not None:
        candidates.append((Path(root).expanduser() / name, "root argument"))
    if os.environ.get("REC_UNLEARN_DATA"):
        candidates.append((Path(os.environ["REC_UNLEARN_DATA"]).expanduser() / name,
                           "$REC_UNLEARN_DATA"))
    candidates.append((cache, "cache"))
    searched = []
    for folder, origin in candidates:
        folder = folder.resolve()
        missing = _missing(folder, source.required)
        if not missing:
            return folder
        searched.append(f"  - {folder} ({origin}; missing {', '.join(missing)})")

    if download is None:
        download = not _offline()
    if download:
        try:
            return _download(source, cache)
        except OSError as err:  # URLError, HTTPError, timeouts, refused connections, disk errors
            failure = f"Downloading into {cache.resolve()} failed: {err!r}."
    else:
        failure = "Downloading is disabled (download=False or REC_UNLEARN_OFFLINE=1)."
    fix = (
        f"Set REC_UNLEARN_DATA to a folder that holds {name}/ "
        "(e.g. REC_UNLEARN_DATA=/path/to/data) or pass root= to locate()."
    )
    raise DatasetNotFoundError(
        "\n".join([f"Data set {name!r} not found. Searched:", *searched, failure, fix])
    )
