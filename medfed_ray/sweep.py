"""Sweeps: every combination of a scenario's ``[sweep]`` axes, run and tabulated.

A ``[sweep]`` table maps scenario field paths, in the ``--set`` syntax, to
lists of values::

    [sweep]
    "aggregator.name" = ["mean", "median"]
    "hospitals[1].fraction" = [0.0, 0.25]
    seed = [0, 1, 2]

Each combination is the scenario with those overrides applied
(:func:`~medfed_ray.scenario.loading.apply_overrides`) and validated, all of
them before anything runs. A value may be a table, which replaces the whole
field, e.g. ``aggregator = [{name = "mean"}, {name = "krum", params =
{num_malicious = 5}}]`` for rules with different parameters. The runs go to
``RUN_DIR/runs/<combination>/``; ``sweep.parquet`` holds one row per
combination and ``sweep_accuracy.png`` plots final accuracy.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

from medfed_ray.errors import MedfedError, Problem, ScenarioError
from medfed_ray.scenario.schema import Scenario

logger = logging.getLogger(__name__)

SCORES = ("accuracy", "balanced_accuracy", "auroc", "loss")
"""The final scores each combination contributes to ``sweep.parquet``."""


@dataclass(frozen=True)
class Combination:
    """One point of a sweep: its axis values and the scenario they make."""

    index: int
    values: dict[str, Any]
    label: str
    """The combination's folder name under ``RUN_DIR/runs/``."""
    scenario: Scenario


def expand_sweep(data: dict[str, Any], source: str = "scenario") -> list[Combination]:
    """Return every combination of ``data["sweep"]``, each validated.

    Raises
    ------
    ScenarioError
        Listing the problems of every combination that is invalid, each
        prefixed with the combination's axis values.
    """
    from medfed_ray.scenario.loading import apply_overrides, validate_scenario

    axes = data.get("sweep") or {}
    base = {key: value for key, value in data.items() if key != "sweep"}
    combinations, problems = [], []
    for index, values in enumerate(itertools.product(*axes.values())):
        chosen = dict(zip(axes, values, strict=True))
        label = combination_label(index, chosen)
        overrides = [f"{key}={toml_value(value)}" for key, value in chosen.items()]
        try:
            combo = apply_overrides(base, overrides)
            scenario = validate_scenario(combo, source=label)
        except ValueError as error:
            problems.append(Problem(f"sweep {label}", str(error), has_found=False))
            continue
        except ScenarioError as error:
            problems += [
                Problem(f"sweep {label}: {p.path}", p.message, p.found, p.has_found)
                for p in error.problems
            ]
            continue
        combinations.append(Combination(index, chosen, label, scenario))
    if problems:
        raise ScenarioError(source, problems)
    return combinations


def toml_value(value: Any) -> str:
    """Write ``value`` as a TOML value for ``--set`` (tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return repr(value)


def value_label(value: Any) -> str:
    """A short text for one axis value; a table by its ``name`` or ``behaviour``.

    ``{name = "krum", params = {num_malicious = 2}}`` reads
    ``krum_num_malicious=2``: the head, then every other leaf as ``key=value``.
    """
    if not isinstance(value, dict):
        return str(value)
    head = str(value.get("name") or value.get("behaviour") or "")
    rest = {k: v for k, v in value.items() if k not in ("name", "behaviour")}
    return head + "".join(f"_{key}={leaf}" for key, leaf in _leaves(rest))


def _leaves(table: dict[str, Any]) -> list[tuple[str, Any]]:
    found = []
    for key, value in table.items():
        found += _leaves(value) if isinstance(value, dict) else [(key, value)]
    return found


def combination_label(index: int, values: dict[str, Any]) -> str:
    """``003-median-0.25-1``: the index keeps labels unique, values make them readable."""
    parts = [f"{index:03d}", *(value_label(value) for value in values.values())]
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", "-".join(parts))[:120]


@dataclass
class SweepOutcome:
    """What a finished sweep returns: its folder and its table's rows."""

    path: Path
    rows: list[dict[str, Any]]


