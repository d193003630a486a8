"""``medfed bench``: measure aggregation throughput and simulation overhead."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from medfed_ray.cli.bench_options import check_json_target, parse_counts
from medfed_ray.cli.bench_scale import scale_command
from medfed_ray.cli.common import console

bench_app = typer.Typer(
    help="Measure aggregation throughput and simulation overhead.",
    no_args_is_help=True,
)


@bench_app.callback()
def bench_group() -> None:
    """Measure aggregation throughput and simulation overhead."""


RULES_HELP = "Comma-separated rules to time (default: every registered rule)."


@bench_app.command("aggregators")
def aggregators_command(
    n: Annotated[int, typer.Option("--n", min=1, help="Hospitals (rows).")] = 50,
    d: Annotated[
        int, typer.Option("--d", min=1, help="Parameters per update (columns).")
    ] = 1_000_000,
    rules: Annotated[str | None, typer.Option("--rules", help=RULES_HELP)] = None,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Timed runs; the best counts.")
    ] = 3,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the records to FILE.")
    ] = None,
) -> None:
    """Time every aggregation rule against a one-pass floor and plain numpy."""
    from medfed_ray.aggregators import AGGREGATORS
    from medfed_ray.bench.aggregators import bench_aggregators, machine_description

    names = list(AGGREGATORS) if rules is None else _split_rules(rules, AGGREGATORS)
    _check_rules_fit(names, n)
    check_json_target(json_file)
    records = bench_aggregators(n, d, names, repeats)

    table = Table(title=f"Aggregators, n={n}, d={d:,}, best of {repeats}")
    table.add_column("rule")
    for column in ("seconds", "values/s", "vs floor"):
        table.add_column(column, justify="right")
    table.add_column("reference")
    for column in ("ref s", "speed-up", "max |diff|"):
        table.add_column(column, justify="right")
    for record in records:
        table.add_row(
            record.rule,
            f"{record.seconds:.4f}",
            f"{record.values_per_second:.3g}",
            f"{record.vs_floor:.2f}x",
            record.reference,
            f"{record.reference_seconds:.4f}",
            f"{record.speedup:.1f}x",
            f"{record.max_abs_difference:.1e}",
        )
    console.print(table)
    console.print(
        "vs floor: rule throughput / throughput of np.add.reduce(updates, axis=0), "
        "one pass reading every value. speed-up: reference seconds / rule seconds."
    )
    for record in records:
        if record.params:
            params = ", ".join(f"{key}={value}" for key, value in record.params.items())
            console.print(f"{record.rule}: {params}")

    if json_file is not None:
        document = {
            "command": "medfed bench aggregators",
            "n": n,
            "d": d,
            "repeats": repeats,
            "machine": machine_description(),
            "records": [record.to_dict() for record in records],
        }
        json_file.write_text(json.dumps(document, indent=2) + "\n")
        console.print(f"wrote {json_file}")


def _check_rules_fit(names: list[str], n: int) -> None:
    """Refuse ``--n`` too small for a rule's preconditions, naming the rule and the need."""
    from medfed_ray.aggregators import get_param_checker
    from medfed_ray.bench.aggregators import bench_params

    problems = [
        message
        for name in names
        for message in get_param_checker(name)(n, 0, **bench_params(name, n))
    ]
    if problems:
        raise typer.BadParameter(
            "; ".join(problems) + "; raise --n or leave those rules out of --rules",
            param_hint="--n",
        )


def _split_rules(rules: str, registered: dict) -> list[str]:
    """Return the named rules in order, or fail naming the unknown ones and the choices."""
    names = [name.strip() for name in rules.split(",") if name.strip()]
    unknown = [name for name in names if name not in registered]
    if unknown or not names:
        choices = ", ".join(registered)
        raise typer.BadParameter(
            f"unknown rule(s) {', '.join(unknown) or '(none given)'}; choose from {choices}",
            param_hint="--rules",
        )
    return names


