"""What one round produced: a row for ``rounds.parquet`` and rows for ``hospitals.parquet``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum


class HospitalStatus(StrEnum):
    """How a hospital's answer in one round ended."""

    OK = "ok"
    """A finite update of the right shape arrived before the deadline."""
    TIMEOUT = "timeout"
    """No answer before ``round_timeout_s``."""
    CRASHED = "crashed"
    """The hospital's actor died."""
    ERROR = "error"
    """Local training raised an exception."""
    NONFINITE = "nonfinite"
    """The update held NaN or infinity and was left out."""
    BAD_SHAPE = "bad_shape"
    """The update did not have the layout's length and was left out."""
    DROPPED = "dropped"
    """The hospital chose not to answer this round (behaviour ``dropout``)."""


@dataclass
class HospitalRound:
    """One row of ``hospitals.parquet``."""

    round: int
    hospital: int
    group: int
    behaviour: str
    status: str
    attempt: int = 1
    examples: int = 0
    local_loss: float = float("nan")
    update_norm: float = float("nan")
    train_seconds: float = float("nan")
    validation_accuracy: float = float("nan")
    decision: str | None = None
    contribution: float = float("nan")
    test_accuracy: float = float("nan")
    test_balanced_accuracy: float = float("nan")
    test_auroc: float = float("nan")
    test_loss: float = float("nan")
    error: str | None = None


@dataclass
class RoundResult:
    """One row of ``rounds.parquet`` and the hospitals' rows of the same round.

    For federated training the test scores are the global model's; for
    local-only training they are the mean over hospitals' own models, with
    the spread in ``accuracy_std``.
    """

    round: int
    updates_received: int
    updates_rejected: int
    aggregation_seconds: float
    round_seconds: float
    attempts: int = 1
    hospitals_sampled: int = 0
    """Hospitals asked to train this round (all of them without ``[sampling]``)."""
    quorum_met: bool = True
    evaluated: bool = False
    accuracy: float = float("nan")
    balanced_accuracy: float = float("nan")
    auroc: float = float("nan")
    loss: float = float("nan")
    accuracy_std: float = float("nan")
    hospitals: list[HospitalRound] = field(default_factory=list)
    epsilon: float = float("nan")
    """Epsilon at the scenario's delta after this round (the largest over privacy
    levels); NaN without privacy. The details are in ``privacy``."""
    privacy: list[dict] = field(default_factory=list)
    """This round's ``privacy.parquet`` rows, one per privacy level."""

    def row(self) -> dict:
        """The ``rounds.parquet`` row: every field but the hospital and privacy rows.

        Built field by field rather than with ``asdict``, which would first
        deep-copy every hospital row only to drop them.
        """
        skipped = {"hospitals", "quorum_met", "privacy"}
        return {
            name: getattr(self, name) for name in ROUND_FIELDS if name not in skipped
        }


ROUND_FIELDS = tuple(item.name for item in fields(RoundResult))
HOSPITAL_FIELDS = tuple(item.name for item in fields(HospitalRound))
