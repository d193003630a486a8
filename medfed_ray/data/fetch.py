"""Download an official MedMNIST file into the cache, checking its MD5 as it arrives."""

from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from medfed_ray.data import medmnist_catalog
from medfed_ray.data.cache import cached_medmnist_path
from medfed_ray.data.errors import FetchError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 15.0
"""How long to wait for the server before saying it cannot be reached."""
CHUNK_BYTES = 1 << 20


def fetch_medmnist(
    flavour: str,
    size: int = 28,
    cache: str | Path | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Fetch ``flavour`` at ``size`` pixels into the cache; return the file's path.

    A file already there with the right checksum is kept. The download goes
    to a ``.part`` file that replaces the target only once its MD5 matches, so
    a cut-off download never looks like a complete file. ``on_progress``
    receives (bytes so far, total bytes or None). Raises :class:`FetchError`
    at once when the server cannot be reached, saying where to put the file
    by hand.
    """
    if flavour not in medmnist_catalog.MEDMNIST_MD5:
        known = ", ".join(sorted(medmnist_catalog.MEDMNIST_MD5))
        raise FetchError(f"unknown MedMNIST flavour {flavour!r}; known: {known}")
    if size not in medmnist_catalog.SIZES:
        sizes = ", ".join(map(str, medmnist_catalog.SIZES))
        raise FetchError(f"--size must be one of {sizes}; found {size}")
    _, url, md5 = medmnist_catalog.medmnist_entry(flavour, size)
    target = cached_medmnist_path(flavour, size, cache)

    if target.exists() and file_md5(target) == md5:
        logger.info("%s is already in the cache with the right checksum", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        digest = download(url, partial, on_progress)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", None) or error
        raise FetchError(
            f"cannot download {url}: {reason}. Without internet access, download "
            f"that file on another machine and put it at {target} (MD5 {md5}), or "
            "point dataset.path at your copy"
        ) from None
    if digest != md5:
        partial.unlink(missing_ok=True)
        raise FetchError(
            f"the download of {url} has MD5 {digest}, expected {md5}; the file was "
            "discarded. Try again; if it persists, the server holds another version"
        )
    os.replace(partial, target)
    return target


def download(
    url: str, destination: Path, on_progress: Callable[[int, int | None], None] | None
) -> str:
    """Stream ``url`` into ``destination``; return the MD5 of what was written."""
    digest = hashlib.md5(usedforsecurity=False)
    request = urllib.request.Request(url, headers={"User-Agent": "medfed-ray"})
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        received = 0
        with destination.open("wb") as file:
            while chunk := response.read(CHUNK_BYTES):
                file.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if on_progress is not None:
                    on_progress(received, total)
    if total is not None and received != total:
        raise OSError(f"the connection closed after {received} of {total} bytes")
    return digest.hexdigest()


def file_md5(path: Path) -> str:
    """MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
