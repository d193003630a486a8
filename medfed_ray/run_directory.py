"""The run directory: resolved scenario, Parquet tables, summary and final model.

Every file is plain data (TOML, Parquet, JSON, ``.keras``); nothing is pickled.
"""

from __future__ import annotations

import json
import logging
import math
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tomli_w

from medfed_ray.errors import RunDirectoryError
from medfed_ray.round_result import HOSPITAL_FIELDS, HospitalRound, RoundResult
from medfed_ray.scenario.schema import Scenario

logger = logging.getLogger(__name__)

ROUND_SCHEMA = pa.schema(
    [
        ("round", pa.int64()),
        ("updates_received", pa.int64()),
        ("updates_rejected", pa.int64()),
        ("aggregation_seconds", pa.float64()),
        ("round_seconds", pa.float64()),
        ("attempts", pa.int64()),
        ("hospitals_sampled", pa.int64()),
        ("evaluated", pa.bool_()),
        ("accuracy", pa.float64()),
        ("balanced_accuracy", pa.float64()),
        ("auroc", pa.float64()),
        ("loss", pa.float64()),
        ("accuracy_std", pa.float64()),
    ]
)
"""Columns of ``rounds.parquet``, documented in ``docs/results.md``."""

HOSPITAL_SCHEMA = pa.schema(
    [
        ("round", pa.int64()),
        ("hospital", pa.int64()),
        ("group", pa.int64()),
        ("behaviour", pa.string()),
        ("status", pa.string()),
        ("attempt", pa.int64()),
        ("examples", pa.int64()),
        ("local_loss", pa.float64()),
        ("update_norm", pa.float64()),
        ("train_seconds", pa.float64()),
        ("validation_accuracy", pa.float64()),
        ("decision", pa.string()),
        ("contribution", pa.float64()),
        ("test_accuracy", pa.float64()),
        ("test_balanced_accuracy", pa.float64()),
        ("test_auroc", pa.float64()),
        ("test_loss", pa.float64()),
        ("error", pa.string()),
    ]
)
"""Columns of ``hospitals.parquet``, documented in ``docs/results.md``."""

PRIVACY_SCHEMA = pa.schema(
    [
        ("round", pa.int64()),
        ("level", pa.string()),
        ("mode", pa.string()),
        ("epsilon", pa.float64()),
        ("delta", pa.float64()),
        ("noise_multiplier", pa.float64()),
        ("effective_noise_multiplier", pa.float64()),
        ("clip_norm", pa.float64()),
        ("sampling", pa.string()),
        ("sampling_rate", pa.float64()),
        ("participants", pa.int64()),
        ("steps", pa.int64()),
        ("accountant", pa.string()),
    ]
)
"""Columns of ``privacy.parquet``, documented in ``docs/privacy.md``."""

PACKAGES = (
    "medfed-ray",
    "ray",
    "tensorflow",
    "keras",
    "numpy",
    "pyarrow",
    "scikit-learn",
)


