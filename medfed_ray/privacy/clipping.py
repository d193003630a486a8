"""Clipping an update to a global L2 norm over all of its variables.

McMahan, Ramage, Talwar and Zhang, "Learning Differentially Private Recurrent
Language Models", ICLR 2018, Algorithm 1 (``ClipFn``, flat clipping).
https://arxiv.org/abs/1710.06963
"""

from __future__ import annotations

import numpy as np


def global_norm(update: np.ndarray) -> float:
    """The L2 norm of the whole flat update, accumulated in float64."""
    flat = update.astype(np.float64, copy=False).ravel()
    return float(np.sqrt(np.dot(flat, flat)))


def clip_by_global_norm(update: np.ndarray, clip_norm: float) -> np.ndarray:
    """Scale ``update`` by ``min(1, clip_norm / ||update||)``; return a new float32 array.

    The norm is taken over the flat vector, i.e. over every variable of the
    model together, not layer by layer. A zero update (norm 0) passes through
    unchanged, and so does any update already inside the ball.
    """
    if clip_norm <= 0:
        raise ValueError(f"clip_norm must be > 0; found {clip_norm!r}")
    norm = global_norm(update)
    if norm <= clip_norm:
        return np.array(update, dtype=np.float32, copy=True)
    scaled = update.astype(np.float64) * (clip_norm / norm)
    return scaled.astype(np.float32)


def clip_rows(updates: np.ndarray, clip_norm: float) -> np.ndarray:
    """Clip every row of an ``(n, d)`` matrix to ``clip_norm``; return a new matrix."""
    if updates.shape[0] == 0:
        return np.array(updates, dtype=np.float32, copy=True)
    return np.stack([clip_by_global_norm(row, clip_norm) for row in updates])
