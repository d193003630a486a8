"""Read arrays from ``.npz`` files safely: no pickle, and every failure named."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from medfed_ray.data.errors import DataFileError

# What a truncated or damaged archive raises, depending on where the damage is.
CORRUPT_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


class NpzArrays:
    """The arrays of one ``.npz`` file, read key by key with ``allow_pickle=False``.

    Use as a context manager; each :meth:`get` raises :class:`DataFileError`
    naming the file and key on any problem.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise DataFileError(self.path, "no such file")
        if not self.path.is_file():
            raise DataFileError(self.path, "is not a regular file")
        try:
            self._archive = np.load(self.path, allow_pickle=False)
        except CORRUPT_ERRORS as error:
            raise DataFileError(
                self.path,
                "is not a readable .npz archive (truncated or corrupt?)",
                expected="a zip archive of .npy arrays",
                found=describe(error),
            ) from None
        if not isinstance(self._archive, np.lib.npyio.NpzFile):
            raise DataFileError(
                self.path,
                "holds a single array, not named arrays",
                expected="an .npz archive",
                found="an .npy array",
            )

    def __enter__(self) -> NpzArrays:
        return self

    def __exit__(self, *exc_info) -> None:
        self._archive.close()

    @property
    def keys(self) -> list[str]:
        """The names of the arrays in the file."""
        return list(self._archive.files)

    def has(self, key: str) -> bool:
        """Whether the file holds an array named ``key``."""
        return key in self._archive.files

    def get(self, key: str) -> np.ndarray:
        """The array ``key``, refusing pickled objects and corrupt members."""
        if key not in self._archive.files:
            raise DataFileError(
                self.path,
                "is missing",
                key=key,
                expected=f"an array named {key!r}",
                found=f"keys {', '.join(sorted(self._archive.files)) or 'none'}",
            )
        try:
            array = self._archive[key]
        except ValueError as error:
            if "allow_pickle" in str(error):
                raise DataFileError(
                    self.path,
                    "holds pickled Python objects, which are never loaded",
                    key=key,
                    expected="a plain numeric array",
                    found="an object array",
                ) from None
            raise self._corrupt(key, error) from None
        except CORRUPT_ERRORS as error:
            raise self._corrupt(key, error) from None
        return array

    def _corrupt(self, key: str, error: BaseException) -> DataFileError:
        return DataFileError(
            self.path,
            "cannot be read (truncated or corrupt file?)",
            key=key,
            expected="a complete .npy member",
            found=describe(error),
        )


def describe(error: BaseException) -> str:
    """A short description of an exception for an error message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def check_features(path: Path, key: str, array: np.ndarray) -> None:
    """Features must be numeric (not bool, complex or text), non-empty and finite."""
    kind = array.dtype.kind
    if kind not in "uif":
        raise DataFileError(
            path,
            "has the wrong dtype",
            key=key,
            expected="an integer or floating-point array",
            found=f"dtype {array.dtype}",
        )
    if array.ndim < 2 or array.shape[0] == 0:
        raise DataFileError(
            path,
            "has the wrong shape",
            key=key,
            expected="(samples, features...) with at least one sample",
            found=f"shape {array.shape}",
        )
    if kind == "f" and not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise DataFileError(
            path,
            "holds NaN or infinite values",
            key=key,
            expected="finite values",
            found=f"{bad} NaN/Inf value(s)",
        )


MAX_CLASSES = 10_000
"""Labels are class indices; a larger label is almost surely not a class label."""


def check_labels(
    path: Path, key: str, labels: np.ndarray, num_samples: int
) -> np.ndarray:
    """Return labels as int64 of shape ``(N,)``, accepting ``(N,)`` or ``(N, 1)``.

    Multi-label arrays ``(N, k)`` with ``k > 1`` (ChestMNIST's 14 findings) are
    refused: every model here ends in one softmax over classes.
    """
    if labels.dtype.kind not in "ui":
        raise DataFileError(
            path,
            "has the wrong dtype",
            key=key,
            expected="integer class labels",
            found=f"dtype {labels.dtype}",
        )
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise DataFileError(
            path,
            "holds multi-label targets (several findings per image, as in "
            "ChestMNIST); medfed-ray trains single-label classifiers only",
            key=key,
            expected=f"shape ({num_samples},) or ({num_samples}, 1)",
            found=f"shape {labels.shape}",
        )
    if labels.shape not in ((num_samples,), (num_samples, 1)):
        raise DataFileError(
            path,
            "does not match the number of samples",
            key=key,
            expected=f"shape ({num_samples},) or ({num_samples}, 1)",
            found=f"shape {labels.shape}",
        )
    labels = labels.reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= MAX_CLASSES):
        raise DataFileError(
            path,
            "holds labels out of range",
            key=key,
            expected=f"class indices in 0 ... {MAX_CLASSES - 1}",
            found=f"values from {labels.min()} to {labels.max()}",
        )
    return labels