def run_sweep(
    combinations: list[Combination],
    out: Path,
    source_data: dict[str, Any],
    address: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> SweepOutcome:
    """Run every combination into ``out/runs/<label>/`` and write the sweep's table and plot.

    A combination whose run directory already has a ``summary.json`` is read
    instead of run again, so the same command continues an interrupted
    sweep. Combinations run several at a time when the Ray cluster has the
    CPUs and GPUs for all their hospitals at once (:func:`parallel_slots`).
    A combination that fails is recorded with its error; the others go on.
    """
    from medfed_ray.simulation import connect

    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.toml").write_text(tomli_w.dumps(source_data))
    connect(address)
    slots = parallel_slots([combo.scenario for combo in combinations])
    logger.info(
        "sweep of %d combinations, %d at a time, into %s",
        len(combinations),
        slots,
        out,
    )

    def run_one(combo: Combination) -> dict[str, Any]:
        row = run_combination(combo, out / "runs" / combo.label, address)
        if on_done is not None:
            on_done(row)
        return row

    if slots == 1:
        rows = [run_one(combo) for combo in combinations]
    else:
        # Each run_simulation blocks on its own coordinator; threads let the
        # driver wait on several at once while Ray schedules their actors.
        with ThreadPoolExecutor(max_workers=slots) as pool:
            rows = list(pool.map(run_one, combinations))

    write_sweep_table(out / "sweep.parquet", rows)
    plot_sweep(rows, list(combinations[0].values) if combinations else [], out)
    return SweepOutcome(out, rows)


def run_combination(
    combo: Combination, run_dir: Path, address: str | None
) -> dict[str, Any]:
    """Run (or read back) one combination; return its ``sweep.parquet`` row."""
    from medfed_ray.simulation import run_simulation

    row: dict[str, Any] = {
        "combination": combo.index,
        "run": combo.label,
        **{
            key: value_label(value) if isinstance(value, dict) else value
            for key, value in combo.values.items()
        },
    }
    summary_path = run_dir / "summary.json"
    started = time.perf_counter()
    status, error, summary = "ok", None, None
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        status = "reused"
    else:
        try:
            summary = run_simulation(combo.scenario, run_dir, address=address).summary
        except MedfedError as failure:
            status, error = "failed", str(failure)
            logger.warning("sweep %s failed: %s", combo.label, failure)
    final = (summary or {}).get("final") or {}
    for key in SCORES:
        value = final.get(key)
        row[key] = float("nan") if value is None else float(value)
    wall = (summary or {}).get("wall_seconds")
    row["wall_seconds"] = time.perf_counter() - started if wall is None else wall
    row["status"], row["error"] = status, error
    return row


def parallel_slots(scenarios: list[Scenario]) -> int:
    """How many combinations fit on the Ray cluster at once (at least 1).

    The largest combination's total CPU and GPU request is divided into the
    cluster's totals. Memory is not a Ray resource here; a TensorFlow
    hospital process takes a few hundred MB, which the user must budget.
    """
    import ray

    available = ray.cluster_resources()
    slots = len(scenarios)
    for resource, key in (("CPU", "num_cpus"), ("GPU", "num_gpus")):
        need = max(
            sum(getattr(group, key) * group.count for group in scenario.hospitals)
            for scenario in scenarios
        )
        if need > 0:
            have = float(available.get(resource, 0.0))
            slots = min(slots, math.floor(have / need + 1e-9))
    return max(1, slots)


def write_sweep_table(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``sweep.parquet``: one row per combination, axes first, then scores."""
    columns = list(rows[0]) if rows else ["combination", "run"]
    data = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        kinds = {type(value) for value in values if value is not None}
        if len(kinds) > 1 and not kinds <= {int, float}:
            # An axis mixing types (0 and "all") is stored as text.
            values = [None if value is None else str(value) for value in values]
        elif kinds == {int, float}:
            values = [None if value is None else float(value) for value in values]
        data[column] = values
    pq.write_table(pa.table(data), path)


def plot_sweep(rows: list[dict[str, Any]], axes: list[str], out: Path) -> Path | None:
    """Plot mean final accuracy (error bars: std over the remaining axes, e.g. seeds).

    The x axis is the first numeric axis other than ``seed`` (the attacker
    fraction, typically); there is one line per value of the first other
    axis (the rule). Without a numeric axis the first axis is the x axis.
    Returns the PNG's path, or None when there is nothing to plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [row for row in rows if not math.isnan(row["accuracy"])]
    if not done or not axes:
        return None
    candidates = [axis for axis in axes if axis != "seed"] or axes
    numeric = [
        axis
        for axis in candidates
        if all(
            isinstance(row[axis], int | float) and not isinstance(row[axis], bool)
            for row in done
        )
    ]
    x_axis = numeric[0] if numeric else candidates[0]
    others = [axis for axis in candidates if axis != x_axis]
    line_axis = others[0] if others else None

    figure, axes_ = plt.subplots(figsize=(6.4, 4.2))
    lines = sorted({str(row[line_axis]) for row in done}) if line_axis else [""]
    for line in lines:
        members = [r for r in done if line_axis is None or str(r[line_axis]) == line]
        if numeric:
            xs = sorted({row[x_axis] for row in members}, key=_sort_key)
        else:
            # Categories keep the sweep's order; a line between them would
            # suggest an order that is not there.
            xs = list(dict.fromkeys(row[x_axis] for row in members))
        means, stds = [], []
        for x in xs:
            mean, std = mean_std([r["accuracy"] for r in members if r[x_axis] == x])
            means.append(mean)
            stds.append(std)
        positions = xs if numeric else list(range(len(xs)))
        axes_.errorbar(
            positions,
            means,
            yerr=stds,
            marker="o",
            capsize=3,
            label=line,
            linestyle="-" if numeric else "none",
        )
        if not numeric:
            axes_.set_xticks(positions, [str(x) for x in xs], rotation=30, ha="right")
    axes_.set_xlabel(x_axis)
    axes_.set_ylabel("final test accuracy")
    axes_.set_ylim(0.0, 1.0)
    axes_.grid(alpha=0.3)
    if line_axis:
        axes_.legend(title=line_axis, fontsize="small")
    figure.tight_layout()
    path = out / "sweep_accuracy.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof = 1``; 0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))
