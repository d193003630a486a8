"""Assembles the ``medfed`` command line from one module per command."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from medfed_ray import __version__
from medfed_ray.cli.bench import bench_app
from medfed_ray.cli.data import data_app
from medfed_ray.cli.privacy import privacy_app
from medfed_ray.cli.report import report_command
from medfed_ray.cli.run import run_command
from medfed_ray.cli.validate import validate_command

app = typer.Typer(
    name="medfed",
    help="Simulate federated learning between hospitals on Ray.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def show_version(value: bool) -> None:
    """Print the version and exit (eager ``--version``)."""
    if value:
        typer.echo(f"medfed-ray {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=show_version,
            is_eager=True,
            help="Show the version.",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log each round.")
    ] = False,
) -> None:
    """Simulate federated learning between hospitals on Ray."""
    from rich.logging import RichHandler

    from medfed_ray.cli.common import console

    # Log through the same console as the progress bar, so log lines are
    # printed above the live bar instead of into it.
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, markup=False)],
    )
    # dp-accounting warns, through absl, each time an RDP order fails to
    # converge and is left out; epsilon stays a valid upper bound, and the
    # repeated lines would bury the run's own output. Shown with --verbose.
    logging.getLogger("absl").setLevel(logging.INFO if verbose else logging.ERROR)


app.command("run")(run_command)
app.command("validate")(validate_command)
app.command("report")(report_command)
app.add_typer(bench_app, name="bench")
app.add_typer(data_app, name="data")
app.add_typer(privacy_app, name="privacy")


def main() -> None:
    """Console-script entry point."""
    app()
