"""``medfed run`` on a scenario with a ``[sweep]`` table: run every combination."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.table import Table

from medfed_ray.cli.common import console
from medfed_ray.sweep import mean_std


def run_sweep_command(
    data: dict[str, Any], source: str, out: Path, address: str | None
) -> None:
    """Expand, run and summarise a sweep; one console line per finished combination."""
    from medfed_ray.sweep import expand_sweep, run_sweep

    combinations = expand_sweep(data, source)
    axes = list(combinations[0].values)
    console.print(
        f"Sweep over {', '.join(axes)}: {len(combinations)} combinations; "
        f"writing {out}",
        highlight=False,
    )
    finished = 0

    def on_done(row: dict[str, Any]) -> None:
        nonlocal finished
        finished += 1
        values = "  ".join(f"{axis}={row[axis]}" for axis in axes)
        console.print(
            f"[{finished}/{len(combinations)}] {values}  acc {row['accuracy']:.4f}  "
            f"{row['status']}  {row['wall_seconds']:.0f} s",
            highlight=False,
        )

    outcome = run_sweep(combinations, out, data, address=address, on_done=on_done)
    console.print(sweep_table(outcome.rows, axes))
    console.print(f"Sweep directory: {outcome.path}", highlight=False)


def sweep_table(rows: list[dict[str, Any]], axes: list[str]) -> Table:
    """Mean and standard deviation of final accuracy over ``seed``, per other axes."""
    keys = [axis for axis in axes if axis != "seed"]
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in keys), []).append(row["accuracy"])
    over_seeds = "seed" in axes
    table = Table(
        title="final accuracy (mean ± sample std over seeds)"
        if over_seeds
        else "final accuracy"
    )
    for key in keys:
        table.add_column(key)
    table.add_column("accuracy", justify="right")
    table.add_column("runs", justify="right")
    for values, scores in groups.items():
        done = [score for score in scores if not math.isnan(score)]
        if len(done) > 1:
            mean, std = mean_std(done)
            text = f"{mean:.4f} ± {std:.4f}"
        elif done:
            # One finished run has no spread to show.
            text = f"{done[0]:.4f}"
        else:
            text = "failed"
        table.add_row(*(str(value) for value in values), text, str(len(scores)))
    return table
