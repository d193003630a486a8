"""What the driver says about each round: its shape, its failures, its missing scores.

The coordinator's own log lines stay in its actor's log file (the driver
does not forward actor output), so everything a user should see on the
console is read off the round's result here.
"""

from __future__ import annotations

import logging

import numpy as np

from medfed_ray.round_result import HospitalStatus, RoundResult

logger = logging.getLogger(__name__)


def log_round(result: RoundResult, total_rounds: int, local: bool = False) -> None:
    """Log the shape of a round: a header, one line per failure, the scores.

    ``local`` is true in local-only training, where every hospital is scored.
    """
    logger.info(
        "[ROUND %d/%d] %d hospitals sampled, %d updates aggregated, %d left out, "
        "%.2f s",
        result.round,
        total_rounds,
        result.hospitals_sampled,
        result.updates_received,
        result.updates_rejected,
        result.round_seconds,
    )
    if result.hospitals_sampled == 0:
        logger.info("  no hospital was sampled in this round")
    for row in result.hospitals:
        if row.status != "ok":
            logger.info("  hospital %d %s: %s", row.hospital, row.status, row.error)
    if result.evaluated:
        logger.info(
            "  accuracy %.4f, balanced accuracy %.4f, AUROC %.4f, loss %.4f",
            result.accuracy,
            result.balanced_accuracy,
            result.auroc,
            result.loss,
        )
        warn_unscored(result, local)


def warn_unscored(result: RoundResult, local: bool) -> None:
    """Say on the console when an evaluated round's scores are missing or partial.

    The coordinator's own warnings stay in its actor's log, so the driver
    reads the gaps off the round: in local-only training, hospital rows
    without a test score; in federated training, a NaN score for the global
    model.
    """
    if local:
        rows = result.hospitals
        missing = sum(1 for row in rows if np.isnan(row.test_accuracy))
        if missing:
            logger.warning(
                "round %d: %d of %d hospitals' own models have no score (scoring "
                "missed round_timeout_s, failed, or the model predicts NaN); the "
                "round's mean covers the other %d",
                result.round,
                missing,
                len(rows),
                len(rows) - missing,
            )
    elif np.isnan(result.accuracy):
        logger.warning(
            "round %d: the global model has no score: no hospital actor scored it "
            "within round_timeout_s, or it predicts NaN",
            result.round,
        )


def describe_left_out(result: RoundResult, listed: int = 5) -> str:
    """``hospital 7 nonfinite (update holds ...)``: who was left out of a round, and why.

    Up to ``listed`` hospitals are named; the rest are counted.
    """
    failed = [row for row in result.hospitals if row.status != HospitalStatus.OK]
    named = [
        f"hospital {row.hospital} {row.status}"
        + (f" ({row.error})" if row.error else "")
        for row in failed[:listed]
    ]
    if len(failed) > listed:
        named.append(f"and {len(failed) - listed} more")
    return "; ".join(named)
