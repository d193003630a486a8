"""Where fetched dataset files live: the user's cache, unless a flag or variable says otherwise."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "MEDFED_DATA_DIR"
"""Environment variable that overrides the cache directory."""


def cache_dir(override: str | Path | None = None) -> Path:
    """The directory fetched files go to: ``override``, else ``$MEDFED_DATA_DIR``, else
    the platform's user cache (``~/.cache/medfed-ray`` on Linux)."""
    if override is not None:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("medfed-ray", appauthor=False))


def medmnist_file_name(flavour: str, size: int) -> str:
    """The official name: ``pneumoniamnist.npz`` at 28 pixels, ``pneumoniamnist_64.npz`` above."""
    return f"{flavour}.npz" if size == 28 else f"{flavour}_{size}.npz"


def cached_medmnist_path(
    flavour: str, size: int, override: str | Path | None = None
) -> Path:
    """Where ``medfed data fetch FLAVOUR --size SIZE`` puts its file."""
    return cache_dir(override) / "medmnist" / medmnist_file_name(flavour, size)
