"""``medfed data``: fetch MedMNIST files and show how a scenario splits its data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from medfed_ray.cli.common import (
    OverridesOption,
    ScenarioArgument,
    console,
    resolve_scenario_path,
    user_errors,
)

data_app = typer.Typer(
    help="Fetch datasets and show how a scenario spreads them over hospitals.",
    no_args_is_help=True,
)

SIZE_HELP = "Image side in pixels: 28, 64, 128 or 224."
CACHE_HELP = (
    "Directory for fetched files (default: $MEDFED_DATA_DIR, else the user cache, "
    "e.g. ~/.cache/medfed-ray)."
)
PNG_HELP = "Where to write the heatmap (default: <scenario name>-partition.png)."
MAX_CLASS_COLUMNS = 12
"""Beyond this many classes the table shows a summary instead of one column each."""


@data_app.command("fetch")
def fetch_command(
    flavour: Annotated[
        str, typer.Argument(help="MedMNIST 2D dataset, e.g. pneumoniamnist.")
    ],
    size: Annotated[int, typer.Option("--size", help=SIZE_HELP)] = 28,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help=CACHE_HELP)
    ] = None,
) -> None:
    """Download an official MedMNIST file into the cache and verify its MD5."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TransferSpeedColumn,
    )

    from medfed_ray.data.fetch import fetch_medmnist

    progress = Progress(
        "[bold]fetch",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
    )
    with user_errors(), progress:
        task = progress.add_task(flavour, total=None)

        def on_progress(received: int, total: int | None) -> None:
            progress.update(task, completed=received, total=total)

        path = fetch_medmnist(flavour, size, cache_dir, on_progress)
    typer.echo(f"{path}: MD5 verified")


@data_app.command("partition")
def partition_command(
    scenario_file: ScenarioArgument = None,
    overrides: OverridesOption = None,
    png: Annotated[Path | None, typer.Option("--png", help=PNG_HELP)] = None,
) -> None:
    """Print each hospital's samples and label counts; write a hospitals x classes heatmap."""
    from medfed_ray.data.hospital_data import prepare_hospital_data
    from medfed_ray.data.partition import split_validation
    from medfed_ray.data.summary import label_counts, label_skew, plot_heatmap
    from medfed_ray.scenario.loading import load_scenario
    from medfed_ray.simulation import Seeds

    with user_errors():
        path = resolve_scenario_path(scenario_file)
        scenario, _ = load_scenario(path, overrides or [])
        # The same seed streams as a run, so this is the split a run would use.
        seeds = Seeds.from_scenario(scenario)
        dataset, shards = prepare_hospital_data(scenario, seeds.data, seeds.partition)
        splits = split_validation(
            shards, scenario.dataset.validation_fraction, seeds.partition
        )

    counts = label_counts(dataset.y_train, shards, dataset.num_classes)
    console.print(partition_table(scenario, counts, splits))
    console.print(
        f"{len(dataset.y_train)} training samples over {len(shards)} hospitals; "
        f"global test set {len(dataset.y_test)} samples (kept by the coordinator); "
        f"label skew {label_skew(counts):.3f} (mean total-variation distance to "
        "the pooled mix)",
        highlight=False,
    )
    title = f"{scenario.name}: {scenario.partition.name} partition"
    written = plot_heatmap(counts, png or Path(f"{scenario.name}-partition.png"), title)
    console.print(f"Heatmap: {written}", highlight=False)


def partition_table(scenario, counts, splits) -> Table:
    """One row per hospital: samples, train/validation sizes and label counts."""
    num_classes = counts.shape[1]
    table = Table(title=f"{scenario.name}: partition {scenario.partition.name}")
    for heading in ("hospital", "samples", "train", "val"):
        table.add_column(heading, justify="right")
    wide = num_classes > MAX_CLASS_COLUMNS
    if wide:
        table.add_column("classes held", justify="right")
        table.add_column("largest class", justify="right")
    else:
        table.caption = "columns 0, 1, ...: training samples of each class"
        for label in range(num_classes):
            table.add_column(str(label), justify="right")

    for hospital, (row, (train, validation)) in enumerate(
        zip(counts, splits, strict=True)
    ):
        cells = [str(hospital), str(row.sum()), str(len(train)), str(len(validation))]
        if wide:
            largest = int(row.argmax())
            share = row[largest] / max(row.sum(), 1)
            cells += [str(int((row > 0).sum())), f"{largest} ({share:.0%})"]
        else:
            cells += [str(value) for value in row]
        table.add_row(*cells)
    return table
