"""Shared pieces of the command line: the console, error display and exit codes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medfed_ray.errors import MedfedError, RunStopped, UsageError

EXIT_FAILURE = 1
"""A run failed (too few hospitals answered, the cluster was too small, ...)."""
EXIT_USAGE = 2
"""The input was wrong: bad scenario, bad option. Nothing ran."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: a checkpoint was written; the run can be resumed (128 + SIGINT)."""

DEFAULT_SCENARIO = Path("scenarios") / "quickstart.toml"

SET_HELP = (
    "Override a scenario field, e.g. --set rounds=5 --set aggregator.name=median."
)

ScenarioArgument = Annotated[
    Path | None, typer.Argument(help="Scenario TOML file (default: the quickstart).")
]
"""The optional scenario file every scenario command takes."""

OverridesOption = Annotated[
    list[str] | None, typer.Option("--set", "-s", help=SET_HELP)
]
"""The repeatable ``--set KEY=VALUE`` every scenario command takes."""


def make_console() -> Console:
    """The console of every command; wide when writing to a file or a pipe.

    Rich lays tables out for 80 columns when it is not writing to a terminal,
    which cuts the benchmark tables' headers to a few letters in a log file.
    ``COLUMNS`` still wins when set.
    """
    plain = Console()
    if plain.is_terminal or os.environ.get("COLUMNS"):
        return plain
    return Console(width=PIPE_WIDTH)


PIPE_WIDTH = 200
"""Columns of the console when output goes to a file or a pipe."""

console = make_console()


def packaged_scenario(name: str) -> Path:
    """The path of a scenario that ships inside the installed package."""
    from importlib import resources

    return Path(str(resources.files("medfed_ray") / "scenarios" / name))


def resolve_scenario_path(path: Path | None) -> Path:
    """The scenario to use: the given file, else the quickstart (local copy first)."""
    if path is not None:
        return path
    if DEFAULT_SCENARIO.exists():
        return DEFAULT_SCENARIO
    return packaged_scenario("quickstart.toml")


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show medfed-ray's own errors as a message and an exit code, not a traceback."""
    try:
        yield
    except RunStopped as error:
        typer.echo(f"Stopped: {error}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except UsageError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except MedfedError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(EXIT_FAILURE) from None
