"""The shards of the hospitals one actor hosts, packed into one object-store object.

Putting four arrays per hospital into the object store costs four
``ray.put`` calls, four objects to track and four references to keep alive
per hospital: at 10,000 hospitals that is 40,000 objects and most of a
run's start-up. Packed, an actor's hospitals travel as one object of a few
contiguous arrays, and each hospital reads zero-copy views of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PackedShards:
    """Training and validation rows of several hospitals, back to back.

    Hospital ``i`` (in packing order) holds training rows
    ``train_ends[i - 1]:train_ends[i]`` (from 0 for the first) and likewise
    validation rows up to ``validation_ends[i]``.
    """

    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    train_ends: np.ndarray
    validation_ends: np.ndarray

    @classmethod
    def pack(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        splits: list[tuple[np.ndarray, np.ndarray]],
    ) -> PackedShards:
        """Gather each hospital's ``(train, validation)`` row indices of ``(x, y)``."""
        train = [indices for indices, _ in splits]
        validation = [indices for _, indices in splits]
        train_rows = np.concatenate(train).astype(np.int64, copy=False)
        validation_rows = np.concatenate(validation).astype(np.int64, copy=False)
        return cls(
            x=x[train_rows],
            y=y[train_rows],
            x_val=x[validation_rows],
            y_val=y[validation_rows],
            train_ends=np.cumsum([len(indices) for indices in train], dtype=np.int64),
            validation_ends=np.cumsum(
                [len(indices) for indices in validation], dtype=np.int64
            ),
        )

    def __len__(self) -> int:
        return len(self.train_ends)

    def hospital(
        self, index: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Views of hospital ``index``'s ``(x, y, x_val, y_val)``; nothing is copied."""
        train = slice(_start(self.train_ends, index), self.train_ends[index])
        validation = slice(
            _start(self.validation_ends, index), self.validation_ends[index]
        )
        return (
            self.x[train],
            self.y[train],
            self.x_val[validation],
            self.y_val[validation],
        )


def _start(ends: np.ndarray, index: int) -> int:
    return 0 if index == 0 else int(ends[index - 1])
