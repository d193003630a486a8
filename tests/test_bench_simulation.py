"""One run of ``medfed bench simulation`` at a tiny size: every side measured, finite numbers."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from medfed_ray.bench.simulation import flower_available
from medfed_ray.cli.bench import bench_app


def test_simulation_benchmark_reports_every_side(tmp_path):
    """Loop, engine and (when installed) Flower report throughput, start-up and memory.

    Without ``flwr`` the output says plainly that Flower was skipped.
    """
    out = tmp_path / "bench.json"

    result = CliRunner().invoke(
        bench_app,
        [
            "simulation",
            "--hospitals",
            "2",
            "--rounds",
            "3",
            "--actors",
            "1",
            "--json",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())
    sides = ["loop", "engine"] + (["flower"] if flower_available() else [])
    assert [record["side"] for record in records] == sides
    for record in records:
        assert record["hospitals"] == 2
        assert len(record["round_seconds"]) == 3
        for key in ("updates_per_second", "startup_seconds", "peak_pss_mib"):
            assert math.isfinite(record[key]) and record[key] > 0, (key, record)
    engine = records[1]
    assert engine["engine_over_loop_updates"] > 0
    if flower_available():
        assert engine["engine_over_flower_updates"] > 0
        assert engine["engine_over_flower_memory"] > 0
    else:
        assert engine["engine_over_flower_updates"] is None
        assert "Flower: skipped (flwr is not installed" in result.output


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--hospitals", "10,x"], "must be whole numbers separated by commas; found"),
        (["--hospitals", "10,,20"], "must be whole numbers separated by commas"),
        (["--hospitals", "0"], "needs counts of at least 1; found '0'"),
        (["--json", "/nonexistent-folder/x.json"], "does not exist"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(arguments, expected):
    """A bad count or an unwritable --json file is a usage error naming the option."""
    result = CliRunner().invoke(
        bench_app, ["simulation", *arguments], terminal_width=200
    )

    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())
    assert expected in words


def test_run_benchmark_reports_time_and_memory_of_a_whole_run(
    ray_runtime, tiny_scenario
):
    """``medfed bench run`` times a tiny scenario and measures its processes' memory."""
    result = CliRunner().invoke(
        bench_app, ["run", str(tiny_scenario), "--set", "rounds=2"], terminal_width=200
    )

    assert result.exit_code == 0, result.output
    for measure in (
        "wall_seconds",
        "startup_seconds",
        "peak_pss_mib",
        "final_accuracy",
    ):
        assert measure in result.output
    assert ray_runtime.is_initialized()
