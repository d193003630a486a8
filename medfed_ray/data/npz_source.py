"""Generic ``.npz`` files: features and labels under keys the scenario names."""

from __future__ import annotations

from pathlib import Path

from medfed_ray.data.errors import DataFileError
from medfed_ray.data.npz_reading import NpzArrays, check_features, check_labels
from medfed_ray.data.raw import RawSplits, as_images


def read_npz(
    path: str | Path,
    features_key: str = "x",
    labels_key: str = "y",
    test_features_key: str | None = None,
    test_labels_key: str | None = None,
) -> RawSplits:
    """Read features ``(N, ...)`` and labels ``(N,)`` or ``(N, 1)``, and a test split if named.

    Features may be tabular ``(N, F)``, grayscale images ``(N, H, W)`` or
    images with channels ``(N, H, W, C)``; their dtype is kept (uint8 images
    stay uint8).
    """
    path = Path(path)
    with NpzArrays(path) as arrays:
        x = arrays.get(features_key)
        check_features(path, features_key, x)
        y = check_labels(path, labels_key, arrays.get(labels_key), len(x))
        if test_features_key is None or test_labels_key is None:
            return RawSplits(as_images(x), y)

        x_test = arrays.get(test_features_key)
        check_features(path, test_features_key, x_test)
        if x_test.shape[1:] != x.shape[1:]:
            raise DataFileError(
                path,
                f"does not match the shape of {features_key!r}",
                key=test_features_key,
                expected=f"examples of shape {x.shape[1:]}",
                found=f"shape {x_test.shape[1:]}",
            )
        y_test = check_labels(
            path, test_labels_key, arrays.get(test_labels_key), len(x_test)
        )
    return RawSplits(as_images(x), y, as_images(x_test), y_test)
