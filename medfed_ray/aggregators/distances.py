"""Pairwise squared distances between updates, from one float64 pass over the matrix.

Krum, Multi-Krum, the geometric median and centered clipping all need the
distance between every pair of rows. Subtracting each pair of rows would read
the matrix ``n**2 / 2`` times; instead one pass accumulates the Gram matrix of
inner products, from which every distance follows in ``O(n**2)``.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import block_width, map_blocks

GRAM_BLOCK_BYTES = 2 << 20
"""Bytes of one float64 block copy; like the weighted mean's, it stays in L2."""


def squared_distances(
    updates: np.ndarray, extra: np.ndarray | None = None
) -> np.ndarray:
    """Return the float64 matrix of squared Euclidean distances between rows.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``; only read.
    extra : numpy.ndarray, optional
        Further points of shape ``(k, d)`` appended after the rows, e.g. a
        reference point that a rule measures the rows against.

    Returns
    -------
    numpy.ndarray
        float64 of shape ``(n + k, n + k)``, symmetric, with a zero diagonal.

    Notes
    -----
    ``||a - b||**2 = ||a||**2 + ||b||**2 - 2 a.b`` cancels badly when the
    points lie close together far from the origin: in float32 the three terms
    each carry an error of about ``1e-7 * ||a||**2``, which can exceed the
    distance itself. Here the Gram matrix is accumulated in float64, and each
    block of columns is first centred on its column means. Distances do not
    change under a translation, but the inner products then scale with the
    spread of the points rather than with their distance from the origin.
    """
    n, d = updates.shape
    points = n if extra is None else n + extra.shape[0]

    def gram_block(start: int, stop: int) -> np.ndarray:
        block = np.empty((points, stop - start), dtype=np.float64)
        block[:n] = updates[:, start:stop]
        if extra is not None:
            block[n:] = extra[:, start:stop]
        block -= block.mean(axis=0)
        return block @ block.T

    # Sum the blocks' products in column order, so the result is the same
    # however many threads computed them.
    gram = np.zeros((points, points), dtype=np.float64)
    for partial in map_blocks(gram_block, d, block_width(points, GRAM_BLOCK_BYTES)):
        gram += partial

    norms = np.diag(gram)
    distances = norms[:, None] + norms[None, :] - 2 * gram
    np.maximum(distances, 0.0, out=distances)
    np.fill_diagonal(distances, 0.0)
    return distances


def distances_to_combination(
    distances: np.ndarray, coefficients: np.ndarray
) -> np.ndarray:
    """Return each point's Euclidean distance to ``sum_j coefficients[j] * point_j``.

    ``coefficients`` must sum to one. The identity
    ``||x_i - z||**2 = sum_j c_j D_ij - (1/2) sum_jk c_j c_k D_jk`` gives the
    distances from the squared-distance matrix ``D`` alone, so iterative rules
    whose estimate is such a combination never touch the ``(n, d)`` matrix
    between iterations.
    """
    towards = distances @ coefficients
    spread = 0.5 * coefficients @ towards
    return np.sqrt(np.maximum(towards - spread, 0.0))
