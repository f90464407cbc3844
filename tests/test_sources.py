"""Data set registry, lookup and download, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import re
import stat
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rec_unlearn_lib.data import PARSERS
from rec_unlearn_lib.sources import (
    SOURCES,
    DatasetNotFoundError,
    DatasetSource,
    RemoteFile,
    default_cache_dir,
    download,
    locate,
)

MIRROR = Path("/work/shared/data")
U_DATA = b"1\t10\t5\t881250949\n2\t20\t3\t891717742\n"
U_ITEM = "10|Toy Story (1995)|01-Jan-1995||\n".encode("latin-1")
PLAIN = b"0 1 2\n1 2\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server:
    """A threaded HTTP server on an ephemeral port serving ``directory``."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.running = False


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[_Server, dict[str, bytes]]]:
    """Serve a GroupLens-like zip (top folder ``ml-100k/``) and one plain file."""
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "toy.zip", "w") as zf:
        zf.writestr("ml-100k/u.data", U_DATA)
        zf.writestr("ml-100k/u.item", U_ITEM)
        zf.writestr("ml-100k/README", b"not extracted")
    (root / "train.txt").write_bytes(PLAIN)
    server = _Server(root)
    yield server, {"toy.zip": (root / "toy.zip").read_bytes(), "train.txt": PLAIN}
    server.stop()


def _toy_source(base: str, blobs: dict[str, bytes], **overrides: str | None) -> DatasetSource:
    """A two-entry source at ``base``; ``overrides`` replace the sha256 of a file by name."""
    hashes = {name: _sha(data) for name, data in blobs.items()} | overrides
    return DatasetSource(
        name="toy",
        description="test data set",
        files=(
            RemoteFile(f"{base}/toy.zip", hashes["toy.zip"], "toy.zip",
                       members=("ml-100k/u.data", "ml-100k/u.item")),
            RemoteFile(f"{base}/train.txt", hashes["train.txt"], "train.txt"),
        ),
        required=("u.data", "u.item", "train.txt"),
    )


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache, no mirror, downloads allowed; returns the cache dir."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("REC_UNLEARN_CACHE", str(cache))
    monkeypatch.delenv("REC_UNLEARN_DATA", raising=False)
    monkeypatch.delenv("REC_UNLEARN_OFFLINE", raising=False)
    return cache


def _assert_toy_folder(folder: Path) -> None:
    assert (folder / "u.data").read_bytes() == U_DATA
    assert (folder / "u.item").read_bytes() == U_ITEM
    assert (folder / "train.txt").read_bytes() == PLAIN
    # members extracted flat, the archive and the unrequested member gone, no temporary files
    assert sorted(p.name for p in folder.iterdir()) == ["train.txt", "u.data", "u.item"]


def test_download_verifies_and_extracts(served, env: Path, umask_022: int) -> None:
    server, blobs = served
    folder = download(_toy_source(server.url, blobs), env / "toy", progress=False)
    assert folder == (env / "toy").resolve()
    _assert_toy_folder(folder)
    # readable by whoever the umask lets read a plain file (a shared cache), not mkstemp's owner-only 0o600
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {umask_022}


def test_locate_downloads_then_reuses_cache_offline(served, env) -> None:
    server, blobs = served
    with SOURCES.temporary("toy", _toy_source(server.url, blobs)):
        assert default_cache_dir() == env
        first = locate("toy")
        _assert_toy_folder(first)
        server.stop()  # no server any more: the second call can only use the cache
        assert locate("toy", download=True) == first


def test_checksum_mismatch_raises_and_leaves_nothing(served, env: Path) -> None:
    server, blobs = served
    wrong = "0" * 64
    source = _toy_source(server.url, blobs, **{"train.txt": wrong})
    with pytest.raises(ValueError) as info:
        download(source, env / "toy", progress=False)
    message = str(info.value)
    assert "train.txt" in message and wrong in message and _sha(PLAIN) in message
    # the zip entry came first and was valid, so its members stay; train.txt left no trace
    assert sorted(p.name for p in (env / "toy").iterdir()) == ["u.data", "u.item"]


def test_file_url(served, env: Path, tmp_path: Path) -> None:
    _, blobs = served
    folder = download(_toy_source((tmp_path / "www").as_uri(), blobs), env / "toy", progress=False)
    _assert_toy_folder(folder)


def test_unregistered_hash_is_recorded_then_enforced(served, env: Path, tmp_path: Path) -> None:
    server, blobs = served
    source = _toy_source(server.url, blobs, **{"train.txt": None})
    with pytest.warns(UserWarning, match="no registered checksum; recorded"):
        folder = download(source, env / "toy", progress=False)
    assert (folder / "SHA256SUMS").read_text() == f"{_sha(PLAIN)}  train.txt\n"
    # the upstream file changes: the recorded hash now rejects it
    (folder / "train.txt").unlink()
    (tmp_path / "www" / "train.txt").write_bytes(b"changed upstream")
    with pytest.raises(ValueError, match=r"checksum mismatch for train\.txt"):
        download(source, folder, progress=False)
    assert not (folder / "train.txt").exists()


