"""Errors about data: a file that cannot be used, a split that cannot be made."""

from __future__ import annotations

from pathlib import Path

from medfed_ray.errors import MedfedError


class DataError(MedfedError):
    """The data cannot be split or used as the scenario asks.

    Example scenario: ``partition.name = "shards"`` with more classes per
    hospital than the dataset has classes.
    """


class DataFileError(DataError):
    """A data file is missing, corrupt, or holds arrays of the wrong kind.

    The message names the file, the key or column, what was expected and what
    was found. Example scenario: a MedMNIST file whose ``train_labels`` hold
    floats, or a download cut off halfway.
    """

    def __init__(
        self,
        path: str | Path,
        problem: str,
        key: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ):
        self.path = str(path)
        self.problem = problem
        self.key = key
        self.expected = expected
        self.found = found
        where = f"{self.path}: key {key!r}" if key is not None else self.path
        text = f"{where}: {problem}"
        if expected is not None:
            text += f"; expected {expected}, found {found}"
        super().__init__(text)

    def __reduce__(self):
        return (
            type(self),
            (self.path, self.problem, self.key, self.expected, self.found),
        )


class FetchError(DataError):
    """A dataset file could not be downloaded or failed its checksum."""


class PartitionError(DataError, ValueError):
    """The partition the scenario asks for is impossible for this data.

    Also a ``ValueError``, since it is a bad value in the scenario. Example
    scenario: eight hospitals with ``min_samples = 100`` on 569 patients.
    """
