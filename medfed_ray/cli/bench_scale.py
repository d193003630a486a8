"""``medfed bench scale``: time and memory of whole runs as the hospitals grow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from medfed_ray.cli.bench_options import check_json_target, parse_counts
from medfed_ray.cli.common import console

HOSPITALS_HELP = "Comma-separated hospital counts, each at least 2, e.g. 1000,10000."
MODEL_HELP = "mlp: 32-16 MLP on 16 features; cnn: the pneumonia CNN on 28x28 images."
ROUNDS_HELP = "Rounds per size; the first is not timed when there are more."
FRACTION_HELP = "Poisson-sample this fraction of the hospitals per round."
JSON_HELP = "Also write the records to FILE."
TRAINING_HELP = (
    "federated: FedAvg of every update; local: each hospital trains and is scored "
    "alone."
)


def scale_command(
    hospitals: Annotated[
        str, typer.Option("--hospitals", help=HOSPITALS_HELP)
    ] = "1000,10000",
    model: Annotated[
        Literal["mlp", "cnn"], typer.Option("--model", help=MODEL_HELP)
    ] = "mlp",
    rounds: Annotated[int, typer.Option("--rounds", min=1, help=ROUNDS_HELP)] = 3,
    fraction: Annotated[
        float | None,
        typer.Option("--fraction", help=FRACTION_HELP),
    ] = None,
    training: Annotated[
        Literal["federated", "local"], typer.Option("--training", help=TRAINING_HELP)
    ] = "federated",
    json_file: Annotated[Path | None, typer.Option("--json", help=JSON_HELP)] = None,
) -> None:
    """Start-up, seconds per round, updates/s and peak memory at each number of hospitals."""
    from medfed_ray.bench.aggregators import machine_description
    from medfed_ray.bench.scale import available_cores, cpu_share, measure_sizes

    sizes = parse_counts(hospitals, minimum=2)
    check_json_target(json_file)
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise typer.BadParameter(
            f"must be in (0, 1]; found {fraction:g}", param_hint="--fraction"
        )
    if fraction is not None and training == "local":
        raise typer.BadParameter(
            "samples hospitals for federated rounds; local-only training trains every "
            "hospital in every round, so drop --fraction or use --training federated",
            param_hint="--fraction",
        )
    cores = available_cores()
    try:
        for size in sizes:
            cpu_share(size, cores)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--hospitals") from None

    records = measure_sizes(sizes, model, rounds, fraction, cores, training)

    sampled = "" if fraction is None else f", Poisson sampling {fraction:g}"
    table = Table(
        title=f"Scale: {model} on synthetic data, {training} training, "
        f"{rounds} rounds{sampled}"
    )
    for column in (
        "hospitals",
        "actors",
        "start-up s",
        "s/round",
        "updates/round",
        "updates/s",
        "peak PSS MiB",
        "processes",
        "KiB/hospital",
        "load",
    ):
        table.add_column(column, justify="right")
    for record in records:
        slope = record.memory_per_hospital_kib
        table.add_row(
            f"{record.hospitals:,}",
            str(record.hospital_actors),
            f"{record.startup_seconds:.1f}",
            f"{record.seconds_per_round:.2f}",
            f"{record.updates_per_round:,.0f}",
            f"{record.updates_per_second:.0f}",
            f"{record.peak_pss_mib:,.0f}",
            str(record.processes_at_peak),
            "" if slope is None else f"{slope:.1f}",
            f"{record.load_average_start:.1f}-{record.load_average_end:.1f}",
        )
    console.print(table)
    console.print(
        "KiB/hospital: the slope of peak PSS (all processes of the run) from the "
        "size above. load: 1-minute load average before and after the size ran."
    )
    if json_file is not None:
        document = {
            "command": "medfed bench scale",
            "machine": machine_description(),
            "records": [record.to_dict() for record in records],
        }
        json_file.write_text(json.dumps(document, indent=2) + "\n")
        console.print(f"wrote {json_file}")