def default_run_directory(scenario: Scenario, root: Path = Path("runs")) -> Path:
    """``runs/<scenario>-<timestamp>``, made unique if a run started the same second."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{scenario.name}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{scenario.name}-{stamp}-{suffix}"
    return path


FLUSH_INTERVAL_S = 5.0
"""Least time between two rewrites of the tables while a run goes on."""


class RunDirectory:
    """Writes one run's files; the tables are rewritten as rounds finish.

    Each rewrite writes a whole table, so rewriting after every round would
    cost time quadratic in the rounds (a thousand hospitals over a thousand
    rounds is a million hospital rows). Tables are therefore rewritten at
    most every ``FLUSH_INTERVAL_S`` seconds, and always by :meth:`flush`,
    which the driver calls however the run ends. Hospital rows are turned
    into Arrow columns once, as their round arrives, and kept that way: a
    rewrite then only concatenates and encodes, and a million rows take tens
    of MB instead of a Python dict each.
    """

    def __init__(self, path: Path, scenario: Scenario):
        check_new_run_directory(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunDirectoryError(
                f"run directory {path} cannot be created: {error.strerror}"
            ) from None
        self.path = path
        self.scenario = scenario
        self.rounds: list[dict[str, Any]] = []
        self.hospital_tables: list[pa.Table] = []
        self.privacy_rows: list[dict[str, Any]] = []
        self.written_at = float("-inf")
        (path / "scenario.toml").write_text(
            tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
        )

    @classmethod
    def reopen(
        cls, path: Path, scenario: Scenario, completed_round: int
    ) -> RunDirectory:
        """Continue an earlier run: keep its rows up to ``completed_round``, drop later ones.

        Rows after the checkpoint belong to rounds that will be run again.
        """
        run_dir = cls.__new__(cls)
        run_dir.path, run_dir.scenario = path, scenario
        run_dir.rounds = read_rows(path / "rounds.parquet", completed_round)
        hospitals = path / "hospitals.parquet"
        run_dir.hospital_tables = (
            [read_table(hospitals, completed_round, HOSPITAL_SCHEMA)]
            if hospitals.exists()
            else []
        )
        run_dir.privacy_rows = read_rows(path / "privacy.parquet", completed_round)
        run_dir.written_at = float("-inf")
        return run_dir

    def all_rounds(self) -> list[dict[str, Any]]:
        """Every ``rounds.parquet`` row of the run so far."""
        return list(self.rounds)

    def add_failed_attempt(self, result: RoundResult) -> None:
        """Record the hospital rows of an attempt that fell below quorum."""
        self.hospital_tables.append(hospital_table(result.hospitals))
        self.flush()

    def add_round(self, result: RoundResult) -> None:
        """Record a finished round; rewrite the tables if the last rewrite is old."""
        self.rounds.append(result.row())
        self.hospital_tables.append(hospital_table(result.hospitals))
        self.privacy_rows.extend(result.privacy or [])
        if time.monotonic() - self.written_at >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        """Rewrite every table with all rows recorded so far."""
        write_table(self.path / "rounds.parquet", self.rounds, ROUND_SCHEMA)
        hospitals = (
            pa.concat_tables(self.hospital_tables)
            if self.hospital_tables
            else HOSPITAL_SCHEMA.empty_table()
        )
        # One table from here on: later rewrites concatenate fewer pieces.
        self.hospital_tables = [hospitals]
        write_arrow_table(self.path / "hospitals.parquet", hospitals)
        if self.privacy_rows:
            write_table(
                self.path / "privacy.parquet", self.privacy_rows, PRIVACY_SCHEMA
            )
        self.written_at = time.monotonic()

    def write_model(
        self,
        model_bytes: bytes | None,
        layout: dict[str, list],
        scaling: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Store the final global model, its flat layout and the feature scaling.

        ``model_bytes`` is None when no hospital actor was left to save the
        model; the run's tables and summary are still written.
        """
        if model_bytes is None:
            logger.warning("model.keras not written: no hospital actor could save it")
        else:
            (self.path / "model.keras").write_bytes(model_bytes)
        if scaling is not None:
            np.savez(self.path / "feature_scaling.npz", mean=scaling[0], std=scaling[1])
        (self.path / "layout.json").write_text(json.dumps(layout, indent=1))

    def record_resume(self, after_round: int, changed: dict[str, Any]) -> None:
        """Add a resume to ``resumes.json``: the round it continued after, what changed."""
        entries = self.resumes()
        entries.append(
            {
                "after_round": after_round,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "changed": changed,
            }
        )
        text = json.dumps(clean_for_json(entries), indent=2, allow_nan=False)
        (self.path / RESUMES_FILE).write_text(text + "\n")

    def resumes(self) -> list[dict[str, Any]]:
        """Every resume of this run so far, oldest first (empty if never resumed)."""
        path = self.path / RESUMES_FILE
        if not path.exists():
            return []
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RunDirectoryError(f"{path} cannot be read: {error}") from None
        if not isinstance(entries, list) or not all(
            isinstance(entry, dict)
            and isinstance(entry.get("after_round"), int)
            and isinstance(entry.get("changed"), dict)
            for entry in entries
        ):
            raise RunDirectoryError(
                f"{path} must hold a JSON list of resumes, each an object with an "
                "integer after_round and a changed object"
            )
        return entries

    def write_summary(self, summary: dict[str, Any]) -> None:
        """Store ``summary.json`` with package versions added."""
        summary = {**summary, "versions": package_versions()}
        text = json.dumps(clean_for_json(summary), indent=2, allow_nan=False)
        (self.path / "summary.json").write_text(text + "\n")


RESUMES_FILE = "resumes.json"
"""Each resume of a run: the round it continued after and the settings it changed."""


def check_new_run_directory(path: Path) -> None:
    """Refuse a run directory that is a file or already holds files (never overwrite)."""
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"run directory {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        raise RunDirectoryError(
            f"run directory {path} already exists and is not empty; choose another "
            "--out, or continue an interrupted run with --resume"
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunDirectoryError(
                    f"run directory {path}: {parent} is not a folder"
                )
            break


def read_rows(path: Path, last_round: int) -> list[dict[str, Any]]:
    """Rows of a run table with ``round <= last_round`` (none if the file is absent)."""
    if not path.exists():
        return []
    rows = pq.read_table(path).to_pylist()
    return [row for row in rows if row["round"] <= last_round]


def read_table(path: Path, last_round: int, schema: pa.Schema) -> pa.Table:
    """A run table's rows with ``round <= last_round``, in ``schema``.

    Columns a run of an earlier version did not write are filled with nulls.
    """
    table = pq.read_table(path)
    table = table.filter(pc.less_equal(table["round"], last_round))
    columns = [
        table[field.name].cast(field.type)
        if field.name in table.column_names
        else pa.nulls(len(table), field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def hospital_table(rows: list[HospitalRound]) -> pa.Table:
    """``hospitals.parquet`` rows as an Arrow table, built column by column."""
    columns = {name: [getattr(row, name) for row in rows] for name in HOSPITAL_FIELDS}
    return pa.Table.from_pydict(columns, schema=HOSPITAL_SCHEMA)


def write_table(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Write ``rows`` as a Parquet file with ``schema``, atomically."""
    write_arrow_table(path, pa.Table.from_pylist(rows, schema=schema))


def write_arrow_table(path: Path, table: pa.Table) -> None:
    """Write ``table`` as a Parquet file, atomically."""
    partial = path.with_suffix(".parquet.partial")
    pq.write_table(table, partial)
    partial.replace(path)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a run's numbers."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def clean_for_json(value: Any) -> Any:
    """Replace NaN and infinities by ``None`` so the summary is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: clean_for_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_for_json(item) for item in value]
    return value
