"""``medfed run``: run a scenario and leave a run directory."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from medfed_ray.cli.common import (
    EXIT_USAGE,
    OverridesOption,
    ScenarioArgument,
    console,
    resolve_scenario_path,
    user_errors,
)

logger = logging.getLogger(__name__)

DASHBOARD_HELP = (
    "Turn on Ray's dashboard, on 127.0.0.1 only (off by default; "
    "needs Ray's default extra)."
)
RESUME_HELP = "Continue an interrupted run from its latest checkpoint in RUN_DIR."
OUT_HELP = "Run directory to write (default: runs/<scenario>-<timestamp>)."
ADDRESS_HELP = (
    "Join an existing Ray cluster: 'auto' or HOST:PORT (default: a local runtime)."
)


def run_command(
    scenario_file: ScenarioArgument = None,
    overrides: OverridesOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help=OUT_HELP)] = None,
    address: Annotated[str | None, typer.Option("--address", help=ADDRESS_HELP)] = None,
    resume: Annotated[
        Path | None, typer.Option("--resume", help=RESUME_HELP, show_default=False)
    ] = None,
    dashboard: Annotated[
        bool, typer.Option("--dashboard", help=DASHBOARD_HELP, show_default=False)
    ] = False,
) -> None:
    """Run a federated (or local-only) training scenario."""
    from medfed_ray.run_directory import default_run_directory
    from medfed_ray.scenario import load_scenario
    from medfed_ray.simulation import connect, run_simulation

    if resume is not None and (scenario_file or overrides or out):
        typer.echo(
            "Error: --resume RUN_DIR continues that run with its own scenario.toml; "
            "do not give a scenario file, --set or --out with it",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)

    with user_errors():
        if resume is not None:
            path = resume / "scenario.toml"
            scenario, _ = load_scenario(path)
            out = resume
        else:
            path = resolve_scenario_path(scenario_file)
            scenario, data = load_scenario(path, overrides or [])
            out = out or default_run_directory(scenario)
            if scenario.sweep is not None:
                from medfed_ray.cli.sweep import run_sweep_command

                run_sweep_command(data, str(path), out, address)
                return
        header = describe_scenario(scenario, out)
        if resume is not None:
            from medfed_ray.resume_checks import open_resumption

            # Checked here too, so a resume refused for its scenario or its
            # checkpoint prints nothing else first (the data and the arrays'
            # fit are checked once the data is loaded and the model built).
            after = open_resumption(resume, scenario).state.completed_round
            header = f"Resuming after round {after}. {header}"
        typer.echo(header)

        started = time.perf_counter()
        progress = Progress(
            TextColumn("[bold]round"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[scores]}"),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task(
                "rounds", total=scenario.rounds, scores="starting hospitals"
            )

            def on_round(result) -> None:
                # Out of the hospitals asked: with [sampling], those sampled.
                scores = f"updates {result.updates_received}/{result.hospitals_sampled}"
                if result.evaluated:
                    scores = (
                        f"acc {result.accuracy:.4f}  loss {result.loss:.4f}  {scores}"
                    )
                if result.privacy:
                    scores += f"  ε {result.epsilon:.3g} (δ {scenario.privacy.delta:g})"
                progress.update(task, completed=result.round, scores=scores)
                if not console.is_terminal:
                    # A live bar is invisible in a log file or pipe: print a line instead.
                    elapsed = time.perf_counter() - started
                    console.print(
                        f"round {result.round}/{scenario.rounds}  {scores}  "
                        f"round {result.round_seconds:.2f} s, {elapsed:.1f} s since start",
                        highlight=False,
                    )

            if dashboard:
                connect(address, dashboard=True)
            outcome = run_simulation(
                scenario,
                out,
                on_round=on_round,
                address=address,
                resume=resume is not None,
            )

    console.print(summary_table(outcome.summary, time.perf_counter() - started))
    console.print(f"Run directory: {outcome.path}", highlight=False)


def plural(count: int, noun: str) -> str:
    """``1 round``, ``2 rounds``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_rule(scenario) -> str:
    """``aggregator median``, or that local-only training aggregates nothing.

    With ``[sampling]`` it also says which hospitals train in a round.
    """
    if scenario.training == "local":
        return "no aggregation (local-only)"
    sampling = scenario.sampling
    chosen = ""
    if sampling.mode == "poisson":
        chosen = f", each hospital sampled with probability {sampling.fraction:g}"
    elif sampling.mode == "fixed":
        size = sampling.sample_size(scenario.num_hospitals)
        chosen = f", {plural(size, 'hospital')} sampled per round"
    return f"aggregator {scenario.aggregator.name}{chosen}"


def describe_scenario(scenario, out: Path) -> str:
    """The one-line header of a run: what runs and where it is written."""
    rule = describe_rule(scenario)
    return (
        f"Scenario {scenario.name}: {plural(scenario.num_hospitals, 'hospital')}, "
        f"{plural(scenario.rounds, 'round')}, {scenario.training} training, {rule}; "
        f"writing {out}"
    )


def summary_table(summary: dict, seconds: float) -> Table:
    """A short table of the run's final scores."""
    table = Table(
        title=f"{summary['scenario']} ({summary['training']})", show_header=True
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    final = summary.get("final") or {}
    # Local-only training scores every hospital's own model; the row is their mean.
    suffix = " (mean over hospitals)" if summary["training"] == "local" else ""
    for key in ("accuracy", "balanced_accuracy", "auroc", "loss"):
        value = final.get(key)
        table.add_row(key + suffix, "n/a" if value is None else f"{value:.4f}")
    if summary["training"] == "local" and final.get("accuracy_std") is not None:
        table.add_row(
            "accuracy spread (std over hospitals)", f"{final['accuracy_std']:.4f}"
        )
    privacy = summary.get("privacy")
    if privacy:
        for level, epsilon in privacy["epsilon"].items():
            table.add_row(
                f"epsilon ({level} level, δ {privacy['delta']:g})", f"{epsilon:.4g}"
            )
        if privacy.get("budget_stop"):
            table.add_row("stopped", "privacy budget reached")
    table.add_row("rounds", str(summary["rounds"]))
    table.add_row("hospitals", str(summary["hospitals"]))
    wall = summary.get("wall_seconds")
    table.add_row("wall seconds", "n/a" if wall is None else f"{wall:.1f}")
    return table
