"""``medfed data fetch`` against an HTTP server on 127.0.0.1 that the test starts itself."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from medfed_ray.cli.app import app
from medfed_ray.data import medmnist_catalog
from medfed_ray.data.datasets import load_dataset
from medfed_ray.data.errors import DataFileError, FetchError
from medfed_ray.data.fetch import fetch_medmnist
from medfed_ray.scenario.schema import DatasetConfig


def small_medmnist(path: Path) -> str:
    """Write a tiny file in the MedMNIST layout; return its MD5."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, count in (("train", 30), ("val", 6), ("test", 8)):
        arrays[f"{split}_images"] = rng.integers(
            0, 256, (count, 28, 28), dtype=np.uint8
        )
        arrays[f"{split}_labels"] = (np.arange(count) % 2).astype(np.uint8)[:, None]
    np.savez(path, **arrays)
    return hashlib.md5(path.read_bytes()).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serve a small pneumoniamnist.npz from 127.0.0.1 and point the catalog at it."""
    served = tmp_path / "served"
    served.mkdir()
    md5 = small_medmnist(served / "pneumoniamnist.npz")
    handler = functools.partial(QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(
        medmnist_catalog, "BASE_URL", f"http://127.0.0.1:{httpd.server_port}"
    )
    monkeypatch.setitem(
        medmnist_catalog.MEDMNIST_MD5, "pneumoniamnist", (md5, "-", "-", "-")
    )
    yield httpd, md5
    httpd.shutdown()
    httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fetch_downloads_verifies_and_caches(server, tmp_path):
    """The CLI fetches into --cache-dir and reports the verified checksum."""
    _, md5 = server
    cache = tmp_path / "cache"

    result = CliRunner().invoke(
        app,
        ["data", "fetch", "pneumoniamnist", "--size", "28", "--cache-dir", str(cache)],
    )

    assert result.exit_code == 0, result.output
    target = cache / "medmnist" / "pneumoniamnist.npz"
    assert f"{target}: MD5 verified" in result.output
    assert hashlib.md5(target.read_bytes()).hexdigest() == md5
    assert not target.with_name("pneumoniamnist.npz.part").exists()


def test_cached_file_is_kept_without_asking_the_server(server, tmp_path):
    """A second fetch finds the verified file and does not need the server."""
    httpd, _ = server
    first = fetch_medmnist("pneumoniamnist", 28, tmp_path / "cache")
    httpd.shutdown()

    second = fetch_medmnist("pneumoniamnist", 28, tmp_path / "cache")

    assert second == first


def test_environment_variable_chooses_the_cache(server, tmp_path, monkeypatch):
    """$MEDFED_DATA_DIR replaces the user cache; a scenario's flavour finds the file there."""
    monkeypatch.setenv("MEDFED_DATA_DIR", str(tmp_path / "env-cache"))

    path = fetch_medmnist("pneumoniamnist")
    dataset = load_dataset(
        DatasetConfig(name="medmnist", flavour="pneumoniamnist"),
        np.random.SeedSequence(0),
    )

    assert path == tmp_path / "env-cache" / "medmnist" / "pneumoniamnist.npz"
    assert (len(dataset.y_train), len(dataset.y_test)) == (36, 8)


def test_flavour_not_fetched_yet_says_how_to_fetch(tmp_path, monkeypatch):
    """A scenario naming a flavour that is not in the cache says which command fetches it."""
    monkeypatch.setenv("MEDFED_DATA_DIR", str(tmp_path))
    config = DatasetConfig(name="medmnist", flavour="bloodmnist", size=64)

    with pytest.raises(DataFileError) as caught:
        load_dataset(config, np.random.SeedSequence(0))

    assert str(caught.value) == (
        f"{tmp_path}/medmnist/bloodmnist_64.npz: no such file; fetch it with "
        "`medfed data fetch bloodmnist --size 64` or set dataset.path to a copy you have"
    )


def test_wrong_checksum_discards_the_download(server, tmp_path, monkeypatch):
    """A file whose MD5 differs from the catalog's is removed and reported."""
    httpd, md5 = server
    monkeypatch.setitem(
        medmnist_catalog.MEDMNIST_MD5, "pneumoniamnist", ("0" * 32,) * 4
    )
    url = f"http://127.0.0.1:{httpd.server_port}/pneumoniamnist.npz?download=1"

    with pytest.raises(FetchError) as caught:
        fetch_medmnist("pneumoniamnist", 28, tmp_path)

    assert str(caught.value) == (
        f"the download of {url} has MD5 {md5}, expected {'0' * 32}; the file was "
        "discarded. Try again; if it persists, the server holds another version"
    )
    assert list((tmp_path / "medmnist").iterdir()) == []


def test_offline_fails_at_once_with_by_hand_instructions(tmp_path, monkeypatch):
    """Connection refused: exit code 1 and where to put the file by hand."""
    port = closed_port()
    monkeypatch.setattr(medmnist_catalog, "BASE_URL", f"http://127.0.0.1:{port}")
    cache = tmp_path / "cache"
    _, _, md5 = medmnist_catalog.medmnist_entry("pneumoniamnist", 128)

    result = CliRunner().invoke(
        app,
        ["data", "fetch", "pneumoniamnist", "--size", "128", "--cache-dir", str(cache)],
    )

    assert result.exit_code == 1
    assert (
        f"Error: cannot download http://127.0.0.1:{port}/pneumoniamnist_128.npz"
        f"?download=1: [Errno 111] Connection refused. Without internet access, "
        f"download that file on another machine and put it at "
        f"{cache}/medmnist/pneumoniamnist_128.npz (MD5 {md5}), or point dataset.path "
        "at your copy"
    ) in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        pytest.param(
            ["pneumonia"],
            "Error: unknown MedMNIST flavour 'pneumonia'; known: bloodmnist, breastmnist, "
            "chestmnist, dermamnist, octmnist, organamnist, organcmnist, organsmnist, "
            "pathmnist, pneumoniamnist, retinamnist, tissuemnist",
            id="unknown-flavour",
        ),
        pytest.param(
            ["pneumoniamnist", "--size", "32"],
            "Error: --size must be one of 28, 64, 128, 224; found 32",
            id="unofficial-size",
        ),
    ],
)
def test_bad_fetch_arguments_are_refused(arguments, expected):
    """An unknown flavour or size is refused before anything is downloaded."""
    result = CliRunner().invoke(app, ["data", "fetch", *arguments])

    assert result.exit_code == 1
    assert expected in " ".join(result.output.split())
