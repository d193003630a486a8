"""What every data source hands over: a training pool and, if it has one, a test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RawSplits:
    """Arrays as a source read them, before the global test split and scaling.

    ``x_test``/``y_test`` are ``None`` when the source has no test split of
    its own; one is then drawn from the pool. Images are ``(N, H, W, C)``.
    """

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def has_test(self) -> bool:
        """Whether the source brought its own test split."""
        return self.x_test is not None


def as_images(x: np.ndarray) -> np.ndarray:
    """Give grayscale images ``(N, H, W)`` a channel axis; other arrays pass unchanged.

    The reshape is a view, so uint8 images stay uint8 and take no more memory.
    """
    return x[..., np.newaxis] if x.ndim == 3 else x
