"""``medfed report``: print a finished run's summary again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medfed_ray.cli.common import EXIT_USAGE, console
from medfed_ray.cli.run import summary_table


def report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory written by medfed run.")
    ],
) -> None:
    """Print the summary of a finished run."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        typer.echo(
            f"Error: {summary_path} not found; RUN_DIR must be a directory written by "
            "'medfed run' that finished",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    try:
        summary = json.loads(summary_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        typer.echo(f"Error: {summary_path} is not valid JSON: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    console.print(summary_table(summary, summary.get("wall_seconds", 0.0)))