@bench_app.command("run")
def run_command(
    scenario_file: Annotated[
        Path | None,
        typer.Argument(help="Scenario TOML file (default: the quickstart)."),
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", "-s", help="Override a scenario field.")
    ] = None,
) -> None:
    """Time one whole run and measure the peak memory of every process it starts."""
    from medfed_ray.bench.run import measure_run
    from medfed_ray.cli.common import resolve_scenario_path, user_errors
    from medfed_ray.scenario import load_scenario

    with user_errors():
        scenario, _ = load_scenario(
            resolve_scenario_path(scenario_file), overrides or []
        )
        record = measure_run(scenario)

    table = Table(title=f"medfed run {scenario.name}: cost of one run")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in record.items():
        table.add_row(key, f"{value:.2f}" if isinstance(value, float) else str(value))
    console.print(table)


bench_app.command("scale")(scale_command)


@bench_app.command("simulation")
def simulation_command(
    hospitals: Annotated[
        str, typer.Option("--hospitals", help="Comma-separated hospital counts.")
    ] = "10,100,1000",
    rounds: Annotated[
        int,
        typer.Option(
            "--rounds", min=3, help="Rounds per run; the first and last are not timed."
        ),
    ] = 5,
    actors: Annotated[
        int,
        typer.Option(
            "--actors",
            min=1,
            help="Training processes of the engine and of Flower, one core each.",
        ),
    ] = 2,
    json_file: Annotated[
        Path | None, typer.Option("--json", help="Also write the records to FILE.")
    ] = None,
) -> None:
    """Client updates per second of the engine beside a plain loop and Flower."""
    from medfed_ray.bench.simulation import engine_ratios, flower_available, measure

    counts = parse_counts(hospitals, minimum=1)
    check_json_target(json_file)
    with_flower = flower_available()
    records, rows = [], []
    for count in counts:
        loop = measure("loop", count, rounds)
        engine = measure("engine", count, rounds, actors)
        flower = measure("flower", count, rounds, actors) if with_flower else None
        engine.update(engine_ratios(engine, loop, flower))
        records += [loop, engine] + ([flower] if flower else [])
        rows.append((loop, engine, flower))

    _print_tables(rows, with_flower)
    if not with_flower:
        console.print(
            "Flower: skipped (flwr is not installed; "
            "pip install 'medfed-ray[flower]' to measure it).",
            markup=False,
        )
    if json_file is not None:
        json_file.write_text(json.dumps(records, indent=1) + "\n")


RATIO_HEADERS = {
    "engine_over_loop_updates": "engine/loop",
    "engine_over_flower_updates": "engine/Flower",
    "engine_over_loop_startup": "engine/loop",
    "engine_over_flower_startup": "engine/Flower",
    "engine_over_loop_memory": "engine/loop",
    "engine_over_flower_memory": "engine/Flower",
}
"""Column header of each ratio in ``engine_ratios``."""


def _side_table(
    title: str, rows: list[tuple], value, ratio_keys: list[str], with_flower: bool
) -> Table:
    """One measure per side (``value(record)`` formats it) and the engine's ratios."""
    sides = ["loop", "engine"] + (["Flower"] if with_flower else [])
    ratios = [key for key in ratio_keys if with_flower or "flower" not in key]
    table = Table(title=title)
    for column in ["hospitals", *sides, *(RATIO_HEADERS[key] for key in ratios)]:
        table.add_column(column, justify="right")
    for loop, engine, flower in rows:
        measured = [loop, engine] + ([flower] if with_flower else [])
        cells = [str(loop["hospitals"]), *(value(record) for record in measured)]
        cells += [f"{engine[key]:.2f}x" for key in ratios]
        table.add_row(*cells)
    return table


def _print_tables(rows: list[tuple], with_flower: bool) -> None:
    """Throughput, start-up and memory of every side, one table each."""
    console.print(
        _side_table(
            "Client updates per second (steady rounds)",
            rows,
            lambda record: f"{record['updates_per_second']:.1f}",
            ["engine_over_loop_updates", "engine_over_flower_updates"],
            with_flower,
        )
    )
    console.print(
        _side_table(
            "Start-up seconds (until round 1 can begin)",
            rows,
            lambda record: f"{record['startup_seconds']:.1f}",
            ["engine_over_loop_startup", "engine_over_flower_startup"],
            with_flower,
        )
    )
    console.print(
        _side_table(
            "Peak memory, MiB (processes at the peak)",
            rows,
            lambda record: (
                f"{record['peak_pss_mib']:,.0f} ({record['processes_at_peak']})"
            ),
            ["engine_over_loop_memory", "engine_over_flower_memory"],
            with_flower,
        )
    )
