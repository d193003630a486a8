"""Adversarial hospitals: attacks on data, on updates, and colluding attacks.

Hospital-side attacks (:mod:`.labels`, :mod:`.update`) run inside the
hospital's round. The colluding attacks (:mod:`.alie`, :mod:`.ipm`) need the
other hospitals' updates, so they are applied by the coordinator with
:func:`apply_colluding_attacks` to the stacked update matrix just before the
aggregation rule sees it: the colluders train honestly, then their rows are
replaced. ``docs/attacks.md`` gives each attack's exact relation to the
honest update.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medfed_ray.attacks.alie import alie_update, default_z
from medfed_ray.attacks.ipm import ipm_update

COLLUDING_BEHAVIOURS = ("alie", "ipm")
"""Behaviours whose update the coordinator writes from the others' updates."""


def apply_colluding_attacks(
    updates: np.ndarray,
    behaviours: Sequence[str],
    parameters: Sequence[float | None],
) -> np.ndarray:
    """Return ``updates`` with the rows of colluding hospitals replaced.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 ``(n, d)``: every usable update of the round, in hospital order.
        It is only read.
    behaviours : sequence of str
        Each row's behaviour in this round.
    parameters : sequence of float or None
        Each row's attack parameter: ``z`` for ``alie`` (None: the paper's
        :func:`~medfed_ray.attacks.alie.default_z` for this round's ``n`` and
        number of ALIE rows), ``epsilon`` for ``ipm``; ignored for the others.

    Returns
    -------
    numpy.ndarray
        ``updates`` itself when no row colludes, else a new matrix. The
        honest statistics come from the rows that do not collude; when every
        row colludes, from the colluders' own honestly trained rows.
    """
    colluding = np.array([b in COLLUDING_BEHAVIOURS for b in behaviours], dtype=bool)
    if not colluding.any():
        return updates
    honest = updates[~colluding] if (~colluding).any() else updates
    attacked = updates.copy()
    num_alie = sum(b == "alie" for b in behaviours)
    for row, (behaviour, parameter) in enumerate(
        zip(behaviours, parameters, strict=True)
    ):
        if behaviour == "alie":
            z = default_z(len(updates), num_alie) if parameter is None else parameter
            attacked[row] = alie_update(honest, z)
        elif behaviour == "ipm":
            attacked[row] = ipm_update(honest, parameter)
    return attacked


__all__ = ["COLLUDING_BEHAVIOURS", "apply_colluding_attacks"]
