"""Exceptions of medfed-ray: one base class, one subclass per kind of failure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MedfedError(Exception):
    """Base class of every error medfed-ray raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where, what is allowed, and what was found."""

    path: str
    message: str
    found: object = None
    has_found: bool = True

    def __str__(self) -> str:
        if not self.has_found:
            return f"{self.path}: {self.message}"
        return f"{self.path}: {self.message} (found {self.found!r})"


class UsageError(MedfedError):
    """The user's input is wrong (exit code 2); nothing was run or changed."""


class RunDirectoryError(UsageError):
    """The run directory cannot be used: it exists and holds files, or is not a folder."""


class SimulationError(MedfedError):
    """The simulation failed for a reason other than a hospital's fault."""


class ScenarioError(UsageError):
    """A scenario file or override is invalid; ``problems`` lists every problem found.

    Example scenario: a file sets ``rounds = 0`` and misspells ``aggregator.name``
    as ``aggregator.nmae``; both are reported together, before any actor starts.
    """

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{source}: {count} {noun}:\n{lines}")

    def __reduce__(self):
        return (type(self), (self.source, self.problems))


class QuorumError(MedfedError):
    """Too few hospitals answered a round for it to be aggregated.

    Example scenario: ``min_hospitals = 6`` and three of eight hospital actors
    crash or miss the ``round_timeout_s`` deadline in the same round. When a
    round before it completed, ``resume_from`` is the run directory holding a
    checkpoint of that round, and the message says how to continue.
    """

    def __init__(
        self,
        round_number: int,
        answered: int,
        min_hospitals: int,
        resume_from: Path | None = None,
        left_out: str = "",
    ):
        self.round_number = round_number
        self.answered = answered
        self.min_hospitals = min_hospitals
        self.resume_from = resume_from
        self.left_out = left_out
        message = (
            f"round {round_number}: only {answered} hospital(s) sent a usable update, "
            f"fewer than min_hospitals = {min_hospitals}."
        )
        if left_out:
            message += f" Left out: {left_out}."
        message += (
            " Possible causes: crashed or hung hospitals, updates rejected as "
            "NaN/Inf or of the wrong shape, or a round_timeout_s too short for "
            "local training; hospitals.parquet has every hospital's status. Raise "
            "round_timeout_s or lower min_hospitals in the scenario."
        )
        if resume_from is not None:
            message += (
                f" A checkpoint of round {round_number - 1} is in "
                f"{resume_from / 'checkpoints'}: edit {resume_from / 'scenario.toml'} "
                f"and continue with: medfed run --resume {resume_from}"
            )
        super().__init__(message)

    def __reduce__(self):
        return (
            type(self),
            (
                self.round_number,
                self.answered,
                self.min_hospitals,
                self.resume_from,
                self.left_out,
            ),
        )


class ResourceError(MedfedError):
    """The cluster cannot host the hospital actors the scenario asks for."""


class RunStopped(MedfedError):
    """A run was interrupted (Ctrl-C) after writing a checkpoint to resume from."""
