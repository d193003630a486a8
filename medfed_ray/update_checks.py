"""Checks on what a hospital sent, and compact error text for the records."""

from __future__ import annotations

import numpy as np

from medfed_ray.round_result import HospitalStatus


def check_update(
    update: object, expected_size: int
) -> tuple[HospitalStatus, str | None]:
    """Classify an update as usable, of the wrong shape or dtype, or holding NaN/Inf."""
    if not isinstance(update, np.ndarray):
        return (
            HospitalStatus.BAD_SHAPE,
            f"update is a {type(update).__name__}, not an array",
        )
    if update.shape != (expected_size,) or update.dtype != np.float32:
        return (
            HospitalStatus.BAD_SHAPE,
            f"update has shape {update.shape} and dtype {update.dtype}; "
            f"expected ({expected_size},) float32",
        )
    if not np.isfinite(update).all():
        bad = int(np.count_nonzero(~np.isfinite(update)))
        return HospitalStatus.NONFINITE, f"update holds {bad} NaN/Inf value(s)"
    return HospitalStatus.OK, None


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, for a compact record."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def last_line(error: BaseException) -> str:
    """The last line of an exception's message: for Ray errors, the original cause."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
