"""``medfed report``: print a run's summary again, finished or interrupted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from medfed_ray.cli.common import EXIT_USAGE, console
from medfed_ray.cli.run import summary_table

REQUIRED = {"scenario": str, "training": str, "rounds": int, "hospitals": int}
SCORES = ("accuracy", "balanced_accuracy", "auroc", "loss", "accuracy_std")


def report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory written by medfed run.")
    ],
) -> None:
    """Print the summary of a run; an interrupted run is summarised from its tables."""
    try:
        summary = read_summary(run_dir)
    except ValueError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    console.print(summary_table(summary, summary.get("wall_seconds") or 0.0))
    if summary.get("unfinished"):
        typer.echo(
            f"This run did not finish; shown: its last completed round. "
            f"Continue it with: medfed run --resume {run_dir}"
        )


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``summary.json`` checked for the fields the table needs, or one made from tables."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        if (run_dir / "rounds.parquet").is_file():
            return summary_from_tables(run_dir)
        raise ValueError(
            f"{summary_path} not found; RUN_DIR must be a directory written by 'medfed run'"
        )

    try:
        summary = json.loads(summary_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{summary_path} is not valid JSON: {error}") from None
    if not isinstance(summary, dict):
        raise ValueError(
            f"{summary_path} must hold a JSON object; found {type(summary).__name__}"
        )
    for key, kind in REQUIRED.items():
        if not isinstance(summary.get(key), kind):
            raise ValueError(
                f"{summary_path}: '{key}' must be a {kind.__name__}; found {summary.get(key)!r}"
            )
    final = summary.get("final")
    if final is not None and not (
        isinstance(final, dict)
        and all(isinstance(final.get(key), int | float | None) for key in SCORES)
    ):
        raise ValueError(
            f"{summary_path}: 'final' must map {', '.join(SCORES)} to numbers"
        )
    return summary


def summary_from_tables(run_dir: Path) -> dict[str, Any]:
    """A summary of an unfinished run from ``rounds.parquet`` and ``scenario.toml``."""
    import pyarrow.parquet as pq

    from medfed_ray.scenario.loading import read_scenario_file

    rows = pq.read_table(run_dir / "rounds.parquet").to_pylist()
    scenario = read_scenario_file(run_dir / "scenario.toml")
    evaluated = [row for row in rows if row["evaluated"]]
    final = evaluated[-1] if evaluated else None
    return {
        "scenario": str(scenario.get("name", run_dir.name)),
        "training": str(scenario.get("training", "federated")),
        "rounds": len(rows),
        "hospitals": sum(
            group.get("count", 1) for group in scenario.get("hospitals", [])
        ),
        "final": {key: final[key] for key in SCORES} if final else None,
        "wall_seconds": None,
        "unfinished": True,
    }
