"""What a partition looks like: label counts per hospital, as a table and a heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def label_counts(
    labels: np.ndarray, shards: list[np.ndarray], num_classes: int
) -> np.ndarray:
    """An ``(hospitals, classes)`` int64 matrix: how many samples of each class each holds."""
    return np.stack(
        [np.bincount(labels[shard], minlength=num_classes) for shard in shards]
    ).astype(np.int64)


def label_skew(counts: np.ndarray) -> float:
    """Mean total-variation distance between each hospital's and the pooled label mix.

    0 for identical mixes, towards 1 when hospitals hold disjoint classes.
    """
    pooled = counts.sum(axis=0) / counts.sum()
    sizes = counts.sum(axis=1, keepdims=True)
    mixes = counts / np.maximum(sizes, 1)
    return float(np.mean(0.5 * np.abs(mixes - pooled).sum(axis=1)))


def plot_heatmap(counts: np.ndarray, path: str | Path, title: str) -> Path:
    """Write a hospitals-by-classes heatmap of ``counts`` as a PNG; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    num_hospitals, num_classes = counts.shape
    width = min(2.0 + 0.5 * num_classes, 20.0)
    height = min(1.5 + 0.3 * num_hospitals, 20.0)
    figure, axes = plt.subplots(figsize=(width, height))
    image = axes.imshow(counts, aspect="auto", cmap="viridis", interpolation="nearest")
    figure.colorbar(image, ax=axes, label="samples")
    axes.set_xlabel("class")
    axes.set_ylabel("hospital")
    axes.set_title(title)
    if num_classes <= 30:
        axes.set_xticks(range(num_classes))
    if num_hospitals <= 40:
        axes.set_yticks(range(num_hospitals))
    if counts.size <= 400:
        # Numbers in the cells, dark on light and light on dark.
        threshold = counts.max() / 2 if counts.size else 0
        for row in range(num_hospitals):
            for column in range(num_classes):
                value = counts[row, column]
                axes.text(
                    column,
                    row,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if value > threshold else "white",
                )
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
