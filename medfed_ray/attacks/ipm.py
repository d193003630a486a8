"""IPM, inner product manipulation: colluders send a small negative of the honest mean.

Xie, Koyejo and Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD by
Inner Product Manipulation", UAI 2019 (PMLR 115, 2020), Sec. 4. Every
colluder sends ``-epsilon * mean(honest)``; with enough colluders the inner
product of the aggregate with the true gradient turns negative, so the
model stops descending. A small ``epsilon`` (0.1 in the paper) slips past
Krum and the median, a large one (100) breaks averaging.
"""

from __future__ import annotations

import numpy as np


def ipm_update(honest: np.ndarray, epsilon: float) -> np.ndarray:
    """Return ``-epsilon * mean(honest)`` over the rows of ``honest``, in float64."""
    return (-epsilon * honest.astype(np.float64).mean(axis=0)).astype(np.float32)