AMAZON_CSV = b"A2CX7LUOHB2NDG,0321732944,5.0,1341100800\nA2NWSAGRHCP8N5,0439886341,1.0,1367193600\n"
BX_RATINGS = '"User-ID";"ISBN";"Book-Rating"\n"276725";"034545104X";"0"\n"276726";"0155061224";"5"\n'


def test_amazon_and_bookcrossing_download_as_registered(tmp_path: Path, env: Path) -> None:
    """The two IFRU sources, served with their published names and layouts, download and parse."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "ratings_Electronics.csv").write_bytes(AMAZON_CSV)
    with zipfile.ZipFile(root / "BX-CSV-Dump.zip", "w") as zf:
        zf.writestr("BX-Book-Ratings.csv", BX_RATINGS.encode("latin-1"))
        zf.writestr("BX-Users.csv", b"not extracted")
    server = _Server(root)
    try:
        for name in ("amazon-electronics", "bookcrossing"):
            registered = SOURCES[name]
            files = tuple(dataclasses.replace(f, url=f"{server.url}/{f.url.rsplit('/', 1)[1]}")
                          for f in registered.files)
            with pytest.warns(UserWarning, match="no registered checksum"):
                folder = download(dataclasses.replace(registered, files=files), env / name, progress=False)
            assert sorted(p.name for p in folder.iterdir()) == sorted([*registered.required, "SHA256SUMS"])
            dataset = PARSERS[name](folder)
            assert len(dataset.interactions) == 2 and not dataset.implicit
    finally:
        server.stop()


def test_offline_without_data_names_everything(env, monkeypatch, tmp_path: Path) -> None:
    mirror = tmp_path / "empty-mirror"
    monkeypatch.setenv("REC_UNLEARN_DATA", str(mirror))
    monkeypatch.setenv("REC_UNLEARN_OFFLINE", "1")
    with pytest.raises(DatasetNotFoundError) as info:
        locate("lastfm", root=tmp_path / "elsewhere")
    message = str(info.value)
    for expected in ("'lastfm'", str(tmp_path / "elsewhere" / "lastfm"), str(mirror / "lastfm"),
                     str(env / "lastfm"), "REC_UNLEARN_DATA", "root="):
        assert expected in message
    assert isinstance(info.value, FileNotFoundError)
    assert not (env / "lastfm").exists()


def test_failed_download_is_reported(served, env) -> None:
    server, blobs = served
    broken = _toy_source(server.url + "/missing", blobs)  # every URL answers 404
    with SOURCES.temporary("toy", broken), pytest.raises(DatasetNotFoundError,
                                                         match=r"(?s)'toy'.*404.*REC_UNLEARN_DATA"):
        locate("toy")
    assert not (env / "toy").exists()  # no empty folder left behind


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Announces 100 bytes, sends 10, closes: a dropped connection."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_truncated_transfer_is_a_failure(env) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TruncatingHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/data.txt"
        # no registered hash: without the length check the stub would be trusted on first use
        source = DatasetSource("toy", "x", (RemoteFile(url, None, "data.txt"),), ("data.txt",))
        with SOURCES.temporary("toy", source), pytest.raises(DatasetNotFoundError, match="after 10 of 100 bytes"):
            locate("toy")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert not (env / "toy").exists()


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown data set 'ml-42'.*ml-100k"):
        locate("ml-42")


def test_source_requires_producible_files() -> None:
    with pytest.raises(ValueError, match=r"\['b.txt'\]"):
        DatasetSource("x", "x", (RemoteFile("file:///a.txt", None, "a.txt"),), ("a.txt", "b.txt"))


def test_registry_is_well_formed() -> None:
    assert {"ml-100k", "ml-1m", "receraser-ml-1m", "lastfm", "ncf-ml-1m", "ncf-pinterest-20",
            "yelp2018", "gowalla", "amazon-book", "amazon-electronics", "bookcrossing"} <= set(SOURCES)
    for name, source in SOURCES.items():
        assert source.name == name
        for remote in source.files:
            assert remote.url.startswith("https://")
            assert remote.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", remote.sha256)


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no shared data mirror on this machine")
def test_locate_finds_the_mirror(env) -> None:
    folder = locate("ml-100k", root=MIRROR, download=False)
    assert folder == (MIRROR / "ml-100k").resolve()
    sums = {}
    for line in (MIRROR / "SHA256SUMS").read_text().splitlines():
        digest, relpath = line.split(maxsplit=1)
        sums[relpath] = digest
    for fname in SOURCES["ml-100k"].required:
        assert _sha((folder / fname).read_bytes()) == sums[f"ml-100k/{fname}"]
    # the registered hashes of the plain-file data sets are those of the byte-identical mirror
    for name in ("receraser-ml-1m", "lastfm"):
        for remote in SOURCES[name].files:
            assert remote.sha256 == sums[f"{name}/{remote.filename}"]


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no shared data mirror on this machine")
def test_locate_reads_env_mirror(env, monkeypatch) -> None:
    monkeypatch.setenv("REC_UNLEARN_DATA", str(MIRROR))
    monkeypatch.setenv("REC_UNLEARN_OFFLINE", "1")
    assert locate("receraser-ml-1m") == (MIRROR / "receraser-ml-1m").resolve()
